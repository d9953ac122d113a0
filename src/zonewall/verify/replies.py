"""Replies, as the language defines them (docs/language.md, 6.3 "Direction and replies").

`A -> B` lets A initiate; the replies of those connections are permitted too.  A stateful
gateway (conntrack) recognises them exactly.  A stateless one (Cisco ACLs) can only admit a
wider, explicitly defined set: TCP from B's service port to A with ACK or RST set
(`established`), UDP from B's service port to A, ICMP echo-reply for echo.  Here a reply packet
is described by its *destination-side* service key plus its source port and ACK flag, the
same coordinates the evaluators use for every packet; `reply_keys` gives the destination-side
keys a reply may carry, `reply_flows` maps blocked reply packets back to the flows they answer.
"""

from __future__ import annotations

from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet, key

__all__ = ["OTHERS", "TCP_BLOCK", "UDP_BLOCK", "port_cuts", "reply_flows", "reply_keys"]

TCP_BLOCK, UDP_BLOCK = PacketSet.protocol(TCP), PacketSet.protocol(UDP)
ICMP_BLOCK = PacketSet.protocol(ICMP)
OTHERS = PacketSet.everything() - TCP_BLOCK - UDP_BLOCK - ICMP_BLOCK
STATELESS_ICMP = ((8, 0),)  # echo -> echo-reply: the only ICMP reply the language defines
STATEFUL_ICMP = ((8, 0), (13, 14), (15, 16), (17, 18))  # the request/reply pairs conntrack knows


def port_cuts(packets: PacketSet) -> set[int]:
    """Where the TCP/UDP ports of `packets` start and stop: source-port class boundaries."""
    cuts: set[int] = set()
    for proto in (TCP, UDP):
        for lo, hi in (packets & PacketSet.protocol(proto)).intervals:
            cuts.add(lo - key(proto))
            if hi - key(proto) < PORT_SPAN - 1:
                cuts.add(hi - key(proto) + 1)
    return cuts


def reply_keys(kr: PacketSet, sport: int, ack: bool, stateless: bool) -> PacketSet:
    """Destination-side keys a reply packet with this source port (class) and flag may carry,
    given the keys `kr` of the flows it could answer."""
    parts: list[PacketSet] = []
    if ack and key(TCP, sport) in kr:
        parts.append(TCP_BLOCK)
    if key(UDP, sport) in kr:
        parts.append(UDP_BLOCK)
    for req, rep in STATELESS_ICMP if stateless else STATEFUL_ICMP:
        if key(ICMP, req) in kr:
            parts.append(PacketSet.ports(ICMP, rep, rep))
    if not stateless:
        parts.append(kr & OTHERS)
    return PacketSet.union_all(parts)


def reply_flows(replies: PacketSet, kr: PacketSet, lo: int, hi: int, stateless: bool) -> PacketSet:
    """The flow keys (in `kr`) whose reply packets `replies` are."""
    parts: list[PacketSet] = []
    if replies & TCP_BLOCK:
        parts.append(kr & PacketSet.ports(TCP, lo, hi))
    if replies & UDP_BLOCK:
        parts.append(kr & PacketSet.ports(UDP, lo, hi))
    for req, rep in STATELESS_ICMP if stateless else STATEFUL_ICMP:
        if key(ICMP, rep) in replies:
            parts.append(PacketSet.ports(ICMP, req, req))
    parts.append(replies & OTHERS)
    return PacketSet.union_all(parts)
