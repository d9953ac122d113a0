"""`zonewall replay`: observed traffic judged by the policy's effective flows.

Each aggregated flow (`engine.ObservedFlow`: source node, destination node, one packet key)
is looked up in `CompiledPolicy.flows`.  What the policy would not permit is **blocked**: it
is grouped per class pair and service, and the statements that decide it are found through
an index of the rules by endpoint, as `review.explain` finds them (a deny at `file:line`, or
no allow at all: default deny).  Allows that no
permitted observed flow used are **never used**.  Observed flows that an assertion forbids
(`unreachable` and `denied` between the pair, `only` from an unlisted source, `limited`
outside its services) are **violations**: the network does today what the policy says must
not happen.  Addresses in no class and no external are **unknown**, grouped by /24.

Not judged: traffic inside one class (never filtered), between two externals (it crosses no
zonewall gateway), IPv6 records (the policy is IPv4), and traffic to the gateways themselves
(their addresses are inside the class subnets).  `unreachable` is checked on direct observed
flows and on paths through several observed hops (observed traffic forms a graph; its
intermediate hops are classes not in `without`, as `check` reads the policy's flows).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zonewall.compiler.resolve import (
    GATEWAY_PREFIX,
    resolve_names,
    resolve_selector,
    resolve_service_refs,
)
from zonewall.diagnostics import DiagnosticSink, Span, source_lines, span_text
from zonewall.ir import AssertKind, CompiledPolicy, Flow
from zonewall.packets import PacketSet
from zonewall.review.describe import service_names
from zonewall.review.explain import Decider
from zonewall.traffic.engine import FileStats, NodeTable, Observed, ObservedFlow, unknown_net

__all__ = ["Blocked", "Counts", "PairTraffic", "PathHop", "Replay", "Unknown", "Violation", "judge"]

SERVICES_SHOWN = 3  # services named per node pair in `PairTraffic` (the most flows first)

JUDGED_KINDS = (AssertKind.UNREACHABLE, AssertKind.DENIED, AssertKind.ONLY, AssertKind.LIMITED)


@dataclass(frozen=True, slots=True)
class Counts:
    flows: int = 0
    packets: int = 0
    bytes: int = 0
    first: float | None = None
    last: float | None = None

    def add(self, o: ObservedFlow) -> Counts:
        firsts = [t for t in (self.first, o.first) if t is not None]
        lasts = [t for t in (self.last, o.last) if t is not None]
        return Counts(
            self.flows + o.flows,
            self.packets + o.packets,
            self.bytes + o.bytes,
            min(firsts) if firsts else None,
            max(lasts) if lasts else None,
        )


@dataclass(frozen=True, slots=True)
class Blocked:
    src: str
    dst: str
    service: str
    counts: Counts
    denies: tuple[Decider, ...]  # empty: no allow opens it and no deny covers it
    opened_by: tuple[Decider, ...]  # allows that open it before a deny removes it


@dataclass(frozen=True, slots=True)
class PairTraffic:
    """The judged traffic between two endpoints (`CompiledPolicy.endpoints` ids), for drawing
    it over the flow graph: what the policy permits and what it would block, with the services
    that carried the most flows of each (at most `SERVICES_SHOWN`, then "...")."""

    src: int
    dst: int
    permitted: Counts
    blocked: Counts
    permitted_services: tuple[str, ...]
    blocked_services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PathHop:
    src: str
    dst: str
    service: str  # the services observed on the hop (the first three)
    counts: Counts


@dataclass(frozen=True, slots=True)
class Violation:
    assertion: str
    kind: str
    span: Span | None
    src: str
    dst: str
    service: str
    counts: Counts  # of the flow, or of a path's first hop
    permitted: bool  # the policy permits it (every hop of a path): `check` fails it as well
    path: tuple[PathHop, ...] = ()  # an `unreachable` broken through several observed hops


@dataclass(frozen=True, slots=True)
class Unknown:
    net: str  # an unknown /24
    as_src: Counts
    as_dst: Counts


@dataclass(frozen=True, slots=True)
class Replay:
    files: tuple[FileStats, ...]
    total: Counts  # every judged and unjudged IPv4 flow record
    permitted: Counts
    blocked: tuple[Blocked, ...]
    unused: tuple[Decider, ...]  # allows no permitted observed flow used (action "allow")
    allows: int  # allows judged for use (those with a class or external destination)
    violations: tuple[Violation, ...]
    unknown: tuple[Unknown, ...]
    not_filtered: Counts  # inside one class, or between two externals
    pairs: tuple[PairTraffic, ...] = ()  # judged traffic per endpoint pair, by (src, dst)


def judge(
    c: CompiledPolicy,
    sources: Mapping[str, str],
    observed: Observed,
    nodes: NodeTable | None = None,
) -> Replay:
    """Judge the observed flows by the compiled policy."""
    nodes = nodes or NodeTable(c)
    flows: dict[tuple[int, int], Flow] = {(f.src, f.dst): f for f in c.flows}
    eps = c.endpoints
    total = permitted = not_filtered = Counts()
    blocked: dict[tuple[int, int, int], Counts] = {}
    used: set[int] = set()
    rules = {r.index: r for r in c.rules}
    unknown: dict[int, tuple[Counts, Counts]] = {}
    pairs: dict[tuple[int, int], _Pair] = {}
    for o in observed.flows:
        total = total.add(o)
        if o.src < 0 or o.dst < 0:
            for key, side in ((o.src, 0), (o.dst, 1)):
                if key < 0:
                    pair = list(unknown.get(key, (Counts(), Counts())))
                    pair[side] = pair[side].add(o)
                    unknown[key] = (pair[0], pair[1])
            continue
        if o.src == o.dst or (eps[o.src].kind == "external" and eps[o.dst].kind == "external"):
            not_filtered = not_filtered.add(o)
            continue
        flow = flows.get((o.src, o.dst))
        seen = pairs.setdefault((o.src, o.dst), _Pair())
        if flow is not None and o.key in flow.packets:
            permitted = permitted.add(o)
            used.update(i for i in flow.rules if o.key in rules[i].packets)
            seen.add(o, True)
        else:
            k = (o.src, o.dst, o.key)
            blocked[k] = blocked.get(k, Counts()).add(o)
            seen.add(o, False)
    names = _Names(c, sources)
    return Replay(
        observed.files,
        total,
        permitted,
        _blocked(c, names, nodes, blocked),
        _unused(c, names, used),
        sum(1 for r in c.rules if r.action == "allow" and r.dst),
        _violations(names, nodes, observed.flows, flows),
        tuple(
            Unknown(unknown_net(k), a, b)
            for k, (a, b) in sorted(unknown.items(), key=lambda kv: -1 - kv[0])
        ),
        not_filtered,
        tuple(p.traffic(s, d, names) for (s, d), p in sorted(pairs.items())),
    )


class _Pair:
    """`PairTraffic` while it is counted: flows, packets, bytes, first and last seen on each
    side (permitted, blocked) as plain numbers, and flows per packet key."""

    __slots__ = ("keys", "sums")

    def __init__(self) -> None:
        self.sums: tuple[list[Any], list[Any]] = ([0, 0, 0, None, None], [0, 0, 0, None, None])
        self.keys: tuple[dict[int, int], dict[int, int]] = ({}, {})

    def add(self, o: ObservedFlow, permitted: bool) -> None:
        side = 0 if permitted else 1
        t = self.sums[side]
        t[0] += o.flows
        t[1] += o.packets
        t[2] += o.bytes
        if o.first is not None and (t[3] is None or o.first < t[3]):
            t[3] = o.first
        if o.last is not None and (t[4] is None or o.last > t[4]):
            t[4] = o.last
        self.keys[side][o.key] = self.keys[side].get(o.key, 0) + o.flows

    def traffic(self, src: int, dst: int, names: _Names) -> PairTraffic:
        def top(keys: dict[int, int]) -> tuple[str, ...]:
            ranked = sorted(keys, key=lambda k: (-keys[k], k))
            shown = tuple(names.service(k) for k in ranked[:SERVICES_SHOWN])
            return shown + (("...",) if len(ranked) > SERVICES_SHOWN else ())

        permitted, blocked = (Counts(*t) for t in self.sums)
        return PairTraffic(src, dst, permitted, blocked, top(self.keys[0]), top(self.keys[1]))


class _Names:
    """Statement texts and service names, each computed once (a replay at scale asks for the
    same few thousands many times)."""

    def __init__(self, c: CompiledPolicy, sources: Mapping[str, str]) -> None:
        self.c = c
        self.sources = sources
        self._lines: dict[str, list[str]] = {}
        self._services: dict[int, tuple[str, ...]] = {}

    def text(self, span: Span | None) -> str:
        """A statement as written, as `review.describe.statement_text` gives it."""
        if span is None or span.file not in self.sources:
            return ""
        if span.file not in self._lines:
            self._lines[span.file] = source_lines(self.sources[span.file])
        return span_text(self._lines[span.file], span)

    def services(self, key: int) -> tuple[str, ...]:
        if key not in self._services:
            self._services[key] = service_names(PacketSet.of(key, key), self.c.services)
        return self._services[key]

    def service(self, key: int) -> str:
        return ", ".join(self.services(key))


class _Deciders:
    """The statements that decide one packet key between two endpoints, found through an index
    of the rules by source and destination endpoint built once (not by scanning every rule per
    blocked group): the allows that open the key and the denies that cover it.  Agrees with
    `review.explain` (a test holds it to `pair_judge`)."""

    def __init__(self, c: CompiledPolicy, names: _Names) -> None:
        self.c = c
        self.names = names
        members: dict[str, list[int]] = {}
        for ep in c.endpoints:
            for n in ep.externals if ep.kind == "external" else (ep.name,):
                members.setdefault(n, []).append(ep.id)
        self.by_src: dict[int, set[int]] = {}
        self.by_dst: dict[int, set[int]] = {}
        for pos, r in enumerate(c.rules):
            for n in r.src:
                for e in members.get(n, ()):
                    self.by_src.setdefault(e, set()).add(pos)
            for n in r.dst:
                for e in members.get(n, ()):
                    self.by_dst.setdefault(e, set()).add(pos)
        self._texts: dict[int, str] = {}

    def _decider(self, pos: int, key: int) -> Decider:
        r = self.c.rules[pos]
        if pos not in self._texts:
            self._texts[pos] = self.names.text(r.span)
        return Decider(r.action, r.span, self._texts[pos], self.names.services(key))

    def covering(self, s: int, d: int) -> list[int]:
        return sorted(self.by_src.get(s, set()) & self.by_dst.get(d, set()))

    def decide(
        self, covering: Sequence[int], key: int
    ) -> tuple[tuple[Decider, ...], tuple[Decider, ...]]:
        """(denies that cover the key, allows that open it), in source order."""
        hit = [pos for pos in covering if key in self.c.rules[pos].packets]
        return (
            tuple(self._decider(p, key) for p in hit if self.c.rules[p].action == "deny"),
            tuple(self._decider(p, key) for p in hit if self.c.rules[p].action == "allow"),
        )


def _blocked(
    c: CompiledPolicy, names: _Names, nodes: NodeTable, blocked: dict[tuple[int, int, int], Counts]
) -> tuple[Blocked, ...]:
    deciders = _Deciders(c, names)
    by_pair: dict[tuple[int, int], list[int]] = {}
    for s, d, key in blocked:
        by_pair.setdefault((s, d), []).append(key)
    out = []
    for (s, d), keys in by_pair.items():
        covering = deciders.covering(s, d)
        for key in keys:
            denies, allows = deciders.decide(covering, key)
            out.append(
                Blocked(
                    nodes.label(s),
                    nodes.label(d),
                    names.service(key),
                    blocked[s, d, key],
                    denies,
                    allows,
                )
            )
    out.sort(key=lambda b: (-b.counts.flows, b.src, b.dst, b.service))
    return tuple(out)


def _unused(c: CompiledPolicy, names: _Names, used: set[int]) -> tuple[Decider, ...]:
    return tuple(
        Decider(r.action, r.span, names.text(r.span), r.services)
        for r in c.rules
        if r.action == "allow" and r.dst and r.index not in used
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    """An assertion judged on observed flows: its endpoints and forbidden packets."""

    text: str
    kind: AssertKind
    span: Span | None
    src: frozenset[int]
    dst: frozenset[int]
    packets: PacketSet | None
    without: frozenset[int] = frozenset()


def _assertion_rules(c: CompiledPolicy) -> list[_Rule]:
    sink = DiagnosticSink()
    names = resolve_names(c.policy, sink)
    members: dict[str, set[int]] = {}
    for ep in c.endpoints:
        for n in ep.externals if ep.kind == "external" else (ep.name,):
            members.setdefault(n, set()).add(ep.id)

    def ids(sel_members: frozenset[str]) -> frozenset[int]:
        return frozenset(
            e for n in sel_members if not n.startswith(GATEWAY_PREFIX) for e in members.get(n, ())
        )

    out = []
    for a in c.policy.assertions:
        if a.kind not in JUDGED_KINDS or a.src is None:
            continue
        src = ids(resolve_selector(a.src, names, sink))
        dst = ids(resolve_selector(a.dst, names, sink, "selector", True))
        packets = resolve_service_refs(a.services, names, sink)[0] if a.services else None
        without = ids(resolve_selector(a.without, names, sink)) if a.without else frozenset()
        out.append(_Rule(a.text, a.kind, a.span, src, dst, packets, without))
    return out


def _forbidden(rule: _Rule, o: ObservedFlow) -> bool:
    if o.dst not in rule.dst or o.src == o.dst:
        return False
    if rule.kind is AssertKind.ONLY:
        return o.src not in rule.src
    if o.src not in rule.src:
        return False
    if rule.kind is AssertKind.LIMITED:
        return rule.packets is not None and o.key not in rule.packets
    return rule.packets is None or o.key in rule.packets  # unreachable, denied


class _Observed:
    """The observed flows between known endpoints, indexed for the assertion checks: by
    destination, and as a graph of observed hops (`unreachable` is about paths)."""

    def __init__(self, c: CompiledPolicy, observed: Sequence[ObservedFlow]) -> None:
        eps = c.endpoints
        self.by_dst: dict[int, list[ObservedFlow]] = {}
        self.edges: dict[tuple[int, int], list[ObservedFlow]] = {}
        self.pred: dict[int, set[int]] = {}
        for o in observed:
            if o.dst < 0 or o.src == o.dst:
                continue
            self.by_dst.setdefault(o.dst, []).append(o)  # unknown sources too (`only`)
            if o.src < 0 or eps[o.src].kind == "external" and eps[o.dst].kind == "external":
                continue  # crosses no gateway: not a hop
            self.edges.setdefault((o.src, o.dst), []).append(o)
            self.pred.setdefault(o.dst, set()).add(o.src)
        self.kind = {ep.id: ep.kind for ep in eps}

    def paths(self, rule: _Rule) -> list[tuple[int, ...]]:
        """For each source member of an `unreachable`, the shortest observed path of two hops
        or more to a destination member (one hop is a direct flow, reported as such): classes
        not in `without` are the only intermediate hops, as in `check`."""

        def pivot(v: int) -> bool:
            return self.kind[v] == "class" and v not in rule.without

        # nxt[v]: up to two (target, hop toward it, distance) with distinct targets, nearest
        # first (a source that is itself a target needs the second)
        nxt: dict[int, list[tuple[int, int, int]]] = {t: [(t, t, 0)] for t in sorted(rule.dst)}
        queue = deque((t, t, 0) for t in sorted(rule.dst))
        while queue:
            w, t, d = queue.popleft()
            if d > 0 and not pivot(w):
                continue
            for u in sorted(self.pred.get(w, ())):
                recs = nxt.setdefault(u, [])
                if len(recs) < 2 and all(rt != t for rt, _, _ in recs):
                    recs.append((t, w, d + 1))
                    queue.append((u, t, d + 1))
        out = []
        for s in sorted(rule.src):
            rec = next(((t, d) for t, _, d in nxt.get(s, ()) if t != s), None)
            if rec is None or rec[1] < 2:
                continue
            target, path = rec[0], [s]
            while path[-1] != target:
                path.append(next(h for t, h, _ in nxt[path[-1]] if t == target))
            out.append(tuple(path))
        return out


def _sum(flows: Sequence[ObservedFlow]) -> Counts:
    total = Counts()
    for o in flows:
        total = total.add(o)
    return total


def _violations(
    names: _Names,
    nodes: NodeTable,
    observed: Sequence[ObservedFlow],
    flows: Mapping[tuple[int, int], Flow],
) -> tuple[Violation, ...]:
    c = names.c
    out: list[Violation] = []
    seen = _Observed(c, observed)
    for rule in _assertion_rules(c):
        found: dict[tuple[int, int, int], Counts] = {}
        for dst in sorted(rule.dst):
            for o in seen.by_dst.get(dst, ()):
                if _forbidden(rule, o):
                    k = (o.src, o.dst, o.key)
                    found[k] = found.get(k, Counts()).add(o)
        for (s, d, key), counts in sorted(found.items(), key=lambda kv: -kv[1].flows):
            flow = flows.get((s, d))
            out.append(
                Violation(
                    rule.text,
                    rule.kind.value,
                    rule.span,
                    nodes.label(s),
                    nodes.label(d),
                    names.service(key),
                    counts,
                    flow is not None and key in flow.packets,
                )
            )
        if rule.kind is AssertKind.UNREACHABLE:
            out.extend(
                _path_violation(names, nodes, seen, flows, rule, path) for path in seen.paths(rule)
            )
    return tuple(out)


def _path_violation(
    names: _Names,
    nodes: NodeTable,
    seen: _Observed,
    flows: Mapping[tuple[int, int], Flow],
    rule: _Rule,
    path: tuple[int, ...],
) -> Violation:
    hops = []
    permitted = True
    for a, b in zip(path, path[1:], strict=False):
        edge = seen.edges[a, b]
        keys = sorted({o.key for o in edge})
        hops.append(
            PathHop(
                nodes.label(a),
                nodes.label(b),
                ", ".join(names.service(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else ""),
                _sum(edge),
            )
        )
        flow = flows.get((a, b))
        permitted = permitted and flow is not None and any(k in flow.packets for k in keys)
    return Violation(
        rule.text,
        rule.kind.value,
        rule.span,
        hops[0].src,
        hops[-1].dst,
        hops[0].service,
        hops[0].counts,
        permitted,
        tuple(hops),
    )
