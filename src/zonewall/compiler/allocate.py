"""Address and VLAN plan: check fixed subnets and VLANs, allocate the rest from the pools.

Classes that give ``hosts N`` get the smallest prefix holding N hosts plus the network,
broadcast and gateway addresses.  Requests are served largest first, then by name, each at the
lowest free aligned block of the first pool that has one, never overlapping a fixed subnet.
Classes without ``vlan`` get the lowest free ID of the VLAN pools, in name order.  Same
policy, same plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from netaddr import IPNetwork

from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.intervals import normalise, subtract
from zonewall.ir import ClassDef, Policy, normalise_prefixes

__all__ = ["Allocation", "allocate", "prefix_for_hosts"]

RESERVED_VLANS = frozenset({1, 1002, 1003, 1004, 1005})
VLAN_MIN, VLAN_MAX = 2, 4094


@dataclass(frozen=True, slots=True)
class Allocation:
    prefixes: tuple[IPNetwork, ...]
    vlan: int
    allocated_subnet: bool
    allocated_vlan: bool


def prefix_for_hosts(hosts: int) -> int | None:
    """Smallest prefix length whose block holds `hosts` + network, broadcast and gateway."""
    need = hosts + 3
    bits = max((need - 1).bit_length(), 2)
    return 32 - bits if bits <= 32 else None


def allocate(
    policy: Policy, classes: dict[str, ClassDef], sink: DiagnosticSink
) -> dict[str, Allocation]:
    """Validate fixed subnets/VLANs and allocate the rest; report problems to `sink`."""
    fixed: dict[str, tuple[IPNetwork, ...]] = {}
    for cls in classes.values():
        if bool(cls.subnets) == (cls.hosts is not None):
            sink.error(
                "E212",
                f"class '{cls.name}' needs exactly one of 'subnet' or 'hosts'"
                + (" (it has both)" if cls.subnets else ""),
                cls.span,
            )
        elif cls.subnets:
            fixed[cls.name] = normalise_prefixes(cls.subnets)
    _check_overlaps(fixed, classes, sink)
    subnets = dict(fixed)
    subnets.update(_allocate_subnets(policy, classes, fixed, sink))
    vlans = _vlans(policy, classes, sink)
    out: dict[str, Allocation] = {}
    for name in sorted(classes):
        if name in subnets and name in vlans:
            out[name] = Allocation(subnets[name], vlans[name][0], name not in fixed, vlans[name][1])
    return out


def _check_overlaps(
    fixed: dict[str, tuple[IPNetwork, ...]], classes: dict[str, ClassDef], sink: DiagnosticSink
) -> None:
    """One sweep over all fixed prefixes sorted by first address."""
    entries = sorted((p.first, p.last, name, p) for name, ps in fixed.items() for p in ps)
    widest: tuple[int, str, IPNetwork] | None = None  # (last, class, prefix) reaching furthest
    reported: set[tuple[str, str]] = set()
    for first, last, name, prefix in entries:
        if widest is not None and first <= widest[0] and widest[1] != name:
            pair = (widest[1], name)
            if pair not in reported:
                reported.add(pair)
                a, b = classes[widest[1]], classes[name]
                sink.error(
                    "E205",
                    f"subnet {prefix} of class '{name}' overlaps {widest[2]} of class "
                    f"'{widest[1]}'; a host must belong to exactly one class",
                    b.attr_span("subnet"),
                    notes=((f"'{widest[1]}' has {widest[2]} here", a.attr_span("subnet")),),
                )
        if widest is None or last > widest[0]:
            widest = (last, name, prefix)


def _allocate_subnets(
    policy: Policy,
    classes: dict[str, ClassDef],
    fixed: dict[str, tuple[IPNetwork, ...]],
    sink: DiagnosticSink,
) -> dict[str, tuple[IPNetwork, ...]]:
    requests = []
    for cls in classes.values():
        if cls.hosts is not None and not cls.subnets:
            plen = prefix_for_hosts(cls.hosts)
            requests.append((plen if plen is not None else -1, cls.name))
    if not requests:
        return {}
    taken = sorted((p.first, p.last) for ps in fixed.values() for p in ps)
    # One free list per pool, in the order written; space an earlier pool already offers is
    # taken out of later ones, so overlapping or repeated pools never hand out a block twice.
    pools = []
    offered: list[tuple[int, int]] = []
    for p, _ in policy.subnet_pools:
        pools.append(_FreeList([(p.first, p.last)], sorted(taken + offered)))
        offered.append((p.first, p.last))
    out: dict[str, tuple[IPNetwork, ...]] = {}
    for plen, name in sorted(requests):
        cls = classes[name]
        span = cls.attr_span("hosts")
        if not pools:
            sink.error(
                "E208",
                f"class '{name}' gives 'hosts' but the policy has no "
                "'pool subnets' to allocate from; add one or give 'subnet'",
                span,
            )
            continue
        block = (
            None
            if plen < 0
            else next((b for pool in pools if (b := pool.take(1 << (32 - plen))) is not None), None)
        )
        if block is None:
            size = "more than IPv4 holds" if plen < 0 else f"a /{plen}"
            sink.error(
                "E208",
                f"class '{name}' needs {size} for {cls.hosts} hosts and no "
                "pool has a free block that large; enlarge 'pool subnets'",
                span,
            )
            continue
        out[name] = (IPNetwork(f"{_ip(block)}/{plen}"),)
    return out


def _ip(value: int) -> str:
    return ".".join(str((value >> s) & 255) for s in (24, 16, 8, 0))


class _FreeList:
    """Free address intervals of one pool, for first-fit aligned allocation."""

    def __init__(self, pool: list[tuple[int, int]], taken: list[tuple[int, int]]) -> None:
        self.free = list(subtract(normalise(pool), normalise(taken)))

    def take(self, size: int) -> int | None:
        for i, (lo, hi) in enumerate(self.free):
            start = -(-lo // size) * size
            if start + size - 1 <= hi:
                pieces = [(lo, start - 1)] if start > lo else []
                if start + size <= hi:
                    pieces.append((start + size, hi))
                self.free[i : i + 1] = pieces
                return start
        return None


def _vlans(
    policy: Policy, classes: dict[str, ClassDef], sink: DiagnosticSink
) -> dict[str, tuple[int, bool]]:
    out: dict[str, tuple[int, bool]] = {}
    owner: dict[int, ClassDef] = {}
    for cls in sorted(classes.values(), key=lambda c: c.span.sort_key() if c.span else ("",)):
        if cls.vlan is None:
            continue
        span = cls.attr_span("vlan")
        if _vlan_problem(cls.vlan):
            sink.error(
                "E207", f"VLAN {cls.vlan} of class '{cls.name}' {_vlan_problem(cls.vlan)}", span
            )
        elif cls.vlan in owner:
            first = owner[cls.vlan]
            sink.error(
                "E206",
                f"VLAN {cls.vlan} of class '{cls.name}' is already used by class '{first.name}'",
                span,
                notes=(("first used here", first.attr_span("vlan")),),
            )
        else:
            owner[cls.vlan] = cls
        out[cls.name] = (cls.vlan, False)
    free = _vlan_pool(policy.vlan_pools, set(owner), sink)
    for name in sorted(n for n, c in classes.items() if c.vlan is None):
        if free:
            out[name] = (free.pop(0), True)
        else:
            what = "are exhausted" if policy.vlan_pools else "are not defined"
            sink.error(
                "E217",
                f"class '{name}' has no 'vlan' and the VLAN pools {what}; "
                "add 'pool vlans N-M' or give 'vlan N'",
                classes[name].span,
            )
    return out


def _vlan_problem(vlan: int) -> str:
    if vlan == 1:
        return "is reserved: VLAN 1 is the default VLAN and cannot carry a segment"
    if vlan in RESERVED_VLANS:
        return "is reserved: 1002-1005 are reserved for FDDI and Token Ring"
    if vlan < VLAN_MIN or vlan > VLAN_MAX:
        return f"is outside {VLAN_MIN}-{VLAN_MAX}"
    return ""


def _vlan_pool(
    pools: tuple[tuple[int, int, Span | None], ...], taken: set[int], sink: DiagnosticSink
) -> list[int]:
    free: list[int] = []
    seen = set(taken)
    for lo, hi, span in pools:
        bad = [v for v in (lo, hi) if v < VLAN_MIN or v > VLAN_MAX]
        if bad:
            sink.error("E207", f"VLAN pool {lo}-{hi} reaches outside {VLAN_MIN}-{VLAN_MAX}", span)
            continue
        for v in range(lo, hi + 1):
            if v not in seen and v not in RESERVED_VLANS:
                seen.add(v)
                free.append(v)
    return free
