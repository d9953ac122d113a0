"""Property tests: the integer CIDR helpers equal netaddr's `cidr_merge`, `IPSet` and masks.

Networks are drawn anywhere in IPv4 (prefix lengths 0-32) or packed into a small window (so
that they overlap, nest, touch and merge often), and normalised as the IR normalises them.
"""

from __future__ import annotations

import itertools

from hypothesis import example, given
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork, IPSet, cidr_merge

from zonewall.backends import cidrs

WINDOW_BASE = 10 << 24


def _net(first: int, plen: int) -> IPNetwork:
    return IPNetwork(f"{IPAddress(first)}/{plen}").cidr


anywhere = st.builds(_net, st.integers(0, (1 << 32) - 1), st.integers(0, 32))
window = st.builds(_net, st.integers(WINDOW_BASE, WINDOW_BASE + 255), st.integers(24, 32))
nets = st.lists(st.one_of(window, window, anywhere), max_size=12)


def ints(ns: list[IPNetwork]) -> list[cidrs.Cidr]:
    return [cidrs.cidr_of(n) for n in ns]


def as_nets(cs: tuple[cidrs.Cidr, ...]) -> list[IPNetwork]:
    return [_net(f, p) for f, p in cs]


@given(nets)
@example([IPNetwork("0.0.0.0/0"), IPNetwork("255.255.255.255/32")])
@example([IPNetwork("10.0.0.0/25"), IPNetwork("10.0.0.128/25"), IPNetwork("10.0.1.0/24")])
def test_merge_is_cidr_merge(ns: list[IPNetwork]) -> None:
    merged = cidrs.merge(ints(ns))
    assert as_nets(merged) == cidr_merge(ns)
    assert merged == tuple(cidrs.cidr_of(n) for n in cidr_merge(ns))  # same order, same keys


@given(nets, nets)
def test_set_operations_are_ipset_operations(a: list[IPNetwork], b: list[IPNetwork]) -> None:
    sa, sb = cidrs.spans(ints(a)), cidrs.spans(ints(b))
    ia, ib = IPSet(a), IPSet(b)
    for got, want in (
        (cidrs.union(sa, sb), ia | ib),
        (cidrs.intersect(sa, sb), ia & ib),
        (cidrs.subtract(sa, sb), ia - ib),
        (cidrs.subtract(sb, sa), ib - ia),
    ):
        assert as_nets(cidrs.cidrs(got)) == list(want.iter_cidrs())
    assert cidrs.overlaps(sa, sb) == bool(ia & ib)


@given(nets)
def test_spans_are_normalised(ns: list[IPNetwork]) -> None:
    s = cidrs.spans(ints(ns))
    assert all(lo <= hi for lo, hi in s)
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(s))


@given(anywhere)
@example(IPNetwork("0.0.0.0/0"))
@example(IPNetwork("192.0.2.7/32"))
def test_masks_are_netaddr_masks(net: IPNetwork) -> None:
    c = cidrs.cidr_of(net)
    assert cidrs.last(c) == net.last
    assert cidrs.dotted(c[0]) == str(net.ip)
    want = (
        "any"
        if net.prefixlen == 0
        else f"host {net.ip}"
        if net.prefixlen == 32
        else f"{net.ip} {net.hostmask}"
    )
    assert cidrs.wildcard(c) == want
    member = f"host {net.ip}" if net.prefixlen == 32 else f"{net.ip} {net.netmask}"
    assert cidrs.netmask(c) == member


@given(st.lists(st.lists(window, min_size=1, max_size=3), min_size=2, max_size=4))
def test_key_order_is_ipnetwork_order(keys: list[list[IPNetwork]]) -> None:
    """Tuples of Cidrs sort (and compare equal) exactly as tuples of IPNetworks do."""
    by_net = sorted(range(len(keys)), key=lambda i: tuple(keys[i]))
    by_int = sorted(range(len(keys)), key=lambda i: tuple(ints(keys[i])))
    assert [tuple(keys[i]) for i in by_net] == [tuple(keys[i]) for i in by_int]


@given(nets, nets)
def test_touching_is_the_widen_filter(a: list[IPNetwork], b: list[IPNetwork]) -> None:
    """The merged CIDRs of a + b that contain some network of a (the backend's `widen`)."""
    want = [c for c in cidr_merge(a + b) if any(c.first <= p.first and p.last <= c.last for p in a)]
    got = cidrs.touching(cidrs.spans(ints(a + b)), sorted(p.first for p in a))
    assert as_nets(tuple(got)) == want
