"""Traffic to the gateways themselves: `gateway:NAME` and `gateways` destinations, the flows
they open (`CompiledPolicy.gateway_flows`), assertions and lints on them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.compiler.conftest import Outcome

from zonewall.packets import PacketSet

BASE = """
pool vlans 100-199
service https = tcp/443
service ssh   = tcp/22
service snmp  = udp/161 plaintext
class admin  { subnet 10.0.0.0/24 }
class guest  { subnet 10.0.1.0/24 criticality low }
class siem   { subnet 10.0.2.0/24 }
class pumps  { subnet 10.0.3.0/24 criticality critical }
external internet { address 0.0.0.0/0 except 10.0.0.0/8 }
external vendor   { address 203.0.113.0/24 }
gateway fw  { platform iptables uplink "eth0" serves admin, guest }
gateway sw1 { platform cisco-ios uplink "Te1/1/1" serves siem, pumps }
"""
L = 14  # line of the first statement appended to BASE

Zw = Callable[..., Outcome]


def policy(*lines: str) -> str:
    return BASE + "\n".join(lines) + "\n"


def gw_flows(out: Outcome) -> dict[tuple[str, str], PacketSet]:
    eps = {e.id: e.name for e in out.compiled.endpoints}
    return {(eps[f.src], f.gateway): f.packets for f in out.compiled.gateway_flows}


def tcp(port: int) -> PacketSet:
    return PacketSet.ports(6, port, port)


# -- flows -------------------------------------------------------------------------------------


def test_no_gateway_flow_unless_allowed_and_any_is_not_a_gateway(zw: Zw) -> None:
    out = zw(policy("allow admin -> any : ssh", "allow any -> pumps : https"), gateway=False)
    assert out.compiled.gateway_flows == ()
    assert ("admin", "pumps") in {
        (out.compiled.endpoints[f.src].name, out.compiled.endpoints[f.dst].name)
        for f in out.compiled.flows
    }


def test_allow_to_a_gateway_is_a_gateway_flow_not_a_class_flow(zw: Zw) -> None:
    out = zw(policy('allow admin -> gateway:fw : ssh, https "management"'), gateway=False)
    assert not [d for d in out.diagnostics if d.is_error]
    assert gw_flows(out) == {("admin", "fw"): tcp(22) | tcp(443)}
    assert out.compiled.flows == ()
    assert out.compiled.rules[0].dst == () and out.compiled.rules[0].gateways == ("fw",)
    assert out.compiled.gateway_flows[0].rules == (0,)


def test_gateways_is_every_gateway_and_except_removes_one(zw: Zw) -> None:
    out = zw(
        policy("allow admin -> gateways : ssh", "allow siem -> gateways except gateway:fw : snmp"),
        gateway=False,
    )
    assert set(gw_flows(out)) == {("admin", "fw"), ("admin", "sw1"), ("siem", "sw1")}
    assert [(f.gateway, f.src) for f in out.compiled.gateway_flows] == sorted(
        (f.gateway, f.src) for f in out.compiled.gateway_flows
    )


def test_denies_win_whatever_the_order_and_any_deny_does_not_reach_gateways(zw: Zw) -> None:
    out = zw(
        policy(
            "deny admin -> gateway:fw : https",
            "allow admin -> gateways : ssh, https",
            "deny admin -> any : ssh",
        ),
        gateway=False,
    )
    flows = gw_flows(out)
    assert flows[("admin", "fw")] == tcp(22)
    assert flows[("admin", "sw1")] == tcp(22) | tcp(443)


def test_a_class_and_its_own_gateway_and_mixed_destinations(zw: Zw) -> None:
    out = zw(policy("allow admin -> siem, gateway:fw, gateway:sw1 : ssh"), gateway=False)
    assert set(gw_flows(out)) == {("admin", "fw"), ("admin", "sw1")}
    assert len(out.compiled.flows) == 1  # admin -> siem


def test_externals_reach_a_gateway_per_atom(zw: Zw) -> None:
    out = zw(policy("allow internet -> gateway:fw : https"), gateway=False)
    assert set(gw_flows(out)) == {("internet", "fw"), ("vendor", "fw")}


def test_plaintext_is_kept(zw: Zw) -> None:
    out = zw(policy("allow siem -> gateways : snmp"), gateway=False)
    assert all(f.plaintext == PacketSet.ports(17, 161, 161) for f in out.compiled.gateway_flows)


def test_allows_through_another_gateway_are_listed_once_for_build(zw: Zw) -> None:
    """E223's input, computed once by the compiler: each (allow, class) whose class another
    gateway serves, in the order of `gateway_flows`; `check` itself reports nothing."""
    from zonewall.ir import TransitToGateway

    out = zw(
        policy(
            "allow admin, siem -> gateways : ssh",
            "allow admin -> gateway:sw1 : https",
            "allow internet -> gateways : https",
        ),
        gateway=False,
    )
    assert not [d for d in out.diagnostics if d.code == "E223"]
    assert out.compiled.transit_to_gateways == (
        TransitToGateway("sw1", "siem", "fw", 0),
        TransitToGateway("fw", "admin", "sw1", 0),
        TransitToGateway("fw", "admin", "sw1", 1),
    )


# -- names and positions -----------------------------------------------------------------------


def test_unknown_gateway_says_did_you_mean(zw: Zw) -> None:
    out = zw(policy("allow admin -> gateway:sw2 : ssh"), gateway=False)
    d = out.only("E201")
    assert d.message == "unknown gateway 'sw2'; did you mean 'sw1'?"
    assert d.span is not None and (d.span.line, d.span.col, d.span.end_col) == (L, 16, 27)


def test_a_class_named_in_gateway_term_is_the_wrong_kind(zw: Zw) -> None:
    out = zw(policy("allow admin -> gateway:siem : ssh"), gateway=False)
    assert out.only("E203").message == "'siem' is a class, not a gateway"


@pytest.mark.parametrize(
    "stmt",
    [
        "allow gateway:fw -> admin : ssh",
        "deny gateways -> admin",
        "assert denied gateway:fw -> admin",
        "assert unreachable guest -> pumps without gateway:fw",
        "allow admin, gateways -> siem : ssh",
    ],
    ids=["allow-src", "deny-src", "assert-src", "without", "mixed-src"],
)
def test_gateway_as_source_is_an_error_that_says_so(zw: Zw, stmt: str) -> None:
    out = zw(policy(stmt), gateway=False)
    d = out.only("E219")
    assert d.message.startswith(f"'{d.message.split(chr(39))[1]}' can only be a destination")
    assert "traffic the gateway initiates is not" in d.message
    assert d.span is not None and d.span.line == L


def test_gateway_in_serves_is_an_error(zw: Zw) -> None:
    text = BASE.replace("serves admin, guest", "serves admin, guest, gateway:sw1")
    out = zw(text, gateway=False)
    assert "E219" in out.codes


@pytest.mark.parametrize("name", ["gateway", "gateways"])
def test_gateway_words_are_reserved(zw: Zw, name: str) -> None:
    out = zw(f"class {name} {{ subnet 10.0.0.0/24 }}\n", gateway=False)
    assert f"'{name}' is a reserved word" in out.only("E104").message


# -- assertions --------------------------------------------------------------------------------

MGMT = (
    'allow admin -> gateways : ssh, https "management"',
    "allow siem -> gateway:sw1 : snmp",
    "allow guest -> admin : https",
)


@pytest.mark.parametrize(
    ("assertion", "status"),
    [
        ("denied guest -> gateway:fw", "pass"),
        ("denied guest -> gateways : ssh", "pass"),
        ("denied admin -> gateway:fw : ssh", "fail"),
        ("only admin -> gateway:fw", "pass"),
        ("only admin -> gateway:sw1", "fail"),
        ("only admin, siem -> gateways", "pass"),
        ("limited admin -> gateways : ssh, https", "pass"),
        ("limited admin -> gateway:fw : ssh", "fail"),
        ("allowed admin -> gateway:fw : ssh", "pass"),
        ("allowed siem -> gateway:fw : snmp", "fail"),
        ("encrypted -> gateway:fw", "pass"),
        ("encrypted -> gateways", "fail"),
        ("unreachable pumps -> gateways", "pass"),
        ("unreachable guest -> gateway:fw", "fail"),
        ("unreachable guest -> gateway:fw without admin", "pass"),
    ],
    ids=lambda v: v.replace(" ", "_") if isinstance(v, str) else v,
)
def test_assertions_on_gateway_destinations(zw: Zw, assertion: str, status: str) -> None:
    out = zw(policy(*MGMT, f"assert {assertion}"), gateway=False)
    assert out.assertion(assertion).status == status, out.rendered


def test_unreachable_counterexample_ends_at_the_gateway(zw: Zw) -> None:
    out = zw(policy(*MGMT, "assert unreachable guest -> gateway:fw"), gateway=False)
    d = out.only("E301")
    assert "path guest -> admin -> gateway:fw" in d.message
    hops = out.assertion("unreachable guest -> gateway:fw").counterexample
    assert hops is not None and [(h.src, h.dst) for h in hops] == [
        ("guest", "admin"),
        ("admin", "gateway:fw"),
    ]


def test_a_gateway_is_never_an_intermediate_hop(zw: Zw) -> None:
    # admin reaches the firewall, and pumps are served by it, yet no path goes through it.
    out = zw(policy(*MGMT, "assert unreachable admin -> pumps"), gateway=False)
    assert out.assertion("unreachable admin -> pumps").status == "pass"


def test_denied_failure_names_the_gateway_and_the_allow(zw: Zw) -> None:
    out = zw(policy(*MGMT, "assert denied admin -> gateway:fw : ssh"), gateway=False)
    d = out.only("E302")
    assert "'admin' may initiate tcp/22 to 'gateway:fw'" in d.message
    assert d.span is not None and d.span.line == L


# -- lints -------------------------------------------------------------------------------------


def test_dead_allow_to_a_gateway_names_the_deny(zw: Zw) -> None:
    out = zw(
        policy("allow admin -> gateway:fw : ssh", "deny admin -> gateways : ssh"), gateway=False
    )
    d = out.only("W101")
    assert d.span is not None and d.span.line == L
    assert [n[1].line for n in d.notes if n[1] is not None] == [L + 1]


def test_redundant_allow_to_a_gateway(zw: Zw) -> None:
    out = zw(
        policy("allow admin -> gateways : ssh", "allow admin -> gateway:fw : ssh"), gateway=False
    )
    d = out.only("W102")
    assert d.span is not None and d.span.line == L + 1


def test_an_allow_to_a_gateway_counts_as_use_of_its_source(zw: Zw) -> None:
    out = zw(
        policy(
            "allow admin -> gateway:fw : ssh",
            "allow guest -> siem : https",
            "allow siem -> pumps : https",
            "allow internet -> admin : https",
            "allow vendor -> siem : https",
        ),
        gateway=False,
    )
    assert "W105" not in out.codes
    assert "W108" not in out.codes


# -- fail closed at build time -----------------------------------------------------------------

GW_STATEMENTS = (
    "allow admin -> gateway:fw : ssh",
    "deny guest -> gateways",
    "allow siem -> gateways except gateway:fw : snmp",
    "assert denied guest -> gateway:fw",
    "allow admin -> siem : ssh",
)


@pytest.mark.parametrize(
    ("platform", "enforced"),
    [("iptables", True), ("nftables", True), ("cisco-ios", True), ("no-plane", False)],
)
def test_a_platform_without_the_gateway_plane_fails_closed_at_each_statement(
    zw: Zw, platform: str, enforced: bool
) -> None:
    from zonewall.backends import get_backend
    from zonewall.backends.base import Feature, capability_errors, gateway_view
    from zonewall.backends.cisco_ios.backend import CiscoIosBackend

    class NoPlane(CiscoIosBackend):  # a platform that cannot filter traffic to itself
        name = "no-plane"
        supports = CiscoIosBackend.supports - {Feature.GATEWAY_PLANE}

    real = "cisco-ios" if platform == "no-plane" else platform
    out = zw(policy(*GW_STATEMENTS).replace("platform iptables", f"platform {real}"), gateway=False)
    backend = NoPlane() if platform == "no-plane" else get_backend(platform)
    assert (Feature.GATEWAY_PLANE in backend.supports) is enforced
    errors = capability_errors(backend, out.compiled, gateway_view(out.compiled, "fw"))
    gw_errors = [d for d in errors if "traffic to the gateway itself" in d.message]
    if enforced:
        assert gw_errors == []
        return
    assert [(d.code, d.span.line if d.span else 0) for d in gw_errors] == [
        ("E401", L),
        ("E401", L + 1),
        ("E401", L + 3),
    ]
    assert f"platform '{platform}' cannot yet filter" in gw_errors[0].message


def test_no_gateway_statement_no_gateway_plane_error(zw: Zw) -> None:
    from zonewall.backends import get_backend
    from zonewall.backends.base import capability_errors, gateway_view

    out = zw(policy("allow admin -> siem : ssh"), gateway=False)
    for name, platform in (("fw", "iptables"), ("sw1", "cisco-ios")):
        view = gateway_view(out.compiled, name)
        errors = capability_errors(get_backend(platform), out.compiled, view)
        assert not [d for d in errors if "gateway itself" in d.message]


# -- against brute force -----------------------------------------------------------------------

SOURCES = ["admin", "guest", "internet", "vendor", "any"]
TARGETS = ["gateway:fw", "gateway:sw1", "gateways", "gateways except gateway:fw"]
SERVICES = {"ssh": tcp(22), "https": tcp(443), "snmp": PacketSet.ports(17, 161, 161)}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["allow", "deny"]),
            st.sampled_from(SOURCES),
            st.sampled_from(TARGETS),
            st.sampled_from(sorted(SERVICES)),
        ),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=60, deadline=None)
def test_gateway_flows_are_allows_minus_denies_whatever_the_order(
    stmts: list[tuple[str, str, str, str]],
) -> None:
    from tests.unit.compiler.conftest import compile_text

    lines = [f"{a} {s} -> {t} : {svc}" for a, s, t, svc in stmts]
    out = compile_text(policy(*lines), gateway=False)
    atoms = {e.name: e.externals for e in out.compiled.endpoints if e.kind == "external"}

    def covers(src: str, who: str) -> bool:
        if src == "any":
            return True
        return who == src or src in atoms.get(who, ())

    def targets(t: str) -> set[str]:
        return {"gateway:fw": {"fw"}, "gateway:sw1": {"sw1"}, "gateways": {"fw", "sw1"}}.get(
            t, {"sw1"}
        )

    expected: dict[tuple[str, str], PacketSet] = {}
    for who in ["admin", "guest", "siem", "pumps", *atoms]:
        for gw in ("fw", "sw1"):
            opened = PacketSet.union_all(
                SERVICES[svc]
                for a, s, t, svc in stmts
                if a == "allow" and covers(s, who) and gw in targets(t)
            )
            removed = PacketSet.union_all(
                SERVICES[svc]
                for a, s, t, svc in stmts
                if a == "deny" and covers(s, who) and gw in targets(t)
            )
            if opened - removed:
                expected[(who, gw)] = opened - removed
    assert gw_flows(out) == expected
