"""Effective flows: (union of allows) minus (union of denies), per endpoint pair.

Each allow and deny is expanded once to the endpoint pairs it covers; a pair's effective packet
set is the union of its allows' packets minus the union of its denies' packets, so statement
order never matters.  The same pass finds, exactly and without pairwise comparison of rules:

* dead allows: on every pair they cover, the denies remove all their packets;
* redundant allows: on every pair, every packet they open is also opened by another allow that
  is kept (a sweep over interval boundaries counts the coverers of each elementary segment; the
  later of two mutually covering allows is the one reported);
* allows with no effect: they cover only same-class or external-to-external pairs.

A gateway itself (`gateway:NAME`) is one more endpoint, of kind "gateway", placed after the
classes and externals; it is only ever a destination.

Pairs whose allow lists are identical share one computation, which keeps broad selectors
(``internal -> core_dns``) cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from zonewall.compiler.resolve import GATEWAY_PREFIX
from zonewall.ir import Endpoint, Flow, ResolvedRule
from zonewall.packets import PacketSet

__all__ = ["FlowAnalysis", "compute_flows"]

Pair = tuple[int, int]


@dataclass
class FlowAnalysis:
    flows: dict[Pair, Flow]
    dead: list[int] = field(default_factory=list)  # allow indices
    redundant: dict[int, tuple[int, ...]] = field(default_factory=dict)  # allow -> some coverers
    no_effect: list[int] = field(default_factory=list)  # rule indices (allow or deny)


def _pairs(
    rule: ResolvedRule, members: dict[str, tuple[int, ...]], endpoints: Sequence[Endpoint]
) -> list[Pair]:
    srcs = _endpoints_of(rule.src, members)
    dst = rule.dst
    if rule.gateways:  # the gateways themselves are endpoints too (kind "gateway")
        dst = dst + tuple(GATEWAY_PREFIX + g for g in rule.gateways)
    dsts = _endpoints_of(dst, members)
    out: list[Pair] = []
    for s in srcs:
        s_ext = endpoints[s].kind == "external"
        for d in dsts:
            if s != d and not (s_ext and endpoints[d].kind == "external"):
                out.append((s, d))
    return out


def _endpoints_of(names: tuple[str, ...], members: dict[str, tuple[int, ...]]) -> Sequence[int]:
    """The endpoints of some member names, sorted, each once."""
    if len(names) == 1:
        return members[names[0]]  # ascending and distinct, as compute_flows requires
    return sorted({e for m in names for e in members[m]})


def compute_flows(
    rules: Sequence[ResolvedRule],
    members: dict[str, tuple[int, ...]],
    endpoints: Sequence[Endpoint],
) -> FlowAnalysis:
    """Effective flows and the dead / redundant / no-effect findings.

    `members` maps each class and external name to its endpoint ids in ascending order.
    """
    by_index = {r.index: r for r in rules}
    pair_allows: dict[Pair, list[int]] = {}
    pair_denies: dict[Pair, list[int]] = {}
    no_effect: list[int] = []
    for rule in rules:
        pairs = _pairs(rule, members, endpoints)
        if not pairs:
            no_effect.append(rule.index)
        table = pair_allows if rule.action == "allow" else pair_denies
        for pair in pairs:
            table.setdefault(pair, []).append(rule.index)

    union_cache: dict[tuple[int, ...], PacketSet] = {}

    def union(ids: tuple[int, ...], plaintext: bool = False) -> PacketSet:
        key = ids + ((-1,) if plaintext else ())
        got = union_cache.get(key)
        if got is None:
            got = PacketSet.union_all(
                by_index[i].plaintext if plaintext else by_index[i].packets for i in ids
            )
            union_cache[key] = got
        return got

    # Pairs with the same allows and denies share one computation: (effective, plaintext,
    # opened), or None when nothing is left.
    shared: dict[
        tuple[tuple[int, ...], tuple[int, ...]], tuple[PacketSet, PacketSet, tuple[int, ...]] | None
    ] = {}
    flows: dict[Pair, Flow] = {}
    alive: set[int] = set()
    for pair in sorted(pair_allows):
        allow_ids = tuple(pair_allows[pair])
        deny_ids = tuple(pair_denies.get(pair, ()))
        key = (allow_ids, deny_ids)
        if key not in shared:
            shared[key] = _effective(allow_ids, deny_ids, by_index, union, alive)
        got = shared[key]
        if got is not None:
            flows[pair] = Flow(pair[0], pair[1], got[0], got[1], got[2])
    dead = sorted(i for ids in pair_allows.values() for i in ids if i not in alive)
    analysis = FlowAnalysis(flows, sorted(set(dead)), {}, no_effect)
    analysis.redundant = _redundant(pair_allows, by_index, set(analysis.dead))
    return analysis


def _effective(
    allow_ids: tuple[int, ...],
    deny_ids: tuple[int, ...],
    by_index: dict[int, ResolvedRule],
    union: Callable[[tuple[int, ...], bool], PacketSet],
    alive: set[int],
) -> tuple[PacketSet, PacketSet, tuple[int, ...]] | None:
    """One pair's effective packets, plaintext part and opening allows; marks live allows."""
    if len(allow_ids) == 1 and not deny_ids:  # most pairs: what the one allow opens
        rule = by_index[allow_ids[0]]
        if not rule.packets:
            return None
        alive.add(rule.index)
        return rule.packets, rule.plaintext & rule.packets, allow_ids
    denied = union(deny_ids, False) if deny_ids else PacketSet()
    for i in allow_ids:
        if i not in alive and (by_index[i].packets - denied):
            alive.add(i)
    effective = union(allow_ids, False) - denied
    if not effective:
        return None
    opened = tuple(i for i in allow_ids if by_index[i].packets & effective)
    plain = union(allow_ids, True) & effective
    return effective, plain, opened


def _redundant(
    pair_allows: dict[Pair, list[int]], by_index: dict[int, ResolvedRule], dead: set[int]
) -> dict[int, tuple[int, ...]]:
    """Allows whose every packet, on every pair, is opened by another kept allow."""
    needed: set[int] = set()
    kept: list[int] = []  # per elementary segment: how many of its coverers are kept
    coverers: list[tuple[int, ...]] = []
    rule_segments: dict[int, list[int]] = {}
    for ids in {tuple(v) for v in pair_allows.values()}:
        if len(ids) == 1:
            needed.add(ids[0])
            continue
        for cover in _segments(ids, by_index):
            if len(cover) == 1:
                needed.add(cover[0])
                continue
            seg = len(kept)
            kept.append(len(cover))
            coverers.append(cover)
            for i in cover:
                rule_segments.setdefault(i, []).append(seg)
    out: dict[int, tuple[int, ...]] = {}
    removed: set[int] = set()
    for i in sorted(rule_segments, reverse=True):  # later statements are reported first
        if i in needed or i in dead:
            continue
        segs = rule_segments[i]
        if all(kept[s] >= 2 for s in segs):
            for s in segs:
                kept[s] -= 1
            removed.add(i)
            out[i] = ()
    for i in out:
        out[i] = _kept_coverers(rule_segments[i], coverers, removed)
    return out


def _kept_coverers(
    segments: list[int], coverers: list[tuple[int, ...]], removed: set[int], limit: int = 5
) -> tuple[int, ...]:
    """Up to `limit` kept allows covering the segments (enough to name in a warning)."""
    found: set[int] = set()
    for s in segments:
        for c in coverers[s]:
            if c not in removed:
                found.add(c)
                break  # one kept coverer per segment is enough
        if len(found) >= limit:
            break
    return tuple(sorted(found))


def _segments(ids: tuple[int, ...], by_index: dict[int, ResolvedRule]) -> list[tuple[int, ...]]:
    """For each elementary segment of the allows' packet sets, the allows covering it."""
    events: list[tuple[int, int, int]] = []
    for i in ids:
        for lo, hi in by_index[i].packets.intervals:
            events.append((lo, 1, i))
            events.append((hi + 1, -1, i))
    events.sort()
    active: dict[int, int] = {}
    out: list[tuple[int, ...]] = []
    pos = 0
    while pos < len(events):
        point = events[pos][0]
        while pos < len(events) and events[pos][0] == point:
            _, delta, i = events[pos]
            active[i] = active.get(i, 0) + delta
            if not active[i]:
                del active[i]
            pos += 1
        if active:
            out.append(tuple(sorted(active)))
    return out
