"""Edges of the config readers that mutation testing (`tools/mutate.py`) found unpinned: each
test holds one boundary a one-character change would move without any other test noticing."""

from __future__ import annotations

import pytest
from netaddr import IPAddress
from verify_helpers import ROOT, built, check, edit, output

from zonewall.packets import PacketSet
from zonewall.verify import (
    Cell,
    ConfigParseError,
    Evaluator,
    parse_iptables,
    parse_nftables,
    validate,
)

DBA = ROOT / "examples" / "deny-beats-allow.zw"


def ipt(body: str) -> str:
    return (
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        + body
        + "COMMIT\n"
    )


def accepted_from(text: str, sport: int) -> PacketSet:
    s, d = int(IPAddress("10.0.0.1")), int(IPAddress("10.0.1.1"))
    ev = Evaluator(parse_iptables(text, "t.rules"))
    return ev.accepted(Cell("eth1", "eth2", s, s, d, d), ("NEW", sport, False))


@pytest.mark.parametrize(
    ("sport", "passes"),
    [(0, True), (999, True), (1000, False), (2000, False), (2001, True), (65535, True)],
)
def test_negated_source_port_range_is_its_exact_complement(sport: int, passes: bool) -> None:
    text = ipt("-A FORWARD -p tcp -m tcp ! --sport 1000:2000 -j ACCEPT\n")
    assert bool(accepted_from(text, sport)) == passes


def test_user_chain_names_up_to_28_characters() -> None:
    # iptables: "chain name `...' too long (must be under 29 chars)"
    ok = "c" * 28
    parse_iptables(ipt(f":{ok} - [0:0]\n-A FORWARD -j {ok}\n"), "t.rules")
    with pytest.raises(ConfigParseError, match="bad chain name"):
        parse_iptables(ipt(f":{ok}x - [0:0]\n"), "t.rules")


NFT = "table ip t {\n\tchain c {\n\t\ttype filter hook forward priority filter; policy drop;\n"


def test_nft_protocol_numbers_end_at_255() -> None:
    parse_nftables(NFT + "\t\tmeta l4proto 255 accept\n\t}\n}\n", "t.nft")
    with pytest.raises(ConfigParseError, match="256"):
        parse_nftables(NFT + "\t\tmeta l4proto 256 accept\n\t}\n}\n", "t.nft")


def test_nft_chain_policy_is_traced_to_its_own_line() -> None:
    rs = parse_nftables("\n" + NFT + "\t}\n}\n", "t.nft")
    ref = rs.chains["ip t c"].policy_ref
    assert ref is not None and ref.line == 4
    assert ref.text.strip() == "type filter hook forward priority filter; policy drop;"


def test_nft_input_cut_short_is_a_parse_error_at_its_last_line() -> None:
    with pytest.raises(ConfigParseError) as err:
        parse_nftables(NFT + "\t\tip saddr", "t.nft")
    assert err.value.line == 4


def test_ip6tables_companion_that_forwards_is_a_leak() -> None:
    compiled, _ = built(str(DBA))
    text = output(DBA, "fw", "ipv6-companion").text
    assert validate(compiled, "fw", text, "ip6tables", filename="fw.rules6") == []
    leaky = edit(
        text,
        "-A zw-forward -i eth1.100 -j zw-ipv6-closed\n",
        "-A zw-forward -i eth1.100 -o eth1.101 -j ACCEPT\n"
        "-A zw-forward -i eth1.100 -j zw-ipv6-closed\n",
    )
    diffs = validate(compiled, "fw", leaky, "ip6tables", filename="fw.rules6")
    assert diffs and {d.ingress for d in diffs} == {"eth1.100"}
    assert {d.kind for d in diffs} == {"permits-too-much"}


def test_nft_table_left_open_is_a_parse_error_at_its_last_line() -> None:
    with pytest.raises(ConfigParseError) as err:
        parse_nftables("table ip t {\n", "t.nft")
    assert err.value.line == 1


def test_ios_protocol_numbers_start_at_1() -> None:
    from zonewall.verify import parse_ios

    text = (
        "ip access-list extended T\n 10 permit 1 any any\n 20 permit 255 any any\n"
        "interface Vlan10\n ip access-group T in\n"
    )
    ev = Evaluator(parse_ios(text, "t.ios"))
    got = ev.accepted(Cell("Vlan10", None, 1, 1, 2, 2), (None, 1024, False))
    assert got == PacketSet.protocol(1) | PacketSet.protocol(255)


@pytest.mark.parametrize(
    "rule",
    [
        "-A zw-forward -s 2001:db8::/32 -j ACCEPT\n",
        "-A zw-forward -p tcp -j ACCEPT\n",
        "-A zw-forward ! -i eth1.100 -j ACCEPT\n",
    ],
    ids=["address", "protocol", "negated-interface"],
)
def test_ip6tables_companion_beyond_interfaces_fails_closed(rule: str) -> None:
    compiled, _ = built(str(DBA))
    text = output(DBA, "fw", "ipv6-companion").text
    changed = edit(
        text,
        "-A zw-forward -i eth1.100 -j zw-ipv6-closed\n",
        rule + "-A zw-forward -i eth1.100 -j zw-ipv6-closed\n",
    )
    with pytest.raises(ConfigParseError):
        validate(compiled, "fw", changed, "ip6tables", filename="fw.rules6")


@pytest.mark.parametrize(("request_type", "reply_type"), [(8, 0), (13, 14), (15, 16), (17, 18)])
def test_conntrack_icmp_replies_are_the_pairs_conntrack_knows(
    request_type: int, reply_type: int
) -> None:
    text = ipt(
        "-A FORWARD -p icmp -m icmp --icmp-type "
        f"{reply_type} -m conntrack --ctstate ESTABLISHED -j ACCEPT\n"
    )
    ev = Evaluator(parse_iptables(text, "t.rules"))
    flows = PacketSet.ports(1, request_type, request_type)
    assert ev.reply_permitted("eth1", "eth2", "10.0.1.1", "10.0.0.1", flows) == flows
    for other in {8, 13, 15, 17} - {request_type}:  # their replies are other types
        flows = PacketSet.ports(1, other, other)
        assert not ev.reply_permitted("eth1", "eth2", "10.0.1.1", "10.0.0.1", flows)


@pytest.mark.parametrize(
    "rule",
    ["-A FORWARD -j ACCEPT -j DROP\n", "-A FORWARD ! -j ACCEPT\n"],
    ids=["two-targets", "negated-target"],
)
def test_iptables_rule_with_a_second_or_negated_target_fails_closed(rule: str) -> None:
    with pytest.raises(ConfigParseError, match="a second or negated target"):
        parse_iptables(ipt(rule), "t.rules")


@pytest.mark.parametrize(
    ("seq", "ok"), [(0, False), (1, True), (2147483647, True), (2147483648, False)]
)
def test_ios_ipv6_sequence_numbers_run_from_1_to_2147483647(seq: int, ok: bool) -> None:
    from zonewall.verify import parse_ios

    acl = (
        f"ipv6 access-list V6\n sequence {seq} deny ipv6 any any\n"
        "interface Vlan10\n ipv6 traffic-filter V6 in\n"
    )
    if ok:
        parse_ios(acl, "t.ios")
    else:
        with pytest.raises(ConfigParseError):
            parse_ios(acl, "t.ios")


@pytest.mark.parametrize(
    ("rule", "untested"),
    [
        ("-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT\n", True),
        ("-A FORWARD -p tcp -m tcp --sport 1024:65535 --dport 22 -j ACCEPT\n", False),
        ("-A FORWARD -p udp -m udp --sport 0 -j DROP\n", False),
        ("-A FORWARD -p udp -m udp --sport 0:1 -j DROP\n", False),  # classes 0-1 and 2-65535
    ],
)
def test_source_ports_are_untested_only_when_no_rule_names_one(rule: str, untested: bool) -> None:
    # `source_ports_untested` lets the comparison check a whole row in one walk; it must be
    # true exactly when every source port falls in one class.
    ev = Evaluator(parse_iptables(ipt(rule), "t.rules"))
    assert ev.source_ports_untested is untested
    assert (ev.sport_cuts(Cell("eth1", "eth2", 1, 1, 2, 2)) == [0]) is untested


@pytest.mark.parametrize(
    ("entry", "ports"),
    [
        ("permit tcp any any lt 1024", (0, 1023)),
        ("permit tcp any any gt 1023", (1024, 65535)),
        ("permit tcp any any lt 1", (0, 0)),
        ("permit tcp any any lt 0", None),
        ("permit tcp any any gt 65535", None),
        ("permit tcp any any neq 0", (1, 65535)),
    ],
)
def test_ios_lt_gt_and_neq_leave_out_their_own_port(entry: str, ports: tuple | None) -> None:  # type: ignore[type-arg]
    from zonewall.packets import TCP
    from zonewall.verify import parse_ios

    text = f"ip access-list extended T\n {entry}\ninterface Vlan10\n ip access-group T in\n"
    ev = Evaluator(parse_ios(text, "t.ios"))
    got = ev.accepted(Cell("Vlan10", None, 1, 1, 2, 2), (None, 1024, False))
    assert got == (PacketSet.ports(TCP, *ports) if ports else PacketSet())


@pytest.mark.parametrize("out", ["-o docker0", "--out-interface docker0"])
def test_iptables_save_filter_rule_for_another_egress_is_skipped(out: str) -> None:
    # A rule only for packets leaving an interface that is not audited cannot matter, even
    # with a match the verifier does not model (it is skipped and counted, not refused).
    from zonewall.verify.iptables_tables import Device, parse_iptables_device

    text = ipt(f"-A FORWARD -i eth1 {out} -m mark --mark 0x1 -j ACCEPT\n")
    device = Device(frozenset({"eth1", "eth2"}), frozenset({"eth1"}))
    parse_iptables_device(text, "saved.rules", device)
    assert dict(device.skipped) == {
        "filter rule for packets leaving other interfaces (not modelled, cannot matter)": 1
    }


@pytest.mark.parametrize(
    ("number", "read"),
    [(99, False), (100, True), (199, True), (200, False), (1999, False), (2000, True)]
    + [(2699, True), (2700, False)],
)
def test_ios_numbered_extended_acls_are_read_in_their_two_ranges(number: int, read: bool) -> None:
    from zonewall.verify import parse_ios

    text = (
        f"ip access-list extended {number}\n 10 permit tcp any any eq 22\n"
        f"interface Vlan10\n ip access-group {number} in\n"
    )
    if read:
        ev = Evaluator(parse_ios(text, "t.ios"))
        got = ev.accepted(Cell("Vlan10", None, 1, 1, 2, 2), (None, 1024, False))
        assert got == PacketSet.ports(6, 22, 22)
    else:
        with pytest.raises(ConfigParseError, match="numbered ACLs are not modelled"):
            parse_ios(text, "t.ios")


def test_nft_base_chains_run_in_priority_order_with_offsets() -> None:
    chains = [("a", "filter + 10"), ("b", "filter - 5"), ("c", "filter +1"), ("d", "-3")]
    text = "table ip t {\n" + "".join(
        f"\tchain {name} {{\n\t\ttype filter hook forward priority {prio}; policy accept;\n\t}}\n"
        for name, prio in chains
    )
    rs = parse_nftables(text + "}\n", "t.nft")
    assert rs.default_entry == ("ip t b", "ip t d", "ip t c", "ip t a")  # -5, -3, 1, 10
    with pytest.raises(ConfigParseError, match="bad priority offset"):
        parse_nftables(text.replace("filter + 10", "filter + x") + "}\n", "t.nft")


def test_nft_script_flush_add_table_and_set_attributes() -> None:
    # What `nft -f` reads: `flush ruleset` forgets the tables before it; `add table`; a set
    # with flags, a comment and ranges.
    text = (
        "table ip old {\n\tchain c {\n\t\ttype filter hook forward priority 0; policy accept;\n"
        "\t}\n}\nflush ruleset\nadd table ip t\ntable ip t {\n\tset s {\n\t\ttype inet_service\n"
        '\t\tflags interval, constant\n\t\tcomment "ports"\n\t\telements = { 22, 80-81 }\n\t}\n'
        "\tchain c {\n\t\ttype filter hook forward priority 0; policy drop;\n"
        "\t\ttcp dport @s accept\n\t}\n}\n"
    )
    rs = parse_nftables(text, "t.nft")
    assert list(rs.chains) == ["ip t c"] and rs.default_entry == ("ip t c",)
    got = Evaluator(rs).accepted(Cell("a", "b", 1, 1, 2, 2), ("NEW", 1024, False))
    assert got == PacketSet.ports(6, 22, 22) | PacketSet.ports(6, 80, 81)
    with pytest.raises(ConfigParseError, match="set flags interval, timeout are not modelled"):
        parse_nftables(text.replace("interval, constant", "interval, timeout"), "t.nft")


@pytest.mark.parametrize("states", ["{ established, related }", "established,related"])
def test_nft_ct_state_lists_in_braces_or_with_commas(states: str) -> None:
    rs = parse_nftables(
        NFT + f"\t\tct state {states} accept\n\t\ttcp dport 22 accept\n\t}}\n}}\n", "t.nft"
    )
    ev, cell = Evaluator(rs), Cell("a", "b", 1, 1, 2, 2)
    assert ev.accepted(cell, ("ESTABLISHED", 1024, False)) == PacketSet.everything()
    assert ev.accepted(cell, ("NEW", 1024, False)) == PacketSet.ports(6, 22, 22)
    with pytest.raises(ConfigParseError, match="ct states new,bogus are not modelled"):
        parse_nftables(NFT + "\t\tct state { new, bogus } accept\n\t}\n}\n", "t.nft")


@pytest.mark.parametrize(
    ("reject", "error"),
    [
        ("reject", None),
        ("reject with tcp reset", None),
        ("reject with icmp type port-unreachable", None),
        ("reject with icmpx type admin-prohibited", None),
        ("reject with tcp rst", "bad reject"),
        ("reject with icmp code 3", "bad reject"),
        ("reject with foo", "reject with 'foo' is not modelled"),
    ],
)
def test_nft_reject_in_each_spelling_drops(reject: str, error: str | None) -> None:
    text = NFT + f"\t\ttcp dport 22 {reject}\n\t\tmeta l4proto 6 accept\n\t}}\n}}\n"
    if error is not None:
        with pytest.raises(ConfigParseError, match=error):
            parse_nftables(text, "t.nft")
        return
    got = Evaluator(parse_nftables(text, "t.nft")).accepted(
        Cell("a", "b", 1, 1, 2, 2), ("NEW", 1024, False)
    )
    assert got == PacketSet.protocol(6) - PacketSet.ports(6, 22, 22)


@pytest.mark.parametrize(
    ("proto", "ok"), [("0", True), ("47", True), ("255", True), ("256", False)]
)
def test_ios_ipv6_protocol_numbers_end_at_255(proto: str, ok: bool) -> None:
    from zonewall.verify import parse_ios

    acl = f"ipv6 access-list V6\n permit {proto} any any\n"
    text = acl + "interface Vlan10\n ipv6 traffic-filter V6 in\n"
    if ok:
        parse_ios(text, "t.ios")
    else:
        with pytest.raises(ConfigParseError, match=f"IPv6 protocol '{proto}' is not modelled"):
            parse_ios(text, "t.ios")


@pytest.mark.parametrize(
    ("rule", "all_of_it"),
    [("-p all", True), ("-p 0", True), ("! -p all", False), ("-p 255", False)],
)
def test_iptables_protocol_all_and_0_match_every_packet(rule: str, all_of_it: bool) -> None:
    got = accepted_from(ipt(f"-A FORWARD {rule} -j ACCEPT\n"), 1024)
    if rule == "-p 255":
        assert got == PacketSet.protocol(255)
    else:
        assert got == (PacketSet.everything() if all_of_it else PacketSet())


def test_iptables_save_negated_addrtype_local_sends_only_forwarded_packets() -> None:
    from zonewall.verify.iptables_tables import Device, parse_iptables_device

    nat = (
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        ":POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n"
        "-A PREROUTING -m addrtype ! --dst-type LOCAL -j DOCKER\n"
        "-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\nCOMMIT\n"
    )
    device = Device(frozenset({"eth1"}), frozenset({"eth1"}))
    rs = parse_iptables_device(nat + ipt(""), "saved.rules", device)
    assert [r.target for r in rs.chains["nat PREROUTING"].rules] == ["nat DOCKER"]
    assert rs.chains["nat PREROUTING (to the box)"].rules == ()


@pytest.mark.parametrize(
    ("statement", "keys"),
    [
        ("ct mark set meta mark accept", PacketSet.everything()),
        ("meta mark set 0x1 accept", PacketSet.everything()),
        ("ct mark set 0x2 tcp dport 22 accept", PacketSet.ports(6, 22, 22)),
    ],
)
def test_nft_device_mark_setting_is_read_past(statement: str, keys: PacketSet) -> None:
    # On an audited device, setting a mark decides nothing: the rule's matches and verdict
    # after it are read as usual (`meta mark` as the value is two words).
    from zonewall.verify.iptables_tables import Device

    text = (
        "table inet f {\n\tchain fwd {\n\t\ttype filter hook forward priority 0; policy drop;\n"
        f"\t\t{statement}\n\t}}\n}}\n"
    )
    device = Device(frozenset({"eth1"}), frozenset({"eth1"}))
    rs = parse_nftables(text, "rs.nft", device=device)
    got = Evaluator(rs).accepted(Cell("eth1", "eth2", 1, 1, 2, 2), ("NEW", 1024, False))
    assert got == keys


def test_nft_set_of_a_type_not_modelled_is_skipped_on_a_device_refused_otherwise() -> None:
    from zonewall.verify.iptables_tables import Device

    text = (
        "table inet f {\n\tset macs {\n\t\ttype ether_addr\n"
        "\t\telements = { 00:11:22:33:44:55 }\n\t}\n"
        "\tchain fwd {\n\t\ttype filter hook forward priority 0; policy accept;\n\t}\n}\n"
    )
    device = Device(frozenset({"eth1"}), frozenset({"eth1"}))
    rs = parse_nftables(text, "rs.nft", device=device)
    assert rs.default_entry == ("inet f fwd",)
    assert dict(device.skipped) == {
        "nft set of type ether_addr (a rule using it is refused unless it cannot matter)": 1
    }
    with pytest.raises(ConfigParseError, match="set type 'ether_addr' is not modelled"):
        parse_nftables(text, "rs.nft")


@pytest.mark.parametrize(("devices", "refused"), [("eth1, eth8", True), ("eth9, eth8", False)])
def test_nft_inet_ingress_chain_on_an_audited_interface_is_refused(
    devices: str, refused: bool
) -> None:
    from zonewall.verify.iptables_tables import Device

    text = (
        "table inet f {\n\tchain i {\n\t\ttype filter hook ingress priority -500; policy accept;\n"
        f"\t\tdevices = {{ {devices} }}\n\t}}\n}}\n"
    )
    device = Device(frozenset({"eth1"}), frozenset({"eth1"}))
    if refused:
        with pytest.raises(ConfigParseError, match="ingress chain on audited interface eth1") as e:
            parse_nftables(text, "rs.nft", device=device)
        assert e.value.line == 4
    else:
        assert parse_nftables(text, "rs.nft", device=device).default_entry == ()


@pytest.mark.parametrize("start", ["@ ", '"'])
def test_nft_unreadable_text_at_the_start_of_a_line_is_a_parse_error(start: str) -> None:
    text = f"{start}table ip t {{\n" + NFT.split("\n", 1)[1] + "\t}\n}\n"
    with pytest.raises(ConfigParseError, match=f"cannot read '{start.strip()}'") as e:
        parse_nftables(text, "t.nft")
    assert e.value.line == 1


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("10.0.0.255/255.255.255.255", (0x0A0000FF, 0x0A0000FF)),
        ("255.255.255.0/255.255.255.0", (0xFFFFFF00, 0xFFFFFFFF)),
        ("10.0.0.256/255.255.255.255", None),
    ],
)
def test_dotted_mask_prefixes_take_octets_up_to_255(text: str, interval: tuple | None) -> None:  # type: ignore[type-arg]
    from zonewall.verify.rules import parse_prefix

    if interval is None:
        with pytest.raises(ValueError, match="not an IPv4 address"):
            parse_prefix(text)
    else:
        assert parse_prefix(text) == interval


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_an_extra_accept_beside_the_policys_own_is_reported(before: bool) -> None:
    # The one-walk quick check (`accepted_many`) must gather every ACCEPT of a chain: were
    # it to keep only the first or the last, the cell's keys would equal the policy's and
    # the extra port would never be compared.
    text = output(DBA, "fw").text
    own = next(ln for ln in text.splitlines() if ln.startswith("-A zw-p-ct_mr-pacs -p tcp"))
    extra = "-A zw-p-ct_mr-pacs -p tcp -m tcp --dport 2323 -m conntrack --ctstate NEW -j ACCEPT"
    both = f"{extra}\n{own}" if before else f"{own}\n{extra}"
    (diff,) = check(DBA, "fw", edit(text, own, both))
    assert diff.kind == "permits-too-much" and diff.packets == PacketSet.ports(6, 2323, 2323)


def test_audit_errors_name_the_file_and_say_what_to_do() -> None:
    from zonewall.verify import audit_config
    from zonewall.verify.audit import TODO

    compiled, _ = built(str(DBA))
    text = output(DBA, "fw").text.replace("COMMIT", "-A FORWARD -j ACCEPT\nCOMMIT", 1)
    for filename, shown in (("saved.rules", "saved.rules"), (None, "<fw>")):
        with pytest.raises(ConfigParseError) as e:
            audit_config(compiled, "fw", text, "iptables", filename=filename)
        assert e.value.file == shown and e.value.message.endswith(TODO)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("permit tcp", "expected an address"),
        ("permit tcp any", "expected an address"),
        ("permit tcp any any eq", "expected a port"),
    ],
)
def test_ios_entry_cut_short_says_what_was_expected(entry: str, expected: str) -> None:
    from zonewall.verify import parse_ios

    text = f"ip access-list extended T\n {entry}\ninterface Vlan10\n ip access-group T in\n"
    with pytest.raises(ConfigParseError, match=expected) as e:
        parse_ios(text, "t.ios")
    assert e.value.line == 2
