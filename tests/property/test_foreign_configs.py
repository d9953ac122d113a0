"""Property tests: the verifier on configs zonewall does not write, against a per-packet oracle.

`zonewall audit` reads rulesets from devices, written by people and other tools, so the
verifier must read forms zonewall never emits exactly: comma lists of nested and overlapping
prefixes (iptables `-s a,b,c`), nft anonymous and named sets, IOS object groups with
overlapping members, source-port ranges that start at 0 or end at 65535, several source-port
ranges in one rule (`-m multiport --sports a,b:c`), and protocol and ICMP names instead of
numbers.

Hypothesis generates a short first-match rule list as plain data (`Spec`); it is written out
as iptables-restore, nft and IOS text, parsed by `zonewall.verify`, and evaluated.  The oracle
(`oracle_accepts`) decides one concrete packet directly on the data, with this file's own
protocol and ICMP numbers (from the IANA registries), sharing nothing with the verifier: no
interval merging, no source-port classes, no name tables.

Packets are sampled at every boundary the rules write (each prefix's first and last address
and their neighbours, each port and type range's ends and their neighbours, each protocol and
its neighbours): between two neighbouring samples every rule decides alike, so agreeing on
all samples means agreeing everywhere.  Three questions are compared: the keys accepted for
one source port (`Evaluator.accepted`), the keys accepted from every source port
(`new_permitted`, what "blocks needed" rests on) and the keys accepted from some source port
(over the verifier's own source-port classes, what "permits too much" rests on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewall.verify import Cell, Evaluator, parse_ios, parse_iptables, parse_nftables

BASE = (10 << 24) | (40 << 16)  # 10.40.0.0/24: the address space of the generated rules
PORTS = 65536
# Protocol names and numbers (IANA "Assigned Internet Protocol Numbers"), as each platform
# spells them: iptables and nft read netbase names, IOS has its own keywords.
NETBASE = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "gre": 47,
    "ddp": 37,
    "idrp": 45,
    "encap": 98,
    "esp": 50,
    "ipencap": 4,
    "sctp": 132,
}
IOS_NAMES = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "gre": 47,
    "esp": 50,
    "ahp": 51,
    "ipinip": 4,
    "nos": 94,
    "pcp": 108,
    "pim": 103,
    "eigrp": 88,
}
# ICMP type names (IANA "ICMP Type Numbers"): the iptables/nft spelling, the IOS spelling.
ICMP_NAMES = {
    0: ("echo-reply", "echo-reply"),
    3: ("destination-unreachable", "unreachable"),
    4: ("source-quench", "source-quench"),
    5: ("redirect", "redirect"),
    8: ("echo-request", "echo"),
    11: ("time-exceeded", "time-exceeded"),
    12: ("parameter-problem", "parameter-problem"),
    13: ("timestamp-request", "timestamp-request"),
    14: ("timestamp-reply", "timestamp-reply"),
    17: ("address-mask-request", "mask-request"),
    18: ("address-mask-reply", "mask-reply"),
}


@dataclass(frozen=True)
class Spec:
    """One rule as data: None matches anything."""

    accept: bool
    src: tuple[tuple[int, int], ...] | None  # (address, prefix length) members
    dst: tuple[tuple[int, int], ...] | None
    proto: str | None  # a name in NETBASE / IOS_NAMES, or None for every protocol
    by_number: bool  # write the protocol (and ICMP type) as a number
    dports: tuple[tuple[int, int], ...] | None  # TCP/UDP only
    sports: tuple[tuple[int, int], ...] | None  # TCP/UDP only
    icmp: int | None  # ICMP only: one type


def proto_number(spec: Spec) -> int | None:
    if spec.proto is None:
        return None
    return NETBASE.get(spec.proto, IOS_NAMES.get(spec.proto))


def in_prefixes(addr: int, members: tuple[tuple[int, int], ...] | None) -> bool:
    if members is None:
        return True
    return any(net <= addr < net + (1 << (32 - plen)) for net, plen in members)


def in_ranges(value: int, ranges: tuple[tuple[int, int], ...] | None) -> bool:
    return ranges is None or any(lo <= value <= hi for lo, hi in ranges)


def oracle_accepts(
    specs: list[Spec], src: int, dst: int, proto: int, port: int, sport: int
) -> bool:
    """First match over the rules, packet by packet; the list ends in an implicit drop."""
    for spec in specs:
        number = proto_number(spec)
        if not (in_prefixes(src, spec.src) and in_prefixes(dst, spec.dst)):
            continue
        if number is not None and number != proto:
            continue
        if proto in (6, 17) and not (
            in_ranges(port, spec.dports) and in_ranges(sport, spec.sports)
        ):
            continue
        if spec.icmp is not None and spec.icmp != port:
            continue
        return spec.accept
    return False


# -- generation -------------------------------------------------------------------------------


def prefixes() -> st.SearchStrategy[tuple[tuple[int, int], ...]]:
    def member(plen: int, offset: int) -> tuple[int, int]:
        size = 1 << (32 - plen)
        return BASE + (offset % 256) // size * size, plen

    one = st.builds(member, st.integers(24, 32), st.integers(0, 255))
    return st.lists(one, min_size=1, max_size=4).map(tuple)


def port_ranges(max_size: int) -> st.SearchStrategy[tuple[tuple[int, int], ...]]:
    edge = st.sampled_from([0, 1, 22, 1023, 1024, 5000, 65534, 65535])
    point = st.one_of(edge, st.integers(0, PORTS - 1))
    pair = st.tuples(point, point).map(lambda p: (min(p), max(p)))
    return st.lists(pair, min_size=1, max_size=max_size).map(tuple)


@st.composite
def specs(draw: st.DrawFn, names: dict[str, int]) -> Spec:
    proto = draw(st.one_of(st.none(), st.sampled_from(sorted(names))))
    ported = proto in ("tcp", "udp")
    return Spec(
        accept=draw(st.booleans()),
        src=draw(st.one_of(st.none(), prefixes())),
        dst=draw(st.one_of(st.none(), prefixes())),
        proto=proto,
        by_number=draw(st.booleans()),
        dports=draw(st.one_of(st.none(), port_ranges(3))) if ported else None,
        sports=draw(st.one_of(st.none(), port_ranges(3))) if ported else None,
        icmp=draw(st.one_of(st.none(), st.sampled_from(sorted(ICMP_NAMES)), st.integers(0, 255)))
        if proto == "icmp"
        else None,
    )


def rule_lists(names: dict[str, int]) -> st.SearchStrategy[list[Spec]]:
    return st.lists(specs(names), min_size=1, max_size=5)


# -- writing ----------------------------------------------------------------------------------


def dotted(addr: int) -> str:
    return ".".join(str(addr >> s & 255) for s in (24, 16, 8, 0))


def cidr(member: tuple[int, int]) -> str:
    return f"{dotted(member[0])}/{member[1]}"


def ipt_ports(ranges: tuple[tuple[int, int], ...]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in ranges)


def iptables_text(rules: list[Spec]) -> str:
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for spec in rules:
        words = ["-A", "FORWARD"]
        if spec.src is not None:
            words += ["-s", ",".join(cidr(m) for m in spec.src)]
        if spec.dst is not None:
            words += ["-d", ",".join(cidr(m) for m in spec.dst)]
        if spec.proto is not None:
            words += ["-p", str(NETBASE[spec.proto]) if spec.by_number else spec.proto]
        if spec.dports is not None or spec.sports is not None:
            words += ["-m", "multiport"]
            if spec.dports is not None:
                words += ["--dports", ipt_ports(spec.dports)]
            if spec.sports is not None:
                words += ["--sports", ipt_ports(spec.sports)]
        if spec.icmp is not None:
            name = ICMP_NAMES.get(spec.icmp, (str(spec.icmp),))[0]
            words += ["-m", "icmp", "--icmp-type", str(spec.icmp) if spec.by_number else name]
        words += ["-j", "ACCEPT" if spec.accept else "DROP"]
        lines.append(" ".join(words))
    return "\n".join([*lines, "COMMIT", ""])


def nft_set(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def nft_text(rules: list[Spec]) -> str:
    sets: list[str] = []
    body: list[str] = []
    for n, spec in enumerate(rules):
        words: list[str] = []
        for field, members in (("saddr", spec.src), ("daddr", spec.dst)):
            if members is None:
                continue
            items = [cidr(m) for m in members]
            if n % 2:  # every other rule: a named set, overlapping members merged by nft
                name = f"s{n}{field[0]}"
                sets.append(
                    f"\tset {name} {{\n\t\ttype ipv4_addr\n\t\tflags interval\n"
                    f"\t\tauto-merge\n\t\telements = {{ {', '.join(items)} }}\n\t}}"
                )
                words.append(f"ip {field} @{name}")
            else:
                words.append(f"ip {field} {nft_set(items)}")
        number = proto_number(spec)
        if spec.proto is not None and spec.dports is None and spec.sports is None:
            words.append(f"meta l4proto {number if spec.by_number else spec.proto}")
        for field, ranges in (("sport", spec.sports), ("dport", spec.dports)):
            if ranges is not None:
                items = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges]
                words.append(f"{spec.proto} {field} {nft_set(items)}")
        if spec.icmp is not None:
            name = ICMP_NAMES.get(spec.icmp, (str(spec.icmp),))[0]
            words.append(f"icmp type {spec.icmp if spec.by_number else name}")
        words.append("accept" if spec.accept else "drop")
        body.append("\t\t" + " ".join(words))
    chain = (
        "\tchain fwd {\n\t\ttype filter hook forward priority filter; policy drop;\n"
        + "\n".join(body)
        + "\n\t}"
    )
    return "table ip t {\n" + "\n".join([*sets, chain]) + "\n}\n"


def ios_address(members: tuple[tuple[int, int], ...] | None, name: str, groups: list[str]) -> str:
    if members is None:
        return "any"
    if len(members) == 1:
        net, plen = members[0]
        return (
            f"host {dotted(net)}"
            if plen == 32
            else f"{dotted(net)} {dotted((1 << (32 - plen)) - 1)}"
        )
    lines = [f"object-group network {name}"]
    lines += [
        f" host {dotted(net)}" if plen == 32 else f" {dotted(net)} /{plen}" for net, plen in members
    ]
    groups.append("\n".join(lines))
    return f"object-group {name}"


def ios_ports(ranges: tuple[tuple[int, int], ...]) -> list[str]:
    return [f"eq {lo}" if lo == hi else f"range {lo} {hi}" for lo, hi in ranges]


def ios_text(rules: list[Spec]) -> str:
    groups: list[str] = []
    entries: list[str] = []
    for n, spec in enumerate(rules):
        src = ios_address(spec.src, f"S{n}", groups)
        dst = ios_address(spec.dst, f"D{n}", groups)
        action = "permit" if spec.accept else "deny"
        number = proto_number(spec)
        if spec.proto in ("tcp", "udp") and (spec.sports or spec.dports):
            # Several ranges: a service group, one member per source x destination range.
            members = [
                f" {spec.proto}" + (f" source {s}" if s else "") + (f" {d}" if d else "")
                for s in (ios_ports(spec.sports) if spec.sports else [""])
                for d in (ios_ports(spec.dports) if spec.dports else [""])
            ]
            groups.append("\n".join([f"object-group service P{n}", *members]))
            entries.append(f" {action} object-group P{n} {src} {dst}")
            continue
        proto = "ip" if spec.proto is None else str(number) if spec.by_number else spec.proto
        tail = ""
        if spec.icmp is not None:
            name = ICMP_NAMES.get(spec.icmp, ("", str(spec.icmp)))[1]
            tail = f" {spec.icmp if spec.by_number else name}"
        entries.append(f" {action} {proto} {src} {dst}{tail}")
    acl = "\n".join(["ip access-list extended T", *entries])
    return "\n".join([*groups, acl, "interface Vlan10", " ip access-group T in", ""])


# -- sampling and comparing -------------------------------------------------------------------


def address_samples(rules: list[Spec]) -> list[int]:
    out = {BASE - 1, BASE, BASE + 255, BASE + 256}
    for spec in rules:
        for members in (spec.src, spec.dst):
            for net, plen in members or ():
                last = net + (1 << (32 - plen)) - 1
                out.update((net - 1, net, last, last + 1))
    return sorted(out)


def port_samples(ranges: list[tuple[int, int]]) -> list[int]:
    out = {0, PORTS - 1}
    for lo, hi in ranges:
        out.update(p for p in (lo - 1, lo, hi, hi + 1) if 0 <= p < PORTS)
    return sorted(out)


def key_samples(rules: list[Spec], numbers: dict[str, int]) -> list[tuple[int, int]]:
    out: set[tuple[int, int]] = {(0, 0), (2, 0), (255, 0)}
    for proto in numbers.values():
        out.update({(proto - 1, 0), (proto, 0), (proto + 1, 0)})
    dports = [r for spec in rules for r in spec.dports or ()]
    out.update((proto, p) for proto in (6, 17) for p in port_samples(dports))
    types = [(spec.icmp, spec.icmp) for spec in rules if spec.icmp is not None]
    out.update((1, t) for t in port_samples(types) if t <= 255)
    return sorted(out)


@dataclass(frozen=True)
class Platform:
    """How one platform is written, read back and asked."""

    names: dict[str, int]  # its protocol names
    read: Callable[[list[Spec]], Any]  # the rules as its text, parsed by the verifier
    iif: str  # the interface the packets come in on
    state: str | None  # the connection state a new packet has (None: stateless)


PLATFORMS = {
    "iptables": Platform(
        NETBASE, lambda rules: parse_iptables(iptables_text(rules), "t.rules"), "eth1", "NEW"
    ),
    "nftables": Platform(
        NETBASE, lambda rules: parse_nftables(nft_text(rules), "t.nft"), "eth1", "NEW"
    ),
    "cisco-ios": Platform(
        IOS_NAMES, lambda rules: parse_ios(ios_text(rules), "t.ios"), "Vlan10", None
    ),
}


def check(rules: list[Spec], platform: str) -> None:
    how = PLATFORMS[platform]
    ev = Evaluator(how.read(rules))
    numbers, iif, state = how.names, how.iif, how.state
    sports = port_samples([r for spec in rules for r in spec.sports or ()])
    keys = key_samples(rules, numbers)
    addrs = address_samples(rules)
    for s in addrs:
        for d in addrs:
            cell = Cell(iif, "eth2", -1 - s, s, -1 - d, d)
            every = ev.new_permitted(iif, "eth2", s, d)
            some = [ev.accepted(cell, (state, lo, False)) for lo in ev.sport_cuts(cell)]
            for proto, port in keys:
                k = proto * PORTS + port
                want = [oracle_accepts(rules, s, d, proto, port, sp) for sp in sports]
                where = f"{dotted(s)} -> {dotted(d)} proto {proto} port {port}"
                assert (k in every) == all(want), f"from every source port: {where}"
                assert any(k in got for got in some) == any(want), f"from some source port: {where}"
                for sp, wanted in zip(sports, want, strict=True):
                    if sp in (0, 1023, 1024, PORTS - 1):
                        got = k in ev.accepted(cell, (state, sp, False))
                        assert got == wanted, f"{where} source port {sp}"


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NESTED = [
    Spec(
        True,
        None,
        ((BASE + 33, 32), (BASE + 64, 27), (BASE + 72, 29)),
        "tcp",
        False,
        None,
        None,
        None,
    )
]
LOW_SPORTS = [
    Spec(False, None, None, "tcp", False, None, ((0, 1023),), None),
    Spec(True, None, None, "tcp", False, None, None, None),
]
NAMED = [Spec(True, None, None, name, False, None, None, None) for name in ("ddp", "idrp", "encap")]


EXAMPLES = [
    NESTED,
    LOW_SPORTS,
    NAMED,
    [Spec(True, None, None, "icmp", False, None, None, 4)],
    [Spec(True, None, None, "tcp", False, None, ((0, 5), (65000, 65535)), None)],
]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@SETTINGS
@given(data=st.data())
def test_rules_agree_with_the_oracle(platform: str, data: st.DataObject) -> None:
    check(data.draw(rule_lists(PLATFORMS[platform].names), label="rules"), platform)


@pytest.mark.parametrize(
    ("platform", "rules"),
    [
        (platform, rules)
        for platform in sorted(PLATFORMS)
        for rules in EXAMPLES
        if all(spec.proto is None or spec.proto in PLATFORMS[platform].names for spec in rules)
    ],
)
def test_examples_agree_with_the_oracle(platform: str, rules: list[Spec]) -> None:
    """Shapes found once, checked on every platform whose protocol names they use."""
    check(rules, platform)
