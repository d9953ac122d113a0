"""The IR: frozen dataclasses that cross every boundary of the pipeline.

Two layers live here.  The *policy* layer (`Policy` and its statements) is what the front end
(`zonewall.dsl`) produces from `.zw` text: names are still names and selectors are unresolved.
The *compiled* layer (`CompiledPolicy`) is what the compiler (`zonewall.compiler`) produces:
classes with allocated subnets and VLANs, externals as address sets minus every class,
services as packet sets, effective flows between endpoints, and assertion results.  Backends
consume only the compiled layer.

Spans are excluded from equality and hashing, so two policies that differ only in layout are
equal.  Nothing here is mutated after construction; `IPNetwork` values come from
`normalise_prefixes()` and are never changed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from netaddr import IPNetwork, cidr_merge

from zonewall.diagnostics import Span
from zonewall.packets import PacketSet

__all__ = [
    "AssertKind",
    "AssertStmt",
    "AssertionResult",
    "ClassDef",
    "CompiledPolicy",
    "Criticality",
    "DhcpRelay",
    "DhcpRelayDef",
    "Endpoint",
    "ExternalDef",
    "Flow",
    "GatewayDef",
    "GatewayFlow",
    "GatewayPlan",
    "Hop",
    "Policy",
    "PolicyHeader",
    "RelayFlow",
    "RelayHelper",
    "ResolvedClass",
    "ResolvedExternal",
    "ResolvedRule",
    "ResolvedService",
    "RuleStmt",
    "SelTerm",
    "Selector",
    "ServiceDef",
    "ServiceItem",
    "ServiceRef",
    "SourceFile",
    "TransitToGateway",
    "normalise_prefixes",
]


def _span() -> Span | None:
    return field(default=None, compare=False, hash=False, repr=False)


def normalise_prefixes(prefixes: Iterable[IPNetwork]) -> tuple[IPNetwork, ...]:
    """Canonical CIDRs (host bits cleared), merged exactly, sorted; the only form the IR holds."""
    return tuple(cidr_merge([IPNetwork(p).cidr for p in prefixes]))


class Criticality(enum.IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# ---------------------------------------------------------------------------------------------
# Policy layer (front end output)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class SelTerm:
    """One selector term: ``kind`` is name, tag, criticality, any, internal, external,
    gateway (``gateway:NAME``, the gateway itself) or gateways (every gateway itself)."""

    kind: str
    value: str = ""
    span: Span | None = _span()

    def text(self) -> str:
        if self.kind in ("tag", "criticality", "gateway"):
            return f"{self.kind}:{self.value}"
        return self.value if self.kind == "name" else self.kind


@dataclass(frozen=True, slots=True)
class Selector:
    """``include except exclude``: the members of include minus the members of exclude."""

    include: tuple[SelTerm, ...]
    exclude: tuple[SelTerm, ...] = ()
    span: Span | None = _span()

    def text(self) -> str:
        inc = ", ".join(t.text() for t in self.include)
        if not self.exclude:
            return inc
        return inc + " except " + ", ".join(t.text() for t in self.exclude)


@dataclass(frozen=True, slots=True)
class ServiceItem:
    """A literal packet set item such as ``tcp/443``: its canonical text and its keys."""

    text: str
    packets: PacketSet
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A reference to a named service (inside a service definition, a rule or an assertion)."""

    name: str
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class PolicyHeader:
    title: str
    owner: str | None = None
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ServiceDef:
    name: str
    items: tuple[ServiceItem | ServiceRef, ...]
    plaintext: bool = False
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    description: str | None = None
    vlan: int | None = None
    subnets: tuple[IPNetwork, ...] = ()
    hosts: int | None = None
    criticality: Criticality = Criticality.MEDIUM
    tags: tuple[str, ...] = ()
    span: Span | None = _span()
    # Where each attribute was written, for diagnostics: (attribute, span) pairs.
    attr_spans: tuple[tuple[str, Span], ...] = field(
        default=(), compare=False, hash=False, repr=False
    )

    def attr_span(self, attr: str) -> Span | None:
        return next((s for a, s in self.attr_spans if a == attr), self.span)


@dataclass(frozen=True, slots=True)
class ExternalDef:
    name: str
    addresses: tuple[IPNetwork, ...]
    excepts: tuple[IPNetwork, ...] = ()
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class RuleStmt:
    """An ``allow`` or ``deny``; ``services`` is None when the statement names none (all)."""

    action: str
    src: Selector
    dst: Selector
    services: tuple[ServiceRef | ServiceItem, ...] | None = None
    why: str | None = None
    log: bool = False
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class RelayHelper:
    """One item after `to` in `dhcp-relay`: a class (the DHCP server's address in it is
    derived, as without a declaration) or an address written out (`address`)."""

    name: str | None = None
    address: IPNetwork | None = None
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class DhcpRelayDef:
    """`dhcp-relay [to HELPER, ...] from ADDRESS` in a gateway (a zonewall extension): where
    the gateway relays its classes' DHCP (no helpers: the servers derived from the policy) and
    the relay's own source address, the one the server answers."""

    helpers: tuple[RelayHelper, ...]
    source: IPNetwork
    span: Span | None = _span()
    source_span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class GatewayDef:
    name: str
    platform: str | None = None
    serves: Selector | None = None
    interface: str | None = None
    uplink: str | None = None
    span: Span | None = _span()
    attr_spans: tuple[tuple[str, Span], ...] = field(
        default=(), compare=False, hash=False, repr=False
    )
    object_groups: bool = False  # `object-groups`: IOS object-group ACLs (zonewall extension)
    # `stateless-replies accepted "reason"`: W113 acknowledged, with its reason (an extension)
    stateless_accepted: str | None = None
    dhcp_relay: DhcpRelayDef | None = None  # `dhcp-relay ...` (zonewall extension)

    def attr_span(self, attr: str) -> Span | None:
        return next((s for a, s in self.attr_spans if a == attr), self.span)


class AssertKind(enum.Enum):
    UNREACHABLE = "unreachable"
    DENIED = "denied"
    ALLOWED = "allowed"
    ONLY = "only"
    LIMITED = "limited"
    ENCRYPTED = "encrypted"


@dataclass(frozen=True, slots=True)
class AssertStmt:
    """An assertion; ``src`` is None only for ``encrypted -> B`` (meaning any source)."""

    kind: AssertKind
    src: Selector | None
    dst: Selector
    services: tuple[ServiceRef | ServiceItem, ...] | None = None
    without: Selector | None = None
    accepted: str | None = None
    text: str = ""
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Policy:
    """A whole parsed policy, includes merged in, statements in source order."""

    header: PolicyHeader | None = None
    subnet_pools: tuple[tuple[IPNetwork, Span | None], ...] = field(default=(), compare=False)
    vlan_pools: tuple[tuple[int, int, Span | None], ...] = field(default=(), compare=False)
    services: tuple[ServiceDef, ...] = ()
    classes: tuple[ClassDef, ...] = ()
    externals: tuple[ExternalDef, ...] = ()
    rules: tuple[RuleStmt, ...] = ()
    gateways: tuple[GatewayDef, ...] = ()
    assertions: tuple[AssertStmt, ...] = ()
    files: tuple[SourceFile, ...] = field(default=(), compare=False)

    def pools_key(self) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
        return (
            tuple(str(p) for p, _ in self.subnet_pools),
            tuple((lo, hi) for lo, hi, _ in self.vlan_pools),
        )


# ---------------------------------------------------------------------------------------------
# Compiled layer (compiler output, backend input)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolvedService:
    name: str
    packets: PacketSet
    plaintext: PacketSet  # the part of `packets` that is marked plaintext
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ResolvedClass:
    name: str
    prefixes: tuple[IPNetwork, ...]
    vlan: int
    criticality: Criticality
    tags: tuple[str, ...]
    description: str | None
    gateway: str
    interface: str
    allocated_subnet: bool = False
    allocated_vlan: bool = False
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ResolvedExternal:
    """An external: its written addresses minus its excepts minus every class subnet."""

    name: str
    prefixes: tuple[IPNetwork, ...]
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A unit of address space that flows are computed on.

    Each class is one endpoint.  External address space is cut into disjoint atoms, each the
    addresses shared by exactly the externals in ``externals``: with ``internet`` = 0.0.0.0/0
    and ``pump_vendor`` inside it there are two atoms, {internet, pump_vendor} and {internet}.
    """

    id: int
    kind: str  # "class" or "external"
    name: str  # the class name, or the most specific external containing the atom
    prefixes: tuple[IPNetwork, ...]
    externals: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    index: int  # position among all rules of the policy, in source order
    action: str
    src: tuple[str, ...]  # member names (classes and externals)
    dst: tuple[str, ...]
    services: tuple[str, ...]  # names as written; ("ip",) when the rule names none
    packets: PacketSet
    plaintext: PacketSet
    why: str | None
    log: bool
    span: Span | None = _span()
    # Gateways the statement's destination names as `gateway:NAME` (traffic to the gateway
    # itself), sorted; `dst` holds only classes and externals.
    gateways: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    """Effective flow from one endpoint to another: what the source may initiate."""

    src: int
    dst: int
    packets: PacketSet
    plaintext: PacketSet
    rules: tuple[int, ...]  # indices of the allows that open some of `packets`


@dataclass(frozen=True, slots=True)
class GatewayFlow:
    """Effective flow from one endpoint to a gateway itself (its own addresses): what the
    source may initiate to the box, e.g. SSH to the firewall.  Computed like `Flow`."""

    src: int
    gateway: str
    packets: PacketSet
    plaintext: PacketSet
    rules: tuple[int, ...]  # indices of the allows that open some of `packets`


@dataclass(frozen=True, slots=True)
class TransitToGateway:
    """An allow to a gateway itself from a class that *another* gateway serves: the serving
    gateway would have to forward it, and it forwards flows between classes and externals
    only, so the allow cannot be honoured (E223, reported by build for the serving gateway)."""

    served_by: str  # the gateway serving the class
    src: str  # the class
    gateway: str  # the gateway the allow reaches
    rule: int  # the allow's index


@dataclass(frozen=True, slots=True)
class DhcpRelay:
    """A gateway's declared DHCP relay, resolved: its source address (in no class and no
    external) and its helpers, each a DHCP server address with the endpoint (a class) it is
    in, in the order written."""

    source: IPNetwork
    helpers: tuple[tuple[str, int], ...]
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class RelayFlow:
    """DHCP relayed by `gateway` from its `source` address to a server in endpoint `dst`, a
    class served by another gateway: that gateway, on the path, permits it (the server's
    answer, from udp/67 back to the relay, is its reply)."""

    gateway: str
    source: IPNetwork
    dst: int
    packets: PacketSet
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    name: str
    platform: str
    classes: tuple[str, ...]
    uplink: str | None
    span: Span | None = _span()
    object_groups: bool = False  # cisco-ios: IOS object-group ACLs (zonewall extension)
    stateless_accepted: str | None = None  # a stateless platform: W113 acknowledged, why
    relay: DhcpRelay | None = None  # `dhcp-relay` declared in the gateway


@dataclass(frozen=True, slots=True)
class Hop:
    """One flow of a counterexample, with the statement that opened it."""

    src: str
    dst: str
    services: tuple[str, ...]
    rule: int | None
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class AssertionResult:
    text: str
    kind: AssertKind
    status: str  # pass | fail | accepted
    counterexample: tuple[Hop, ...] | None
    message: str = ""
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: Policy
    classes: tuple[ResolvedClass, ...]
    externals: tuple[ResolvedExternal, ...]
    services: tuple[ResolvedService, ...]
    rules: tuple[ResolvedRule, ...]
    endpoints: tuple[Endpoint, ...]
    flows: tuple[Flow, ...]  # sorted by (src, dst)
    gateways: tuple[GatewayPlan, ...]
    assertions: tuple[AssertionResult, ...]
    # Traffic to the gateways themselves, sorted by (gateway, src); empty unless the policy
    # allows some with `gateway:NAME`.
    gateway_flows: tuple[GatewayFlow, ...] = ()
    # DHCP relayed across another gateway (`dhcp-relay`), sorted by (gateway, dst)
    relay_flows: tuple[RelayFlow, ...] = ()
    # Allows to a gateway from a class another gateway serves (E223), in the order of
    # `gateway_flows` and of each flow's rules; one per (rule, class).
    transit_to_gateways: tuple[TransitToGateway, ...] = ()
