"""Gateways: which enforcement point serves each class, and on which interfaces.

Every class is served by exactly one gateway; a gateway needs a platform and, whenever the
policy has an external or more than one gateway, an uplink (an interface left without a filter
would pass everything).  Interface templates expand ``{vlan}`` and ``{name}`` per class; on
Linux the result must be a valid interface name of at most 15 characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from zonewall.compiler.allocate import Allocation
from zonewall.compiler.resolve import Names, suggest
from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.ir import GatewayDef, GatewayPlan, Selector

__all__ = ["PLATFORMS", "STATELESS", "assign_gateways"]

# platform -> (default interface template, is Linux)
PLATFORMS = {
    "iptables": ("vlan{vlan}", True),
    "nftables": ("vlan{vlan}", True),
    "cisco-ios": ("Vlan{vlan}", False),
}
# Platforms without connection tracking (each backend's `supports` lacks Feature.STATEFUL; a
# test holds the two equal): their replies are wider than a stateful gateway's (W113).
STATELESS = frozenset({"cisco-ios"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# What the kernel takes (no "/", ":" or space; ":" was an alias label, refused by `ip link`),
# minus "+" (a wildcard in iptables and nft) and a leading "-" (iptables would read an option).
_LINUX_IFNAME = re.compile(r"[A-Za-z0-9_.@][A-Za-z0-9_.@-]{0,14}\Z")
_IOS_IFNAME = re.compile(r"[A-Za-z][A-Za-z0-9/.:-]*\Z")


def assign_gateways(
    names: Names,
    alloc: dict[str, Allocation],
    sink: DiagnosticSink,
    resolve: Callable[[Selector, str], frozenset[str]],
) -> tuple[tuple[GatewayPlan, ...], dict[str, tuple[str, str]]]:
    """Gateway plans and, per class, (gateway name, interface name)."""
    served_by: dict[str, list[GatewayDef]] = {}
    plans: list[GatewayPlan] = []
    need_uplink = bool(names.externals) or len(names.gateways) > 1
    for gw in names.gateways.values():
        platform = _platform(gw, sink)
        if gw.serves is None:
            sink.error(
                "E214",
                f"gateway '{gw.name}' has no 'serves'; say which classes it "
                "routes, e.g. 'serves tag:medical'",
                gw.span,
            )
            members: frozenset[str] = frozenset()
        else:
            members = resolve(gw.serves, "'serves' selector")
        for ext in sorted(m for m in members if m in names.externals):
            sink.error(
                "E216",
                f"gateway '{gw.name}' serves external '{ext}'; a gateway serves "
                "classes (externals are reached through its uplink)",
                gw.attr_span("serves"),
            )
        classes = tuple(sorted(m for m in members if m in names.classes))
        for c in classes:
            served_by.setdefault(c, []).append(gw)
        if gw.uplink is None and need_uplink:
            why = "has externals" if names.externals else "has more than one gateway"
            sink.error(
                "E214", f"gateway '{gw.name}' needs an 'uplink' because the policy {why}", gw.span
            )
        if platform is not None:
            plans.append(
                GatewayPlan(
                    gw.name,
                    platform,
                    classes,
                    gw.uplink,
                    gw.span,
                    _object_groups(gw, platform, sink),
                    _stateless(gw, platform, sink),
                )
            )
    interfaces: dict[str, tuple[str, str]] = {}
    for name, cls in sorted(names.classes.items()):
        gws = served_by.get(name, [])
        if not gws:
            notes = tuple(
                (
                    f"'{g.name}' serves {g.serves.text() if g.serves else 'nothing'}",
                    g.attr_span("serves"),
                )
                for g in names.gateways.values()
            )
            sink.error(
                "E209",
                f"class '{name}' is served by no gateway; add it to one gateway's 'serves'",
                cls.span,
                notes=notes,
            )
        elif len(gws) > 1:
            notes = tuple((f"served by '{g.name}' here", g.attr_span("serves")) for g in gws)
            sink.error(
                "E210",
                f"class '{name}' is served by {len(gws)} gateways: "
                + ", ".join(f"'{g.name}'" for g in gws)
                + "; it must be exactly one",
                cls.span,
                notes=notes,
            )
    plan_by_name = {p.name: p for p in plans}
    for gw in names.gateways.values():
        plan = plan_by_name.get(gw.name)
        if plan is not None:
            _interfaces(gw, plan, alloc, interfaces, sink)
    return tuple(sorted(plans, key=lambda p: p.name)), interfaces


def _platform(gw: GatewayDef, sink: DiagnosticSink) -> str | None:
    if gw.platform is None:
        sink.error(
            "E214",
            f"gateway '{gw.name}' has no 'platform'; use one of " + ", ".join(PLATFORMS),
            gw.span,
        )
        return None
    if gw.platform not in PLATFORMS:
        sink.error(
            "E214",
            f"unknown platform '{gw.platform}'{suggest(gw.platform, PLATFORMS)} "
            "(platforms: " + ", ".join(PLATFORMS) + ")",
            gw.attr_span("platform"),
        )
        return None
    return gw.platform


def _object_groups(gw: GatewayDef, platform: str, sink: DiagnosticSink) -> bool:
    """`object-groups` (a zonewall extension) asks for IOS object-group ACLs: cisco-ios only."""
    if not gw.object_groups:
        return False
    if platform != "cisco-ios":
        sink.error(
            "E218",
            f"'object-groups' is not valid for platform '{platform}' of gateway "
            f"'{gw.name}': only cisco-ios has object-group ACLs; remove it (Linux "
            "platforms already group addresses in sets)",
            gw.attr_span("object-groups"),
        )
        return False
    return True


def _stateless(gw: GatewayDef, platform: str, sink: DiagnosticSink) -> str | None:
    """W113 on a stateless platform, unless `stateless-replies accepted "reason"` acknowledges
    it; the acknowledgement is an error on a platform that tracks connections (nothing to
    accept).  Returns the reason of an acknowledgement that stands."""
    reason = gw.stateless_accepted
    if platform not in STATELESS:
        if reason is not None:
            sink.error(
                "E218",
                f"'stateless-replies' is not valid for platform '{platform}' of "
                f"gateway '{gw.name}': it tracks connections, so its replies are exact "
                "and there is nothing to accept; remove it",
                gw.attr_span("stateless-replies"),
            )
        return None
    if reason is None:
        sink.warning(
            "W113",
            f"gateway '{gw.name}' ({platform}) is stateless: replies are "
            "permitted as TCP with ACK or RST from the service port, UDP from the "
            "service port and ICMP echo-reply, which is wider than connection tracking; "
            "once reviewed, acknowledge it in the gateway with "
            '`stateless-replies accepted "reason"`',
            gw.span,
        )
    return reason


def _interfaces(
    gw: GatewayDef,
    plan: GatewayPlan,
    alloc: dict[str, Allocation],
    out: dict[str, tuple[str, str]],
    sink: DiagnosticSink,
) -> None:
    default, linux = PLATFORMS[plan.platform]
    template = gw.interface if gw.interface is not None else default
    span: Span | None = gw.attr_span("interface") if gw.interface is not None else gw.span
    bad = [p for p in _PLACEHOLDER.findall(template) if p not in ("vlan", "name")]
    if bad:
        sink.error(
            "E215",
            f"interface template '{template}' uses '{{{bad[0]}}}'; only "
            "{vlan} and {name} expand",
            span,
        )
        return
    used: dict[str, str] = {}
    if plan.uplink is not None:
        _check_ifname(plan.uplink, linux, gw.name, gw.attr_span("uplink"), sink)
        used[plan.uplink] = "the uplink"
    for cls in plan.classes:
        if cls not in alloc:
            continue
        ifname = template.replace("{vlan}", str(alloc[cls].vlan)).replace("{name}", cls)
        if not _check_ifname(ifname, linux, gw.name, span, sink, cls):
            continue
        if ifname in used:
            sink.error(
                "E215",
                f"class '{cls}' and {used[ifname]} would share interface "
                f"'{ifname}' on gateway '{gw.name}'; put {{vlan}} or {{name}} in the "
                "interface template",
                span,
            )
            continue
        used[ifname] = f"class '{cls}'"
        out[cls] = (gw.name, ifname)


def _check_ifname(
    ifname: str,
    linux: bool,
    gw: str,
    span: Span | None,
    sink: DiagnosticSink,
    cls: str | None = None,
) -> bool:
    whose = f" for class '{cls}'" if cls else ""
    if linux:
        if len(ifname) > 15:
            sink.error(
                "E215",
                f"interface name '{ifname}'{whose} on gateway '{gw}' is "
                f"{len(ifname)} characters; Linux allows at most 15",
                span,
            )
            return False
        if not _LINUX_IFNAME.match(ifname) or ifname in (".", ".."):
            sink.error(
                "E215",
                f"interface name '{ifname}'{whose} on gateway '{gw}' is not a "
                "valid Linux interface name (letters, digits, '_', '.', '@' and '-', not "
                "first; no ':' alias labels, no '+' wildcards)",
                span,
            )
            return False
    elif not _IOS_IFNAME.match(ifname):
        sink.error(
            "E215",
            f"interface name '{ifname}'{whose} on gateway '{gw}' is not a valid "
            "Cisco IOS interface name",
            span,
        )
        return False
    return True
