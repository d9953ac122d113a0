"""Whole IOS / IOS-XE device output (`show running-config`, `| section` excerpts) for an audit.

`parse_ios` reads only what filters (fail closed).  A running config holds far more: banners,
`Building configuration...`, `version`, AAA, `line con`, SNMP, routing, switchports, other
ACLs.  `prepare_ios` decides, per line, with the gateway's audited interfaces known
(`GatewayModel.interfaces`: the served classes' SVIs and the uplink):

* kept for `parse_ios` (modelled exactly): the interface blocks of the audited interfaces,
  the ACLs they bind (`ip access-group NAME in`, `ipv6 traffic-filter NAME in`) and the
  object groups those ACLs use, the `line vty` blocks and the standard ACLs their
  `access-class` names, `end`;
* refused with the line, the construct and what to do (`ConfigParseError`), because it can
  change what the audited interfaces forward and is not modelled: an outbound ACL, NAT
  (`ip nat inside|outside`), policy routing (`ip policy route-map`), zone-based firewall
  (`zone-member security`), a QoS policy that polices or drops, HSRP/VRRP/GLBP addresses
  (the switch answers on them), `shutdown` or a VRF on an audited interface; a port ACL on
  a switchport in an audited VLAN; a VLAN access map filtering an audited VLAN (`vlan filter
  MAP vlan-list ...`); TrustSec enforcement (`cts role-based enforcement`); a numbered ACL
  in the one-line `access-list N` form bound where it counts; any other command inside an
  audited interface block;
* skipped and counted (blanked, so every line number stays the device's): everything else.
  A global command changes an interface's forwarding only through a line in that
  interface's block (a binding) or through the global bindings above (`vlan filter`, `cts`),
  so a global command that is neither cannot change what the audited interfaces forward.

The result is the text with skipped lines blanked and a count of skipped lines per construct.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .rules import ConfigParseError

__all__ = ["PreparedIos", "prepare_ios"]

# Lines of an audited interface block that cannot change what it forwards or takes in.
# `ip verify unicast` (uRPF) drops only sources not routed back through the interface: on a
# served class's SVI sources outside the class, on the uplink sources in classes served here,
# which the policy's model already expects dropped (spoofed), so it removes nothing needed.
INERT_INTERFACE = (
    "no ip redirects",
    "no ip unreachables",
    "no ip proxy-arp",
    "ip proxy-arp",
    "ip mtu",
    "mtu",
    "load-interval",
    "ip pim",
    "ip igmp",
    "ip ospf",
    "ipv6 address",
    "ipv6 enable",
    "ipv6 nd",
    "ip dhcp",
    "logging event",
    "carrier-delay",
    "bfd",
    "arp timeout",
    "ip route-cache",
    "no ip route-cache",
    "no ip mroute-cache",
    "cdp enable",
    "no cdp enable",
    "lldp",
    "no lldp",
    "negotiation auto",
    "no negotiation auto",
    "speed",
    "duplex",
    "no switchport",
    "media-type",
    "ip flow monitor",
    "ip nbar",
    "no keepalive",
    "ip verify unicast",
    "no ip address",
    "bandwidth",
    "delay",
    "ip tcp adjust-mss",
    "no autostate",
    "ip directed-broadcast",
    "no ip directed-broadcast",
    "hold-queue",
    "ip ospf",
    "ip summary-address",
    "ipv6 ospf",
    "dampening",
    "no mop enabled",
    "no mop sysid",
)
# Lines of an audited interface block parse_ios reads.
MODELLED_INTERFACE = (
    "ip access-group",
    "ipv6 traffic-filter",
    "ip address",
    "ip helper-address",
    "description",
    "no shutdown",
)
# (prefix, construct, what to do) for lines refused inside an audited interface block.
REFUSED_INTERFACE = (
    (
        "ip nat",
        "NAT on an audited interface",
        "NAT rewrites addresses around the ACLs; move "
        "the NAT to a non-audited interface or audit this gateway by hand",
    ),
    (
        "ip policy route-map",
        "policy routing on an audited interface",
        "policy routing can "
        "send permitted traffic another way than the policy's route; remove it from the "
        "interface",
    ),
    (
        "zone-member security",
        "zone-based firewall on an audited interface",
        "zone-pair policies filter beside the ACLs; remove zone-member from the interface",
    ),
    (
        "standby",
        "HSRP on an audited interface",
        "the switch answers on the virtual address, "
        "which the policy's gateway plane does not model; remove it or audit by hand",
    ),
    (
        "vrrp",
        "VRRP on an audited interface",
        "the switch answers on the virtual address, "
        "which the policy's gateway plane does not model; remove it or audit by hand",
    ),
    (
        "glbp",
        "GLBP on an audited interface",
        "the switch answers on the virtual address, "
        "which the policy's gateway plane does not model; remove it or audit by hand",
    ),
    (
        "vrf forwarding",
        "a VRF on an audited interface",
        "the policy models one routing table; remove the VRF or audit by hand",
    ),
    (
        "ip vrf forwarding",
        "a VRF on an audited interface",
        "the policy models one routing table; remove the VRF or audit by hand",
    ),
    (
        "shutdown",
        "an audited interface that is shut down",
        "it forwards nothing the policy "
        "needs; 'no shutdown' it (or remove the class from the policy)",
    ),
)
_BANNER = re.compile(r"banner\s+\S+\s+(\S)")
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


@dataclass(frozen=True, slots=True)
class PreparedIos:
    """The text for `parse_ios` (skipped lines blank) and the skipped lines per construct."""

    text: str
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class _Block:
    start: int  # 0-based index of the top-level line
    words: list[str]
    children: list[int]  # 0-based indexes of the indented lines


def prepare_ios(text: str, file: str, audited: frozenset[str]) -> PreparedIos:
    """Keep what `parse_ios` models and matters, refuse what matters and is not modelled,
    blank and count the rest (module docstring).  Raises `ConfigParseError` on a refused
    construct."""
    lines = text.splitlines()
    blocks, banners = _blocks(lines)
    return _Preparer(lines, file, audited, blocks, banners).run()


def _blocks(lines: list[str]) -> tuple[list[_Block], list[int]]:
    """Top-level commands with their indented lines; banner text lines apart."""
    blocks: list[_Block] = []
    banners: list[int] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            i += 1
            continue
        if line[0].isspace():
            if blocks:
                blocks[-1].children.append(i)
            else:
                blocks.append(_Block(i, stripped.split(), []))
            i += 1
            continue
        m = _BANNER.match(stripped)
        if m is not None:  # `banner motd ^C` ... `^C`: the text between is anything at all
            delim = "^C" if stripped[m.start(1) :].startswith("^C") else m.group(1)
            rest = stripped[m.start(1) + len(delim) :]
            banners.append(i)
            i += 1
            if delim not in rest:
                while i < len(lines) and delim not in lines[i]:
                    banners.append(i)
                    i += 1
                if i < len(lines):
                    banners.append(i)
                    i += 1
            continue
        blocks.append(_Block(i, stripped.split(), []))
        i += 1
    return blocks, banners


class _Preparer:
    def __init__(
        self,
        lines: list[str],
        file: str,
        audited: frozenset[str],
        blocks: list[_Block],
        banners: list[int],
    ) -> None:
        self.lines, self.file, self.audited = lines, file, audited
        self.blocks, self.banners = blocks, frozenset(banners)
        self.keep: set[int] = set()
        self.skipped: Counter[str] = Counter()
        self.audited_vlans = {
            int(i[4:]) for i in audited if i.startswith("Vlan") and i[4:].isdigit()
        }

    def fail(self, i: int, construct: str, todo: str) -> ConfigParseError:
        return ConfigParseError(
            self.file, i + 1, self.lines[i], f"{construct} is not modelled: {todo}"
        )

    def run(self) -> PreparedIos:
        bound: set[str] = set()  # ACL names that count (extended, standard, IPv6)
        for b in self.blocks:
            if b.words[0] == "interface" and len(b.words) == 2 and b.words[1] in self.audited:
                bound.update(self.audited_interface(b))
            elif b.words[:2] == ["line", "vty"]:
                bound.update(self.vty(b))
        for b in self.blocks:
            self.global_block(b, bound)
        groups = self.used_groups()
        for b in self.blocks:
            if b.words[0] == "object-group" and len(b.words) >= 3 and b.words[2] in groups:
                self.keep_block(b)
        if self.banners:
            self.skip("banner", len(self.banners))
        out = [
            line
            if i in self.keep
            or (not line.strip() or line.strip().startswith("!"))
            and i not in self.banners
            else ""
            for i, line in enumerate(self.lines)
        ]
        return PreparedIos("\n".join(out) + "\n", dict(sorted(self.skipped.items())))

    def keep_block(self, b: _Block) -> None:
        self.keep.add(b.start)
        self.keep.update(b.children)

    def skip(self, construct: str, count: int = 1) -> None:
        self.skipped[construct] += count

    def audited_interface(self, b: _Block) -> set[str]:
        """Check an audited interface's lines; the ACL names it binds."""
        self.keep.add(b.start)
        bound: set[str] = set()
        for i in b.children:
            stripped = self.lines[i].strip()
            words = stripped.split()
            if any(_starts(stripped, p) for p in MODELLED_INTERFACE):
                if words[:2] == ["ip", "access-group"] and words[-1] == "out":
                    raise self.fail(
                        i,
                        "an outbound ACL on an audited interface",
                        "zonewall filters inbound only; remove "
                        f"'{stripped}' or move its entries into the inbound ACLs",
                    )
                if (
                    words[:2] in (["ip", "access-group"], ["ipv6", "traffic-filter"])
                    and len(words) >= 3
                ):
                    bound.add(words[2])
                self.keep.add(i)
                continue
            if words[:1] == ["service-policy"]:
                self.service_policy(i, words)
                continue
            refused = next((r for r in REFUSED_INTERFACE if _starts(stripped, r[0])), None)
            if refused is not None:
                raise self.fail(i, refused[1], refused[2])
            if any(_starts(stripped, p) for p in INERT_INTERFACE):
                self.skip("interface line that cannot change forwarding")
                continue
            raise self.fail(
                i,
                "this command in an audited interface block",
                "if it cannot "
                "change what the interface forwards, delete it from the file you "
                "audit; otherwise audit this gateway by hand",
            )
        return bound

    def service_policy(self, i: int, words: list[str]) -> None:
        """`service-policy input|output NAME`: refused when the policy map polices, drops
        or inspects; skipped when it only marks or queues."""
        name = words[-1]
        body = next(
            (b for b in self.blocks if b.words[:1] == ["policy-map"] and b.words[-1] == name), None
        )
        if body is None:
            self.skip("service-policy of an undefined policy map")
            return
        for j in body.children:
            if (
                self.lines[j].split()[:1] in (["police"], ["drop"], ["inspect"])
                or "inspect" in body.words
            ):
                raise self.fail(
                    i,
                    "a QoS policy that polices or drops on an audited interface",
                    f"policy-map {name} (line {j + 1}) can drop "
                    "packets the policy permits; remove it from the interface "
                    "or audit by hand",
                )
        self.skip("service-policy that only marks or queues")

    def vty(self, b: _Block) -> set[str]:
        self.keep.add(b.start)
        bound = set()
        for i in b.children:
            words = self.lines[i].split()
            if words[:1] == ["access-class"] and len(words) >= 2:
                bound.add(words[1])
            if words[:1] in (
                ["stopbits"],
                ["password"],
                ["exec"],
                ["escape-character"],
                ["history"],
                ["location"],
                ["ipv6"],
                ["transport"],
            ) and words[:2] not in (["transport", "input"], ["transport", "output"]):
                self.skip("vty line setting that cannot change who connects")
                continue
            self.keep.add(i)
        return bound

    def global_block(self, b: _Block, bound: set[str]) -> None:
        w = b.words
        if b.start in self.keep or w == ["end"]:
            self.keep.add(b.start)
            return
        if w[:1] == ["interface"]:
            self.other_interface(b, bound)
        elif w[:2] == ["ip", "access-list"] and len(w) >= 4 and w[3] in bound:
            self.keep_block(b)
        elif w[:2] == ["ipv6", "access-list"] and len(w) >= 3 and w[2] in bound:
            self.keep_block(b)
        elif w[:1] == ["access-list"] and len(w) >= 2 and w[1] in bound:
            raise self.fail(
                b.start,
                f"numbered ACL {w[1]} in the one-line 'access-list' form",
                f"write it as 'ip access-list extended|standard {w[1]}' with its "
                "entries indented, as show running-config prints it on IOS-XE",
            )
        elif w[:2] == ["vlan", "filter"]:
            self.vlan_filter(b)
        elif w[:3] == ["cts", "role-based", "enforcement"]:
            raise self.fail(
                b.start,
                "TrustSec enforcement (SGACLs)",
                "SGACLs filter beside the ACLs; disable it or audit by hand",
            )
        elif w[:1] == ["object-group"]:
            return  # kept when used (`used_groups`), else counted below
        else:
            self.skip(_construct(w), 1 + len(b.children))

    def other_interface(self, b: _Block, bound: set[str]) -> None:
        """A non-audited interface: skipped, unless it is a switchport in an audited VLAN
        with a port ACL (it filters before the SVI)."""
        vlans: set[int] = set()
        acl = None
        for i in b.children:
            words = self.lines[i].split()
            if (
                words[:3] == ["switchport", "access", "vlan"]
                and len(words) == 4
                and words[3].isdigit()
            ):
                vlans.add(int(words[3]))
            elif words[:4] == ["switchport", "trunk", "allowed", "vlan"]:
                vlans.update(_vlan_list(" ".join(words[4:]).replace("add ", "")))
            elif words[:2] in (["ip", "access-group"], ["mac", "access-group"]):
                acl = i
        if acl is not None and vlans & self.audited_vlans:
            vlan = min(vlans & self.audited_vlans)
            raise self.fail(
                acl,
                f"a port ACL on switchport {b.words[1]} in audited VLAN {vlan}",
                "it filters packets before the SVI's ACL; remove it or audit by hand",
            )
        self.skip("interface not audited", 1 + len(b.children))

    def vlan_filter(self, b: _Block) -> None:
        w = b.words
        vlans = _vlan_list(" ".join(w[4:])) if w[3:4] == ["vlan-list"] else set()
        hit = vlans & self.audited_vlans
        if hit or " ".join(w[4:]) == "all":
            raise self.fail(
                b.start,
                f"a VLAN access map ({w[2]}) filtering audited VLAN {min(hit) if hit else 'all'}",
                "it filters packets beside the SVI's ACL; remove the vlan filter or audit by hand",
            )
        self.skip("vlan filter of VLANs not audited")

    def used_groups(self) -> set[str]:
        """Object groups the kept ACL lines use, with the groups they include."""
        groups = {
            b.words[2]: b for b in self.blocks if b.words[0] == "object-group" and len(b.words) >= 3
        }
        todo = [w for i in sorted(self.keep) for w in _group_refs(self.lines[i].split())]
        used: set[str] = set()
        while todo:
            name = todo.pop()
            if name in used or name not in groups:
                continue
            used.add(name)
            for i in groups[name].children:
                words = self.lines[i].split()
                if words[:1] == ["group-object"] and len(words) == 2:
                    todo.append(words[1])
        for name, b in groups.items():
            if name not in used:
                self.skip("object group not used by an audited ACL", 1 + len(b.children))
        return used


def _starts(text: str, prefix: str) -> bool:
    return text == prefix or text.startswith(prefix + " ")


def _group_refs(words: list[str]) -> list[str]:
    return [words[k + 1] for k in range(len(words) - 1) if words[k] == "object-group"]


def _vlan_list(text: str) -> set[int]:
    out: set[int] = set()
    for item in text.replace(" ", "").split(","):
        m = _RANGE.fullmatch(item)
        if m is not None:
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            out.update(range(lo, min(hi, 4094) + 1))
    return out


def _construct(words: list[str]) -> str:
    """A short name for a skipped global command: its first word, or two for the families
    IOS groups under one (`ip route`, `snmp-server community`)."""
    head = words[0]
    if head in ("Building", "Current"):
        return "show running-config header"
    if (
        head in ("ip", "ipv6", "no", "line", "router", "crypto", "snmp-server", "aaa")
        and len(words) > 1
    ):
        return f"{head} {words[1]}"
    return head
