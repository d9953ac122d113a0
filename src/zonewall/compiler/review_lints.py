"""Warnings a reviewer expects on the policy as a whole and on where classes sit.

* W115: the policy enforces nothing (no class, so no gateway: `build` writes no config).
* W116: the policy asserts nothing: `check` then proves only that it is consistent, and a
  change that opens guest Wi-Fi to a pump passes CI.
* W117: a class's subnet lies inside an external's written addresses.  Classes win (an
  external is its addresses minus every class), so rules toward the external silently stop
  reaching those addresses; usually the subnet is a typo or the external is too wide.
  Externals that swallow whole private or special blocks are W114's business, not this one's.
* W118: a fixed class subnet lies outside every `pool subnets` while pools exist: the address
  plan says where the site's space is, and a subnet outside it is usually a typo.
"""

from __future__ import annotations

from collections.abc import Sequence

from netaddr import IPNetwork

from zonewall.compiler.special import special_blocks
from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.ir import ClassDef, ExternalDef, Policy, ResolvedClass

__all__ = ["review_lints"]


def review_lints(policy: Policy, classes: Sequence[ResolvedClass], sink: DiagnosticSink) -> None:
    top = _file_start(policy)
    if not policy.classes:
        sink.warning(
            "W115",
            "the policy declares no class, so no gateway enforces anything and "
            "`build` writes no config; add classes, services, allows and a gateway "
            "(`zonewall init` writes a starter policy)",
            top,
        )
    if not policy.assertions:
        sink.warning(
            "W116",
            "the policy has no assertions, so `check` proves only that it is "
            "consistent; state what must always hold, e.g. `assert denied guest_wifi "
            "-> tag:medical`",
            top,
        )
    defs = {c.name: c for c in policy.classes}
    holders = _holders(policy)
    for cls in classes:
        definition = defs.get(cls.name)
        if definition is not None:
            _inside_external(holders, cls, definition, sink)
    _outside_pools(policy, sink)


def _file_start(policy: Policy) -> Span | None:
    return Span(policy.files[0].path, 1, 1, 1, 2) if policy.files else None


def _inside(net: IPNetwork, outer: IPNetwork) -> bool:
    return bool(outer.first <= net.first and net.last <= outer.last)


# Per external: its excepts and the written addresses that may hold a class (not a wide one
# that swallows private/special blocks: W114 covers those), computed once for every class.
_Holders = list[tuple[ExternalDef, list[IPNetwork]]]


def _holders(policy: Policy) -> _Holders:
    blocks = [b.prefix for b in special_blocks(policy)]
    return [
        (
            ext,
            [
                address
                for address in ext.addresses
                if not any(_inside(b, address) and b != address for b in blocks)
            ],
        )
        for ext in policy.externals
    ]


def _inside_external(
    holders: _Holders, cls: ResolvedClass, definition: ClassDef, sink: DiagnosticSink
) -> None:
    for prefix in cls.prefixes:
        for ext, addresses in holders:
            outer = _holder(ext, prefix, addresses)
            if outer is None:
                continue
            span = definition.attr_span("subnet") if definition.subnets else definition.span
            sink.warning(
                "W117",
                f"class '{cls.name}' ({prefix}) lies inside external '{ext.name}' "
                f"({outer}): the class owns those addresses, so rules toward '{ext.name}' no "
                f"longer reach them; check the subnet, or write `except {prefix}` in "
                f"'{ext.name}' to say so",
                span,
            )
            break


def _holder(ext: ExternalDef, prefix: IPNetwork, addresses: list[IPNetwork]) -> IPNetwork | None:
    """The first of `addresses` (those of `ext` that may hold a class) that holds `prefix`,
    unless an except of `ext` removes it."""
    if any(_inside(prefix, e) for e in ext.excepts):
        return None
    return next((a for a in addresses if _inside(prefix, a)), None)


def _outside_pools(policy: Policy, sink: DiagnosticSink) -> None:
    pools = [net for net, _ in policy.subnet_pools]
    if not pools:
        return
    shown = ", ".join(str(p) for p in pools[:4]) + (" ..." if len(pools) > 4 else "")
    for definition in policy.classes:
        for prefix in definition.subnets:
            if not any(_inside(prefix, p) for p in pools):
                sink.warning(
                    "W118",
                    f"class '{definition.name}' subnet {prefix} is outside every "
                    f"subnet pool ({shown}); check the subnet, or add a `pool subnets` that "
                    "holds it",
                    definition.attr_span("subnet"),
                )
