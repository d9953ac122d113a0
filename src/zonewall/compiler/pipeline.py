"""The whole compilation, in one place: Policy -> CompiledPolicy plus diagnostics.

Phases run in order; each collects all of its errors, and the pipeline stops after any phase
that reported one.

1. resolve   names, services, selectors, subnets/VLANs (allocation), gateways
2. expand    externals as address sets minus classes (and the private space they cover by
             accident), endpoint atoms, effective flows
3. prove     the flow graph, every assertion, lint warnings
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from zonewall.compiler.allocate import Allocation, allocate
from zonewall.compiler.assertions import AssertionInput, Prover
from zonewall.compiler.expand import build_endpoints
from zonewall.compiler.flows import FlowAnalysis, compute_flows
from zonewall.compiler.gateways import assign_gateways
from zonewall.compiler.graph import build_graph
from zonewall.compiler.lints import lint
from zonewall.compiler.relay import resolve_relays
from zonewall.compiler.resolve import (
    GATEWAY_PREFIX,
    Names,
    resolve_names,
    resolve_selector,
    resolve_service_refs,
)
from zonewall.compiler.review_lints import review_lints
from zonewall.compiler.special import warn_special_space
from zonewall.diagnostics import Diagnostic, DiagnosticSink, sort_diagnostics
from zonewall.ir import (
    AssertionResult,
    AssertKind,
    AssertStmt,
    CompiledPolicy,
    Endpoint,
    Flow,
    GatewayFlow,
    GatewayPlan,
    Policy,
    ResolvedClass,
    ResolvedExternal,
    ResolvedRule,
    Selector,
    TransitToGateway,
)
from zonewall.packets import PacketSet

__all__ = ["CompileResult", "compile_policy"]

_GATEWAY_TERMS = ("gateway", "gateways")


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
    review_lints(policy, classes, sink)
    externals, endpoints = build_endpoints(classes, policy.externals, sink)
    if sink.has_errors:
        return CompileResult(None, sort_diagnostics(sink.items))
    # The gateways themselves are endpoints after the classes and externals: flows to them are
    # computed and proven like any other, then kept apart (`gateway_flows`).
    every = endpoints + tuple(
        Endpoint(len(endpoints) + i, "gateway", GATEWAY_PREFIX + g.name, ())
        for i, g in enumerate(resolved.gateways)
    )
    members = _members(every)
    analysis = compute_flows(resolved.rules, members, every)
    results = _prove(resolved, classes, externals, every, members, analysis, sink)
    lint(policy, resolved.names, resolved.rules, analysis, sink)
    plans, relay_flows = resolve_relays(
        resolved.names, classes, endpoints, analysis.flows, resolved.gateways, sink
    )
    flows, gateway_flows = _split_flows(analysis, every, len(endpoints))
    compiled = CompiledPolicy(
        policy=policy,
        classes=classes,
        externals=externals,
        services=tuple(resolved.names.services[n] for n in sorted(resolved.names.services)),
        rules=resolved.rules,
        endpoints=endpoints,
        flows=flows,
        gateways=plans,
        assertions=results,
        gateway_flows=gateway_flows,
        relay_flows=relay_flows,
        transit_to_gateways=_transit_to_gateways(classes, endpoints, gateway_flows),
    )
    return CompileResult(compiled, sort_diagnostics(sink.items))


def _resolve(policy: Policy, sink: DiagnosticSink) -> _Resolved:
    names = resolve_names(policy, sink)

    def sel(s: Selector, what: str = "selector", gateways_ok: bool = False) -> frozenset[str]:
        return resolve_selector(s, names, sink, what, gateways_ok)

    rules = []
    for index, stmt in enumerate(policy.rules):
        packets, plain, svc_names = resolve_service_refs(stmt.services, names, sink)
        src = tuple(sorted(sel(stmt.src)))
        dst, to_gateways = _split_gateways(stmt.dst, sel(stmt.dst, "selector", True))
        rules.append(
            ResolvedRule(
                index,
                stmt.action,
                src,
                dst,
                svc_names,
                packets,
                plain,
                stmt.why,
                stmt.log,
                stmt.span,
                to_gateways,
            )
        )
    assertions = [_assertion_input(a, names, sink, sel) for a in policy.assertions]
    alloc = allocate(policy, names.classes, sink)
    gateways, interfaces = assign_gateways(names, alloc, sink, sel)
    return _Resolved(names, tuple(rules), tuple(assertions), alloc, gateways, interfaces)


def _split_gateways(
    sel: Selector, members: frozenset[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A destination's classes and externals, and the gateways it names themselves."""
    if not any(t.kind in _GATEWAY_TERMS for t in sel.include + sel.exclude):
        return tuple(sorted(members)), ()
    cut = len(GATEWAY_PREFIX)
    return (
        tuple(sorted(m for m in members if not m.startswith(GATEWAY_PREFIX))),
        tuple(sorted(m[cut:] for m in members if m.startswith(GATEWAY_PREFIX))),
    )


def _split_flows(
    analysis: FlowAnalysis, every: tuple[Endpoint, ...], first_gateway: int
) -> tuple[tuple[Flow, ...], tuple[GatewayFlow, ...]]:
    """Flows between classes and externals, and flows to the gateways themselves."""
    pairs = sorted(analysis.flows)
    if not any(d >= first_gateway for _, d in pairs):
        return tuple(analysis.flows[p] for p in pairs), ()
    cut = len(GATEWAY_PREFIX)
    flows = tuple(analysis.flows[p] for p in pairs if p[1] < first_gateway)
    to_gateways = sorted((every[p[1]].name[cut:], p[0]) for p in pairs if p[1] >= first_gateway)
    by_name = {e.name[cut:]: e.id for e in every[first_gateway:]}
    return flows, tuple(
        GatewayFlow(src, name, f.packets, f.plaintext, f.rules)
        for name, src in to_gateways
        for f in (analysis.flows[src, by_name[name]],)
    )


def _transit_to_gateways(
    classes: tuple[ResolvedClass, ...],
    endpoints: tuple[Endpoint, ...],
    gateway_flows: tuple[GatewayFlow, ...],
) -> tuple[TransitToGateway, ...]:
    """The allows to a gateway from a class another gateway serves (E223 at build), once for
    the whole policy."""
    served_by = {c.name: c.gateway for c in classes}
    names = {e.id: e.name for e in endpoints}
    out: list[TransitToGateway] = []
    seen: set[tuple[int, str]] = set()
    for f in gateway_flows:
        src = names.get(f.src, "")
        gateway = served_by.get(src)
        if gateway is None or gateway == f.gateway:
            continue
        for index in f.rules:
            if (index, src) not in seen:
                seen.add((index, src))
                out.append(TransitToGateway(gateway, src, f.gateway, index))
    return tuple(out)


def _assertion_input(
    a: AssertStmt, names: Names, sink: DiagnosticSink, sel: Callable[..., frozenset[str]]
) -> AssertionInput:
    src = sel(a.src, "selector") if a.src is not None else None
    without = sel(a.without, "'without' selector") if a.without else frozenset()
    packets: PacketSet | None = None
    svc_names: tuple[str, ...] = ()
    if a.services is not None:
        packets, _, svc_names = resolve_service_refs(a.services, names, sink)
    return AssertionInput(a, src, sel(a.dst, "selector", True), without, packets, svc_names)


def _classes(policy: Policy, r: _Resolved) -> tuple[ResolvedClass, ...]:
    out = []
    for name in sorted(r.names.classes):
        c = r.names.classes[name]
        a = r.alloc[name]
        gateway, interface = r.interfaces[name]
        out.append(
            ResolvedClass(
                name,
                a.prefixes,
                a.vlan,
                c.criticality,
                c.tags,
                c.description,
                gateway,
                interface,
                a.allocated_subnet,
                a.allocated_vlan,
                c.span,
            )
        )
    return tuple(out)


def _members(endpoints: tuple[Endpoint, ...]) -> dict[str, tuple[int, ...]]:
    members: dict[str, list[int]] = {}
    for ep in endpoints:
        for name in ep.externals if ep.kind == "external" else (ep.name,):
            members.setdefault(name, []).append(ep.id)
    return {k: tuple(v) for k, v in members.items()}


def _prove(
    r: _Resolved,
    classes: tuple[ResolvedClass, ...],
    externals: tuple[ResolvedExternal, ...],
    endpoints: tuple[Endpoint, ...],
    members: dict[str, tuple[int, ...]],
    analysis: FlowAnalysis,
    sink: DiagnosticSink,
) -> tuple[AssertionResult, ...]:
    graph = None  # only `unreachable` is about paths
    if any(a.stmt.kind is AssertKind.UNREACHABLE for a in r.assertions):
        graph = build_graph(classes, externals, endpoints, analysis.flows.values())
    ext_size = {e.name: sum(p.size for p in e.prefixes) for e in externals}
    prover = Prover(
        endpoints, analysis.flows, {x.index: x for x in r.rules}, members, graph, ext_size
    )
    results = []
    for a in r.assertions:
        result, diag = prover.check(a)
        results.append(result)
        if diag is not None:
            sink.add(diag)
    return tuple(results)
