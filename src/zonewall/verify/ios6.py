"""IPv6 on Cisco IOS: `ipv6 access-list` filters bound with `ipv6 traffic-filter NAME in`.

The policy language describes IPv4 only, so the enforcement model for IPv6 is closed: on every
interface the gateway filters, IPv6 must not pass except neighbour discovery with the switch
(ICMPv6 133-136: router solicitation and advertisement, neighbour solicitation and
advertisement).  Neighbour solicitation and advertisement (135, 136) must pass, or IPv6 on the
link breaks; router solicitation and advertisement may.

Modelled exactly (anything else is a `ConfigParseError`):

* `ipv6 access-list NAME`, then indented entries `[sequence N] permit|deny PROTO SRC DST
  [PORTS] [ICMP-TYPE] [log|log-input]` and `remark ...`.  PROTO is `ipv6`, `icmp` (ICMPv6),
  `tcp`, `udp` or a number 0-255; SRC/DST `any`, `host A` or `A/LEN` (no bits under the
  length); PORTS (tcp/udp) as in IPv4 entries; ICMPv6 types by number or by the IOS names
  below.  Entries without a number get the last number + 10; entries run in number order.
  Every IPv6 ACL ends with the implicit `permit icmp any any nd-na`, `permit icmp any any
  nd-ns` and `deny ipv6 any any`.
* `ipv6 traffic-filter NAME in` in an interface block.  An interface with no filter, or a
  filter naming an undefined or empty ACL, passes all IPv6 (fail closed: that is reported).

Addresses are 128-bit integers; verdicts are computed exactly over the address atoms the
rules cut (few: zonewall writes `any`), per service key as `PacketSet`s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from zonewall.packets import PORT_SPAN, TCP, UDP, PacketSet

from .rules import EVERYTHING, Fail, RuleRef

__all__ = [
    "ICMP6",
    "Acl6",
    "ND_ALL",
    "ND_REQUIRED",
    "PortReader",
    "V6Acls",
    "V6Finding",
    "V6Rule",
    "acl6_line",
    "first_match",
    "v6_findings",
]

ICMP6 = 58
ICMP6_TYPES = {
    "unreachable": 1,
    "packet-too-big": 2,
    "time-exceeded": 3,
    "parameter-problem": 4,
    "echo-request": 128,
    "echo-reply": 129,
    "mld-query": 130,
    "mld-report": 131,
    "mld-reduction": 132,
    "router-solicitation": 133,
    "router-advertisement": 134,
    "nd-ns": 135,
    "nd-na": 136,
    "redirect": 137,
}
ND_ALL = PacketSet.ports(ICMP6, 133, 136)
ND_REQUIRED = PacketSet.ports(ICMP6, 135, 136)
VOID6 = PacketSet.ports(ICMP6, 256, PORT_SPAN - 1)  # ICMPv6 "types" above 255 are no packet
MAX6 = (1 << 128) - 1
SEQ_MAX = 2147483647
# Reads a port operator and its ports at words[i:] for a protocol: (intervals, next index).
PortReader = Callable[[list[str], int, int], tuple[tuple[tuple[int, int], ...], int]]
_PROTOCOLS = {"ipv6": None, "icmp": ICMP6, "tcp": TCP, "udp": UDP}


@dataclass(frozen=True, slots=True)
class V6Rule:
    """One IPv6 entry: action ACCEPT or DROP; addresses as intervals (None: any)."""

    ref: RuleRef
    action: str
    src: tuple[int, int] | None
    dst: tuple[int, int] | None
    keys: PacketSet

    def matches(self, src: int, dst: int) -> bool:
        return all(m is None or m[0] <= a <= m[1] for m, a in ((self.src, src), (self.dst, dst)))


@dataclass(frozen=True, slots=True)
class V6Finding:
    """IPv6 on `ingress` that the config treats otherwise than the model (closed, ND only)."""

    ingress: str
    kind: str  # permits-too-much | blocks-needed
    src: str  # an address where it holds
    dst: str | None  # None: for every destination (and source)
    packets: PacketSet
    rules: tuple[RuleRef, ...]
    example: str  # one packet, re-checked by `first_match`


@dataclass
class Acl6:
    name: str
    line: int
    entries: dict[int, V6Rule] = field(default_factory=dict)


@dataclass
class V6Acls:
    """The IPv6 ACLs and traffic-filter bindings of one IOS text, while it is read."""

    acls: dict[str, Acl6] = field(default_factory=dict)
    bindings: dict[str, tuple[str, int, str]] = field(default_factory=dict)

    def open(self, name: str, line: int) -> Acl6:
        return self.acls.setdefault(name, Acl6(name, line))

    def bind(self, iface: str, words: list[str], n: int, raw: str, fail: Fail) -> None:
        if len(words) != 4 or words[3] != "in":
            raise fail("only 'ipv6 traffic-filter NAME in' is modelled")
        self.bindings[iface] = (words[2], n, raw)

    def filters(self, file: str) -> dict[str, tuple[V6Rule, ...]]:
        """Each bound interface's rules in order, implicit ones included."""
        out: dict[str, tuple[V6Rule, ...]] = {}
        for iface, (name, n, raw) in self.bindings.items():
            acl = self.acls.get(name)
            if acl is None or not acl.entries:
                why = "undefined" if acl is None else "empty"
                out[iface] = (
                    V6Rule(
                        RuleRef(file, n, f"{raw.strip()}  (IPv6 ACL {why}: permits all IPv6)"),
                        "ACCEPT",
                        None,
                        None,
                        EVERYTHING,
                    ),
                )
                continue
            end = f"implicit at the end of IPv6 ACL {name}"
            out[iface] = (
                *(acl.entries[s] for s in sorted(acl.entries)),
                V6Rule(
                    RuleRef(file, acl.line, f"{end}: permit icmp any any nd-na"),
                    "ACCEPT",
                    None,
                    None,
                    PacketSet.ports(ICMP6, 136, 136),
                ),
                V6Rule(
                    RuleRef(file, acl.line, f"{end}: permit icmp any any nd-ns"),
                    "ACCEPT",
                    None,
                    None,
                    PacketSet.ports(ICMP6, 135, 135),
                ),
                V6Rule(
                    RuleRef(file, acl.line, f"{end}: deny ipv6 any any"),
                    "DROP",
                    None,
                    None,
                    EVERYTHING,
                ),
            )
        return out


def acl6_line(acl: Acl6, words: list[str], ref: RuleRef, fail: Fail, port: PortReader) -> None:
    """One indented line of an `ipv6 access-list` block."""
    seq = None
    if words[0] == "sequence":
        if len(words) < 2 or not words[1].isdigit() or not 1 <= int(words[1]) <= SEQ_MAX:
            raise fail("expected a sequence number 1-2147483647 after 'sequence'")
        seq, words = int(words[1]), words[2:]
    if not words:
        raise fail("empty entry")
    if words[0] == "remark":
        return
    if words[0] not in ("permit", "deny"):
        raise fail(f"'{words[0]}' is not modelled in an IPv6 ACL")
    if seq is None:
        seq = max(acl.entries, default=0) + 10
    if seq in acl.entries:
        raise fail(f"duplicate sequence number {seq}")
    acl.entries[seq] = _entry(words, ref, fail, port)


def _entry(words: list[str], ref: RuleRef, fail: Fail, read_ports: PortReader) -> V6Rule:
    action = "ACCEPT" if words[0] == "permit" else "DROP"
    if len(words) < 4:
        raise fail("expected PROTOCOL SOURCE DESTINATION")
    proto = _protocol(words[1], fail)
    i = 2
    src, i = _address(words, i, fail)
    if i < len(words) and words[i] in ("eq", "neq", "gt", "lt", "range"):
        raise fail("source ports are not modelled in IPv6 entries")
    dst, i = _address(words, i, fail)
    keys = EVERYTHING if proto is None else PacketSet.protocol(proto)
    if i < len(words) and words[i] in ("eq", "neq", "gt", "lt", "range"):
        if proto not in (TCP, UDP):
            raise fail("port operators need tcp or udp")
        ports, i = read_ports(words, i, proto)
        keys = PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in ports)
    elif proto == ICMP6 and i < len(words) and words[i] not in ("log", "log-input"):
        word = words[i]
        if word.isdigit() and int(word) <= 255:
            value = int(word)
        elif word in ICMP6_TYPES:
            value = ICMP6_TYPES[word]
        else:
            raise fail(f"ICMPv6 type '{word}' is not modelled")
        if i + 1 < len(words) and words[i + 1].isdigit():
            raise fail("ICMPv6 codes are not modelled")
        keys, i = PacketSet.ports(ICMP6, value, value), i + 1
    if i < len(words) and words[i] in ("log", "log-input") and i == len(words) - 1:
        i += 1
    if i < len(words):
        raise fail(f"'{words[i]}' is not modelled here")
    return V6Rule(ref, action, src, dst, keys)


def _protocol(word: str, fail: Fail) -> int | None:
    if word in _PROTOCOLS:
        return _PROTOCOLS[word]
    if word.isdigit() and int(word) <= 255:
        return int(word)
    raise fail(f"IPv6 protocol '{word}' is not modelled")


def _address(words: list[str], i: int, fail: Fail) -> tuple[tuple[int, int] | None, int]:
    if i >= len(words):
        raise fail("expected an IPv6 address")
    word = words[i]
    if word == "any":
        return None, i + 1
    try:
        if word == "host":
            if i + 1 >= len(words):
                raise fail("expected a host address")
            a = int(ipaddress.IPv6Address(words[i + 1]))
            return (a, a), i + 2
        net = ipaddress.IPv6Network(word, strict=True)
    except ValueError:
        raise fail(f"'{word}' is not an IPv6 address or prefix (A/LEN, no host bits)") from None
    if "/" not in word:
        raise fail(f"'{word}' needs a length (A/LEN) or 'host'")
    return (int(net.network_address), int(net.broadcast_address)), i + 1


def _cuts(bounds: list[tuple[int, int] | None]) -> list[int]:
    cuts = {0}
    for b in bounds:
        if b is not None:
            cuts.add(b[0])
            if b[1] < MAX6:
                cuts.add(b[1] + 1)
    return sorted(cuts)


def _walk(rules: tuple[V6Rule, ...], src: int, dst: int) -> list[tuple[V6Rule, PacketSet]]:
    """First match over the keys: each matching rule with the keys it decides."""
    remaining, out = EVERYTHING, []
    for r in rules:
        if r.matches(src, dst) and (part := r.keys & remaining):
            out.append((r, part))
            remaining = remaining - part
            if not remaining:
                break
    return out


def first_match(rules: tuple[V6Rule, ...], src: int, dst: int, k: int) -> bool:
    """The plain per-packet verdict (the example of every finding is re-checked with it)."""
    return next((r.action == "ACCEPT" for r in rules if r.matches(src, dst) and k in r.keys), False)


def v6_findings(ingress: str, rules: tuple[V6Rule, ...]) -> list[V6Finding]:
    """What `rules` (an interface's IPv6 filter) does otherwise than the closed model."""
    srcs, dsts = _cuts([r.src for r in rules]), _cuts([r.dst for r in rules])
    seen: dict[tuple[str, tuple[tuple[int, int], ...]], V6Finding] = {}
    for s in srcs:
        for d in dsts:
            decided = _walk(rules, s, d)
            accepted = PacketSet.union_all(p for r, p in decided if r.action == "ACCEPT")
            for kind, bad, verdict in (
                ("permits-too-much", accepted - ND_ALL - VOID6, "ACCEPT"),
                ("blocks-needed", ND_REQUIRED - accepted, "DROP"),
            ):
                if not bad or (kind, bad.intervals) in seen:
                    continue
                k = bad.first_key()
                if first_match(rules, s, d, k) != (verdict == "ACCEPT"):
                    raise AssertionError(f"IPv6 set and per-packet evaluation disagree on {k}")
                refs = tuple(r.ref for r, p in decided if r.action == verdict and p & bad)
                proto, port = divmod(k, PORT_SPAN)
                what = f"ipv6 next-header {proto}" + (
                    f" port/type {port}" if proto in (TCP, UDP, ICMP6) else ""
                )
                src, dst = _text(s), _text(d)
                seen[(kind, bad.intervals)] = V6Finding(
                    ingress,
                    kind,
                    src,
                    None if len(srcs) == len(dsts) == 1 else dst,
                    bad,
                    refs,
                    f"{what} {src} -> {dst}",
                )
    return list(seen.values())


def _text(addr: int) -> str:
    return str(ipaddress.IPv6Address(addr))
