"""IOS ACL entries and object groups, for `ios` (the Cisco IOS / IOS-XE parser).

`AceParser` reads one `permit|deny PROTO SRC [PORTS] DST [PORTS] [options]` entry (and an
`object-group service` member) into the verifier's rules; `ObjectGroup`, `group_line` and
`defined_group` hold `object-group network|service` definitions; `IOS_PROTOCOLS`,
`IOS_PORTS` and `IOS_ICMP` are the names IOS prints.  The grammar and its semantics are
documented in the `ios` module docstring.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

from .rules import EVERYTHING, MAX_ADDR, AddrMatch, Fail, Rule, RuleRef

__all__ = [
    "IOS_ICMP",
    "IOS_PORTS",
    "IOS_PROTOCOLS",
    "PORT_OPS",
    "AceParser",
    "ObjectGroup",
    "ServiceMember",
    "defined_group",
    "group_line",
    "ip_address",
    "network_member",
]

IOS_PROTOCOLS = {
    "tcp": TCP,
    "udp": UDP,
    "icmp": ICMP,
    "igmp": 2,
    "ipinip": 4,
    "gre": 47,
    "esp": 50,
    "ahp": 51,
    "eigrp": 88,
    "ospf": 89,
    "nos": 94,
    "pim": 103,
    "pcp": 108,
    "sctp": 132,
}
# The names IOS prints for well-known ports (show running-config), per protocol.
IOS_PORTS = {
    TCP: {
        "bgp": 179,
        "chargen": 19,
        "cmd": 514,
        "daytime": 13,
        "discard": 9,
        "domain": 53,
        "echo": 7,
        "exec": 512,
        "finger": 79,
        "ftp": 21,
        "ftp-data": 20,
        "gopher": 70,
        "hostname": 101,
        "ident": 113,
        "irc": 194,
        "klogin": 543,
        "kshell": 544,
        "login": 513,
        "lpd": 515,
        "nntp": 119,
        "pim-auto-rp": 496,
        "pop2": 109,
        "pop3": 110,
        "smtp": 25,
        "sunrpc": 111,
        "tacacs": 49,
        "talk": 517,
        "telnet": 23,
        "time": 37,
        "uucp": 540,
        "whois": 43,
        "www": 80,
    },
    UDP: {
        "biff": 512,
        "bootpc": 68,
        "bootps": 67,
        "discard": 9,
        "dnsix": 195,
        "domain": 53,
        "echo": 7,
        "isakmp": 500,
        "mobile-ip": 434,
        "nameserver": 42,
        "netbios-dgm": 138,
        "netbios-ns": 137,
        "netbios-ss": 139,
        "non500-isakmp": 4500,
        "ntp": 123,
        "pim-auto-rp": 496,
        "rip": 520,
        "snmp": 161,
        "snmptrap": 162,
        "sunrpc": 111,
        "syslog": 514,
        "tacacs": 49,
        "talk": 517,
        "tftp": 69,
        "time": 37,
        "who": 513,
        "xdmcp": 177,
    },
}
# IOS names that denote a whole ICMP type (names that also fix a code are not modelled).
IOS_ICMP = {
    "echo-reply": 0,
    "unreachable": 3,
    "source-quench": 4,
    "redirect": 5,
    "alternate-address": 6,
    "echo": 8,
    "router-advertisement": 9,
    "router-solicitation": 10,
    "time-exceeded": 11,
    "parameter-problem": 12,
    "timestamp-request": 13,
    "timestamp-reply": 14,
    "information-request": 15,
    "information-reply": 16,
    "mask-request": 17,
    "mask-reply": 18,
    "traceroute": 30,
    "conversion-error": 31,
    "mobile-redirect": 32,
}


# One member of a service group: destination keys and source ports (None: any).
ServiceMember = tuple[PacketSet, tuple[tuple[int, int], ...] | None]


@dataclass
class ObjectGroup:
    """An object group being read or read: its kind, members, and the groups it includes."""

    kind: str  # network | service
    name: str
    addresses: list[tuple[int, int]] = field(default_factory=list)
    services: list[ServiceMember] = field(default_factory=list)
    done: bool = False
    match: AddrMatch | None = None  # network groups: built once, on first use

    merged: list[ServiceMember] | None = None  # service groups: built once, on first use

    def address_match(self) -> AddrMatch:
        if self.match is None:
            self.match = AddrMatch.of(self.addresses)
        return self.match

    def merged_services(self) -> list[ServiceMember]:
        """The members as one (keys, source ports) per distinct source-port list, in order of
        first appearance: an entry's rules all have one action and one source and
        destination, so a packet any member matches gets that action whichever member it is;
        the union of the members with the same source ports is the same rule."""
        if self.merged is None:
            by_sports: dict[tuple[tuple[int, int], ...] | None, list[PacketSet]] = {}
            for keys, sports in self.services:
                by_sports.setdefault(sports, []).append(keys)
            self.merged = [
                (PacketSet.union_all(keys), sports) for sports, keys in by_sports.items()
            ]
        return self.merged


def group_line(
    group: ObjectGroup, words: list[str], groups: dict[str, ObjectGroup], fail: Fail
) -> None:
    if words[0] == "description":
        return
    if words[0] == "group-object":
        if len(words) != 2:
            raise fail("expected 'group-object NAME'")
        other = defined_group(groups, words[1], group.kind, fail)
        group.addresses.extend(other.addresses)
        group.services.extend(other.services)
    elif group.kind == "network":
        group.addresses.append(network_member(words, fail))
    else:
        group.services.append(AceParser(words, None, fail, groups).service_member())


def defined_group(groups: dict[str, ObjectGroup], name: str, kind: str, fail: Fail) -> ObjectGroup:
    """A complete, non-empty group of `kind` defined before this line."""
    group = groups.get(name)
    if group is None:
        raise fail(f"object group '{name}' is not defined before this line")
    if group.kind != kind:
        raise fail(f"object group '{name}' is a {group.kind} group, not a {kind} group")
    if not group.done:  # only the group being read is open
        raise fail(f"object group '{name}' includes itself")
    if not (group.addresses or group.services):
        raise fail(f"object group '{name}' is empty")
    return group


def network_member(words: list[str], fail: Fail) -> tuple[int, int]:
    """`host A`, `range A B`, `A M` (subnet mask) or `A /nn` as an address interval."""
    if words[0] in ("host", "range"):
        addrs = [ip_address(w) for w in words[1:]]
        if len(addrs) != (1 if words[0] == "host" else 2) or None in addrs:
            raise fail(f"bad '{words[0]}' member")
        lo, hi = addrs[0], addrs[-1]
        assert lo is not None and hi is not None
        if lo > hi:
            raise fail("empty address range")
        return lo, hi
    base = ip_address(words[0])
    if base is None or len(words) != 2:
        raise fail("expected host A, A.B.C.D M.M.M.M, A.B.C.D /nn or range A B")
    length = words[1][1:]
    if words[1][0] == "/" and length.isdigit() and int(length) <= 32:
        hostmask = MAX_ADDR >> int(length)
    else:
        mask = ip_address(words[1])
        if mask is None:
            raise fail(f"bad subnet mask '{words[1]}'")
        hostmask = ~mask & MAX_ADDR
        if hostmask & (hostmask + 1):
            raise fail(
                "a wildcard mask where a subnet mask is required"
                if not mask & (mask + 1)
                else "non-contiguous subnet masks are not modelled"
            )
    if base & hostmask:
        raise fail("address has bits set under the subnet mask")
    return base, base | hostmask


class AceParser:
    """`permit|deny PROTO SRC [PORTS] DST [PORTS] [options]` (sequence number removed)."""

    def __init__(
        self, words: list[str], ref: RuleRef | None, fail: Fail, groups: dict[str, ObjectGroup]
    ) -> None:
        self.words, self.ref, self.fail, self.groups = words, ref, fail, groups
        self.i = 0

    def take(self, what: str) -> str:
        if self.i >= len(self.words):
            raise self.fail(f"expected {what}")
        self.i += 1
        return self.words[self.i - 1]

    def peek(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def parse(self) -> tuple[Rule, ...]:
        action = "ACCEPT" if self.take("permit or deny") == "permit" else "DROP"
        word = self.take("a protocol")
        if word == "object-group":
            return self.service_group_entry(action)
        proto = self.protocol(word)
        src = self.address()
        sports = self.ports(proto) if self.peek() in PORT_OPS else None
        dst = self.address()
        keys = EVERYTHING if proto is None else _protocol_keys(proto)
        if self.peek() in PORT_OPS:
            dports = self.ports(proto)
            assert proto is not None
            keys = _port_keys(proto, dports)
        ack = None
        if proto == ICMP and self.peek() is not None and self.peek() not in ("log", "log-input"):
            keys = self.icmp_type()
        while self.peek() is not None:
            word = self.take("an option")
            if word == "established" and proto == TCP and ack is None:
                ack = True
            elif word in ("log", "log-input") and self.peek() is None:
                pass
            else:
                raise self.fail(f"'{word}' is not modelled here")
        assert self.ref is not None
        return (Rule(self.ref, action, None, None, None, src, dst, keys, sports, None, ack),)

    def service_group_entry(self, action: str) -> tuple[Rule, ...]:
        """`object-group SVC SRC DST [log]`: one rule per distinct source-port list of the
        service members (`ObjectGroup.merged_services`)."""
        services = defined_group(
            self.groups, self.take("a service group name"), "service", self.fail
        ).merged_services()
        src, dst = self.address(), self.address()
        if self.peek() in ("log", "log-input"):
            self.i += 1
        if self.peek() is not None:
            raise self.fail(f"'{self.peek()}' is not modelled after a service object group")
        assert self.ref is not None
        return tuple(
            Rule(self.ref, action, None, None, None, src, dst, keys, sports)
            for keys, sports in services
        )

    def service_member(self) -> ServiceMember:
        """An `object-group service` member (the whole line)."""
        word = self.take("a protocol")
        if word in ("tcp", "udp", "tcp-udp"):
            protos = (TCP, UDP) if word == "tcp-udp" else (TCP if word == "tcp" else UDP,)
            sports = None
            if self.peek() == "source":
                self.i += 1
                sports = self.member_ports(protos)
            dports = self.member_ports(protos) if self.peek() in PORT_OPS else None
            if self.peek() is not None:
                raise self.fail(f"'{self.peek()}' is not modelled in a service member")
            keys = PacketSet.union_all(
                PacketSet.protocol(p)
                if dports is None
                else PacketSet.union_all(PacketSet.ports(p, lo, hi) for lo, hi in dports)
                for p in protos
            )
            return keys, sports
        if word == "ip":
            keys = EVERYTHING
        else:
            proto = self.protocol(word)
            assert proto is not None
            keys = self.icmp_type() if proto == ICMP and self.peek() else PacketSet.protocol(proto)
        if self.peek() is not None:
            raise self.fail(f"'{self.peek()}' is not modelled in a service member")
        return keys, None

    def member_ports(self, protos: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """Ports after an operator, the same for every protocol of `tcp-udp` (or an error)."""
        start = self.i
        out = None
        for proto in protos:
            self.i = start
            ports = self.ports(proto)
            if out is not None and ports != out:
                raise self.fail("a port name that differs between tcp and udp")
            out = ports
        assert out is not None
        return out

    def protocol(self, word: str) -> int | None:
        if word == "ip":
            return None
        if word in IOS_PROTOCOLS:
            return IOS_PROTOCOLS[word]
        if word.isdigit() and 1 <= int(word) <= 255:
            return int(word)
        raise self.fail(f"protocol '{word}' is not modelled")

    def address(self) -> AddrMatch | None:
        word = self.take("an address")
        if word == "any":
            return None
        if word == "object-group":
            return defined_group(
                self.groups, self.take("a network group name"), "network", self.fail
            ).address_match()
        if word == "host":
            a = ip_address(self.take("a host address"))
            if a is None:
                raise self.fail("bad host address")
            return AddrMatch.of([(a, a)])
        match = _wildcard_match(word, self.peek() or "")
        if isinstance(match, str):
            raise self.fail(match)
        self.i += 1
        return match

    def ports(self, proto: int | None) -> tuple[tuple[int, int], ...]:
        if proto not in (TCP, UDP):
            raise self.fail("port operators need tcp or udp")
        op = self.take("a port operator")
        if op == "range":
            lo, hi = self.port(proto), self.port(proto)
            if lo > hi:
                raise self.fail("empty port range")
            return ((lo, hi),)
        first = self.port(proto)
        if op == "eq":
            ports = [first]
            while self.peek() is not None and _is_port(self.peek() or "", proto):
                ports.append(self.port(proto))
            return tuple(sorted((p, p) for p in set(ports)))
        if op == "neq":
            return tuple(
                iv for iv in ((0, first - 1), (first + 1, PORT_SPAN - 1)) if iv[0] <= iv[1]
            )
        if op == "gt":
            return ((first + 1, PORT_SPAN - 1),) if first < PORT_SPAN - 1 else ()
        return ((0, first - 1),) if first > 0 else ()  # lt

    def port(self, proto: int) -> int:
        word = self.take("a port")
        if word.isdigit() and int(word) < PORT_SPAN:
            return int(word)
        if word in IOS_PORTS[proto]:
            return IOS_PORTS[proto][word]
        raise self.fail(f"port '{word}' is not modelled")

    def icmp_type(self) -> PacketSet:
        word = self.take("an ICMP type")
        if word.isdigit() and int(word) <= 255:
            if (self.peek() or "").isdigit():
                raise self.fail("ICMP codes are not modelled")
            value = int(word)
        elif word in IOS_ICMP:
            value = IOS_ICMP[word]
        else:
            raise self.fail(f"ICMP type '{word}' is not modelled")
        return PacketSet.ports(ICMP, value, value)


PORT_OPS = frozenset({"eq", "neq", "gt", "lt", "range"})


def _is_port(word: str, proto: int) -> bool:
    return (word.isdigit() and int(word) < PORT_SPAN) or word in IOS_PORTS[proto]


# Generated configs repeat the same addresses and port sets on thousands of lines; these
# caches are keyed by the exact tokens and hold immutable results, so they are exact.
@functools.lru_cache(maxsize=65536)
def _wildcard_match(word: str, wildcard: str) -> AddrMatch | str:
    """`A WILDCARD` as an address match, or the reason it is not modelled."""
    base, wild = ip_address(word), ip_address(wildcard)
    if base is None or wild is None:
        return f"address '{word}' is not modelled"
    if wild & (wild + 1):
        return "non-contiguous wildcard masks are not modelled"
    lo = base & ~wild & MAX_ADDR
    return AddrMatch.of([(lo, lo | wild)])


@functools.lru_cache(maxsize=512)
def _protocol_keys(proto: int) -> PacketSet:
    return PacketSet.protocol(proto)


@functools.lru_cache(maxsize=65536)
def _port_keys(proto: int, ports: tuple[tuple[int, int], ...]) -> PacketSet:
    return PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in ports)


@functools.lru_cache(maxsize=65536)
def ip_address(word: str) -> int | None:
    parts = word.split(".")
    if len(parts) != 4 or not all(
        p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
    ):
        return None
    return int.from_bytes(bytes(int(p) for p in parts), "big")
