"""Flows gained and lost between two compiled versions of a policy (for `zonewall diff`).

Flows are the effective flows (allows minus denies, per endpoint pair, as packet sets), so how
a policy is written never shows.  Classes are matched by name.  External address space is
compared address by address: the pieces of external space that a class reaches (or is reached
from) are cut by both versions' external atoms, so adding an external inside `internet`
changes nothing unless a rule treats it differently.  Addresses that are a class in the other
version are left to the class section of the diff (a subnet change), not reported twice.
Flows to the gateways themselves (`gateway:NAME`) are compared per source class or external
atom.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netaddr import IPAddress, iprange_to_cidrs

from zonewall.compiler.expand import intervals_of
from zonewall.compiler.resolve import GATEWAY_PREFIX
from zonewall.diagnostics import Span
from zonewall.intervals import Interval, Intervals, merge_sorted, subtract
from zonewall.ir import CompiledPolicy, Endpoint, Flow, GatewayFlow, ResolvedService
from zonewall.packets import PacketSet
from zonewall.review.describe import service_names

__all__ = ["FlowChange", "flow_changes"]


@dataclass(frozen=True, slots=True)
class FlowChange:
    """Packets one endpoint gained (or lost) toward another."""

    src: str
    dst: str
    src_kind: str  # class | external
    dst_kind: str  # class | external | gateway (`gateway:NAME`, the gateway itself)
    addresses: tuple[str, ...]  # the external side's CIDRs when only part of it changed
    packets: PacketSet
    services: tuple[str, ...]
    rules: tuple[Span, ...]  # for a gained flow, the new version's allows that open it


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


def _opened_by(
    flow: Flow | GatewayFlow | None, packets: PacketSet, c: CompiledPolicy
) -> tuple[Span, ...]:
    if flow is None:
        return ()
    rules = {r.index: r for r in c.rules}
    spans = {
        rules[i].span
        for i in flow.rules
        if rules[i].span is not None and rules[i].packets & packets
    }
    return tuple(sorted((s for s in spans if s is not None), key=Span.sort_key))


def flow_changes(
    old: CompiledPolicy, new: CompiledPolicy
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
            gained.append(
                FlowChange(
                    src,
                    dst,
                    "class",
                    "class",
                    (),
                    n_p - o_p,
                    service_names(n_p - o_p, new.services),
                    _opened_by(n, n_p - o_p, new),
                )
            )
        if o_p - n_p:
            lost.append(
                FlowChange(
                    src,
                    dst,
                    "class",
                    "class",
                    (),
                    o_p - n_p,
                    service_names(o_p - n_p, old.services),
                    (),
                )
            )
    old_space = intervals_of(p for c in old.classes for p in c.prefixes)
    new_space = intervals_of(p for c in new.classes for p in c.prefixes)
    old_labels, new_labels = _atom_labels(old), _atom_labels(new)
    old_atoms, new_atoms = _atom_spaces(old), _atom_spaces(new)
    for cls, way in sorted(old_ext.keys() | new_ext.keys()):
        o_list, n_list = old_ext.get((cls, way), []), new_ext.get((cls, way), [])
        g_groups, l_groups = _external_pieces(o_list, n_list)
        for (j, packets), ivs in sorted(g_groups.items(), key=lambda kv: kv[1][0]):
            atom, flow = n_list[j]
            gained.extend(
                _ext_change(
                    cls,
                    way,
                    atom,
                    new_labels[atom.id],
                    subtract(ivs, old_space),
                    old_atoms.get(atom.externals),
                    packets,
                    new.services,
                    _opened_by(flow, packets, new),
                )
            )
        for (j, packets), ivs in sorted(l_groups.items(), key=lambda kv: kv[1][0]):
            atom, _ = o_list[j]
            lost.extend(
                _ext_change(
                    cls,
                    way,
                    atom,
                    old_labels[atom.id],
                    subtract(ivs, new_space),
                    new_atoms.get(atom.externals),
                    packets,
                    old.services,
                    (),
                )
            )
    _gateway_changes(old, new, gained, lost)
    key = _change_key
    return sorted(gained, key=key), sorted(lost, key=key)


def _gateway_index(c: CompiledPolicy) -> dict[tuple[str, str], tuple[str, GatewayFlow]]:
    """Flows to the gateways themselves by (source, `gateway:NAME`): a class by name, an
    external atom by its label (compared per atom, not address by address)."""
    labels = _atom_labels(c)
    out: dict[tuple[str, str], tuple[str, GatewayFlow]] = {}
    for f in c.gateway_flows:
        ep = c.endpoints[f.src]
        src = ep.name if ep.kind == "class" else labels[ep.id]
        out[(src, GATEWAY_PREFIX + f.gateway)] = (ep.kind, f)
    return out


def _gateway_changes(
    old: CompiledPolicy, new: CompiledPolicy, gained: list[FlowChange], lost: list[FlowChange]
) -> None:
    old_gw, new_gw = _gateway_index(old), _gateway_index(new)
    for src, dst in sorted(old_gw.keys() | new_gw.keys()):
        o, n = old_gw.get((src, dst)), new_gw.get((src, dst))
        kind = n[0] if n else o[0] if o else "class"
        o_p = o[1].packets if o else PacketSet()
        n_p = n[1].packets if n else PacketSet()
        if n_p - o_p:
            opened = _opened_by(n[1] if n else None, n_p - o_p, new)
            gained.append(
                FlowChange(
                    src,
                    dst,
                    kind,
                    "gateway",
                    (),
                    n_p - o_p,
                    service_names(n_p - o_p, new.services),
                    opened,
                )
            )
        if o_p - n_p:
            lost.append(
                FlowChange(
                    src,
                    dst,
                    kind,
                    "gateway",
                    (),
                    o_p - n_p,
                    service_names(o_p - n_p, old.services),
                    (),
                )
            )


def _change_key(f: FlowChange) -> tuple[str, str, tuple[str, ...], int]:
    return (f.src, f.dst, f.addresses, f.packets.first_key())


Groups = dict[tuple[int, PacketSet], Intervals]


def _external_pieces(
    old: Sequence[tuple[Endpoint, Flow]], new: Sequence[tuple[Endpoint, Flow]]
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
    gained: dict[tuple[int, PacketSet], list[Interval]] = {}
    lost: dict[tuple[int, PacketSet], list[Interval]] = {}
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


def _close(groups: dict[tuple[int, PacketSet], list[Interval]], nxt: dict[int, int]) -> Groups:
    """Give each piece its end (the address before the next event) and merge neighbours."""
    return {k: merge_sorted((lo, nxt[lo]) for lo, _ in pieces) for k, pieces in groups.items()}


def _atom_spaces(c: CompiledPolicy) -> dict[tuple[str, ...], Intervals]:
    return {e.externals: intervals_of(e.prefixes) for e in c.endpoints if e.kind == "external"}


def _ext_change(
    cls: str,
    way: str,
    atom: Endpoint,
    label: str,
    ivs: Intervals,
    other: Intervals | None,
    packets: PacketSet,
    services: Iterable[ResolvedService],
    rules: tuple[Span, ...],
) -> list[FlowChange]:
    """One change toward (or from) an external atom.  Its addresses are listed unless the
    change covers the whole atom and the atom has the same addresses in the other version."""
    if not ivs:
        return []
    mine = intervals_of(atom.prefixes)
    whole = ivs == mine and other == mine
    addresses = (
        ()
        if whole
        else tuple(
            str(n) for lo, hi in ivs for n in iprange_to_cidrs(IPAddress(lo, 4), IPAddress(hi, 4))
        )
    )
    names = service_names(packets, services)
    if way == "out":
        return [FlowChange(cls, label, "class", "external", addresses, packets, names, rules)]
    return [FlowChange(label, cls, "external", "class", addresses, packets, names, rules)]
