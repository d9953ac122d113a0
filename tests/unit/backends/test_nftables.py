"""The nftables backend: its lowered model, its semantics, and real loads into a kernel.

* Unit tests assert on the lowered `NftModel` (names, sets, chain layout, flow rules).
* Semantic tests walk the model with a first-match evaluator (`NftEval`) and compare, for
  sampled addresses and every packet key at once (as `PacketSet`s), what it accepts for NEW
  connections with (a) the gateway model of docs/language.md computed straight from the
  compiled flows and (b) the iptables backend's model walked by its own small evaluator.
* Kernel tests (`-m kernel`) load every output into a fresh network namespace with `nft -c -f`
  and `nft -f`, twice, and compare what the kernel lists with the model.
* Injection tests: hostile `why` strings, descriptions and file names change nothing but
  comment text.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork, IPSet, cidr_merge

from kernel_util import Netns, netns, require_tool, unavailable
from kernel_util import run as kernel_run
from zonewall._version import __version__
from zonewall.backends import get_backend
from zonewall.backends.base import gateway_view
from zonewall.backends.iptables import IptablesBackend, IptModel, IptRule
from zonewall.backends.nftables import (
    COMMENT_MAX,
    LOG_PREFIX_MAX,
    NAME_MAX,
    NftablesBackend,
    NftChain,
    NftL4,
    NftModel,
    NftRule,
    l4_matches,
)
from zonewall.compiler.pipeline import compile_policy
from zonewall.dsl.parser import parse_text
from zonewall.ir import CompiledPolicy, Endpoint, ResolvedClass
from zonewall.packets import ICMP, TCP, UDP, PacketSet, key

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# One gateway, no externals: port ranges, ICMP, GRE, a logged allow, an allow of everything
# minus a deny (IP protocol 0 included), and two class names that collide once '-' becomes '_'.
SMALL = """
service https = tcp/443
service dns   = udp/53, tcp/53
service astm  = tcp/5100-5109
service ping  = icmp/echo-request
service gre   = proto/47
service ssh   = tcp/22
class a   { vlan 10  subnet 10.0.0.0/24 }
class b-x { vlan 20  subnet 10.0.1.0/24, 10.0.4.0/23 }
class b_x { vlan 30  subnet 10.0.2.0/25 }
allow a -> b-x : https, dns "web and names" log
allow a -> b_x : astm, ping, gre
allow b_x -> a                    "anything but ssh and ping"
deny  b_x -> a : ssh, ping
gateway fw { platform nftables  interface "v{vlan}"  serves internal }
"""

# Two gateways, overlapping externals (atoms), an external with an `except`, a deny that
# cuts an atom out of an allow, inbound flows, transit, and IP protocol 0 on its own.
TWO_GW = """
service https = tcp/443
service dns   = udp/53, tcp/53
service ping  = icmp/echo-request
service zero  = proto/0
class ws  { vlan 10  subnet 10.1.0.0/24 }
class srv { vlan 20  subnet 10.1.1.0/28, 10.1.2.0/28 }
class med { vlan 30  subnet 10.2.0.0/24  tags medical }
class mon { vlan 40  subnet 10.2.1.0/24  tags medical }
external internet { address 0.0.0.0/0 }
external vendor   { address 203.0.113.0/24 }
external partner  { address 192.0.2.0/24, 198.51.100.0/24 except 198.51.100.128/25 }
allow ws -> srv, med : https
allow med -> srv : dns
allow mon -> med : ping, zero
allow ws -> internet : https
deny  ws -> vendor
allow vendor -> srv : https "vendor portal" log
allow partner -> med : https
allow srv -> partner : https
gateway fw1 { platform nftables  interface "eth1.{vlan}"  uplink "eth0"  serves internal except tag:medical }
gateway fw2 { platform nftables  interface "vl{vlan}"  uplink "up0"  serves tag:medical }
"""

# Two external atoms with one label: {odd, wide} and {wide} are both most specifically 'wide'.
ATOMS = """
service https = tcp/443
class a { vlan 10  subnet 10.0.0.0/24 }
external wide { address 1.0.0.0/8 }
external odd  { address 1.0.0.0/9, 2.0.0.0/8 }
allow a -> wide, odd : https
allow wide, odd -> a : https
gateway fw { platform nftables  interface "v{vlan}"  uplink "eth0"  serves internal }
"""

LONG = """
service https = tcp/443
class a23456789012345678901234567890b { vlan 10  subnet 10.0.0.0/24 }
class a23456789012345678901234567890c { vlan 20  subnet 10.0.1.0/24 }
allow a23456789012345678901234567890b -> a23456789012345678901234567890c : https
allow a23456789012345678901234567890c -> a23456789012345678901234567890b : https
gateway fw { platform nftables  interface "v{vlan}"  serves internal }
"""

HOSTILE = (
    '\\" quote ! # ; { } -A FORWARD -j ACCEPT accept; drop } table inet x { '
    "\u00fc\u2713 \u202e " + "x" * 150
)
INJECTION = """
service https = tcp/443
class a { vlan 10  subnet 10.0.0.0/24  description "DESC" }
class b { vlan 20  subnet 10.0.1.0/24  description "DESC" }
external internet { address 0.0.0.0/0 }
allow a -> b : https "WHY" log
allow internet -> a : https "WHY"
gateway fw { platform nftables  interface "v{vlan}"  uplink "eth0"  serves internal }
"""


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def compile_text(text: str, file: str = "t.zw") -> CompiledPolicy:
    parsed = parse_text(text, file)
    result = compile_policy(parsed.policy)
    errors = [d for d in parsed.diagnostics + result.diagnostics if d.is_error]
    assert result.compiled is not None and not errors, errors
    return result.compiled


def hospital_text(gateway: str) -> str:
    """examples/hospital.zw with one gateway's platform switched to nftables."""
    text = (EXAMPLES / "hospital.zw").read_text(encoding="utf-8")
    if gateway == "core_fw":
        return text.replace("platform iptables", "platform nftables", 1)
    assert gateway == "dist_sw1"
    # nftables tracks connections: the switch's `stateless-replies accepted` goes too (E218)
    text = re.sub(r"(?m)^ *stateless-replies accepted .*\n", "", text)
    return text.replace("platform cisco-ios", "platform nftables", 1).replace(
        'uplink "TenGigabitEthernet1/1/1"', 'uplink "eth9"', 1
    )


@cache
def compiled_case(case: str) -> CompiledPolicy:
    if case.startswith("hospital:"):
        return compile_text(hospital_text(case.split(":")[1]), "hospital.zw")
    return compile_text({"small": SMALL, "two_gw": TWO_GW, "long": LONG, "atoms": ATOMS}[case])


def lowered(cp: CompiledPolicy, gw: str) -> NftModel:
    return NftablesBackend().lower(cp, gateway_view(cp, gw)).unwrap()


def nft_gateways(cp: CompiledPolicy) -> list[str]:
    return [g.name for g in cp.gateways if g.platform == "nftables"]


def all_rules(model: NftModel) -> Iterator[tuple[NftChain, NftRule]]:
    for chain in model.chains:
        for rule in chain.rules:
            yield chain, rule


def chain(model: NftModel, name: str) -> NftChain:
    return next(c for c in model.chains if c.name == name)


# ---------------------------------------------------------------------------------------------
# unit tests on the model
# ---------------------------------------------------------------------------------------------

NFT_KEYWORDS = {
    "fwd",
    "log",
    "counter",
    "ip",
    "ip6",
    "inet",
    "set",
    "map",
    "accept",
    "drop",
    "vlan",
    "dup",
    "tcp",
    "udp",
    "meta",
    "ct",
    "queue",
    "table",
    "chain",
    "jump",
}


def test_registry_returns_the_nftables_backend() -> None:
    backend = get_backend("nftables")
    assert isinstance(backend, NftablesBackend)
    assert (backend.name, backend.suffix) == ("nftables", ".nft")


@pytest.mark.parametrize("case", ["small", "two_gw", "long", "atoms", "hospital:core_fw"])
def test_names_are_prefixed_unique_identifiers(case: str) -> None:
    cp = compiled_case(case)
    for gw in nft_gateways(cp):
        model = lowered(cp, gw)
        for names in ([s.name for s in model.sets], [c.name for c in model.chains]):
            assert len(names) == len(set(names))
            for name in names:
                assert re.fullmatch(r"z[a-z]_[a-z0-9_]+", name), name
                assert len(name) <= NAME_MAX and name not in NFT_KEYWORDS
        assert re.fullmatch(r"[a-z][a-z0-9_]*", model.table)


def test_names_that_collide_after_sanitising_stay_distinct() -> None:
    model = lowered(compiled_case("small"), "fw")
    sets = {s.name for s in model.sets}
    assert "zc_b_x" in sets
    hashed = [n for n in sets if re.fullmatch(r"zc_b_x_[0-9a-f]{8}", n)]
    assert len(hashed) == 1


def test_external_atoms_sharing_a_label_get_distinct_names() -> None:
    model = lowered(compiled_case("atoms"), "fw")
    wide = sorted(s.name for s in model.sets if s.name.startswith("zx_wide"))
    assert len(wide) == 2 and wide[0] == "zx_wide" and re.fullmatch(r"zx_wide_[0-9a-f]{8}", wide[1])
    inbound = [c.name for c in model.chains if c.name.startswith("zi_wide")]
    assert len(inbound) == 2


def test_long_names_are_shortened_with_a_hash() -> None:
    model = lowered(compiled_case("long"), "fw")
    pairs = [c.name for c in model.chains if c.name.startswith("zp_")]
    assert len(pairs) == 2 and len(set(pairs)) == 2
    assert all(len(n) == NAME_MAX and re.search(r"_[0-9a-f]{8}\Z", n) for n in pairs)


@pytest.mark.parametrize("case", ["small", "two_gw", "atoms", "hospital:core_fw"])
def test_sets_hold_exactly_the_merged_prefixes(case: str) -> None:
    cp = compiled_case(case)
    for gw in nft_gateways(cp):
        view = gateway_view(cp, gw)
        model = lowered(cp, gw)
        expected: dict[str, IPSet] = {}
        if view.plan.uplink is not None:
            expected["zw_served"] = IPSet(view.served_prefixes)
        if view.plan.uplink is not None and view.transit:
            expected["zw_transit"] = IPSet(view.transit)
        by_name = {s.name: s for s in model.sets}
        for s in model.sets:
            assert list(s.elements) == [str(p) for p in cidr_merge(list(s.elements))]
        by_note = {s.note.split(":")[0]: s for s in model.sets}
        for cls in cp.classes:
            if f"class {cls.name}" in by_note:
                assert IPSet(by_note[f"class {cls.name}"].elements) == IPSet(cls.prefixes)
        for ep in cp.endpoints:
            note = "external addresses of " + ", ".join(ep.externals)
            if ep.kind == "external" and note in by_note:
                assert IPSet(by_note[note].elements) == IPSet(ep.prefixes)
        assert len(by_note) == len(model.sets)
        for name, addresses in expected.items():
            assert IPSet(by_name[name].elements) == addresses


def test_base_chain_is_forward_with_policy_drop_and_state_rules_first() -> None:
    model = lowered(compiled_case("two_gw"), "fw1")
    bases = [c for c in model.chains if c.hook is not None]
    # forwarding, and traffic to the box itself (other interfaces and IPv6 are the box's)
    assert [(c.name, c.hook, c.policy) for c in bases] == [
        ("zw_forward", "forward", "drop"),
        ("zw_input", "input", "accept"),
    ]
    assert all(r.nfproto == "ipv4" and r.verdict == "jump zw_self" for r in bases[1].rules)
    assert bases[0].rules[:2] == (
        NftRule(ct_state="established,related", verdict="accept"),
        NftRule(ct_state="invalid", verdict="drop"),
    )
    assert model.table == "zonewall"


@pytest.mark.parametrize("case", ["small", "two_gw", "hospital:core_fw"])
def test_every_chain_ends_with_rate_limited_log_and_drop(case: str) -> None:
    cp = compiled_case(case)
    for gw in nft_gateways(cp):
        for c in lowered(cp, gw).chains:
            if c.hook == "input":  # dispatches only; the rest is the box's (policy accept)
                continue
            log, drop = c.rules[-2:]
            assert drop == NftRule(counter=True, verdict="drop")
            assert log.verdict is None and log.log_prefix is not None
            assert log.log_prefix.endswith(" ")
            assert len(log.log_prefix.encode()) <= LOG_PREFIX_MAX


def _jump_depth(chains: dict[str, NftChain], name: str, seen: tuple[str, ...]) -> int:
    assert name not in seen, f"jump loop {seen + (name,)}"
    targets = [
        r.verdict.split()[1]
        for r in chains[name].rules
        if r.verdict and r.verdict.startswith("jump ")
    ]
    assert all(t in chains for t in targets)
    return 1 + max((_jump_depth(chains, t, (*seen, name)) for t in targets), default=0)


@pytest.mark.parametrize("case", ["small", "two_gw", "hospital:core_fw", "hospital:dist_sw1"])
def test_jumps_reach_existing_chains_without_cycles(case: str) -> None:
    cp = compiled_case(case)
    for gw in nft_gateways(cp):
        model = lowered(cp, gw)
        chains = {c.name: c for c in model.chains}
        sets = {s.name for s in model.sets}

        assert _jump_depth(chains, "zw_forward", ()) <= 4
        for _, rule in all_rules(model):
            assert rule.saddr in sets | {None} and rule.daddr in sets | {None}


def test_flow_rules_are_new_state_and_name_their_statement() -> None:
    cp = compiled_case("two_gw")
    model = lowered(cp, "fw1")
    lines = {r.span.line for r in cp.rules if r.span is not None}
    seen = 0
    for c, rule in all_rules(model):
        if not c.name.startswith("zp_") or rule.verdict == "drop" or rule.comment is None:
            continue
        seen += 1
        assert rule.ct_state == "new"
        match = re.match(r"t\.zw:(\d+) allow ", rule.comment)
        assert match and int(match.group(1)) in lines
        assert len(rule.comment.encode()) <= COMMENT_MAX
        assert re.fullmatch(r"[A-Za-z0-9 _.:/>,+=-]*", rule.comment)
    assert seen >= 6


def test_logged_allow_gets_a_log_rule_before_its_accept() -> None:
    model = lowered(compiled_case("two_gw"), "fw1")
    rules = chain(model, "zp_vendor__srv").rules
    assert rules[0].log_prefix == "zw_allow 5 " and rules[0].verdict is None
    assert (
        dataclasses.replace(rules[0], log_prefix=None, counter=True, verdict="accept") == rules[1]
    )
    assert rules[0].l4 == NftL4("tcp dport", ("443",))


def test_uplink_drops_spoofed_passes_transit_and_dispatches_externals() -> None:
    model = lowered(compiled_case("two_gw"), "fw1")
    uplink = chain(model, "zw_uplink").rules
    assert [(r.saddr, r.verdict) for r in uplink[:-2]] == [
        ("zw_served", "jump zw_spoofed"),
        ("zw_transit", "accept"),
        ("zx_vendor", "jump zi_vendor"),
    ]
    forward = chain(model, "zw_forward").rules
    assert forward[-3] == NftRule(iifname="eth0", verdict="jump zw_uplink")
    assert chain(model, "zw_spoofed").rules[0].log_prefix == "zw_spoofed "


def test_outbound_dispatch_uses_egress_interface_and_destination_set() -> None:
    model = lowered(compiled_case("two_gw"), "fw1")
    dispatch = [(r.oifname, r.daddr, r.verdict) for r in chain(model, "zo_ws").rules[:-2]]
    assert dispatch == [
        ("eth0", "zc_med", "jump zp_ws__med"),
        ("eth1.20", "zc_srv", "jump zp_ws__srv"),
        ("eth0", "zx_internet", "jump zp_ws__internet"),
        ("eth0", "zx_partner", "jump zp_ws__partner"),
    ]
    # `deny ws -> vendor` removes the vendor atom: no rule may send it anywhere
    assert not any(r.daddr == "zx_vendor" for _, r in all_rules(model) if r.oifname)


def _ports(proto: int, *ranges: tuple[int, int]) -> PacketSet:
    return PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in ranges)


@pytest.mark.parametrize(
    ("packets", "expected"),
    [
        (PacketSet.everything(), [None]),
        (_ports(TCP, (443, 443)), [NftL4("tcp dport", ("443",))]),
        (
            _ports(TCP, (53, 53)) | _ports(UDP, (53, 53), (123, 123)),
            [NftL4("tcp dport", ("53",)), NftL4("udp dport", ("53", "123"))],
        ),
        (_ports(TCP, (5100, 5109)), [NftL4("tcp dport", ("5100-5109",))]),
        (_ports(ICMP, (8, 8)), [NftL4("icmp type", ("8",))]),
        (PacketSet.protocol(ICMP), [NftL4("meta l4proto", ("icmp",))]),
        (PacketSet.protocol(0), [NftL4("meta l4proto", ("0",))]),
        (
            PacketSet.protocol(47) | PacketSet.protocol(50) | PacketSet.protocol(51),
            [NftL4("meta l4proto", ("47", "50-51"))],
        ),
        (
            PacketSet.everything() - _ports(TCP, (22, 22)) - _ports(ICMP, (8, 8)),
            [
                NftL4("meta l4proto", ("0", "2-5", "7-255")),
                NftL4("icmp type", ("0-7", "9-255")),
                NftL4("tcp dport", ("0-21", "23-65535")),
            ],
        ),
        (_ports(ICMP, (300, 400)), []),
    ],
    ids=[
        "ip",
        "https",
        "dns+ntp",
        "range",
        "echo",
        "icmp",
        "proto0",
        "protos",
        "ip-minus",
        "icmp-beyond-255",
    ],
)
def test_l4_matches(packets: PacketSet, expected: list[NftL4 | None]) -> None:
    assert l4_matches(packets) == expected


def test_check_accepts_ip_protocol_zero() -> None:
    cp = compiled_case("two_gw")
    view = gateway_view(cp, "fw2")
    assert NftablesBackend().check(cp, view) == []
    rules = chain(NftablesBackend().lower(cp, view).unwrap(), "zp_mon__med").rules
    assert NftL4("meta l4proto", ("0",)) in [r.l4 for r in rules]


def test_check_rejects_ports_of_other_protocols_at_the_rule() -> None:
    cp = compiled_case("two_gw")
    view = gateway_view(cp, "fw1")
    cls, permits = view.outbound[0]
    odd = dataclasses.replace(permits[0], packets=PacketSet.ports(47, 1, 2))
    bad = dataclasses.replace(view, outbound=((cls, (odd,)), *view.outbound[1:]))
    [diag] = NftablesBackend().check(cp, bad)
    assert diag.code == "E401" and diag.span == permits[0].rule.span
    assert "protocol 47" in diag.message
    with pytest.raises(ValueError):
        NftablesBackend().lower(cp, bad)


def test_check_rejects_interface_names_nft_cannot_hold() -> None:
    cp = compiled_case("two_gw")
    view = gateway_view(cp, "fw1")
    bad = dataclasses.replace(view, plan=dataclasses.replace(view.plan, uplink="x" * 16))
    [diag] = NftablesBackend().check(cp, bad)
    assert diag.code == "E401" and "x" * 16 in diag.message


def test_output_is_deterministic_and_the_header_has_no_timestamp() -> None:
    cp = compiled_case("two_gw")
    backend = NftablesBackend()
    model = lowered(cp, "fw1")
    assert model == lowered(compile_text(TWO_GW), "fw1")
    [(path, text)] = backend.render(model).items()
    assert backend.render(lowered(cp, "fw1")) == {path: text}
    assert str(path) == "fw1.nft"
    header = "\n".join(model.header)
    assert f"zonewall {__version__}" in header and "nftables" in header
    assert re.search(r"policy: t.zw  sha256: [0-9a-f]{64}\n", header)
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d\d:\d\d:\d\d", text)
    assert text.splitlines()[-2:] == ["    }", "}"] and text.endswith("}\n")


def test_rendered_text_has_one_line_per_rule_and_the_replace_idiom() -> None:
    backend = NftablesBackend()
    model = lowered(compiled_case("two_gw"), "fw1")
    text = backend.render(model)[model.path]
    body = [ln.strip() for ln in text.splitlines()]
    assert body.index("table inet zonewall") + 1 == body.index("delete table inet zonewall")
    assert "table inet zonewall {" in body
    rule_lines = [
        ln
        for ln in body
        if re.search(
            r" (accept|drop|jump \S+)( comment .*)?$|"
            r"level warn( comment .*)?$",
            ln,
        )
    ]
    assert len(rule_lines) == backend.rule_count(model) == sum(len(c.rules) for c in model.chains)
    assert "ip saddr @zw_served jump zw_spoofed comment " in text
    assert "udp dport { 53, 123 }" not in text  # TWO_GW has no such service
    assert "tcp dport 443 ct state new counter accept comment " in text


# ---------------------------------------------------------------------------------------------
# injection: hostile strings change comment text only
# ---------------------------------------------------------------------------------------------


def _normalise(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            out.append("#")
        else:
            out.append(re.sub(r'comment "[^"\n]*"', 'comment ""', line))
    return out


def _injection_output(hostile: bool) -> tuple[str, NftModel]:
    text = INJECTION.replace("WHY", HOSTILE if hostile else "why")
    text = text.replace("DESC", HOSTILE if hostile else "desc")
    file = 'ev"il\n-A FORWARD -j ACCEPT\n} #;.zw' if hostile else "clean.zw"
    cp = compile_text(text, file)
    backend = NftablesBackend()
    model = backend.lower(cp, gateway_view(cp, "fw")).unwrap()
    assert backend.check(cp, gateway_view(cp, "fw")) == []
    return backend.render(model)[model.path], model


def test_hostile_strings_add_no_rule_and_no_line() -> None:
    (clean, _), (evil, _) = _injection_output(False), _injection_output(True)
    assert len(evil.splitlines()) == len(clean.splitlines())
    assert _normalise(evil) == _normalise(clean)
    comments = re.findall(r'comment "([^"\n]*)"', evil)
    for comment in comments:
        assert len(comment.encode()) <= COMMENT_MAX
    # kept as written but for '"' (nft has no escape in a string): it becomes "'"
    # and bidi controls (U+202E here) become spaces; past 128 bytes, a visible cut
    kept = "' quote ! # ; { } -A FORWARD -j ACCEPT accept; drop } table inet x { \u00fc\u2713 ..."
    assert any(c.endswith(kept) for c in comments)
    assert "\u202e" not in evil
    clean_notes = [ln for ln in clean.splitlines() if ln.lstrip().startswith("#")]
    evil_notes = [ln for ln in evil.splitlines() if ln.lstrip().startswith("#")]
    for a, b in zip(clean_notes, evil_notes, strict=True):
        if a != b:  # only the file name and the descriptions differ, each on its own line
            assert re.fullmatch(r" *# (policy|class [ab]): [^\n]+", b), b


# ---------------------------------------------------------------------------------------------
# semantics: a first-match evaluator over the model, against the language's model and against iptables
# ---------------------------------------------------------------------------------------------

# Keys that are packets: ICMP has types 0-255 only.
REAL = PacketSet.everything() - PacketSet.ports(ICMP, 256, 65535)
_PROTO = {"icmp": ICMP, "tcp": TCP, "udp": UDP}
_FIELD_PROTO = {"tcp dport": TCP, "udp dport": UDP, "icmp type": ICMP}


def _number(text: str) -> int:
    return _PROTO[text] if text in _PROTO else int(text)


def _interval(text: str, sep: str = "-") -> tuple[int, int]:
    lo, _, hi = text.partition(sep)
    return _number(lo), _number(hi or lo)


def nft_l4_packets(l4: NftL4 | None) -> PacketSet:
    if l4 is None:
        return PacketSet.everything()
    ivs = [_interval(v) for v in l4.values]
    if l4.field == "meta l4proto":
        return PacketSet.union_all(PacketSet.of(key(lo, 0), key(hi, 65535)) for lo, hi in ivs)
    proto = _FIELD_PROTO[l4.field]
    return PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in ivs)


def _ranges(prefixes: Iterable[str | IPNetwork]) -> list[tuple[int, int]]:
    return [(n.first, n.last) for n in map(IPNetwork, prefixes)]


def _within(addr: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= addr <= hi for lo, hi in ranges)


Packet = tuple[str, str, int, int]  # iif, oif, source, destination (addresses as integers)


class NftEval:
    """First match over an `NftModel` for NEW packets; every service key at once."""

    def __init__(self, model: NftModel) -> None:
        self.sets = {s.name: _ranges(s.elements) for s in model.sets}
        self.chains = {c.name: c for c in model.chains}
        [self.base] = [c for c in model.chains if c.hook == "forward"]
        self.l4 = {id(r): nft_l4_packets(r.l4) for c in model.chains for r in c.rules}
        self.member: dict[int, frozenset[str]] = {}

    def _sets_of(self, addr: int) -> frozenset[str]:
        if addr not in self.member:
            self.member[addr] = frozenset(n for n, r in self.sets.items() if _within(addr, r))
        return self.member[addr]

    def accepted(self, pkt: Packet) -> PacketSet:
        acc, rest = self._walk(self.base, pkt, PacketSet.everything(), 0)
        if self.base.policy == "accept":
            acc = acc | rest
        return acc & REAL

    def _walk(
        self, c: NftChain, pkt: Packet, rest: PacketSet, depth: int
    ) -> tuple[PacketSet, PacketSet]:
        assert depth < 10
        iif, oif, src, dst = pkt
        acc = PacketSet()
        for r in c.rules:
            if not rest:
                break
            if (
                r.iifname not in (None, iif)
                or r.oifname not in (None, oif)
                or (r.saddr is not None and r.saddr not in self._sets_of(src))
                or (r.daddr is not None and r.daddr not in self._sets_of(dst))
                or (r.ct_state is not None and "new" not in r.ct_state.split(","))
            ):
                continue
            hit = rest & self.l4[id(r)]
            if not hit or r.verdict is None:
                continue
            if r.verdict == "accept":
                acc, rest = acc | hit, rest - hit
            elif r.verdict == "drop":
                rest = rest - hit
            else:
                verb, target = r.verdict.split()
                assert verb == "jump", r.verdict
                sub_acc, sub_rest = self._walk(self.chains[target], pkt, hit, depth + 1)
                acc, rest = acc | sub_acc, (rest - hit) | sub_rest
        return acc, rest


@dataclasses.dataclass(frozen=True)
class _IptMatch:
    iif: str | None
    oif: str | None
    src: tuple[int, int]
    dst: tuple[int, int]
    new: bool
    packets: PacketSet
    target: str


class IptEval:
    """First match over an `IptModel` (FORWARD policy DROP) for NEW packets."""

    def __init__(self, model: IptModel) -> None:
        self.chains = {c.name: [self._parse(r) for r in c.rules] for c in model.chains}
        self.forward = [self._parse(r) for r in model.forward]

    @staticmethod
    def _parse(rule: IptRule) -> _IptMatch:
        toks = shlex.split(" ".join(rule.matches))
        m: dict[str, str] = {}
        for opt, arg in zip(toks[::2], toks[1::2], strict=True):
            if opt not in (
                "-i",
                "-o",
                "-p",
                "-s",
                "-d",
                "--dport",
                "--dports",
                "--icmp-type",
                "--ctstate",
                "-m",
                "--limit",
                "--limit-burst",
            ):
                pytest.fail(f"IptEval does not know {opt!r} (iptables output changed?)")
            m[opt] = arg
        ports = m.get("--dports", m.get("--dport", m.get("--icmp-type")))
        proto = m.get("-p")
        if proto is None or proto in ("0", "all"):  # iptables: "-p 0" means every protocol
            packets = PacketSet.everything()
        elif ports is None:
            packets = PacketSet.protocol(_number(proto))
        else:
            packets = PacketSet.union_all(
                PacketSet.ports(_number(proto), *_interval(p, ":")) for p in ports.split(",")
            )
        [src] = _ranges([m.get("-s", "0.0.0.0/0")])
        [dst] = _ranges([m.get("-d", "0.0.0.0/0")])
        return _IptMatch(
            m.get("-i"),
            m.get("-o"),
            src,
            dst,
            "NEW" in m.get("--ctstate", "NEW").split(","),
            packets,
            rule.target,
        )

    def accepted(self, pkt: Packet) -> PacketSet:
        acc, _ = self._walk(self.forward, pkt, PacketSet.everything(), 0)
        return acc & REAL

    def _walk(
        self, rules: list[_IptMatch], pkt: Packet, rest: PacketSet, depth: int
    ) -> tuple[PacketSet, PacketSet]:
        assert depth < 10
        iif, oif, src, dst = pkt
        acc = returned = PacketSet()
        for m in rules:
            if not rest:
                break
            if (
                m.iif not in (None, iif)
                or m.oif not in (None, oif)
                or not m.new
                or not m.src[0] <= src <= m.src[1]
                or not m.dst[0] <= dst <= m.dst[1]
            ):
                continue
            hit = rest & m.packets
            if not hit or m.target.startswith("LOG"):
                continue
            if m.target == "ACCEPT":
                acc, rest = acc | hit, rest - hit
            elif m.target == "DROP":
                rest = rest - hit
            elif m.target == "RETURN":  # back to the caller, undecided
                returned, rest = returned | hit, rest - hit
            else:
                sub_acc, sub_rest = self._walk(self.chains[m.target], pkt, hit, depth + 1)
                acc, rest = acc | sub_acc, (rest - hit) | sub_rest
        return acc, rest | returned


class SpecGateway:
    """The enforcement model of the language (docs/language.md, 8.1) for one gateway, from flows."""

    def __init__(self, cp: CompiledPolicy, gw: str) -> None:
        self.plan = next(g for g in cp.gateways if g.name == gw)
        self.classes = {c.name: c for c in cp.classes}
        self.endpoints = [(_ranges(e.prefixes), e) for e in cp.endpoints]
        self.flows = {(f.src, f.dst): f.packets & REAL for f in cp.flows}
        self.cache: dict[int, Endpoint | None] = {}

    def endpoint(self, addr: int) -> Endpoint | None:
        if addr not in self.cache:
            self.cache[addr] = next((e for r, e in self.endpoints if _within(addr, r)), None)
        return self.cache[addr]

    def cls(self, ep: Endpoint | None) -> ResolvedClass | None:
        return self.classes[ep.name] if ep is not None and ep.kind == "class" else None

    def route(self, addr: int) -> str:
        cls = self.cls(self.endpoint(addr))
        if cls is not None and cls.gateway == self.plan.name:
            return cls.interface
        return self.plan.uplink or "zz-nowhere"

    def accepted(self, pkt: Packet) -> PacketSet:
        iif, oif, src, dst = pkt
        s_ep, d_ep = self.endpoint(src), self.endpoint(dst)
        s_cls, d_cls = self.cls(s_ep), self.cls(d_ep)
        none = PacketSet()
        if iif == self.plan.uplink:
            if s_cls is not None:
                return none if s_cls.gateway == self.plan.name else REAL
            if s_ep is None or d_cls is None or d_cls.gateway != self.plan.name:
                return none
        elif s_cls is None or s_cls.gateway != self.plan.name or s_cls.interface != iif:
            return none
        if s_ep is None or d_ep is None or oif != self.route(dst):
            return none
        return self.flows.get((s_ep.id, d_ep.id), none)


def sample_addresses(cp: CompiledPolicy) -> list[int]:
    """Both ends of the first, middle and last prefix of every endpoint, the addresses just
    outside the first and the last, and a few others."""
    out = {int(IPAddress(a)) for a in ("0.0.0.0", "1.2.3.4", "10.255.255.255", "255.255.255.255")}
    for ep in cp.endpoints:
        ps = ep.prefixes
        for p in (ps[0], ps[len(ps) // 2], ps[-1]):
            out.update((p.first, p.last))
        out.update((max(ps[0].first - 1, 0), min(ps[-1].last + 1, (1 << 32) - 1)))
    return sorted(out)


def sample_packets(cp: CompiledPolicy, gw: str) -> Iterator[Packet]:
    """(iif, oif, src, dst): the routed interfaces, the next interface as a wrong one, and
    for the ingress also the uplink (where a served source is spoofed)."""
    spec = SpecGateway(cp, gw)
    uplink = spec.plan.uplink or "zz-nowhere"
    ifaces = sorted({c.interface for c in cp.classes if c.gateway == gw} | {uplink})
    ifaces.append("zz-other")

    def choices(addr: int) -> list[str]:
        right = spec.route(addr)
        return [right, ifaces[(ifaces.index(right) + 1) % len(ifaces)]]

    addrs = sample_addresses(cp)
    for src in addrs:
        for dst in addrs:
            for iif in dict.fromkeys([*choices(src), uplink]):
                for oif in choices(dst):
                    yield iif, oif, src, dst


def _compare(
    cp: CompiledPolicy,
    gw: str,
    a: NftEval | IptEval | SpecGateway,
    b: NftEval | IptEval | SpecGateway,
) -> int:
    checked = 0
    for pkt in sample_packets(cp, gw):
        got, want = a.accepted(pkt), b.accepted(pkt)
        src, dst = IPAddress(pkt[2]), IPAddress(pkt[3])
        assert got == want, (
            f"{gw}: {pkt[0]}->{pkt[1]} {src}->{dst}: "
            f"{got.describe() or 'nothing'} != {want.describe() or 'nothing'}"
        )
        checked += bool(want)
    return checked


SEMANTIC_CASES = ["small", "two_gw", "atoms", "long", "hospital:core_fw", "hospital:dist_sw1"]


@pytest.mark.parametrize("case", SEMANTIC_CASES)
def test_model_permits_exactly_the_spec_gateway_model(case: str) -> None:
    cp = compiled_case(case)
    for gw in nft_gateways(cp):
        permitted = _compare(cp, gw, NftEval(lowered(cp, gw)), SpecGateway(cp, gw))
        assert permitted > 0  # the samples do exercise permitted flows


IPT_CASES = ["small", "two_gw", "atoms", "long", "hospital:core_fw", "hospital:dist_sw1"]


@pytest.mark.parametrize("case", IPT_CASES)
def test_model_permits_exactly_what_the_iptables_model_permits(case: str) -> None:
    cp = compiled_case(case)
    ipt = IptablesBackend()
    for gw in nft_gateways(cp):
        view = gateway_view(cp, gw)
        _compare(cp, gw, NftEval(lowered(cp, gw)), IptEval(ipt.lower(cp, view).unwrap()))


# ---------------------------------------------------------------------------------------------
# kernel: nft -c -f, then a real load, twice, in a fresh network namespace
# ---------------------------------------------------------------------------------------------


def _outputs(cp: CompiledPolicy) -> list[tuple[Path, str, NftModel]]:
    backend = NftablesBackend()
    out = []
    for gw in nft_gateways(cp):
        view = gateway_view(cp, gw)
        assert backend.check(cp, view) == []
        model = backend.lower(cp, view).unwrap()
        for path, text in backend.render(model).items():
            out.append((Path(str(path)), text, model))
    return out


def _kernel_netns_nft() -> str:
    """The nft binary; skip (or fail under ZONEWALL_REQUIRE_KERNEL=1) when it cannot run."""
    return require_tool("nft")


def _usable(ns: Netns, nft: str) -> None:
    proc = ns.run(nft, "list", "ruleset", check=False)
    if proc.returncode != 0:
        unavailable(f"nft cannot talk to nf_tables in a network namespace: {proc.stderr}")


def _load_and_compare(ns: Netns, nft: str, file: Path, model: NftModel) -> None:
    """nft -c -f, then load twice; what the kernel lists matches the model each time."""
    ns.run(nft, "-c", "-f", str(file))
    for _ in range(2):
        ns.run(nft, "-f", str(file))
        listed = json.loads(ns.run(nft, "-j", "list", "table", "inet", "zonewall").stdout)
        items: list[dict[str, dict[str, str]]] = listed["nftables"]
        assert sum("rule" in i for i in items) == NftablesBackend().rule_count(model)
        assert sorted(i["chain"]["name"] for i in items if "chain" in i) == sorted(
            c.name for c in model.chains
        )
        assert sorted(i["set"]["name"] for i in items if "set" in i) == sorted(
            s.name for s in model.sets
        )


KERNEL_CASES = ["small", "two_gw", "long", "atoms", "hospital:core_fw", "hospital:dist_sw1"]


@pytest.mark.kernel
@pytest.mark.parametrize("case", KERNEL_CASES)
def test_output_loads_into_a_kernel_twice(case: str, tmp_path: Path) -> None:
    nft = _kernel_netns_nft()
    outputs = _outputs(compiled_case(case))
    assert outputs
    with netns() as ns:
        _usable(ns, nft)
        for rel, text, model in outputs:
            file = tmp_path / rel
            file.write_text(text, encoding="utf-8")
            _load_and_compare(ns, nft, file, model)


@pytest.mark.kernel
def test_hostile_output_loads_and_a_reload_leaves_other_tables_alone(tmp_path: Path) -> None:
    nft = _kernel_netns_nft()
    evil = tmp_path / "evil.nft"
    evil_text, evil_model = _injection_output(True)
    evil.write_text(evil_text, encoding="utf-8")
    [(_, small_text, small_model)] = _outputs(compiled_case("small"))
    small = tmp_path / "small.nft"
    small.write_text(small_text, encoding="utf-8")
    with netns() as ns:
        _usable(ns, nft)
        ns.run(nft, "add table inet other; add chain inet other keep")
        _load_and_compare(ns, nft, evil, evil_model)
        _load_and_compare(ns, nft, small, small_model)  # a different policy replaces it
        tables = ns.run(nft, "list", "tables").stdout.split("\n")
        assert sorted(t for t in tables if t) == ["table inet other", "table inet zonewall"]
        assert "chain keep" in ns.run(nft, "list", "table", "inet", "other").stdout


# ---------------------------------------------------------------------------------------------
# kernel, end to end: real connections through a router namespace running fw1 of TWO_GW
# ---------------------------------------------------------------------------------------------

_SERVER = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in (22, 443):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8); sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for k, _ in sel.select():
        c, _ = k.fileobj.accept(); c.sendall(b"ok"); c.close()
"""

_PROBE = """
import socket, sys
s = socket.socket(); s.settimeout(0.7); s.bind((sys.argv[1], 0))
try:
    s.connect((sys.argv[2], int(sys.argv[3]))); sys.exit(0 if s.recv(2) == b"ok" else 1)
except OSError:
    sys.exit(1)
"""

# (from host, source address, destination, port, permitted?)
PROBES = [
    ("ws", "10.1.0.2", "10.1.1.2", 443, True),  # allow ws -> srv : https
    ("ws", "10.1.0.2", "10.1.1.2", 22, False),  # no ssh
    ("srv", "10.1.1.2", "10.1.0.2", 443, False),  # not the reverse direction
    ("up", "203.0.113.5", "10.1.1.2", 443, True),  # allow vendor -> srv (inbound)
    ("up", "203.0.113.5", "10.1.0.2", 443, False),  # the vendor reaches srv only
    ("up", "8.8.8.8", "10.1.1.2", 443, False),  # the internet does not come in
    ("ws", "10.1.0.2", "8.8.8.8", 443, True),  # allow ws -> internet : https
    ("ws", "10.1.0.2", "203.0.113.5", 443, False),  # deny ws -> vendor, inside internet
    ("srv", "10.1.1.2", "192.0.2.7", 443, True),  # allow srv -> partner
    ("srv", "10.1.1.2", "8.8.8.8", 443, False),  # srv has no internet
]


@pytest.mark.kernel
def test_connections_through_a_router_follow_the_policy(tmp_path: Path) -> None:
    nft, ip = _kernel_netns_nft(), require_tool("ip")
    if os.geteuid() != 0:
        unavailable("the end-to-end probe needs root (veth pairs between namespaces)")
    [(rel, text, _)] = [o for o in _outputs(compiled_case("two_gw")) if o[0].name == "fw1.nft"]
    (tmp_path / rel).write_text(text, encoding="utf-8")
    servers: list[subprocess.Popen[str]] = []
    with netns() as rtr, netns() as ws, netns() as srv, netns() as up:
        _usable(rtr, nft)
        hosts = {"ws": ws, "srv": srv, "up": up}
        for host, ifname, router_addr, host_addrs in (
            (ws, "eth1.10", "10.1.0.1/24", ["10.1.0.2/24"]),
            (srv, "eth1.20", "10.1.1.1/28", ["10.1.1.2/28"]),
            (
                up,
                "eth0",
                "192.168.255.1/30",
                ["192.168.255.2/30", "203.0.113.5/32", "8.8.8.8/32", "192.0.2.7/32"],
            ),
        ):
            _veth(ip, rtr, ifname, router_addr, host, host_addrs)
        rtr.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        rtr.run(ip, "route", "add", "default", "via", "192.168.255.2")
        ws.run(ip, "route", "add", "default", "via", "10.1.0.1")
        srv.run(ip, "route", "add", "default", "via", "10.1.1.1")
        up.run(ip, "route", "add", "10.1.0.0/16", "via", "192.168.255.1")
        rtr.run(nft, "-f", str(tmp_path / rel))
        try:
            for host in hosts.values():
                proc = subprocess.Popen(
                    [*host.prefix, sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True
                )
                servers.append(proc)
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            results = [
                (
                    h,
                    s,
                    d,
                    port,
                    hosts[h]
                    .run(sys.executable, "-c", _PROBE, s, d, str(port), check=False)
                    .returncode
                    == 0,
                )
                for h, s, d, port, _ in PROBES
            ]
        finally:
            for proc in servers:
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
        assert results == [(h, s, d, port, ok) for h, s, d, port, ok in PROBES]
        counters = rtr.run(nft, "list", "chain", "inet", "zonewall", "zp_vendor__srv").stdout
        assert re.search(r"tcp dport 443 ct state new counter packets [1-9]", counters)


def _veth(
    ip: str, rtr: Netns, ifname: str, router_addr: str, host: Netns, host_addrs: list[str]
) -> None:
    """A veth pair: `ifname` in the router, `ifname` in the host, addressed and up."""
    a, b = f"zwa{uuid.uuid4().hex[:8]}", f"zwb{uuid.uuid4().hex[:8]}"
    kernel_run((ip, "link", "add", a, "type", "veth", "peer", "name", b))
    kernel_run((ip, "link", "set", a, "netns", rtr.name))
    kernel_run((ip, "link", "set", b, "netns", host.name))
    for ns, tmp, addrs in ((rtr, a, [router_addr]), (host, b, host_addrs)):
        ns.run(ip, "link", "set", tmp, "name", ifname)
        for addr in addrs:
            ns.run(ip, "addr", "add", addr, "dev", ifname)
        ns.run(ip, "link", "set", ifname, "up")
        ns.run(ip, "link", "set", "lo", "up")
