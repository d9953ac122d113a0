"""Private and special address space that an external covers by accident (warning W114).

``external internet { address 0.0.0.0/0 }`` covers every private range the policy has not
given to a class: an allow toward ``internet`` then also opens the hospital's own unallocated
``pool subnets``, RFC 1918 space behind other routers, link-local and carrier-grade NAT space.
This pass names that space.

The blocks are the IANA special-purpose ranges that are never globally reachable (documentation
ranges excepted, see below) plus the policy's own ``pool subnets``.  An external is reported
when one of its written prefixes is *wider* than a block it overlaps (CIDR blocks nest, so the
block lies inside the prefix) and part of that block is still in the external: not in an
``except``, not in a class, and not named on purpose by another external.  A prefix written
inside a block (a partner site over VPN, ``address 10.50.0.0/16``) is deliberate and never
reported; naming a range in an external of its own is also how a wide external's coverage of
it is acknowledged.  The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)
are left out: nothing routes them, and policies use them as stand-ins for public addresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netaddr import IPAddress, IPNetwork

from zonewall.compiler.expand import intervals_of
from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.intervals import Intervals, subtract, union_all
from zonewall.ir import ExternalDef, Policy, ResolvedClass

__all__ = [
    "SPECIAL_RANGES",
    "SpecialBlock",
    "blocks_containing",
    "special_blocks",
    "warn_special_space",
]

# Never globally reachable (IANA IPv4 special-purpose registry, plus multicast and class E).
SPECIAL_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network' (RFC 791)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared carrier-grade NAT space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved, and limited broadcast (RFC 1112, RFC 919)"),
)
POOL = "this policy's own 'pool subnets'"


@dataclass(frozen=True, slots=True)
class SpecialBlock:
    prefix: IPNetwork
    what: str
    span: Span | None = None  # the `pool subnets` statement, for a pool

    @property
    def is_pool(self) -> bool:
        return self.what == POOL


def special_blocks(policy: Policy) -> tuple[SpecialBlock, ...]:
    """The special-purpose ranges, then the policy's pools (each once, in the order written)."""
    blocks = [SpecialBlock(IPNetwork(p), what) for p, what in SPECIAL_RANGES]
    seen: set[str] = set()
    for net, span in policy.subnet_pools:
        if str(net.cidr) not in seen:
            seen.add(str(net.cidr))
            blocks.append(SpecialBlock(net.cidr, POOL, span))
    return tuple(blocks)


def blocks_containing(policy: Policy, address: IPAddress) -> tuple[SpecialBlock, ...]:
    """The special blocks and pools an address is in (for `explain`)."""
    return tuple(b for b in special_blocks(policy) if address in b.prefix)


def warn_special_space(
    policy: Policy, classes: Iterable[ResolvedClass], sink: DiagnosticSink
) -> None:
    """W114 at each external that covers special space nothing in the policy names."""
    blocks = special_blocks(policy)
    class_space = intervals_of(p for c in classes for p in c.prefixes)
    # Each external's deliberate space once, and their union once for the externals that name
    # none themselves (nearly all): recomputing it for each external was quadratic, and 5,000
    # externals took minutes.
    deliberate = {e.name: _deliberate(e, blocks) for e in policy.externals}
    everyone: Intervals | None = None
    for ext in sorted(policy.externals, key=lambda e: e.name):
        if not any(_swallows(ext, b) for b in blocks):
            continue
        if deliberate[ext.name]:
            named = union_all(d for n, d in deliberate.items() if n != ext.name)
        else:
            if everyone is None:
                everyone = union_all(deliberate.values())
            named = everyone
        taken = union_all([class_space, intervals_of(ext.excepts), named])
        found = [
            (b, left)
            for b in blocks
            if _swallows(ext, b)
            for left in [subtract(intervals_of([b.prefix]), taken)]
            if left
        ]
        if found:
            _report(ext, found, sink)


def _inside(net: IPNetwork, outer: IPNetwork) -> bool:
    return bool(outer.first <= net.first and net.last <= outer.last)


def _swallows(ext: ExternalDef, block: SpecialBlock) -> bool:
    """A written prefix wider than the block contains it (prefixes nest or are disjoint)."""
    return any(_inside(block.prefix, p) and p != block.prefix for p in ext.addresses)


def _deliberate(ext: ExternalDef, blocks: tuple[SpecialBlock, ...]) -> Intervals:
    """The addresses an external names on purpose inside special space."""
    chosen = [p for p in ext.addresses if any(_inside(p, b.prefix) for b in blocks)]
    return subtract(intervals_of(chosen), intervals_of(ext.excepts))


def _report(
    ext: ExternalDef, found: list[tuple[SpecialBlock, Intervals]], sink: DiagnosticSink
) -> None:
    top = [
        b for b, _ in found if not any(o is not b and _inside(b.prefix, o.prefix) for o, _ in found)
    ]
    excepts = list(ext.excepts) + [
        b.prefix for b in top if not any(_inside(b.prefix, e) for e in ext.excepts)
    ]
    excepts.sort(key=lambda p: (p.first, p.prefixlen))
    fix = (
        "address "
        + ", ".join(str(p) for p in ext.addresses)
        + " except "
        + ", ".join(str(p) for p in excepts)
    )
    notes = tuple((_note(b, left, ext.name), b.span) for b, left in found)
    sink.warning(
        "W114",
        f"external '{ext.name}' also covers private or special address space that no "
        f"class owns (listed below), so rules toward '{ext.name}' reach it too; exclude it "
        f"with `{fix}`, or name each range '{ext.name}' really reaches in an external of its "
        "own",
        ext.span,
        notes=notes,
    )


def _note(block: SpecialBlock, left: Intervals, ext: str) -> str:
    size = sum(hi - lo + 1 for lo, hi in left)
    if size == block.prefix.size:
        return f"{block.prefix} is {block.what}"
    return f"{block.prefix} is {block.what}; {size:,} of its addresses are left in '{ext}'"
