"""Sorted-interval arithmetic: the one implementation of set algebra on integer intervals.

Service keys (`packets.PacketSet`), IPv4 addresses (the compiler's endpoints, the backends'
address sets, the verifier's matches) and port ranges are all sets of integers held as
*normal* interval tuples: sorted, disjoint, non-adjacent, inclusive `(lo, hi)` pairs of
non-negative integers.  Union, intersection, difference and complement of normal tuples are
linear merges, and `cidr_blocks` cuts a range of addresses into the fewest aligned CIDRs.

This module is ground floor: it imports only the standard library and decides nothing about
any platform, so the verifier may share it with the compiler and the backends (its
independence is about the backends' decisions, not about arithmetic).  Every function is
property-tested against Python sets and netaddr in tests/property/test_intervals.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "Interval",
    "Intervals",
    "cidr_blocks",
    "cidr_cover",
    "complement",
    "intersect",
    "merge_sorted",
    "normalise",
    "overlaps",
    "subtract",
    "union",
    "union_all",
]

Interval = tuple[int, int]
Intervals = tuple[Interval, ...]  # normal: sorted, disjoint, non-adjacent, inclusive


def merge_sorted(ivs: Iterable[Interval]) -> Intervals:
    """Normal form of intervals of non-negative integers already sorted by their low end
    (overlaps and neighbours allowed): one pass, joining each to the last it touches."""
    out: list[Interval] = []
    last_lo = last_hi = -2
    for lo, hi in ivs:
        if lo <= last_hi + 1:
            if hi > last_hi:
                last_hi = hi
        else:
            if last_hi >= 0:
                out.append((last_lo, last_hi))
            last_lo, last_hi = lo, hi
    if last_hi >= 0:
        out.append((last_lo, last_hi))
    return tuple(out)


def normalise(ivs: Iterable[Interval]) -> Intervals:
    """Normal form of any intervals (any order, overlaps and duplicates allowed)."""
    return merge_sorted(sorted(ivs))


def union(a: Intervals, b: Intervals) -> Intervals:
    if not a:
        return b
    if not b:
        return a
    return merge_sorted(sorted(a + b))


def union_all(parts: Iterable[Intervals]) -> Intervals:
    """Union of many normal tuples in O(n log n) for n intervals (one C-level sort)."""
    ivs: list[Interval] = []
    for part in parts:
        ivs.extend(part)
    return merge_sorted(sorted(ivs))


def intersect(a: Intervals, b: Intervals) -> Intervals:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def overlaps(a: Intervals, b: Intervals) -> bool:
    """Whether `a` and `b` share an integer (`intersect(a, b) != ()` without building it)."""
    i = j = 0
    while i < len(a) and j < len(b):
        if max(a[i][0], b[j][0]) <= min(a[i][1], b[j][1]):
            return True
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return False


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """`a` minus `b`."""
    if not a or not b:
        return a
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            tlo, thi = b[k]
            if tlo > lo:
                out.append((lo, tlo - 1))
            if thi >= hi:
                lo = hi + 1
                break
            lo = thi + 1
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def complement(a: Intervals, first: int, last: int) -> Intervals:
    """Everything in `first..last` that `a` (normal, within those bounds) does not hold."""
    out: list[Interval] = []
    nxt = first
    for lo, hi in a:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= last:
        out.append((nxt, last))
    return tuple(out)


def cidr_blocks(lo: int, hi: int, bits: int = 32) -> list[tuple[int, int]]:
    """The maximal aligned blocks of `lo..hi` as `(first, prefix length)`, lowest first:
    the CIDRs netaddr's `iprange_to_cidrs` gives for an address range of `bits` bits."""
    out: list[tuple[int, int]] = []
    while lo <= hi:
        size = (lo & -lo) if lo else 1 << bits  # the largest block aligned at `lo`
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, bits + 1 - size.bit_length()))
        lo += size
    return out


def cidr_cover(ivs: Sequence[Interval], bits: int = 32) -> list[tuple[int, int]]:
    """The fewest CIDR blocks covering exactly the normal intervals `ivs`, in address order
    (what netaddr's `cidr_merge` and `IPSet.iter_cidrs()` give)."""
    if len(ivs) == 1:
        return cidr_blocks(ivs[0][0], ivs[0][1], bits)
    return [c for lo, hi in ivs for c in cidr_blocks(lo, hi, bits)]
