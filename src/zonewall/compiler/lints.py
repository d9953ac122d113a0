"""Lint warnings: things that are legal but almost certainly not what the author meant.

Dead and redundant allows come from the exact set computation in `flows.py`; the rest are
simple scans of the resolved statements.  Warnings never change the output.
"""

from __future__ import annotations

from collections.abc import Sequence

from zonewall.compiler.flows import FlowAnalysis
from zonewall.compiler.resolve import Names
from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.ir import Criticality, Policy, ResolvedRule, RuleStmt

__all__ = ["lint"]

MAX_NOTES = 5


def lint(
    policy: Policy,
    names: Names,
    rules: Sequence[ResolvedRule],
    analysis: FlowAnalysis,
    sink: DiagnosticSink,
) -> None:
    by_index = {r.index: r for r in rules}
    _dead(analysis, by_index, rules, sink)
    for i, others in sorted(analysis.redundant.items()):
        rule = by_index[i]
        notes = tuple(("covered by this allow", by_index[o].span) for o in others[:MAX_NOTES])
        sink.warning(
            "W102",
            "allow is redundant: every flow it permits is also permitted by "
            "other allows; remove it or narrow the others",
            rule.span,
            notes=notes,
        )
    for i in analysis.no_effect:
        rule = by_index[i]
        sink.warning(
            "W108",
            f"{rule.action} has no effect: it covers only same-class pairs "
            "(not routed, so never filtered) or external-to-external pairs",
            rule.span,
        )
    _unused(policy, names, rules, sink)
    _plaintext_into_critical(names, rules, sink)
    _any_any(policy.rules, rules, sink)
    _plaintext_aliases(names, sink)


def _dead(
    analysis: FlowAnalysis,
    by_index: dict[int, ResolvedRule],
    rules: Sequence[ResolvedRule],
    sink: DiagnosticSink,
) -> None:
    denies = [r for r in rules if r.action == "deny"]
    for i in analysis.dead:
        rule = by_index[i]
        notes = tuple(
            ("removed by this deny", d.span)
            for d in denies
            if set(d.src) & set(rule.src)
            and (set(d.dst) & set(rule.dst) or set(d.gateways) & set(rule.gateways))
            and d.packets & rule.packets
        )[:MAX_NOTES]
        sink.warning(
            "W101", "allow is dead: denies remove every flow it permits", rule.span, notes=notes
        )


def _unused(
    policy: Policy, names: Names, rules: Sequence[ResolvedRule], sink: DiagnosticSink
) -> None:
    for svc in policy.services:
        if svc.name not in names.used_services and names.services.get(svc.name):
            sink.warning("W103", f"service '{svc.name}' is never used", svc.span)
    for tag in sorted(set(names.tags) - names.used_tags):
        first = min(
            (c for c in policy.classes if tag in c.tags),
            key=lambda c: c.span.sort_key() if c.span else ("",),
        )
        sink.warning("W104", f"tag '{tag}' is never used in a selector", first.attr_span("tags"))
    selected = {m for r in rules for m in r.src + r.dst}
    for cls in policy.classes:
        if cls.name not in selected and names.classes.get(cls.name) is cls:
            sink.warning(
                "W105",
                f"class '{cls.name}' is selected by no allow or deny, so it "
                "can neither reach nor be reached",
                cls.span,
            )
    for ext in policy.externals:
        if ext.name not in selected and names.externals.get(ext.name) is ext:
            sink.warning("W105", f"external '{ext.name}' is selected by no allow or deny", ext.span)


def _plaintext_into_critical(
    names: Names, rules: Sequence[ResolvedRule], sink: DiagnosticSink
) -> None:
    for rule in rules:
        if rule.action != "allow" or not rule.plaintext or rule.services == ("ip",):
            continue
        hot = sorted(
            m
            for m in rule.dst
            if m in names.classes and names.classes[m].criticality >= Criticality.HIGH
        )
        if hot:
            listed = ", ".join(f"'{c}' ({names.classes[c].criticality.label})" for c in hot[:4])
            more = f" and {len(hot) - 4} more" if len(hot) > 4 else ""
            sink.warning(
                "W106",
                f"plaintext {rule.plaintext.describe()} into {listed}{more}; "
                "use an encrypted service or record the risk",
                rule.span,
            )


def _any_any(
    stmts: Sequence[RuleStmt], rules: Sequence[ResolvedRule], sink: DiagnosticSink
) -> None:
    for stmt, rule in zip(stmts, rules, strict=True):
        if stmt.action != "allow" or stmt.services is not None:
            continue
        if all(any(t.kind == "any" for t in sel.include) for sel in (stmt.src, stmt.dst)):
            sink.warning(
                "W107",
                "'allow any -> any' with no services permits everything "
                "between every class and external; name the services",
                rule.span,
            )


def _plaintext_aliases(names: Names, sink: DiagnosticSink) -> None:
    groups: dict[object, list[str]] = {}
    for name, svc in names.services.items():
        if svc.packets:
            groups.setdefault(svc.packets, []).append(name)
    for members in groups.values():
        flags = {bool(names.services[m].plaintext) for m in members}
        if len(flags) > 1:
            ordered = sorted(members, key=lambda m: _key(names.services[m].span))
            plain = [m for m in ordered if names.services[m].plaintext]
            enc = [m for m in ordered if not names.services[m].plaintext]
            sink.warning(
                "W111",
                f"services {', '.join(repr(m) for m in ordered)} match the same "
                f"packets ({names.services[ordered[0]].packets.describe()}) but only "
                f"{', '.join(repr(m) for m in plain)} is marked plaintext; flows on "
                f"{', '.join(repr(m) for m in enc)} escape 'encrypted' checks",
                names.services[ordered[-1]].span,
            )


def _key(span: Span | None) -> tuple[str, int, int]:
    return span.sort_key() if span else ("", 0, 0)
