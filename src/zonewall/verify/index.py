"""Candidate indexes: which rules of a chain *can* match an interface name or an address.

The evaluator asks the same question for every cell: which rules of this chain match here?
Scanning a chain of thousands of rules for each of the tens of thousands of cells of a large
gateway is what made validation quadratic.  An index answers with a *superset*: the positions
of the rules that may match a value of one dimension (ingress or egress name, source or
destination address), in chain order.  The caller still tests every candidate exactly, so an
index can only make evaluation faster, never change a verdict.

* Names: rules matching an exact set of names are filed under each name; a negated match, a
  wildcard prefix (`eth+`) or no match at all is a candidate for every name.
* Addresses: the boundaries of every rule's intervals cut the address space into elementary
  segments; a rule is filed under each segment it covers.  A negated match, no match, or an
  interval set spanning more than `MAX_SEGMENTS` segments is a candidate everywhere (so the
  index stays linear in size).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .rules import AddrMatch, NameMatch

__all__ = ["AddrIndex", "NameIndex"]

MAX_SEGMENTS = 64


class NameIndex:
    """Candidate rule positions for an interface name."""

    def __init__(self, matches: Sequence[NameMatch | None]) -> None:
        self._always: list[int] = []
        self._by_name: dict[str, list[int]] = {}
        for pos, m in enumerate(matches):
            if m is None or m.negate or m.prefixes:
                self._always.append(pos)
            else:
                for name in m.names:
                    self._by_name.setdefault(name, []).append(pos)
        self._cache: dict[str | None, tuple[int, ...]] = {}

    def candidates(self, name: str | None) -> tuple[int, ...]:
        hit = self._cache.get(name)
        if hit is None:
            named = self._by_name.get(name, []) if name is not None else []
            hit = tuple(sorted(self._always + named)) if named else tuple(self._always)
            self._cache[name] = hit
        return hit


class AddrIndex:
    """Candidate rule positions for an address."""

    def __init__(self, matches: Sequence[AddrMatch | None]) -> None:
        self._always: list[int] = []
        filed: list[tuple[int, AddrMatch]] = []
        for pos, m in enumerate(matches):
            if m is None or m.negate:
                self._always.append(pos)
            else:
                filed.append((pos, m))
        bounds: set[int] = set()
        for _, m in filed:
            for lo, hi in m.intervals:
                bounds.add(lo)
                bounds.add(hi + 1)
        self._bounds = sorted(bounds)
        self._segments: list[list[int]] = [[] for _ in self._bounds]
        for pos, m in filed:
            spans = [
                (bisect.bisect_left(self._bounds, lo), bisect.bisect_left(self._bounds, hi + 1))
                for lo, hi in m.intervals
            ]
            if sum(end - start for start, end in spans) > MAX_SEGMENTS:
                self._always.append(pos)
                continue
            for start, end in spans:
                for seg in range(start, end):
                    self._segments[seg].append(pos)
        self._always.sort()
        self._cache: dict[int, tuple[int, ...]] = {}

    def candidates(self, addr: int) -> tuple[int, ...]:
        hit = self._cache.get(addr)
        if hit is None:
            seg = bisect.bisect_right(self._bounds, addr) - 1
            filed = self._segments[seg] if seg >= 0 else []
            hit = tuple(sorted(self._always + filed)) if filed else tuple(self._always)
            self._cache[addr] = hit
        return hit
