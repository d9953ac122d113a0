"""Names for packet sets and statements, as a reviewer wants to read them.

A set of packets is described by the policy's own service names wherever a defined service
lies wholly inside it (the largest such service first, so `web` beats `https` plus `http`), and
by protocol/port ranges (`tcp/8080-8090`) for whatever no service covers.  Services are compared
by packets, never by name, so a renamed service describes the same set under its new name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zonewall.diagnostics import Span, source_lines, span_text
from zonewall.ir import ResolvedService
from zonewall.packets import PORT_SPAN, PacketSet

__all__ = ["packet_count", "service_names", "statement_text"]


def packet_count(packets: PacketSet) -> int:
    return sum(hi - lo + 1 for lo, hi in packets.intervals)


def service_names(packets: PacketSet, services: Iterable[ResolvedService]) -> tuple[str, ...]:
    """Service names and literal ranges that together cover exactly `packets`, in key order.

    Whole protocols are written as such (`ip`, `udp`, `proto/47`): naming the services inside
    them would say less.  In the rest, a defined service is used when all of its packets are
    there and none of them is already named, largest first (ties by name); what no service
    covers is written as ranges (`PacketSet.describe`).
    """
    if not packets:
        return ()
    whole = PacketSet.union_all(
        PacketSet.protocol(lo // PORT_SPAN)
        for lo, hi in packets.split_by_protocol()
        if lo % PORT_SPAN == 0 and hi % PORT_SPAN == PORT_SPAN - 1
    )
    remaining = packets - whole
    candidates = sorted(
        (s for s in services if s.packets and s.packets.issubset(remaining)),
        key=lambda s: (-packet_count(s.packets), s.name),
    )
    named: list[tuple[int, str]] = []
    if whole:
        named.append((whole.first_key(), whole.describe()))
    for svc in candidates:
        if svc.packets.issubset(remaining):
            named.append((svc.packets.first_key(), svc.name))
            remaining = remaining - svc.packets
            if not remaining:
                break
    literal = [(lo, PacketSet.of(lo, hi).describe()) for lo, hi in remaining.intervals]
    return tuple(text for _, text in sorted(named + literal))


def statement_text(span: Span | None, sources: Mapping[str, str]) -> str:
    """A statement as written, comments dropped and whitespace collapsed ('' if unknown)."""
    if span is None or span.file not in sources:
        return ""
    return span_text(source_lines(sources[span.file]), span)
