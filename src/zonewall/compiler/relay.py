"""DHCP relays: where each gateway relays its classes' DHCP, and what that needs on the path.

A gateway relays the DHCP broadcasts of a served class that may reach a DHCP server (udp/67) in
a class (`ip helper-address` on IOS, a relay daemon on Linux).  The relay sends each request
unicast, udp 67 -> 67, from an address of its own, and the server answers that address.  When
the server's class is served by *another* gateway, that gateway sees both packets, and neither
address is the client's: it drops them unless the policy says where the relay's packets come
from.  `dhcp-relay [to HELPER, ...] from ADDRESS` in the relaying gateway says so.

This pass (after the flows are known) checks each declaration and turns it into
`GatewayPlan.relay` (the helper addresses, for the relaying gateway's own config) and
`RelayFlow`s (relay source -> server class, udp/67: what each gateway on the path permits; the
server's answer is that flow's reply).  A gateway that relays across another gateway without a
declaration is an error (E222): the relayed packets would be dropped, silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from netaddr import IPAddress, IPNetwork

from zonewall.compiler.resolve import Names, suggest
from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.ir import (
    DhcpRelay,
    DhcpRelayDef,
    Endpoint,
    Flow,
    GatewayPlan,
    RelayFlow,
    RelayHelper,
    ResolvedClass,
)
from zonewall.packets import UDP, PacketSet, key

__all__ = ["DHCP", "dhcp_server_address", "resolve_relays"]

DHCP = PacketSet.ports(UDP, 67, 67)
_DHCP_KEY = key(UDP, 67)


def dhcp_server_address(net: IPNetwork) -> IPAddress:
    """Where a relay sends DHCP for a server class, unless the policy writes the address: the
    first address after the class's gateway (the VLAN plan's rule, `vlan_plan.server_address`)."""
    return net[-1] if net.prefixlen >= 31 else net[2]


@dataclasses.dataclass(frozen=True, slots=True)
class _Context:
    names: Names
    classes: Mapping[str, ResolvedClass]
    endpoints: tuple[Endpoint, ...]
    class_ep: Mapping[str, int]  # class name -> endpoint id
    flows: Mapping[tuple[int, int], Flow]
    sink: DiagnosticSink
    # class endpoint -> the other class endpoints it may reach on udp/67, in class order
    # (from the flows once: asking every pair of classes per gateway was quadratic)
    dhcp_to: Mapping[int, tuple[int, ...]] = dataclasses.field(default_factory=dict)


def resolve_relays(
    names: Names,
    classes: tuple[ResolvedClass, ...],
    endpoints: tuple[Endpoint, ...],
    flows: Mapping[tuple[int, int], Flow],
    plans: tuple[GatewayPlan, ...],
    sink: DiagnosticSink,
) -> tuple[tuple[GatewayPlan, ...], tuple[RelayFlow, ...]]:
    """The plans with their declared relays resolved, and the relayed flows, sorted."""
    class_ep = {e.name: e.id for e in endpoints if e.kind == "class"}
    ctx = _Context(
        names,
        {c.name: c for c in classes},
        endpoints,
        class_ep,
        flows,
        sink,
        _dhcp_to(class_ep, flows),
    )
    out_plans: list[GatewayPlan] = []
    relay_flows: list[RelayFlow] = []
    for plan in plans:
        decl = names.gateways[plan.name].dhcp_relay
        servers = _servers_reached(ctx, plan)
        if decl is None:
            _undeclared(ctx, plan, servers)
            out_plans.append(plan)
            continue
        relay = _declared(ctx, plan, decl, servers)
        if relay is None:
            out_plans.append(plan)
            continue
        out_plans.append(dataclasses.replace(plan, relay=relay))
        for eid in dict.fromkeys(eid for _, eid in relay.helpers):
            if ctx.classes[ctx.endpoints[eid].name].gateway != plan.name:
                relay_flows.append(RelayFlow(plan.name, relay.source, eid, DHCP, decl.span))
    return tuple(out_plans), tuple(sorted(relay_flows, key=lambda f: (f.gateway, f.dst)))


def _dhcp_to(
    class_ep: Mapping[str, int], flows: Mapping[tuple[int, int], Flow]
) -> dict[int, tuple[int, ...]]:
    """Class endpoint -> the other class endpoints its flows reach on udp/67, in the order
    of `class_ep`."""
    order = {eid: i for i, eid in enumerate(class_ep.values())}
    found: dict[int, list[int]] = {}
    for (src, dst), flow in flows.items():
        if src != dst and src in order and dst in order and _DHCP_KEY in flow.packets:
            found.setdefault(src, []).append(dst)
    return {src: tuple(sorted(dsts, key=order.__getitem__)) for src, dsts in found.items()}


def _servers_reached(ctx: _Context, plan: GatewayPlan) -> dict[int, list[str]]:
    """Server class endpoint -> the served classes that may reach it on udp/67 (relayed)."""
    out: dict[int, list[str]] = {}
    for name in plan.classes:
        src = ctx.class_ep.get(name)
        for eid in ctx.dhcp_to.get(src, ()) if src is not None else ():
            out.setdefault(eid, []).append(name)
    return out


def _undeclared(ctx: _Context, plan: GatewayPlan, servers: dict[int, list[str]]) -> None:
    """E222 where the relay's packets cross another gateway that cannot know their source."""
    across = [
        (ctx.classes[ctx.endpoints[eid].name], clients)
        for eid, clients in servers.items()
        if ctx.classes[ctx.endpoints[eid].name].gateway != plan.name
    ]
    across.sort(key=lambda pair: pair[0].name)
    if not across:
        return
    server, clients = across[0]
    more = f" (and {len(across) - 1} more server classes)" if len(across) > 1 else ""
    notes: tuple[tuple[str, Span | None], ...] = tuple(
        (f"'{s.name}' is served by '{s.gateway}' here", s.span) for s, _ in across
    )
    ctx.sink.error(
        "E222",
        f"gateway '{plan.name}' relays the DHCP of '{clients[0]}' to a server in "
        f"'{server.name}'{more}, across gateway '{server.gateway}', which drops the relayed "
        "packets unless the policy says where they come from; declare the relay in "
        f"'{plan.name}': 'dhcp-relay from ADDRESS', its own address toward '{server.gateway}'",
        plan.span,
        notes=notes,
    )


def _declared(
    ctx: _Context, plan: GatewayPlan, decl: DhcpRelayDef, servers: dict[int, list[str]]
) -> DhcpRelay | None:
    ok = _source_ok(ctx, plan, decl)
    helpers: list[tuple[str, int]] = []
    if not decl.helpers:  # the servers the policy lets the classes reach, by class name
        for eid in sorted(servers, key=lambda e: ctx.endpoints[e].name):
            cls = ctx.classes[ctx.endpoints[eid].name]
            helpers.append((str(dhcp_server_address(cls.prefixes[0])), eid))
    for item in decl.helpers:
        found = _helper(ctx, plan, item, servers)
        ok = ok and found is not None
        if found is not None and found not in helpers:
            helpers.append(found)
    if not ok:
        return None
    return DhcpRelay(decl.source, tuple(helpers), decl.span)


def _source_ok(ctx: _Context, plan: GatewayPlan, decl: DhcpRelayDef) -> bool:
    """The relay's source is the gateway's own address toward the servers: in no class (it
    would be that class's to filter) and in no external (it is no flow's peer out there)."""
    if decl.source.prefixlen != 32:
        return False  # E106 already
    ep = _endpoint_at(ctx, decl.source.ip)
    if ep is None:
        return True
    if ep.kind == "class":
        where = f"class '{ep.name}'"
        fix = "use the gateway's address on its uplink side, outside every class"
    else:
        where = "external " + ", ".join(f"'{x}'" for x in ep.externals or (ep.name,))
        fix = (
            f"use the gateway's address on its uplink side, or exclude {decl.source.ip} "
            "from the external with 'except'"
        )
    ctx.sink.error(
        "E220",
        f"the DHCP relay source {decl.source.ip} of gateway '{plan.name}' is in {where}; {fix}",
        decl.source_span,
    )
    return False


def _helper(
    ctx: _Context, plan: GatewayPlan, item: RelayHelper, servers: dict[int, list[str]]
) -> tuple[str, int] | None:
    """(helper address, server class endpoint) of one `to` item, or None after an error."""
    if item.name is not None:
        kind = ctx.names.kind_of(item.name)
        if kind is None:
            ctx.sink.error(
                "E201",
                f"unknown class '{item.name}'{suggest(item.name, ctx.names.classes)}",
                item.span,
            )
            return None
        if kind != "class":
            article = "an" if kind[0] in "aeiou" else "a"
            ctx.sink.error(
                "E203",
                f"'{item.name}' is {article} {kind}; a DHCP relay sends to a "
                "class (its DHCP server) or to an address in a class",
                item.span,
            )
            return None
        eid = ctx.class_ep[item.name]
        address = str(dhcp_server_address(ctx.classes[item.name].prefixes[0]))
        what = f"'{item.name}'"
    else:
        assert item.address is not None
        ep = _endpoint_at(ctx, item.address.ip)
        if ep is None or ep.kind != "class":
            where = (
                "no class"
                if ep is None
                else "external " + ", ".join(f"'{x}'" for x in ep.externals or (ep.name,))
            )
            ctx.sink.error(
                "E221",
                f"DHCP server {item.address.ip} is in {where}; zonewall "
                "relays only to DHCP servers in classes (the flows it proves are "
                "between classes and externals)",
                item.span,
            )
            return None
        eid, address, what = ep.id, str(item.address.ip), f"{item.address.ip} (in '{ep.name}')"
    if eid not in servers:
        ctx.sink.error(
            "E221",
            f"no class served by '{plan.name}' may reach {what} on udp/67, "
            "so nothing would be relayed to it; allow the clients first (allow "
            f"CLIENTS -> {ctx.endpoints[eid].name} : udp/67) or remove it",
            item.span,
        )
        return None
    return address, eid


def _endpoint_at(ctx: _Context, address: IPAddress) -> Endpoint | None:
    for ep in ctx.endpoints:
        if any(address in p for p in ep.prefixes):
            return ep
    return None
