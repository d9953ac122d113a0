"""`zonewall replay`: observed traffic judged by the policy's effective flows.

Each aggregated flow (`engine.ObservedFlow`: source node, destination node, one packet key)
is looked up in `CompiledPolicy.flows`.  What the policy would not permit is **blocked**: it
is grouped per class pair and service, and the statements that decide it come from
`review.explain` (a deny at `file:line`, or no allow at all: default deny).  Allows that no
permitted observed flow used are **never used**.  Observed flows that an assertion forbids
(`unreachable` and `denied` between the pair, `only` from an unlisted source, `limited`
outside its services) are **violations**: the network does today what the policy says must
not happen.  Addresses in no class and no external are **unknown**, grouped by /24.

Not judged: traffic inside one class (never filtered), between two externals (it crosses no
zonewall gateway), IPv6 records (the policy is IPv4), and traffic to the gateways themselves
(their addresses are inside the class subnets).  `unreachable` is checked on direct observed
flows only, not on paths through several observed hops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zonewall.compiler.resolve import (
    GATEWAY_PREFIX,
    resolve_names,
    resolve_selector,
    resolve_service_refs,
)
from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.ir import AssertKind, CompiledPolicy, Flow
from zonewall.packets import PacketSet
from zonewall.review.describe import service_names, statement_text
from zonewall.review.explain import Decider, pair_judge
from zonewall.traffic.engine import FileStats, NodeTable, Observed, ObservedFlow, unknown_net

__all__ = ["Blocked", "Counts", "Replay", "Unknown", "UnusedAllow", "Violation", "judge"]

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
        return Counts(self.flows + o.flows, self.packets + o.packets, self.bytes + o.bytes,
                      min(firsts) if firsts else None, max(lasts) if lasts else None)


@dataclass(frozen=True, slots=True)
class Blocked:
    src: str
    dst: str
    service: str
    counts: Counts
    denies: tuple[Decider, ...]  # empty: no allow opens it and no deny covers it
    opened_by: tuple[Decider, ...]  # allows that open it before a deny removes it


@dataclass(frozen=True, slots=True)
class UnusedAllow:
    span: Span | None
    text: str
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Violation:
    assertion: str
    kind: str
    span: Span | None
    src: str
    dst: str
    service: str
    counts: Counts
    permitted: bool  # the policy permits it: the assertion fails in `check` as well


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
    unused: tuple[UnusedAllow, ...]
    allows: int  # allows judged for use (those with a class or external destination)
    violations: tuple[Violation, ...]
    unknown: tuple[Unknown, ...]
    not_filtered: Counts  # inside one class, or between two externals


def judge(c: CompiledPolicy, sources: Mapping[str, str], observed: Observed,
          nodes: NodeTable | None = None) -> Replay:
    """Judge the observed flows by the compiled policy."""
    nodes = nodes or NodeTable(c)
    flows: dict[tuple[int, int], Flow] = {(f.src, f.dst): f for f in c.flows}
    eps = c.endpoints
    total = permitted = not_filtered = Counts()
    blocked: dict[tuple[int, int, int], Counts] = {}
    used: set[int] = set()
    rules = {r.index: r for r in c.rules}
    unknown: dict[int, tuple[Counts, Counts]] = {}
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
        if flow is not None and o.key in flow.packets:
            permitted = permitted.add(o)
            used.update(i for i in flow.rules if o.key in rules[i].packets)
        else:
            k = (o.src, o.dst, o.key)
            blocked[k] = blocked.get(k, Counts()).add(o)
    return Replay(
        observed.files, total, permitted, _blocked(c, sources, nodes, blocked),
        _unused(c, sources, used), sum(1 for r in c.rules if r.action == "allow" and r.dst),
        _violations(c, nodes, observed.flows, flows),
        tuple(Unknown(unknown_net(k), a, b) for k, (a, b) in sorted(
            unknown.items(), key=lambda kv: -1 - kv[0])),
        not_filtered)


def _service(c: CompiledPolicy, key: int) -> str:
    return ", ".join(service_names(PacketSet.of(key, key), c.services))


def _blocked(c: CompiledPolicy, sources: Mapping[str, str], nodes: NodeTable,
             blocked: dict[tuple[int, int, int], Counts]) -> tuple[Blocked, ...]:
    ask = pair_judge(c, sources)
    out = []
    for (s, d, key), counts in blocked.items():
        verdict = ask(c.endpoints[s], c.endpoints[d], PacketSet.of(key, key))
        out.append(Blocked(nodes.label(s), nodes.label(d), _service(c, key), counts,
                           verdict.denies + verdict.also_denied, verdict.allows))
    out.sort(key=lambda b: (-b.counts.flows, b.src, b.dst, b.service))
    return tuple(out)


def _unused(c: CompiledPolicy, sources: Mapping[str, str], used: set[int]
            ) -> tuple[UnusedAllow, ...]:
    return tuple(UnusedAllow(r.span, statement_text(r.span, sources), r.services)
                 for r in c.rules
                 if r.action == "allow" and r.dst and r.index not in used)


@dataclass(frozen=True, slots=True)
class _Rule:
    """An assertion judged on observed flows: its endpoints and forbidden packets."""

    text: str
    kind: AssertKind
    span: Span | None
    src: frozenset[int]
    dst: frozenset[int]
    packets: PacketSet | None


def _assertion_rules(c: CompiledPolicy) -> list[_Rule]:
    sink = DiagnosticSink()
    names = resolve_names(c.policy, sink)
    members: dict[str, set[int]] = {}
    for ep in c.endpoints:
        for n in ep.externals if ep.kind == "external" else (ep.name,):
            members.setdefault(n, set()).add(ep.id)

    def ids(sel_members: frozenset[str]) -> frozenset[int]:
        return frozenset(e for n in sel_members if not n.startswith(GATEWAY_PREFIX)
                         for e in members.get(n, ()))

    out = []
    for a in c.policy.assertions:
        if a.kind not in JUDGED_KINDS or a.src is None:
            continue
        src = ids(resolve_selector(a.src, names, sink))
        dst = ids(resolve_selector(a.dst, names, sink, "selector", True))
        packets = resolve_service_refs(a.services, names, sink)[0] if a.services else None
        out.append(_Rule(a.text, a.kind, a.span, src, dst, packets))
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


def _violations(c: CompiledPolicy, nodes: NodeTable, observed: Sequence[ObservedFlow],
                flows: Mapping[tuple[int, int], Flow]) -> tuple[Violation, ...]:
    out: list[Violation] = []
    for rule in _assertion_rules(c):
        found: dict[tuple[int, int, int], Counts] = {}
        for o in observed:
            if o.dst >= 0 and _forbidden(rule, o):
                k = (o.src, o.dst, o.key)
                found[k] = found.get(k, Counts()).add(o)
        for (s, d, key), counts in sorted(found.items(), key=lambda kv: -kv[1].flows):
            flow = flows.get((s, d))
            out.append(Violation(rule.text, rule.kind.value, rule.span, nodes.label(s),
                                 nodes.label(d), _service(c, key), counts,
                                 flow is not None and key in flow.packets))
    return tuple(out)
