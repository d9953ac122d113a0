"""The whole compilation, in one place: Policy -> CompiledPolicy plus diagnostics.

Phases run in order; each collects all of its errors, and the pipeline stops after any phase
that reported one.

1. resolve   names, services, selectors, subnets/VLANs (allocation), gateways
2. expand    externals as address sets minus classes (and the private space they cover by
             accident), endpoint atoms, effective flows
3. verify    the flow graph, every assertion, lint warnings
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from zonewall.compiler.allocate import Allocation, allocate
from zonewall.compiler.expand import build_endpoints
from zonewall.compiler.flows import FlowAnalysis, compute_flows
from zonewall.compiler.gateways import assign_gateways
from zonewall.compiler.graph import build_graph
from zonewall.compiler.lints import lint
from zonewall.compiler.resolve import Names, resolve_names, resolve_selector, resolve_service_refs
from zonewall.compiler.special import warn_special_space
from zonewall.compiler.verify import AssertionInput, Verifier
from zonewall.diagnostics import Diagnostic, DiagnosticSink, sort_diagnostics
from zonewall.ir import (
    AssertionResult,
    AssertKind,
    AssertStmt,
    CompiledPolicy,
    Endpoint,
    GatewayPlan,
    Policy,
    ResolvedClass,
    ResolvedExternal,
    ResolvedRule,
    Selector,
)
from zonewall.packets import PacketSet

__all__ = ["CompileResult", "compile_policy"]


@dataclass
class CompileResult:
    compiled: CompiledPolicy | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not any(d.is_error for d in self.diagnostics)


@dataclass
class _Resolved:
    names: Names
    rules: tuple[ResolvedRule, ...]
    assertions: tuple[AssertionInput, ...]
    alloc: dict[str, Allocation]
    gateways: tuple[GatewayPlan, ...]
    interfaces: dict[str, tuple[str, str]]


def compile_policy(policy: Policy) -> CompileResult:
    """Compile a parsed policy; never raises for problems in the policy itself."""
    sink = DiagnosticSink()
    resolved = _resolve(policy, sink)
    if sink.has_errors:
        return CompileResult(None, sort_diagnostics(sink.items))
    classes = _classes(policy, resolved)
    warn_special_space(policy, classes, sink)
    externals, endpoints = build_endpoints(classes, policy.externals, sink)
    if sink.has_errors:
        return CompileResult(None, sort_diagnostics(sink.items))
    members = _members(endpoints)
    analysis = compute_flows(resolved.rules, members, endpoints)
    results = _verify(resolved, classes, externals, endpoints, members, analysis, sink)
    lint(policy, resolved.names, resolved.rules, analysis, sink)
    compiled = CompiledPolicy(
        policy=policy,
        classes=classes,
        externals=externals,
        services=tuple(resolved.names.services[n] for n in sorted(resolved.names.services)),
        rules=resolved.rules,
        endpoints=endpoints,
        flows=tuple(analysis.flows[p] for p in sorted(analysis.flows)),
        gateways=resolved.gateways,
        assertions=results,
    )
    return CompileResult(compiled, sort_diagnostics(sink.items))


def _resolve(policy: Policy, sink: DiagnosticSink) -> _Resolved:
    names = resolve_names(policy, sink)

    def sel(s: Selector, what: str = "selector") -> frozenset[str]:
        return resolve_selector(s, names, sink, what)

    rules = []
    for index, stmt in enumerate(policy.rules):
        packets, plain, svc_names = resolve_service_refs(stmt.services, names, sink)
        rules.append(ResolvedRule(index, stmt.action, tuple(sorted(sel(stmt.src))),
                                  tuple(sorted(sel(stmt.dst))), svc_names, packets, plain,
                                  stmt.why, stmt.log, stmt.span))
    assertions = [_assertion_input(a, names, sink, sel) for a in policy.assertions]
    alloc = allocate(policy, names.classes, sink)
    gateways, interfaces = assign_gateways(names, alloc, sink, sel)
    return _Resolved(names, tuple(rules), tuple(assertions), alloc, gateways, interfaces)


def _assertion_input(a: AssertStmt, names: Names, sink: DiagnosticSink,
                     sel: Callable[[Selector, str], frozenset[str]]) -> AssertionInput:
    src = sel(a.src, "selector") if a.src is not None else None
    without = sel(a.without, "'without' selector") if a.without else frozenset()
    packets: PacketSet | None = None
    svc_names: tuple[str, ...] = ()
    if a.services is not None:
        packets, _, svc_names = resolve_service_refs(a.services, names, sink)
    return AssertionInput(a, src, sel(a.dst, "selector"), without, packets, svc_names)


def _classes(policy: Policy, r: _Resolved) -> tuple[ResolvedClass, ...]:
    out = []
    for name in sorted(r.names.classes):
        c = r.names.classes[name]
        a = r.alloc[name]
        gateway, interface = r.interfaces[name]
        out.append(ResolvedClass(name, a.prefixes, a.vlan, c.criticality, c.tags, c.description,
                                 gateway, interface, a.allocated_subnet, a.allocated_vlan,
                                 c.span))
    return tuple(out)


def _members(endpoints: tuple[Endpoint, ...]) -> dict[str, tuple[int, ...]]:
    members: dict[str, list[int]] = {}
    for ep in endpoints:
        for name in ep.externals if ep.kind == "external" else (ep.name,):
            members.setdefault(name, []).append(ep.id)
    return {k: tuple(v) for k, v in members.items()}


def _verify(r: _Resolved, classes: tuple[ResolvedClass, ...],
            externals: tuple[ResolvedExternal, ...], endpoints: tuple[Endpoint, ...],
            members: dict[str, tuple[int, ...]], analysis: FlowAnalysis,
            sink: DiagnosticSink) -> tuple[AssertionResult, ...]:
    graph = None  # only `unreachable` is about paths
    if any(a.stmt.kind is AssertKind.UNREACHABLE for a in r.assertions):
        graph = build_graph(classes, externals, endpoints, analysis.flows.values())
    ext_size = {e.name: sum(p.size for p in e.prefixes) for e in externals}
    verifier = Verifier(endpoints, analysis.flows, {x.index: x for x in r.rules}, members,
                        graph, ext_size)
    results = []
    for a in r.assertions:
        result, diag = verifier.check(a)
        results.append(result)
        if diag is not None:
            sink.add(diag)
    return tuple(results)
