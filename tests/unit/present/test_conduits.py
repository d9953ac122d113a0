"""Naming a conduit's packets with the policy's services, and the zones of external atoms."""

from __future__ import annotations

from pathlib import Path

import pytest

from zonewall.ir import ResolvedService
from zonewall.packets import TCP, UDP, PacketSet
from zonewall.present.conduits import build_conduits, name_services
from zonewall.report import run_check


def svc(name: str, *ports: tuple[int, int]) -> ResolvedService:
    packets = PacketSet.union_all(PacketSet.ports(p, port, port) for p, port in ports)
    return ResolvedService(name, packets, PacketSet())


HTTPS = svc("https", (TCP, 443))
FHIR = svc("fhir", (TCP, 443))
HTTP = svc("http", (TCP, 80))
WEB = svc("web", (TCP, 443), (TCP, 80))
DNS = svc("dns", (UDP, 53), (TCP, 53))
SERVICES = [DNS, FHIR, HTTP, HTTPS, WEB]


def packets(*items: tuple[int, int]) -> PacketSet:
    return PacketSet.union_all(PacketSet.ports(p, port, port) for p, port in items)


@pytest.mark.parametrize(
    ("given", "preferred", "expected"),
    [
        (packets((TCP, 443)), (), ("fhir",)),  # equal sizes: by name
        (packets((TCP, 443)), ("https",), ("https",)),  # the name the statement used
        (packets((TCP, 443), (TCP, 80)), (), ("web",)),  # one name covers it all
        (packets((TCP, 443), (TCP, 80)), ("https", "http"), ("https", "http")),
        (packets((TCP, 443), (TCP, 80), (TCP, 8443)), ("web",), ("web", "tcp/8443")),
        (packets((UDP, 53)), ("dns",), ("udp/53",)),  # a deny cut dns: never claim the name
        (PacketSet.everything(), (), ("ip",)),
    ],
    ids=[
        "alias-by-name",
        "preferred",
        "union-name",
        "preferred-union",
        "remainder",
        "partial-service",
        "everything",
    ],
)
def test_name_services(
    given: PacketSet, preferred: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert name_services(given, SERVICES, preferred) == expected


def test_external_atoms_are_disjoint_zones(tmp_path: Path) -> None:
    policy = tmp_path / "p.zw"
    policy.write_text(
        "pool subnets 10.0.0.0/16\npool vlans 100-199\nservice https = tcp/443\n"
        "class a { hosts 10 }\n"
        "external internet { address 0.0.0.0/0 }\nexternal vendor { address 192.0.2.0/24 }\n"
        'allow a -> vendor : https "vendor cloud"\n'
        'gateway fw { platform iptables\n uplink "eth0"\n serves internal }\n',
        encoding="utf-8",
    )
    report = run_check(str(policy))
    assert report.compiled is not None, report.diagnostics
    c = build_conduits(report.compiled)
    assert [(z.key, z.kind) for z in c.zones] == [
        ("a", "class"),
        ("internet", "external"),
        ("vendor", "external"),
    ]
    assert c.zone("internet").description == (
        "minus every class's subnets, minus the addresses of vendor"
    )
    assert [(x.src, x.dst, x.label) for x in c.conduits] == [("a", "vendor", "https")]
    (stmt,) = c.conduits[0].statements
    assert (stmt.where, stmt.why) == (f"{policy}:7", "vendor cloud")
    assert c.zones_of("internet") == ("internet", "vendor")
