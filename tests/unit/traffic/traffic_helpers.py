"""What the traffic tests share: a small policy (overlapping externals, a class inside an
external, unknown space, a deny and an assertion), the example hospital and its flows, and
runners for the command line and for a replay."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cli_util import in_process
from zonewall.ir import CompiledPolicy
from zonewall.report import run_check
from zonewall.traffic.engine import aggregate
from zonewall.traffic.replay import Replay, judge

ROOT = Path(__file__).resolve().parents[3]
HOSPITAL = str(ROOT / "examples" / "hospital.zw")
HOSPITAL_FLOWS = [str(ROOT / "examples" / "flows" / n) for n in ("hospital-flows.csv", "conn.log")]

POLICY = """\
pool subnets 10.10.0.0/16
pool vlans 100-199
service https = tcp/443
service hl7 = tcp/2575 plaintext
service dns = udp/53 plaintext
service ping = icmp/echo-request
class pumps   { subnet 10.10.1.0/24 }
class servers { subnet 10.10.2.0/24 }
class guests  { subnet 10.10.3.0/24 }
class partner_gw { subnet 10.50.7.0/24 }
external internet { address 0.0.0.0/0 except 10.0.0.0/8, 192.168.0.0/16 }
external vendor   { address 203.0.113.0/24 }
external cloud    { address 203.0.113.128/25, 198.51.100.0/24 }
external partner  { address 10.50.0.0/16 }
allow pumps -> servers : https, ping "pump telemetry"
allow servers -> vendor : https "vendor service"
allow guests -> internet : https, dns "guest internet"
deny guests -> vendor "no vendor access from guests"
allow servers -> partner : hl7 "results to the partner"
allow partner_gw -> servers : hl7 "partner orders"
gateway fw { platform iptables  serves internal  interface "eth1.{vlan}"  uplink "eth0" }
assert denied guests -> pumps
assert only pumps, partner_gw -> servers
assert limited servers -> external : https, hl7
"""


def compiled(tmp_path: Path) -> tuple[CompiledPolicy, dict[str, str]]:
    path = tmp_path / "policy.zw"
    path.write_text(POLICY, encoding="utf-8")
    report = run_check(str(path))
    assert report.compiled is not None, report.diagnostics
    assert not report.errors, report.diagnostics
    return report.compiled, report.sources


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`zonewall ARGS...` in this process: exit code, stdout, stderr (never a traceback, never
    an internal error)."""
    code, out, err = in_process(capsys, *args)
    assert "internal error" not in err
    return code, out, err


def replayed(policy: str, flows: Sequence[str]) -> Replay:
    """The replay of flow files against a policy that checks with no error."""
    report = run_check(policy)
    assert report.compiled is not None and not report.errors, report.diagnostics
    return judge(report.compiled, report.sources, aggregate(report.compiled, flows))
