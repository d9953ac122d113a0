"""Zones and conduits: the compiled policy's effective flows, grouped for people to read.

A *zone* is a class, or an external address atom (a part of external address space shared by
exactly the same externals).  An atom is named by the most specific external that contains it,
so with ``internet`` = 0.0.0.0/0 and ``pump_vendor`` inside it, the zone ``internet`` is the
internet *minus* the vendor's addresses and the zone ``pump_vendor`` is the vendor.  Every zone
is a disjoint address set, so a cell of the matrix is exact: it never claims a service toward
addresses that only part of the zone can reach.

A *conduit* is the effective flow from one zone to another (IEC 62443-3-2: the set of flows
between two zones): its packets, its services, and the allow statements that open it, each
with its file:line and its ``why`` text.

Services are named by the policy's own service names where they fit exactly: a named service is
used only when every packet it matches is permitted, names written in the opening statements
come first, and whatever no name covers is shown as protocol/port ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netaddr import IPSet

from zonewall.ir import CompiledPolicy, Endpoint, ResolvedRule, ResolvedService
from zonewall.packets import PacketSet

__all__ = [
    "Conduit",
    "Conduits",
    "Statement",
    "Zone",
    "build_conduits",
    "name_services",
    "packet_count",
    "zone_labels",
]


@dataclass(frozen=True, slots=True)
class Zone:
    """A class or an external address atom; ``key`` is its unique label."""

    key: str
    kind: str  # "class" or "external"
    criticality: str | None  # a class's criticality label; None for externals
    externals: tuple[str, ...]  # for an atom: every external containing it
    prefixes: tuple[str, ...]
    vlan: int | None = None
    gateway: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """An allow statement that opens (part of) a conduit."""

    action: str
    file: str | None
    line: int | None
    why: str | None
    services: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "(no location)"


@dataclass(frozen=True, slots=True)
class Conduit:
    src: str
    dst: str
    packets: PacketSet
    services: tuple[str, ...]  # service names where exact, then protocol/port ranges
    plaintext: bool  # some of its packets are opened by a plaintext service
    statements: tuple[Statement, ...]  # the allows that open it, in source order

    @property
    def label(self) -> str:
        return ", ".join(self.services)


@dataclass(frozen=True, slots=True)
class Conduits:
    title: str | None
    zones: tuple[Zone, ...]  # classes by name, then external atoms by label
    conduits: tuple[Conduit, ...]  # by (source, destination) in zone order

    def zone(self, key: str) -> Zone:
        return next(z for z in self.zones if z.key == key)

    def between(self, src: str, dst: str) -> Conduit | None:
        return next((c for c in self.conduits if c.src == src and c.dst == dst), None)

    def zones_of(self, name: str) -> tuple[str, ...]:
        """The zones a class or external name stands for (an external: each atom it contains)."""
        return tuple(
            z.key
            for z in self.zones
            if z.key == name or (z.kind == "external" and name in z.externals)
        )


def packet_count(packets: PacketSet) -> int:
    return sum(hi - lo + 1 for lo, hi in packets.intervals)


def name_services(
    packets: PacketSet, services: Sequence[ResolvedService], preferred: Iterable[str] = ()
) -> tuple[str, ...]:
    """Labels for a packet set: named services that fit inside it, then ranges for the rest.

    Args:
        packets: the permitted packets.
        services: every named service of the policy.
        preferred: names to try first (those written in the statements that opened the flow).

    Returns:
        The labels, e.g. ``("https", "ssh")`` or ``("https", "tcp/8443")`` or ``("ip",)``.
        Names are used only when they give no more labels than the plain ranges would.
    """
    by_name = {s.name: s for s in services}
    order: list[ResolvedService] = []
    for name in preferred:
        svc = by_name.get(name)
        if svc is not None and svc not in order:
            order.append(svc)
    order += sorted(
        (s for s in services if s not in order), key=lambda s: (-packet_count(s.packets), s.name)
    )
    chosen: list[ResolvedService] = []
    covered = PacketSet()
    for svc in order:
        if svc.packets and svc.packets.issubset(packets) and not svc.packets.issubset(covered):
            chosen.append(svc)
            covered = covered | svc.packets
    # A name chosen early may be covered by names chosen after it: drop it (last first).
    for svc in reversed(list(chosen)):
        others = PacketSet.union_all(o.packets for o in chosen if o is not svc)
        if svc.packets.issubset(others):
            chosen.remove(svc)
    rest = packets - covered
    named = tuple(s.name for s in chosen) + (tuple(rest.describe().split(", ")) if rest else ())
    plain = tuple(packets.describe().split(", ")) if packets else ()
    # Names must make the cell shorter, never longer: `ip` stays `ip`, `tcp` stays `tcp`.
    return named if len(named) <= len(plain) else plain


def zone_labels(endpoints: Sequence[Endpoint]) -> dict[int, str]:
    """Each endpoint's label: its name, disambiguated when two atoms share a name."""
    counts: dict[str, int] = {}
    for ep in endpoints:
        counts[ep.name] = counts.get(ep.name, 0) + 1
    labels = {}
    for ep in endpoints:
        if counts[ep.name] == 1 or ep.kind == "class":
            labels[ep.id] = ep.name
        else:
            others = [x for x in ep.externals if x != ep.name]
            labels[ep.id] = "&".join([ep.name, *others])
    return labels


def _statement(rule: ResolvedRule) -> Statement:
    span = rule.span
    return Statement(
        rule.action,
        span.file if span else None,
        span.line if span else None,
        rule.why,
        rule.services,
    )


def _external_zone(compiled: CompiledPolicy, ep: Endpoint, label: str) -> Zone:
    """An atom: the naming external's written addresses, and what is carved out of them."""
    written = next(e for e in compiled.policy.externals if e.name == ep.name)
    prefixes = tuple(str(p) for p in written.addresses)
    prefixes += tuple(f"except {p}" for p in written.excepts)
    resolved = {e.name: IPSet(e.prefixes) for e in compiled.externals}
    carved = sorted(
        name
        for name, addrs in resolved.items()
        if name not in ep.externals and addrs & resolved[ep.name]
    )
    note = "minus every class's subnets"
    if carved:
        note += ", minus the addresses of " + ", ".join(carved)
    return Zone(label, "external", None, ep.externals, prefixes, description=note)


def build_conduits(compiled: CompiledPolicy) -> Conduits:
    """The zones and conduits of a compiled policy, in a deterministic order."""
    labels = zone_labels(compiled.endpoints)
    classes = {c.name: c for c in compiled.classes}
    zones: list[Zone] = []
    for ep in compiled.endpoints:
        prefixes = tuple(str(p) for p in ep.prefixes)
        cls = classes.get(ep.name) if ep.kind == "class" else None
        if cls is not None:
            zones.append(
                Zone(
                    labels[ep.id],
                    "class",
                    cls.criticality.label,
                    (),
                    prefixes,
                    cls.vlan,
                    cls.gateway,
                    cls.description,
                )
            )
        else:
            zones.append(_external_zone(compiled, ep, labels[ep.id]))
    zones.sort(key=lambda z: (z.kind != "class", z.key))
    order = {z.key: i for i, z in enumerate(zones)}
    rules = {r.index: r for r in compiled.rules}
    conduits = []
    for flow in compiled.flows:
        opening = [rules[i] for i in sorted(flow.rules)]
        preferred = [name for r in opening for name in r.services]
        conduits.append(
            Conduit(
                labels[flow.src],
                labels[flow.dst],
                flow.packets,
                name_services(flow.packets, compiled.services, preferred),
                bool(flow.plaintext),
                tuple(_statement(r) for r in opening),
            )
        )
    conduits.sort(key=lambda c: (order[c.src], order[c.dst]))
    title = compiled.policy.header.title if compiled.policy.header else None
    return Conduits(title, tuple(zones), tuple(conduits))
