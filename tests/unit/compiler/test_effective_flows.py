"""Externals as address sets, endpoint atoms, and effective flows (allows minus denies)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

from netaddr import IPNetwork, IPSet

from zonewall.compiler.pipeline import compile_policy
from zonewall.dsl.parser import parse_text
from zonewall.packets import TCP, UDP, PacketSet

HTTPS = PacketSet.ports(TCP, 443, 443)
SSH = PacketSet.ports(TCP, 22, 22)
DNS = PacketSet.ports(UDP, 53, 53)

CLASSES = """
service https = tcp/443
service ssh   = tcp/22
service dns   = udp/53
service web   = tcp/80 plaintext
class a { vlan 10 subnet 10.0.0.0/24 }
class b { vlan 11 subnet 10.0.1.0/24 }
class c { vlan 12 subnet 10.0.2.0/24 }
"""


# ---------------------------------------------------------------------------------------------
# externals and endpoints
# ---------------------------------------------------------------------------------------------


def test_externals_are_their_addresses_minus_excepts_minus_class_subnets(zw: Callable) -> None:
    out = zw(
        CLASSES
        + """
        external internet { address 0.0.0.0/0 except 192.168.0.0/16 }
        external cloud { address 10.0.0.0/23, 8.8.8.8 }
        allow a -> internet, cloud : https
    """
    )
    ext = {e.name: IPSet(e.prefixes) for e in out.compiled.externals}
    assert ext["internet"] == IPSet(["0.0.0.0/0"]) - IPSet(
        ["192.168.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    )
    assert ext["cloud"] == IPSet(["8.8.8.8/32"])  # 10.0.0.0/23 is all class space
    for e in out.compiled.externals:  # canonical CIDRs in address order
        assert list(e.prefixes) == sorted(e.prefixes)
        assert all(p == p.cidr for p in e.prefixes)


def test_external_with_no_addresses_left_is_e213(zw: Callable) -> None:
    out = zw(
        CLASSES
        + """
        external lan { address 10.0.0.0/23 }
        external none { address 1.0.0.0/8 except 1.0.0.0/8 }
        allow a -> lan, none
    """
    )
    assert [d.message for d in out.all("E213")] == [
        (
            "external 'lan' has no addresses left once its excepts and every class subnet are "
            "taken out"
        ),
        (
            "external 'none' has no addresses left once its excepts and every class subnet are "
            "taken out"
        ),
    ]


def test_overlapping_externals_are_cut_into_atoms(zw: Callable) -> None:
    out = zw(
        CLASSES
        + """
        external internet { address 0.0.0.0/0 }
        external vendor   { address 203.0.113.0/24 }
        external partner  { address 192.0.2.0/24 }
        allow a -> internet : https
    """
    )
    atoms = [(e.name, e.externals) for e in out.compiled.endpoints if e.kind == "external"]
    assert sorted(atoms) == [
        ("internet", ("internet",)),
        ("partner", ("internet", "partner")),
        ("vendor", ("internet", "vendor")),
    ]
    classes = [e.name for e in out.compiled.endpoints if e.kind == "class"]
    assert classes == ["a", "b", "c"]
    space = IPSet()
    for e in out.compiled.endpoints:
        mine = IPSet(e.prefixes)
        assert not (space & mine)  # endpoints are disjoint
        space |= mine
    assert space == IPSet(["0.0.0.0/0"])


def test_allow_to_internet_reaches_the_vendor_inside_it(zw: Callable) -> None:
    out = zw(
        CLASSES
        + """
        external internet { address 0.0.0.0/0 }
        external vendor   { address 203.0.113.0/24 }
        allow a -> internet : https
        deny  a -> vendor : https
        allow b -> internet : https
    """
    )
    assert out.flows() == {
        ("a", "internet"): HTTPS,
        ("b", "internet"): HTTPS,
        ("b", "vendor"): HTTPS,
    }


# ---------------------------------------------------------------------------------------------
# effective flows
# ---------------------------------------------------------------------------------------------

RULES = [
    "allow a, b -> c : https, ssh, dns",
    "deny  b -> c : ssh",
    "allow a -> b",
    "deny  internal -> b : dns",
    "allow c -> a : web",
]
EXPECTED = {
    ("a", "c"): HTTPS | SSH | DNS,
    ("b", "c"): HTTPS | DNS,
    ("a", "b"): PacketSet.everything() - DNS,
    ("c", "a"): PacketSet.ports(TCP, 80, 80),
}


def test_effective_flows_are_allows_minus_denies(zw: Callable) -> None:
    assert zw(CLASSES + "\n".join(RULES) + "\n").flows() == EXPECTED


def test_effective_flows_do_not_depend_on_statement_order(zw: Callable) -> None:
    for perm in itertools.permutations(RULES):
        assert zw(CLASSES + "\n".join(perm) + "\n").flows() == EXPECTED, perm


def test_deny_without_services_removes_everything(zw: Callable) -> None:
    out = zw(CLASSES + "allow a -> b, c : https\ndeny a -> b\n")
    assert out.flows() == {("a", "c"): HTTPS}


def test_same_class_and_external_to_external_pairs_are_never_flows(zw: Callable) -> None:
    out = zw(
        CLASSES
        + """
        external e1 { address 1.0.0.0/8 }
        external e2 { address 2.0.0.0/8 }
        allow any -> any : https
    """
    )
    flows = out.flows()
    assert all(s != d for s, d in flows)
    assert ("e1", "e2") not in flows and ("e2", "e1") not in flows
    assert len(flows) == 3 * 2 + 3 * 2 * 2  # class->class, class<->external


def test_flow_records_the_allows_that_open_it_and_its_plaintext_part(zw: Callable) -> None:
    out = zw(
        CLASSES
        + """
        allow a -> b : https
        allow a -> b : web
        allow a -> b : ssh
        deny  a -> b : ssh
    """
    )
    (flow,) = out.compiled.flows
    assert flow.packets == HTTPS | PacketSet.ports(TCP, 80, 80)
    assert flow.plaintext == PacketSet.ports(TCP, 80, 80)
    assert flow.rules == (0, 1)  # the ssh allow opens nothing that survives


def test_services_are_compared_by_packets_not_names(zw: Callable) -> None:
    out = zw(CLASSES + "service fhir = tcp/443\nallow a -> b : fhir\nallow a -> b : https\n")
    assert out.flows() == {("a", "b"): HTTPS}


def test_many_duplicate_allows_keep_exactly_one() -> None:
    # n identical allows: exactly n - 1 are redundant, each naming a kept coverer.
    n = 300
    policy = parse_text(
        "service s = tcp/1\nclass a { vlan 10 subnet 10.0.0.0/24 }\n"
        "class b { vlan 11 subnet 10.0.1.0/24 }\nallow a -> b : s\n"
        "gateway g { platform iptables serves internal }\n"
    ).policy
    # each copy on a line of its own: diagnostics of one code on one line are capped
    (rule,) = policy.rules
    assert rule.span is not None
    rules = tuple(
        dataclasses.replace(rule, span=dataclasses.replace(rule.span, line=i, end_line=i))
        for i in range(1, n + 1)
    )
    policy = dataclasses.replace(policy, rules=rules)
    result = compile_policy(policy)
    redundant = [d for d in result.diagnostics if d.code == "W102"]
    assert len(redundant) == n - 1
    assert all(d.notes for d in redundant)


def test_effective_flows_on_a_many_to_many_policy(zw: Callable) -> None:
    out = zw(
        "service s = tcp/1\n"
        + "".join(f"class c{i} {{ vlan {10 + i} subnet 10.{i}.0.0/16 }}\n" for i in range(12))
        + "allow internal -> internal : s\ndeny c0 -> internal : s\n"
    )
    flows = out.flows()
    assert len(flows) == 11 * 11
    assert not any(s == "c0" for s, _ in flows)


def test_class_subnet_inside_an_external_is_carved_out(zw: Callable) -> None:
    out = zw(CLASSES + "external internet { address 0.0.0.0/0 }\nallow internet -> a : https\n")
    (internet,) = out.compiled.externals
    class_space = IPSet(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])
    assert not IPSet(internet.prefixes) & class_space
    assert IPSet(internet.prefixes) | class_space == IPSet([IPNetwork("0.0.0.0/0")])
