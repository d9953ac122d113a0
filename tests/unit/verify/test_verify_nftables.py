"""The nftables evaluator: `nft -f` input and `nft list ruleset` output, the replace idiom,
several base chains, fail-closed errors, and mutations the validator must catch."""

from __future__ import annotations

import pytest
from netaddr import IPAddress
from verify_helpers import EXAMPLES, ROOT, check, edit, gateway_configs, lines_of, output

from kernel_util import netns, require_tool
from zonewall.packets import ICMP, TCP, UDP, PacketSet
from zonewall.verify import Cell, ConfigParseError, Evaluator, Ruleset, parse_nftables

MULTI = ROOT / "examples" / "multi-gateway.zw"
EVERYTHING = PacketSet.everything()

LISTED = """\
table inet zonewall {
    set zc_a {
        type ipv4_addr
        flags interval
        elements = { 10.1.1.0/24, 10.1.3.0-10.1.3.9,
                 10.1.4.1 }
    }

    set ports {
        type inet_service
        elements = { 53, 5000-5010 }
    }

    chain zw_forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iifname "vl10" ip saddr @zc_a jump zo_a comment "from class a"
        iifname "vl1*" ip saddr != @zc_a counter packets 0 bytes 0 drop
        limit rate 5/minute burst 10 packets log prefix "zw_forward "
        counter packets 0 bytes 0 drop
    }

    chain zo_a {
        oifname "vl20" ip daddr 10.1.2.0/24 tcp dport { 443, 8000-8010 } ct state new \
counter packets 0 bytes 0 accept comment "a->b"
        oifname { "vl20", "vl30" } udp dport @ports accept
        meta l4proto icmp icmp type echo-request accept
        ip protocol 47 accept
        tcp dport != 22 return
        tcp dport 22 accept
    }
}
""".replace("\\\n", "").replace("    ", "\t")  # as nft prints it: tabs


def accepted(
    rs: Ruleset, src: str, dst: str, iif: str = "vl10", oif: str = "vl20", state: str = "NEW"
) -> PacketSet:
    s, d = int(IPAddress(src)), int(IPAddress(dst))
    return Evaluator(rs).accepted(Cell(iif, oif, s, s, d, d), (state, 1024, False))


def test_listed_ruleset_parses_and_evaluates() -> None:
    rs = parse_nftables(LISTED, "listed")
    udp = PacketSet.ports(UDP, 53, 53) | PacketSet.ports(UDP, 5000, 5010)
    expected = (
        PacketSet.ports(TCP, 443, 443)
        | PacketSet.ports(TCP, 8000, 8010)
        | udp
        | PacketSet.ports(ICMP, 8, 8)
        | PacketSet.protocol(47)
        | PacketSet.ports(TCP, 22, 22)
    )
    assert accepted(rs, "10.1.1.5", "10.1.2.5") == expected
    assert accepted(rs, "10.1.3.9", "10.1.9.9", oif="vl30") == expected - PacketSet.ports(
        TCP, 443, 443
    ) - PacketSet.ports(TCP, 8000, 8010)
    assert not accepted(rs, "10.1.3.10", "10.1.2.5")  # outside the set's range
    assert not accepted(rs, "10.1.4.2", "10.1.2.5", iif="vl11")  # "vl1*", not in @zc_a
    assert accepted(rs, "9.9.9.9", "10.1.2.5", iif="x", state="ESTABLISHED") == EVERYTHING


NAMES = """\
table inet t {
	chain c {
		type filter hook forward priority filter; policy drop;
		meta l4proto ip accept
		meta l4proto { icmp, igmp, ipv6-icmp, l2tp, 254 } accept
		meta l4proto { 7-16, 18-255 } drop
		icmp type { echo-reply, destination-unreachable, info-request, 30 } accept
		ip protocol gre accept
		limit rate 5/minute burst 10 packets log prefix "x "
	}
}
"""


def test_names_nft_prints_for_protocols_and_icmp_types() -> None:
    """As nft 1.0.6 lists numbers it was given: /etc/protocols and ICMP type names."""
    rs = parse_nftables(NAMES, "listed")
    icmp = PacketSet.protocol(ICMP)
    assert accepted(rs, "1.1.1.1", "2.2.2.2") == (
        PacketSet.protocol(0)
        | icmp
        | PacketSet.protocol(2)
        | PacketSet.protocol(58)
        | PacketSet.protocol(115)
        | PacketSet.protocol(254)
    )


def test_replace_idiom_keeps_only_the_last_definition() -> None:
    stale = (
        "table inet zonewall {\n chain zw_forward {\n  type filter hook forward "
        "priority filter; policy accept;\n }\n}\n"
    )
    fresh = LISTED
    replaced = parse_nftables(stale + "delete table inet zonewall\n" + fresh, "f")
    assert accepted(replaced, "10.1.1.5", "10.1.2.5") == accepted(
        parse_nftables(fresh, "f"), "10.1.1.5", "10.1.2.5"
    )
    with pytest.raises(ConfigParseError, match="delete of missing table"):
        parse_nftables("delete table inet zonewall\n", "f")
    assert parse_nftables("table inet zonewall\ndelete table inet zonewall\n", "f")


def test_every_forward_base_chain_must_accept() -> None:
    other = (
        "table ip other {\n chain fwd {\n  type filter hook forward priority -10; "
        "policy accept;\n  ip daddr 10.1.2.5 tcp dport 443 drop\n }\n}\n"
    )
    rs = parse_nftables(other + LISTED, "f")
    assert PacketSet.ports(TCP, 443, 443) & accepted(rs, "10.1.1.5", "10.1.2.5") == PacketSet()
    assert PacketSet.ports(TCP, 8000, 8000).issubset(accepted(rs, "10.1.1.5", "10.1.2.5"))
    assert len(rs.default_entry) == 2 and rs.default_entry[0] == "ip other fwd"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('iifname . oifname vmap { "a" . "b" : accept }', "cannot read|not modelled"),
        ("ip saddr 10.0.0.0/8 meta mark set 1 accept", "'meta mark' is not modelled"),
        ("tcp flags syn accept", "'tcp flags' is not modelled"),
        ("limit rate 5/second accept", "rate-limited verdict"),
        ("ip saddr @nosuch accept", "set 'nosuch' is undefined"),
        ("jump nowhere", "undefined chain 'nowhere'"),
        ("icmp code 1 accept", "only 'icmp type'"),
        ("ct mark 1 accept", "only 'ct state'"),
        ("ip daddr 10.0.0. accept", "bad ipv4_addr value"),
        ("ip saddr host.example accept", "bad ipv4_addr value"),
        ("accept drop", "'drop' after the verdict"),
        ("ct state new,bogus accept", "ct states new,bogus are not modelled"),
        ("queue", "'queue' is not modelled"),
    ],
    ids=[
        "vmap",
        "meta-mark",
        "tcp-flags",
        "limit-verdict",
        "no-set",
        "no-chain",
        "icmp-code",
        "ct-mark",
        "bad-addr",
        "hostname",
        "two-verdicts",
        "bad-state",
        "queue",
    ],
)
def test_unmodelled_rule_fails_closed(body: str, message: str) -> None:
    text = (
        f"table inet t {{\n chain c {{\n  type filter hook forward priority 0;\n  {body}\n }}\n}}\n"
    )
    with pytest.raises(ConfigParseError, match=message) as info:
        parse_nftables(text, "bad.nft")
    assert info.value.file == "bad.nft"
    assert info.value.line == 4 and info.value.text.strip() == body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("table bridge b { }\n", "family 'bridge' is not modelled"),
        ("define X = 1\n", "'define' is not modelled"),
        (
            "table inet t {\n chain c {\n  type nat hook postrouting priority srcnat;\n }\n}\n",
            "only 'type filter hook",
        ),
        (
            "table inet t {\n chain c {\n  type filter hook prerouting priority 0;\n }\n}\n",
            "hook 'prerouting' is not modelled",
        ),
        ("table inet t {\n set s {\n  type ether_addr\n }\n}\n", "set type 'ether_addr'"),
        ("table inet t {\n flags dormant\n}\n", "'flags' is not modelled in a table"),
        ("table inet t {\n chain c {\n  accept\n", "expected '}'"),
    ],
    ids=["bridge", "define", "nat", "prerouting", "set-type", "dormant", "unclosed-chain"],
)
def test_unmodelled_structure_fails_closed(text: str, message: str) -> None:
    with pytest.raises(ConfigParseError, match=message):
        parse_nftables(text, "bad.nft")


# -- mutations of a generated config --------------------------------------------------------
def dc_text() -> str:
    return output(MULTI, "dc_fw").text


def test_widened_port_range_permits_the_added_ports() -> None:
    old = "        tcp dport 2762 ct state new counter accept"
    diffs = check(MULTI, "dc_fw", edit(dc_text(), old, old.replace("2762", "2762-2770")))
    assert [(d.kind, d.ingress, d.packets) for d in diffs] == [
        ("permits-too-much", "eth1.300", PacketSet.ports(TCP, 2763, 2770))
    ]
    assert diffs[0].rules[0].text.strip().startswith("tcp dport 2762-2770")


def test_set_prefix_widened_lets_a_neighbour_in_as_that_class() -> None:
    """zc_core_svc widened from /28 to /27 also holds hl7_engine's /28: on core_svc's
    interface, hl7_engine addresses now pass as core_svc (a spoofed source)."""
    text = edit(dc_text(), "            10.60.200.48/28\n", "            10.60.200.32/27\n")
    diffs = check(MULTI, "dc_fw", text)
    assert diffs and all(
        d.kind == "permits-too-much" and d.ingress == "eth1.302" and "hl7_engine" in d.src_owner
        for d in diffs
    )


def test_spoof_jump_dropped_or_turned_into_accept() -> None:
    old = "        ip saddr @zw_served jump zw_spoofed comment"
    assert check(MULTI, "dc_fw", edit(dc_text(), old, "        # " + old.strip())) == []
    diffs = check(MULTI, "dc_fw", edit(dc_text(), old, old.replace("jump zw_spoofed", "accept")))
    assert {(d.kind, d.ingress, d.dst) for d in diffs} == {("permits-too-much", "eth0", None)}
    assert {d.src_owner.split(" (")[0] for d in diffs} == {
        "class core_svc",
        "class ehr_app",
        "class hl7_engine",
    }
    assert lines_of(diffs) == {
        old.strip().replace("jump zw_spoofed", "accept")
        + ' "source is a class served here: spoofed"'
    }


def test_accept_all_early_in_the_base_chain() -> None:
    old = (
        "policy drop;\n        ct state established,related accept\n        ct state invalid drop\n"
    )
    diffs = check(MULTI, "dc_fw", edit(dc_text(), old, old + "        accept\n"))
    assert diffs and {d.kind for d in diffs} == {"permits-too-much"}
    assert lines_of(diffs) == {"accept"}


def test_table_defined_twice_without_delete_merges() -> None:
    """Without `delete table`, a second definition appends: stale rules stay in force."""
    stale = (
        "table inet zonewall {\n    chain zw_forward {\n        type filter hook forward"
        " priority filter; policy drop;\n        udp dport 9999 accept\n    }\n}\n"
    )
    text = dc_text().replace("delete table inet zonewall\n", "")
    diffs = check(MULTI, "dc_fw", stale + text)
    ipv4 = [d for d in diffs if d.src != "any IPv6 address"]
    assert ipv4 and {d.packets for d in ipv4} == {PacketSet.ports(UDP, 9999, 9999)}
    assert lines_of(diffs) == {"udp dport 9999 accept"}  # it forwards IPv6 too
    assert check(MULTI, "dc_fw", stale + dc_text()) == []  # with the idiom: replaced


NFT_CASES = [
    (p, o.gateway) for p in EXAMPLES for o in gateway_configs(p) if o.platform == "nftables"
]


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("path", "gateway"), NFT_CASES, ids=[f"{p.stem}-{g}" for p, g in NFT_CASES]
)
def test_nft_list_ruleset_of_the_loaded_config_has_no_difference(
    path: object, gateway: str
) -> None:
    """Loaded twice with nft -f (the replace idiom), read back with nft list ruleset."""
    require_tool("nft")
    text = output(str(path), gateway).text
    with netns() as ns:
        ns.run("nft", "-f", "-", input=text)
        ns.run("nft", "-f", "-", input=text)
        listed = ns.run("nft", "list", "ruleset").stdout
    assert "counter packets 0 bytes 0" in listed
    assert check(str(path), gateway, listed) == []


def test_a_backslash_in_a_string_is_an_ordinary_character() -> None:
    """nft 1.0.6 has no escapes in quoted strings: `"C:\\"` ends at its second quote, so the
    rule after it is read, not swallowed into the comment."""
    text = LISTED.replace('comment "a->b"', 'comment "C:\\ # ; { } \\"')
    assert 'comment "C:\\ # ; { } \\"' in text
    rs = parse_nftables(text, "listed")
    assert accepted(rs, "10.1.1.5", "10.1.2.5") == accepted(
        parse_nftables(LISTED, "l"), "10.1.1.5", "10.1.2.5"
    )


# -- IPv6: the inet table must drop it in forwarding ------------------------------------------
def test_generated_ruleset_drops_ipv6() -> None:
    assert not [d for d in check(MULTI, "dc_fw") if d.src == "any IPv6 address"]


def test_a_rule_without_ipv4_matches_forwards_ipv6_and_is_caught() -> None:
    # "iifname ... tcp dport 22 accept" has no `ip` match, so IPv6 meets it too; the rules
    # that dispatch IPv4 (`ip saddr @...`) never match IPv6 and cannot hide it.
    old = '        iifname "eth1.300" ip saddr @zc_ehr_app jump zo_ehr_app'
    added = '        iifname "eth1.300" tcp dport 22 accept'
    text = edit(dc_text(), old, added + "\n" + old)
    six = [d for d in check(MULTI, "dc_fw", text) if d.src == "any IPv6 address"]
    assert [(d.kind, d.ingress) for d in six] == [("permits-too-much", "eth1.300")]
    assert {r.text for r in six[0].rules} == {added}
    # the same rule behind an IPv4 match is not reachable by IPv6
    ipv4_only = edit(
        dc_text(), old, old.replace("jump zo_ehr_app", "tcp dport 22 accept") + "\n" + old
    )
    assert not [d for d in check(MULTI, "dc_fw", ipv4_only) if d.src == "any IPv6 address"]
