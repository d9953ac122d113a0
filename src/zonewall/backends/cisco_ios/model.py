"""The Cisco IOS target model: entries, ACLs, object groups, and one gateway's file.

Frozen values that the `lowering` fills in and the `cisco_ios/acl.ios.j2` template prints;
also the one IPv6 ACL every cisco-ios gateway binds (IPv6 closed, see the package docstring)
and the renaming of a drafted model once its name suffix is known (`names`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from zonewall.backends.cisco_ios.names import IPV6_ACL, PLACEHOLDER, with_suffix

__all__ = [
    "IPV6_ND",
    "IosAce",
    "IosAcl",
    "IosBlock",
    "IosModel",
    "IosObjectGroup",
    "IosStdAce",
    "IosVty",
    "ipv6_acl",
    "suffixed",
]


@dataclass(frozen=True, slots=True)
class IosAce:
    """`seq action protocol src [src_port] dst [dst_port] [option] [log]`, every field final."""

    seq: int
    action: str  # permit | deny
    protocol: str  # ip | tcp | udp | icmp | 0-255
    src: str  # any | host A | A WILDCARD
    src_port: str  # "" | eq P | range P Q
    dst: str
    dst_port: str
    option: str = ""  # "" | established | echo | echo-reply | ICMP type number
    log: bool = False


@dataclass(frozen=True, slots=True)
class IosBlock:
    remark: str
    aces: tuple[IosAce, ...]


@dataclass(frozen=True, slots=True)
class IosAcl:
    name: str
    interface: str  # bound `ip access-group NAME in` here
    blocks: tuple[IosBlock, ...]

    @property
    def aces(self) -> tuple[IosAce, ...]:
        return tuple(a for b in self.blocks for a in b.aces)


@dataclass(frozen=True, slots=True)
class IosObjectGroup:
    """`object-group network|service NAME`, its description and members (object-groups)."""

    kind: str  # network | service
    name: str
    description: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IosStdAce:
    """`seq action src [log]`: an entry of a standard ACL (the vty access-class)."""

    seq: int
    action: str  # permit | deny
    src: str  # any | host A | A WILDCARD
    log: bool = False


@dataclass(frozen=True, slots=True)
class IosVty:
    """`ip access-list standard NAME` (sources that may open a vty session, remark first)
    and the `line vty 0 15` block binding it: `access-class NAME in`, `transport input`."""

    name: str
    remark: str
    aces: tuple[IosStdAce, ...]
    transport: str  # ssh | telnet | ssh telnet | none
    lines: str = "0 15"


@dataclass(frozen=True, slots=True)
class IosModel:
    path: PurePosixPath
    header: tuple[str, ...]
    acls: tuple[IosAcl, ...]
    ipv6: IosAcl  # `ipv6 access-list`, bound `ipv6 traffic-filter NAME in` with every ACL
    object_groups: tuple[IosObjectGroup, ...] = ()  # defined before the ACLs using them
    suffix: str = PLACEHOLDER  # every name ends in it: the content digest's first 8 digits
    digest: str = ""  # the content digest (`names.content_digest`)
    vty: IosVty | None = None  # management lines: who may open ssh/telnet sessions


# Neighbour discovery with the switch, which IPv6 needs on every link: an IPv6 ACL has implicit
# `permit icmp any any nd-na` / `nd-ns` entries, but only before its implicit deny, so an
# explicit final deny must come after explicit ones; RS/RA too (FORMATS: hosts solicit, and on
# the uplink the switch may hear a router's advertisements).
IPV6_ND = ("nd-ns", "nd-na", "router-solicitation", "router-advertisement")


def ipv6_acl(suffix: str) -> IosAcl:
    nd = tuple(
        IosAce(10 * (i + 1), "permit", "icmp", "any", "", "any", "", t)
        for i, t in enumerate(IPV6_ND)
    )
    deny = IosAce(10 * (len(nd) + 1), "deny", "ipv6", "any", "", "any", "", "", True)
    return IosAcl(
        f"{IPV6_ACL}-{suffix}",
        "",
        (
            IosBlock("IPv6 is not in the policy: neighbour discovery with the switch only", nd),
            IosBlock("default deny: no IPv6 is forwarded", (deny,)),
        ),
    )


def suffixed(model: IosModel, suffix: str, digest: str) -> IosModel:
    """`model` with the placeholder suffix of every name replaced by `suffix`."""

    def ace(a: IosAce) -> IosAce:
        if "object-group" not in a.protocol + a.src + a.dst:
            return a
        return IosAce(
            a.seq,
            a.action,
            with_suffix(a.protocol, suffix),
            with_suffix(a.src, suffix),
            a.src_port,
            with_suffix(a.dst, suffix),
            a.dst_port,
            a.option,
            a.log,
        )

    def acl(x: IosAcl) -> IosAcl:
        return IosAcl(
            with_suffix(x.name, suffix),
            x.interface,
            tuple(IosBlock(b.remark, tuple(map(ace, b.aces))) for b in x.blocks),
        )

    groups = tuple(
        IosObjectGroup(g.kind, with_suffix(g.name, suffix), g.description, g.members)
        for g in model.object_groups
    )
    vty = model.vty
    if vty is not None:
        vty = IosVty(with_suffix(vty.name, suffix), vty.remark, vty.aces, vty.transport, vty.lines)
    return IosModel(
        model.path,
        model.header,
        tuple(map(acl, model.acls)),
        acl(model.ipv6),
        groups,
        suffix,
        digest,
        vty,
    )
