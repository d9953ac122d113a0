"""Resolution: names to definitions, services to packet sets, selectors to members."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zonewall.diagnostics import Span
from zonewall.packets import ICMP, TCP, UDP, PacketSet

CLASSES = """
service https = tcp/443
class infusion_pump { vlan 10 subnet 10.0.0.0/24 criticality critical tags medical, wireless }
class pump_server   { vlan 11 subnet 10.0.1.0/24 criticality high tags medical }
class guest_wifi    { vlan 12 subnet 10.0.2.0/24 criticality low tags wireless }
class core_dns      { vlan 13 subnet 10.0.3.0/24 }
external internet   { address 0.0.0.0/0 }
external vendor     { address 203.0.113.0/24 }
"""


# ---------------------------------------------------------------------------------------------
# unknown names and wrong kinds
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stmt", "code", "message"),
    [
        (
            "allow infusion_pmp -> pump_server : https",
            "E201",
            "unknown class or external 'infusion_pmp'; did you mean 'infusion_pump'?",
        ),
        (
            "allow pump_server -> internt : https",
            "E201",
            "unknown class or external 'internt'; did you mean 'internet'?",
        ),
        ("allow pump_server -> zzz : https", "E201", "unknown class or external 'zzz'"),
        (
            "allow pump_server -> core_dns : htps",
            "E201",
            "unknown service 'htps'; did you mean 'https'?",
        ),
        (
            "allow pump_server -> tag:medcal : https",
            "E201",
            "no class has tag 'medcal'; did you mean 'medical'?",
        ),
        (
            "allow pump_server -> medical : https",
            "E203",
            "'medical' is a tag, not a class or external; write 'tag:medical'",
        ),
        ("allow https -> core_dns", "E203", "'https' is a service, not a class or external"),
        (
            "allow core_dns -> pump_server : guest_wifi",
            "E203",
            "'guest_wifi' is a class, not a service",
        ),
        ("allow gw -> core_dns", "E203", "'gw' is a gateway, not a class or external"),
        (
            "assert allowed core_dns -> pump_server : htps",
            "E201",
            "unknown service 'htps'; did you mean 'https'?",
        ),
        (
            "assert unreachable guest_wifi -> pump_server without hub",
            "E201",
            "unknown class or external 'hub'",
        ),
    ],
    ids=[
        "class-did-you-mean",
        "external-did-you-mean",
        "no-suggestion",
        "service-did-you-mean",
        "tag-did-you-mean",
        "tag-without-prefix",
        "service-as-class",
        "class-as-service",
        "gateway-as-class",
        "assertion-service",
        "without-selector",
    ],
)
def test_unknown_and_wrong_kind(zw: Callable, stmt: str, code: str, message: str) -> None:
    out = zw(CLASSES + stmt + "\n")
    diag = out.only(code)
    assert diag.message == message
    assert out.result is not None and out.result.compiled is None
    assert "E211" not in out.codes  # the unknown name is the error, not an empty selector


def test_unknown_name_span_points_at_the_name(zw: Callable) -> None:
    out = zw(CLASSES + "allow pump_server, infusion_pmp -> core_dns : https\n")
    diag = out.only("E201")
    assert diag.span == Span("p.zw", 9, 20, 9, 32)


def test_unknown_service_inside_a_service_definition(zw: Callable) -> None:
    out = zw(CLASSES + "service web = htps, tcp/80\nallow core_dns -> pump_server : web\n")
    assert out.only("E201").message == "unknown service 'htps'; did you mean 'https'?"


def test_all_resolution_errors_are_collected(zw: Callable) -> None:
    out = zw(CLASSES + "allow aa -> bb : cc\nallow pump_server -> medical\n")
    assert sorted(out.codes) == ["E201", "E201", "E201", "E203"]


# ---------------------------------------------------------------------------------------------
# duplicate definitions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (
            "class a { vlan 1 subnet 10.9.0.0/24 }",
            "class a { vlan 2 subnet 10.9.1.0/24 }",
            "class 'a' is defined twice; remove or rename one",
        ),
        (
            "service a = tcp/1",
            "service a = tcp/2",
            "service 'a' is defined twice; remove or rename one",
        ),
        (
            "external a { address 1.0.0.0/8 }",
            "external a { address 2.0.0.0/8 }",
            "external 'a' is defined twice; remove or rename one",
        ),
        (
            "service a = tcp/1",
            "class a { vlan 2 subnet 10.9.1.0/24 }",
            "'a' is defined twice (as a service and as a class); rename one of them",
        ),
        pytest.param(
            "class a { vlan 2 subnet 10.9.1.0/24 }",
            "external a { address 2.0.0.0/8 }",
            "'a' is defined twice (as a class and as an external); rename one of them",
        ),
        (
            "class a { vlan 2 subnet 10.9.1.0/24 }",
            "gateway a { platform iptables serves a }",
            "'a' is defined twice (as a class and as a gateway); rename one of them",
        ),
    ],
    ids=[
        "class-class",
        "service-service",
        "external-external",
        "service-class",
        "class-external",
        "class-gateway",
    ],
)
def test_duplicate_names(zw: Callable, first: str, second: str, message: str) -> None:
    out = zw(f"{first}\n\n{second}\n")
    diag = out.only("E202")
    assert diag.message == message
    assert diag.span is not None and diag.span.line == 3
    ((note, where),) = diag.notes
    assert note == "first defined here"
    assert where is not None and where.line == 1


# ---------------------------------------------------------------------------------------------
# services
# ---------------------------------------------------------------------------------------------


def test_nested_services_resolve_to_the_union_of_packets(zw: Callable) -> None:
    out = zw("""
        service https = tcp/443
        service http  = tcp/80 plaintext
        service web   = https, http, udp/443
        service all   = web, icmp/echo-request, proto/47
        class a { vlan 10 subnet 10.0.0.0/24 }
        class b { vlan 11 subnet 10.0.1.0/24 }
        allow a -> b : all
    """)
    svc = {s.name: s for s in out.compiled.services}
    web = PacketSet.union_all(
        [
            PacketSet.ports(TCP, 443, 443),
            PacketSet.ports(TCP, 80, 80),
            PacketSet.ports(UDP, 443, 443),
        ]
    )
    assert svc["web"].packets == web
    assert svc["web"].plaintext == PacketSet.ports(TCP, 80, 80)  # only the plaintext part
    assert svc["all"].packets == web | PacketSet.ports(ICMP, 8, 8) | PacketSet.protocol(47)
    assert svc["all"].plaintext == PacketSet.ports(TCP, 80, 80)


def test_plaintext_on_a_service_of_services_marks_all_of_it(zw: Callable) -> None:
    out = zw("""
        service https = tcp/443
        service legacy = https, tcp/8080 plaintext
        class a { vlan 10 subnet 10.0.0.0/24 }
        class b { vlan 11 subnet 10.0.1.0/24 }
        allow a -> b : legacy
    """)
    legacy = next(s for s in out.compiled.services if s.name == "legacy")
    assert legacy.plaintext == legacy.packets


@pytest.mark.parametrize(
    ("defs", "message"),
    [
        ("service a = b\nservice b = a", "services refer to each other in a cycle: a -> b -> a"),
        ("service a = tcp/1, a", "services refer to each other in a cycle: a -> a"),
        (
            "service a = b\nservice b = c\nservice c = a",
            "services refer to each other in a cycle: a -> b -> c -> a",
        ),
    ],
    ids=["two", "self", "three"],
)
def test_service_cycles_are_e204(zw: Callable, defs: str, message: str) -> None:
    out = zw(
        defs + "\nclass x { vlan 10 subnet 10.0.0.0/24 }\nclass y { vlan 11 subnet "
        "10.0.1.0/24 }\nallow x -> y : a\n"
    )
    assert out.only("E204").message == message


def test_rule_without_services_means_every_packet(zw: Callable) -> None:
    out = zw(CLASSES + "allow core_dns -> pump_server\n")
    (rule,) = out.compiled.rules
    assert rule.services == ("ip",)
    assert rule.packets == PacketSet.everything()


# ---------------------------------------------------------------------------------------------
# selectors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "members"),
    [
        ("pump_server", {"pump_server"}),
        ("tag:medical", {"infusion_pump", "pump_server"}),
        ("tag:wireless", {"infusion_pump", "guest_wifi"}),
        ("criticality:critical", {"infusion_pump"}),
        ("criticality:medium", {"core_dns"}),
        ("internal", {"infusion_pump", "pump_server", "guest_wifi", "core_dns"}),
        ("external", {"internet", "vendor"}),
        ("any", {"infusion_pump", "pump_server", "guest_wifi", "core_dns", "internet", "vendor"}),
        (
            "tag:medical, guest_wifi, vendor",
            {"infusion_pump", "pump_server", "guest_wifi", "vendor"},
        ),
        ("internal except tag:medical", {"guest_wifi", "core_dns"}),
        ("any except internal, vendor", {"internet"}),
        ("tag:wireless except infusion_pump, core_dns", {"guest_wifi"}),
    ],
    ids=[
        "name",
        "tag",
        "tag-other",
        "criticality",
        "criticality-default",
        "internal",
        "external",
        "any",
        "list",
        "except",
        "except-list",
        "except-of-nonmember",
    ],
)
def test_selector_members(zw: Callable, selector: str, members: set[str]) -> None:
    out = zw(CLASSES + f"deny {selector} -> core_dns, pump_server\n")
    (rule,) = out.compiled.rules
    assert set(rule.src) == members
    assert list(rule.src) == sorted(members)


@pytest.mark.parametrize(
    ("stmt", "message"),
    [
        (
            "allow internal except internal -> core_dns",
            (
                "selector 'internal except internal' selects nothing (everything it includes is "
                "excepted)"
            ),
        ),
        (
            "allow tag:medical except pump_server, infusion_pump -> core_dns",
            (
                "selector 'tag:medical except pump_server, infusion_pump' selects nothing (everything "
                "it includes is excepted)"
            ),
        ),
        (
            "allow external except internet, vendor -> core_dns",
            (
                "selector 'external except internet, vendor' selects nothing (everything it includes "
                "is excepted)"
            ),
        ),
        (
            "assert unreachable guest_wifi -> core_dns without any except any",
            (
                "'without' selector 'any except any' selects nothing (everything it includes is "
                "excepted)"
            ),
        ),
    ],
    ids=["internal-minus-internal", "tag-minus-members", "external-minus-all", "without"],
)
def test_except_removing_everything_is_e211(zw: Callable, stmt: str, message: str) -> None:
    out = zw(CLASSES + stmt + "\n")
    diag = out.only("E211")
    assert diag.message == message
    assert diag.span is not None and diag.span.line == 9


@pytest.mark.parametrize(
    ("stmt", "message"),
    [
        ("allow criticality:high -> b", "no class has criticality 'high'"),
        ("allow external -> b", "'external' selects nothing: the policy defines no external"),
    ],
    ids=["criticality-without-classes", "external-without-externals"],
)
def test_terms_selecting_nothing_are_e211(zw: Callable, stmt: str, message: str) -> None:
    out = zw(
        "class a { vlan 10 subnet 10.0.0.0/24 }\nclass b { vlan 11 subnet 10.0.1.0/24 }\n"
        + stmt
        + "\n"
    )
    diag = out.only("E211")
    assert diag.message == message
    assert diag.span is not None and diag.span.col == 7


def test_gateway_serves_selector_is_resolved_too(zw: Callable) -> None:
    out = zw(
        CLASSES.replace("external", "#external")
        + "gateway g { platform iptables serves internal except internal }\n",
        gateway=False,
    )
    assert out.only("E211").message == (
        "'serves' selector 'internal except internal' selects nothing (everything it includes "
        "is excepted)"
    )
