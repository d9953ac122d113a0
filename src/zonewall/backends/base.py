"""The backend contract and what every backend shares.

A backend turns one gateway of a `CompiledPolicy` into deployable text in three steps:
`check()` (capabilities: anything the platform cannot express is an error at the policy span
that needs it), `lower()` (every decision, into a frozen target model, returned with what the
decisions found the platform cannot express, as `Lowered`), `render()` (jinja2 templates only).
`lower_gateway()` runs the first two in order, as build does; nothing passes between the steps
but their return values.

All backends enforce the same model (docs/language.md, section 8.1): a gateway filters on
ingress, on each served class's interface (source must be in that class) and on its
uplink (sources in externals may only start permitted flows toward served classes; sources in
classes served elsewhere were filtered at their own gateway and pass; anything else is spoofed).

`gateway_view()` computes that model once, from the policy's effective flows, as `Permit`
slices: each slice is the part of a flow that one allow statement opens, so every emitted rule
can name the statement (file:line) that caused it.
"""

from __future__ import annotations

import abc
import enum
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, ClassVar, Generic, TypeVar

import jinja2
from netaddr import IPAddress, IPNetwork, cidr_merge

from zonewall.diagnostics import Diagnostic, DiagnosticError, Severity
from zonewall.ir import (
    CompiledPolicy,
    Endpoint,
    Flow,
    GatewayFlow,
    GatewayPlan,
    ResolvedClass,
    ResolvedRule,
    Selector,
    SelTerm,
)
from zonewall.packets import PORT_SPAN, PacketSet
from zonewall.text import comment_line, markdown_text

__all__ = [
    "Backend",
    "Feature",
    "GatewayView",
    "Lowered",
    "Permit",
    "capability_errors",
    "gateway_address",
    "gateway_view",
    "lower_gateway",
    "relay_endpoint",
    "uplink_source",
    "self_endpoint",
    "make_env",
    "policy_lines",
    "short_name",
]


class Feature(enum.Enum):
    STATEFUL = "stateful"  # return traffic tracked by connection state
    PORT_RANGES = "port-ranges"
    ICMP_TYPES = "icmp-types"
    ANY_PROTOCOL = "any-protocol"  # protocols other than tcp/udp/icmp
    LOGGING = "logging"
    GATEWAY_PLANE = "gateway-plane"  # filters traffic to the gateway itself (`gateway:NAME`)


@dataclass(frozen=True, slots=True)
class Permit:
    """The part of one flow that one allow statement opens."""

    src: Endpoint
    dst: Endpoint
    packets: PacketSet
    rule: ResolvedRule


@dataclass(frozen=True, slots=True)
class GatewayView:
    plan: GatewayPlan
    served: tuple[ResolvedClass, ...]  # by name
    outbound: tuple[tuple[ResolvedClass, tuple[Permit, ...]], ...]  # per served class
    inbound: tuple[tuple[Endpoint, tuple[Permit, ...]], ...]  # per external atom, to served
    transit: tuple[IPNetwork, ...]  # classes served by other gateways, merged
    served_prefixes: tuple[IPNetwork, ...]  # merged
    class_by_endpoint: Mapping[int, ResolvedClass]
    endpoints: tuple[Endpoint, ...]
    # Traffic to the gateway itself (`gateway:NAME`): per source endpoint (a class or an
    # external atom, by id), what it may start to the box; `Permit.dst` is `self_endpoint`.
    to_self: tuple[tuple[Endpoint, tuple[Permit, ...]], ...] = ()
    # DHCP relayed by other gateways to classes served here (`dhcp-relay`): each relay's
    # source is an endpoint of kind "relay" (`relay_endpoint`), after the policy's endpoints in
    # `endpoints`, and its permits are also in `inbound` (they enter on the uplink).
    relayed: tuple[Permit, ...] = ()

    def local(self, ep: Endpoint) -> ResolvedClass | None:
        """The served class an endpoint is, when it is routed by this gateway."""
        cls = self.class_by_endpoint.get(ep.id)
        return cls if cls is not None and cls.gateway == self.plan.name else None


M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Lowered(Generic[M]):
    """What `Backend.lower` returns: the target model and the diagnostics of its decisions.

    Fail closed: when a diagnostic is an error, the gateway cannot be configured as the policy
    says, so there is no model (`model` is None) and nothing to render.
    """

    model: M | None
    diagnostics: tuple[Diagnostic, ...] = ()

    def __post_init__(self) -> None:
        if self.model is not None and any(d.is_error for d in self.diagnostics):
            raise ValueError("a lowering with errors has no model")

    def unwrap(self) -> M:
        """The model.

        Raises:
            DiagnosticError: with the errors, when there is no model.
        """
        if self.model is None:
            raise DiagnosticError(tuple(d for d in self.diagnostics if d.is_error))
        return self.model


def gateway_address(net: IPNetwork) -> IPAddress:
    """A gateway's own address in a class subnet: the first usable one (the VLAN plan's SVI
    and interface addresses, and the address a switch filters traffic to itself on)."""
    return net[0] if net.prefixlen >= 31 else net[1]


def slices(
    flow: Flow | GatewayFlow, rules: Mapping[int, ResolvedRule]
) -> list[tuple[ResolvedRule, PacketSet]]:
    """Split a flow's packets among the allows that open them, first statement first."""
    if len(flow.rules) == 1:
        # Most flows: one allow opens all of it (a flow's packets lie within its openers').
        return [(rules[flow.rules[0]], flow.packets)]
    remaining = flow.packets
    out = []
    for i in flow.rules:
        part = rules[i].packets & remaining
        if part:
            out.append((rules[i], part))
            remaining = remaining - part
        if not remaining:
            break
    return out


def gateway_view(policy: CompiledPolicy, gateway: str) -> GatewayView:
    plan = next(g for g in policy.gateways if g.name == gateway)
    rules = {r.index: r for r in policy.rules}
    by_name = {c.name: c for c in policy.classes}
    class_by_ep = {e.id: by_name[e.name] for e in policy.endpoints if e.kind == "class"}
    served = tuple(by_name[n] for n in sorted(plan.classes))
    served_ids = {e for e, c in class_by_ep.items() if c.gateway == gateway}
    outbound: dict[int, list[Permit]] = {e: [] for e in served_ids}
    inbound: dict[int, list[Permit]] = {}
    eps = policy.endpoints
    for flow in policy.flows:
        src, dst = eps[flow.src], eps[flow.dst]
        target: list[Permit] | None = None
        if flow.src in served_ids:
            target = outbound[flow.src]
        elif src.kind == "external" and flow.dst in served_ids:
            target = inbound.setdefault(flow.src, [])
        if target is not None:
            target.extend(Permit(src, dst, part, rule) for rule, part in slices(flow, rules))
    me = self_endpoint(gateway)
    to_self = tuple(
        (eps[f.src], tuple(Permit(eps[f.src], me, part, rule) for rule, part in slices(f, rules)))
        for f in policy.gateway_flows
        if f.gateway == gateway
    )
    id_of = {c.name: e for e, c in class_by_ep.items()}
    transit = [p for c in policy.classes if c.gateway != gateway for p in c.prefixes]
    relay_eps, relayed = _relayed(policy, served_ids, len(eps))
    return GatewayView(
        plan=plan,
        served=served,
        outbound=tuple((c, tuple(outbound[id_of[c.name]])) for c in served),
        inbound=tuple((eps[e], tuple(inbound[e])) for e in sorted(inbound))
        + tuple((ep, tuple(p for p in relayed if p.src is ep)) for ep in relay_eps),
        transit=tuple(cidr_merge(transit)),
        served_prefixes=tuple(cidr_merge([p for c in served for p in c.prefixes])),
        class_by_endpoint=class_by_ep,
        endpoints=eps + relay_eps,
        to_self=to_self,
        relayed=relayed,
    )


def uplink_source(ep: Endpoint) -> str:
    """What a source entering on the uplink is, for comments: an external atom or a relay."""
    if ep.kind == "relay":
        return f"the DHCP relay of gateway {ep.name.split('.')[0]}"
    return f"external {ep.name}"


def relay_endpoint(gateway: str, source: IPNetwork, eid: int) -> Endpoint:
    """The source of DHCP relayed by `gateway` (its `dhcp-relay ... from` address)."""
    return Endpoint(eid, "relay", f"{gateway}.relay", (source,))


def _relayed(
    policy: CompiledPolicy, served_ids: set[int], first_id: int
) -> tuple[tuple[Endpoint, ...], tuple[Permit, ...]]:
    """The relays whose DHCP reaches a class served here, and their permits: udp/67 from the
    relay's source to the server's class, named after the `dhcp-relay` statement."""
    flows = [f for f in policy.relay_flows if f.dst in served_ids]
    by_gateway: dict[str, Endpoint] = {}
    permits: list[Permit] = []
    for f in flows:
        ep = by_gateway.get(f.gateway)
        if ep is None:
            ep = by_gateway[f.gateway] = relay_endpoint(
                f.gateway, f.source, first_id + len(by_gateway)
            )
        rule = ResolvedRule(
            -1 - len(permits),
            "allow",
            (ep.name,),
            (policy.endpoints[f.dst].name,),
            ("udp/67",),
            f.packets,
            PacketSet(),
            f"DHCP relayed by {f.gateway} from {f.source.ip}",
            False,
            f.span,
        )
        permits.append(Permit(ep, policy.endpoints[f.dst], f.packets, rule))
    return tuple(by_gateway.values()), tuple(permits)


def self_endpoint(gateway: str) -> Endpoint:
    """The gateway itself as the destination of its `to_self` permits (no address of its
    own in the policy: they are the box's, whatever they are)."""
    return Endpoint(-1, "gateway", f"gateway:{gateway}", ())


def protocol_blocks(packets: PacketSet) -> list[tuple[int, list[tuple[int, int]]]]:
    """(protocol, port/type intervals) pairs; an empty interval list means the whole protocol."""
    by_proto: dict[int, list[tuple[int, int]]] = {}
    for lo, hi in packets.split_by_protocol():
        proto = lo // PORT_SPAN
        by_proto.setdefault(proto, []).append((lo % PORT_SPAN, hi % PORT_SPAN))
    out = []
    for proto in sorted(by_proto):
        ivs = by_proto[proto]
        whole = ivs == [(0, PORT_SPAN - 1)]
        out.append((proto, [] if whole else ivs))
    return out


def short_name(parts: Iterable[str], limit: int, sep: str = "-") -> str:
    """Join parts; when too long, shorten each part and add a hash of the full name."""
    parts = list(parts)
    full = sep.join(parts)
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    room = limit - len(digest) - len(sep) * len(parts)
    each = max(room // len(parts), 1)
    return sep.join(p[:each] for p in parts) + sep + digest


def rule_ref(rule: ResolvedRule) -> str:
    """`file:line` of the statement, for comments."""
    if rule.span is None:
        return f"rule {rule.index}"
    return f"{rule.span.file}:{rule.span.line}"


def policy_lines(
    policy: CompiledPolicy, clean: Callable[[str, int], str] = comment_line, sha256: bool = True
) -> tuple[str, ...]:
    """Header lines naming each policy file with its sha256, as `manifest.json` lists them and
    as `sha256sum FILE` prints them, so an auditor can check a config against its sources.
    `clean` makes a path safe for the output's comment lines (IOS: `ios_text`).  Without
    `sha256` (Cisco files, whose every byte but remarks must stay when only a comment of the
    policy changes) the line names the file and points at `manifest.json` for its hash."""
    if not sha256:
        return tuple(
            f"policy: {clean(f.path, 200)}  (its sha256: manifest.json)"
            for f in policy.policy.files
        )
    return tuple(f"policy: {clean(f.path, 200)}  sha256: {f.sha256}" for f in policy.policy.files)


# Free text in templates goes through its format's function (see `src/zonewall/text.py`).
FILTERS: dict[str, Callable[..., Any]] = {"md": markdown_text}


@functools.cache
def make_env() -> jinja2.Environment:
    """The one jinja2 environment, built once: its templates are compiled on first use, not
    again for every gateway.  Nothing changes it after this function returns."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zonewall", "backends/templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def capability_errors(
    backend: Backend, policy: CompiledPolicy, view: GatewayView
) -> list[Diagnostic]:
    """What the policy needs of this gateway and its platform cannot express: the checks every
    backend shares (traffic to the gateway itself), then the backend's own `check`."""
    return [*_shared_errors(backend, policy, view), *backend.check(policy, view)]


def lower_gateway(backend: Backend, policy: CompiledPolicy, view: GatewayView) -> Lowered[Any]:
    """Capability checks, then the lowering: every diagnostic of one gateway, in that order,
    and its model when none is an error.  The shared checks concern the policy and leave the
    lowering sound, so it runs after them too (all of a gateway's errors are reported at
    once); the backend's own `check` guards what its `lower` can take, so it runs only when
    that found nothing."""
    shared = _shared_errors(backend, policy, view)
    own = backend.check(policy, view)
    if any(d.is_error for d in own):
        return Lowered(None, (*shared, *own))
    lowered = backend.lower(policy, view)
    diagnostics = (*shared, *own, *lowered.diagnostics)
    if any(d.is_error for d in diagnostics):
        return Lowered(None, diagnostics)
    return Lowered(lowered.model, diagnostics)


def _shared_errors(backend: Backend, policy: CompiledPolicy, view: GatewayView) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if Feature.GATEWAY_PLANE not in backend.supports:
        out.extend(_gateway_plane_errors(backend.name, policy, view.plan.name))
    out.extend(_transit_gateway_errors(policy, view.plan.name))
    return out


def _transit_gateway_errors(policy: CompiledPolicy, gateway: str) -> list[Diagnostic]:
    """E223: traffic from a class this gateway serves to *another* gateway itself.  It would
    cross this gateway first, which forwards flows between classes and externals only, never
    to another gateway's own addresses: the allow could not be honoured, so fail closed.  The
    compiler lists them once for the policy (`transit_to_gateways`)."""
    return [
        Diagnostic(
            Severity.ERROR,
            "E223",
            f"class '{t.src}' is served by gateway '{gateway}', "
            f"which does not forward traffic to gateway '{t.gateway}' itself "
            "(only flows between classes and externals cross a gateway): this "
            f"allow could not be honoured; manage '{t.gateway}' from a class it "
            "serves, or from an external that reaches its uplink (an out-of-band "
            "management network)",
            policy.rules[t.rule].span,
        )
        for t in policy.transit_to_gateways
        if t.served_by == gateway
    ]


def _gateway_plane_errors(platform: str, policy: CompiledPolicy, gateway: str) -> list[Diagnostic]:
    """Fail closed: a statement about traffic to this gateway itself (an allow, a deny or an
    assertion whose destination names it) is an error where the platform cannot filter it."""
    spans = [r.span for r in policy.rules if gateway in r.gateways]
    spans += [a.span for a in policy.policy.assertions if _names_gateway(a.dst, gateway)]
    message = (
        f"platform '{platform}' cannot yet filter traffic to the gateway itself: "
        f"'{gateway}' would not enforce this statement on its own addresses"
    )
    return [Diagnostic(Severity.ERROR, "E401", message, span) for span in spans]


def _names_gateway(sel: Selector, gateway: str) -> bool:
    def hit(terms: tuple[SelTerm, ...]) -> bool:
        return any(
            t.kind == "gateways" or (t.kind == "gateway" and t.value == gateway) for t in terms
        )

    return hit(sel.include) and not hit(sel.exclude)


class Backend(abc.ABC):
    """One target platform.  Subclasses set `name` and `supports` and implement `lower`.

    A backend keeps no state between its steps: each takes the policy (or the model) and
    returns its result, so one backend object may lower any number of gateways in any order.
    """

    name: ClassVar[str]
    supports: ClassVar[frozenset[Feature]]

    def check(self, policy: CompiledPolicy, view: GatewayView) -> list[Diagnostic]:
        """Errors for what the policy needs and this platform cannot express, found before
        any decision is made (`lower` may assume there are none)."""
        return []

    @abc.abstractmethod
    def lower(self, policy: CompiledPolicy, view: GatewayView) -> Lowered[Any]:
        """All decisions, as a frozen target model, with what they found the platform cannot
        express (no model when that is an error)."""

    @abc.abstractmethod
    def render(self, model: Any) -> dict[PurePosixPath, str]:
        """Text of every file for this gateway, from templates only."""

    @abc.abstractmethod
    def rule_count(self, model: Any) -> int:
        """Rules (or ACEs) in the model, for the manifest and the build summary."""

    def output_kind(self, path: PurePosixPath) -> str:
        """The manifest kind of a rendered file: `config`, or a companion's own kind."""
        return "config"

    def output_rule_count(self, model: Any, path: PurePosixPath) -> int:
        """Rules in one rendered file (the manifest's count)."""
        return self.rule_count(model)
