"""The names configs use for IP protocols and ICMP types, as the verifier reads them.

These tables are the verifier's own: it never reads the front end's (`zonewall.packets`), so a
wrong number in one of them cannot make a config and the policy agree by reading the same wrong
table on both sides (a test holds that boundary).  Each table is pinned entry by entry by tests
against what the real tools accept: `iptables -p icmp -h` and the rules iptables loads,
`nft describe icmp type`, `nft describe meta l4proto` and the system's protocol database
(netbase `/etc/protocols`, which iptables and nft resolve protocol names through).  The Cisco
IOS keywords live beside the IOS parser (`ios.py`) and are pinned the same way.
"""

from __future__ import annotations

__all__ = ["IANA_PROTOCOLS", "IPTABLES_ICMP", "NFT_ICMP", "PROTOCOL_LABELS"]

# IP protocol keywords (netbase /etc/protocols, the names iptables and nft print), protocol 0
# left out: iptables reads "-p 0" as every protocol, nft prints it as "ip".
IANA_PROTOCOLS: dict[str, int] = {
    "icmp": 1,
    "igmp": 2,
    "ggp": 3,
    "ipencap": 4,
    "st": 5,
    "tcp": 6,
    "egp": 8,
    "igp": 9,
    "pup": 12,
    "udp": 17,
    "hmp": 20,
    "xns-idp": 22,
    "rdp": 27,
    "iso-tp4": 29,
    "dccp": 33,
    "xtp": 36,
    "ddp": 37,
    "idpr-cmtp": 38,
    "ipv6": 41,
    "ipv6-route": 43,
    "ipv6-frag": 44,
    "idrp": 45,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "skip": 57,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "rspf": 73,
    "vmtp": 81,
    "eigrp": 88,
    "ospf": 89,
    "ax.25": 93,
    "ipip": 94,
    "etherip": 97,
    "encap": 98,
    "pim": 103,
    "ipcomp": 108,
    "vrrp": 112,
    "l2tp": 115,
    "isis": 124,
    "sctp": 132,
    "fc": 133,
    "mobility-header": 135,
    "udplite": 136,
    "mpls-in-ip": 137,
    "manet": 138,
    "hip": 139,
    "shim6": 140,
    "wesp": 141,
    "rohc": 142,
    "ethernet": 143,
}

# The names the verifier prints for a protocol in a counterexample packet.
PROTOCOL_LABELS: dict[int, str] = {IANA_PROTOCOLS[n]: n for n in ("icmp", "tcp", "udp")}

# `iptables -p icmp --icmp-type NAME`: the names `iptables -p icmp -h` lists for a whole type
# (flush left there), with the aliases it shows in brackets.  The indented names fix a code
# too and are not modelled (they fail closed).
IPTABLES_ICMP: dict[str, int] = {
    "echo-reply": 0,
    "pong": 0,
    "destination-unreachable": 3,
    "source-quench": 4,
    "redirect": 5,
    "echo-request": 8,
    "ping": 8,
    "router-advertisement": 9,
    "router-solicitation": 10,
    "time-exceeded": 11,
    "ttl-exceeded": 11,
    "parameter-problem": 12,
    "timestamp-request": 13,
    "timestamp-reply": 14,
    "address-mask-request": 17,
    "address-mask-reply": 18,
}

# `icmp type NAME` in nft: the symbols `nft describe icmp type` lists.
NFT_ICMP: dict[str, int] = {
    "echo-reply": 0,
    "destination-unreachable": 3,
    "source-quench": 4,
    "redirect": 5,
    "echo-request": 8,
    "router-advertisement": 9,
    "router-solicitation": 10,
    "time-exceeded": 11,
    "parameter-problem": 12,
    "timestamp-request": 13,
    "timestamp-reply": 14,
    "info-request": 15,
    "info-reply": 16,
    "address-mask-request": 17,
    "address-mask-reply": 18,
}
