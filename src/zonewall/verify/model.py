"""The expected behaviour of one gateway, computed from the `CompiledPolicy` alone.

This is the enforcement model of the language (docs/language.md, 8.1), written independently of the
backends: it reads only the IR (classes, endpoints, flows, gateway plans).

* Routing: a destination in a class served by this gateway leaves on that class's interface;
  anything else leaves on the uplink (None when the gateway has no uplink: no route).
* A NEW packet entering on a served class's interface must come from that class; it may start
  exactly the effective flow from its source's endpoint to its destination's endpoint.
* On the uplink: a source in a class served here is spoofed (nothing); a source in a class
  served by another gateway passes (everything: it was filtered at its own gateway); a source
  in an external atom may start its flows toward classes served here only; any other source
  (in no class and no external) gets nothing.
* The switch's own addresses (`svi_addresses`, cisco-ios): traffic to them is not forwarded,
  so it is compared with the gateway flows (`selfplane`) instead of the flows above.
* Replies (what stateless platforms must let back in): a packet entering on interface I from
  `s` to `d` may be a reply of a flow `d -> s` when I is the interface of `s`'s served class,
  or when I is the uplink, `s` is external and `d` is a class served here.
* DHCP relayed by another gateway (`CompiledPolicy.relay_flows`) to a class served here: the
  relay's source address is an endpoint of its own (kind "relay", after the policy's), which
  on the uplink may start exactly its relayed flows (udp/67 to the server's class), like an
  external; the server's answers are their replies.

Addresses are plain integers (IPv4).  Endpoint lookups go through sorted disjoint intervals.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from zonewall.ir import CompiledPolicy, Endpoint, ResolvedClass
from zonewall.packets import UDP, PacketSet, key

__all__ = ["DHCP_SERVER_KEY", "GatewayModel", "RowExpectation"]

EVERYTHING = PacketSet.everything()
EMPTY = PacketSet()
DHCP_SERVER_KEY = key(UDP, 67)


@dataclass(frozen=True, slots=True)
class RowExpectation:
    """Expected sets that hold for every destination (a source the gateway treats alike)."""

    new: PacketSet
    replies: PacketSet


class GatewayModel:
    """What one gateway must permit, per ingress interface, source and destination."""

    def __init__(self, compiled: CompiledPolicy, gateway: str) -> None:
        plans = {g.name: g for g in compiled.gateways}
        if gateway not in plans:
            raise ValueError(
                f"no gateway '{gateway}' in the policy (have: {', '.join(sorted(plans)) or 'none'})"
            )
        self.compiled = compiled
        self.plan = plans[gateway]
        self.uplink: str | None = self.plan.uplink
        self.classes: dict[str, ResolvedClass] = {c.name: c for c in compiled.classes}
        self.served: tuple[ResolvedClass, ...] = tuple(
            self.classes[name] for name in self.plan.classes
        )
        self._flows = {(f.src, f.dst): f.packets for f in compiled.flows}
        relays = self._relays(compiled)
        self.endpoints: tuple[Endpoint, ...] = compiled.endpoints + relays
        self._by_id = {e.id: e for e in self.endpoints}
        peers: dict[int, set[int]] = {}
        for s, d in self._flows:
            peers.setdefault(s, set()).add(d)
            peers.setdefault(d, set()).add(s)
        self._peers = {eid: frozenset(ids) for eid, ids in peers.items()}
        self._served_eps: dict[int, ResolvedClass] = {}
        self._class_eps: dict[int, ResolvedClass] = {}
        for e in compiled.endpoints:
            if e.kind == "class":
                cls = self.classes[e.name]
                self._class_eps[e.id] = cls
                if cls.gateway == self.plan.name:
                    self._served_eps[e.id] = cls
        self._iface_eps: dict[str, frozenset[int]] = {}
        for eid, cls in self._served_eps.items():
            self._iface_eps[cls.interface] = self._iface_eps.get(cls.interface, frozenset()) | {eid}
        spans = sorted(
            (int(p.first), int(p.last), e.id) for e in self.endpoints for p in e.prefixes
        )
        self._starts = [lo for lo, _, _ in spans]
        self._spans = spans

    def _relays(self, compiled: CompiledPolicy) -> tuple[Endpoint, ...]:
        """The sources of DHCP relayed to classes served here, one endpoint per relaying
        gateway, with their flows added to `_flows`."""
        here = {c.name for c in compiled.classes if c.gateway == self.plan.name}
        out: dict[str, Endpoint] = {}
        for f in compiled.relay_flows:
            if compiled.endpoints[f.dst].name not in here:
                continue
            ep = out.get(f.gateway)
            if ep is None:
                ep = out[f.gateway] = Endpoint(
                    len(compiled.endpoints) + len(out), "relay", f.gateway, (f.source,)
                )
            self._flows[ep.id, f.dst] = self._flows.get((ep.id, f.dst), EMPTY) | f.packets
        return tuple(out.values())

    # -- structure ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Every ingress interface the policy describes: served classes' interfaces, uplink."""
        ifaces = sorted(self._iface_eps)
        if self.uplink is not None and self.uplink not in self._iface_eps:
            ifaces.append(self.uplink)
        return tuple(ifaces)

    def endpoint_intervals(self) -> list[tuple[int, int, int]]:
        """(first, last, endpoint id) of every endpoint prefix, sorted."""
        return list(self._spans)

    def endpoint_at(self, addr: int) -> Endpoint | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr <= self._spans[i][1]:
            return self._by_id[self._spans[i][2]]
        return None

    def is_served(self, ep: Endpoint | None) -> bool:
        return ep is not None and ep.id in self._served_eps

    def route(self, ep: Endpoint | None) -> str | None:
        """The egress interface toward an address in `ep` (None: no route)."""
        if ep is not None and ep.id in self._served_eps:
            return self._served_eps[ep.id].interface
        return self.uplink

    def label(self, ep: Endpoint | None) -> str:
        if ep is None:
            return "no class or external"
        if ep.kind == "relay":
            return f"the DHCP relay of gateway {ep.name}"
        if ep.kind == "class":
            cls = self._class_eps[ep.id]
            where = "here" if cls.gateway == self.plan.name else f"by {cls.gateway}"
            return f"class {ep.name} (served {where})"
        return "external " + ", ".join(ep.externals or (ep.name,))

    def flow(self, src: Endpoint | None, dst: Endpoint | None) -> PacketSet:
        if src is None or dst is None:
            return EMPTY
        return self._flows.get((src.id, dst.id), EMPTY)

    # -- the enforcement model ---------------------------------------------------------------
    def permitted(self, ingress: str, src: Endpoint | None, dst: Endpoint | None) -> PacketSet:
        """Service keys a NEW packet entering on `ingress` from `src` to `dst` may carry."""
        if ingress in self._iface_eps:
            if src is not None and src.id in self._iface_eps[ingress]:
                return self.flow(src, dst)
            return EMPTY
        if ingress != self.uplink or src is None or src.id in self._served_eps:
            return EMPTY
        if src.kind == "class":
            return EVERYTHING  # transit: filtered at its own gateway
        return self.flow(src, dst) if self.is_served(dst) else EMPTY  # an external, a relay

    def reply_flows(self, ingress: str, src: Endpoint | None, dst: Endpoint | None) -> PacketSet:
        """Keys of flows `dst -> src` whose replies enter on `ingress` (from `src` to `dst`)."""
        if ingress in self._iface_eps:
            if src is not None and src.id in self._iface_eps[ingress]:
                return self.flow(dst, src)
            return EMPTY
        if (
            ingress == self.uplink
            and src is not None
            and src.kind == "external"
            and self.is_served(dst)
        ):
            return self.flow(dst, src)
        return EMPTY

    def row(self, ingress: str, src: Endpoint | None) -> RowExpectation | None:
        """The expectation for `src` when it is the same for every destination, else None."""
        if ingress in self._iface_eps:
            if src is not None and src.id in self._iface_eps[ingress]:
                return None
            return RowExpectation(EMPTY, EMPTY)
        if ingress != self.uplink or src is None or src.id in self._served_eps:
            return RowExpectation(EMPTY, EMPTY)
        if src.kind == "class":
            return RowExpectation(EVERYTHING, EMPTY)
        return None

    def behaviour(self, ingress: str, src: Endpoint | None) -> tuple[object, ...]:
        """A key such that two sources with the same key on `ingress` have the same
        expectation (`permitted`, `reply_flows`) toward every destination."""
        if ingress in self._iface_eps:
            if src is not None and src.id in self._iface_eps[ingress]:
                return ("own", src.id)
            return ("nothing",)
        if ingress != self.uplink or src is None or src.id in self._served_eps:
            return ("nothing",)
        if src.kind == "class":
            return ("transit",)
        return ("external", src.id)

    def peers(self, src: Endpoint | None) -> frozenset[int]:
        """Ids of the endpoints toward which `permitted` or `reply_flows` from `src` can
        differ, on any ingress, from what they are toward an address in no endpoint (None):
        those with a flow from or to `src`.  Every other destination is expected alike."""
        if src is None:
            return frozenset()
        return self._peers.get(src.id, frozenset())

    def acting_sources(self, ingress: str) -> frozenset[int]:
        """Ids of the endpoints whose `behaviour` on `ingress` is not that of an address in
        no endpoint (`("nothing",)`): the served classes of the interface; on the uplink
        every endpoint not served here."""
        if ingress in self._iface_eps:
            return self._iface_eps[ingress]
        if ingress != self.uplink:
            return frozenset()
        return frozenset(e.id for e in self.endpoints if e.id not in self._served_eps)

    def svi_addresses(self) -> tuple[int, ...]:
        """The addresses a switch gateway holds in its served classes (its SVIs), by the VLAN
        plan's convention: the first usable address of each subnet (the first address of a
        /31 or /32).  Traffic to them is the gateway plane, not forwarding."""
        return tuple(
            sorted(
                {
                    int(p.first) + (0 if p.prefixlen >= 31 else 1)
                    for cls in self.served
                    for p in cls.prefixes
                }
            )
        )

    def dhcp_relay(self, ingress: str) -> frozenset[int]:
        """Endpoint ids whose clients' DHCP broadcasts an IOS SVI must take in on `ingress`:
        a served class that may reach some class on udp/67 (relayed by ip helper-address)."""
        out = set()
        for eid in self._iface_eps.get(ingress, frozenset()):
            if any(
                DHCP_SERVER_KEY in self._flows.get((eid, other), EMPTY)
                for other in self._peers.get(eid, ())
                if other != eid and other in self._class_eps
            ):
                out.add(eid)
        return frozenset(out)
