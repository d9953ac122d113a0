"""Address equivalence classes: the finite set of source/destination addresses worth checking.

Every address prefix of the policy (each endpoint's prefixes: classes and external atoms) and
every address interval appearing anywhere in the parsed config cuts the IPv4 space into
disjoint *atoms*.  Two atoms that lie in the same endpoint and inside exactly the same config
intervals are treated alike by the model and by every rule, so they form one *group*, checked
through one representative address.  A widened rule therefore creates its own group: the
addresses it adds are inside an interval no other atom shares.

Two addresses are always groups of their own: 0.0.0.0 (a DHCP client's source) and
255.255.255.255 (the limited broadcast, the destination of DHCP clients).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from netaddr import IPAddress

from zonewall.ir import Endpoint

from .model import GatewayModel
from .rules import MAX_ADDR

__all__ = ["BROADCAST", "ZERO", "Group", "address_groups", "addr_text"]

BROADCAST = MAX_ADDR
ZERO = 0


def addr_text(addr: int) -> str:
    return str(IPAddress(addr, 4))


@dataclass(frozen=True, slots=True)
class Group:
    """Addresses treated alike; `rep` (its lowest atom's first address) stands for them."""

    id: int
    rep: int
    rep_last: int  # last address of the representative's atom
    endpoint: Endpoint | None
    special: str  # "" | "broadcast" | "zero"
    atoms: int

    def describe(self) -> str:
        if self.rep == self.rep_last:
            return addr_text(self.rep)
        return f"{addr_text(self.rep)} (atom {addr_text(self.rep)}-{addr_text(self.rep_last)})"


def address_groups(model: GatewayModel, config_intervals: Iterable[tuple[int, int]]) -> list[Group]:
    """The groups of the whole IPv4 space for this model and these config intervals."""
    intervals = sorted({iv for iv in config_intervals if iv != (0, MAX_ADDR)})
    cuts = {0, ZERO + 1, BROADCAST}
    for lo, hi, _ in model.endpoint_intervals():
        cuts.update((lo, hi + 1))
    for lo, hi in intervals:
        cuts.update((lo, hi + 1))
    starts = sorted(c for c in cuts if c <= MAX_ADDR)
    ends = [s - 1 for s in starts[1:]] + [MAX_ADDR]
    # Signature of each atom: the bit set of config intervals containing it, computed with a
    # difference array over exact big integers (one bit per distinct interval).
    delta = [0] * (len(starts) + 1)
    for bit, (lo, hi) in enumerate(intervals):
        delta[bisect.bisect_left(starts, lo)] += 1 << bit
        delta[bisect.bisect_left(starts, hi + 1) if hi < MAX_ADDR else len(starts)] -= 1 << bit
    groups: dict[tuple[int, int, str], Group] = {}
    sig = 0
    for i, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        sig += delta[i]
        ep = model.endpoint_at(lo)
        special = "broadcast" if lo == BROADCAST else "zero" if lo == ZERO else ""
        gkey = (ep.id if ep is not None else -1, sig, special)
        found = groups.get(gkey)
        if found is None:
            groups[gkey] = Group(len(groups), lo, hi, ep, special, 1)
        else:
            groups[gkey] = Group(found.id, found.rep, found.rep_last, ep, special, found.atoms + 1)
    return sorted(groups.values(), key=lambda g: g.id)
