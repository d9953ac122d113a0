"""`zonewall audit` of an nft ruleset from a box that also runs firewalld (issue 15 item 4).

The hospital's core_fw built for nftables, beside firewalld's `table inet firewalld` as
firewalld 1.3 printed it (`device_outputs.firewalld_ruleset`).  firewalld's base chains run
beside zonewall's (forward and input at priority filter + 10) and every chain at a hook must
accept: zones that let the audited flows through audit clean (exit 0); zones that reject
them are drift naming firewalld's deciding `reject` with what to change in firewalld (exit
1); a construct of firewalld's that matters and is not modelled is exit 2 naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from device_outputs import firewalld_ruleset
from test_audit import ROOT, zonewall
from test_audit_devices import audit


@pytest.fixture(scope="module")
def nft_hospital(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The hospital policy with core_fw on nftables, and its built ruleset."""
    out = tmp_path_factory.mktemp("firewalld")
    policy = out / "hospital.zw"
    policy.write_text(
        (ROOT / "examples/hospital.zw")
        .read_text()
        .replace("platform iptables", "platform nftables")
    )
    assert zonewall("build", str(policy), "-o", str(out / "build")).returncode == 0
    return str(policy), (out / "build" / "core_fw.nft").read_text()


def ruleset(nft_hospital: tuple[str, str], variant: str) -> str:
    return firewalld_ruleset(nft_hospital[1], variant)


@pytest.mark.parametrize("variant", ["zones-policies", "trusted"])
def test_firewalld_that_lets_the_flows_through_audits_clean(
    nft_hospital: tuple[str, str], tmp_path: Path, variant: str
) -> None:
    code, report = audit(nft_hospital[0], "core_fw", ruleset(nft_hospital, variant), tmp_path)
    assert code == 0, report["items"][:1]
    skipped = {s["construct"] for s in report["skipped"]}
    assert any("output chain" in c for c in skipped)


def _line_of(text: str, chain: str, rule: str) -> int:
    lines = text.splitlines()
    start = lines.index(f"\tchain {chain} {{")
    return next(n for n in range(start, len(lines)) if lines[n].strip() == rule) + 1


@pytest.mark.parametrize("variant", ["zones-reject", "zones-reject-logged"])
def test_firewalld_zones_that_forward_nothing_between_them_are_drift(
    nft_hospital: tuple[str, str], tmp_path: Path, variant: str
) -> None:
    text = ruleset(nft_hospital, variant)
    code, report = audit(nft_hospital[0], "core_fw", text, tmp_path)
    assert code == 1
    reject = "reject with icmpx admin-prohibited"
    by_line = {i["decided_by"][-1]["line"]: i for i in report["items"]}
    external = by_line[_line_of(text, "filter_FWD_external", reject)]
    internal = by_line[_line_of(text, "filter_FWD_internal", reject)]
    for item in (external, internal):
        assert item["kind"] == "blocks-needed"
        assert item["decided_by"][-1]["text"] == reject
        assert item["remediation"][-1].endswith("systemctl disable --now firewalld")
    assert external["remediation"][0].startswith(
        "firewall-cmd --permanent --zone=trusted --change-interface=eth0  (firewalld's zone "
        "external rejects what zonewall forwards here"
    )
    assert {p["ingress"][0] for p in external["pairs"]} == {"eth0"}
    assert "--change-interface=eth1.10" in internal["remediation"][0]
    # the zone dispatch that sent the packets there is the path
    assert internal["path"][-1]["text"].endswith("goto filter_FWD_internal")
    # to the box: the internal zone takes in ssh but not https, snmp or dhcp
    inbound = [i for i in report["items"] if i["pairs"][0]["dst"] == "gateway:core_fw"]
    assert inbound and all(
        i["remediation"][0].startswith("firewall-cmd --permanent --zone=internal --add-port=")
        for i in inbound
    )
    assert not any(
        "ssh" in p["services"] and p["services"] == ["ssh"] for i in inbound for p in i["pairs"]
    )


def test_firewalld_with_no_zone_bound_rejects_in_the_default_zone(
    nft_hospital: tuple[str, str], tmp_path: Path
) -> None:
    text = ruleset(nft_hospital, "default")
    code, report = audit(nft_hospital[0], "core_fw", text, tmp_path)
    assert code == 1
    line = _line_of(text, "filter_FWD_public", "reject with icmpx admin-prohibited")
    forward = [i for i in report["items"] if i["decided_by"][-1]["line"] == line]
    assert len(forward) == 1 and "zone public rejects" in forward[0]["remediation"][0]
    proc = zonewall(
        "audit", nft_hospital[0], "--gateway", "core_fw", "--config", str(tmp_path / "running.txt")
    )
    assert proc.returncode == 1
    assert f"running.txt:{line}: reject with icmpx admin-prohibited" in proc.stdout


def test_ct_status_dnat_beside_a_dnat_is_refused(
    nft_hospital: tuple[str, str], tmp_path: Path
) -> None:
    # firewalld's forward-port: a DNAT in the zone's nat chain
    text = ruleset(nft_hospital, "zones-policies").replace(
        "\tchain nat_PRE_external_allow {\n",
        "\tchain nat_PRE_external_allow {\n"
        "\t\tmeta nfproto ipv4 tcp dport 8443 dnat ip to 10.40.0.20:443\n",
    )
    code, report = audit(nft_hospital[0], "core_fw", text, tmp_path)
    assert code == 2
    err = report["error"]
    assert err["text"].strip() == "ct status dnat accept"
    assert "dnat ip to 10.40.0.20:443" in err["message"] and "forward-port" in err["message"]


def test_an_ipv4_reverse_path_filter_drops_by_the_policys_routes(
    nft_hospital: tuple[str, str], tmp_path: Path
) -> None:
    strict = "fib saddr . mark . iif oif missing drop"
    text = ruleset(nft_hospital, "zones-policies")
    # on one VLAN: its class's sources pass, the rest are spoofed there anyway
    one = text.replace("meta nfproto ipv6 " + strict, 'iifname "eth1.13" ' + strict)
    assert audit(nft_hospital[0], "core_fw", one, tmp_path)[0] == 0
    # on every interface: no forwarded flow is dropped; a DHCP client's broadcast from
    # 0.0.0.0 passes (the kernel answers the input interface), sent to a unicast address of
    # the box it does not
    code, report = audit(
        nft_hospital[0], "core_fw", text.replace("meta nfproto ipv6 ", ""), tmp_path
    )
    assert code == 1
    for item in report["items"]:
        assert strict in [r["text"] for r in item["decided_by"]]
        assert all(p["dst"] == "gateway:core_fw" for p in item["pairs"])
        assert all(p["services"] == ["dhcp"] for p in item["pairs"])
        assert "from 0.0.0.0" in item["pairs"][0]["example"]
        assert "filter_PREROUTING" in item["remediation"][0]
    # a reverse-path match in a rule that does not drop is refused
    code, report = audit(
        nft_hospital[0],
        "core_fw",
        text.replace("meta nfproto ipv6 " + strict, strict.replace("drop", "accept")),
        tmp_path,
    )
    assert code == 2 and "reverse-path filter is modelled only" in report["error"]["message"]


def test_a_construct_of_firewalld_not_modelled_is_refused_naming_it(
    nft_hospital: tuple[str, str], tmp_path: Path
) -> None:
    # a firewalld policy's tcp-mss-clamp: `tcp flags` is not modelled
    rule = 'oifname "eth0" tcp flags syn tcp option maxseg size set rt mtu'
    text = ruleset(nft_hospital, "zones-policies").replace(
        "\tchain filter_FWD_policy_internal-out_allow {\n",
        f"\tchain filter_FWD_policy_internal-out_allow {{\n\t\t{rule}\n",
    )
    code, report = audit(nft_hospital[0], "core_fw", text, tmp_path)
    assert code == 2
    assert report["error"]["text"].strip() == rule
    assert "'tcp flags' is not modelled" in report["error"]["message"]
