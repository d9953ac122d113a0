"""`zonewall audit` on whole device output (issue 15): the example hospital's build inside a
full `show running-config` (three release styles), an `iptables-save` with docker, fail2ban,
nat, mangle and raw tables, and an `nft list ruleset` with docker's and other families'
tables.  The untouched deployment audits clean (exit 0); each realistic manual change is
drift naming its deciding line with a remediation (exit 1); a construct that matters and is
not modelled is exit 2 naming the line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from device_outputs import ios_running, iptables_save, nft_ruleset
from test_audit import ROOT, zonewall

STYLES = ("17.9", "16.12", "15.2")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built")
    assert zonewall("build", "examples/hospital.zw", "-o", str(out)).returncode == 0
    assert zonewall("build", "examples/multi-gateway.zw", "-o", str(out / "mg")).returncode == 0
    return out


def audit(policy: str, gateway: str, text: str, tmp: Path, *more: str) -> tuple[int, dict]:
    config = tmp / "running.txt"
    config.write_text(text)
    proc = zonewall(
        "audit", policy, "--gateway", gateway, "--config", str(config), "--format", "json", *more
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def running_config(built: Path, style: str = "17.9") -> str:
    return ios_running(
        (built / "dist_sw1.ios").read_text(), (built / "dist_sw1-switch.ios").read_text(), style
    )


@pytest.mark.parametrize("style", STYLES)
def test_a_full_running_config_audits_clean(built: Path, tmp_path: Path, style: str) -> None:
    code, report = audit("examples/hospital.zw", "dist_sw1", running_config(built, style), tmp_path)
    assert (code, report["result"], report["items"]) == (0, "clean", [])
    skipped = {s["construct"]: s["lines"] for s in report["skipped"]}
    assert skipped["banner"] == 9 and skipped["show running-config header"] == 2
    assert skipped["interface not audited"] > 0 and skipped["ip access-list"] > 0


def test_a_section_excerpt_of_the_acls_and_interfaces_audits_clean(
    built: Path, tmp_path: Path
) -> None:
    # `show running-config | section ip access-list|interface Vlan|interface Ten|line vty`
    # (IOS would match the banner's text too: this excerpt is taken without banners)
    full = re.sub(r"(?s)banner motd \^C.*?\^C\n", "", running_config(built))
    keep = re.compile(r"^(ip access-list|ipv6 access-list|interface (Vlan|Ten)|line vty)")
    out, on = [], False
    for line in full.splitlines():
        if not line[:1].isspace():
            on = bool(keep.match(line))
        if on and not line.startswith("!"):
            out.append(line)
    code, report = audit("examples/hospital.zw", "dist_sw1", "\n".join(out) + "\n", tmp_path)
    assert code == 0, report


def test_an_acl_line_added_by_hand_is_drift_with_its_removal(built: Path, tmp_path: Path) -> None:
    text = running_config(built).replace(
        " 100 permit tcp 10.40.26.0 0.0.0.15 10.40.2.64 0.0.0.15 eq 2575\n",
        " 95 permit tcp 10.40.26.0 0.0.0.15 any eq 3389\n"
        " 100 permit tcp 10.40.26.0 0.0.0.15 10.40.2.64 0.0.0.15 eq 2575\n",
    )
    code, report = audit("examples/hospital.zw", "dist_sw1", text, tmp_path)
    assert code == 1 and report["result"] == "drift"
    item = report["items"][0]
    assert item["kind"] == "permits-too-much"
    assert item["decided_by"][0]["text"] == "95 permit tcp 10.40.26.0 0.0.0.15 any eq 3389"
    assert item["remediation"][:2] == [
        "ip access-list extended ZW-CENTRAL_STATION-IN-" + _suffix(built),
        " no 95",
    ]
    assert all(p["src"].startswith("class central_station") for p in item["pairs"])
    assert ["rdp"] in [p["services"] for p in item["pairs"]]  # the policy's service name


def _suffix(built: Path) -> str:
    m = re.search(r"ZW-CT_MR-IN-([0-9A-F]{8})", (built / "dist_sw1.ios").read_text())
    assert m is not None
    return m.group(1)


@pytest.mark.parametrize(
    ("line", "construct"),
    [
        (" ip nat inside", "NAT on an audited interface"),
        (" ip policy route-map PBR-TO-FW", "policy routing"),
        (" zone-member security INSIDE", "zone-based firewall"),
        (" ip access-group EXTRA out", "an outbound ACL"),
        (" standby 1 ip 10.40.2.2", "HSRP"),
    ],
    ids=["nat", "pbr", "zbf", "outbound", "hsrp"],
)
def test_what_changes_forwarding_on_an_audited_svi_is_refused(
    built: Path, tmp_path: Path, line: str, construct: str
) -> None:
    text = running_config(built).replace("interface Vlan105\n", f"interface Vlan105\n{line}\n")
    code, report = audit("examples/hospital.zw", "dist_sw1", text, tmp_path)
    assert code == 2 and report["result"] == "cannot-audit"
    assert construct in report["error"]["message"]
    assert report["error"]["text"] == line.strip()


def test_a_vlan_access_map_on_an_audited_vlan_is_refused(built: Path, tmp_path: Path) -> None:
    text = running_config(built).replace(
        "ip forward-protocol nd\n",
        "vlan access-map VACL-PUMPS 10\n match ip address PUMPS\n"
        " action drop\nvlan filter VACL-PUMPS vlan-list 110-112\nvlan filter VACL-X vlan-list "
        "999\nip forward-protocol nd\n",
    )
    code, report = audit("examples/hospital.zw", "dist_sw1", text, tmp_path)
    assert code == 2 and "VLAN access map (VACL-PUMPS)" in report["error"]["message"]
    assert "audited VLAN 110" in report["error"]["message"]


def test_a_port_acl_in_an_audited_vlan_is_refused(built: Path, tmp_path: Path) -> None:
    text = running_config(built).replace(
        " description CT scanner console, room 0.14\n",
        " description CT scanner console, room 0.14\n ip access-group PACL-CT in\n",
    )
    code, report = audit("examples/hospital.zw", "dist_sw1", text, tmp_path)
    assert code == 2 and "port ACL on switchport GigabitEthernet1/0/1" in report["error"]["message"]


def test_a_saved_iptables_with_docker_fail2ban_and_nat_audits_clean(
    built: Path, tmp_path: Path
) -> None:
    code, report = audit(
        "examples/hospital.zw",
        "core_fw",
        iptables_save((built / "core_fw.rules").read_text()),
        tmp_path,
    )
    assert code == 0, report
    kinds = " ".join(s["construct"] for s in report["skipped"])
    assert "nat MASQUERADE" in kinds and "mangle TCPMSS" in kinds


def test_an_inserted_forward_rule_is_drift_with_iptables_d(built: Path, tmp_path: Path) -> None:
    rule = "-A FORWARD -s 10.40.48.0/20 -d 10.41.0.0/28 -p tcp -m tcp --dport 5432 -j ACCEPT"
    code, report = audit(
        "examples/hospital.zw",
        "core_fw",
        iptables_save((built / "core_fw.rules").read_text(), forward_first=rule),
        tmp_path,
    )
    assert code == 1
    [item] = report["items"]
    assert item["kind"] == "permits-too-much" and item["decided_by"][0]["text"].endswith(rule)
    assert item["remediation"][0] == "iptables " + rule.replace("-A ", "-D ", 1)
    assert [(p["src"], p["dst"], p["services"]) for p in item["pairs"]] == [
        ("class guest_wifi (served here)", "class ehr_db (served here)", ["tcp/5432"])
    ]


def test_docker_before_zonewalls_jump_is_drift(built: Path, tmp_path: Path) -> None:
    # dockerd restarted after zonewall's load: its ACCEPT for docker0 comes first
    code, report = audit(
        "examples/hospital.zw",
        "core_fw",
        iptables_save(
            (built / "core_fw.rules").read_text(),
            forward_first="-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
        ),
        tmp_path,
    )
    assert code == 1
    assert report["items"][0]["pairs"][0]["ingress"] == ["docker0"]


def test_a_dnat_to_a_protected_class_is_drift_naming_it(built: Path, tmp_path: Path) -> None:
    # clinicians' https is redirected to the EHR database: their https to ehr_app breaks
    dnat = (
        "-A PREROUTING -i eth1.104 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.41.0.5:443"
    )
    code, report = audit(
        "examples/hospital.zw",
        "core_fw",
        iptables_save((built / "core_fw.rules").read_text(), nat_prerouting=dnat),
        tmp_path,
    )
    assert code == 1
    [item] = report["items"]
    assert item["kind"] == "blocks-needed" and item["decided_by"][0]["text"].endswith(dnat)
    assert item["remediation"][0] == "iptables -t nat " + dnat.replace("-A ", "-D ", 1)
    assert ("class clinician_ws (served here)", "class ehr_app (served here)") in [
        (p["src"], p["dst"]) for p in item["pairs"]
    ]


def test_raw_notrack_on_an_audited_interface_is_refused(built: Path, tmp_path: Path) -> None:
    text = iptables_save((built / "core_fw.rules").read_text()).replace(
        "*raw\n:PREROUTING ACCEPT [881273:612348812]\n:OUTPUT ACCEPT [10233:1622110]\n",
        "*raw\n:PREROUTING ACCEPT [881273:612348812]\n:OUTPUT ACCEPT [10233:1622110]\n"
        "-A PREROUTING -i eth0 -p udp -m udp --dport 514 -j NOTRACK\n",
    )
    code, report = audit("examples/hospital.zw", "core_fw", text, tmp_path)
    assert code == 2 and "raw NOTRACK" in report["error"]["message"]


def test_an_nft_ruleset_with_other_tables_audits_clean(built: Path, tmp_path: Path) -> None:
    code, report = audit(
        "examples/multi-gateway.zw",
        "dc_fw",
        nft_ruleset((built / "mg" / "dc_fw.nft").read_text()),
        tmp_path,
    )
    assert code == 0, report


def test_an_accept_in_another_forward_chain_is_not_final(built: Path, tmp_path: Path) -> None:
    # every base chain at the hook runs: an accept elsewhere does not open zonewall's drops
    code, _ = audit(
        "examples/multi-gateway.zw",
        "dc_fw",
        nft_ruleset(
            (built / "mg" / "dc_fw.nft").read_text(), "\t\tcounter packets 0 bytes 0 accept\n"
        ),
        tmp_path,
    )
    assert code == 0


def test_a_drop_in_another_forward_chain_is_drift_with_its_handle(
    built: Path, tmp_path: Path
) -> None:
    code, report = audit(
        "examples/multi-gateway.zw",
        "dc_fw",
        nft_ruleset(
            (built / "mg" / "dc_fw.nft").read_text(),
            "\t\ttcp dport 2575 counter packets 3 bytes 180 drop # handle 17\n",
        ),
        tmp_path,
    )
    assert code == 1
    item = report["items"][0]
    assert item["kind"] == "blocks-needed"
    assert item["decided_by"][0]["text"].startswith("tcp dport 2575")
    assert item["remediation"][0] == "nft delete rule ip filter FORWARD handle 17"


def test_a_netdev_table_on_an_audited_interface_is_refused(built: Path, tmp_path: Path) -> None:
    text = nft_ruleset((built / "mg" / "dc_fw.nft").read_text()).replace('"eth9"', '"eth0"')
    code, report = audit("examples/multi-gateway.zw", "dc_fw", text, tmp_path)
    assert (
        code == 2 and "netdev table filtering audited interface eth0" in report["error"]["message"]
    )


def test_text_output_counts_match_and_limit_shows_more(built: Path, tmp_path: Path) -> None:
    config = tmp_path / "running.rules"
    config.write_text(
        iptables_save((built / "core_fw.rules").read_text(), forward_first="-A FORWARD -j ACCEPT")
    )
    args = ("audit", "examples/hospital.zw", "--gateway", "core_fw", "--config", str(config))
    proc = zonewall(*args)
    assert proc.returncode == 1
    last = proc.stdout.splitlines()[-1]
    report = json.loads(zonewall(*args, "--format", "json").stdout)
    assert (
        f"drift: {len(report['items'])} item(s), {report['pairs']} class pair(s), "
        f"{report['differences']} difference(s)" in last
    )
    assert proc.stdout.count("fix: iptables -D FORWARD -j ACCEPT") == len(report["items"])
    sarif = json.loads(zonewall(*args, "--format", "sarif", "--limit", "1").stdout)
    assert len(sarif["runs"][0]["results"]) == 1
    assert (
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]
        == report["items"][0]["decided_by"][0]["line"]
    )


def test_an_unreadable_config_is_exit_2(tmp_path: Path) -> None:
    proc = zonewall(
        "audit",
        "examples/hospital.zw",
        "--gateway",
        "core_fw",
        "--config",
        str(tmp_path / "missing.rules"),
    )
    assert proc.returncode == 2 and "cannot read the config" in proc.stderr


def _counters_audit(built: Path, tmp_path: Path, gateway: str, config: str, counters: str) -> dict:
    (tmp_path / "counters.txt").write_text(counters)
    policy = "examples/multi-gateway.zw" if gateway == "dc_fw" else "examples/hospital.zw"
    code, report = audit(
        policy, gateway, config, tmp_path, "--counters", str(tmp_path / "counters.txt")
    )
    assert code == 0, report
    return report["counters"]


def test_iptables_counters_name_the_unused_statements(built: Path, tmp_path: Path) -> None:
    saved = iptables_save((built / "core_fw.rules").read_text())
    zeroed = re.sub(r"(?m)^\[\d+:\d+\]", "[0:0]", saved)
    counted = "\n".join(
        ln.replace("[0:0]", "[5:300]", 1) if "hospital.zw:293 " in ln else ln
        for ln in zeroed.splitlines()
    )
    usage = _counters_audit(built, tmp_path, "core_fw", saved, counted)
    unused = [u["statement"] for u in usage["unused"]]
    assert "examples/hospital.zw:293" not in unused
    assert "examples/hospital.zw:268" in unused and len(unused) == usage["statements"] - 1


def test_iptables_list_counters_are_read_too(built: Path, tmp_path: Path) -> None:
    listing = (
        "Chain zw-p-ad_dc-core_net (1 references)\n"
        "    pkts      bytes target     prot opt in     out     source               "
        "destination\n"
        "      12      720 ACCEPT     6    --  *      *       0.0.0.0/0            "
        "0.0.0.0/0            tcp dpt:53 ctstate NEW /* examples/hospital.zw:293 allow "
        "ad_dc->core_net internal resolvers and time */\n"
        "       0        0 ACCEPT     6    --  *      *       0.0.0.0/0            "
        "0.0.0.0/0            tcp dpt:6514 ctstate NEW /* examples/hospital.zw:297 allow "
        "ad_dc->siem audit logs (HIPAA 164.312(b)) */\n"
    )
    usage = _counters_audit(
        built, tmp_path, "core_fw", iptables_save((built / "core_fw.rules").read_text()), listing
    )
    assert usage["statements"] == 2
    assert [u["statement"] for u in usage["unused"]] == ["examples/hospital.zw:297"]


def test_ios_show_access_lists_hit_counts(built: Path, tmp_path: Path) -> None:
    # `show access-lists` prints no remarks: the config's remarks map entries to statements
    out, acl, quiet = [], None, False
    for line in (built / "dist_sw1.ios").read_text().splitlines():
        m = re.match(r"ip access-list extended (\S+)", line)
        if m:
            acl = m.group(1)
            out.append(f"Extended IP access list {acl}")
        elif acl and line.startswith(" remark "):
            quiet = "hospital.zw:262 " in line
        elif acl and re.match(r" \d+ (permit|deny)", line):
            out.append(f"    {line.strip()}" + ("" if quiet else " (44 matches)"))
        elif not line.startswith(" "):
            acl = None
    usage = _counters_audit(
        built, tmp_path, "dist_sw1", running_config(built), "\n".join(out) + "\n"
    )
    assert [u["statement"] for u in usage["unused"]] == ["examples/hospital.zw:262"]
    assert usage["statements"] > 10


def test_nft_counters(built: Path, tmp_path: Path) -> None:
    ruleset = nft_ruleset((built / "mg" / "dc_fw.nft").read_text())
    counted = ruleset.replace("counter accept", "counter packets 0 bytes 0 accept")
    counted = re.sub(
        r'counter packets 0 bytes 0 (accept comment "examples/multi-gateway.zw:100 )',
        r"counter packets 9 bytes 900 \1",
        counted,
    )
    usage = _counters_audit(built, tmp_path, "dc_fw", ruleset, counted)
    unused = [u["statement"] for u in usage["unused"]]
    assert usage["statements"] > 1 and "examples/multi-gateway.zw:100" not in unused
    assert len(unused) == usage["statements"] - 1


def test_a_missing_jump_suggests_the_load_lines_insert(built: Path, tmp_path: Path) -> None:
    saved = iptables_save((built / "core_fw.rules").read_text())
    saved = re.sub(r"(?m)^\[\d+:\d+\] -A FORWARD -j zw-forward\n", "", saved)
    code, report = audit("examples/hospital.zw", "core_fw", saved, tmp_path)
    assert code == 1
    blocked = [i for i in report["items"] if i["kind"] == "blocks-needed"]
    assert blocked and all(
        i["decided_by"][0]["text"] == ":FORWARD DROP [0:0]"
        and i["remediation"][0] == "iptables -I FORWARD 1 -j zw-forward"
        for i in blocked
    )


def test_config_from_standard_input_and_a_banner_in_latin_1(built: Path) -> None:
    text = running_config(built).replace("Authorised access only.", "Zugriff f\xfcr Befugte.")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zonewall",
            "audit",
            "examples/hospital.zw",
            "--gateway",
            "dist_sw1",
            "--config",
            "-",
        ],
        input=text.encode("latin-1"),
        capture_output=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"<stdin>: gateway 'dist_sw1' (cisco-ios) enforces exactly the policy" in proc.stdout
