"""Cisco IOS service matching: the protocol, port and option words of ACL entries.

One `Spec` is one ACE shape on the service side: `tcp ... eq 443`, `udp ... range 1 2`,
`icmp ... echo`, `47`.  `forward_specs` gives the shapes matching exactly the initiating packets
of a flow (and the IP protocols no ACE can match alone), `reply_specs` the shapes of its
stateless replies (and what has no stateless reply), as the `cisco_ios` package docstring
defines them.  A gateway asks for the same few packet sets thousands of times, so
`forward_shapes` and `reply_shapes` give the same answers as tuples, cached per packet set,
reading the common case (TCP and UDP port intervals) off the intervals directly.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from zonewall.backends.base import protocol_blocks
from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

__all__ = [
    "Spec",
    "ICMP_ECHO",
    "ICMP_ECHO_REPLY",
    "ICMP_NAMES",
    "ICMP_REQUESTS_WITH_REPLY",
    "Intervals",
    "forward_shapes",
    "forward_specs",
    "port_op",
    "reply_shapes",
    "reply_specs",
]

ICMP_ECHO, ICMP_ECHO_REPLY = 8, 0
ICMP_REQUESTS_WITH_REPLY = frozenset({13, 15, 17})  # timestamp, information, address mask
ICMP_NAMES = {ICMP_ECHO: "echo", ICMP_ECHO_REPLY: "echo-reply"}


def port_op(lo: int, hi: int) -> str:
    return f"eq {lo}" if lo == hi else f"range {lo} {hi}"


class Spec(NamedTuple):
    """One ACE shape: protocol, port operator (on the service side) and trailing option."""

    protocol: str
    port: str = ""
    option: str = ""


def forward_specs(packets: PacketSet) -> tuple[list[Spec], list[int]]:
    """ACE shapes matching exactly the initiating packets; protocols IOS cannot match alone."""
    blocks = protocol_blocks(packets)
    if len(blocks) == 256 and all(not ivs for _, ivs in blocks):
        return [Spec("ip")], []
    specs: list[Spec] = []
    bad: list[int] = []
    for proto, ivs in blocks:
        if proto in (TCP, UDP):
            name = "tcp" if proto == TCP else "udp"
            specs.extend([Spec(name, port_op(lo, hi)) for lo, hi in ivs] or [Spec(name)])
        elif proto == ICMP:
            if not ivs:
                specs.append(Spec("icmp"))
            types = [t for lo, hi in ivs for t in range(lo, min(hi, 255) + 1)]
            specs.extend(Spec("icmp", "", ICMP_NAMES.get(t, str(t))) for t in types)
        elif proto == 0 or ivs:
            bad.append(proto)  # "0" does not mean every protocol everywhere; partial: no syntax
        else:
            specs.append(Spec(str(proto)))
    return specs, bad


def reply_specs(packets: PacketSet) -> tuple[list[Spec], list[str]]:
    """ACE shapes for the stateless replies of a flow; what has no defined stateless reply."""
    specs: list[Spec] = []
    bad: list[str] = []
    for proto, ivs in protocol_blocks(packets):
        if proto == TCP:
            specs.extend(
                [Spec("tcp", port_op(lo, hi), "established") for lo, hi in ivs]
                or [Spec("tcp", "", "established")]
            )
        elif proto == UDP:
            specs.extend([Spec("udp", port_op(lo, hi)) for lo, hi in ivs] or [Spec("udp")])
        elif proto == ICMP:
            types = {t for lo, hi in (ivs or [(0, 255)]) for t in range(lo, min(hi, 255) + 1)}
            if ICMP_ECHO in types:
                specs.append(Spec("icmp", "", ICMP_NAMES[ICMP_ECHO_REPLY]))
            bad.extend(f"icmp/{t}" for t in sorted(types & ICMP_REQUESTS_WITH_REPLY))
        else:
            bad.append(f"proto/{proto}")
    return specs, bad


Intervals = tuple[tuple[int, int], ...]  # a PacketSet's value, hashed and compared in C
_PORTED = {TCP: ("tcp", "established"), UDP: ("udp", "")}


def _ported(intervals: Intervals, reply: bool) -> tuple[Spec, ...] | None:
    """The specs of TCP and UDP port intervals short of a whole protocol (what nearly every
    allow names), read off the intervals in key order, which is protocol order as
    `protocol_blocks` gives it; None for anything else."""
    out = []
    for lo, hi in intervals:
        proto = lo // PORT_SPAN
        lo_port, hi_port = lo % PORT_SPAN, hi % PORT_SPAN
        if (
            hi // PORT_SPAN != proto
            or proto not in _PORTED
            or (lo_port == 0 and hi_port == PORT_SPAN - 1)
        ):
            return None
        name, established = _PORTED[proto]
        out.append(Spec(name, port_op(lo_port, hi_port), established if reply else ""))
    return tuple(out) if out else None


@functools.lru_cache(maxsize=1 << 16)
def forward_shapes(intervals: Intervals) -> tuple[tuple[Spec, ...], tuple[int, ...]]:
    """`forward_specs` of a packet set's intervals, as tuples, once per packet set."""
    fast = _ported(intervals, False)
    if fast is not None:
        return fast, ()
    specs, bad = forward_specs(PacketSet(intervals))
    return tuple(specs), tuple(bad)


@functools.lru_cache(maxsize=1 << 16)
def reply_shapes(intervals: Intervals) -> tuple[tuple[Spec, ...], tuple[str, ...]]:
    """`reply_specs` of a packet set's intervals, as tuples, once per packet set."""
    fast = _ported(intervals, True)
    if fast is not None:
        return fast, ()
    specs, bad = reply_specs(PacketSet(intervals))
    return tuple(specs), tuple(bad)
