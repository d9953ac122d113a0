"""The IOS evaluator: ACL syntax (zonewall's and show-running-config's), stateless reply
semantics, fail-closed errors, and mutations the validator must catch."""

from __future__ import annotations

import re

import pytest
from netaddr import IPAddress
from verify_helpers import ROOT, built, check, edit, lines_of, output, write_policy

from zonewall.packets import ICMP, TCP, UDP, PacketSet
from zonewall.verify import (
    Cell,
    ConfigParseError,
    Difference,
    Evaluator,
    Ruleset,
    parse_ios,
    validate,
)

HOSPITAL = ROOT / "examples" / "hospital.zw"
EVERYTHING = PacketSet.everything()


def accepted(
    rs: Ruleset, iif: str, src: str, dst: str, sport: int = 1024, ack: bool = False
) -> PacketSet:
    s, d = int(IPAddress(src)), int(IPAddress(dst))
    return Evaluator(rs).accepted(Cell(iif, None, s, s, d, d), (None, sport, ack))


ACL = """\
ip access-list extended T
 remark r
 permit tcp host 10.0.0.1 eq www 10.0.1.0 0.0.0.255 established
 permit udp 10.0.0.0 0.0.0.255 gt 1023 any range 5000 5010
 deny   tcp any neq 25 any lt 100
 permit tcp any any eq 22 443 log
 permit icmp 10.0.0.0 0.0.0.255 any echo
 permit gre any any
!
interface Vlan10
 description test
 ip address 10.0.0.1 255.255.255.0
 ip access-group T in
 no shutdown
!
end
"""


def test_stateless_entries() -> None:
    rs = parse_ios(ACL, "t.ios")
    base = (
        PacketSet.ports(TCP, 22, 22)
        | PacketSet.ports(TCP, 443, 443)
        | PacketSet.ports(ICMP, 8, 8)
        | PacketSet.protocol(47)
    )
    # udp: only from source ports above 1023; tcp/22: denied unless from source port 25
    assert accepted(rs, "Vlan10", "10.0.0.1", "10.0.1.9") == base - PacketSet.ports(
        TCP, 22, 22
    ) | PacketSet.ports(UDP, 5000, 5010)
    # host 10.0.0.1 from www with ACK/RST: every TCP port (the established entry is first)
    assert accepted(rs, "Vlan10", "10.0.0.1", "10.0.1.9", sport=80, ack=True) == (
        PacketSet.protocol(TCP) | PacketSet.ports(ICMP, 8, 8) | PacketSet.protocol(47)
    )
    assert accepted(rs, "Vlan10", "10.0.0.1", "10.0.1.9", sport=80) == base - PacketSet.ports(
        TCP, 22, 22
    )
    assert accepted(rs, "Vlan10", "10.0.0.2", "10.0.1.9", sport=25) == base
    assert accepted(rs, "Vlan10", "10.0.0.2", "10.0.1.9", sport=80, ack=True) == (
        base - PacketSet.ports(TCP, 22, 22)
    )
    assert accepted(rs, "Vlan99", "1.1.1.1", "2.2.2.2") == EVERYTHING  # no ACL bound


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("interface Vlan10\n ip access-group NOPE in\n", "undefined"),
        (
            "ip access-list extended E\n remark nothing yet\ninterface Vlan10\n"
            " ip access-group E in\n",
            "empty",
        ),
    ],
    ids=["undefined", "empty"],
)
def test_undefined_or_empty_acl_permits_everything(text: str, why: str) -> None:
    rs = parse_ios(text, "t.ios")
    assert accepted(rs, "Vlan10", "1.1.1.1", "2.2.2.2") == EVERYTHING
    ev = Evaluator(rs)
    (piece,) = ev.explain(Cell("Vlan10", None, 1, 1, 2, 2), (None, 0, False))
    assert f"ACL {why}: permits everything" in piece.ref.text


def test_sequence_numbers_order_the_entries() -> None:
    text = (
        "ip access-list extended T\n 20 deny ip any any\n permit tcp any any eq 80\n"
        " 10 permit tcp any any eq 22\ninterface Vlan10\n ip access-group T in\n"
    )
    rs = parse_ios(text, "t.ios")  # the unnumbered entry is 30: after the deny
    assert accepted(rs, "Vlan10", "1.1.1.1", "2.2.2.2") == PacketSet.ports(TCP, 22, 22)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (" permit ip object-group G any", "object group 'G' is not defined"),
        (" permit ip 10.0.0.0 0.0.2.255 any", "non-contiguous wildcard"),
        (" permit icmp any any 3 1", "ICMP codes are not modelled"),
        (" permit icmp any any host-unreachable", "ICMP type 'host-unreachable'"),
        (" permit tcp any any dscp ef", "'dscp' is not modelled"),
        (" permit ip any eq 80 any", "port operators need tcp or udp"),
        (" permit tcp any any eq https", "port 'https' is not modelled"),
        (" permit 0 any any", "protocol '0' is not modelled"),
        (" permit udp any any established", "'established' is not modelled"),
        (" evaluate reflexive", "'evaluate' is not modelled"),
        (" 10 permit ip any any\n 10 deny ip any any", "duplicate sequence number 10"),
    ],
    ids=[
        "object-group",
        "wildcard",
        "icmp-code",
        "icmp-name",
        "dscp",
        "ip-port",
        "port-name",
        "proto-0",
        "udp-established",
        "reflexive",
        "duplicate-seq",
    ],
)
def test_unmodelled_entry_fails_closed(line: str, message: str) -> None:
    text = f"ip access-list extended T\n{line}\n"
    with pytest.raises(ConfigParseError, match=message) as info:
        parse_ios(text, "bad.ios")
    assert info.value.file == "bad.ios" and info.value.line == text.count("\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interface Vlan10\n ip access-group T out\n", "only 'ip access-group NAME in'"),
        ("interface Vlan10\n shutdown\n", "interface command is not modelled"),
        ("interface Vlan10\n ip nat inside\n", "interface command is not modelled"),
        ("access-list 101 permit ip any any\n", "command is not modelled"),
        ("ip access-list standard 100\n", "numbered ACLs are not modelled"),
        ("ip access-list standard S\n permit object-group G\n", "object groups are not modelled"),
        ("ip access-list standard S\n permit any eq 22\n", "'eq 22' is not modelled"),
        ("line vty 0 15\n access-class S out\n", "only 'access-class NAME in"),
        ("line vty 0 15\n transport input rlogin\n", "transport 'rlogin' is not modelled"),
        ("line vty 0 15\n autocommand x\n", "vty line command is not modelled"),
        ("line con 0\n", "command is not modelled"),
        ("interface Vlan10\n ip address dhcp\n", "expected 'ip address"),
        ("ip access-list extended 99\n", "numbered ACLs are not modelled"),
        ("hostname sw1\n", "command is not modelled"),
        (" permit ip any any\n", "outside an ACL, interface or vlan block"),
        ("vlan 10\n name X\n state suspend\n", "only 'name' is modelled"),
    ],
    ids=[
        "out",
        "shutdown",
        "nat",
        "numbered",
        "standard-numbered",
        "standard-group",
        "standard-port",
        "vty-out",
        "vty-transport",
        "vty-command",
        "line-con",
        "address-dhcp",
        "numbered-name",
        "hostname",
        "orphan",
        "vlan-state",
    ],
)
def test_unmodelled_command_fails_closed(text: str, message: str) -> None:
    with pytest.raises(ConfigParseError, match=message):
        parse_ios(text, "bad.ios")


# -- mutations of a generated config --------------------------------------------------------
def sw_text() -> str:
    return output(HOSPITAL, "dist_sw1").text


def from_hosts(diffs: list[Difference]) -> list[Difference]:
    """The differences whose source is not one of the switch's own (SVI) addresses: those
    addresses are groups of their own (traffic to them is the gateway plane), so a finding
    about their class as a source is also reported once for them."""
    return [
        d
        for d in diffs
        if not re.fullmatch(r"10\.\d+\.\d+\.(1|129|193|33|113)|10\.9\.\d\.1", d.src)
    ]


def ace(text: str, body: str) -> str:
    """The one entry line (sequence number and newline included) whose entry is `body`."""
    (line,) = re.findall(rf"^ \d+ {re.escape(body)}\n", text, re.MULTILINE)
    return str(line)


def test_missing_established_line_blocks_the_replies_of_those_flows() -> None:
    line = ace(sw_text(), "permit tcp 10.40.16.0 0.0.3.255 eq 443 10.40.40.0 0.0.0.15 established")
    diffs = from_hosts(check(HOSPITAL, "dist_sw1", edit(sw_text(), line, "")))
    assert len(diffs) == 1
    (d,) = diffs
    assert d.kind == "reply-blocked"
    assert d.ingress == "Vlan110"
    assert d.src_owner.startswith("class infusion_pump") and d.dst_owner.startswith(
        "class pump_server"
    )
    assert d.packets == PacketSet.ports(TCP, 443, 443)
    assert d.flows == "replies to pump_server -> infusion_pump"
    assert [r.text.strip().split(" ", 1)[1] for r in d.rules] == ["deny ip any any log"]
    assert d.example.endswith("ACK")


def test_missing_udp_return_line_blocks_the_replies_of_those_flows() -> None:
    line = ace(sw_text(), "permit udp 10.40.26.0 0.0.0.15 eq 24105 10.40.24.0 0.0.1.255")
    diffs = from_hosts(check(HOSPITAL, "dist_sw1", edit(sw_text(), line, "")))
    assert [(d.kind, d.ingress, d.packets, d.flows) for d in diffs] == [
        (
            "reply-blocked",
            "Vlan121",
            PacketSet.ports(UDP, 24105, 24105),
            "replies to patient_monitor -> central_station",
        )
    ]


def test_widened_port_range_permits_the_added_ports() -> None:
    diffs = check(HOSPITAL, "dist_sw1", edit(sw_text(), "range 5100 5109", "range 5100 5119"))
    # (the switch's own address in the class is a source group of its own: reported too)
    assert {(d.kind, d.ingress, d.packets) for d in diffs} == {
        ("permits-too-much", "Vlan108", PacketSet.ports(TCP, 5110, 5119))
    }
    assert lines_of(diffs) == {
        ace(sw_text(), "permit tcp 10.40.0.128 0.0.0.63 10.40.2.80 0.0.0.15 range 5100 5109")
        .strip()
        .replace("5109", "5119")
    }


def test_prefix_widened_from_24_to_23() -> None:
    old = ace(
        sw_text(), "permit tcp 198.51.100.0 0.0.0.255 eq 443 10.40.2.0 0.0.0.31 established"
    ).rstrip("\n")
    diffs = check(HOSPITAL, "dist_sw1", edit(sw_text(), old, old.replace("0.0.0.255", "0.0.1.255")))
    assert [(d.kind, d.ingress, d.condition) for d in diffs] == [
        ("permits-too-much", "TenGigabitEthernet1/1/1", "source port 443; TCP with ACK or RST")
    ]
    assert diffs[0].src.startswith("198.51.101.0") and "ct_mr" in diffs[0].dst_owner


@pytest.mark.parametrize(
    ("line", "src"),
    [
        (" 20 permit udp 10.40.16.0 0.0.3.255 eq 68 host 255.255.255.255 eq 67\n", "10.40.16.0"),
        (" 10 permit udp host 0.0.0.0 eq 68 host 255.255.255.255 eq 67\n", "0.0.0.0"),
    ],
    ids=["from-class", "from-zero"],
)
def test_missing_dhcp_broadcast_line(line: str, src: str) -> None:
    text = sw_text().replace(line, "", 1)  # the first: infusion_pump's ACL
    diffs = check(HOSPITAL, "dist_sw1", text)
    assert {(d.kind, d.ingress, d.dst, d.packets) for d in diffs} == {
        ("blocks-needed", "Vlan110", "255.255.255.255", PacketSet.ports(UDP, 67, 67))
    }
    assert diffs[0].src.startswith(src)
    assert diffs[0].condition == "limited broadcast: local delivery, DHCP relay; source port 68"


def test_early_permit_by_sequence_number() -> None:
    """`5 permit ip any any` written last still runs first."""
    last = re.search(r" \d+ deny ip any any log\n!\nip access-list extended ZW-CT_MR", sw_text())
    assert last is not None
    text = edit(sw_text(), last[0], last[0].replace(" log\n!", " log\n 5 permit ip any any\n!"))
    diffs = check(HOSPITAL, "dist_sw1", text)
    assert diffs and {d.ingress for d in diffs} == {"Vlan121"}
    assert lines_of([d for d in diffs if d.kind == "permits-too-much"]) == {"5 permit ip any any"}


def test_show_running_config_style_parses_to_the_same_verdicts() -> None:
    """No sequence numbers, named ports, as `show running-config` prints on some releases."""
    names = {
        " eq 53": " eq domain",
        " eq 123": " eq ntp",
        " eq 68 ": " eq bootpc ",
        " eq 67": " eq bootps",
        " eq 22 ": " eq 22 ",
    }
    text = re.sub(r"^ \d+ ", " ", sw_text(), flags=re.M)
    for old, new in names.items():
        text = text.replace(old, new)
    assert "eq domain" in text and "eq bootpc" in text
    assert check(HOSPITAL, "dist_sw1", text) == []


def test_spoof_deny_guards_a_widened_entry(tmp_path: object) -> None:
    """The uplink ACL writes internet -> web as `permit tcp any ...`, which is exact only
    behind the deny of the classes served here: without it, web's own addresses get in."""
    path = write_policy(
        tmp_path,
        "spoof",
        """\
        pool subnets 10.9.0.0/16
        pool vlans 100-199
        class web { subnet 10.9.1.0/24 }
        class db  { subnet 10.9.3.0/24 }
        external internet { address 0.0.0.0/0 }
        allow internet -> web : tcp/443
        allow web -> db : tcp/5432
        gateway sw { platform cisco-ios  uplink "Gi0/1"  serves web }
        gateway fw { platform iptables  uplink "eth0"  serves db }
        """.replace("        ", ""),
    )
    compiled, _ = built(path)
    text = output(path, "sw").text
    assert " permit tcp any 10.9.1.0 0.0.0.255 eq 443" in text
    assert validate(compiled, "sw", text, "cisco-ios") == []
    spoof = next(line for line in text.splitlines() if "deny ip 10.9.1.0 0.0.0.255 any" in line)
    diffs = from_hosts(
        validate(compiled, "sw", edit(text, spoof + "\n", ""), "cisco-ios", filename="sw.ios")
    )
    assert [(d.kind, d.ingress, d.packets) for d in diffs] == [
        ("permits-too-much", "Gi0/1", PacketSet.ports(TCP, 443, 443))
    ]
    assert diffs[0].src_owner == "class web (served here)"
    assert lines_of(diffs) == {
        next(line for line in text.splitlines() if "permit tcp any 10.9.1.0" in line).strip()
    }


def test_source_port_entry_toward_one_destination_is_seen_from_a_spoofed_source(
    tmp_path: object,
) -> None:
    """Regression: a source-port entry toward one prefix must split the "every destination
    alike" shortcut for sources the model drops everywhere."""
    path = write_policy(
        tmp_path,
        "sport",
        """\
        pool subnets 10.9.0.0/16
        pool vlans 100-199
        class web { subnet 10.9.1.0/24 }
        class db  { subnet 10.9.3.0/24 }
        allow web -> db : tcp/5432
        gateway sw { platform cisco-ios  serves web, db }
        """.replace("        ", ""),
    )
    compiled, _ = built(path)
    text = output(path, "sw").text
    first = next(line for line in text.splitlines() if " permit tcp 10.9" in line)
    added = " 5 permit tcp any eq 443 10.9.3.0 0.0.0.255 established"
    diffs = validate(compiled, "sw", edit(text, first, added + "\n" + first), "cisco-ios")
    # (it comes before the switch's own-address entries: it also reaches the SVI 10.9.3.1)
    assert any(d.dst == "10.9.3.1" and d.dst_owner == "gateway:sw" for d in diffs)
    spoofed = [
        d for d in diffs if d.src_owner == "no class or external" and d.dst_owner != "gateway:sw"
    ]
    assert spoofed and all(
        d.condition == "source port 443; TCP with ACK or RST"
        and d.packets == PacketSet.protocol(TCP)
        and d.dst is not None
        and "class db" in d.dst_owner
        for d in spoofed
    )
    assert lines_of(diffs) == {added.strip()}


def test_new_and_reply_permitted_api() -> None:
    ev = Evaluator(parse_ios(sw_text(), "dist_sw1.ios"))
    https = PacketSet.ports(TCP, 443, 443)
    # infusion_pump starts https to pump_server, and answers pump_server's https
    assert https.issubset(ev.new_permitted("Vlan110", None, "10.40.16.5", "10.40.40.3"))
    assert ev.reply_permitted("Vlan110", None, "10.40.16.5", "10.40.40.3", https) == https
    assert not ev.reply_permitted(
        "Vlan110", None, "10.40.16.5", "10.40.40.3", PacketSet.ports(TCP, 22, 22)
    )
    line = ace(sw_text(), "permit tcp 10.40.16.0 0.0.3.255 eq 443 10.40.40.0 0.0.0.15 established")
    broken = Evaluator(parse_ios(edit(sw_text(), line, ""), "dist_sw1.ios"))
    assert not broken.reply_permitted("Vlan110", None, "10.40.16.5", "10.40.40.3", https)
    monitor = PacketSet.ports(UDP, 24105, 24105)
    assert ev.reply_permitted("Vlan121", None, "10.40.26.1", "10.40.24.9", monitor) == monitor
    echo = PacketSet.ports(ICMP, 8, 8)
    assert ev.reply_permitted("Vlan110", None, "10.40.16.5", "10.40.0.70", echo) == echo


# -- the switch itself: its SVI addresses and vty lines (issue #11) ------------------------------
def test_extra_permit_to_an_svi_address_permits_too_much() -> None:
    """Guest-side hand edit: ssh to the switch from a class the policy does not allow."""
    m = re.search(r" \d+ deny ip any host 10.40.0.129 log\n", sw_text())  # the first ACL's
    assert m is not None
    text = sw_text().replace(m[0], " 5 permit tcp any host 10.40.16.1 eq 22\n" + m[0], 1)
    diffs = check(HOSPITAL, "dist_sw1", text)
    assert diffs and {(d.kind, d.dst_owner, d.packets) for d in diffs} == {
        ("permits-too-much", "gateway:dist_sw1", PacketSet.ports(TCP, 22, 22))
    }
    assert lines_of(diffs) == {"5 permit tcp any host 10.40.16.1 eq 22"}


def test_missing_own_address_deny_lets_forwarding_entries_reach_the_switch() -> None:
    text = re.sub(
        r" remark the switch's own addresses[^\n]*\n( \d+ deny ip any host [^\n]*\n)+",
        "",
        sw_text(),
    )
    diffs = check(HOSPITAL, "dist_sw1", text)
    mine = [d for d in diffs if d.dst_owner == "gateway:dist_sw1"]
    assert mine and {d.kind for d in mine} == {"permits-too-much"}
    assert "TenGigabitEthernet1/1/1" in {d.ingress for d in mine}  # transit passes everything


def test_missing_vty_access_class_is_drift() -> None:
    text = re.sub(r"line vty 0 15\n.*?!\n", "", sw_text(), flags=re.S)
    diffs = check(HOSPITAL, "dist_sw1", text)
    assert diffs and {(d.kind, d.ingress) for d in diffs} == {("permits-too-much", "line vty")}
    assert any("guest_wifi" in d.src_owner for d in diffs)
    assert {r.text for d in diffs for r in d.rules} == {
        "a vty line without access-class: any source",
        "a vty line without transport input: ssh and telnet",
    }


def test_vty_lines_split_and_telnet_added_are_drift() -> None:
    block = re.search(r"line vty 0 15\n.*?!\n", sw_text(), flags=re.S)
    assert block is not None
    split = block[0].replace("line vty 0 15", "line vty 0 4") + (
        "line vty 5 15\n access-class ZW-VTY-X in\n transport input ssh telnet\n!\n"
    )
    diffs = check(HOSPITAL, "dist_sw1", sw_text().replace(block[0], split))
    # lines 5-15 bind an undefined ACL (any source) and take telnet too
    assert {d.ingress for d in diffs} == {"line vty"}
    assert any(
        d.packets == PacketSet.ports(TCP, 23, 23) and "oob_mgmt" in d.src_owner for d in diffs
    )
    assert (
        check(
            HOSPITAL,
            "dist_sw1",
            sw_text().replace(
                block[0],
                block[0].replace("line vty 0 15", "line vty 0 4")
                + block[0].replace("line vty 0 15", "line vty 5 15"),
            ),
        )
        == []
    )


def test_audited_svi_address_is_the_switchs_own() -> None:
    """An `ip address` on a served SVI in an audited config is one of the switch's own
    addresses: a forwarding entry admitting traffic to it is found."""
    text = sw_text() + "interface Vlan110\n ip address 10.40.16.9 255.255.252.0 secondary\n!\n"
    diffs = check(HOSPITAL, "dist_sw1", text)
    assert diffs and all(d.dst == "10.40.16.9" and d.dst_owner == "gateway:dist_sw1" for d in diffs)
