"""Device output as devices print it, with zonewall's built configs inside (for `audit` tests).

* `ios_running(acl, switch, style)`: a full `show running-config` of an IOS-XE L3 access and
  distribution switch (release styles "17.9", "16.12", classic IOS "15.2": sequence numbers
  printed or not, IPv6 entries with `sequence N` or without), the zonewall ACL and switch
  files merged in the places IOS prints them, between banners, AAA, crypto PKI certificate
  chains, switchports, Mgmt-vrf, the IOS-XE default ACLs, call-home and vty lines split 0-4 /
  5-15.
* `iptables_save(rules)`: `iptables-save -c` of a box that loaded zonewall's --noflush file
  with its load line and also runs docker (filter and nat chains, MASQUERADE) and fail2ban
  (an f2b-sshd chain in INPUT), with a mangle table (TCPMSS clamping) and a raw table.
* `nft_ruleset(nft)`: `nft list ruleset` of a box with zonewall's table (as nft prints it:
  tabs, counters) and docker's (iptables-nft style) `ip nat` and `ip filter` tables, a bridge
  table and a `netdev` table on an interface that is not audited.
* `firewalld_ruleset(nft, variant)`: `nft list ruleset` of a box running zonewall's table
  beside firewalld's.  The `table inet firewalld` texts in `firewalld/` are what nft 1.0.6
  printed, byte for byte, with firewalld 1.3.3 (Debian 12) running in a network namespace
  (`firewalld/capture.sh` prints them again)
  beside the nftables build of examples/hospital.zw's core_fw (`platform nftables`): its
  interfaces eth0 (uplink) and eth1.10 ... eth1.900 (VLANs), IPv6_rpfilter=yes (the default):
  - `default`: no zone bound: every packet goes to the default zone `public`, which
    forwards nothing (`reject with icmpx admin-prohibited`) and takes in only ssh;
  - `zones-reject`: eth0 in zone `external` (masquerade), the VLANs in `internal` (both with
    `<forward/>`: forwarding within a zone only), nothing between the zones;
  - `zones-reject-logged`: the same with `firewall-cmd --set-log-denied=unicast` (log rules
    with `meta pkttype host` before each reject);
  - `zones-policies`: the same zones, internal also taking in https, snmp and dhcp, and two
    firewalld policies internal -> external and external -> internal with target ACCEPT;
  - `trusted`: every audited interface moved (at run time) to zone `trusted` (target
    ACCEPT), the permanent policies of `zones-policies` still loaded.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["firewalld_ruleset", "ios_running", "iptables_save", "nft_ruleset"]

FIREWALLD = Path(__file__).parent / "firewalld"
FIREWALLD_VARIANTS = ("default", "zones-reject", "zones-reject-logged", "zones-policies", "trusted")


def _blocks(text: str) -> list[list[str]]:
    """Top-level commands with their indented lines (comments and `end` dropped)."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("!") or line == "end":
            continue
        if line[0].isspace():
            out[-1].append(line)
        else:
            out.append([line])
    return out


def _style_acl(block: list[str], style: str) -> list[str]:
    if style != "15.2":
        return block
    out = [block[0]]
    for line in block[1:]:
        line = re.sub(r"^ (sequence )?\d+ ", " ", line)
        out.append(line)
    return out


IOS_HEAD = """\
Building configuration...

Current configuration : 48213 bytes
!
! Last configuration change at 09:14:31 UTC Mon Nov 23 2026 by netops
! NVRAM config last updated at 09:14:33 UTC Mon Nov 23 2026 by netops
!
version {version}
service timestamps debug datetime msec
service timestamps log datetime msec
service password-encryption
service call-home
no service pad
platform punt-keepalive disable-kernel-core
!
hostname dist-sw1
!
!
vrf definition Mgmt-vrf
 !
 address-family ipv4
 exit-address-family
 !
 address-family ipv6
 exit-address-family
!
logging buffered 64000 informational
no logging console
enable secret 9 $9$Yq1Zq5bQm0s3tE$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ
!
aaa new-model
!
!
aaa group server tacacs+ ISE
 server name ise-1
 ip vrf forwarding Mgmt-vrf
!
aaa authentication login default group ISE local
aaa authorization exec default group ISE local if-authenticated
aaa accounting exec default start-stop group ISE
!
!
aaa session-id common
clock timezone CET 1 0
clock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00
switch 1 provision c9300-48p
!
!
!
ip routing
!
ip name-server vrf Mgmt-vrf 10.255.0.53
ip domain name hospital.example
!
!
!
ip dhcp snooping vlan 105,108-110,113,114,120,121,210
no ip dhcp snooping information option
ip dhcp snooping
login on-success log
!
!
{groups}!
crypto pki trustpoint TP-self-signed-3521866754
 enrollment selfsigned
 subject-name cn=IOS-Self-Signed-Certificate-3521866754
 revocation-check none
 rsakeypair TP-self-signed-3521866754
!
!
crypto pki certificate chain TP-self-signed-3521866754
 certificate self-signed 01
  3082032E 30820216 A0030201 02020101 300D0609 2A864886 F70D0101 05050030
  30312E30 2C060355 04031325 494F532D 53656C66 2D536967 6E65642D 43657274
  69666963 6174652D 33353231 38363637 3534301E 170D3234 30313135 31303030
  \tquit
!
license boot level network-advantage addon dna-advantage
memory free low-watermark processor 134344
!
diagnostic bootup level minimal
!
spanning-tree mode rapid-pvst
spanning-tree extend system-id
!
!
redundancy
 mode sso
!
transceiver type all
 monitoring
!
{vlans}vlan 999
 name PARKING
!
class-map match-any CM-VOICE
 match dscp ef
!
policy-map PM-MARK-IN
 class CM-VOICE
  set dscp ef
!
!
interface GigabitEthernet0/0
 vrf forwarding Mgmt-vrf
 ip address 10.255.0.20 255.255.255.0
 negotiation auto
!
interface GigabitEthernet1/0/1
 description CT scanner console, room 0.14
 switchport access vlan 105
 switchport mode access
 device-tracking attach-policy IPDT_MAX_10
 spanning-tree portfast
 spanning-tree bpduguard enable
!
interface GigabitEthernet1/0/2
 description lab analyzer bench 3
 switchport access vlan 108
 switchport mode access
 service-policy input PM-MARK-IN
 spanning-tree portfast
!
interface GigabitEthernet1/0/3
 switchport access vlan 999
 switchport mode access
 shutdown
!
interface GigabitEthernet1/0/48
 description AP trunk, 2nd floor
 switchport trunk native vlan 999
 switchport trunk allowed vlan 110,120,121
 switchport mode trunk
!
{interfaces}interface Vlan1
 no ip address
 shutdown
!
ip forward-protocol nd
no ip http server
no ip http secure-server
ip route 0.0.0.0 0.0.0.0 10.43.255.1
ip route vrf Mgmt-vrf 0.0.0.0 0.0.0.0 10.255.0.1
ip ssh version 2
ip ssh time-out 60
!
!
ip access-list standard SNMP-RO
 {seq10}permit 10.40.0.32 0.0.0.15
{acls}ip access-list extended CISCO-CWA-URL-REDIRECT-ACL
 {seq100}deny udp any any eq domain
 {seq101}deny tcp any any eq domain
 {seq102}deny udp any eq bootps any
 {seq103}deny udp any any eq bootpc
 {seq104}deny udp any eq bootpc any
 {seq500}permit tcp any any eq www
ip access-list extended preauth_ipv4_acl
 {seq10}permit udp any any eq domain
 {seq20}permit tcp any any eq domain
 {seq30}permit udp any eq bootps any
 {seq40}permit udp any any eq bootpc
 {seq50}permit udp any eq bootpc any
 {seq60}deny ip any any
!
logging source-interface GigabitEthernet0/0 vrf Mgmt-vrf
logging host 10.40.0.33 vrf Mgmt-vrf
!
snmp-server group NETOPS v3 priv read V3READ access SNMP-RO
snmp-server view V3READ iso included
snmp-server location Building A, 2nd floor, IDF 2.1
!
!
control-plane
 service-policy input system-cpp-policy
!
banner exec ^C
dist-sw1: distribution switch, medical VLANs. Changes through zonewall only!
^C
banner motd ^C
Authorised access only.
interface Vlan105
 ip access-group PERMIT-ALL in
Disconnect now if you are not authorised.
^C
!
line con 0
 exec-timeout 15 0
 stopbits 1
line aux 0
line vty 0 4
{vty}line vty 5 15
{vty}!
call-home
 ! If contact email address in call-home is configured as sch-smart-licensing@cisco.com
 ! the email address configured in Cisco Smart License Portal will be used as contact
 contact-email-addr sch-smart-licensing@cisco.com
 profile "CiscoTAC-1"
  active
  destination transport-method http
ntp server vrf Mgmt-vrf 10.255.0.123
!
!
end
"""


def ios_running(acl: str, switch: str, style: str = "17.9") -> str:
    """A `show running-config` holding the zonewall ACL file `acl` and switch file `switch`."""
    blocks = _blocks(switch) + _blocks(acl)
    vlans = [b for b in blocks if b[0].startswith("vlan ")]
    groups = [b for b in blocks if b[0].startswith("object-group ")]
    acls = [
        _style_acl(b, style)
        for b in blocks
        if b[0].startswith(("ip access-list ", "ipv6 access-list "))
    ]
    ifaces: dict[str, list[str]] = {}
    for b in blocks:
        if b[0].startswith("interface "):
            lines = ifaces.setdefault(b[0], [])
            lines += [ln for ln in b[1:] if ln not in lines and ln != " no shutdown"]
    uplink = [k for k in ifaces if not k.startswith("interface Vlan")]
    for k in uplink:  # the uplink is a routed port on the switch
        ifaces[k] = [
            " description uplink to core_fw",
            " no switchport",
            " ip address 10.43.255.2 255.255.255.252",
            *ifaces[k],
        ]
    for k in ifaces:
        if k.startswith("interface Vlan"):
            ifaces[k] += [" no ip redirects", " no ip proxy-arp"]
    vty = [b for b in blocks if b[0].startswith("line vty")][0][1:]
    vty_text = "".join(
        ln.replace(" in", " in vrf-also") + "\n" if "access-class" in ln else ln + "\n"
        for ln in [" exec-timeout 15 0", *vty]
    )

    def text(bs: list[list[str]]) -> str:
        return "".join("\n".join(b) + "\n" + ("!\n" if style != "17.9" else "") for b in bs)

    order = sorted(
        ifaces,
        key=lambda k: (
            k.startswith("interface Vlan"),
            int(k[14:]) if k.startswith("interface Vlan") else 0,
        ),
    )
    seq = {
        f"seq{n}": ("" if style == "15.2" else f"{n} ")
        for n in (10, 20, 30, 40, 50, 60, 100, 101, 102, 103, 104, 500)
    }
    return IOS_HEAD.format(
        version={"17.9": "17.9", "16.12": "16.12", "15.2": "15.2"}[style],
        groups=text(groups),
        vlans=text(vlans),
        acls=text(acls),
        vty=vty_text,
        interfaces="".join(
            k + "\n" + "".join(ln + "\n" for ln in ifaces[k]) + "!\n" for k in order
        ),
        **seq,
    )


def iptables_save(
    rules: str, forward_first: str = "", input_first: str = "", nat_prerouting: str = ""
) -> str:
    """`iptables-save -c` of a box running zonewall's file, docker and fail2ban.

    `forward_first` / `input_first` are rules (without counters) put at the head of FORWARD /
    INPUT, before zonewall's jump; `nat_prerouting` rules at the head of nat PREROUTING."""
    body = rules[rules.index("*filter\n") + len("*filter\n") :]
    decls = [ln for ln in body.splitlines() if ln.startswith(":")]
    own = [ln for ln in body.splitlines() if ln.startswith("-A ")]

    def counted(lines: list[str] | str) -> str:
        items = lines.splitlines() if isinstance(lines, str) else lines
        return "".join(
            f"[{17 * k % 977}:{1311 * k % 99991}] {ln}\n" for k, ln in enumerate(items, 3)
        )

    return (
        "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Nov 23 09:20:01 2026\n"
        "*raw\n:PREROUTING ACCEPT [881273:612348812]\n:OUTPUT ACCEPT [10233:1622110]\n"
        + counted(["-A PREROUTING -i docker0 -p udp -m udp --dport 69 -j CT --helper tftp"])
        + "COMMIT\n# Completed on Mon Nov 23 09:20:01 2026\n"
        "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Nov 23 09:20:01 2026\n"
        "*mangle\n:PREROUTING ACCEPT [881273:612348812]\n:INPUT ACCEPT [51222:7717331]\n"
        ":FORWARD ACCEPT [830051:604631481]\n:OUTPUT ACCEPT [10233:1622110]\n"
        ":POSTROUTING ACCEPT [840284:606253591]\n"
        + counted(
            [
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
                "-A PREROUTING -i docker0 -j MARK --set-xmark 0x1/0xffffffff",
            ]
        )
        + "COMMIT\n# Completed on Mon Nov 23 09:20:01 2026\n"
        "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Nov 23 09:20:01 2026\n"
        "*nat\n:PREROUTING ACCEPT [1023:61380]\n:INPUT ACCEPT [12:720]\n"
        ":OUTPUT ACCEPT [120:7911]\n:POSTROUTING ACCEPT [88:5280]\n:DOCKER - [0:0]\n"
        + counted(nat_prerouting)
        + counted(
            [
                "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
                "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
                "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
                "-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 "
                "-j MASQUERADE",
                "-A DOCKER -i docker0 -j RETURN",
                "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
                "--to-destination 172.17.0.2:80",
            ]
        )
        + "COMMIT\n# Completed on Mon Nov 23 09:20:01 2026\n"
        "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Nov 23 09:20:01 2026\n"
        "*filter\n:INPUT ACCEPT [51222:7717331]\n:FORWARD DROP [0:0]\n"
        ":OUTPUT ACCEPT [10233:1622110]\n:DOCKER - [0:0]\n"
        ":DOCKER-ISOLATION-STAGE-1 - [0:0]\n:DOCKER-ISOLATION-STAGE-2 - [0:0]\n"
        ":DOCKER-USER - [0:0]\n:f2b-sshd - [0:0]\n"
        + "".join(d + "\n" for d in decls)
        + counted(input_first)
        + counted(["-A INPUT -j zw-input", "-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd"])
        + counted(forward_first)
        + counted(
            [
                "-A FORWARD -j zw-forward",
                "-A FORWARD -j DOCKER-USER",
                "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
                "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A FORWARD -o docker0 -j DOCKER",
                "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
                "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
                "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 "
                "-j ACCEPT",
                "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
                "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
                "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
                "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
                "-A DOCKER-USER -j RETURN",
                "-A f2b-sshd -s 192.0.2.77/32 -j REJECT --reject-with icmp-port-unreachable",
                "-A f2b-sshd -j RETURN",
            ]
        )
        + counted(own)
        + "COMMIT\n# Completed on Mon Nov 23 09:20:01 2026\n"
    )


def nft_ruleset(nft: str, forward_extra: str = "") -> str:
    """`nft list ruleset` of a box running zonewall's table beside docker (iptables-nft) and
    a netdev and a bridge table; `forward_extra` rules go into a second forward base chain
    (table ip filter, chain FORWARD, priority filter)."""
    start = nft.index("table inet zonewall {")
    own = nft[start:].replace("    ", "\t")
    return (
        "table ip nat {\n"
        "\tchain DOCKER {\n"
        '\t\tiifname "docker0" counter packets 0 bytes 0 return\n'
        '\t\tiifname != "docker0" tcp dport 8080 counter packets 0 bytes 0 dnat to '
        "172.17.0.2:80\n"
        "\t}\n\n"
        "\tchain PREROUTING {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tfib daddr type local counter packets 1021 bytes 61260 jump DOCKER\n"
        "\t}\n\n"
        "\tchain OUTPUT {\n"
        "\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tip daddr != 127.0.0.0/8 fib daddr type local counter packets 0 bytes 0 jump DOCKER\n"
        "\t}\n\n"
        "\tchain POSTROUTING {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        '\t\tip saddr 172.17.0.0/16 oifname != "docker0" counter packets 3 bytes 180 '
        "masquerade\n"
        "\t}\n"
        "}\n"
        "table ip filter {\n"
        "\tchain DOCKER {\n"
        "\t}\n\n"
        "\tchain DOCKER-ISOLATION-STAGE-1 {\n"
        '\t\tiifname "docker0" oifname != "docker0" counter packets 0 bytes 0 '
        "jump DOCKER-ISOLATION-STAGE-2\n"
        "\t\tcounter packets 12 bytes 800 return\n"
        "\t}\n\n"
        "\tchain DOCKER-ISOLATION-STAGE-2 {\n"
        '\t\toifname "docker0" counter packets 0 bytes 0 drop\n'
        "\t\tcounter packets 0 bytes 0 return\n"
        "\t}\n\n"
        "\tchain FORWARD {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        + forward_extra
        + "\t\tcounter packets 12 bytes 800 jump DOCKER-ISOLATION-STAGE-1\n"
        '\t\toifname "docker0" ct state related,established counter packets 0 bytes 0 '
        "accept\n"
        '\t\toifname "docker0" counter packets 0 bytes 0 jump DOCKER\n'
        '\t\tiifname "docker0" oifname != "docker0" counter packets 0 bytes 0 accept\n'
        '\t\tiifname "docker0" oifname "docker0" counter packets 0 bytes 0 accept\n'
        "\t}\n"
        "}\n"
        "table bridge filter {\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        "\t\tether type arp accept\n"
        "\t}\n"
        "}\n"
        "table netdev ddos {\n"
        "\tchain ingress {\n"
        '\t\ttype filter hook ingress device "eth9" priority -500; policy accept;\n'
        "\t\tip frag-off & 0x1fff != 0 counter packets 0 bytes 0 drop\n"
        "\t}\n"
        "}\n" + own
    )


def firewalld_ruleset(nft: str, variant: str) -> str:
    """`nft list ruleset` of a box with zonewall's table (as nft prints it: tabs) and
    firewalld's table of `variant` (module docstring), in the order nft listed them after a
    `firewall-cmd --reload`."""
    start = nft.index("table inet zonewall {")
    own = nft[start:].replace("    ", "\t")
    return own + (FIREWALLD / f"{variant}.nft").read_text()
