"""`zonewall explain`: is a flow permitted, which statements decide it, which gateways enforce it.

The question is asked of the compiled policy: for every member pair of SRC x DST (a class, or
one atom of an external's address space), the allows that cover the pair and open part of the
asked packets, and the denies that remove some of what those allows open.  The answer is
cross-checked against the compiler's effective flows; a disagreement is a zonewall bug.

Where a flow is enforced follows the gateway model (docs/language.md, section 8.1): a gateway
filters on ingress, so a flow from a class is decided at the source class's gateway on that
class's interface; between classes on two gateways the destination's gateway passes it on its
uplink (already filtered) and filters the replies; a flow from an external is decided at the
destination class's gateway on its uplink.  A destination ``gateway:NAME`` (the gateway
itself) is decided by that gateway, as traffic to its own addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from netaddr import AddrFormatError, IPAddress

from zonewall.compiler.resolve import GATEWAY_PREFIX, suggest
from zonewall.compiler.special import blocks_containing
from zonewall.diagnostics import DiagnosticError, Span
from zonewall.dsl.parser import parse_text
from zonewall.ir import (
    CompiledPolicy,
    Criticality,
    Endpoint,
    Flow,
    GatewayFlow,
    ResolvedRule,
    ServiceItem,
)
from zonewall.packets import PacketSet
from zonewall.review.describe import service_names, statement_text

__all__ = [
    "Decider",
    "Enforcement",
    "ExplainError",
    "Explanation",
    "PairVerdict",
    "explain",
    "pair_judge",
]

VERDICTS = ("permitted", "denied", "partial", "not-filtered")
_PORT_SPEC = re.compile(r"[a-z][a-z0-9/-]*\Z")


class ExplainError(Exception):
    """A usage error: an unknown name, a bad address or port (one line, did-you-mean)."""


@dataclass(frozen=True, slots=True)
class Decider:
    """A statement that decides part of the answer, and the packets it opens or removes."""

    action: str  # allow | deny
    span: Span | None
    text: str
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Enforcement:
    gateway: str
    platform: str
    where: str


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    kind: str  # class | external | gateway (the gateway itself, `gateway:NAME`)
    addresses: tuple[str, ...]
    externals: tuple[str, ...]  # for an external atom: every external it belongs to


@dataclass(frozen=True, slots=True)
class PairVerdict:
    src: Member
    dst: Member
    verdict: str  # one of VERDICTS
    permitted: tuple[str, ...]
    not_permitted: tuple[str, ...]  # the part of the question that is not permitted
    allows: tuple[Decider, ...]  # allows that open part of the question
    denies: tuple[Decider, ...]  # denies that remove part of what the allows open
    also_denied: tuple[Decider, ...]  # denies that cover the question where no allow opens it
    gateways: tuple[Enforcement, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Explanation:
    src: str
    dst: str
    service: str | None
    port: str | None
    packets: PacketSet | None  # None: any traffic
    resolved: tuple[str, ...]  # how --src-ip / --dst-ip were resolved
    verdict: str
    pairs: tuple[PairVerdict, ...]

    @property
    def question(self) -> str:
        what = self.service or self.port
        return f"{self.src} -> {self.dst}" + (f" : {what}" if what else "")


def explain(
    c: CompiledPolicy,
    sources: Mapping[str, str],
    src: str | None,
    dst: str | None,
    service: str | None = None,
    port: str | None = None,
    src_ip: str | None = None,
    dst_ip: str | None = None,
) -> Explanation:
    """Explain SRC -> DST (names, or addresses with src_ip / dst_ip) for a service or port.

    Raises:
        ExplainError: an unknown name, an address or port that cannot be read.
    """
    packets = _question(c, service, port)
    notes: list[str] = []
    if src is not None and (src == "gateways" or src.startswith(GATEWAY_PREFIX)):
        raise ExplainError(
            f"'{src}' can only be a destination: traffic to a gateway itself is "
            "modelled, traffic the gateway initiates is not"
        )
    srcs = _side(c, src, src_ip, notes)
    dsts = _side(c, dst, dst_ip, notes)
    ctx = _Context(c, sources)
    pairs = tuple(ctx.pair(s, d, packets) for s in srcs for d in dsts)
    return Explanation(
        src if src is not None else str(src_ip),
        dst if dst is not None else str(dst_ip),
        service,
        port,
        packets,
        tuple(notes),
        _overall(pairs),
        pairs,
    )


def pair_judge(
    c: CompiledPolicy, sources: Mapping[str, str]
) -> Callable[[Endpoint, Endpoint, PacketSet | None], PairVerdict]:
    """How one member pair is decided for a packet set, as `explain` answers it: the allows
    that open part of it, the denies that remove part of what they open, the denies that
    cover it where no allow opens it.  Build it once and ask many pairs (`zonewall replay`)."""
    return _Context(c, sources).pair


def _overall(pairs: tuple[PairVerdict, ...]) -> str:
    decided = {p.verdict for p in pairs if p.verdict != "not-filtered"}
    if not pairs:
        return "denied"  # an address in no class and no external
    if not decided:
        return "not-filtered"
    if decided == {"permitted"}:
        return "permitted"
    if decided == {"denied"}:
        return "denied"
    return "partial"


# ---------------------------------------------------------------------------------------------
# reading the question
# ---------------------------------------------------------------------------------------------


def _question(c: CompiledPolicy, service: str | None, port: str | None) -> PacketSet | None:
    if service is not None:
        found = next((s for s in c.services if s.name == service), None)
        if found is None:
            raise ExplainError(
                f"unknown service '{service}'{suggest(service, (s.name for s in c.services))}"
            )
        return found.packets
    if port is None:
        return None
    if not _PORT_SPEC.match(port):
        raise ExplainError(
            f"'{port}' is not a packet set such as tcp/443, udp/53, "
            "tcp/8080-8090 or icmp/echo-request"
        )
    try:
        parsed = parse_text(f"service port_question = {port}\n", "--port")
    except DiagnosticError as err:
        raise ExplainError(
            f"'{port}' is not a packet set such as tcp/443: {err.diagnostics[0].message}"
        ) from None
    errors = [d for d in parsed.diagnostics if d.is_error]
    if errors:
        raise ExplainError(f"--port {port}: {errors[0].message}")
    items = parsed.policy.services[0].items
    if not all(isinstance(i, ServiceItem) for i in items):
        raise ExplainError(
            f"'{port}' is not a port such as tcp/443; to ask about a service "
            f"by name, use --service {port}"
        )
    return PacketSet.union_all(i.packets for i in items if isinstance(i, ServiceItem))


def _member(ep: Endpoint) -> Member:
    return Member(ep.name, ep.kind, tuple(str(p) for p in ep.prefixes), ep.externals)


def _side(c: CompiledPolicy, name: str | None, ip: str | None, notes: list[str]) -> list[Endpoint]:
    if ip is not None:
        return _by_address(c, ip, notes)
    assert name is not None
    if name == "gateways" or name.startswith(GATEWAY_PREFIX):
        return _gateway_side(c, name)
    classes = {e.name: e for e in c.endpoints if e.kind == "class"}
    atoms = [e for e in c.endpoints if e.kind == "external"]
    by_class = {k.name: k for k in c.classes}
    if name.startswith("tag:"):
        tag = name[4:]
        tags = {t for k in c.classes for t in k.tags}
        if tag not in tags:
            raise ExplainError(f"no class has tag '{tag}'{suggest(tag, tags)}")
        return [classes[n] for n in sorted(classes) if tag in by_class[n].tags]
    if name.startswith("criticality:"):
        level = name.partition(":")[2]
        if level.upper() not in Criticality.__members__:
            raise ExplainError(f"unknown criticality '{level}' (use low, medium, high or critical)")
        found = [
            classes[n]
            for n in sorted(classes)
            if by_class[n].criticality is Criticality[level.upper()]
        ]
        if not found:
            raise ExplainError(f"no class has criticality '{level}'")
        return found
    if name in ("any", "internal", "external"):
        return ([classes[n] for n in sorted(classes)] if name != "external" else []) + (
            atoms if name != "internal" else []
        )
    if name in classes:
        return [classes[name]]
    members = [a for a in atoms if name in a.externals]
    if members:
        return members
    other = next(
        (
            k
            for k, names in (
                ("service", [s.name for s in c.services]),
                ("gateway", [g.name for g in c.gateways]),
            )
            if name in names
        ),
        None,
    )
    if other == "gateway":
        raise ExplainError(
            f"'{name}' is a gateway, not a class or external; for the gateway "
            f"itself, write '{GATEWAY_PREFIX}{name}'"
        )
    if other is not None:
        raise ExplainError(f"'{name}' is a {other}, not a class or external")
    candidates = list(classes) + [e.name for e in c.externals]
    raise ExplainError(f"unknown class or external '{name}'{suggest(name, candidates)}")


def gateway_endpoints(c: CompiledPolicy) -> dict[str, Endpoint]:
    """The gateways themselves as endpoints after the policy's (`gateway:NAME`, no address)."""
    first = len(c.endpoints)
    return {
        g.name: Endpoint(first + i, "gateway", GATEWAY_PREFIX + g.name, ())
        for i, g in enumerate(c.gateways)
    }


def _gateway_side(c: CompiledPolicy, name: str) -> list[Endpoint]:
    eps = gateway_endpoints(c)
    if name == "gateways":
        return [eps[g] for g in sorted(eps)]
    gateway = name[len(GATEWAY_PREFIX) :]
    if gateway not in eps:
        raise ExplainError(f"unknown gateway '{gateway}'{suggest(gateway, eps)}")
    return [eps[gateway]]


def _by_address(c: CompiledPolicy, ip: str, notes: list[str]) -> list[Endpoint]:
    try:
        addr = IPAddress(ip, 4)
    except (AddrFormatError, ValueError, TypeError):
        raise ExplainError(f"'{ip}' is not an IPv4 address") from None
    for ep in c.endpoints:
        if any(addr in p for p in ep.prefixes):
            if ep.kind == "class":
                notes.append(f"{ip} is in class '{ep.name}'")
                return [ep]
            also = [x for x in ep.externals if x != ep.name]
            notes.append(
                f"{ip} is in external '{ep.name}'"
                + (f" (also in {', '.join(also)})" if also else "")
            )
            notes += _special_space(c, addr, ip)
            return [ep]
    notes.append(
        f"{ip} belongs to no class and no external: no statement can permit traffic "
        "from or to it, and gateways drop it"
    )
    notes += _special_space(c, addr, ip)
    return []


def _special_space(c: CompiledPolicy, addr: IPAddress, ip: str) -> list[str]:
    """An address outside every class in private or special space (W114's ranges) is
    unallocated internal or special space, whatever external it falls in."""
    blocks = blocks_containing(c.policy, addr)
    if not blocks:
        return []
    where = "; ".join(f"{b.prefix} is {b.what}" for b in blocks)
    return [f"{ip} is unallocated internal or special space, in no class ({where})"]


# ---------------------------------------------------------------------------------------------
# one member pair
# ---------------------------------------------------------------------------------------------


class _Context:
    def __init__(self, c: CompiledPolicy, sources: Mapping[str, str]) -> None:
        self.c = c
        self.sources = sources
        self.flows: dict[tuple[int, int], Flow | GatewayFlow] = {(f.src, f.dst): f for f in c.flows}
        gateway_eps = gateway_endpoints(c)
        self.flows.update(((f.src, gateway_eps[f.gateway].id), f) for f in c.gateway_flows)
        self.classes = {k.name: k for k in c.classes}
        self.plans = {g.name: g for g in c.gateways}
        members: dict[str, set[int]] = {}
        for ep in c.endpoints:
            for n in ep.externals if ep.kind == "external" else (ep.name,):
                members.setdefault(n, set()).add(ep.id)
        self.covers: dict[int, tuple[set[int], set[int]]] = {
            r.index: (
                {e for n in r.src for e in members.get(n, ())},
                {e for n in r.dst for e in members.get(n, ())}
                | {gateway_eps[g].id for g in r.gateways},
            )
            for r in c.rules
        }

    def _decider(self, r: ResolvedRule, packets: PacketSet) -> Decider:
        return Decider(
            r.action,
            r.span,
            statement_text(r.span, self.sources),
            service_names(packets, self.c.services),
        )

    def pair(self, s: Endpoint, d: Endpoint, question: PacketSet | None) -> PairVerdict:
        src, dst = _member(s), _member(d)
        if s.kind == "external" and d.kind == "external":
            return PairVerdict(
                src,
                dst,
                "not-filtered",
                (),
                (),
                (),
                (),
                (),
                (),
                "traffic between two externals never crosses a zonewall gateway",
            )
        if s.id == d.id:
            return PairVerdict(
                src,
                dst,
                "permitted",
                (),
                (),
                (),
                (),
                (),
                (),
                "same class: traffic inside a class stays on its VLAN and is not filtered",
            )
        asked = question if question is not None else PacketSet.everything()
        covering = [
            r
            for r in self.c.rules
            if s.id in self.covers[r.index][0] and d.id in self.covers[r.index][1]
        ]
        allows = [r for r in covering if r.action == "allow" and r.packets & asked]
        opened = PacketSet.union_all(r.packets for r in allows) & asked
        denies = [r for r in covering if r.action == "deny" and r.packets & opened]
        also = [
            r
            for r in covering
            if r.action == "deny" and not r.packets & opened and r.packets & asked
        ]
        permitted = opened - PacketSet.union_all(r.packets for r in denies)
        flow = self.flows.get((s.id, d.id))
        if (flow.packets & asked if flow else PacketSet()) != permitted:
            raise AssertionError(
                f"explain disagrees with the effective flow {s.name} -> {d.name}"
            )  # a zonewall bug, never a policy problem
        if question is None:
            verdict = "permitted" if permitted else "denied"
            missing: tuple[str, ...] = ()
        else:
            verdict = "permitted" if permitted == asked else "partial" if permitted else "denied"
            missing = service_names(asked - permitted, self.c.services)
        return PairVerdict(
            src,
            dst,
            verdict,
            service_names(permitted, self.c.services),
            missing,
            tuple(self._decider(r, r.packets & asked) for r in allows),
            tuple(self._decider(r, r.packets & opened) for r in denies),
            tuple(self._decider(r, r.packets & asked) for r in also),
            self._gateways(s, d, bool(permitted)),
        )

    def _gateways(self, s: Endpoint, d: Endpoint, permitted: bool) -> tuple[Enforcement, ...]:
        verb = "permits" if permitted else "drops"
        if d.kind == "gateway":
            plan = self.plans[d.name[len(GATEWAY_PREFIX) :]]
            return (
                Enforcement(
                    plan.name,
                    plan.platform,
                    f"{verb} it as traffic to the gateway itself (its own "
                    "addresses), on the interface it arrives on",
                ),
            )
        out: list[Enforcement] = []
        if s.kind == "class":
            k = self.classes[s.name]
            plan = self.plans[k.gateway]
            where = f"{verb} it on ingress at {k.interface} ({k.name}'s interface)"
            if d.kind == "external" or self.classes[d.name].gateway != k.gateway:
                where += f", then sends it out of uplink {plan.uplink}" if permitted else ""
            out.append(Enforcement(plan.name, plan.platform, where))
        if d.kind == "class":
            k = self.classes[d.name]
            plan = self.plans[k.gateway]
            if s.kind == "external":
                out.append(
                    Enforcement(
                        plan.name,
                        plan.platform,
                        f"{verb} it on ingress at uplink {plan.uplink}; filters "
                        f"the replies at {k.interface}",
                    )
                )
            elif permitted and self.classes[s.name].gateway != k.gateway:
                out.append(
                    Enforcement(
                        plan.name,
                        plan.platform,
                        f"passes it on uplink {plan.uplink} (filtered at "
                        f"{self.classes[s.name].gateway}); filters the replies "
                        f"at {k.interface}",
                    )
                )
        return tuple(out)
