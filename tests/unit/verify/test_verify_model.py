"""The expected behaviour of a gateway, from the IR alone (docs/language.md, section 8.1)."""

from __future__ import annotations

import pytest
from netaddr import IPAddress
from verify_helpers import ROOT, built

from zonewall.ir import Endpoint
from zonewall.packets import TCP, UDP, PacketSet, key
from zonewall.verify import GatewayModel

MULTI = str(ROOT / "examples" / "multi-gateway.zw")
EVERYTHING = PacketSet.everything()


def model(gateway: str) -> GatewayModel:
    compiled, _ = built(MULTI)
    return GatewayModel(compiled, gateway)


def ep(m: GatewayModel, name: str) -> Endpoint:
    return next(e for e in m.endpoints if e.name == name)


def at(m: GatewayModel, addr: str) -> Endpoint | None:
    return m.endpoint_at(int(IPAddress(addr)))


def iface(m: GatewayModel, cls: str) -> str:
    return m.classes[cls].interface


def test_interfaces_and_routes() -> None:
    m = model("edge_fw")
    assert m.interfaces == ("eth1.200", "eth1.201", "eth1.202", "eth0")  # classes, then the uplink
    assert m.route(ep(m, "clinician_ws")) == iface(m, "clinician_ws")
    assert m.route(ep(m, "ehr_app")) == "eth0"  # a class of another gateway
    assert m.route(ep(m, "internet")) == "eth0"
    assert m.route(None) == "eth0"


def test_class_interface_permits_the_flows_of_its_own_class_only() -> None:
    m = model("edge_fw")
    clin, ehr = ep(m, "clinician_ws"), ep(m, "ehr_app")
    assert m.permitted(iface(m, "clinician_ws"), clin, ehr) == PacketSet.ports(TCP, 443, 443)
    assert not m.permitted(iface(m, "clinician_ws"), clin, ep(m, "guest_wifi"))
    # the same source on another class's interface is spoofed
    assert not m.permitted(iface(m, "guest_wifi"), clin, ehr)
    assert m.row(iface(m, "guest_wifi"), clin) is not None
    assert m.row(iface(m, "clinician_ws"), clin) is None


def test_uplink_spoofed_transit_external() -> None:
    m = model("dc_fw")
    ehr, pump, internet = ep(m, "ehr_app"), ep(m, "pump_server"), ep(m, "internet")
    assert not m.permitted("eth0", ehr, ep(m, "core_svc"))  # served here: spoofed
    assert m.permitted("eth0", pump, ep(m, "hl7_engine")) == EVERYTHING  # transit
    assert m.permitted("eth0", pump, internet) == EVERYTHING
    assert not m.permitted("eth0", None, ehr)  # in no class and no external
    row = m.row("eth0", pump)
    assert row is not None and row.new == EVERYTHING and not row.replies


def test_external_source_only_toward_classes_served_here() -> None:
    m = model("med_sw")
    vendor, server = ep(m, "pump_vendor"), ep(m, "pump_server")
    assert not m.permitted(m.uplink or "", vendor, server)  # no flow vendor -> server
    assert m.reply_flows(m.uplink or "", vendor, server) == PacketSet.ports(TCP, 443, 443)
    # replies of a flow toward a class of another gateway do not come in here
    assert not m.reply_flows(m.uplink or "", ep(m, "internet"), ep(m, "core_svc"))


def test_replies_enter_on_the_answering_class_interface() -> None:
    m = model("med_sw")
    pump, server = ep(m, "infusion_pump"), ep(m, "pump_server")
    assert m.reply_flows(iface(m, "pump_server"), server, pump) == PacketSet.ports(TCP, 443, 443)
    core = ep(m, "core_svc")  # served by dc_fw: its replies are carried there, not here
    assert m.permitted(iface(m, "pump_server"), server, core) == m.flow(server, core)
    assert key(UDP, 53) in m.flow(server, core)


def test_endpoint_lookup_by_address() -> None:
    m = model("edge_fw")
    assert at(m, "203.0.113.7") == ep(m, "pump_vendor")
    first = ep(m, "ehr_app").prefixes[0]
    assert at(m, str(first.network)) == ep(m, "ehr_app")
    assert at(m, "8.8.8.8") == ep(m, "internet")
    assert "served by dc_fw" in m.label(ep(m, "ehr_app"))
    assert m.label(None) == "no class or external"


def test_dhcp_relay_only_for_classes_reaching_a_dhcp_server() -> None:
    hospital = str(ROOT / "examples" / "hospital.zw")
    compiled, _ = built(hospital)
    m = GatewayModel(compiled, "dist_sw1")
    pump = next(e for e in m.endpoints if e.name == "infusion_pump")
    monitor = next(e for e in m.endpoints if e.name == "patient_monitor")
    assert m.dhcp_relay(m.classes["infusion_pump"].interface) == {pump.id}
    assert not m.dhcp_relay(m.classes["patient_monitor"].interface)
    assert monitor.id not in m.dhcp_relay(m.uplink or "")


def test_unknown_gateway() -> None:
    compiled, _ = built(MULTI)
    with pytest.raises(ValueError, match="no gateway 'nope'"):
        GatewayModel(compiled, "nope")
