"""IPv6 on IOS: the verifier reads `ipv6 access-list` / `ipv6 traffic-filter` fail-closed and
proves every interface the gateway filters drops IPv6 but neighbour discovery; a missing,
undefined or widened filter, or one that drops ND, is a difference (E404 in build, drift in
audit)."""

from __future__ import annotations

import re

import pytest
from verify_helpers import ROOT, built, check, edit, output

from zonewall.build import translation_problem
from zonewall.verify import ConfigParseError, parse_ios
from zonewall.verify.ios6 import ICMP6, ND_ALL, ND_REQUIRED, v6_findings

HOSPITAL = ROOT / "examples" / "hospital.zw"
GATEWAY = "dist_sw1"


def text() -> str:
    return output(HOSPITAL, GATEWAY).text


def v6_name() -> str:
    (name,) = re.findall(r"^ipv6 access-list (\S+)$", text(), re.MULTILINE)
    return name


def ipv6_diffs(config: str) -> list[tuple[str, str, str]]:
    return [
        (d.kind, d.ingress, d.packets.describe())
        for d in check(HOSPITAL, GATEWAY, config)
        if d.condition.startswith("IPv6")
    ]


def test_generated_config_closes_ipv6_everywhere() -> None:
    rs = parse_ios(text(), "t.ios")
    interfaces = re.findall(r"^interface (\S+)$", text(), re.MULTILINE)
    assert sorted(rs.ipv6) == sorted(interfaces) and interfaces
    for iface, rules in rs.ipv6.items():
        assert v6_findings(iface, rules) == []
    assert check(HOSPITAL, GATEWAY) == []


def test_a_missing_traffic_filter_is_a_difference() -> None:
    binding = f" ipv6 traffic-filter {v6_name()} in\n"
    config = text().replace(binding, "", 1)
    (found,) = [d for d in check(HOSPITAL, GATEWAY, config) if d.condition.startswith("IPv6")]
    assert found.kind == "permits-too-much" and found.dst is None
    assert "no ipv6 traffic-filter bound: permits all IPv6" in found.rules[0].text
    assert not ND_ALL & found.packets and "tcp" in found.packets.describe()


def test_a_widened_filter_is_a_difference_naming_the_line() -> None:
    added = " sequence 45 permit tcp any 2001:DB8::/32 eq 22\n"
    config = edit(text(), " sequence 50 deny", added + " sequence 50 deny")
    diffs = [d for d in check(HOSPITAL, GATEWAY, config) if d.condition.startswith("IPv6")]
    interfaces = re.findall(r"^interface (\S+)$", text(), re.MULTILINE)
    assert sorted(d.ingress for d in diffs) == sorted(interfaces)
    for d in diffs:
        assert d.kind == "permits-too-much" and d.packets.describe() == "tcp/22"
        assert [r.text.strip() for r in d.rules] == [added.strip()]
        assert d.dst == "2001:db8::" and "-> 2001:db8::" in d.example


def test_dropping_neighbour_discovery_is_a_difference() -> None:
    config = edit(
        text(),
        " sequence 10 permit icmp any any nd-ns\n",
        " sequence 5 deny icmp any any nd-ns\n sequence 10 permit icmp any any nd-ns\n",
    )
    kinds = {(k, p) for k, _, p in ipv6_diffs(config)}
    assert kinds == {("blocks-needed", f"proto/{ICMP6}:135-135")}


def test_an_undefined_ipv6_acl_permits_all_ipv6() -> None:
    config = text().replace(f"ipv6 traffic-filter {v6_name()} in", "ipv6 traffic-filter NOPE in")
    diffs = [d for d in check(HOSPITAL, GATEWAY, config) if d.condition.startswith("IPv6")]
    assert diffs and all("IPv6 ACL undefined: permits all IPv6" in d.rules[0].text for d in diffs)


def test_implicit_nd_permits_and_show_running_config_syntax() -> None:
    # no explicit final deny: the implicit nd-na / nd-ns permits and deny ipv6 any any apply
    running = (
        "ipv6 access-list V6\n permit icmp FE80::/10 any router-solicitation\n"
        " deny tcp host 2001:DB8::1 any log-input\n"
        "interface Vlan10\n ipv6 traffic-filter V6 in\n"
    )
    rs = parse_ios(running, "run.ios")
    assert v6_findings("Vlan10", rs.ipv6["Vlan10"]) == []
    opened = parse_ios(running.replace(" deny tcp host", " permit tcp host"), "run.ios")
    (found,) = v6_findings("Vlan10", opened.ipv6["Vlan10"])
    assert found.kind == "permits-too-much" and found.src == "2001:db8::1"
    # a deny of all IPv6 from one host drops its neighbour discovery too
    closed = parse_ios(running.replace(" deny tcp host", " deny ipv6 host"), "run.ios")
    (found,) = v6_findings("Vlan10", closed.ipv6["Vlan10"])
    assert found.kind == "blocks-needed" and found.packets == ND_REQUIRED


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (" permit ipv6 any any dscp af11", "'dscp' is not modelled"),
        (" permit ipv6 2001:DB8::1/32 any", "not an IPv6 address or prefix"),
        (" permit tcp any eq 22 any", "source ports are not modelled"),
        (" permit icmp any any nd-na 1", "ICMPv6 codes are not modelled"),
        (" permit icmp any any mld-v2-report", "ICMPv6 type 'mld-v2-report' is not modelled"),
        (" evaluate REFLEXIVE", "'evaluate' is not modelled in an IPv6 ACL"),
    ],
    ids=["dscp", "host-bits", "source-port", "icmp-code", "icmp-name", "evaluate"],
)
def test_unmodelled_ipv6_is_a_parse_error(line: str, message: str) -> None:
    with pytest.raises(ConfigParseError, match=re.escape(message)):
        parse_ios(
            f"ipv6 access-list V6\n{line}\ninterface Vlan10\n ipv6 traffic-filter V6 in\n", "t.ios"
        )


def test_build_refuses_a_config_without_the_ipv6_filter() -> None:
    compiled, _ = built(str(HOSPITAL))
    plan = next(g for g in compiled.gateways if g.name == GATEWAY)
    out = output(HOSPITAL, GATEWAY)
    assert translation_problem(compiled, plan, out.path, out.text) is None
    widened = out.text.replace(
        " sequence 50 deny ipv6 any any log", " sequence 50 permit ipv6 any any"
    )
    problem = translation_problem(compiled, plan, out.path, widened)
    assert problem is not None and problem.code == "E404"
    assert any("IPv6" in note for note, _ in problem.notes)
