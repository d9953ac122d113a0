"""Whole device output (issue 15): what `ios_running`, `iptables_tables` and `nft_device` keep,
skip and refuse, on small texts.  The end-to-end cases (real-looking outputs around the
example's build) are in tests/e2e/test_audit_devices.py."""

from __future__ import annotations

import pytest

from zonewall.review.counters import statement_hits
from zonewall.verify import ConfigParseError
from zonewall.verify.ios_running import prepare_ios
from zonewall.verify.iptables_tables import Device, parse_iptables_device
from zonewall.verify.nftables import parse_nftables

AUDITED = frozenset({"Vlan10", "Gi0/1", "eth1", "eth0"})
DEVICE = Device(AUDITED, frozenset({"Vlan10", "eth1"}))

IOS = """\
Building configuration...

Current configuration : 2000 bytes
!
version 17.9
hostname sw
banner motd ^C
interface Vlan10
 ip access-group EVIL in
^C
object-group network USED
 host 10.0.0.1
object-group network UNUSED
 fqdn example.com
!
interface Vlan10
 ip address 10.0.0.1 255.255.255.0
 no ip redirects
 ip access-group A in
!
interface Vlan20
 ip access-group B out
 ip nat inside
!
ip access-list extended A
 10 permit ip object-group USED any
ip access-list extended B
 10 permit tcp any any eq 22 time-range WORK
line vty 0 4
 access-class S in vrf-also
 stopbits 1
 transport input ssh
ip access-list standard S
 10 permit 10.0.0.0 0.0.0.255
end
"""


def test_a_running_config_keeps_what_matters_and_line_numbers() -> None:
    prepared = prepare_ios(IOS, "sw.txt", AUDITED)
    kept = [
        (n, line)
        for n, line in enumerate(prepared.text.splitlines(), 1)
        if line.strip() and not line.startswith("!")
    ]
    assert len(prepared.text.splitlines()) == len(IOS.splitlines())
    assert [line.strip() for _, line in kept] == [
        "object-group network USED",
        "host 10.0.0.1",
        "interface Vlan10",
        "ip address 10.0.0.1 255.255.255.0",
        "ip access-group A in",
        "ip access-list extended A",
        "10 permit ip object-group USED any",
        "line vty 0 4",
        "access-class S in vrf-also",
        "transport input ssh",
        "ip access-list standard S",
        "10 permit 10.0.0.0 0.0.0.255",
        "end",
    ]
    assert kept[0][0] == 11  # the device's own line numbers
    skipped = prepared.skipped
    assert skipped["banner"] == 4 and skipped["show running-config header"] == 2
    assert skipped["interface not audited"] == 3 and skipped["ip access-list"] == 2
    assert skipped["object group not used by an audited ACL"] == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (" ip nat outside", "NAT on an audited interface is not modelled"),
        (" ip policy route-map R", "policy routing"),
        (" zone-member security Z", "zone-based firewall"),
        (" vrrp 1 ip 10.0.0.2", "VRRP"),
        (" shutdown", "shut down"),
        (" ip access-group X out", "an outbound ACL"),
        (" ip unnumbered Loopback0", "this command in an audited interface block"),
        (" service-policy input POLICE", "a QoS policy that polices or drops"),
    ],
    ids=["nat", "pbr", "zbf", "vrrp", "shutdown", "out", "unknown", "police"],
)
def test_what_can_change_an_audited_interface_is_refused_at_its_line(
    line: str, message: str
) -> None:
    text = f"policy-map POLICE\n class class-default\n  police 1000000\ninterface Vlan10\n{line}\n"
    with pytest.raises(ConfigParseError, match=message) as info:
        prepare_ios(text, "sw.txt", AUDITED)
    assert info.value.line == 5 and info.value.text == line


def test_a_marking_policy_and_other_vlans_filters_are_skipped() -> None:
    text = (
        "policy-map MARK\n class c\n  set dscp ef\ninterface Vlan10\n service-policy input "
        "MARK\nvlan filter V vlan-list 20-30\n"
    )
    assert (
        prepare_ios(text, "sw.txt", AUDITED).skipped["service-policy that only marks or queues"]
        == 1
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vlan filter V vlan-list 5-12\n", "VLAN access map \\(V\\) filtering audited VLAN 10"),
        (
            "interface Gi1/0/1\n switchport access vlan 10\n ip access-group P in\n",
            "port ACL on switchport Gi1/0/1 in audited VLAN 10",
        ),
        (
            "interface Vlan10\n ip access-group 5 in\naccess-list 5 permit any\n",
            "numbered ACL 5 in the one-line 'access-list' form",
        ),
        ("cts role-based enforcement\n", "TrustSec"),
    ],
    ids=["vacl", "pacl", "numbered", "cts"],
)
def test_global_constructs_that_reach_an_audited_vlan_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigParseError, match=message):
        prepare_ios(text, "sw.txt", AUDITED)


SAVE = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i docker0 -j CT --helper tftp
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A PREROUTING -i eth0 -m conntrack --ctstate INVALID -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -i eth1 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.9.9.9
-A OUTPUT -m weird --x y -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -i docker0 -o docker0 -m set --match-set x src -j ACCEPT
-A FORWARD -i eth1 -j ACCEPT
-A OUTPUT -m owner --uid-owner 0 -j ACCEPT
COMMIT
"""


def test_iptables_save_every_table() -> None:
    device = Device(DEVICE.audited, DEVICE.served)
    rs = parse_iptables_device(SAVE, "saved.rules", device)
    assert rs.default_entry == ("mangle PREROUTING", "nat PREROUTING", "FORWARD")
    assert rs.input_entry == ("mangle PREROUTING", "nat PREROUTING (to the box)", "INPUT")
    fwd = rs.chains["nat PREROUTING"].rules
    assert [r.ref.line for r in fwd] == [22]  # addrtype LOCAL never matches forwarded packets
    assert fwd[0].action == "DROP" and fwd[0].states == frozenset({"NEW"})
    box = rs.chains["nat PREROUTING (to the box)"].rules
    assert [r.target for r in box] == ["nat DOCKER (to the box)", None]
    assert rs.chains["nat DOCKER"].rules[0].action == "DROP"
    assert sum(device.skipped.values()) == 6  # raw CT, TCPMSS, OUTPUT x2, MASQUERADE, set


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j NOTRACK\nCOMMIT\n",
            "raw NOTRACK",
        ),
        (
            "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A FORWARD -j TPROXY --on-port 1\n"
            "COMMIT\n",
            "target TPROXY in the mangle table",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A FORWARD -m mark --mark 0x1 -j ACCEPT\nCOMMIT\n",
            "match module 'mark'",
        ),
    ],
    ids=["notrack", "tproxy", "mark"],
)
def test_iptables_constructs_that_matter_are_refused(rule: str, message: str) -> None:
    text = (
        rule
        if "*filter" in rule
        else rule
        + ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
    )
    with pytest.raises(ConfigParseError, match=message):
        parse_iptables_device(text, "saved.rules", Device(DEVICE.audited, DEVICE.served))


NFT = """\
table bridge b {
\tchain f {
\t\ttype filter hook forward priority 0; policy accept;
\t\tether type arp accept
\t}
}
table ip nat {
\tchain D {
\t\tiifname != "docker0" tcp dport 8080 dnat to 172.17.0.2:80
\t}
\tchain P {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local jump D
\t\tiifname "eth1" tcp dport 443 dnat to 10.9.9.9
\t}
\tchain O {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname "eth0" masquerade
\t}
}
table inet f {
\tflowtable ft {
\t\thook ingress priority 0; devices = { eth0, eth1 };
\t}
\tchain fwd {
\t\ttype filter hook forward priority 10; policy accept;
\t\tiifname "veth9" oifname "veth9" meta mark 0x1 accept
\t\tct state established accept
\t}
}
"""


def test_nft_list_ruleset_with_other_tables_and_hooks() -> None:
    device = Device(DEVICE.audited, DEVICE.served)
    rs = parse_nftables(NFT, "rs.nft", device=device)
    assert rs.default_entry == ("ip nat P", "inet f fwd")
    assert rs.input_entry == ("ip nat P (to the box)",)
    assert [r.ref.line for r in rs.chains["ip nat P"].rules] == [14]
    assert [r.ref.line for r in rs.chains["ip nat P (to the box)"].rules] == [13, 14]
    dnat = rs.chains["ip nat D"].rules[0]  # a nat base chain's jump target: NEW only
    assert dnat.action == "DROP" and dnat.states == frozenset({"NEW"})
    assert sum(device.skipped.values()) == 4  # bridge table, masquerade, flowtable, veth9 rule


def test_nft_netdev_on_an_audited_interface_is_refused() -> None:
    text = (
        'table netdev n {\n\tchain i {\n\t\ttype filter hook ingress device "eth1" '
        "priority -500; policy accept;\n\t}\n}\n"
    )
    with pytest.raises(ConfigParseError, match="netdev table filtering audited interface eth1"):
        parse_nftables(text, "rs.nft", device=Device(DEVICE.audited, DEVICE.served))


def test_counters_fold_onto_statements() -> None:
    saved = (
        '[0:0] -A zw-p -p tcp -m comment --comment "p.zw:3 allow a->b web" -j ACCEPT\n'
        '[7:420] -A zw-p -p udp -m comment --comment "p.zw:3 allow a->b web" -j ACCEPT\n'
        '[0:0] -A zw-p -p udp -m comment --comment "p.zw:4 allow a->c dns" -j ACCEPT\n'
        '[9:9] -A zw-main -m comment --comment "from class a" -j zw-o-a\n'
    )
    assert statement_hits("iptables", "", saved) == {
        "p.zw:3": (7, "allow a->b web"),
        "p.zw:4": (0, "allow a->c dns"),
    }
    nft = 'tcp dport 53 ct state new counter packets 0 bytes 0 accept comment "p.zw:9 allow x->y"\n'
    assert statement_hits("nftables", "", nft) == {"p.zw:9": (0, "allow x->y")}
    config = (
        "ip access-list extended A\n remark p.zw:5 allow a->b\n 10 permit ip any any\n"
        " remark p.zw:6 replies to b->a\n permit tcp any any established\n"
    )
    shown = (
        "Extended IP access list A\n    10 permit ip any any\n"
        "    20 permit tcp any any established (3 matches)\n"
    )
    assert statement_hits("cisco-ios", config, shown) == {
        "p.zw:5": (0, "allow a->b"),
        "p.zw:6": (3, "replies to b->a"),
    }
