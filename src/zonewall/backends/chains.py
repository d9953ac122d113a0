"""What the Linux backends (iptables, nftables) share: netfilter's features and the chain layout.

Both filter what one source may start in two levels: a dispatch chain for the source (a served
class, or an external atom entering on the uplink) jumps, by egress interface and destination
address, to one pair chain per destination, which matches the services.  `destinations`
decides that layout once for both: which destinations get a pair chain, in which order, which
interface their packets leave on, and which permits each pair chain holds.  Each backend then
writes its own rules and chain names for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zonewall.backends.base import Feature, GatewayView, Permit
from zonewall.ir import Endpoint

__all__ = ["LINUX_FEATURES", "Destination", "destinations"]

# What netfilter lets both write (`Backend.supports`).
LINUX_FEATURES = frozenset(
    {
        Feature.STATEFUL,
        Feature.PORT_RANGES,
        Feature.ICMP_TYPES,
        Feature.ANY_PROTOCOL,
        Feature.LOGGING,
        Feature.GATEWAY_PLANE,
    }
)


@dataclass(frozen=True, slots=True)
class Destination:
    """One pair chain of a dispatch chain: where its packets go and what it permits."""

    endpoint: Endpoint
    egress: str  # the interface packets to `endpoint` leave on
    permits: tuple[Permit, ...]  # in the order given to `destinations`


def destinations(permits: Iterable[Permit], view: GatewayView) -> list[Destination]:
    """The permits of one source by destination, in endpoint order (deterministic, and the
    order the dispatch chain jumps in).  A served class is reached on its own interface,
    anything else (an external atom, a class of another gateway) through the uplink."""
    by_dst: dict[int, list[Permit]] = {}
    for p in permits:
        by_dst.setdefault(p.dst.id, []).append(p)
    out = []
    for dst_id in sorted(by_dst):
        dst = view.endpoints[dst_id]
        local = view.local(dst)
        egress = local.interface if local is not None else view.plan.uplink
        assert egress is not None, "a destination beyond the uplink needs an uplink"
        out.append(Destination(dst, egress, tuple(by_dst[dst_id])))
    return out
