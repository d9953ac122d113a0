"""The Cisco IOS backend: one `.ios` file per gateway, from one `Lowering` of its view.

`CiscoIosBackend.lower` lowers the gateway (over object groups when it sets `object-groups`),
then names the draft: every name carries a placeholder suffix until the draft's content
digest is known (`names`), and the digest leaves out comments and name suffixes, so the
draft's digest is the final file's.  What IOS cannot express comes back with no model
(`Lowered`), so nothing is rendered for that gateway.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import ClassVar

from zonewall._version import __version__
from zonewall.backends.base import (
    Backend,
    Feature,
    GatewayView,
    Lowered,
    gateway_view,
    make_env,
    policy_lines,
)
from zonewall.backends.cisco_ios.lowering import Lowering
from zonewall.backends.cisco_ios.model import IosModel, ipv6_acl, suffixed
from zonewall.backends.cisco_ios.names import (
    IPV6_ACL,
    PLACEHOLDER,
    content_digest,
    digest_line,
    recipe,
)
from zonewall.backends.cisco_ios.object_groups import OgLowering
from zonewall.ir import CompiledPolicy
from zonewall.text import ios_text

__all__ = ["CiscoIosBackend", "gateway_suffix"]


class CiscoIosBackend(Backend):
    name = "cisco-ios"
    supports = frozenset(
        {
            Feature.PORT_RANGES,
            Feature.ICMP_TYPES,
            Feature.ANY_PROTOCOL,
            Feature.LOGGING,
            Feature.GATEWAY_PLANE,
        }
    )
    suffix = ".ios"
    ace_budget: ClassVar[int] = 1000  # IOS-10: per ACL; TCAM and LOU limits are per platform

    def lower(self, policy: CompiledPolicy, view: GatewayView) -> Lowered[IosModel]:
        lowering = self.lowering(policy, view)
        if lowering.errors:  # fail closed: no model to render
            return Lowered(None, tuple(lowering.errors))
        draft = IosModel(
            path=PurePosixPath(f"{view.plan.name}{self.suffix}"),
            header=(),
            acls=tuple(lowering.acls),
            ipv6=ipv6_acl(PLACEHOLDER),
            object_groups=lowering.object_groups(),
            vty=lowering.vty,
        )
        digest = content_digest(self._text(draft))
        model = suffixed(draft, digest[:8].upper(), digest)
        header = self._header(policy, view, model) + lowering.header_notes(model.suffix)
        return Lowered(
            IosModel(
                model.path,
                header,
                model.acls,
                model.ipv6,
                model.object_groups,
                model.suffix,
                model.digest,
                model.vty,
            )
        )

    def lowering(self, policy: CompiledPolicy, view: GatewayView) -> Lowering:
        """The decisions for one gateway: entries over object groups when it sets
        `object-groups`, plain entries otherwise (the budget is this backend's)."""
        kind = OgLowering if view.plan.object_groups else Lowering
        return kind(policy, view, self.ace_budget)

    def _header(
        self, policy: CompiledPolicy, view: GatewayView, model: IosModel
    ) -> tuple[str, ...]:
        return (
            (
                f"zonewall {__version__}  backend: cisco-ios (IOS/IOS-XE named extended IPv4 ACLs, "
                "stateless)  -- DO NOT EDIT"
            ),
            *policy_lines(policy, ios_text, sha256=False),
            digest_line(model.digest, model.suffix),
            (
                "content = this file without comments, remarks, descriptions and name suffixes: a "
                "new suffix means the switch runs something new"
            ),
            f"recompute: {recipe(model.path.name)}",
            f"gateway: {view.plan.name}  uplink: {view.plan.uplink or '-'}",
            (
                "stateless: a reply is permitted as TCP with ACK or RST (established) from the "
                "service port, UDP from the service port, or ICMP echo-reply for echo-request"
            ),
            (
                "traffic to the switch itself (its SVI addresses) takes exactly the policy's "
                "gateway:" + view.plan.name + " flows, first in every ACL, then nothing else;"
            ),
            (
                "DHCP client broadcasts (udp 68 -> 255.255.255.255:67) are permitted for ip "
                "helper-address; the uplink's own address is not in the policy"
            ),
            (
                "vty sessions (any interface, an out-of-band port too): line vty 0 15 takes only "
                "the sources and transports the policy allows (ssh tcp/22, telnet tcp/23)"
            ),
            "deploy make-before-break (merge into the running config; never configure replace):",
            "  1. paste the ip access-list blocks: new names, built beside the applied ACLs",
            (
                "  2. paste the interface blocks and the line vty block: each ip access-group or "
                "access-class moves to its new ACL in one command"
            ),
            (
                "  3. remove the old ACLs by name: no ip access-list extended ZW-...-<old suffix>, "
                f"no ipv6 access-list {IPV6_ACL}-<old suffix>,"
            ),
            "     no ip access-list standard ZW-VTY-<old suffix>",
            (
                "IPv6: not described by the policy, so it is closed: every interface below binds "
                f"ipv6 traffic-filter {model.ipv6.name} in, which"
            ),
            (
                "passes neighbour discovery with the switch (nd-ns, nd-na, router solicitation and "
                "advertisement) and drops all other IPv6"
            ),
            (
                "(the switch must support IPv6 ACLs; some Catalysts need an SDM template with IPv6 "
                "first)"
            ),
        )

    @staticmethod
    def _text(model: IosModel) -> str:
        return make_env().get_template("cisco_ios/acl.ios.j2").render(model=model)

    def render(self, model: IosModel) -> dict[PurePosixPath, str]:
        return {model.path: self._text(model)}

    def rule_count(self, model: IosModel) -> int:
        vty = len(model.vty.aces) if model.vty is not None else 0
        return sum(len(acl.aces) for acl in model.acls) + vty


def gateway_suffix(policy: CompiledPolicy, gateway: str) -> str:
    """The name suffix of a cisco-ios gateway's `.ios` file (lowering it: build, which has the
    rendered file, reads it from the text instead, `names.suffix_of`)."""
    return CiscoIosBackend().lower(policy, gateway_view(policy, gateway)).unwrap().suffix
