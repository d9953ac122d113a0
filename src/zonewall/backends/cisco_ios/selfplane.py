"""Traffic to a Cisco IOS gateway itself: its own addresses and its vty lines.

An inbound ACL on an SVI (or on the routed uplink) sees every packet that enters there,
those addressed to the switch included: the address of every SVI is inside its class's subnet,
so a forwarding entry toward that class would also admit traffic to the switch.  The policy's
flows to the gateway (`gateway:NAME`, `GatewayView.to_self`) are therefore written first in
each ACL, before any forwarding entry:

* `permit <service> <source> host <own address>` for each service the policy lets that source
  start toward the gateway, for every own address of the switch (a class's ACL for the class
  itself; the uplink's ACL for classes of other gateways and externals), then
* `deny ip any host <own address> log` for every own address: nothing else reaches the switch
  through a zonewall ACL, whatever later entry would permit toward that subnet.

The switch's own addresses are its SVI addresses as the switch config writes them
(`base.gateway_address`: the first usable address of each subnet of each served class).
The uplink's address is not in the policy, so no entry names it (see the README).

Management sessions (ssh, telnet) land on the vty lines whichever interface they enter,
an out-of-band port included, so `line vty 0 15` gets `access-class ZW-VTY-<suffix> in`: a
standard ACL permitting exactly the sources the policy lets reach the gateway on tcp/22 or
tcp/23, then `deny any log`, and `transport input` the protocols the policy allows (ssh,
telnet, both, or none: no session at all).  A standard ACL tells sources only, so every source
must be given the same of ssh and telnet; otherwise the statement is error E401.
"""

from __future__ import annotations

from collections.abc import Iterable

from zonewall.backends.base import GatewayView, Permit, gateway_address
from zonewall.backends.cidrs import Cidr, cidr_of, merge, wildcard
from zonewall.backends.cisco_ios.model import IosStdAce, IosVty
from zonewall.backends.cisco_ios.names import vty_acl_name
from zonewall.diagnostics import Diagnostic, Severity
from zonewall.packets import TCP, PacketSet
from zonewall.text import ios_text

__all__ = ["VTY_SERVICES", "own_addresses", "vty_model"]

REMARK_MAX = 100
# The vty lines' transports and their service keys (what `transport input` names).
VTY_SERVICES = (("ssh", PacketSet.ports(TCP, 22, 22)), ("telnet", PacketSet.ports(TCP, 23, 23)))


def own_addresses(view: GatewayView) -> tuple[Cidr, ...]:
    """The switch's own addresses (/32s, sorted): each served class's SVI addresses."""
    return tuple(
        sorted({(int(gateway_address(p)), 32) for cls in view.served for p in cls.prefixes})
    )


def vty_model(view: GatewayView, suffix: str) -> tuple[IosVty, list[Diagnostic]]:
    """The vty access-class and transports for the policy's ssh/telnet flows to the gateway,
    and an E401 at each statement opening them when sources differ in ssh and telnet."""
    wanted: dict[tuple[str, ...], list[Cidr]] = {}
    by_kind: dict[tuple[str, ...], list[Permit]] = {}
    for src, permits in view.to_self:
        packets = PacketSet.union_all(p.packets for p in permits)
        kinds = tuple(name for name, keys in VTY_SERVICES if keys.issubset(packets))
        if kinds:
            wanted.setdefault(kinds, []).extend(cidr_of(n) for n in src.prefixes)
            by_kind.setdefault(kinds, []).extend(
                p for p in permits if any(keys & p.packets for _, keys in VTY_SERVICES)
            )
    errors: list[Diagnostic] = []
    if len(wanted) > 1:
        errors = _mixed(view, by_kind)
    transport = " ".join(sorted({k for kinds in wanted for k in kinds})) or "none"
    sources = merge(c for cs in wanted.values() for c in cs)
    aces = tuple(IosStdAce(10 * (i + 1), "permit", wildcard(c)) for i, c in enumerate(sources))
    aces += (IosStdAce(10 * (len(sources) + 1), "deny", "any", True),)
    what = ", ".join(sorted({s.name for s, ps in view.to_self if _opens_vty(ps)})) or "nothing"
    remark = ios_text(
        f"vty sessions ({transport}) to gateway:{view.plan.name} from: {what}", REMARK_MAX
    )
    return IosVty(vty_acl_name(suffix), remark, aces, transport), errors


def _opens_vty(permits: Iterable[Permit]) -> bool:
    return any(
        keys.issubset(PacketSet.union_all(p.packets for p in permits)) for _, keys in VTY_SERVICES
    )


def _mixed(view: GatewayView, by_kind: dict[tuple[str, ...], list[Permit]]) -> list[Diagnostic]:
    """E401 at every statement opening ssh or telnet to the gateway: a vty access-class
    cannot give ssh to some sources and telnet to others."""
    seen: set[int] = set()
    out = []
    for kinds in sorted(by_kind):
        for p in by_kind[kinds]:
            if p.rule.index in seen:
                continue
            seen.add(p.rule.index)
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    "E401",
                    f"gateway '{view.plan.name}' (cisco-ios) cannot give some sources ssh and "
                    f"others telnet: one vty access-class lists the sources of both (here "
                    f"'{p.src.name}' gets {' and '.join(kinds)}); allow the same of ssh and telnet "
                    "to every source of this gateway, or drop telnet",
                    p.rule.span,
                )
            )
    return sorted(out, key=lambda d: d.span.line if d.span else 0)
