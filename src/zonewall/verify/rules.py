"""The rule model every config parser of `zonewall.verify` produces, and its parse error.

The three parsers (`iptables`, `nftables`, `ios`) turn config *text* into the same small model:
named chains of first-match rules over (ingress interface, egress interface, source address,
destination address, service key, source port, TCP ACK/RST flag, conntrack state).  A rule
carries the file line it came from, so every verdict can be traced back to config text.

Nothing here knows about the backends; this module is deliberately independent of them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from netaddr import IPNetwork

from zonewall.intervals import normalise
from zonewall.packets import PORT_SPAN, TCP, UDP, PacketSet

__all__ = [
    "ACTIONS",
    "EMPTY",
    "EVERYTHING",
    "MAX_ADDR",
    "Fail",
    "AddrMatch",
    "Chain",
    "ConfigParseError",
    "NameMatch",
    "Rule",
    "RuleRef",
    "Ruleset",
    "check_chain_loops",
    "parse_prefix",
]

EVERYTHING = PacketSet.everything()
EMPTY = PacketSet()
_TCP = PacketSet.protocol(TCP)
_TCP_UDP = _TCP | PacketSet.protocol(UDP)
MAX_ADDR = (1 << 32) - 1
# ACCEPT and DROP decide; RETURN leaves the chain; CONTINUE (LOG, counter) goes on; JUMP comes
# back when the target falls off its end; GOTO does not come back to this chain.
ACTIONS = frozenset({"ACCEPT", "DROP", "RETURN", "CONTINUE", "JUMP", "GOTO"})


class ConfigParseError(Exception):
    """A config line or construct the verifier does not model exactly (parsing fails closed)."""

    def __init__(self, file: str, line: int | None, text: str, message: str) -> None:
        self.file = file
        self.line = line
        self.text = text
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}: {text.strip()!r}")


Fail = Callable[[str], ConfigParseError]  # builds the error for the line being parsed


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Where a verdict comes from: a config line, or a described implicit default."""

    file: str
    line: int | None
    text: str

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.text.strip()}"


# The forms generated configs use: `A.B.C.D` or `A.B.C.D/N`, ASCII digits, N in 0-32 written
# without a leading zero.  Anything else (dotted masks, odd spellings) goes through netaddr.
_PLAIN_PREFIX = re.compile(
    r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})"
    r"(?:/(0|[12][0-9]?|3[0-2]?|[4-9]))?"
)


def parse_prefix(text: str) -> tuple[int, int]:
    """`A.B.C.D`, `A.B.C.D/N` or `A.B.C.D/M.M.M.M` as an address interval (host bits cleared,
    as iptables and nft do).  Raises ValueError on anything else."""
    m = _PLAIN_PREFIX.fullmatch(text)
    if m is None:
        return _parse_prefix_netaddr(text)
    octets = m.group(1, 2, 3, 4)
    if any(int(p) > 255 or (len(p) > 1 and p[0] == "0") for p in octets):
        return _parse_prefix_netaddr(text)  # raises, with the message it always gave
    addr = 0
    for p in octets:
        addr = addr << 8 | int(p)
    size = 1 << (32 - int(m.group(5) or 32))
    first = addr & ~(size - 1)
    return first, first + size - 1


def _parse_prefix_netaddr(text: str) -> tuple[int, int]:
    """`parse_prefix` for every form, through netaddr: the reference the fast path agrees
    with (a property test checks it)."""
    if not text or not all(c.isdigit() or c in "./" for c in text) or text.count("/") > 1:
        raise ValueError(f"not an IPv4 address or prefix: {text}")
    addr = text.split("/")[0]
    parts = addr.split(".")
    if len(parts) != 4 or any(not p or int(p) > 255 or (len(p) > 1 and p[0] == "0") for p in parts):
        raise ValueError(f"not an IPv4 address: {addr}")
    try:
        net = IPNetwork(text)
    except Exception as exc:  # netaddr raises several types for bad input
        raise ValueError(f"not an IPv4 prefix: {text}") from exc
    if net.version != 4:
        raise ValueError(f"not an IPv4 prefix: {text}")
    net = net.cidr
    return int(net.first), int(net.last)


@dataclass(frozen=True, slots=True)
class AddrMatch:
    """An address predicate: membership in sorted merged intervals, possibly negated."""

    intervals: tuple[tuple[int, int], ...]
    negate: bool = False
    _starts: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @staticmethod
    def of(intervals: Iterable[tuple[int, int]], negate: bool = False) -> AddrMatch:
        merged = normalise(intervals)
        return AddrMatch(merged, negate, tuple(lo for lo, _ in merged))

    def matches(self, addr: int) -> bool:
        i = bisect.bisect_right(self._starts, addr) - 1
        inside = i >= 0 and addr <= self.intervals[i][1]
        return inside != self.negate


@dataclass(frozen=True, slots=True)
class NameMatch:
    """An interface-name predicate: exact names and wildcard prefixes (`eth+`, `"eth*"`)."""

    names: frozenset[str]
    prefixes: tuple[str, ...] = ()
    negate: bool = False

    def matches(self, name: str | None) -> bool:
        if name is None:  # no such interface: a positive match cannot hold
            return self.negate
        inside = name in self.names or any(name.startswith(p) for p in self.prefixes)
        return inside != self.negate


@dataclass(frozen=True, slots=True)
class Rule:
    """One first-match rule.

    `keys` are the service keys (protocol and destination port or ICMP type) it matches.
    `sports`, when set, are the TCP/UDP source ports it matches (its keys are then TCP/UDP
    only).  `states` are the conntrack states it matches (None: any).  `ack` True means only
    TCP segments with ACK or RST set (IOS `established`; its keys are then TCP only).
    """

    ref: RuleRef
    action: str
    target: str | None = None
    iif: NameMatch | None = None
    oif: NameMatch | None = None
    src: AddrMatch | None = None
    dst: AddrMatch | None = None
    keys: PacketSet = EVERYTHING
    sports: tuple[tuple[int, int], ...] | None = None
    states: frozenset[str] | None = None
    ack: bool | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action}")
        if (self.action in ("JUMP", "GOTO")) != (self.target is not None):
            raise ValueError("JUMP and GOTO, and only they, need a target")
        if self.sports is not None and not self.keys.issubset(_TCP_UDP):
            raise ValueError("a source-port match needs TCP or UDP keys only")
        if self.ack and not self.keys.issubset(_TCP):
            raise ValueError("an ACK/RST match needs TCP keys only")

    def matches_context(self, state: str | None, sport: int, ack: bool) -> bool:
        if self.states is not None and (state is None or state not in self.states):
            return False
        if self.ack and not ack:
            return False
        if self.sports is not None:
            return any(lo <= sport <= hi for lo, hi in self.sports)
        return True


@dataclass(frozen=True, slots=True)
class Chain:
    """Rules evaluated in order.  `policy` ACCEPT/DROP for a base chain (or an ACL's implicit
    deny); None for a user chain, which returns to its caller when it falls off the end."""

    name: str
    rules: tuple[Rule, ...]
    policy: str | None = None
    policy_ref: RuleRef | None = None


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A parsed config: chains, plus which chains see a packet entering on an interface.

    `entry` maps an ingress interface to the chain names a forwarded packet traverses, in
    order (all must accept); `default_entry` applies to every other interface.  A packet to
    the box itself traverses `input_entry` instead.
    """

    platform: str
    file: str
    chains: Mapping[str, Chain]
    default_entry: tuple[str, ...]
    entry: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stateful: bool = True  # False: no connection tracking, replies are checked as packets
    # The chains a packet to the box itself traverses (iptables INPUT, nft input hooks), in
    # order; () when the parser does not model that plane (its check is then skipped).
    input_entry: tuple[str, ...] = ()

    def entries(self, ingress: str) -> tuple[str, ...]:
        return self.entry.get(ingress, self.default_entry)

    def address_intervals(self) -> set[tuple[int, int]]:
        out: set[tuple[int, int]] = set()
        for chain in self.chains.values():
            for rule in chain.rules:
                for m in (rule.src, rule.dst):
                    if m is not None:
                        out.update(m.intervals)
        return out

    def sport_cuts(self) -> set[int]:
        """Starts of the source-port classes every rule treats alike."""
        cuts = {0}
        for chain in self.chains.values():
            for rule in chain.rules:
                for lo, hi in rule.sports or ():
                    cuts.add(lo)
                    if hi < PORT_SPAN - 1:
                        cuts.add(hi + 1)
        return cuts


def check_chain_loops(ruleset: Ruleset) -> None:
    """Fail closed on a jump that loops (`-A x -j x`, nft `jump x` inside x, or a longer
    cycle): the kernel refuses such a ruleset, so a text holding one is not what a device
    runs.  Raises `ConfigParseError` at the jump that closes the cycle."""
    done: set[str] = set()
    for start in sorted(ruleset.chains):
        if start in done:
            continue
        path: list[str] = [start]
        todo: list[list[Rule]] = [[r for r in ruleset.chains[start].rules if r.target is not None]]
        while todo:
            if not todo[-1]:
                done.add(path.pop())
                todo.pop()
                continue
            rule = todo[-1].pop()
            target = rule.target
            assert target is not None
            if target in path:
                cycle = " -> ".join((*path[path.index(target) :], target))
                raise ConfigParseError(
                    rule.ref.file,
                    rule.ref.line,
                    rule.ref.text,
                    f"chain loop {cycle} (the kernel refuses a ruleset whose jumps loop)",
                )
            if target in done or target not in ruleset.chains:
                continue
            path.append(target)
            todo.append([r for r in ruleset.chains[target].rules if r.target is not None])
