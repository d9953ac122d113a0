"""Property test: `zonewall audit` on mutated device output never raises (no traceback).

Whole device outputs (`tests/e2e/device_outputs.py`: IOS-XE and IOS running configs, an
iptables-save with docker, fail2ban and nat, an nft ruleset with other tables and families,
nft rulesets with firewalld's table as it prints it) around the multi-gateway and hospital
examples' builds (the hospital's core_fw also as an nftables gateway) are mutated line by
line: lines deleted, doubled, swapped, cut short, words replaced by arbitrary text, and
lines from a corpus of constructs the audit refuses or skips inserted anywhere.  Every
result must be a report (clean, drift or cannot-audit with a message and, when it names one,
a line of the text), rendered as text, JSON and SARIF without an exception, the text with
every control character escaped and the SARIF messages with no link of the device's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewall.ir import CompiledPolicy
from zonewall.present.audit import audit_json, audit_sarif, audit_text
from zonewall.report import run_check
from zonewall.review.audit import run_audit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from device_outputs import (  # noqa: E402
    FIREWALLD_VARIANTS,
    firewalld_ruleset,
    ios_running,
    iptables_save,
    nft_ruleset,
)

POLICIES = ("examples/multi-gateway.zw", "examples/hospital.zw")
CORPUS = [
    "interface Vlan300",
    " ip nat inside",
    " ip access-group X out",
    " shutdown",
    "!",
    "end",
    "banner motd ^C",
    "^C",
    "access-list 101 permit ip any any",
    "vlan filter V vlan-list 1-4094",
    " ip access-group ZW-X in",
    "object-group network G",
    " group-object G",
    "line vty 0 4",
    " access-class 5 in",
    "ip access-list extended 150",
    " 10 permit ip any any (5 matches)",
    "*nat",
    "*raw",
    "*filter",
    "COMMIT",
    ":FORWARD DROP [0:0]",
    "-A FORWARD -j ACCEPT",
    "-A PREROUTING -j DNAT --to-destination 10.0.0.1",
    "-A PREROUTING -j NOTRACK",
    "-A INPUT -m set --match-set x src -j DROP",
    "[1:2] -A FORWARD -j zw-forward",
    "table inet x {",
    "}",
    "{",
    "chain c {",
    "type nat hook prerouting priority dstnat;",
    "fib daddr type local jump c",
    "dnat to 1.2.3.4",
    "table netdev n { }",
    'iifname "eth0" drop',
    'set s { type ifname; elements = { "a" } }',
    "\x1b[31m\x00",
    "ct status dnat accept",
    "meta nfproto ipv6 fib saddr . mark . iif oif missing drop",
    "fib saddr . iif oif missing drop",
    "ip6 daddr { ::/96, 2002::/24 } reject with icmpv6 addr-unreachable",
    "icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept",
    'udp dport 137 ct helper set "helper-netbios-ns-udp"',
    'iifname "eth1.10" goto filter_FWD_internal',
    "reject with icmpx admin-prohibited",
    'ct helper helper-netbios-ns-udp { type "netbios-ns" protocol udp; l3proto ip; }',
]


@cache
def setup() -> dict[str, tuple[CompiledPolicy, str, str, str]]:
    """Each case's compiled policy, gateway, platform and device output."""
    base = Path(tempfile.mkdtemp(prefix="zonewall-audit-"))
    nft_hospital = base / "nft" / "hospital.zw"
    nft_hospital.parent.mkdir()
    nft_hospital.write_text(
        (ROOT / "examples/hospital.zw")
        .read_text()
        .replace("platform iptables", "platform nftables")
    )
    compiled = {}
    for policy in (*POLICIES, str(nft_hospital)):
        out = base / Path(policy).parent.name / Path(policy).stem
        subprocess.run(
            [sys.executable, "-m", "zonewall", "build", policy, "-o", str(out)],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        report = run_check(str(ROOT / policy), None)
        assert report.compiled is not None
        compiled[policy] = report.compiled
    mg, hospital = (compiled[p] for p in POLICIES)
    out, built = base / "examples" / "multi-gateway", base / "examples" / "hospital"
    own = (base / "nft" / "hospital" / "core_fw.nft").read_text()
    return {
        "edge_fw": (mg, "edge_fw", "iptables", iptables_save((out / "edge_fw.rules").read_text())),
        "dc_fw": (mg, "dc_fw", "nftables", nft_ruleset((out / "dc_fw.nft").read_text())),
        "med_sw": (
            mg,
            "med_sw",
            "cisco-ios",
            ios_running((out / "med_sw.ios").read_text(), (out / "med_sw-switch.ios").read_text()),
        ),
        "core_fw": (
            hospital,
            "core_fw",
            "iptables",
            iptables_save((built / "core_fw.rules").read_text()),
        ),
        "dist_sw1": (
            hospital,
            "dist_sw1",
            "cisco-ios",
            ios_running(
                (built / "dist_sw1.ios").read_text(),
                (built / "dist_sw1-switch.ios").read_text(),
                "15.2",
            ),
        ),
        **{
            f"core_fw firewalld {v}": (
                compiled[str(nft_hospital)],
                "core_fw",
                "nftables",
                firewalld_ruleset(own, v),
            )
            for v in FIREWALLD_VARIANTS
        },
    }


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    gateway = draw(st.sampled_from(sorted(setup())))
    lines = setup()[gateway][3].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "double", "swap", "cut", "word", "insert"]))
        if op == "delete":
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "word":
            words = lines[i].split(" ")
            k = draw(st.integers(0, len(words) - 1))
            words[k] = draw(st.text(max_size=12))
            lines[i] = " ".join(words)
        else:
            lines.insert(i, draw(st.sampled_from(CORPUS)))
        if not lines:
            lines = [""]
    return gateway, "\n".join(lines) + "\n"


@settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    max_examples=int(os.environ.get("AUDIT_MUTATIONS", "120")),
)
@given(mutated())
def test_audit_of_mutated_device_output_never_raises(case: tuple[str, str]) -> None:
    label, text = case
    compiled, gateway, platform, _ = setup()[label]
    report = run_audit(compiled, "policy.zw", gateway, platform, "running.txt", text, text)
    assert report["result"] in ("clean", "drift", "cannot-audit")
    if report["result"] == "cannot-audit":
        err = report["error"]
        assert err["message"]
        assert err["line"] is None or 1 <= err["line"] <= len(text.splitlines()) + 1
    json.loads(audit_json(report))
    sarif = json.loads(audit_sarif(report, 5))
    shown = audit_text(report, 5)
    assert shown.endswith("\n")
    # the device's text reaches a terminal escaped, and a SARIF message links nowhere
    assert not any(
        c not in "\n\t\u200c\u200d" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
        for c in shown
    ), shown
    for result in sarif["runs"][0]["results"]:
        assert not re.search(r"(?<!\\)\]\((?!\d+\))", result["message"]["text"]), result
