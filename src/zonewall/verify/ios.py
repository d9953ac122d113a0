"""Parser for Cisco IOS / IOS-XE text: named extended IPv4 ACLs and their inbound bindings.

Accepted input is what zonewall writes (the ACL file, the switch file, or both concatenated)
and the same commands as `show running-config` prints them.  Modelled exactly:

* `ip access-list extended NAME`, then indented entries `[SEQ] remark ...` and
  `[SEQ] permit|deny PROTO SRC [PORTS] DST [PORTS] [established] [ICMP-TYPE] [log|log-input]`
  with PROTO `ip`, `tcp`, `udp`, `icmp`, a name (gre, esp, ...) or 1-255; SRC/DST `any`,
  `host A` or `A WILDCARD` (contiguous wildcards only; bits under the wildcard are ignored,
  as IOS does); PORTS `eq P [P...]`, `neq P`, `gt P`, `lt P`, `range P Q` with numbers or the
  IOS names of TCP/UDP ports; ICMP types by number or by the IOS names of whole types.
  Entries without a number get the last number + 10; entries run in number order.
* `object-group network NAME` with members `host A`, `A.B.C.D M.M.M.M` (a subnet mask: a
  wildcard or non-contiguous mask, or host bits under the mask, is an error), `A.B.C.D /nn`,
  `range A B`, `group-object NAME` and `description ...`; `object-group service NAME` with
  members `tcp|udp|tcp-udp [source OP P] [OP P]` (OP as for ACL entries), `icmp [TYPE]`, `ip`,
  a protocol name or number 1-255, `group-object NAME` and `description ...`.  A group is
  defined once, before anything references it; `group-object` names a group of the same kind.
  ACL entries may then read `permit|deny object-group SVC SRC DST [log]` and use
  `object-group NAME` for SRC or DST in any entry.  An entry with a service group becomes one
  rule per distinct source-port list of its (flattened) service members, the members' keys
  united, all on the entry's line: they are consecutive and share the action and addresses,
  so first match over them is the entry's match.  Undefined, empty or
  self-including groups, and `established` or port operators with a service group, are errors.
* `ipv6 access-list NAME` blocks and `ipv6 traffic-filter NAME in` (module `ios6`): IPv6 is
  not in the policy, so it is checked to be closed (neighbour discovery only) on every
  interface the gateway filters; the result is an `IosRuleset`, whose `ipv6` holds each
  bound interface's IPv6 rules.
* `interface NAME` blocks: `ip access-group NAME in` is what filters.  The other lines
  recognised there cannot change what is permitted and are ignored: `description`,
  `ip helper-address A` (DHCP relay of broadcasts the ACL has
  already admitted), `no shutdown`.  `vlan N` blocks may hold `name X` only.  `!` lines, blank
  lines and `end` are ignored.
* `ip access-list standard NAME` and `line vty N [M]` blocks (module `ios_vty`): who may
  open a management session; `ip address A M [secondary]` in an interface block is read as
  one of the switch's own addresses (traffic to them is compared as the gateway plane).

Everything else (outbound ACLs, other object-group kinds, numbered ACLs,
`shutdown`, any other command) is a `ConfigParseError`.  Semantics: an inbound ACL is first
match with an implicit deny; an interface with no ACL bound, or bound to an ACL that is
undefined or has no entries, permits everything, as on IOS.  ACLs are stateless: the
comparison checks the reply packets (`established`, UDP from the service port, echo-reply)
explicitly.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

from .ios6 import Acl6, PortReader, V6Acls, V6Finding, V6Rule, acl6_line, v6_findings
from .ios_vty import StdAcl, VtyConfig, VtyLine
from .rules import (
    EVERYTHING,
    MAX_ADDR,
    AddrMatch,
    Chain,
    ConfigParseError,
    Fail,
    Rule,
    RuleRef,
    Ruleset,
)

__all__ = ["IOS_PORTS", "IosRuleset", "parse_ios"]

IOS_PROTOCOLS = {"tcp": TCP, "udp": UDP, "icmp": ICMP, "igmp": 2, "ipinip": 4, "gre": 47,
                 "esp": 50, "ahp": 51, "eigrp": 88, "ospf": 89, "nos": 94, "pim": 103,
                 "pcp": 108, "sctp": 132}
# The names IOS prints for well-known ports (show running-config), per protocol.
IOS_PORTS = {
    TCP: {"bgp": 179, "chargen": 19, "cmd": 514, "daytime": 13, "discard": 9, "domain": 53,
          "echo": 7, "exec": 512, "finger": 79, "ftp": 21, "ftp-data": 20, "gopher": 70,
          "hostname": 101, "ident": 113, "irc": 194, "klogin": 543, "kshell": 544,
          "login": 513, "lpd": 515, "nntp": 119, "pim-auto-rp": 496, "pop2": 109, "pop3": 110,
          "smtp": 25, "sunrpc": 111, "tacacs": 49, "talk": 517, "telnet": 23, "time": 37,
          "uucp": 540, "whois": 43, "www": 80},
    UDP: {"biff": 512, "bootpc": 68, "bootps": 67, "discard": 9, "dnsix": 195, "domain": 53,
          "echo": 7, "isakmp": 500, "mobile-ip": 434, "nameserver": 42, "netbios-dgm": 138,
          "netbios-ns": 137, "netbios-ss": 139, "non500-isakmp": 4500, "ntp": 123,
          "pim-auto-rp": 496, "rip": 520, "snmp": 161, "snmptrap": 162, "sunrpc": 111,
          "syslog": 514, "tacacs": 49, "talk": 517, "tftp": 69, "time": 37, "who": 513,
          "xdmcp": 177},
}
# IOS names that denote a whole ICMP type (names that also fix a code are not modelled).
IOS_ICMP = {"echo-reply": 0, "unreachable": 3, "source-quench": 4, "redirect": 5,
            "alternate-address": 6, "echo": 8, "router-advertisement": 9,
            "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
            "timestamp-request": 13, "timestamp-reply": 14, "information-request": 15,
            "information-reply": 16, "mask-request": 17, "mask-reply": 18, "traceroute": 30,
            "conversion-error": 31, "mobile-redirect": 32}
IGNORED_INTERFACE = ("description", "ip helper-address", "no shutdown")
SEQ_MAX = 2147483647


@dataclass(frozen=True, slots=True)
class IosRuleset(Ruleset):
    """An IOS ruleset: the IPv4 chains, plus each interface's inbound IPv6 filter (rules in
    order, implicit ones included); an interface not in `ipv6` passes all IPv6.  Also the
    vty lines (who may open a session, `ios_vty`; standard ACLs are the chains "std NAME")
    and each interface's `ip address` addresses (the switch's own)."""

    ipv6: dict[str, tuple[V6Rule, ...]] = field(default_factory=dict)
    ipv6_open: RuleRef | None = None  # the verdict of an interface with no IPv6 filter
    vty: tuple[VtyLine, ...] = ()
    addresses: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def ipv6_findings(self, interfaces: Iterable[str]) -> list[V6Finding]:
        """Where IPv6 entering these interfaces is not closed but neighbour discovery."""
        assert self.ipv6_open is not None
        open_rules = (V6Rule(self.ipv6_open, "ACCEPT", None, None, EVERYTHING),)
        return [f for i in interfaces for f in v6_findings(i, self.ipv6.get(i, open_rules))]


@dataclass
class _Acl:
    name: str
    line: int
    entries: dict[int, tuple[Rule, ...]] = field(default_factory=dict)


# One member of a service group: destination keys and source ports (None: any).
_Service = tuple[PacketSet, tuple[tuple[int, int], ...] | None]


@dataclass
class _Group:
    """An object group being read or read: its kind, members, and the groups it includes."""

    kind: str  # network | service
    name: str
    addresses: list[tuple[int, int]] = field(default_factory=list)
    services: list[_Service] = field(default_factory=list)
    done: bool = False
    match: AddrMatch | None = None  # network groups: built once, on first use

    merged: list[_Service] | None = None  # service groups: built once, on first use

    def address_match(self) -> AddrMatch:
        if self.match is None:
            self.match = AddrMatch.of(self.addresses)
        return self.match

    def merged_services(self) -> list[_Service]:
        """The members as one (keys, source ports) per distinct source-port list, in order of
        first appearance: an entry's rules all have one action and one source and
        destination, so a packet any member matches gets that action whichever member it is;
        the union of the members with the same source ports is the same rule."""
        if self.merged is None:
            by_sports: dict[tuple[tuple[int, int], ...] | None, list[PacketSet]] = {}
            for keys, sports in self.services:
                by_sports.setdefault(sports, []).append(keys)
            self.merged = [(PacketSet.union_all(keys), sports)
                           for sports, keys in by_sports.items()]
        return self.merged


def _group_line(group: _Group, words: list[str], groups: dict[str, _Group],
                fail: Fail) -> None:
    if words[0] == "description":
        return
    if words[0] == "group-object":
        if len(words) != 2:
            raise fail("expected 'group-object NAME'")
        other = _defined(groups, words[1], group.kind, fail)
        group.addresses.extend(other.addresses)
        group.services.extend(other.services)
    elif group.kind == "network":
        group.addresses.append(_network_member(words, fail))
    else:
        group.services.append(_AceParser(words, None, fail, groups).service_member())


def _defined(groups: dict[str, _Group], name: str, kind: str, fail: Fail) -> _Group:
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


def _network_member(words: list[str], fail: Fail) -> tuple[int, int]:
    """`host A`, `range A B`, `A M` (subnet mask) or `A /nn` as an address interval."""
    if words[0] in ("host", "range"):
        addrs = [_ip(w) for w in words[1:]]
        if len(addrs) != (1 if words[0] == "host" else 2) or None in addrs:
            raise fail(f"bad '{words[0]}' member")
        lo, hi = addrs[0], addrs[-1]
        assert lo is not None and hi is not None
        if lo > hi:
            raise fail("empty address range")
        return lo, hi
    base = _ip(words[0])
    if base is None or len(words) != 2:
        raise fail("expected host A, A.B.C.D M.M.M.M, A.B.C.D /nn or range A B")
    length = words[1][1:]
    if words[1][0] == "/" and length.isdigit() and int(length) <= 32:
        hostmask = MAX_ADDR >> int(length)
    else:
        mask = _ip(words[1])
        if mask is None:
            raise fail(f"bad subnet mask '{words[1]}'")
        hostmask = ~mask & MAX_ADDR
        if hostmask & (hostmask + 1):
            raise fail("a wildcard mask where a subnet mask is required" if not mask & (mask + 1)
                       else "non-contiguous subnet masks are not modelled")
    if base & hostmask:
        raise fail("address has bits set under the subnet mask")
    return base, base | hostmask


def parse_ios(text: str, file: str = "<ios>") -> IosRuleset:
    """Parse IOS text into a `Ruleset` whose entry for an interface is its inbound ACL."""
    acls: dict[str, _Acl] = {}
    groups: dict[str, _Group] = {}
    bindings: dict[str, tuple[str, int, str]] = {}
    addresses: dict[str, list[int]] = {}
    v6 = V6Acls()
    vty = VtyConfig(file)
    block: tuple[str, object] | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            if stripped.startswith("!"):
                if block is not None and block[0] == "group":
                    assert isinstance(block[1], _Group)
                    block[1].done = True
                block = None
            continue

        def fail(msg: str, n: int = n, raw: str = raw) -> ConfigParseError:
            return ConfigParseError(file, n, raw, msg)

        if not line[0].isspace():
            if block is not None and block[0] == "group":
                assert isinstance(block[1], _Group)
                block[1].done = True
            words = stripped.split()
            if words[:2] == ["ipv6", "access-list"]:
                if len(words) != 3 or not words[2][0].isalpha():
                    raise fail("expected 'ipv6 access-list NAME'")
                block = "acl6", v6.open(words[2], n)
                continue
            if words[:3] == ["ip", "access-list", "standard"]:
                block = "std", vty.open_std(words, n, fail)
                continue
            if words[:2] == ["line", "vty"]:
                block = "vty", vty.open_lines(words, fail)
                continue
            block = _top_level(words, acls, groups, fail, n)
            continue
        if block is None:
            raise fail("indented line outside an ACL, interface or vlan block")
        words = stripped.split()
        kind, obj = block
        if kind == "acl":
            assert isinstance(obj, _Acl)
            _acl_line(obj, words, RuleRef(file, n, raw), fail, groups)
        elif kind == "group":
            assert isinstance(obj, _Group)
            _group_line(obj, words, groups, fail)
        elif kind == "acl6":
            assert isinstance(obj, Acl6)
            acl6_line(obj, words, RuleRef(file, n, raw), fail, _port_reader(fail, groups))
        elif kind == "std":
            assert isinstance(obj, StdAcl)
            vty.std_line(obj, words, RuleRef(file, n, raw), fail, _std_address(fail, groups))
        elif kind == "vty":
            assert isinstance(obj, range)
            vty.line_command(obj, words, stripped, RuleRef(file, n, raw), fail)
        elif kind == "interface":
            assert isinstance(obj, str)
            if words[:2] == ["ipv6", "traffic-filter"]:
                v6.bind(obj, words, n, raw, fail)
            elif words[:2] == ["ip", "address"]:
                addresses.setdefault(obj, []).append(_interface_address(words, fail))
            else:
                _interface_line(obj, words, stripped, bindings, fail, n, raw)
        elif words[0] != "name" or len(words) != 2:
            raise fail("only 'name' is modelled in a vlan block")
    ruleset = _ruleset(acls, bindings, file, v6)
    return dataclasses.replace(
        ruleset, chains={**ruleset.chains, **vty.chains()}, vty=vty.result(),
        addresses={i: tuple(a) for i, a in addresses.items()})


def _std_address(fail: Fail, groups: dict[str, _Group]
                 ) -> Callable[[list[str]], tuple[AddrMatch | None, list[str]]]:
    """The source of a standard ACL entry (`any`, `host A`, `A WILDCARD`) and what follows."""
    def read(words: list[str]) -> tuple[AddrMatch | None, list[str]]:
        if words and words[0] == "object-group":
            raise fail("object groups are not modelled in a standard ACL")
        parser = _AceParser(words, None, fail, groups)
        return parser.address(), words[parser.i:]
    return read


def _interface_address(words: list[str], fail: Fail) -> int:
    """`ip address A M [secondary]`: the interface's own address A."""
    addr = _ip(words[2]) if len(words) in (4, 5) else None
    if addr is None or _ip(words[3]) is None or words[4:] not in ([], ["secondary"]):
        raise fail("expected 'ip address A.B.C.D M.M.M.M [secondary]'")
    return addr


def _port_reader(fail: Fail, groups: dict[str, _Group]) -> PortReader:
    """Port operators of IPv6 entries, read as in IPv4 entries."""
    def read(words: list[str], i: int, proto: int) -> tuple[tuple[tuple[int, int], ...], int]:
        parser = _AceParser(words, None, fail, groups)
        parser.i = i
        return parser.ports(proto), parser.i
    return read


def _top_level(words: list[str], acls: dict[str, _Acl], groups: dict[str, _Group],
               fail: Fail, n: int) -> tuple[str, object] | None:
    if words == ["end"]:
        return None
    if words[0] == "object-group" and len(words) == 3 and words[1] in ("network", "service"):
        if words[2] in groups:
            raise fail(f"object group '{words[2]}' is defined twice")
        group = groups[words[2]] = _Group(words[1], words[2])
        return "group", group
    if words[:3] == ["ip", "access-list", "extended"] and len(words) == 4:
        name = words[3]
        if not name[0].isalpha() and not _numbered_extended(name):
            raise fail("numbered ACLs are not modelled (but for extended ones, 100-199 and "
                        "2000-2699)")
        return "acl", acls.setdefault(name, _Acl(name, n))
    if words[0] == "interface" and len(words) == 2:
        return "interface", words[1]
    if words[0] == "vlan" and len(words) == 2 and words[1].isdigit():
        return "vlan", words[1]
    raise fail("command is not modelled")


def _numbered_extended(name: str) -> bool:
    """IOS-XE prints an extended ACL numbered 100-199 or 2000-2699 as `ip access-list
    extended 101`, with the entries of a named one."""
    return name.isdigit() and (100 <= int(name) <= 199 or 2000 <= int(name) <= 2699)


def _interface_line(iface: str, words: list[str], stripped: str,
                    bindings: dict[str, tuple[str, int, str]], fail: Fail, n: int,
                    raw: str) -> None:
    if words[:2] == ["ip", "access-group"]:
        if len(words) != 4 or words[3] != "in":
            raise fail("only 'ip access-group NAME in' is modelled")
        bindings[iface] = (words[2], n, raw)
        return
    for prefix in IGNORED_INTERFACE:
        if stripped == prefix or stripped.startswith(prefix + " "):
            if prefix == "no shutdown" and stripped != prefix:
                break
            return
    raise fail("interface command is not modelled")


def _acl_line(acl: _Acl, words: list[str], ref: RuleRef, fail: Fail,
              groups: dict[str, _Group]) -> None:
    seq = None
    if words[0].isdigit():
        seq = int(words[0])
        words = words[1:]
        if not 1 <= seq <= SEQ_MAX:
            raise fail("sequence number out of range")
    if not words:
        raise fail("empty entry")
    if words[0] == "remark":
        return
    if words[0] not in ("permit", "deny"):
        raise fail(f"'{words[0]}' is not modelled in an ACL")
    if seq is None:
        seq = max(acl.entries, default=0) + 10
    if seq in acl.entries:
        raise fail(f"duplicate sequence number {seq}")
    acl.entries[seq] = _AceParser(words, ref, fail, groups).parse()


def _ruleset(acls: dict[str, _Acl], bindings: dict[str, tuple[str, int, str]],
             file: str, v6: V6Acls) -> IosRuleset:
    chains: dict[str, Chain] = {}
    entry: dict[str, tuple[str, ...]] = {}
    for name, acl in acls.items():
        rules = tuple(r for s in sorted(acl.entries) for r in acl.entries[s])
        ref = RuleRef(file, acl.line, f"implicit deny at the end of ACL {name}")
        chains["acl " + name] = Chain("acl " + name, rules, "DROP", ref)
    for iface, (name, n, raw) in bindings.items():
        if name in acls and acls[name].entries:
            entry[iface] = ("acl " + name,)
            continue
        why = "undefined" if name not in acls else "empty"
        chain = f"open {iface}"
        chains[chain] = Chain(chain, (), "ACCEPT",
                              RuleRef(file, n, f"{raw.strip()}  (ACL {why}: permits everything)"))
        entry[iface] = (chain,)
    chains["open"] = Chain("open", (), "ACCEPT",
                           RuleRef(file, None, "no inbound ACL bound: permits everything"))
    return IosRuleset("cisco-ios", file, chains, default_entry=("open",), entry=entry,
                      stateful=False, ipv6=v6.filters(file),
                      ipv6_open=RuleRef(file, None, "no ipv6 traffic-filter bound: permits "
                                        "all IPv6"))


class _AceParser:
    """`permit|deny PROTO SRC [PORTS] DST [PORTS] [options]` (sequence number removed)."""

    def __init__(self, words: list[str], ref: RuleRef | None, fail: Fail,
                 groups: dict[str, _Group]) -> None:
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
        sports = self.ports(proto) if self.peek() in _PORT_OPS else None
        dst = self.address()
        keys = EVERYTHING if proto is None else _protocol_keys(proto)
        if self.peek() in _PORT_OPS:
            dports = self.ports(proto)
            assert proto is not None
            keys = _port_keys(proto, dports)
        ack = None
        if proto == ICMP and self.peek() is not None and self.peek() not in ("log",
                                                                            "log-input"):
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
        service members (`_Group.merged_services`)."""
        services = _defined(self.groups, self.take("a service group name"), "service",
                            self.fail).merged_services()
        src, dst = self.address(), self.address()
        if self.peek() in ("log", "log-input"):
            self.i += 1
        if self.peek() is not None:
            raise self.fail(f"'{self.peek()}' is not modelled after a service object group")
        assert self.ref is not None
        return tuple(Rule(self.ref, action, None, None, None, src, dst, keys, sports)
                     for keys, sports in services)

    def service_member(self) -> _Service:
        """An `object-group service` member (the whole line)."""
        word = self.take("a protocol")
        if word in ("tcp", "udp", "tcp-udp"):
            protos = (TCP, UDP) if word == "tcp-udp" else (TCP if word == "tcp" else UDP,)
            sports = None
            if self.peek() == "source":
                self.i += 1
                sports = self.member_ports(protos)
            dports = self.member_ports(protos) if self.peek() in _PORT_OPS else None
            if self.peek() is not None:
                raise self.fail(f"'{self.peek()}' is not modelled in a service member")
            keys = PacketSet.union_all(
                PacketSet.protocol(p) if dports is None else
                PacketSet.union_all(PacketSet.ports(p, lo, hi) for lo, hi in dports)
                for p in protos)
            return keys, sports
        if word == "ip":
            keys = EVERYTHING
        else:
            proto = self.protocol(word)
            assert proto is not None
            keys = self.icmp_type() if proto == ICMP and self.peek() else PacketSet.protocol(
                proto)
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
            return _defined(self.groups, self.take("a network group name"), "network",
                            self.fail).address_match()
        if word == "host":
            a = _ip(self.take("a host address"))
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
            return tuple(iv for iv in ((0, first - 1), (first + 1, PORT_SPAN - 1))
                         if iv[0] <= iv[1])
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


_PORT_OPS = frozenset({"eq", "neq", "gt", "lt", "range"})


def _is_port(word: str, proto: int) -> bool:
    return (word.isdigit() and int(word) < PORT_SPAN) or word in IOS_PORTS[proto]


# Generated configs repeat the same addresses and port sets on thousands of lines; these
# caches are keyed by the exact tokens and hold immutable results, so they are exact.
@functools.lru_cache(maxsize=65536)
def _wildcard_match(word: str, wildcard: str) -> AddrMatch | str:
    """`A WILDCARD` as an address match, or the reason it is not modelled."""
    base, wild = _ip(word), _ip(wildcard)
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
def _ip(word: str) -> int | None:
    parts = word.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0")
                                  for p in parts):
        return None
    return int.from_bytes(bytes(int(p) for p in parts), "big")
