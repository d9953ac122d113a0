"""`zonewall diff`: the semantic change between two versions of a policy.

Both versions are compiled; the comparison is on what they *do*, never on how they are written:

* **Flows** are the effective flows (allows minus denies, per endpoint pair, as packet sets).
  Classes are matched by name.  External address space is compared address by address: the
  pieces of the external space that a class reaches (or is reached from) are cut by both
  versions' external atoms, so adding an external inside `internet` changes nothing unless a
  rule treats it differently.  Addresses that are a class in the other version are left to the
  class section (a subnet change), not reported twice as flows.  Reordering statements,
  renaming a service or splitting an allow in two therefore shows no flow change.
* **Assertions** are matched by their text (duplicates in order) and compared by status.
* **Classes** (added, removed, VLAN, subnets, gateway) and **externals** (added, removed,
  written addresses).
* **Gateways**: rules per gateway, counted by lowering each gateway through its backend, the
  same count `build` writes into manifest.json (lowering only: rendering does not change it).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netaddr import iprange_to_cidrs

from zonewall.backends import get_backend
from zonewall.backends.base import gateway_view
from zonewall.compiler.expand import intervals_of, subtract
from zonewall.diagnostics import Span
from zonewall.ir import (
    AssertionResult,
    CompiledPolicy,
    Endpoint,
    ExternalDef,
    Flow,
    Hop,
    ResolvedService,
)
from zonewall.packets import PacketSet
from zonewall.report import CheckReport, run_check
from zonewall.review.describe import service_names
from zonewall.review.sources import git_reader

__all__ = [
    "AssertionChange",
    "ClassChange",
    "ExternalChange",
    "FlowChange",
    "GatewayChange",
    "PolicyDiff",
    "Side",
    "compare",
    "load_side",
]

Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Side:
    """One version of the policy: where it came from and its check report."""

    label: str  # "old" or "new"
    path: str
    revision: str | None
    report: CheckReport

    @property
    def title(self) -> str:
        return f"{self.path} at {self.revision}" if self.revision else self.path


def load_side(label: str, path: str, revision: str | None = None) -> Side:
    """Read and check one version (from the file system, or from git `revision`).

    Raises:
        GitError: `revision` cannot be read at all (no git, no repository, bad revision).
    """
    read = git_reader(revision, path) if revision is not None else None
    return Side(label, path, revision, run_check(path, read))


@dataclass(frozen=True, slots=True)
class FlowChange:
    """Packets one endpoint gained (or lost) toward another."""

    src: str
    dst: str
    src_kind: str  # class | external
    dst_kind: str
    addresses: tuple[str, ...]  # the external side's CIDRs when only part of it changed
    packets: PacketSet
    services: tuple[str, ...]
    rules: tuple[Span, ...]  # for a gained flow, the new version's allows that open it


@dataclass(frozen=True, slots=True)
class AssertionChange:
    text: str
    old: str | None  # pass | fail | accepted, None when absent
    new: str | None
    span: Span | None  # where it is written in the new version (else the old one)
    counterexample: tuple[Hop, ...] | None = None  # the new version's, when it fails

    @property
    def newly_fails(self) -> bool:
        return self.new == "fail" and self.old != "fail"


@dataclass(frozen=True, slots=True)
class ClassChange:
    name: str
    old_vlan: int | None
    new_vlan: int | None
    old_subnets: tuple[str, ...]
    new_subnets: tuple[str, ...]
    old_gateway: str | None
    new_gateway: str | None

    @property
    def kind(self) -> str:
        if self.old_gateway is None:
            return "added"
        return "removed" if self.new_gateway is None else "changed"


@dataclass(frozen=True, slots=True)
class ExternalChange:
    name: str
    old: str | None  # the addresses as written, None when absent
    new: str | None


@dataclass(frozen=True, slots=True)
class GatewayChange:
    name: str
    old_platform: str | None
    new_platform: str | None
    old_rules: int | None  # None: absent, or the backend cannot lower the policy
    new_rules: int | None

    @property
    def delta(self) -> int | None:
        if self.old_rules is None or self.new_rules is None:
            return None
        return self.new_rules - self.old_rules

    @property
    def changed(self) -> bool:
        return (self.old_platform, self.old_rules) != (self.new_platform, self.new_rules)


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    gained: tuple[FlowChange, ...]
    lost: tuple[FlowChange, ...]
    assertions: tuple[AssertionChange, ...]
    classes: tuple[ClassChange, ...]
    externals: tuple[ExternalChange, ...]
    gateways: tuple[GatewayChange, ...]  # every gateway of either version

    @property
    def newly_failing(self) -> tuple[AssertionChange, ...]:
        return tuple(a for a in self.assertions if a.newly_fails)

    @property
    def semantic_change(self) -> bool:
        """Anything besides rule counts: flows, assertions, classes, externals, gateways."""
        return bool(self.gained or self.lost or self.assertions or self.classes
                    or self.externals
                    or any(g.old_platform != g.new_platform for g in self.gateways))


def compare(old: CompiledPolicy, new: CompiledPolicy, count_rules: bool = True) -> PolicyDiff:
    """The semantic difference from `old` to `new` (both compiled)."""
    gained, lost = _flow_changes(old, new)
    return PolicyDiff(
        gained=tuple(gained),
        lost=tuple(lost),
        assertions=_assertion_changes(old, new),
        classes=_class_changes(old, new),
        externals=_external_changes(old.policy.externals, new.policy.externals),
        gateways=_gateway_changes(old, new, count_rules),
    )


# ---------------------------------------------------------------------------------------------
# flows
# ---------------------------------------------------------------------------------------------

ClassPairs = dict[tuple[str, str], Flow]
ExternalFlows = dict[tuple[str, str], list[tuple[Endpoint, Flow]]]  # (class, in|out) -> atoms


def _index(c: CompiledPolicy) -> tuple[ClassPairs, ExternalFlows]:
    eps = c.endpoints
    pairs: ClassPairs = {}
    ext: ExternalFlows = {}
    for f in c.flows:
        s, d = eps[f.src], eps[f.dst]
        if s.kind == "class" and d.kind == "class":
            pairs[(s.name, d.name)] = f
        elif s.kind == "class":
            ext.setdefault((s.name, "out"), []).append((d, f))
        else:
            ext.setdefault((d.name, "in"), []).append((s, f))
    return pairs, ext


def _atom_labels(c: CompiledPolicy) -> dict[int, str]:
    """An external atom's name: its most specific external, or all of its externals joined
    with ' & ' when another atom has the same most specific external."""
    atoms = [e for e in c.endpoints if e.kind == "external"]
    counts: dict[str, int] = {}
    for e in atoms:
        counts[e.name] = counts.get(e.name, 0) + 1
    return {e.id: e.name if counts[e.name] == 1 else " & ".join(e.externals) for e in atoms}


def _opened_by(flow: Flow | None, packets: PacketSet, c: CompiledPolicy) -> tuple[Span, ...]:
    if flow is None:
        return ()
    rules = {r.index: r for r in c.rules}
    spans = {rules[i].span for i in flow.rules
             if rules[i].span is not None and rules[i].packets & packets}
    return tuple(sorted((s for s in spans if s is not None), key=Span.sort_key))


def _flow_changes(old: CompiledPolicy, new: CompiledPolicy
                  ) -> tuple[list[FlowChange], list[FlowChange]]:
    old_pairs, old_ext = _index(old)
    new_pairs, new_ext = _index(new)
    gained: list[FlowChange] = []
    lost: list[FlowChange] = []
    for src, dst in sorted(old_pairs.keys() | new_pairs.keys()):
        o, n = old_pairs.get((src, dst)), new_pairs.get((src, dst))
        o_p = o.packets if o else PacketSet()
        n_p = n.packets if n else PacketSet()
        if n_p - o_p:
            gained.append(FlowChange(src, dst, "class", "class", (), n_p - o_p,
                                     service_names(n_p - o_p, new.services),
                                     _opened_by(n, n_p - o_p, new)))
        if o_p - n_p:
            lost.append(FlowChange(src, dst, "class", "class", (), o_p - n_p,
                                   service_names(o_p - n_p, old.services), ()))
    old_space = intervals_of(p for c in old.classes for p in c.prefixes)
    new_space = intervals_of(p for c in new.classes for p in c.prefixes)
    old_labels, new_labels = _atom_labels(old), _atom_labels(new)
    for cls, way in sorted(old_ext.keys() | new_ext.keys()):
        o_list, n_list = old_ext.get((cls, way), []), new_ext.get((cls, way), [])
        g_groups, l_groups = _external_pieces(o_list, n_list)
        for (j, packets), ivs in sorted(g_groups.items(), key=lambda kv: kv[1][0]):
            atom, flow = n_list[j]
            gained.extend(_ext_change(cls, way, atom, new_labels, subtract(ivs, old_space),
                                      packets, new.services, _opened_by(flow, packets, new)))
        for (j, packets), ivs in sorted(l_groups.items(), key=lambda kv: kv[1][0]):
            atom, _ = o_list[j]
            lost.extend(_ext_change(cls, way, atom, old_labels, subtract(ivs, new_space),
                                    packets, old.services, ()))
    key = _change_key
    return sorted(gained, key=key), sorted(lost, key=key)


def _change_key(f: FlowChange) -> tuple[str, str, tuple[str, ...], int]:
    return (f.src, f.dst, f.addresses, f.packets.first_key())


Groups = dict[tuple[int, PacketSet], list[Interval]]


def _external_pieces(old: Sequence[tuple[Endpoint, Flow]], new: Sequence[tuple[Endpoint, Flow]]
                     ) -> tuple[Groups, Groups]:
    """Cut the external space one class reaches by both versions' atoms, and group the pieces
    by (atom of the version that has the packets, packets gained or lost)."""
    events: list[tuple[int, int, int, int]] = []  # (address, +1/-1, side, atom index)
    for side, atoms in ((0, old), (1, new)):
        for j, (atom, _) in enumerate(atoms):
            for lo, hi in intervals_of(atom.prefixes):
                events.append((lo, 1, side, j))
                events.append((hi + 1, -1, side, j))
    events.sort()
    active: tuple[set[int], set[int]] = (set(), set())
    gained: Groups = {}
    lost: Groups = {}
    for point, group in itertools.groupby(events, key=lambda e: e[0]):
        for _, delta, side, j in group:
            (active[side].add if delta > 0 else active[side].discard)(j)
        # the state now holds up to the next event's address
        if not (active[0] or active[1]):
            continue
        oa = min(active[0]) if active[0] else None
        na = min(active[1]) if active[1] else None
        o_p = old[oa][1].packets if oa is not None else PacketSet()
        n_p = new[na][1].packets if na is not None else PacketSet()
        if na is not None and n_p - o_p:
            gained.setdefault((na, n_p - o_p), []).append((point, -1))
        if oa is not None and o_p - n_p:
            lost.setdefault((oa, o_p - n_p), []).append((point, -1))
    ends = sorted({e[0] for e in events})
    nxt = {a: b - 1 for a, b in itertools.pairwise(ends)}
    return _close(gained, nxt), _close(lost, nxt)


def _close(groups: Groups, nxt: dict[int, int]) -> Groups:
    """Give each piece its end (the address before the next event) and merge neighbours."""
    out: Groups = {}
    for k, pieces in groups.items():
        merged: list[Interval] = []
        for lo, _ in pieces:
            hi = nxt[lo]
            if merged and merged[-1][1] + 1 == lo:
                merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        out[k] = merged
    return out


def _ext_change(cls: str, way: str, atom: Endpoint, labels: dict[int, str],
                ivs: list[Interval], packets: PacketSet, services: Iterable[ResolvedService],
                rules: tuple[Span, ...]) -> list[FlowChange]:
    if not ivs:
        return []
    whole = ivs == intervals_of(atom.prefixes)
    addresses = () if whole else tuple(str(n) for lo, hi in ivs for n in iprange_to_cidrs(lo, hi))
    names = service_names(packets, services)
    label = labels[atom.id]
    if way == "out":
        return [FlowChange(cls, label, "class", "external", addresses, packets, names, rules)]
    return [FlowChange(label, cls, "external", "class", addresses, packets, names, rules)]


# ---------------------------------------------------------------------------------------------
# assertions, classes, externals, gateways
# ---------------------------------------------------------------------------------------------


def _assertion_changes(old: CompiledPolicy, new: CompiledPolicy
                       ) -> tuple[AssertionChange, ...]:
    by_text: dict[str, tuple[list[AssertionResult], list[AssertionResult]]] = {}
    for a in old.assertions:
        by_text.setdefault(a.text, ([], []))[0].append(a)
    for a in new.assertions:
        by_text.setdefault(a.text, ([], []))[1].append(a)
    out: list[AssertionChange] = []
    for text, (olds, news) in by_text.items():
        for o, n in itertools.zip_longest(olds, news):
            old_status = o.status if o is not None else None
            new_status = n.status if n is not None else None
            if old_status != new_status:
                span = n.span if n is not None else o.span if o is not None else None
                hops = n.counterexample if n is not None else None
                out.append(AssertionChange(text, old_status, new_status, span, hops))
    return tuple(sorted(out, key=lambda a: (a.span.sort_key() if a.span else ("", 0, 0),
                                            a.text)))


def _class_changes(old: CompiledPolicy, new: CompiledPolicy) -> tuple[ClassChange, ...]:
    o = {c.name: c for c in old.classes}
    n = {c.name: c for c in new.classes}
    out: list[ClassChange] = []
    for name in sorted(o.keys() | n.keys()):
        a, b = o.get(name), n.get(name)
        change = ClassChange(
            name,
            a.vlan if a else None, b.vlan if b else None,
            tuple(str(p) for p in a.prefixes) if a else (),
            tuple(str(p) for p in b.prefixes) if b else (),
            a.gateway if a else None, b.gateway if b else None)
        if (change.old_vlan, change.old_subnets, change.old_gateway) != (
                change.new_vlan, change.new_subnets, change.new_gateway):
            out.append(change)
    return tuple(out)


def _external_text(e: ExternalDef) -> str:
    text = ", ".join(str(p) for p in e.addresses)
    if e.excepts:
        text += " except " + ", ".join(str(p) for p in e.excepts)
    return text


def _external_changes(old: Sequence[ExternalDef], new: Sequence[ExternalDef]
                      ) -> tuple[ExternalChange, ...]:
    o = {e.name: _external_text(e) for e in old}
    n = {e.name: _external_text(e) for e in new}
    return tuple(ExternalChange(name, o.get(name), n.get(name))
                 for name in sorted(o.keys() | n.keys()) if o.get(name) != n.get(name))


def rule_counts(c: CompiledPolicy) -> dict[str, tuple[str, int | None]]:
    """Per gateway: platform and rule count as manifest.json gives it (None when the backend
    reports an error for the policy, so that `build` would fail)."""
    out: dict[str, tuple[str, int | None]] = {}
    for plan in c.gateways:
        backend = get_backend(plan.platform)
        view = gateway_view(c, plan.name)
        if any(d.is_error for d in backend.check(c, view)):
            out[plan.name] = (plan.platform, None)
            continue
        out[plan.name] = (plan.platform, backend.rule_count(backend.lower(c, view)))
    return out


def _gateway_changes(old: CompiledPolicy, new: CompiledPolicy, count: bool
                     ) -> tuple[GatewayChange, ...]:
    if count:
        o, n = rule_counts(old), rule_counts(new)
    else:
        o = {g.name: (g.platform, None) for g in old.gateways}
        n = {g.name: (g.platform, None) for g in new.gateways}
    return tuple(GatewayChange(name, o[name][0] if name in o else None,
                               n[name][0] if name in n else None,
                               o[name][1] if name in o else None,
                               n[name][1] if name in n else None)
                 for name in sorted(o.keys() | n.keys()))
