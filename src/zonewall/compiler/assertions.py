"""Assertions, proven on the effective flows; a failure comes with a counterexample.

One function per assertion kind.  ``unreachable`` is about paths in the flow graph (classes are
the only intermediate hops; externals, gateways themselves and the ``without`` members never
are); the others are about direct flows between endpoints, gateway endpoints included.  Every
check is linear in the flows it looks at: ``unreachable`` is one reverse breadth-first search
that keeps, per node, its two nearest distinct targets (two, so that a source that is itself a
target still learns its distance to some *other* target).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zonewall.compiler.graph import edge_packets, edge_rules
from zonewall.diagnostics import Diagnostic, Severity, Span
from zonewall.ir import (
    AssertionResult,
    AssertKind,
    AssertStmt,
    Endpoint,
    Flow,
    Hop,
    ResolvedRule,
)
from zonewall.packets import PacketSet

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["AssertionInput", "Prover"]

_CODES = {
    AssertKind.UNREACHABLE: "E301",
    AssertKind.DENIED: "E302",
    AssertKind.ALLOWED: "E303",
    AssertKind.ONLY: "E304",
    AssertKind.LIMITED: "E305",
    AssertKind.ENCRYPTED: "E306",
}


@dataclass(frozen=True, slots=True)
class AssertionInput:
    """An assertion with its selectors resolved to member names."""

    stmt: AssertStmt
    src: frozenset[str] | None  # None: any source (encrypted -> B)
    dst: frozenset[str]
    without: frozenset[str]
    packets: PacketSet | None  # None when the assertion names no services
    service_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Failure:
    message: str
    hops: tuple[Hop, ...]
    span: Span | None
    label: str
    notes: tuple[tuple[str, Span | None], ...] = ()


class Prover:
    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        flows: dict[tuple[int, int], Flow],
        rules: dict[int, ResolvedRule],
        members: dict[str, tuple[int, ...]],
        graph: nx.DiGraph[str] | None,
        ext_size: dict[str, int],
    ) -> None:
        self.endpoints = endpoints
        self.flows = flows
        self.rules = rules
        self.members = members
        self.graph = graph  # None when the policy has no `unreachable` assertion
        self.ext_size = ext_size
        self.out_flows: dict[int, list[Flow]] = {}
        self.in_flows: dict[int, list[Flow]] = {}
        for pair in sorted(flows):
            f = flows[pair]
            self.out_flows.setdefault(f.src, []).append(f)
            self.in_flows.setdefault(f.dst, []).append(f)

    # -- entry point -----------------------------------------------------------------------
    def check(self, a: AssertionInput) -> tuple[AssertionResult, Diagnostic | None]:
        check: Callable[[AssertionInput], _Failure | None] = {
            AssertKind.UNREACHABLE: self.unreachable,
            AssertKind.DENIED: self.denied,
            AssertKind.ALLOWED: self.allowed,
            AssertKind.ONLY: self.only,
            AssertKind.LIMITED: self.limited,
            AssertKind.ENCRYPTED: self.encrypted,
        }[a.stmt.kind]
        failure = check(a)
        stmt = a.stmt
        if failure is None:
            result = AssertionResult(stmt.text, stmt.kind, "pass", None, "", stmt.span)
            if stmt.accepted is None:
                return result, None
            return result, Diagnostic(
                Severity.WARNING,
                "W110",
                f"assertion '{stmt.text}' holds, so its risk acceptance is stale; remove "
                "'accepted'",
                stmt.span,
            )
        status = "accepted" if stmt.accepted is not None else "fail"
        result = AssertionResult(
            stmt.text, stmt.kind, status, failure.hops, failure.message, stmt.span
        )
        notes = failure.notes
        if failure.span != stmt.span:
            notes += (("asserted here", stmt.span),)
        if stmt.accepted is not None:
            notes += ((f"accepted as a documented risk: {stmt.accepted}", None),)
            return result, Diagnostic(
                Severity.WARNING,
                "W109",
                f"assertion '{stmt.text}' fails (accepted risk): {failure.message}",
                failure.span,
                notes,
                failure.label,
            )
        return result, Diagnostic(
            Severity.ERROR,
            _CODES[stmt.kind],
            f"assertion '{stmt.text}' fails: {failure.message}",
            failure.span,
            notes,
            failure.label,
        )

    # -- helpers ---------------------------------------------------------------------------
    def eps(self, names: Iterable[str]) -> set[int]:
        return {e for n in names for e in self.members[n]}

    def name_in(self, ep: int, names: frozenset[str] | None, opened: tuple[str, ...] = ()) -> str:
        """The member of `names` (None: any) an endpoint stands for: the most specific
        external among those the opening rule names (`opened`), else among all of them.  An
        address of 'vendor' inside 'internet', let in by `allow internet -> x`, is reported as
        'internet': the external the allow names, not a narrower one it never mentions."""
        e = self.endpoints[ep]
        if e.kind != "external":  # a class, or a gateway itself (`gateway:NAME`)
            return e.name
        pool = [x for x in e.externals if names is None or x in names] or list(e.externals)
        pool = [x for x in pool if x in opened] or pool
        return min(pool, key=lambda n: (self.ext_size.get(n, 0), n))

    def opener(self, flow: Flow, packets: PacketSet, plaintext: bool = False) -> ResolvedRule:
        for i in flow.rules:
            rule = self.rules[i]
            if (rule.plaintext if plaintext else rule.packets) & packets:
                return rule
        return self.rules[flow.rules[0]]

    def hop(self, src: str, dst: str, rule: ResolvedRule) -> Hop:
        return Hop(src, dst, rule.services, rule.index, rule.span)

    def flow_failure(
        self,
        a: AssertionInput,
        flow: Flow,
        offending: PacketSet,
        verb: str,
        plaintext: bool = False,
    ) -> _Failure:
        rule = self.opener(flow, offending, plaintext)
        src = self.name_in(flow.src, a.src, rule.src)
        dst = self.name_in(flow.dst, a.dst, rule.dst)
        return _Failure(
            f"'{src}' may initiate {offending.describe()} to '{dst}'{verb}",
            (self.hop(src, dst, rule),),
            rule.span,
            f"{rule.action} opens it here",
        )

    # -- the assertion kinds ---------------------------------------------------------------
    def denied(self, a: AssertionInput) -> _Failure | None:
        assert a.src is not None
        dst = self.eps(a.dst)
        scope = a.packets if a.packets is not None else PacketSet.everything()
        for s in sorted(self.eps(a.src)):
            for f in self.out_flows.get(s, ()):
                if f.dst in dst and (bad := f.packets & scope):
                    return self.flow_failure(a, f, bad, "")
        return None

    def limited(self, a: AssertionInput) -> _Failure | None:
        assert a.src is not None and a.packets is not None
        dst = self.eps(a.dst)
        for s in sorted(self.eps(a.src)):
            for f in self.out_flows.get(s, ()):
                if f.dst in dst and (bad := f.packets - a.packets):
                    return self.flow_failure(a, f, bad, ", outside the listed services")
        return None

    def only(self, a: AssertionInput) -> _Failure | None:
        assert a.src is not None
        listed = self.eps(a.src)
        for d in sorted(self.eps(a.dst)):
            for f in self.in_flows.get(d, ()):
                if f.src not in listed:
                    return self.flow_failure(a, f, f.packets, ", and is not listed")
        return None

    def encrypted(self, a: AssertionInput) -> _Failure | None:
        src = self.eps(a.src) if a.src is not None else None
        for d in sorted(self.eps(a.dst)):
            for f in self.in_flows.get(d, ()):
                if (src is None or f.src in src) and f.plaintext:
                    return self.flow_failure(a, f, f.plaintext, " unencrypted", plaintext=True)
        return None

    def allowed(self, a: AssertionInput) -> _Failure | None:
        assert a.src is not None and a.packets is not None
        for src in sorted(a.src):
            for dst in sorted(a.dst):
                if src == dst:
                    continue
                for s in self.members[src]:
                    for d in self.members[dst]:
                        flow = self.flows.get((s, d))
                        missing = a.packets - flow.packets if flow else a.packets
                        if missing:
                            return self.missing_failure(a, src, dst, s, d, missing)
        return None

    def missing_failure(
        self, a: AssertionInput, src: str, dst: str, s: int, d: int, missing: PacketSet
    ) -> _Failure:
        names = tuple(n for n in a.service_names if n)
        where = ""
        if self.endpoints[d].kind == "external" and len(self.members[dst]) > 1:
            where = f" (addresses {', '.join(str(p) for p in self.endpoints[d].prefixes[:3])})"
        if self.endpoints[s].kind == "external" and self.endpoints[d].kind == "external":
            where += "; traffic between two externals never crosses a gateway"
        return _Failure(
            f"'{src}' may not initiate {missing.describe()} to '{dst}'{where}",
            (Hop(src, dst, names, None, None),),
            a.stmt.span,
            "",
        )

    def unreachable(self, a: AssertionInput) -> _Failure | None:
        assert a.src is not None
        g = self.graph
        assert g is not None
        targets = sorted(a.dst)

        def pivot(v: str) -> bool:
            return bool(g.nodes[v]["kind"] == "class") and v not in a.without

        # records[v]: up to two (target, distance) with distinct targets, nearest first.
        records: dict[str, list[tuple[str, int]]] = {t: [(t, 0)] for t in targets}
        queue = deque((t, t, 0) for t in targets)
        while queue:
            w, t, d = queue.popleft()
            if d > 0 and not pivot(w):
                continue
            for u in g.pred[w]:
                recs = records.setdefault(u, [])
                if len(recs) < 2 and all(rt != t for rt, _ in recs):
                    recs.append((t, d + 1))
                    queue.append((u, t, d + 1))

        def dist(v: str, not_target: str) -> int | None:
            return next((d for t, d in records.get(v, ()) if t != not_target), None)

        best: tuple[int, str] | None = None
        for s in sorted(a.src):
            ds = dist(s, s)
            if ds is not None and ds > 0 and (best is None or (ds, s) < best):
                best = (ds, s)
        if best is None:
            return None
        length, start = best
        path = [start]
        for remaining in range(length, 0, -1):
            v = path[-1]
            path.append(
                min(
                    u
                    for u in g.succ[v]
                    if (remaining == 1 and u in a.dst and u != start)
                    or (remaining > 1 and pivot(u) and dist(u, start) == remaining - 1)
                )
            )
        hops = []
        for v, u in zip(path, path[1:], strict=False):
            rule = self.rules[edge_rules(g, v, u)[0]]
            hops.append(self.hop(v, u, rule))
        notes = tuple(
            (f"then '{h.src}' -> '{h.dst}' ({self.hop_packets(h).describe()})", h.span)
            for h in hops[1:]
        )
        first = hops[0]
        return _Failure(
            f"path {' -> '.join(path)}",
            tuple(hops),
            first.span,
            f"first hop: '{first.src}' -> '{first.dst}' ({self.hop_packets(first).describe()})",
            notes,
        )

    def hop_packets(self, hop: Hop) -> PacketSet:
        assert self.graph is not None and hop.rule is not None
        return edge_packets(self.graph, hop.src, hop.dst) & self.rules[hop.rule].packets
