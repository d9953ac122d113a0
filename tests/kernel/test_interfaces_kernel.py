"""The examples' `<gateway>-interfaces.sh`, applied twice in a fresh network namespace.

The parent trunk is one end of a veth pair inside the namespace; after each run, `ip -j -d
link` and `ip -j addr` must show exactly the planned 802.1Q subinterfaces (name, parent, VLAN
ID, up) with exactly the VLAN plan's gateway addresses, and forwarding on.  A kernel built
without 802.1Q support (CONFIG_VLAN_8021Q) cannot run this: the test is skipped then, even under
ZONEWALL_REQUIRE_KERNEL=1 (no package can add a kernel feature), and says so; missing root or
tools still fail it in CI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netaddr import IPNetwork
from tests.kernel.netlab import kernel_lacks, lab, require_root_tools

from zonewall.backends.linux_interfaces import interface_configs
from zonewall.backends.vlan_plan import gateway_address, plan_rows
from zonewall.report import run_check

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("hospital", "multi-gateway")


def scripts(example: str) -> dict[str, str]:
    report = run_check(str(ROOT / "examples" / f"{example}.zw"))
    assert report.compiled is not None, report.diagnostics
    files = interface_configs(report.compiled)
    assert files, "the example names its interfaces PARENT.{vlan}"
    return {m.gateway: text for m, text in files}


def planned(example: str, gateway: str) -> dict[str, tuple[int, set[str]]]:
    """Straight from the VLAN plan: interface -> (VLAN ID, {address/prefix})."""
    report = run_check(str(ROOT / "examples" / f"{example}.zw"))
    assert report.compiled is not None
    out = {}
    for row in plan_rows(report.compiled):
        if row.served_by == gateway:
            nets = [IPNetwork(s) for s in row.subnets]
            out[row.interface] = (row.vlan, {f"{gateway_address(n)}/{n.prefixlen}" for n in nets})
    return out


CASES = [(ex, gw) for ex in EXAMPLES for gw in sorted(scripts(ex))]


def test_the_examples_have_linux_interface_scripts() -> None:
    assert [gw for _, gw in CASES] == ["core_fw", "dc_fw", "edge_fw"]


@pytest.mark.parametrize(("example", "gateway"), CASES, ids=[f"{e}-{g}" for e, g in CASES])
def test_script_applied_twice_gives_exactly_the_plan(
    example: str, gateway: str, tmp_path: Path
) -> None:
    require_root_tools("sh", "sysctl")
    script = tmp_path / f"{gateway}-interfaces.sh"
    script.write_text(scripts(example)[gateway])
    want = planned(example, gateway)
    with lab() as the_lab:
        ns = the_lab.ns("i")
        the_lab.exec(ns, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "trunkpeer")
        probe = the_lab.exec(
            ns,
            "ip",
            "link",
            "add",
            "link",
            "eth1",
            "name",
            "zwprobe",
            "type",
            "vlan",
            "id",
            "4000",
            check=False,
        )
        if probe.returncode != 0:
            kernel_lacks("802.1Q VLAN support (CONFIG_VLAN_8021Q)", probe.stderr)
        the_lab.exec(ns, "ip", "link", "delete", "zwprobe")
        for _ in range(2):
            the_lab.exec(ns, "sh", str(script))
            links = json.loads(the_lab.exec(ns, "ip", "-j", "-d", "link", "show").stdout)
            vlans = {
                x["ifname"]: x for x in links if x.get("linkinfo", {}).get("info_kind") == "vlan"
            }
            assert set(vlans) == set(want)
            for name, (vid, _) in want.items():
                assert vlans[name]["link"] == "eth1"
                assert vlans[name]["linkinfo"]["info_data"]["id"] == vid
                assert vlans[name]["linkinfo"]["info_data"]["protocol"] == "802.1Q"
                assert "UP" in vlans[name]["flags"]
            addrs = json.loads(the_lab.exec(ns, "ip", "-j", "addr", "show").stdout)
            got = {
                x["ifname"]: {
                    f"{a['local']}/{a['prefixlen']}"
                    for a in x["addr_info"]
                    if a["family"] == "inet" and a.get("scope") == "global"
                }
                for x in addrs
            }
            assert {n: a for n, a in got.items() if a} == {n: a for n, (_, a) in want.items()}
            forwarding = the_lab.exec(ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout
            assert forwarding.strip() == "1"


def test_script_refuses_a_subinterface_that_is_another_vlan(tmp_path: Path) -> None:
    require_root_tools("sh", "sysctl")
    script = tmp_path / "edge_fw-interfaces.sh"
    script.write_text(scripts("multi-gateway")["edge_fw"])
    name, (vid, _) = sorted(planned("multi-gateway", "edge_fw").items())[0]
    with lab() as the_lab:
        ns = the_lab.ns("j")
        the_lab.exec(ns, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "trunkpeer")
        made = the_lab.exec(
            ns,
            "ip",
            "link",
            "add",
            "link",
            "eth1",
            "name",
            name,
            "type",
            "vlan",
            "id",
            str(vid + 1000),
            check=False,
        )
        if made.returncode != 0:
            kernel_lacks("802.1Q VLAN support (CONFIG_VLAN_8021Q)", made.stderr)
        # a new namespace may inherit the host's setting: start from off
        the_lab.exec(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
        proc = the_lab.exec(ns, "sh", str(script), check=False)
        assert proc.returncode == 1 and f"{name} exists but is not 802.1Q VLAN {vid}" in proc.stderr
        links = json.loads(the_lab.exec(ns, "ip", "-j", "link", "show").stdout)
        assert sorted(x["ifname"] for x in links) == sorted(["lo", "eth1", "trunkpeer", name])
        assert the_lab.exec(ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"
