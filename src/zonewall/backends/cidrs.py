"""IPv4 address sets as plain integers, for backends that write many addresses (cisco-ios).

The IR holds `netaddr.IPNetwork` values; a backend converts each endpoint's prefixes once per
gateway (`cidr_of`) and then works on integers, which are one to two orders of magnitude
cheaper to hash, compare, merge and format than netaddr objects.  Every function here equals
its netaddr counterpart exactly (tests/property/test_cidrs.py proves it on random inputs):

* a `Cidr` is `(first address, prefix length)`: tuples of them compare, hash and sort exactly
  as tuples of normalised `IPNetwork`s do (netaddr sorts by first address, then prefix length);
* a `Span` set is a sorted tuple of disjoint, non-adjacent inclusive intervals `(lo, hi)`;
  `cidrs()` cuts it into the maximal aligned blocks, in address order, which is what
  `cidr_merge` returns and what `IPSet.iter_cidrs()` yields (both keep sets compacted);
* `merge(cidrs) == cidr_merge(nets)`; `union`, `intersect` and `subtract` (the shared interval
  arithmetic, `zonewall.intervals`) are `IPSet`'s `|`, `&` and `-`; `wildcard` is IOS's `A W`
  address text, `netmask` its group-member text.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Sequence

from netaddr import IPNetwork

from zonewall.intervals import (
    cidr_blocks,
    cidr_cover,
    intersect,
    normalise,
    overlaps,
    subtract,
    union,
)

__all__ = [
    "ALL",
    "ANY",
    "Cidr",
    "Spans",
    "cidr_of",
    "cidrs",
    "cidrs_of",
    "dotted",
    "intersect",
    "last",
    "merge",
    "netmask",
    "overlaps",
    "spans",
    "subtract",
    "touching",
    "union",
    "wildcard",
]

Cidr = tuple[int, int]  # (first address, prefix length); the address has no host bits
Spans = tuple[tuple[int, int], ...]  # sorted, disjoint, non-adjacent inclusive intervals
BITS = 32
TOP = (1 << BITS) - 1
ANY: Cidr = (0, 0)
ALL: Spans = ((0, TOP),)


def cidr_of(net: IPNetwork) -> Cidr:
    """A normalised IPv4 `IPNetwork` (as the IR holds) as integers."""
    if net.version != 4 or net.first != net.value:
        raise ValueError(f"not a normalised IPv4 network: {net}")
    return net.first, net.prefixlen


def cidrs_of(nets: Iterable[IPNetwork]) -> tuple[Cidr, ...]:
    return tuple(cidr_of(n) for n in nets)


def last(c: Cidr) -> int:
    return c[0] | (TOP >> c[1])


def spans(cs: Iterable[Cidr]) -> Spans:
    """The address set covered by `cs` (any order, overlaps and duplicates allowed)."""
    return normalise((f, f | (TOP >> p)) for f, p in cs)


def cidrs(s: Spans) -> tuple[Cidr, ...]:
    """The CIDRs of a set, as `IPSet.iter_cidrs()` lists them."""
    return tuple(cidr_cover(s))


def touching(s: Spans, points: Sequence[int]) -> list[Cidr]:
    """The CIDRs of `s` (as `cidrs(s)`) that contain at least one of the sorted `points`;
    intervals holding no point are never cut into blocks."""
    out: list[Cidr] = []
    for lo, hi in s:
        i = bisect.bisect_left(points, lo)
        if i == len(points) or points[i] > hi:
            continue
        for c in cidr_blocks(lo, hi):
            j = bisect.bisect_left(points, c[0], i)
            if j < len(points) and points[j] <= c[0] | (TOP >> c[1]):
                out.append(c)
    return out


def merge(cs: Iterable[Cidr]) -> tuple[Cidr, ...]:
    """`cidr_merge`: the fewest CIDRs covering exactly `cs`, in address order."""
    return cidrs(spans(cs))


@functools.lru_cache(maxsize=1 << 16)
def dotted(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@functools.lru_cache(maxsize=1 << 16)
def wildcard(c: Cidr) -> str:
    """IOS wants a wildcard mask: "permit ip 10.0.0.0 0.0.0.255 any"."""
    first, plen = c
    if plen == 0:
        return "any"
    if plen == BITS:
        return f"host {dotted(first)}"
    return f"{dotted(first)} {dotted(TOP >> plen)}"


@functools.lru_cache(maxsize=1 << 16)
def netmask(c: Cidr) -> str:
    """An `object-group network` member: "host A" or "A.B.C.D M.M.M.M" (a netmask)."""
    first, plen = c
    if plen == BITS:
        return f"host {dotted(first)}"
    return f"{dotted(first)} {dotted(TOP ^ (TOP >> plen))}"
