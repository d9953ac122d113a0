"""Property tests: `zonewall.intervals`, the one sorted-interval arithmetic, against references
that share nothing with it: Python sets of integers (on a small universe, so every member is
enumerated) and netaddr (`IPSet`, `iprange_to_cidrs`, `cidr_merge`) on IPv4 addresses.

Every interval user (packet sets, the compiler's endpoints, the backends' address sets, the
verifier's matches and port complements) rests on these functions, so they are proven here
once; tests/property/test_packets.py and test_cidrs.py check the wrappers.
"""

from __future__ import annotations

import itertools

from hypothesis import example, given
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork, IPSet, cidr_merge, iprange_to_cidrs

from zonewall import intervals as iv

UNIVERSE = 64  # members 0..63: small enough to enumerate, large enough to overlap rarely

raw = st.lists(
    st.tuples(st.integers(0, UNIVERSE - 1), st.integers(0, 12)).map(
        lambda t: (t[0], min(t[0] + t[1], UNIVERSE - 1))
    ),
    max_size=8,
)
normal = raw.map(iv.normalise)


def members(ivs: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> set[int]:
    return {n for lo, hi in ivs for n in range(lo, hi + 1)}


def is_normal(ivs: tuple[tuple[int, int], ...]) -> bool:
    return (
        isinstance(ivs, tuple)
        and all(lo <= hi for lo, hi in ivs)
        and all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ivs))
    )


def from_members(ms: set[int]) -> tuple[tuple[int, int], ...]:
    """The normal form of a set, built the slow way: one interval per run of members."""
    out: list[tuple[int, int]] = []
    for n in sorted(ms):
        if out and out[-1][1] + 1 == n:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return tuple(out)


@given(raw)
@example([(5, 9), (0, 4)])  # adjacent, out of order: one interval
@example([(3, 3), (3, 3)])
def test_normalise_keeps_the_members_and_is_the_one_normal_form(ivs: list[tuple[int, int]]) -> None:
    got = iv.normalise(ivs)
    assert is_normal(got)
    assert got == from_members(members(ivs))
    assert iv.merge_sorted(sorted(ivs)) == got


@given(normal, normal)
@example(((0, 3),), ((4, 7),))  # touching sets: the union is one interval
def test_set_algebra_is_python_set_algebra(
    a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]
) -> None:
    sa, sb = members(a), members(b)
    for got, want in (
        (iv.union(a, b), sa | sb),
        (iv.intersect(a, b), sa & sb),
        (iv.subtract(a, b), sa - sb),
        (iv.subtract(b, a), sb - sa),
        (iv.union_all([a, b, a]), sa | sb),
    ):
        assert is_normal(got)
        assert got == from_members(want)
    assert iv.overlaps(a, b) == bool(sa & sb)


@given(normal, st.integers(0, 8), st.integers(UNIVERSE - 8, UNIVERSE + 8))
def test_complement_is_the_rest_of_the_bounds(
    a: tuple[tuple[int, int], ...], first: int, last: int
) -> None:
    inside = iv.intersect(a, ((first, last),))
    got = iv.complement(inside, first, last)
    assert is_normal(got)
    assert got == from_members(set(range(first, last + 1)) - members(a))
    assert iv.complement((), first, last) == ((first, last),)


def _net(first: int, plen: int) -> IPNetwork:
    return IPNetwork(f"{IPAddress(first)}/{plen}").cidr


WINDOW = 10 << 24
anywhere = st.builds(_net, st.integers(0, (1 << 32) - 1), st.integers(0, 32))
window = st.builds(_net, st.integers(WINDOW, WINDOW + 255), st.integers(24, 32))
nets = st.lists(st.one_of(window, window, anywhere), max_size=10)
addresses = st.integers(0, (1 << 32) - 1)


def _spans(ns: list[IPNetwork]) -> tuple[tuple[int, int], ...]:
    return iv.normalise((n.first, n.last) for n in ns)


@given(addresses, addresses)
@example(0, (1 << 32) - 1)
@example(WINDOW + 1, WINDOW + 254)
def test_cidr_blocks_are_netaddrs_range_cut(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    want = iprange_to_cidrs(IPAddress(lo, 4), IPAddress(hi, 4))
    assert [_net(f, p) for f, p in iv.cidr_blocks(lo, hi)] == want


@given(nets, nets)
def test_cidr_cover_of_set_algebra_is_ipset(a: list[IPNetwork], b: list[IPNetwork]) -> None:
    sa, sb = _spans(a), _spans(b)
    ia, ib = IPSet(a), IPSet(b)
    assert [_net(f, p) for f, p in iv.cidr_cover(sa)] == cidr_merge(a)
    for got, want in (
        (iv.union(sa, sb), ia | ib),
        (iv.intersect(sa, sb), ia & ib),
        (iv.subtract(sa, sb), ia - ib),
    ):
        assert [_net(f, p) for f, p in iv.cidr_cover(got)] == list(want.iter_cidrs())
    assert iv.overlaps(sa, sb) == bool(ia & ib)
