"""Cisco IOS backend: the lowered model, the rendered text, and a first-match evaluator.

The evaluator below parses the rendered ACL text with regular expressions (it never looks at
the model) and decides packets as IOS does: first match, `established` = ACK or RST, wildcard
masks, an implicit deny after the last entry, and an undefined or empty bound ACL permitting
everything.  It is checked against an oracle of the language's enforcement model (docs/language.md
8.1, with the stateless definition of replies), computed from the compiled flows.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from zonewall.backends.base import gateway_view
from zonewall.backends.cisco_ios.backend import CiscoIosBackend
from zonewall.backends.cisco_ios.lowering import address, widen
from zonewall.backends.cisco_ios.model import IosModel
from zonewall.backends.cisco_ios.names import acl_name
from zonewall.backends.cisco_ios.selfplane import own_addresses
from zonewall.backends.cisco_ios.specs import (
    forward_shapes,
    forward_specs,
    port_op,
    reply_shapes,
    reply_specs,
)
from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import DiagnosticError
from zonewall.dsl.parser import parse_file, parse_text
from zonewall.ir import CompiledPolicy
from zonewall.packets import ICMP, TCP, UDP, PacketSet, key

HOSPITAL = Path(__file__).resolve().parents[3] / "examples" / "hospital.zw"

SERVICES = """
service https  = tcp/443
service dns    = udp/53, tcp/53
service ping   = icmp/echo-request
service app    = tcp/8000-8010
service syslog = udp/514
service gre    = proto/47
service dhcp   = udp/67
"""

SMALL = (
    SERVICES
    + """
class pump    { vlan 110 subnet 10.20.16.0/22 description "Pumps" }
class server  { vlan 210 subnet 10.20.40.0/28, 10.20.41.0/29 }
class dns_srv { vlan 10  subnet 10.20.1.0/29 }
external internet { address 0.0.0.0/0 }
external vendor   { address 203.0.113.0/24 }
allow pump -> server : https, app "drug library"
allow server -> pump : https
allow pump, server -> dns_srv : dns, dhcp
allow server -> vendor : https
allow vendor -> server : https "vendor support"
allow server -> pump : ping
allow pump -> internet : https
allow dns_srv -> server : syslog
deny  pump -> vendor
gateway sw { platform cisco-ios uplink "TenGigabitEthernet1/1/1" serves internal }
"""
)

TWO_GATEWAYS = (
    SERVICES
    + """
class a { vlan 10 subnet 10.1.0.0/24 }
class b { vlan 20 subnet 10.1.1.0/25 }
class c { vlan 30 subnet 10.2.0.0/24 }
class d { vlan 40 subnet 10.2.1.0/24 }
external internet { address 0.0.0.0/0 except 192.168.0.0/16 }
allow a -> c "anything toward the Linux side"
allow c -> a : https, dns
allow a -> b : dns, ping
allow d -> b : app
allow b -> internet : https
allow internet -> a : https "published service"
gateway sw { platform cisco-ios interface "Vlan{vlan}" uplink "Port-channel1" serves a, b
             dhcp-relay from 192.168.0.1 }  # a may reach c on every port, udp/67 included
gateway fw { platform iptables uplink "eth0" serves c, d }
"""
)


def compiled_of(text: str) -> CompiledPolicy:
    result = compile_policy(parse_text(text, "t.zw").policy)
    assert result.compiled is not None, result.diagnostics
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.compiled


def lowered(compiled: CompiledPolicy, gateway: str = "sw") -> IosModel:
    backend = CiscoIosBackend()
    view = gateway_view(compiled, gateway)
    assert backend.check(compiled, view) == []
    result = backend.lower(compiled, view)
    assert result.diagnostics == ()
    return result.unwrap()


def rendered(compiled: CompiledPolicy, gateway: str = "sw") -> str:
    model = lowered(compiled, gateway)
    (text,) = CiscoIosBackend().render(model).values()
    return text


def errors(text: str, gateway: str = "sw") -> list[tuple[str, int | None]]:
    compiled = compiled_of(text)
    diags = CiscoIosBackend().lower(compiled, gateway_view(compiled, gateway)).diagnostics
    return [(d.code, d.span.line if d.span else None) for d in diags]


def ace_lines(model: IosModel, acl: str) -> list[str]:
    """An ACL's entries as text, without sequence numbers (for readable assertions)."""
    (found,) = [a for a in model.acls if a.name.startswith(acl)]
    out = []
    for ace in found.aces:
        words = [
            ace.action,
            ace.protocol,
            ace.src,
            ace.src_port,
            ace.dst,
            ace.dst_port,
            ace.option,
            "log" if ace.log else "",
        ]
        out.append(" ".join(w for w in words if w))
    return out


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "text"),
    [
        ("10.0.0.5/32", "host 10.0.0.5"),
        ("0.0.0.0/0", "any"),
        ("10.10.0.0/22", "10.10.0.0 0.0.3.255"),
        ("10.20.40.0/28", "10.20.40.0 0.0.0.15"),
        ("10.0.0.6/31", "10.0.0.6 0.0.0.1"),
        ("128.0.0.0/1", "128.0.0.0 127.255.255.255"),
    ],
    ids=["host", "any", "slash22", "slash28", "slash31", "slash1"],
)
def test_wildcard_addresses(cidr: str, text: str) -> None:
    assert address(IPNetwork(cidr)) == text


@pytest.mark.parametrize(
    ("lo", "hi", "text"),
    [(443, 443, "eq 443"), (5100, 5109, "range 5100 5109")],
    ids=["eq", "range"],
)
def test_port_operators(lo: int, hi: int, text: str) -> None:
    assert port_op(lo, hi) == text


def test_forward_specs_cover_exactly_the_packets() -> None:
    packets = (
        PacketSet.ports(TCP, 443, 443)
        | PacketSet.ports(TCP, 8000, 8010)
        | PacketSet.ports(ICMP, 8, 8)
        | PacketSet.protocol(UDP)
        | PacketSet.protocol(47)
    )
    specs, bad = forward_specs(packets)
    assert bad == []
    assert [(s.protocol, s.port, s.option) for s in specs] == [
        ("icmp", "", "echo"),
        ("tcp", "eq 443", ""),
        ("tcp", "range 8000 8010", ""),
        ("udp", "", ""),
        ("47", "", ""),
    ]
    assert [s.protocol for s in forward_specs(PacketSet.everything())[0]] == ["ip"]
    assert forward_specs(PacketSet.protocol(0))[1] == [0]


@pytest.mark.parametrize(
    ("packets", "expected", "bad"),
    [
        (PacketSet.ports(TCP, 443, 443), [("tcp", "eq 443", "established")], []),
        (PacketSet.protocol(TCP), [("tcp", "", "established")], []),
        (PacketSet.ports(UDP, 53, 53), [("udp", "eq 53", "")], []),
        (PacketSet.ports(ICMP, 8, 8), [("icmp", "", "echo-reply")], []),
        (PacketSet.ports(ICMP, 3, 3), [], []),
        (PacketSet.ports(ICMP, 13, 13), [], ["icmp/13"]),
        (PacketSet.protocol(47), [], ["proto/47"]),
    ],
    ids=["tcp", "tcp-all", "udp", "echo", "unreachable-has-no-reply", "timestamp", "gre"],
)
def test_reply_specs(
    packets: PacketSet, expected: list[tuple[str, str, str]], bad: list[str]
) -> None:
    specs, problems = reply_specs(packets)
    assert [(s.protocol, s.port, s.option) for s in specs] == expected
    assert problems == bad


def test_widen_adds_only_class_space() -> None:
    classes = [IPNetwork("10.0.0.0/8")]
    rest = [
        IPNetwork("0.0.0.0/5"),
        IPNetwork("8.0.0.0/7"),
        IPNetwork("11.0.0.0/8"),
        IPNetwork("12.0.0.0/6"),
        IPNetwork("16.0.0.0/4"),
        IPNetwork("32.0.0.0/3"),
        IPNetwork("64.0.0.0/2"),
        IPNetwork("128.0.0.0/1"),
    ]
    assert widen(rest, classes) == [IPNetwork("0.0.0.0/0")]
    assert widen([IPNetwork("203.0.113.0/24")], classes) == [IPNetwork("203.0.113.0/24")]


# ---------------------------------------------------------------------------------------------
# The lowered model
# ---------------------------------------------------------------------------------------------


def test_one_acl_per_served_class_and_the_uplink_bound_inbound() -> None:
    compiled = compiled_of(SMALL)
    model = lowered(compiled)
    suffix = model.suffix
    assert [(a.name, a.interface) for a in model.acls] == [
        (f"ZW-DNS_SRV-IN-{suffix}", "Vlan10"),
        (f"ZW-PUMP-IN-{suffix}", "Vlan110"),
        (f"ZW-SERVER-IN-{suffix}", "Vlan210"),
        (f"ZW-UPLINK-IN-{suffix}", "TenGigabitEthernet1/1/1"),
    ]
    by_class = {c.name: c for c in compiled.classes}
    assert model.acls[1].name == acl_name(by_class["pump"].name, suffix)
    assert str(model.path) == "sw.ios"


def test_class_acl_starts_flows_and_answers_them() -> None:
    model = lowered(compiled_of(SMALL))
    pump = ace_lines(model, "ZW-PUMP-IN")
    assert pump[:2] == [
        "permit udp host 0.0.0.0 eq 68 host 255.255.255.255 eq 67",
        "permit udp 10.20.16.0 0.0.3.255 eq 68 host 255.255.255.255 eq 67",
    ]
    for line in [
        "permit tcp 10.20.16.0 0.0.3.255 10.20.40.0 0.0.0.15 eq 443",
        "permit tcp 10.20.16.0 0.0.3.255 10.20.41.0 0.0.0.7 range 8000 8010",
        "permit udp 10.20.16.0 0.0.3.255 10.20.1.0 0.0.0.7 eq 53",
        # replies to server -> pump : https and ping
        "permit tcp 10.20.16.0 0.0.3.255 eq 443 10.20.40.0 0.0.0.15 established",
        "permit icmp 10.20.16.0 0.0.3.255 10.20.41.0 0.0.0.7 echo-reply",
    ]:
        assert line in pump
    assert pump[-1] == "deny ip any any log"
    server = ace_lines(model, "ZW-SERVER-IN")
    assert "permit icmp 10.20.40.0 0.0.0.15 10.20.16.0 0.0.3.255 echo" in server
    assert (
        "permit tcp 10.20.41.0 0.0.0.7 range 8000 8010 10.20.16.0 0.0.3.255 established" in server
    )
    # syslog from dns_srv is udp: its reply leaves server from source port 514
    assert "permit udp 10.20.40.0 0.0.0.15 eq 514 10.20.1.0 0.0.0.7" in server
    # vendor -> server : https is answered toward the vendor
    assert "permit tcp 10.20.40.0 0.0.0.15 eq 443 203.0.113.0 0.0.0.255 established" in server


def test_external_atoms_are_widened_behind_a_deny_of_class_space() -> None:
    model = lowered(compiled_of(SMALL))
    pump = ace_lines(model, "ZW-PUMP-IN")
    deny = pump.index("deny ip 10.20.16.0 0.0.3.255 10.20.1.0 0.0.0.7")
    https_out = [
        i
        for i, line in enumerate(pump)
        if line.startswith("permit tcp 10.20.16.0 0.0.3.255 ")
        and line.endswith("eq 443")
        and " 10.20." not in line[30:]
    ]
    # every class entry first, then the deny of class space, then the widened internet
    assert https_out and min(https_out) > deny
    assert all("203.0.113." not in pump[i] for i in https_out)  # the deny carved the vendor out
    assert len(https_out) < 30  # 0.0.0.0/0 minus the vendor, not minus every class too


def test_carve_outs_keep_external_entries_few() -> None:
    compiled, _ = case("all-ios-core")
    model = lowered(compiled, "core_fw")
    byod = ace_lines(model, "ZW-BYOD-IN")
    # byod may reach internet minus the vendor clouds: one deny of what is not internet, then any
    assert "deny ip 10.40.8.0 0.0.7.255 203.0.113.0 0.0.0.255" in byod
    assert byod.index("deny ip 10.40.8.0 0.0.7.255 203.0.113.0 0.0.0.255") < byod.index(
        "permit tcp 10.40.8.0 0.0.7.255 any eq 443"
    )
    up = ace_lines(model, "ZW-UPLINK-IN")
    carve = up.index("deny tcp 203.0.113.0 0.0.0.255 eq 443 10.40.48.0 0.0.15.255 established")
    assert carve < up.index("permit tcp any eq 443 10.40.48.0 0.0.15.255 established")
    # (internet excepts the ten private and special-purpose blocks: about one entry each;
    # the uplink also denies each of the switch's own addresses)
    own = len(own_addresses(gateway_view(compiled, "core_fw")))
    assert max(len(a.aces) for a in model.acls) < 115 + own


def test_a_carve_out_never_shadows_a_reply() -> None:
    compiled, gateway = case("carve")
    device = Device(rendered(compiled, gateway))
    vendor, pump = int(IPAddress("203.0.113.9")), int(IPAddress("10.20.16.7"))
    uplink = "TenGigabitEthernet1/1/1"
    # pump -> vendor : https (through internet) is answered; vendor may not start toward pump
    assert device.passes(uplink, Packet(TCP, vendor, pump, 443, 443, "A"))
    assert not device.passes(uplink, Packet(TCP, vendor, pump, 443, 443, "S"))
    assert device.passes(uplink, Packet(TCP, int(IPAddress("8.8.8.8")), pump, 5000, 443, "S"))


def test_carve_outs_do_not_shadow_a_later_group() -> None:
    compiled, gateway = case("conflict")
    device = Device(rendered(compiled, gateway))
    vendor, vendor2 = int(IPAddress("203.0.113.9")), int(IPAddress("198.51.100.9"))
    pump = int(IPAddress("10.20.16.7"))
    assert device.passes("Vlan110", Packet(TCP, pump, vendor, 443, 443, "A"))  # a reply
    assert not device.passes("Vlan110", Packet(TCP, pump, vendor, 40000, 443, "S"))  # denied
    assert device.passes("Vlan110", Packet(TCP, pump, vendor2, 40000, 443, "S"))
    assert not device.passes("Vlan110", Packet(TCP, pump, vendor2, 443, 40000, "A"))


def test_uplink_denies_spoofing_then_admits_permitted_external_traffic() -> None:
    model = lowered(compiled_of(SMALL))
    up = ace_lines(model, "ZW-UPLINK-IN")
    assert up[0].startswith("deny ip 10.20.1.0 0.0.0.7 any log")
    assert up[-1] == "deny ip any any log"
    assert "permit tcp 203.0.113.0 0.0.0.255 10.20.40.0 0.0.0.15 eq 443" in up
    assert "permit tcp 203.0.113.0 0.0.0.255 eq 443 10.20.41.0 0.0.0.7 established" in up
    assert not any(line.startswith("permit ip") for line in up)  # one gateway: no transit


def test_two_gateways_transit_and_replies_at_the_destination_only() -> None:
    compiled = compiled_of(TWO_GATEWAYS)
    model = lowered(compiled)
    up = ace_lines(model, "ZW-UPLINK-IN")
    # spoofed sources, then nothing to the switch's own addresses, then transit passes
    assert up[:5] == [
        "deny ip 10.1.0.0 0.0.0.255 any log",
        "deny ip 10.1.1.0 0.0.0.127 any log",
        "deny ip any host 10.1.0.1 log",
        "deny ip any host 10.1.1.1 log",
        "permit ip 10.2.0.0 0.0.1.255 any",
    ]
    a = ace_lines(model, "ZW-A-IN")
    # a -> c (every protocol) is answered by the stateful Linux gateway: no E402 here
    assert "permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255" in a
    assert "permit tcp 10.1.0.0 0.0.0.255 eq 443 10.2.0.0 0.0.0.255 established" in a
    b = ace_lines(model, "ZW-B-IN")
    assert "permit tcp 10.1.1.0 0.0.0.127 range 8000 8010 10.2.1.0 0.0.0.255 established" in b
    assert "permit icmp 10.1.1.0 0.0.0.127 10.1.0.0 0.0.0.255 echo-reply" in b


@pytest.mark.parametrize(
    ("allow", "code"),
    [
        ("allow a -> b", "E402"),
        ("allow a -> b : gre", "E402"),
        ("service ts = icmp/timestamp-request\nallow a -> b : ts", "E402"),
        ("allow a -> internet", "E402"),
        ("allow internet -> b", "E402"),
        ("service zero = proto/0\nallow a -> c : zero", "E401"),
    ],
    ids=["ip-to-served", "gre", "icmp-timestamp", "ip-to-external", "ip-from-external", "proto-0"],
)
def test_what_a_stateless_acl_cannot_express_is_an_error_at_the_rule(allow: str, code: str) -> None:
    text = TWO_GATEWAYS.replace('allow a -> c "anything toward the Linux side"', allow)
    line = next(
        i
        for i, s in enumerate(text.splitlines(), 1)
        if s.startswith(("allow a ->", "allow internet -> b"))
    )
    assert errors(text) == [(code, line)]


def test_replies_without_a_stateless_definition_are_not_needed() -> None:
    text = TWO_GATEWAYS.replace(
        'allow a -> c "anything toward the Linux side"',
        "service unreach = icmp/destination-unreachable\nallow a -> b : unreach",
    )
    model = lowered(compiled_of(text))
    assert "permit icmp 10.1.0.0 0.0.0.255 10.1.1.0 0.0.0.127 3" in ace_lines(model, "ZW-A-IN")


def test_lower_fails_closed_with_no_model() -> None:
    compiled = compiled_of(TWO_GATEWAYS.replace("allow a -> b : dns, ping", "allow a -> b"))
    result = CiscoIosBackend().lower(compiled, gateway_view(compiled, "sw"))
    assert result.model is None
    assert [d.code for d in result.diagnostics] == ["E402"]
    with pytest.raises(DiagnosticError) as err:
        result.unwrap()
    assert [d.code for d in err.value.diagnostics] == ["E402"]


def test_ace_budget_is_an_error_at_the_gateway() -> None:
    class Tiny(CiscoIosBackend):
        ace_budget = 5

    compiled = compiled_of(SMALL)
    diags = Tiny().lower(compiled, gateway_view(compiled, "sw")).diagnostics
    assert {d.code for d in diags} == {"E401"}
    assert all(
        d.span is not None
        and d.span.line
        == SMALL.splitlines().index(
            next(s for s in SMALL.splitlines() if s.startswith("gateway sw"))
        )
        + 1
        for d in diags
    )


def test_a_class_named_uplink_does_not_collide_with_the_uplink_acl() -> None:
    text = SMALL.replace("dns_srv", "uplink")
    names = [a.name for a in lowered(compiled_of(text)).acls]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_-]{0,63}", n) for n in names)


def test_output_is_deterministic() -> None:
    first = rendered(compiled_of(SMALL))
    assert rendered(compiled_of(SMALL)) == first
    assert rule_count(SMALL) == len(re.findall(r"^ \d+ ", first, re.MULTILINE))


def rule_count(text: str) -> int:
    return CiscoIosBackend().rule_count(lowered(compiled_of(text)))


# ---------------------------------------------------------------------------------------------
# The rendered text: structure (IOS-01..06)
# ---------------------------------------------------------------------------------------------

ADDR = r"(?:any|host \d+\.\d+\.\d+\.\d+|\d+\.\d+\.\d+\.\d+ \d+\.\d+\.\d+\.\d+)"
PORT = r"(?:eq \d+|range \d+ \d+)"
ACE_RE = re.compile(
    rf"^ (?P<seq>\d+) (?P<action>permit|deny) (?P<proto>ip|tcp|udp|icmp|\d+) (?P<src>{ADDR})"
    rf"(?: (?P<sport>{PORT}))? (?P<dst>{ADDR})(?: (?P<dport>{PORT}))?"
    r"(?: (?P<opt>established|echo|echo-reply|\d+))?(?P<log> log)?$"
)
LINE_RES = [
    re.compile(p)
    for p in (
        r"^![ -~]*$",
        r"^ip access-list extended [A-Z][A-Z0-9_-]{0,63}$",
        r"^ remark [ ->@-~]{1,100}$",  # printable ASCII but '?' (CLI help when pasted)
        ACE_RE.pattern,
        r"^interface [A-Za-z][A-Za-z0-9/.:-]*$",
        r"^ ip access-group [A-Z][A-Z0-9_-]{0,63} in$",
        r"^end$",
        r"^ipv6 access-list [A-Z][A-Z0-9_-]{0,63}$",
        r"^ sequence [1-9][0-9]* (permit icmp any any "
        r"(nd-ns|nd-na|router-solicitation|router-advertisement)|deny ipv6 any any log)$",
        r"^ ipv6 traffic-filter [A-Z][A-Z0-9_-]{0,63} in$",
        # the vty lines: their standard ACL, then `line vty 0 15` binding it
        r"^ip access-list standard ZW-VTY-[0-9A-F]{8}$",
        rf"^ [1-9][0-9]* (permit {ADDR}|deny any log)$",
        r"^line vty 0 15$",
        r"^ access-class ZW-VTY-[0-9A-F]{8} in$",
        r"^ transport input (ssh|telnet|ssh telnet|none)$",
    )
]


ANY = (0, 0xFFFFFFFF)


def structure_problems(text: str) -> Iterator[str]:
    acls = parse_acls(text)
    for n, line in enumerate(text.splitlines(), 1):
        if not any(r.match(line) for r in LINE_RES):
            yield f"line {n} is not IOS this backend writes: {line!r}"
        if line.startswith(" remark ") and line[8:].startswith("!"):
            yield f"line {n}: remark starts with '!'"
    for name, aces in acls.items():
        seqs = [a.seq for a in aces]
        if not aces:
            yield f"{name} is empty"
        elif (
            seqs != sorted(set(seqs))
            or seqs[0] != 10
            or any(b - a != 10 for a, b in itertools.pairwise(seqs))
        ):
            yield f"{name}: sequence numbers {seqs}"
        elif (aces[-1].action, aces[-1].proto, aces[-1].src, aces[-1].dst) != (
            "deny",
            "ip",
            ANY,
            ANY,
        ) or not aces[-1].log:
            yield f"{name} does not end with deny ip any any log"
        for a in aces:
            if a.established and a.proto != "tcp":
                yield f"{name} {a.seq}: established without tcp"
            if (a.sport or a.dport) and a.proto not in ("tcp", "udp"):
                yield f"{name} {a.seq}: ports without tcp/udp"
            if a.icmp is not None and a.proto != "icmp":
                yield f"{name} {a.seq}: ICMP type without icmp"
    for iface, name in parse_bindings(text).items():
        if name not in acls:
            yield f"{iface} binds undefined {name}"
    yield from ipv6_problems(text)


def ipv6_problems(text: str) -> Iterator[str]:
    """IPv6 closed (IOS-09): every interface with an IPv4 ACL binds a defined IPv6 ACL whose
    neighbour-discovery permits all come before its final deny ipv6 any any log."""
    v6: dict[str, list[str]] = {}
    current: list[str] | None = None
    filters: dict[str, str] = {}
    iface = None
    for line in text.splitlines():
        if m := re.match(r"^ipv6 access-list (\S+)$", line):
            current = v6.setdefault(m[1], [])
        elif m := re.match(r"^ sequence \d+ (.*)$", line):
            assert current is not None
            current.append(m[1])
        elif m := re.match(r"^interface (\S+)$", line):
            iface, current = m[1], None
        elif (m := re.match(r"^ ipv6 traffic-filter (\S+) in$", line)) and iface is not None:
            filters[iface] = m[1]
        elif not line.startswith(" "):
            current = None
    for iface in parse_bindings(text):
        name = filters.get(iface)
        if name is None or name not in v6:
            yield f"{iface} binds no defined IPv6 ACL ({name})"
        elif v6[name] != [
            f"permit icmp any any {t}"
            for t in ("nd-ns", "nd-na", "router-solicitation", "router-advertisement")
        ] + ["deny ipv6 any any log"]:
            yield f"IPv6 ACL {name}: {v6[name]}"


# ---------------------------------------------------------------------------------------------
# A first-match evaluator over the rendered text
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ace:
    seq: int
    action: str
    proto: str
    src: tuple[int, int]  # (address, wildcard)
    sport: tuple[int, int] | None
    dst: tuple[int, int]
    dport: tuple[int, int] | None
    established: bool
    icmp: int | None
    log: bool


@dataclass(frozen=True)
class Packet:
    proto: int
    src: int
    dst: int
    sport: int = 0
    dport: int = 0  # TCP/UDP destination port, or the ICMP type
    flags: str = ""  # TCP flags: any of S A R F

    def __str__(self) -> str:
        return (
            f"proto {self.proto} {IPAddress(self.src)}:{self.sport} -> "
            f"{IPAddress(self.dst)}:{self.dport} [{self.flags}]"
        )


def _addr(text: str) -> tuple[int, int]:
    if text == "any":
        return (0, 0xFFFFFFFF)
    if text.startswith("host "):
        return (int(IPAddress(text[5:])), 0)
    a, w = text.split()
    return (int(IPAddress(a)), int(IPAddress(w)))


def _port(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    words = text.split()
    return (int(words[1]), int(words[1])) if words[0] == "eq" else (int(words[1]), int(words[2]))


def parse_acls(text: str) -> dict[str, list[Ace]]:
    acls: dict[str, list[Ace]] = {}
    current: list[Ace] | None = None
    for line in text.splitlines():
        if m := re.match(r"^ip access-list extended (\S+)$", line):
            current = acls.setdefault(m[1], [])
        elif (m := ACE_RE.match(line)) and current is not None:
            opt = m["opt"]
            icmp = {"echo": 8, "echo-reply": 0}.get(
                opt or "", int(opt) if opt and opt.isdigit() else None
            )
            current.append(
                Ace(
                    int(m["seq"]),
                    m["action"],
                    m["proto"],
                    _addr(m["src"]),
                    _port(m["sport"]),
                    _addr(m["dst"]),
                    _port(m["dport"]),
                    opt == "established",
                    icmp,
                    m["log"] is not None,
                )
            )
        elif not line.startswith(" "):
            current = None
    return acls


def parse_bindings(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    iface = None
    for line in text.splitlines():
        if m := re.match(r"^interface (\S+)$", line):
            iface = m[1]
        elif (m := re.match(r"^ ip access-group (\S+) in$", line)) and iface is not None:
            out[iface] = m[1]
    return out


PROTO_NUMBERS = {"tcp": TCP, "udp": UDP, "icmp": ICMP}


def _matches(a: Ace, p: Packet) -> bool:
    if (
        a.proto != "ip"
        and PROTO_NUMBERS.get(a.proto, None if not a.proto.isdigit() else int(a.proto)) != p.proto
    ):
        return False
    for (net, wc), addr in ((a.src, p.src), (a.dst, p.dst)):
        if (addr & ~wc & 0xFFFFFFFF) != (net & ~wc & 0xFFFFFFFF):
            return False
    for rng, port in ((a.sport, p.sport), (a.dport, p.dport)):
        if rng is not None and not rng[0] <= port <= rng[1]:
            return False
    if a.established and not ("A" in p.flags or "R" in p.flags):
        return False
    return a.icmp is None or a.icmp == p.dport


def evaluate(acls: dict[str, list[Ace]], name: str | None, p: Packet) -> bool:
    """IOS: an undefined or empty applied ACL permits everything; else first match."""
    if name is None or not acls.get(name):
        return True
    for a in acls[name]:
        if _matches(a, p):
            return a.action == "permit"
    return False


class Device:
    """The rendered file of one gateway: which ACL guards each interface."""

    def __init__(self, text: str) -> None:
        self.acls = parse_acls(text)
        self.bindings = parse_bindings(text)

    def passes(self, iface: str, p: Packet) -> bool:
        return evaluate(self.acls, self.bindings.get(iface), p)


# ---------------------------------------------------------------------------------------------
# The oracle: the enforcement model of the language, on addresses and packets
# ---------------------------------------------------------------------------------------------


class Oracle:
    def __init__(self, compiled: CompiledPolicy, gateway: str) -> None:
        self.compiled = compiled
        self.view = gateway_view(compiled, gateway)
        self.served = {c.name: c for c in self.view.served}
        self.flows = {(f.src, f.dst): f.packets for f in compiled.flows}
        spans = sorted((p.first, p.last, ep.id) for ep in compiled.endpoints for p in ep.prefixes)
        self.starts = [s for s, _, _ in spans]
        self.spans = spans
        self.class_ep = {ep.name: ep.id for ep in compiled.endpoints if ep.kind == "class"}
        # the switch's own addresses (its SVIs) take exactly the policy's gateway flows
        self.own = {
            p.first + (0 if p.prefixlen >= 31 else 1) for c in self.view.served for p in c.prefixes
        }
        self.to_self = {f.src: f.packets for f in compiled.gateway_flows if f.gateway == gateway}
        self.dhcp = {
            c
            for c in self.served
            if any(
                key(UDP, 67) in pk
                for (s, d), pk in self.flows.items()
                if s == self.class_ep[c] and compiled.endpoints[d].kind == "class"
            )
        }

    def endpoint(self, addr: int) -> int | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and self.spans[i][0] <= addr <= self.spans[i][1]:
            return self.spans[i][2]
        return None

    def starts_flow(self, src: int, dst: int, p: Packet) -> bool:
        k = key(p.proto, p.dport if p.proto in (TCP, UDP, ICMP) else 0)
        return k in self.flows.get((src, dst), PacketSet())

    def replies(self, answerer: int, initiator: int, p: Packet) -> bool:
        flow = self.flows.get((initiator, answerer), PacketSet())
        if p.proto == TCP:
            return ("A" in p.flags or "R" in p.flags) and key(TCP, p.sport) in flow
        if p.proto == UDP:
            return key(UDP, p.sport) in flow
        return p.proto == ICMP and p.dport == 0 and key(ICMP, 8) in flow

    def permits(self, iface: str, p: Packet) -> bool:
        src, dst = self.endpoint(p.src), self.endpoint(p.dst)
        if p.dst in self.own:
            return self.reaches_switch(iface, src, p)
        if iface == self.view.plan.uplink:
            if src is None:
                return False
            ep = self.compiled.endpoints[src]
            if ep.kind == "class":
                return ep.name not in self.served
            if (
                dst is None
                or self.compiled.endpoints[dst].name not in self.served
                or self.compiled.endpoints[dst].kind != "class"
            ):
                return False
            return self.starts_flow(src, dst, p) or self.replies(src, dst, p)
        (cls,) = [c for c in self.served.values() if c.interface == iface]
        if (
            cls.name in self.dhcp
            and p.proto == UDP
            and p.sport == 68
            and p.dport == 67
            and p.dst == 0xFFFFFFFF
            and (p.src == 0 or src == self.class_ep[cls.name])
        ):
            return True  # DHCP client broadcasts for the relay (the one infrastructure entry)
        if src != self.class_ep[cls.name] or dst is None:
            return False
        return self.starts_flow(src, dst, p) or self.replies(src, dst, p)

    def reaches_switch(self, iface: str, src: int | None, p: Packet) -> bool:
        """A packet to the switch's own address: its source's flow to the gateway, entering
        on the source's own interface (classes of other gateways and externals: the uplink)."""
        if src is None:
            return False
        ep = self.compiled.endpoints[src]
        served = self.served.get(ep.name) if ep.kind == "class" else None
        home = served.interface if served is not None else self.view.plan.uplink
        k = key(p.proto, p.dport if p.proto in (TCP, UDP, ICMP) else 0)
        return iface == home and k in self.to_self.get(src, PacketSet())


def interfaces(compiled: CompiledPolicy, gateway: str) -> list[str]:
    view = gateway_view(compiled, gateway)
    out = [c.interface for c in view.served]
    return out + ([view.plan.uplink] if view.plan.uplink else [])


def sample_addresses(compiled: CompiledPolicy, rng: random.Random) -> list[int]:
    out = {0, 0xFFFFFFFF, int(IPAddress("10.255.255.254"))}
    for ep in compiled.endpoints:
        for p in ep.prefixes[:12]:
            out.update((p.first, p.first + 1, p.last, rng.randint(p.first, p.last)))
            if p.first > 0:
                out.add(p.first - 1)
            if p.last < 0xFFFFFFFF:
                out.add(p.last + 1)
    return sorted(out)


def sample_ports(compiled: CompiledPolicy) -> list[int]:
    out = {0, 1, 53, 67, 68, 80, 443, 65535}
    for f in compiled.flows:
        for lo, hi in f.packets.intervals:
            for k in (lo, hi):
                port = k % 65536
                out.update((port, max(port - 1, 0), min(port + 1, 65535)))
    return sorted(out)


def random_packets(
    compiled: CompiledPolicy, iface_prefixes: list[IPNetwork], n: int, seed: int
) -> Iterator[Packet]:
    rng = random.Random(seed)
    addrs = sample_addresses(compiled, rng)
    ports = sample_ports(compiled)
    for _ in range(n):
        if iface_prefixes and rng.random() < 0.7:
            net = rng.choice(iface_prefixes)
            src = rng.choice((net.first, net.last, rng.randint(net.first, net.last)))
        else:
            src = rng.choice(addrs)
        proto = rng.choice((TCP, TCP, UDP, UDP, ICMP, 47))
        if proto == ICMP:
            sport, dport = 0, rng.choice((0, 3, 8, 13, 11))
        elif proto in (TCP, UDP):
            sport, dport = rng.choice(ports), rng.choice(ports)
        else:
            sport = dport = 0
        flags = rng.choice(("S", "SA", "A", "R", "F", "")) if proto == TCP else ""
        dst = rng.choice(addrs)
        if proto == UDP and rng.random() < 0.05:
            src, dst, sport, dport = rng.choice((0, src)), 0xFFFFFFFF, 68, 67
        yield Packet(proto, src, dst, sport, dport, flags)


def flow_packets(compiled: CompiledPolicy, gateway: str) -> Iterator[tuple[int, int, Packet]]:
    """For every permitted flow touching the gateway: (src ep, dst ep, an initiating packet)."""
    view = gateway_view(compiled, gateway)
    served = {c.name for c in view.served}
    eps = compiled.endpoints
    for f in compiled.flows:
        src, dst = eps[f.src], eps[f.dst]
        if src.name not in served and dst.name not in served:
            continue
        for lo, hi in f.packets.split_by_protocol():
            proto = lo // 65536
            for k in {lo, hi}:
                port = k % 65536
                if proto == ICMP and port > 255:
                    continue
                for s_net, d_net in (
                    (src.prefixes[0], dst.prefixes[-1]),
                    (src.prefixes[-1], dst.prefixes[0]),
                ):
                    sport = 40000 if proto in (TCP, UDP) else 0
                    dport = port if proto in (TCP, UDP, ICMP) else 0
                    yield f.src, f.dst, Packet(proto, s_net.first, d_net.last, sport, dport, "S")


def reply_of(p: Packet) -> Packet:
    if p.proto == ICMP:
        return Packet(ICMP, p.dst, p.src, 0, 0)
    return Packet(p.proto, p.dst, p.src, p.dport, p.sport, "SA" if p.proto == TCP else "")


def ingress(compiled: CompiledPolicy, gateway: str, ep_id: int) -> str | None:
    """The interface of this gateway where traffic from an endpoint enters, if any."""
    view = gateway_view(compiled, gateway)
    cls = view.local(compiled.endpoints[ep_id])
    return cls.interface if cls is not None else view.plan.uplink


# Both hospital gateways on IOS: internet minus vendor clouds, carve-outs, many externals.
HOSPITAL_ALL_IOS = (
    HOSPITAL.read_text(encoding="utf-8")
    .replace("platform iptables", "platform cisco-ios")
    .replace('interface "vl{vlan}"', "")
)
CARVE = SMALL.replace(
    "deny  pump -> vendor", 'deny  vendor -> pump\nallow internet -> pump : https "portal"'
)
# Two groups of one ACL that would both be written toward `any`: the second must not land
# behind the first one's carve-out (pump:443 -> vendor:443 with ACK answers vendor -> pump).
CONFLICT = (
    SERVICES
    + """
class pump { vlan 110 subnet 10.20.16.0/22 }
class dns_srv { vlan 10 subnet 10.20.1.0/29 }
external internet { address 0.0.0.0/0 }
external vendor   { address 203.0.113.0/24 }
external vendor2  { address 198.51.100.0/24 }
allow pump -> internet : https
deny  pump -> vendor : https
allow internet -> pump : https
deny  vendor2 -> pump
allow pump -> dns_srv : dns
gateway sw { platform cisco-ios uplink "Gi1/0/1" serves internal }
"""
)
CASES = {
    "conflict": (CONFLICT, "sw"),
    "small": (SMALL, "sw"),
    "two-gateways": (TWO_GATEWAYS, "sw"),
    "all-ios-core": (HOSPITAL_ALL_IOS, "core_fw"),
    "all-ios-dist": (HOSPITAL_ALL_IOS, "dist_sw1"),
    "carve": (CARVE, "sw"),
}


def case(name: str) -> tuple[CompiledPolicy, str]:
    if name == "hospital":
        result = compile_policy(parse_file(str(HOSPITAL)).policy)
        assert result.compiled is not None
        return result.compiled, "dist_sw1"
    text, gateway = CASES[name]
    return compiled_of(text), gateway


ALL_CASES = ["hospital", *CASES]


@pytest.mark.parametrize("name", ALL_CASES)
def test_rendered_structure(name: str) -> None:
    compiled, gateway = case(name)
    text = rendered(compiled, gateway)
    assert list(structure_problems(text)) == []
    bindings = parse_bindings(text)
    assert sorted(bindings) == sorted(interfaces(compiled, gateway))
    assert text.startswith("! zonewall ")
    assert text.count("deploy make-before-break") == 1 and text.count("stateless:") == 1


@pytest.mark.parametrize("name", ALL_CASES)
def test_every_permitted_flow_and_its_reply_pass(name: str) -> None:
    compiled, gateway = case(name)
    device = Device(rendered(compiled, gateway))
    view = gateway_view(compiled, gateway)
    checked = 0
    for src, dst, p in flow_packets(compiled, gateway):
        src_local = view.local(compiled.endpoints[src]) is not None
        dst_local = view.local(compiled.endpoints[dst]) is not None
        if src_local or compiled.endpoints[src].kind == "external":
            iface = ingress(compiled, gateway, src)
            assert iface is not None and device.passes(iface, p), f"initiation {p} on {iface}"
        has_reply = p.proto in (TCP, UDP) or (p.proto == ICMP and p.dport == 8)
        if has_reply and (dst_local or (src_local and compiled.endpoints[dst].kind == "external")):
            iface = ingress(compiled, gateway, dst)
            r = reply_of(p)
            assert iface is not None and device.passes(iface, r), f"reply {r} on {iface}"
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("name", ALL_CASES)
def test_acls_decide_exactly_as_the_enforcement_model(name: str) -> None:
    compiled, gateway = case(name)
    device = Device(rendered(compiled, gateway))
    oracle = Oracle(compiled, gateway)
    view = oracle.view
    for n, iface in enumerate(interfaces(compiled, gateway)):
        local = [c for c in view.served if c.interface == iface]
        prefixes = list(local[0].prefixes) if local else []
        for p in random_packets(compiled, prefixes, 1500, seed=n):
            assert device.passes(iface, p) == oracle.permits(iface, p), f"{p} on {iface}"


def test_sample_non_permitted_packets_are_denied() -> None:
    compiled, gateway = case("hospital")
    device = Device(rendered(compiled, gateway))

    def ip(text: str) -> int:
        return int(IPAddress(text))

    pump, pump_server, guest = ip("10.40.16.20"), ip("10.40.40.5"), ip("10.40.48.9")
    denied = [
        ("Vlan110", Packet(TCP, pump, ip("8.8.8.8"), 40000, 443, "S")),  # no internet
        ("Vlan110", Packet(TCP, pump, pump_server, 40000, 22, "S")),  # not a permitted port
        ("Vlan110", Packet(TCP, ip("10.40.40.5"), pump_server, 40000, 443, "S")),  # spoofed
        ("Vlan210", Packet(TCP, pump_server, pump, 443, 40000, "S")),  # SYN from a service port
        ("TenGigabitEthernet1/1/1", Packet(TCP, guest, pump, 40000, 443, "S")),  # guest: passes
        ("TenGigabitEthernet1/1/1", Packet(TCP, pump, pump_server, 40000, 443, "S")),  # spoofed
        (
            "TenGigabitEthernet1/1/1",
            Packet(TCP, ip("203.0.113.7"), pump_server, 443, 40000, "S"),
        ),  # vendor SYN, not a reply
        ("Vlan120", Packet(UDP, ip("10.40.24.9"), ip("10.40.0.2"), 40000, 67)),  # no DHCP here
    ]
    decisions = [device.passes(iface, p) for iface, p in denied]
    # guest traffic is filtered at core_fw (a class of another gateway): it passes here
    assert decisions == [False, False, False, False, True, False, False, False]


# ---------------------------------------------------------------------------------------------
# Injection: free text from the policy never makes a line of its own
# ---------------------------------------------------------------------------------------------

HOSTILE = r"""x\" ! # -A FORWARD -j ACCEPT \\ end ünïcødé ? | <script> ; ip access-group X in"""


def test_hostile_strings_produce_no_extra_line() -> None:
    benign = SMALL.replace('"drug library"', '"benign"').replace('"vendor support"', '"b"')
    hostile = (
        SMALL.replace('"drug library"', f'"{HOSTILE}"')
        .replace('"vendor support"', f'"!{HOSTILE}"')
        .replace('"Pumps"', f'"{HOSTILE}"')
    )
    a, b = rendered(compiled_of(benign)), rendered(compiled_of(hostile))
    assert len(a.splitlines()) == len(b.splitlines())
    assert list(structure_problems(b)) == []
    remarks = [line for line in b.splitlines() if line.startswith(" remark ")]
    assert any("-A FORWARD -j ACCEPT" in r for r in remarks)  # kept, but only inside a remark
    # as written, in ASCII: quotes, '!' and backslashes stay inside the remark; '?' (CLI help
    # when pasted) becomes '_' and the accents go
    assert any('x" ! # -A FORWARD -j ACCEPT \\ end unicode _ | <script>' in r for r in remarks)
    assert all(r.isascii() and "?" not in r for r in remarks)
    assert b.count("\nend\n") == 1 and b.endswith("\nend\n")


def test_remarks_are_cut_at_100_characters() -> None:
    text = SMALL.replace('"drug library"', '"' + "x" * 300 + '"')
    remarks = [
        line[8:] for line in rendered(compiled_of(text)).splitlines() if line.startswith(" remark ")
    ]
    assert max(len(r) for r in remarks) == 100


def test_model_is_frozen() -> None:
    model = lowered(compiled_of(SMALL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.acls[0].name = "X"  # type: ignore[misc]


SPEC_KEYS = st.sampled_from([0, 1, 52, 53, 443, 65534, 65535])
SPEC_PROTOS = st.sampled_from([0, ICMP, TCP, UDP, 47, 255])


@given(st.lists(st.tuples(SPEC_PROTOS, SPEC_KEYS, SPEC_PROTOS, SPEC_KEYS), max_size=5))
def test_cached_shapes_equal_the_specs(raw: list[tuple[int, int, int, int]]) -> None:
    """The fast, cached spec tables read TCP/UDP intervals directly: same as the general path."""
    packets = PacketSet.union_all(
        PacketSet.of(min(key(a, p), key(b, q)), max(key(a, p), key(b, q))) for a, p, b, q in raw
    )
    specs, bad = forward_specs(packets)
    assert forward_shapes(packets.intervals) == (tuple(specs), tuple(bad))
    specs, reply_bad = reply_specs(packets)
    assert reply_shapes(packets.intervals) == (tuple(specs), tuple(reply_bad))


# ---------------------------------------------------------------------------------------------
# Traffic to the switch itself (issue #11): own-address entries first, vty lines
# ---------------------------------------------------------------------------------------------

PLANE = (
    TWO_GATEWAYS.replace("gateway sw ", "external noc { address 192.0.2.0/24 }\ngateway sw ")
    + """
allow a -> gateway:sw : tcp/22, tcp/443 "management"
allow noc -> gateways : tcp/22
allow c -> gateway:sw : udp/161
"""
)


def test_own_address_entries_come_before_every_forwarding_entry() -> None:
    model = lowered(compiled_of(PLANE))
    a = [line for line in ace_lines(model, "ZW-A-IN") if "255.255.255.255" not in line]
    own = ["10.1.0.1", "10.1.1.1"]  # (after the DHCP broadcasts, which are not to the switch)
    assert a[:6] == [
        f"permit tcp 10.1.0.0 0.0.0.255 host {h} eq {p}" for p in (22, 443) for h in own
    ] + [f"deny ip any host {h} log" for h in own]
    b = ace_lines(model, "ZW-B-IN")  # b may reach nothing of the switch
    assert b[:2] == [f"deny ip any host {h} log" for h in own]
    up = ace_lines(model, "ZW-UPLINK-IN")
    transit = up.index("permit ip 10.2.0.0 0.0.1.255 any")
    for line in (
        "permit udp 10.2.0.0 0.0.0.255 host 10.1.0.1 eq 161",
        "permit tcp 192.0.2.0 0.0.0.255 host 10.1.1.1 eq 22",
        "deny ip any host 10.1.1.1 log",
    ):
        assert up.index(line) < transit


def test_vty_takes_exactly_the_ssh_sources() -> None:
    model = lowered(compiled_of(PLANE))
    assert model.vty is not None and model.vty.transport == "ssh"
    assert [(e.action, e.src, e.log) for e in model.vty.aces] == [
        ("permit", "10.1.0.0 0.0.0.255", False),
        ("permit", "192.0.2.0 0.0.0.255", False),
        ("deny", "any", True),
    ]
    assert model.vty.name.startswith("ZW-VTY-") and model.vty.name.endswith(model.suffix)


def test_vty_closed_when_nothing_may_manage_the_switch() -> None:
    model = lowered(compiled_of(TWO_GATEWAYS))
    assert model.vty is not None and model.vty.transport == "none"
    assert [(e.action, e.src) for e in model.vty.aces] == [("deny", "any")]
    assert "transport input none" in rendered(compiled_of(TWO_GATEWAYS), "sw")


def test_ssh_for_some_and_telnet_for_others_is_e401() -> None:
    compiled = compiled_of(PLANE + "allow b -> gateway:sw : tcp/23\n")
    errors = CiscoIosBackend().lower(compiled, gateway_view(compiled, "sw")).diagnostics
    assert errors and {d.code for d in errors} == {"E401"}
    assert all("telnet" in d.message for d in errors)
