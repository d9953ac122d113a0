"""zonewall's iptables output touches only zonewall's objects, in a real kernel.

A fresh network namespace holds a box's own rules: an SSH allow-list in INPUT with policy
DROP, an unrelated user chain, a FORWARD rule of its own and a nat rule, in iptables and in
ip6tables.  `examples/hospital.zw`'s Linux gateway is then loaded with the exact command of
each file's `load with:` header line, twice: every rule of the box is still there, unchanged
and in order, and each of zonewall's rules is there exactly once, FORWARD's jump included, and
INPUT's (IPv4 only).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.kernel.netlab import lab, require_root_tools
from tests.kernel.test_examples_kernel import platform_outputs
from tests.kernel_util import load_command

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]

BOX_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth9 -j MASQUERADE
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:box-ssh - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j box-ssh
-A FORWARD -i eth8 -o eth9 -j ACCEPT
-A box-ssh -s {admin} -j ACCEPT
COMMIT
"""


def box_part(saved: str) -> list[str]:
    """iptables-save output without zonewall's lines, comments and counters."""
    out = []
    for line in saved.splitlines():
        if line.startswith("#") or "zw-" in line:
            continue
        out.append(re.sub(r" \[\d+:\d+\]$", "", line))
    return out


def zonewall_part(saved: str) -> list[str]:
    return [line for line in saved.splitlines() if "zw-" in line and line.startswith("-A ")]


@pytest.mark.parametrize(
    ("family", "suffix", "admin"),
    [("iptables", ".rules", "192.0.2.10/32"), ("ip6tables", ".rules6", "2001:db8::10/128")],
    ids=["ipv4", "ipv6"],
)
def test_loading_twice_keeps_the_box_rules_and_adds_zonewall_once(
    family: str, suffix: str, admin: str, tmp_path: Path
) -> None:
    require_root_tools(f"{family}-restore", f"{family}-save", family, "sh")
    outputs = platform_outputs(ROOT / "examples" / "hospital.zw", "iptables")
    text = outputs[f"core_fw{suffix}"]
    path = tmp_path / f"core_fw{suffix}"
    path.write_text(text, encoding="utf-8")
    command = load_command(text, str(path))
    assert command.startswith(f"{family}-restore -w --noflush < ")
    with lab() as the_lab:
        ns = the_lab.ns("o")
        the_lab.exec(ns, f"{family}-restore", input=BOX_RULES.format(admin=admin))
        before = the_lab.exec(ns, f"{family}-save").stdout
        for _ in range(2):
            the_lab.exec(ns, "sh", "-c", command)
            after = the_lab.exec(ns, f"{family}-save").stdout
            assert box_part(after) == box_part(before)
            assert "-A box-ssh -s " + admin + " -j ACCEPT" in after
            ours = zonewall_part(after)
            assert ours.count("-A FORWARD -j zw-forward") == 1
            forward = [ln for ln in after.splitlines() if ln.startswith("-A FORWARD ")]
            assert forward[0] == "-A FORWARD -j zw-forward"  # first in FORWARD
            inputs = [ln for ln in after.splitlines() if ln.startswith("-A INPUT ")]
            if family == "iptables":  # traffic to the box: zonewall's interfaces first
                assert ours.count("-A INPUT -j zw-input") == 1
                assert inputs[0] == "-A INPUT -j zw-input"
            else:  # IPv6 INPUT is the box's alone (Neighbour Discovery)
                assert not [ln for ln in inputs if "zw-" in ln]
            jumps = 2 if family == "iptables" else 1
            assert len(ours) == text.count("\n-A ") + jumps  # each of zonewall's rules once
