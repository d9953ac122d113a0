"""Resolution: names to definitions, services to packet sets, selectors to members.

The first compiler phase.  It reports unknown names (with "did you mean"), duplicate
definitions (both places), names used as the wrong kind of thing, service cycles, and
selectors that select nothing.  Its output, `Names`, is what every later pass looks names up in.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.ir import (
    ClassDef,
    Criticality,
    ExternalDef,
    GatewayDef,
    Policy,
    ResolvedService,
    Selector,
    SelTerm,
    ServiceDef,
    ServiceItem,
    ServiceRef,
)
from zonewall.packets import PacketSet

__all__ = [
    "GATEWAY_PREFIX",
    "Names",
    "resolve_names",
    "resolve_selector",
    "resolve_service_refs",
    "suggest",
]


@dataclass(frozen=True, slots=True)
class Names:
    """Lookup tables built from a policy; read-only after `resolve_names`."""

    classes: dict[str, ClassDef]
    externals: dict[str, ExternalDef]
    services: dict[str, ResolvedService]
    gateways: dict[str, GatewayDef]
    tags: dict[str, tuple[str, ...]]  # tag -> classes carrying it, sorted
    used_services: set[str]
    used_tags: set[str]

    def kind_of(self, name: str) -> str | None:
        for kind, table in (
            ("class", self.classes),
            ("external", self.externals),
            ("service", self.services),
            ("gateway", self.gateways),
        ):
            if name in table:
                return kind
        return None


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean" suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def resolve_names(policy: Policy, sink: DiagnosticSink) -> Names:
    """Check that every definition's name is unique and resolve services to packet sets."""
    seen: dict[str, tuple[str, Span | None]] = {}
    defs: list[tuple[str, str, Span | None]] = (
        [("service", d.name, d.span) for d in policy.services]
        + [("class", d.name, d.span) for d in policy.classes]
        + [("external", d.name, d.span) for d in policy.externals]
        + [("gateway", d.name, d.span) for d in policy.gateways]
    )
    # Each kind is in reading order (includes inlined), so within a kind "first" is right.
    for kind, name, span in defs:
        if name in seen:
            first_kind, first_span = seen[name]
            if first_kind != kind:
                message = (
                    f"'{name}' is defined twice (as {_a(first_kind)} and as {_a(kind)}); "
                    "rename one of them"
                )
            else:
                message = f"{kind} '{name}' is defined twice; remove or rename one"
            sink.error("E202", message, span, notes=(("first defined here", first_span),))
        else:
            seen[name] = (kind, span)
    classes = _first_of(policy.classes)
    tags: dict[str, list[str]] = {}
    for cls in classes.values():
        for tag in cls.tags:
            tags.setdefault(tag, []).append(cls.name)
    names = Names(
        classes=classes,
        externals=_first_of(policy.externals),
        services={},
        gateways=_first_of(policy.gateways),
        tags={t: tuple(sorted(c)) for t, c in tags.items()},
        used_services=set(),
        used_tags=set(),
    )
    _resolve_services(policy.services, names, sink)
    return names


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


_T = TypeVar("_T", ClassDef, ExternalDef, GatewayDef, ServiceDef)


def _first_of(items: Iterable[_T]) -> dict[str, _T]:
    out: dict[str, _T] = {}
    for item in items:
        out.setdefault(item.name, item)
    return out


def _resolve_services(defs: tuple[ServiceDef, ...], names: Names, sink: DiagnosticSink) -> None:
    by_name = _first_of(defs)
    state: dict[str, str] = {}  # name -> "busy" | "done"

    def visit(d: ServiceDef, chain: tuple[str, ...]) -> ResolvedService:
        if state.get(d.name) == "done":
            return names.services[d.name]
        state[d.name] = "busy"
        packets: list[PacketSet] = []
        plain: list[PacketSet] = []
        for item in d.items:
            if isinstance(item, ServiceItem):
                packets.append(item.packets)
                continue
            names.used_services.add(item.name)
            target = by_name.get(item.name)
            if target is None:
                _unknown(item.name, item.span, "service", names, by_name, sink)
            elif state.get(item.name) == "busy":
                cycle = " -> ".join(chain[chain.index(item.name) :] + (item.name,))
                sink.error("E204", f"services refer to each other in a cycle: {cycle}", item.span)
            else:
                sub = visit(target, chain + (item.name,))
                packets.append(sub.packets)
                plain.append(sub.plaintext)
        all_packets = PacketSet.union_all(packets)
        plaintext = all_packets if d.plaintext else PacketSet.union_all(plain)
        resolved = ResolvedService(d.name, all_packets, plaintext, d.span)
        names.services[d.name] = resolved
        state[d.name] = "done"
        return resolved

    for d in by_name.values():
        if state.get(d.name) != "done":
            visit(d, (d.name,))


def _unknown(
    name: str,
    span: Span | None,
    expected: str,
    names: Names,
    candidates: Iterable[str],
    sink: DiagnosticSink,
) -> None:
    kind = names.kind_of(name)
    if kind is not None:
        sink.error("E203", f"'{name}' is a {kind}, not a {expected}", span)
        return
    sink.error("E201", f"unknown {expected} '{name}'{suggest(name, candidates)}", span)


def resolve_service_refs(
    refs: tuple[ServiceRef | ServiceItem, ...] | None, names: Names, sink: DiagnosticSink
) -> tuple[PacketSet, PacketSet, tuple[str, ...]]:
    """Packets, plaintext packets and names of a `: SERVICES` list (None means all traffic).

    A literal item (`tcp/81`) written in place of a name is never plaintext.
    """
    if refs is None:
        return PacketSet.everything(), PacketSet.everything(), ("ip",)
    if len(refs) == 1 and isinstance(refs[0], ServiceRef) and refs[0].name in names.services:
        names.used_services.add(refs[0].name)  # the common case: one known service
        only = names.services[refs[0].name]
        return only.packets, only.plaintext, (refs[0].name,)
    packets: list[PacketSet] = []
    plain: list[PacketSet] = []
    for ref in refs:
        if isinstance(ref, ServiceItem):
            packets.append(ref.packets)
            continue
        names.used_services.add(ref.name)
        svc = names.services.get(ref.name)
        if svc is None:
            _unknown(ref.name, ref.span, "service", names, names.services, sink)
            continue
        packets.append(svc.packets)
        plain.append(svc.plaintext)
    return (
        PacketSet.union_all(packets),
        PacketSet.union_all(plain),
        tuple(dict.fromkeys(r.text if isinstance(r, ServiceItem) else r.name for r in refs)),
    )


GATEWAY_PREFIX = "gateway:"  # member names of gateways themselves; ':' is in no name


def resolve_selector(
    sel: Selector,
    names: Names,
    sink: DiagnosticSink,
    what: str = "selector",
    gateways_ok: bool = False,
) -> frozenset[str]:
    """Members of a selector; empty selections are errors.

    Members are class and external names, and ``gateway:NAME`` for a gateway itself
    (`gateway:NAME` and `gateways` terms).  Those are valid only where `gateways_ok` (the
    destination of a rule or an assertion); anywhere else they are error E219.
    """
    if len(sel.include) == 1 and not sel.exclude:  # the common case: one known name
        term = sel.include[0]
        if term.kind == "name" and (term.value in names.classes or term.value in names.externals):
            return frozenset((term.value,))
    errors_before = sink.reported
    if not gateways_ok:
        _gateways_misplaced(sel, what, sink)
    include = _terms(sel.include, names, sink)
    exclude = _terms(sel.exclude, names, sink)
    members = include - exclude
    if not members and sink.reported == errors_before:
        if include:
            sink.error(
                "E211",
                f"{what} '{sel.text()}' selects nothing (everything it includes is excepted)",
                sel.span,
            )
        elif len(sel.include) == 1 and sel.include[0].kind == "criticality":
            sink.error(
                "E211", f"no class has criticality '{sel.include[0].value}'", sel.include[0].span
            )
        elif len(sel.include) == 1 and sel.include[0].kind == "external":
            sink.error(
                "E211",
                "'external' selects nothing: the policy defines no external",
                sel.include[0].span,
            )
        else:
            sink.error("E211", f"{what} '{sel.text()}' selects nothing", sel.span)
    return frozenset(members)


def _gateways_misplaced(sel: Selector, what: str, sink: DiagnosticSink) -> None:
    where = "a source" if what == "selector" else f"the {what}"
    for term in sel.include + sel.exclude:
        if term.kind in ("gateway", "gateways"):
            sink.error(
                "E219",
                f"'{term.text()}' can only be a destination (after '->' in "
                "allow, deny or assert): traffic to a gateway itself is modelled, "
                f"traffic the gateway initiates is not (here it is in {where})",
                term.span,
            )


def _terms(terms: tuple[SelTerm, ...], names: Names, sink: DiagnosticSink) -> set[str]:
    out: set[str] = set()
    for term in terms:
        out |= _term(term, names, sink)
    return out


def _term(term: SelTerm, names: Names, sink: DiagnosticSink) -> set[str]:
    if term.kind == "name":
        if term.value in names.classes or term.value in names.externals:
            return {term.value}
        if term.value in names.tags:
            sink.error(
                "E203",
                f"'{term.value}' is a tag, not a class or external; write 'tag:{term.value}'",
                term.span,
            )
            return set()
        candidates = list(names.classes) + list(names.externals)
        _unknown(term.value, term.span, "class or external", names, candidates, sink)
        return set()
    if term.kind == "tag":
        names.used_tags.add(term.value)
        if term.value not in names.tags:
            sink.error(
                "E201",
                f"no class has tag '{term.value}'{suggest(term.value, names.tags)}",
                term.span,
            )
            return set()
        return set(names.tags[term.value])
    if term.kind == "criticality":
        level = Criticality[term.value.upper()]
        return {c.name for c in names.classes.values() if c.criticality is level}
    if term.kind == "gateway":
        if term.value in names.gateways:
            return {GATEWAY_PREFIX + term.value}
        _unknown(term.value, term.span, "gateway", names, names.gateways, sink)
        return set()
    if term.kind == "gateways":
        return {GATEWAY_PREFIX + g for g in names.gateways}
    if term.kind == "internal":
        return set(names.classes)
    if term.kind == "external":
        return set(names.externals)
    return set(names.classes) | set(names.externals)  # any
