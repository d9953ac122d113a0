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
    for got, want in (
        (a | b, sa | sb),
        (a - b, sa - sb),
        (a & b, sa & sb),
        (PacketSet.union_all([a, b, c]), sa | sb | sc),
        ((a | b) - c, (sa | sb) - sc),
        (a & (b | c), sa & (sb | sc)),
    ):
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


@pytest.mark.parametrize(
    "intervals",
    [
        ((0, 1), (2, 3)),
        ((0, 5), (3, 9)),
        ((4, 5), (0, 1)),
        ((3, 2),),
        ((0, MAX_KEY + 1),),
        ((-1, 0),),
    ],
    ids=["adjacent", "overlapping", "unsorted", "reversed", "too-big", "negative"],
)
def test_unnormalised_intervals_are_rejected(intervals: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError, match="not normalised"):
        PacketSet(intervals)


# -- describe() never understates ----------------------------------------------------------------

# The ICMP type names describe() may print (RFC 792 and the IANA registry), and the protocol
# names, written here independently of zonewall.packets.
ICMP_BY_NAME = {
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
PROTO_BY_NAME = {"icmp": 1, "tcp": 6, "udp": 17}


def _span(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def read_description(text: str) -> PacketSet:
    """The set a describe() text names, read item by item (the inverse of describe())."""
    if text == "ip":
        return PacketSet.everything()
    parts: list[PacketSet] = []
    for item in text.split(", ") if text else []:
        name, _, arg = item.partition("/")
        if name == "proto" and ":" in arg:
            proto, ports = arg.split(":")
            lo, hi = _span(ports)
            parts.append(PacketSet.ports(int(proto), lo, hi))
        elif name == "proto":
            first, last = _span(arg)
            parts.append(PacketSet.of(first * PORT_SPAN, last * PORT_SPAN + PORT_SPAN - 1))
        elif not arg:
            parts.append(PacketSet.protocol(PROTO_BY_NAME[name]))
        else:
            lo, hi = (ICMP_BY_NAME[arg],) * 2 if arg in ICMP_BY_NAME else _span(arg)
            parts.append(PacketSet.ports(PROTO_BY_NAME[name], lo, hi))
    return PacketSet.union_all(parts)


def _points() -> st.SearchStrategy[int]:
    proto = st.sampled_from((0, 1, 2, 5, 6, 7, 16, 17, 18, 100, 254, 255))
    port = st.sampled_from((0, 1, 3, 4, 5, 8, 18, 19, 255, 256, 443, PORT_SPAN - 1))
    return st.one_of(
        st.builds(lambda p, q: p * PORT_SPAN + q, proto, port), st.integers(0, MAX_KEY)
    )


@given(st.lists(st.tuples(_points(), _points()), max_size=6))
def test_describe_reads_back_as_exactly_the_set(pairs: list[tuple[int, int]]) -> None:
    packets = PacketSet.union_all(PacketSet.of(min(p), max(p)) for p in pairs)
    assert read_description(packets.describe()) == packets


@pytest.mark.parametrize(
    ("packets", "text"),
    [
        (PacketSet.of(2 * PORT_SPAN, 6 * PORT_SPAN - 1), "proto/2-5"),
        (PacketSet.of(7 * PORT_SPAN, 17 * PORT_SPAN - 1), "proto/7-16"),
        (PacketSet.of(18 * PORT_SPAN, MAX_KEY), "proto/18-255"),
        (PacketSet.of(6 * PORT_SPAN, 9 * PORT_SPAN - 1), "tcp, proto/7-8"),
        (PacketSet.of(PORT_SPAN + 4, PORT_SPAN + 4), "icmp/source-quench"),
        (PacketSet.of(PORT_SPAN + 3, PORT_SPAN + 5), "icmp/3-5"),
        (
            PacketSet.of(PORT_SPAN + 8, PORT_SPAN + 8) | PacketSet.of(PORT_SPAN, PORT_SPAN),
            "icmp/echo-reply, icmp/echo-request",
        ),
        (PacketSet.of(PORT_SPAN + 19, PORT_SPAN + 19), "icmp/19"),
        (PacketSet.of(2 * PORT_SPAN, 5 * PORT_SPAN + 100), "proto/2-4, proto/5:0-100"),
        (PacketSet.of(PORT_SPAN + 8, 3 * PORT_SPAN - 1), "icmp/8-65535, proto/2"),
        (
            PacketSet.of(6 * PORT_SPAN + 22, 6 * PORT_SPAN + 22)
            | PacketSet.of(17 * PORT_SPAN + 53, 17 * PORT_SPAN + 54),
            "tcp/22, udp/53-54",
        ),
        (PacketSet.everything(), "ip"),
        (PacketSet(), ""),
    ],
    ids=[
        "run",
        "run-between-names",
        "run-to-the-top",
        "name-then-run",
        "icmp-name",
        "icmp-range",
        "icmp-two",
        "icmp-unnamed",
        "partial-tail",
        "partial-head",
        "ports",
        "ip",
        "nothing",
    ],
)
def test_describe_texts(packets: PacketSet, text: str) -> None:
    assert packets.describe() == text
