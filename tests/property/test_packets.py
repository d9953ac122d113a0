"""Property tests: `PacketSet` algebra agrees with Python sets of ints on a small universe.

Sets are drawn as lists of arbitrary (possibly overlapping, adjacent or unsorted) intervals in
a 64-key window, placed at the bottom of the key space, across a protocol boundary, or at the
very top (`MAX_KEY`), and built through `union_all` so that normalisation is exercised too.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonewall.packets import MAX_KEY, PORT_SPAN, PacketSet

WINDOW = 64
BASES = (0, PORT_SPAN - WINDOW // 2, MAX_KEY - WINDOW + 1)


def as_set(p: PacketSet) -> set[int]:
    return {k for lo, hi in p.intervals for k in range(lo, hi + 1)}


def from_set(keys: set[int]) -> PacketSet:
    """Canonical intervals of a set, computed independently of PacketSet."""
    out: list[tuple[int, int]] = []
    for k in sorted(keys):
        if out and out[-1][1] + 1 == k:
            out[-1] = (out[-1][0], k)
        else:
            out.append((k, k))
    return PacketSet(tuple(out))


def is_normalised(p: PacketSet) -> bool:
    prev = -2
    for lo, hi in p.intervals:
        if not prev + 1 < lo <= hi <= MAX_KEY:
            return False
        prev = hi
    return True


@st.composite
def interval_lists(draw: st.DrawFn, base: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(draw(st.integers(0, 5))):
        lo = draw(st.integers(0, WINDOW - 1))
        hi = draw(st.integers(lo, min(WINDOW - 1, lo + draw(st.sampled_from((0, 1, 3, 20))))))
        out.append((base + lo, base + hi))
    return out


@st.composite
def packet_sets(draw: st.DrawFn, base: int) -> tuple[PacketSet, set[int]]:
    ivs = draw(interval_lists(base))
    packets = PacketSet.union_all(PacketSet.of(lo, hi) for lo, hi in ivs)
    return packets, {k for lo, hi in ivs for k in range(lo, hi + 1)}


@st.composite
def triples(draw: st.DrawFn) -> tuple[int, list[tuple[PacketSet, set[int]]]]:
    base = draw(st.sampled_from(BASES))
    return base, [draw(packet_sets(base)) for _ in range(3)]


@given(triples())
def test_construction_is_canonical(t: tuple[int, list[tuple[PacketSet, set[int]]]]) -> None:
    _, sets = t
    for p, s in sets:
        assert is_normalised(p)
        assert as_set(p) == s
        assert p == from_set(s)  # equal sets, equal values
        assert bool(p) == bool(s)


@given(triples())
def test_algebra_matches_python_sets(t: tuple[int, list[tuple[PacketSet, set[int]]]]) -> None:
    base, [(a, sa), (b, sb), (c, sc)] = t
    for got, want in ((a | b, sa | sb), (a - b, sa - sb), (a & b, sa & sb),
                      (PacketSet.union_all([a, b, c]), sa | sb | sc),
                      ((a | b) - c, (sa | sb) - sc), (a & (b | c), sa & (sb | sc))):
        assert is_normalised(got)
        assert got == from_set(want)
    assert a.issubset(b) == (sa <= sb)
    assert (a & b).issubset(a) and a.issubset(a | b)
    for k in range(base - 1, base + WINDOW + 1):
        assert (k in a) == (k in sa)


@given(triples())
def test_algebra_with_everything(t: tuple[int, list[tuple[PacketSet, set[int]]]]) -> None:
    _, [(a, sa), (b, _), _] = t
    everything = PacketSet.everything()
    complement = everything - a
    assert is_normalised(complement)
    assert complement & a == PacketSet()
    assert complement | a == everything
    assert everything - complement == a
    assert a.issubset(everything) and (a - a) == PacketSet() and (a & everything) == a
    assert (a - b) | (a & b) == a


@given(st.sampled_from(BASES).flatmap(packet_sets))
def test_split_by_protocol_preserves_keys(ps: tuple[PacketSet, set[int]]) -> None:
    p, _ = ps
    for packets in (p, PacketSet.everything() - p):
        pieces = packets.split_by_protocol()
        assert all(lo // PORT_SPAN == hi // PORT_SPAN and lo <= hi for lo, hi in pieces)
        assert PacketSet.union_all(PacketSet.of(lo, hi) for lo, hi in pieces) == packets


@pytest.mark.parametrize("intervals", [((0, 1), (2, 3)), ((0, 5), (3, 9)), ((4, 5), (0, 1)),
                                       ((3, 2),), ((0, MAX_KEY + 1),), ((-1, 0),)],
                         ids=["adjacent", "overlapping", "unsorted", "reversed", "too-big",
                              "negative"])
def test_unnormalised_intervals_are_rejected(intervals: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError, match="not normalised"):
        PacketSet(intervals)
