"""Packet sets: what a service matches, as sorted disjoint integer intervals.

A packet's service key is ``protocol * 65536 + port`` (TCP/UDP destination port, ICMP type;
other protocols use the whole block of their number).  ``ip`` is every key.  Because services
are compared by the packets they match, two services with the same ports are the same set, and
union, difference and inclusion are exact and linear in the number of intervals.

This module is part of the IR: it imports only the standard library and the interval
arithmetic (`intervals`), which it wraps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zonewall import intervals as iv

__all__ = [
    "ICMP",
    "ICMP_TYPES",
    "PROTO_NAMES",
    "TCP",
    "UDP",
    "PacketSet",
    "key",
]

TCP = 6
UDP = 17
ICMP = 1
PORT_SPAN = 1 << 16
MAX_KEY = 256 * PORT_SPAN - 1
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}

# ICMPv4 type names accepted after `icmp/` (RFC 792 and the iptables spellings).
ICMP_TYPES: dict[str, int] = {
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
    "address-mask-request": 17,
    "address-mask-reply": 18,
}
_ICMP_NAMES = {v: k for k, v in ICMP_TYPES.items()}


def key(proto: int, port: int = 0) -> int:
    return proto * PORT_SPAN + port


@dataclass(frozen=True, slots=True)
class PacketSet:
    """An immutable set of service keys: sorted, disjoint, non-adjacent inclusive intervals."""

    intervals: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        prev = -2
        for lo, hi in self.intervals:
            if not (prev + 1 < lo <= hi <= MAX_KEY):
                raise ValueError(f"PacketSet intervals not normalised: {self.intervals!r}")
            prev = hi

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def of(lo: int, hi: int) -> PacketSet:
        return PacketSet(((lo, hi),))

    @staticmethod
    def everything() -> PacketSet:
        return PacketSet(((0, MAX_KEY),))

    @staticmethod
    def ports(proto: int, lo: int, hi: int) -> PacketSet:
        return PacketSet(((key(proto, lo), key(proto, hi)),))

    @staticmethod
    def protocol(proto: int) -> PacketSet:
        return PacketSet(((key(proto, 0), key(proto, PORT_SPAN - 1)),))

    @staticmethod
    def union_all(sets: Iterable[PacketSet]) -> PacketSet:
        """Union of many sets in O(n log n) for n intervals (one C-level sort)."""
        sets = [s for s in sets if s.intervals]
        if not sets:
            return _EMPTY
        if len(sets) == 1:
            return sets[0]
        return _trusted(iv.union_all(s.intervals for s in sets))

    # -- algebra --------------------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __or__(self, other: PacketSet) -> PacketSet:
        return PacketSet.union_all((self, other))

    def __sub__(self, other: PacketSet) -> PacketSet:
        if not other.intervals or not self.intervals:
            return self
        return _trusted(iv.subtract(self.intervals, other.intervals))

    def __and__(self, other: PacketSet) -> PacketSet:
        a, b = self.intervals, other.intervals
        if not a or b == _ALL:
            return self
        if not b or a == _ALL:
            return other
        return _trusted(iv.intersect(a, b))

    def issubset(self, other: PacketSet) -> bool:
        return not (self - other)

    def __contains__(self, k: int) -> bool:
        return any(lo <= k <= hi for lo, hi in self.intervals)

    # -- presentation ------------------------------------------------------------------------
    def first_key(self) -> int:
        return self.intervals[0][0]

    def describe(self) -> str:
        """Readable form, e.g. ``tcp/443, udp/53, icmp/echo-request, ip``."""
        if self.intervals == ((0, MAX_KEY),):
            return "ip"
        parts: list[str] = []
        for lo, hi in self.intervals:
            first, last = lo // PORT_SPAN, hi // PORT_SPAN
            if first == last:
                parts.append(_describe_interval(lo, hi))
                continue
            if lo % PORT_SPAN:  # a partial first protocol
                parts.append(_describe_interval(lo, (first + 1) * PORT_SPAN - 1))
                first += 1
            tail = None
            if hi % PORT_SPAN != PORT_SPAN - 1:  # a partial last protocol
                tail = _describe_interval(last * PORT_SPAN, hi)
                last -= 1
            parts.extend(_describe_protocols(first, last))
            if tail:
                parts.append(tail)
        return ", ".join(parts)

    def split_by_protocol(self) -> list[tuple[int, int]]:
        """Intervals cut at protocol boundaries, so each lies within one protocol's block."""
        out: list[tuple[int, int]] = []
        for lo, hi in self.intervals:
            while lo // PORT_SPAN != hi // PORT_SPAN:
                end = (lo // PORT_SPAN + 1) * PORT_SPAN - 1
                out.append((lo, end))
                lo = end + 1
            out.append((lo, hi))
        return out


_ALL = ((0, MAX_KEY),)


def _trusted(intervals: tuple[tuple[int, int], ...]) -> PacketSet:
    """A set from intervals this module built itself (already normalised): no re-check."""
    made = object.__new__(PacketSet)
    object.__setattr__(made, "intervals", intervals)
    return made


_EMPTY = PacketSet()


def _describe_protocols(first: int, last: int) -> list[str]:
    """Whole protocols first..last: named ones by name, runs of others as proto/N-M."""
    out: list[str] = []
    run_start: int | None = None
    for proto in range(first, last + 2):
        named = proto in PROTO_NAMES or proto > last
        if named and run_start is not None:
            out.append(
                f"proto/{run_start}" if run_start == proto - 1 else f"proto/{run_start}-{proto - 1}"
            )
            run_start = None
        if proto > last:
            break
        if proto in PROTO_NAMES:
            out.append(PROTO_NAMES[proto])
        elif run_start is None:
            run_start = proto
    return out


def _describe_interval(lo: int, hi: int) -> str:
    proto, plo, phi = lo // PORT_SPAN, lo % PORT_SPAN, hi % PORT_SPAN
    whole = plo == 0 and phi == PORT_SPAN - 1
    name = PROTO_NAMES.get(proto)
    if name is None:
        return f"proto/{proto}" if whole else f"proto/{proto}:{plo}-{phi}"
    if whole:
        return name
    if proto == ICMP:
        if plo == phi:
            return f"icmp/{_ICMP_NAMES.get(plo, plo)}"
        return f"icmp/{plo}-{phi}"
    return f"{name}/{plo}" if plo == phi else f"{name}/{plo}-{phi}"
