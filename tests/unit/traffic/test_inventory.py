"""Device inventories (CSV and a NetBox device export) and `check --inventory` (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from traffic_helpers import compiled, write

from zonewall.traffic.inventory import InventoryError, check_inventory, read_inventory

NETBOX = {
    "count": 3,
    "results": [
        {
            "id": 1,
            "name": "pump-0021",
            "device_type": {"model": "Alaris 8015"},
            "role": {"name": "infusion pump"},
            "primary_ip4": {"address": "10.10.1.21/24"},
            "custom_fields": {"zonewall_class": "pumps", "mac": "00:1b:4f:00:10:21"},
        },
        {
            "id": 2,
            "name": "srv-9",
            "device_type": {"model": "PowerEdge"},
            "primary_ip4": {"address": "10.10.9.9/24"},
            "custom_fields": {},
        },
        {"id": 3, "name": "no-ip", "device_type": {"model": "switch"}, "primary_ip4": None},
    ],
}


def test_a_netbox_export_is_read_with_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "netbox.json", json.dumps(NETBOX, indent=2))
    devices, _ = read_inventory(path)
    assert [(d.name, str(d.address), d.type, d.cls, d.mac) for d in devices] == [
        ("pump-0021", "10.10.1.21/32", "Alaris 8015", "pumps", "00:1b:4f:00:10:21"),
        ("srv-9", "10.10.9.9/32", "PowerEdge", "", ""),
    ]
    assert devices[0].span.line == 4 and devices[1].span.line > devices[0].span.line
    c, _ = compiled(tmp_path)
    assert [d.code for d in check_inventory(c, devices)] == ["W120"]


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("name,type\npump,infusion\n", (1, 1), "no address column"),
        ("ip;class\n10.10.1.5;pumps\n10.10.1.x;pumps\n", (3, 1), "not an IPv4 address"),
        ("ip,mac\n10.10.1.5,zz:zz\n", (2, 11), "not a MAC address"),
        ("ip,criticality\n10.10.1.5,severe\n", (2, 11), "criticality 'severe'"),
        ("ip,class\n2001:db8::1,pumps\n", (2, 1), "IPv6"),
        (
            '{"results": [{"name": "a", "primary_ip4": {"address": "10.1.1.300/24"}}]}',
            (1, 14),
            "not an IPv4 address",
        ),
        (
            '{"results": [\n  {"name": "a", "primary_ip4": {"address": "10.1.1.3/24"}, '
            '"custom_fields": {"zonewall_class": "Pumps"}}]}',
            (2, 3),
            "not a zonewall name",
        ),
        ('{"results": [1, ', (1, 17), "not valid JSON"),
        ('{"devices": []}', (1, 1), "object with 'results'"),
    ],
    ids=[
        "no-ip",
        "bad-ip",
        "bad-mac",
        "bad-criticality",
        "ipv6",
        "json-bad-ip",
        "json-bad-class",
        "json-syntax",
        "json-shape",
    ],
)
def test_bad_inventories(tmp_path: Path, text: str, where: tuple[int, int], message: str) -> None:
    path = write(tmp_path, "inv.csv", text)
    with pytest.raises(InventoryError) as info:
        read_inventory(path)
    d = info.value.diagnostic
    assert d.code == "E112" and message in d.message
    assert d.span is not None and (d.span.line, d.span.col) == where


def test_check_inventory_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zonewall.cli import main

    compiled(tmp_path)  # writes policy.zw
    inv = write(
        tmp_path,
        "inv.csv",
        "ip,name,type,class\n10.10.1.5,p1,pump,pumps\n10.10.2.5,p2,pump,pumps\n",
    )
    policy = str(tmp_path / "policy.zw")
    assert main(["check", policy, "--inventory", inv]) == 0
    err = capsys.readouterr().err
    assert (
        "inv.csv:3:1: warning[W119]: device 'p2' (10.10.2.5) is outside the subnets of its "
        "class 'pumps'" in err
    )
    assert main(["check", policy, "--inventory", inv, "--warnings-as-errors"]) == 1
    assert main(["check", policy, "--inventory", str(tmp_path / "missing.csv")]) == 1
    assert "error[E112]: cannot read inventory" in capsys.readouterr().err
    assert main(["check", policy, "--inventory", inv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["diagnostics"][0]["code"] == "W119"


def test_the_example_hospital_inventory(capsys: pytest.CaptureFixture[str]) -> None:
    from zonewall.cli import main

    root = Path(__file__).resolve().parents[3]
    assert (
        main(
            [
                "check",
                str(root / "examples" / "hospital.zw"),
                "--inventory",
                str(root / "examples" / "flows" / "hospital-inventory.csv"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    codes = [line.split("[")[1][:4] for line in err.splitlines() if "warning[" in line]
    assert codes == ["W121", "W119", "W121", "W120"]
