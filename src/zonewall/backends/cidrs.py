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
* `merge(cidrs) == cidr_merge(nets)`; `union`, `intersect` and `subtract` are `IPSet`'s
  `|`, `&` and `-`; `wildcard` is IOS's `A W` address text, `netmask` its group-member text.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Sequence

from netaddr import IPNetwork

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
    return _normal(sorted((f, f | (TOP >> p)) for f, p in cs))


def _blocks(lo: int, hi: int) -> list[Cidr]:
    """The maximal aligned blocks of `lo..hi`, lowest first (netaddr's iprange_to_cidrs)."""
    out = []
    while lo <= hi:
        size = (lo & -lo) if lo else 1 << BITS  # the largest block aligned at `lo`
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, BITS + 1 - size.bit_length()))
        lo += size
    return out


def cidrs(s: Spans) -> tuple[Cidr, ...]:
    """The CIDRs of a set, as `IPSet.iter_cidrs()` lists them."""
    if len(s) == 1:
        return tuple(_blocks(*s[0]))
    return tuple(c for lo, hi in s for c in _blocks(lo, hi))


def touching(s: Spans, points: Sequence[int]) -> list[Cidr]:
    """The CIDRs of `s` (as `cidrs(s)`) that contain at least one of the sorted `points`;
    intervals holding no point are never cut into blocks."""
    out: list[Cidr] = []
    for lo, hi in s:
        i = bisect.bisect_left(points, lo)
        if i == len(points) or points[i] > hi:
            continue
        for c in _blocks(lo, hi):
            j = bisect.bisect_left(points, c[0], i)
            if j < len(points) and points[j] <= c[0] | (TOP >> c[1]):
                out.append(c)
    return out


def merge(cs: Iterable[Cidr]) -> tuple[Cidr, ...]:
    """`cidr_merge`: the fewest CIDRs covering exactly `cs`, in address order."""
    return cidrs(spans(cs))


def union(a: Spans, b: Spans) -> Spans:
    if not a:
        return b
    if not b:
        return a
    return _normal(sorted(a + b))


def _normal(ivs: Sequence[tuple[int, int]]) -> Spans:
    out: list[tuple[int, int]] = []
    for lo, hi in ivs:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def intersect(a: Spans, b: Spans) -> Spans:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def overlaps(a: Spans, b: Spans) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if max(a[i][0], b[j][0]) <= min(a[i][1], b[j][1]):
            return True
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return False


def subtract(a: Spans, b: Spans) -> Spans:
    out = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > lo:
                out.append((lo, b[k][0] - 1))
            lo = max(lo, b[k][1] + 1)
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


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
