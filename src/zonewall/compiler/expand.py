"""Endpoints: the disjoint pieces of address space that flows are computed on.

Every class is one endpoint.  Externals are their addresses minus their excepts minus every
class subnet (so ``internet`` = 0.0.0.0/0 never reaches a class), and overlapping externals are
cut into atoms by one sweep over interval boundaries: each atom is the address space shared by
exactly one set of externals.  A rule toward ``internet`` then reaches the atom of
``pump_vendor`` too, because the comparison is on addresses, never on names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netaddr import IPNetwork

from zonewall.diagnostics import DiagnosticSink
from zonewall.intervals import Interval, Intervals, cidr_cover, normalise, subtract
from zonewall.ir import Endpoint, ExternalDef, ResolvedClass, ResolvedExternal

__all__ = ["build_endpoints", "intervals_of", "to_prefixes"]


def intervals_of(prefixes: Iterable[IPNetwork]) -> Intervals:
    """Sorted, merged inclusive integer intervals covering the prefixes."""
    return normalise((p.first, p.last) for p in prefixes)


def to_prefixes(ivs: Sequence[Interval]) -> tuple[IPNetwork, ...]:
    """Exact CIDR cover of merged integer intervals, in address order."""
    return tuple(IPNetwork((first, plen)) for first, plen in cidr_cover(ivs))


def build_endpoints(
    classes: tuple[ResolvedClass, ...],
    externals: tuple[ExternalDef, ...],
    sink: DiagnosticSink,
) -> tuple[tuple[ResolvedExternal, ...], tuple[Endpoint, ...]]:
    """Resolved externals and all endpoints: classes by name, then external atoms by address."""
    class_space = intervals_of(p for c in classes for p in c.prefixes)
    resolved: list[ResolvedExternal] = []
    spaces: dict[str, Intervals] = {}
    for ext in sorted(externals, key=lambda e: e.name):
        space = subtract(
            subtract(intervals_of(ext.addresses), intervals_of(ext.excepts)), class_space
        )
        if not space:
            sink.error(
                "E213",
                f"external '{ext.name}' has no addresses left once its excepts "
                "and every class subnet are taken out",
                ext.span,
            )
        spaces[ext.name] = space
        resolved.append(ResolvedExternal(ext.name, to_prefixes(space), ext.span))
    endpoints = [
        Endpoint(i, "class", c.name, c.prefixes)
        for i, c in enumerate(sorted(classes, key=lambda c: c.name))
    ]
    sizes = {name: sum(hi - lo + 1 for lo, hi in sp) for name, sp in spaces.items()}
    for members, intervals in _atoms(spaces):
        label = min(members, key=lambda n: (sizes[n], n))  # the most specific external
        endpoints.append(
            Endpoint(
                len(endpoints), "external", label, to_prefixes(intervals), tuple(sorted(members))
            )
        )
    return tuple(resolved), tuple(endpoints)


def _atoms(spaces: dict[str, Intervals]) -> list[tuple[frozenset[str], list[Interval]]]:
    """Group the address space by the exact set of externals covering it."""
    events: list[tuple[int, int, str]] = []
    for name, intervals in spaces.items():
        for lo, hi in intervals:
            events.append((lo, 1, name))
            events.append((hi + 1, -1, name))
    events.sort()
    active: dict[str, int] = {}
    pieces: dict[frozenset[str], list[Interval]] = {}
    prev: int | None = None
    i = 0
    while i < len(events):
        point = events[i][0]
        if prev is not None and active and point > prev:
            key = frozenset(active)
            lst = pieces.setdefault(key, [])
            if lst and lst[-1][1] + 1 == prev:
                lst[-1] = (lst[-1][0], point - 1)
            else:
                lst.append((prev, point - 1))
        while i < len(events) and events[i][0] == point:
            _, delta, name = events[i]
            active[name] = active.get(name, 0) + delta
            if active[name] == 0:
                del active[name]
            i += 1
        prev = point
    return sorted(pieces.items(), key=lambda kv: kv[1][0][0])
