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
* `interface NAME` blocks: `ip access-group NAME in` is what filters.  The other lines
  recognised there cannot change what is permitted and are ignored: `description`,
  `ip address A M [secondary]`, `ip helper-address A` (DHCP relay of broadcasts the ACL has
  already admitted), `no shutdown`.  `vlan N` blocks may hold `name X` only.  `!` lines, blank
  lines and `end` are ignored.

Everything else (outbound ACLs, object groups, standard or numbered ACLs, `shutdown`, any
other command) is a `ConfigParseError`.  Semantics: an inbound ACL is first match with an
implicit deny; an interface with no ACL bound, or bound to an ACL that is undefined or has no
entries, permits everything, as on IOS.  ACLs are stateless: the comparison checks the reply
packets (`established`, UDP from the service port, echo-reply) explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

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

__all__ = ["IOS_PORTS", "parse_ios"]

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
IGNORED_INTERFACE = ("description", "ip address", "ip helper-address", "no shutdown")
SEQ_MAX = 2147483647


@dataclass
class _Acl:
    name: str
    line: int
    entries: dict[int, Rule] = field(default_factory=dict)


def parse_ios(text: str, file: str = "<ios>") -> Ruleset:
    """Parse IOS text into a `Ruleset` whose entry for an interface is its inbound ACL."""
    acls: dict[str, _Acl] = {}
    bindings: dict[str, tuple[str, int, str]] = {}
    block: tuple[str, object] | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            if stripped.startswith("!"):
                block = None
            continue

        def fail(msg: str, n: int = n, raw: str = raw) -> ConfigParseError:
            return ConfigParseError(file, n, raw, msg)

        if not line[0].isspace():
            words = stripped.split()
            block = _top_level(words, acls, fail, n)
            continue
        if block is None:
            raise fail("indented line outside an ACL, interface or vlan block")
        words = stripped.split()
        kind, obj = block
        if kind == "acl":
            assert isinstance(obj, _Acl)
            _acl_line(obj, words, RuleRef(file, n, raw), fail)
        elif kind == "interface":
            assert isinstance(obj, str)
            _interface_line(obj, words, stripped, bindings, fail, n, raw)
        elif words[0] != "name" or len(words) != 2:
            raise fail("only 'name' is modelled in a vlan block")
    return _ruleset(acls, bindings, file)


def _top_level(words: list[str], acls: dict[str, _Acl], fail: Fail,
               n: int) -> tuple[str, object] | None:
    if words == ["end"]:
        return None
    if words[:3] == ["ip", "access-list", "extended"] and len(words) == 4:
        name = words[3]
        if not name[0].isalpha():
            raise fail("numbered ACLs are not modelled")
        return "acl", acls.setdefault(name, _Acl(name, n))
    if words[0] == "interface" and len(words) == 2:
        return "interface", words[1]
    if words[0] == "vlan" and len(words) == 2 and words[1].isdigit():
        return "vlan", words[1]
    raise fail("command is not modelled")


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


def _acl_line(acl: _Acl, words: list[str], ref: RuleRef, fail: Fail) -> None:
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
    acl.entries[seq] = _AceParser(words, ref, fail).parse()


def _ruleset(acls: dict[str, _Acl], bindings: dict[str, tuple[str, int, str]],
             file: str) -> Ruleset:
    chains: dict[str, Chain] = {}
    entry: dict[str, tuple[str, ...]] = {}
    for name, acl in acls.items():
        rules = tuple(acl.entries[s] for s in sorted(acl.entries))
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
    return Ruleset("cisco-ios", file, chains, default_entry=("open",), entry=entry,
                   stateful=False)


class _AceParser:
    """`permit|deny PROTO SRC [PORTS] DST [PORTS] [options]` (sequence number removed)."""

    def __init__(self, words: list[str], ref: RuleRef, fail: Fail) -> None:
        self.words, self.ref, self.fail = words, ref, fail
        self.i = 0

    def take(self, what: str) -> str:
        if self.i >= len(self.words):
            raise self.fail(f"expected {what}")
        self.i += 1
        return self.words[self.i - 1]

    def peek(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def parse(self) -> Rule:
        action = "ACCEPT" if self.take("permit or deny") == "permit" else "DROP"
        proto = self.protocol(self.take("a protocol"))
        src = self.address()
        sports = self.ports(proto) if self.peek() in _PORT_OPS else None
        dst = self.address()
        keys = EVERYTHING if proto is None else PacketSet.protocol(proto)
        if self.peek() in _PORT_OPS:
            dports = self.ports(proto)
            assert proto is not None
            keys = PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in dports)
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
        return Rule(self.ref, action, None, None, None, src, dst, keys, sports, None, ack)

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
        if word == "host":
            a = _ip(self.take("a host address"))
            if a is None:
                raise self.fail("bad host address")
            return AddrMatch.of([(a, a)])
        base, wild = _ip(word), _ip(self.peek() or "")
        if base is None or wild is None:
            raise self.fail(f"address '{word}' is not modelled (object groups are not)")
        self.i += 1
        if wild & (wild + 1):
            raise self.fail("non-contiguous wildcard masks are not modelled")
        lo = base & ~wild & MAX_ADDR
        return AddrMatch.of([(lo, lo | wild)])

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


def _ip(word: str) -> int | None:
    parts = word.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0")
                                  for p in parts):
        return None
    return int.from_bytes(bytes(int(p) for p in parts), "big")
