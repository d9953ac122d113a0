"""`dhcp-relay`: helpers, the relayed flows gateways on the path permit, and E220-E222."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.unit.compiler.conftest import Outcome

from zonewall.compiler.relay import DHCP, dhcp_server_address

Zw = Callable[..., Outcome]

BASE = """
pool vlans 100-199
service dhcp = udp/67
class pump   {{ subnet 10.0.0.0/24 }}
class monitor {{ subnet 10.0.4.0/24 }}
class server {{ subnet 10.0.1.0/24 }}
class backup {{ subnet 10.0.2.0/24 }}
class local  {{ subnet 10.0.3.0/24 }}
allow pump -> server, local : dhcp
allow monitor -> backup : dhcp
gateway fw {{ platform iptables uplink "eth0" serves server, backup }}
gateway sw {{
  platform cisco-ios
  stateless-replies accepted "t"
  uplink "Te1/1"
  serves pump, monitor, local
  {relay}
}}
"""


def policy(relay: str) -> str:
    return BASE.format(relay=relay)


def test_default_helpers_are_the_servers_the_classes_reach(zw: Zw) -> None:
    out = zw(policy("dhcp-relay from 10.255.0.2"), gateway=False)
    plan = next(g for g in out.compiled.gateways if g.name == "sw")
    assert plan.relay is not None
    eps = {e.id: e.name for e in out.compiled.endpoints}
    assert [(a, eps[e]) for a, e in plan.relay.helpers] == [
        ("10.0.2.2", "backup"),
        ("10.0.3.2", "local"),
        ("10.0.1.2", "server"),
    ]
    # only the servers behind another gateway get a relayed flow, udp/67 from the source
    assert all(
        f.gateway == "sw" and f.packets == DHCP and str(f.source) == "10.255.0.2/32"
        for f in out.compiled.relay_flows
    )
    assert sorted(eps[f.dst] for f in out.compiled.relay_flows) == ["backup", "server"]


def test_written_helpers_keep_their_order_and_addresses(zw: Zw) -> None:
    out = zw(policy("dhcp-relay to 10.0.1.53, backup from 10.255.0.2"), gateway=False)
    plan = next(g for g in out.compiled.gateways if g.name == "sw")
    assert plan.relay is not None
    assert [a for a, _ in plan.relay.helpers] == ["10.0.1.53", "10.0.2.2"]


def test_a_relay_to_its_own_class_needs_no_flow(zw: Zw) -> None:
    out = zw(
        policy("dhcp-relay to local from 10.255.0.2")
        .replace("allow monitor -> backup : dhcp", "")
        .replace("pump -> server, local", "pump -> local"),
        gateway=False,
    )
    assert out.compiled.relay_flows == ()


def test_an_undeclared_relay_across_a_gateway_is_an_error(zw: Zw) -> None:
    out = zw(policy(""), gateway=False)
    assert [c for c in out.codes if c != "W116"] == ["E222"]
    assert "'backup'" in out.only("E222").message and "1 more" in out.only("E222").message


@pytest.mark.parametrize(
    ("relay", "code"),
    [
        ("dhcp-relay from 10.0.1.7", "E220"),
        ("dhcp-relay to monitor from 10.255.0.2", "E221"),
        ("dhcp-relay to 10.9.9.9 from 10.255.0.2", "E221"),
        ("dhcp-relay to nothing from 10.255.0.2", "E201"),
        ("dhcp-relay to dhcp from 10.255.0.2", "E203"),
    ],
    ids=["source-in-class", "not-reached", "no-class", "unknown", "service"],
)
def test_bad_declarations(zw: Zw, relay: str, code: str) -> None:
    out = zw(policy(relay), gateway=False)
    assert [c for c in out.codes if c != "W116"] == [code], out.rendered  # W116: no assertions


def test_the_server_address_rule_is_the_vlan_plans() -> None:
    from netaddr import IPNetwork

    from zonewall.backends.vlan_plan import server_address

    for net in ("10.0.0.0/24", "10.0.0.0/31", "10.0.0.9/32"):
        assert dhcp_server_address(IPNetwork(net)) == server_address(IPNetwork(net))


def test_the_switch_relays_each_class_to_the_helpers_it_may_reach(zw: Zw) -> None:
    from zonewall.backends.vlan_plan import plan_rows

    out = zw(policy("dhcp-relay to 10.0.1.53, backup from 10.255.0.2"), gateway=False)
    rows = {r.cls: r.dhcp_relay for r in plan_rows(out.compiled)}
    assert rows["pump"] == ("10.0.1.53",)  # pump reaches server and local, not backup
    assert rows["monitor"] == ("10.0.2.2",)
    assert rows["local"] == ()
