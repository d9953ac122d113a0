"""`zonewall lab` on the examples: every probe matches the policy, and nothing is left behind.

A deliberately broken backend (an accept-all at the top of `zw-main`, or no IPv6 companion)
must make the lab fail, and a failure in the middle of a run must still delete every namespace
the lab created.  Only this test's own namespaces are looked at (`own_tags`): another lab run
on the same machine may have namespaces of its own meanwhile.  The two tests over the 30-class
hospital take about 15 s each and are marked `slow` (CI runs them; `-m "not slow"` leaves
them out locally).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.kernel.netlab import require_root_tools

import zonewall.lab as lab_module
from zonewall.backends.iptables import IptablesBackend
from zonewall.lab import LabError, run_lab
from zonewall.present.lab import render_lab
from zonewall.report import run_check

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_tags(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The random tags of the topologies this test builds: other runs of the lab (another
    checkout's tests on the same machine) may have namespaces of their own meanwhile."""
    tags: list[str] = []
    real = lab_module._topology

    @contextmanager
    def recording() -> Iterator[lab_module._Topology]:
        with real() as topo:
            tags.append(topo.tag)
            yield topo

    monkeypatch.setattr(lab_module, "_topology", recording)
    return tags


def lab_namespaces(tags: list[str]) -> list[str]:
    """Namespaces left by this test's topologies."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.startswith("zwl")]
    assert tags, "the lab built no topology"
    return [n for n in names if any(n.startswith(f"zwl{t}-") for t in tags)]


def compiled(name: str):  # type: ignore[no-untyped-def]
    report = run_check(str(ROOT / "examples" / name))
    assert report.compiled is not None
    return report.compiled


@pytest.mark.parametrize(
    "example", [pytest.param("hospital.zw", marks=pytest.mark.slow), "multi-gateway.zw"]
)
def test_lab_probes_match_the_policy(example: str, own_tags: list[str]) -> None:
    require_root_tools("iptables-restore", "nft")
    report = run_lab(compiled(example))
    assert not report.failures, [(p.src, p.dst, p.service(), p.observed) for p in report.failures]
    assert sum(p.expected for p in report.probes) > 20
    assert sum(not p.expected for p in report.probes) > 20
    six = [p for p in report.probes if p.ipv6]
    classes = len(compiled(example).classes)
    assert len(six) == classes * (classes - 1)  # every ordered pair of classes, none passed
    assert not any(p.observed for p in six)
    # every class host probes its own gateway's address (a cisco-ios one through its
    # stand-in): closed but for `gateway:` flows
    to_box = [p for p in report.probes if p.dst.startswith("gateway:")]
    assert to_box and not any(p.observed for p in to_box if not p.expected)
    assert {p.dst for p in to_box} == {f"gateway:{g.name}" for g in compiled(example).gateways}
    if example == "hospital.zw":
        assert {(p.src, p.dst, p.proto, p.port) for p in to_box if p.expected} == {
            ("netops_ws", "gateway:core_fw", "tcp", 22),
            ("netops_ws", "gateway:core_fw", "tcp", 443),
            ("siem", "gateway:core_fw", "udp", 161),
            ("oob_mgmt", "gateway:dist_sw1", "tcp", 22),
        }  # over the out-of-band network
        # guest Wi-Fi probes every gateway's address, its own and the others: nothing passes
        assert {(p.dst, p.port, p.expected) for p in to_box if p.src == "guest_wifi"} == {
            (f"gateway:{g}", port, False) for g in ("core_fw", "dist_sw1") for port in (22, 443)
        }
        # every class and every external probes every gateway
        sources = {p.src for p in to_box if p.dst == "gateway:dist_sw1"}
        assert {"guest_wifi", "netops_ws", "infusion_pump", "internet", "oob_mgmt"} <= sources
        # dist_sw1's relayed DHCP crosses core_fw to core_net (dhcp-relay): udp/67 only
        assert {
            (p.src, p.src_addr, p.dst, p.port, p.expected)
            for p in report.probes
            if p.src == "gateway:dist_sw1"
        } == {
            ("gateway:dist_sw1", "10.43.255.2", "core_net", 67, True),
            ("gateway:dist_sw1", "10.43.255.2", "core_net", 68, False),
        }
    assert not lab_namespaces(own_tags)


def test_lab_catches_an_ipv6_companion_left_out(
    monkeypatch: pytest.MonkeyPatch, own_tags: list[str]
) -> None:
    """Without the .rules6 companion, IPv6 is forwarded unfiltered: the IPv6 probes say so."""
    require_root_tools("iptables-restore", "nft")
    real = IptablesBackend.render

    def v4_only(self, model):  # type: ignore[no-untyped-def]
        return {k: v for k, v in real(self, model).items() if k.suffix != ".rules6"}

    monkeypatch.setattr(IptablesBackend, "render", v4_only)
    report = run_lab(compiled("multi-gateway.zw"))
    wrong = report.failures
    assert wrong and all(p.ipv6 and p.observed and not p.expected for p in wrong)
    # the nftables gateway drops IPv6 in its own table: pairs of its classes stay closed
    nft_classes = {c.name for c in compiled("multi-gateway.zw").classes if c.gateway == "dc_fw"}
    assert not any(p.src in nft_classes and p.dst in nft_classes for p in wrong)
    assert "FAIL" in render_lab(report) and not lab_namespaces(own_tags)


def test_lab_catches_a_widened_ruleset(
    monkeypatch: pytest.MonkeyPatch, own_tags: list[str]
) -> None:
    require_root_tools("iptables-restore", "nft")
    real = IptablesBackend.render

    def widened(self, model):  # type: ignore[no-untyped-def]
        return {
            k: v.replace("-A zw-main ", "-A zw-main -j ACCEPT\n-A zw-main ", 1)
            for k, v in real(self, model).items()
        }

    monkeypatch.setattr(IptablesBackend, "render", widened)
    report = run_lab(compiled("multi-gateway.zw"))
    wrong = report.failures
    assert wrong and all(p.observed and not p.expected for p in wrong)
    assert not lab_namespaces(own_tags)


@pytest.mark.slow
def test_lab_catches_a_relay_permit_left_out(
    monkeypatch: pytest.MonkeyPatch, own_tags: list[str]
) -> None:
    """Without core_fw's permit for dist_sw1's relay source, relayed DHCP is dropped."""
    require_root_tools("iptables-restore", "nft")
    real = IptablesBackend.render

    def no_relay(self, model):  # type: ignore[no-untyped-def]
        return {
            k: "\n".join(
                line
                for line in v.split("\n")
                if not line.startswith("-A zw-uplink -s 10.43.255.2/32")
            )
            for k, v in real(self, model).items()
        }

    monkeypatch.setattr(IptablesBackend, "render", no_relay)
    report = run_lab(compiled("hospital.zw"))
    assert [(p.src, p.dst, p.port) for p in report.failures] == [
        ("gateway:dist_sw1", "core_net", 67)
    ]
    assert not lab_namespaces(own_tags)


def test_lab_catches_an_open_input_plane(
    monkeypatch: pytest.MonkeyPatch, own_tags: list[str]
) -> None:
    """zw-self accepting instead of dropping opens the box: the gateway probes say so."""
    require_root_tools("iptables-restore", "nft")
    real = IptablesBackend.render

    def open_box(self, model):  # type: ignore[no-untyped-def]
        return {
            k: v.replace("-A zw-self -j DROP", "-A zw-self -j ACCEPT")
            for k, v in real(self, model).items()
        }

    monkeypatch.setattr(IptablesBackend, "render", open_box)
    report = run_lab(compiled("multi-gateway.zw"))
    wrong = report.failures
    assert wrong and all(
        p.dst.startswith("gateway:") and p.observed and not p.expected for p in wrong
    )
    assert not lab_namespaces(own_tags)


def test_lab_cleans_up_after_a_failure(
    monkeypatch: pytest.MonkeyPatch, own_tags: list[str]
) -> None:
    require_root_tools("iptables-restore", "nft")

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise LabError("interrupted on purpose")

    monkeypatch.setattr(lab_module, "_probe", boom)
    with pytest.raises(LabError):
        run_lab(compiled("multi-gateway.zw"))
    assert not lab_namespaces(own_tags)


def test_lab_command_prints_the_matrix() -> None:
    require_root_tools("iptables-restore", "nft")
    proc = subprocess.run(
        [sys.executable, "-m", "zonewall", "lab", "examples/multi-gateway.zw"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "probes match the policy" in proc.stdout and " X " not in proc.stdout
    assert re.search(r"of which \d+ IPv6: 0 got through", proc.stdout), proc.stdout
