"""The rule grammar of nft (one rule of a chain), for `zonewall.verify.nftables`.

A rule is a sequence of matches and statements, then at most one verdict, then an optional
comment; see the `nftables` module docstring for what is modelled.  Every match narrows the
rule's `Rule` fields exactly (protocol matches intersect its service keys); anything else is a
`ConfigParseError` on the rule's line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from zonewall.intervals import complement, normalise
from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

from .nft_firewalld import device_item, finish_rule
from .rules import EVERYTHING, AddrMatch, NameMatch, Rule, RuleRef

if TYPE_CHECKING:
    from .nftables import _NftTable, _Parser

__all__ = ["NFT_STATES", "RuleParser"]

NFT_STATES = frozenset({"new", "established", "related", "invalid", "untracked"})
NAT_STATEMENTS = frozenset({"dnat", "redirect", "snat", "masquerade"})
MARKS = frozenset({"mark", "priority"})


# The codes `reject with icmp|icmpx|icmpv6 [type] CODE` takes (nft(8), "REJECT STATEMENT");
# every one drops the packet, so the verdict does not depend on which.
REJECT_CODES = {
    "icmp": frozenset(
        {
            "net-unreachable",
            "host-unreachable",
            "prot-unreachable",
            "port-unreachable",
            "net-prohibited",
            "host-prohibited",
            "admin-prohibited",
        }
    ),
    "icmpx": frozenset({"no-route", "port-unreachable", "host-unreachable", "admin-prohibited"}),
    "icmpv6": frozenset(
        {
            "no-route",
            "admin-prohibited",
            "addr-unreachable",
            "port-unreachable",
            "policy-fail",
            "reject-route",
        }
    ),
}


class RuleParser:
    """One rule: matches, statements, then at most one verdict and a comment."""

    def __init__(self, parser: _Parser, table: _NftTable) -> None:
        self.p, self.table = parser, table
        self.line = parser.line()
        self.seen: set[str] = set()
        self.iif: NameMatch | None = None
        self.oif: NameMatch | None = None
        self.src: AddrMatch | None = None
        self.dst: AddrMatch | None = None
        self.ct_states: frozenset[str] | None = None
        self.keys = EVERYTHING
        self.sports: tuple[tuple[int, int], ...] | None = None
        self.limited = False
        self.action = "CONTINUE"
        self.target: str | None = None
        self.target_at: int | None = None  # the token the target came from
        self.verdict_seen = False
        self.ipv4 = False  # an `ip ...` or `icmp type` match: never matches an IPv6 packet
        self.local: bool | None = None  # `fib daddr type [!=] local` (device output only)
        self.device_words: set[str] = set()  # firewalld's words (`nft_firewalld`)

    def parse(self) -> Rule:
        p = self.p
        while p.peek() not in ("\n", ";", "}", None):
            word = p.next()
            if self.verdict_seen and word != "comment":
                raise p.err(f"'{word}' after the verdict")
            self.item(word)
        if self.limited and self.action != "CONTINUE":
            raise p.err("a rate-limited verdict is not deterministic")
        ref = RuleRef(p.file, self.line, p.lines[self.line - 1])
        if self.sports is not None and not self.keys.issubset(
            PacketSet.protocol(TCP) | PacketSet.protocol(UDP)
        ):
            raise p.err("a source-port match needs TCP or UDP")
        rule = Rule(
            ref,
            self.action,
            self.target,
            self.iif,
            self.oif,
            self.src,
            self.dst,
            self.keys,
            self.sports,
            self.ct_states,
        )
        return rule if p.device is None else finish_rule(self, rule)

    def negated(self) -> bool:
        if self.p.peek() == "!=":
            self.p.i += 1
            return True
        return False

    def once(self, name: str) -> None:
        if name in self.seen:
            raise self.p.err(f"two '{name}' matches in one rule")
        self.seen.add(name)

    def item(self, word: str) -> None:
        # One branch per keyword of the grammar, in the order the docstring lists them:
        # long, but a flat dispatch is easier to check against the syntax than a table.
        p = self.p
        if p.device is not None and device_item(self, word):
            return
        if (
            p.device is not None
            and word in ("meta", "ct")
            and p.peek() in MARKS
            and p.i + 1 < len(p.words)
            and p.words[p.i + 1] == "set"
        ):
            p.i += 3  # `meta mark set 0x1`, `ct mark set meta mark`: marks only (device)
            if p.words[p.i - 1] in ("meta", "ct"):
                p.next("a key")
            return
        if word == "fib" and p.device is not None:
            if p.next("daddr") != "daddr" or p.next("type") != "type":
                raise p.err("only 'fib daddr type local' is modelled")
            neg = self.negated()
            if p.next("local") != "local":
                raise p.err("only 'fib daddr type local' is modelled")
            self.once("fib daddr type")
            self.local = not neg
            return
        if word == "meta":
            word = p.next("a meta key")
            if word == "nfproto":  # IPv4 only: what an `ip ...` match implies in inet
                self.once("meta nfproto")
                if p.next("ipv4") != "ipv4":
                    raise p.err("only 'meta nfproto ipv4' is modelled")
                self.ipv4 = True
                return
            if word not in ("iifname", "oifname", "iif", "oif", "l4proto"):
                raise p.err(f"'meta {word}' is not modelled")
        if word in ("iifname", "oifname", "iif", "oif"):
            neg = self.negated()
            names = self.names()
            exact = frozenset(n for n in names if not n.endswith("*"))
            prefixes = tuple(sorted(n[:-1] for n in names if n.endswith("*")))
            match = NameMatch(exact, prefixes, neg)
            if word.startswith("i"):
                self.once("iifname")
                self.iif = match
            else:
                self.once("oifname")
                self.oif = match
        elif word == "ip":
            self.ipv4 = True
            field_ = p.next("saddr, daddr or protocol")
            neg = self.negated()
            if field_ in ("saddr", "daddr"):
                self.once("ip " + field_)
                addrs = AddrMatch.of(p.values("ipv4_addr", self.table), neg)
                if field_ == "saddr":
                    self.src = addrs
                else:
                    self.dst = addrs
            elif field_ == "protocol":
                self.protocols(neg)
            else:
                raise p.err(f"'ip {field_}' is not modelled")
        elif word == "l4proto":
            self.protocols(self.negated())
        elif word in ("tcp", "udp"):
            proto = TCP if word == "tcp" else UDP
            field_ = p.next("dport or sport")
            if field_ not in ("dport", "sport"):
                raise p.err(f"'{word} {field_}' is not modelled")
            neg = self.negated()
            ivs = normalise(p.values("inet_service", self.table))
            block = PacketSet.protocol(proto)
            if field_ == "dport":
                ports = PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in ivs)
                self.keys = self.keys & (block - ports if neg else ports)
            else:
                sports = complement(ivs, 0, PORT_SPAN - 1) if neg else ivs
                if self.sports is not None:
                    raise p.err("two source-port matches in one rule")
                self.sports = sports
                self.keys = self.keys & block
        elif word == "icmp":
            self.ipv4 = True  # in an inet table nft adds "meta nfproto ipv4" to it
            if p.next("'type'") != "type":
                raise p.err("only 'icmp type' is modelled")
            neg = self.negated()
            types = PacketSet.union_all(
                PacketSet.ports(ICMP, lo, hi) for lo, hi in p.values("icmp_type", self.table)
            )
            self.keys = self.keys & (PacketSet.protocol(ICMP) - types if neg else types)
        elif word == "ct":
            if p.next("'state'") != "state":
                raise p.err("only 'ct state' is modelled")
            neg = self.negated()
            states = self.states()
            upper = frozenset(s.upper() for s in states)
            all_states = frozenset(s.upper() for s in NFT_STATES)
            self.once("ct state")
            self.ct_states = all_states - upper if neg else upper
        elif word == "counter":
            if p.peek() == "packets":
                p.i += 1
                if (
                    not p.next("a number").isdigit()
                    or p.next("'bytes'") != "bytes"
                    or not p.next("a number").isdigit()
                ):
                    raise p.err("bad counter")
        elif word == "log":
            while p.peek() in ("prefix", "level"):
                if p.next() == "prefix":
                    p.string()
                elif p.next("a level") not in (
                    "emerg",
                    "alert",
                    "crit",
                    "err",
                    "warn",
                    "notice",
                    "info",
                    "debug",
                ):
                    raise p.err("bad log level")
        elif word == "limit":
            self.limit()
        elif word == "comment":
            p.string()
        else:
            self.verdict(word)

    def names(self) -> list[str]:
        p = self.p
        words = [p.next("an interface name")]
        if words[0] == "{":
            words = []
            while True:
                p.skip_newlines(semis=False)
                words.append(p.next("an interface name"))
                p.skip_newlines(semis=False)
                sep = p.next("',' or '}'")
                if sep == "}":
                    break
                if sep != ",":
                    raise p.err("expected ',' or '}'")
        out = []
        for w in words:
            if not (w.startswith('"') and w.endswith('"') and len(w) >= 2):
                if not re.fullmatch(r"[A-Za-z0-9_.:+\-]+\*?", w):
                    raise p.err(f"bad interface name {w}")
                out.append(w)
            else:
                out.append(w[1:-1])
        return out

    def protocols(self, neg: bool) -> None:
        protos = self.p.values("inet_proto", self.table)
        blocks = PacketSet.union_all(
            PacketSet.of(lo * PORT_SPAN, hi * PORT_SPAN + PORT_SPAN - 1) for lo, hi in protos
        )
        self.keys = self.keys & (EVERYTHING - blocks if neg else blocks)

    def states(self) -> list[str]:
        p = self.p
        if p.peek() == "{":
            p.i += 1
            out = []
            while True:
                out.append(p.next("a state"))
                sep = p.next("',' or '}'")
                if sep == "}":
                    break
        else:
            out = [p.next("a state")]
            while p.peek() == ",":
                p.i += 1
                out.append(p.next("a state"))
        if not set(out) <= NFT_STATES:
            raise p.err(f"ct states {','.join(out)} are not modelled")
        return out

    def limit(self) -> None:
        p = self.p
        if p.next("'rate'") != "rate":
            raise p.err("expected 'limit rate'")
        rate = p.next("a rate")
        if rate == "over" or not re.fullmatch(r"\d+/(second|minute|hour|day|week)", rate):
            raise p.err(f"limit rate '{rate}' is not modelled")
        if p.peek() == "burst":
            p.i += 1
            if not p.next("a number").isdigit() or p.next("'packets'") != "packets":
                raise p.err("bad burst")
        self.limited = True

    def verdict(self, word: str) -> None:
        p = self.p
        if word in ("accept", "drop", "return", "continue"):
            self.action = {
                "accept": "ACCEPT",
                "drop": "DROP",
                "return": "RETURN",
                "continue": "CONTINUE",
            }[word]
        elif word == "reject":
            self.action = "DROP"
            if p.peek() == "with":
                p.i += 1
                kind = p.next("a reject type")
                if kind == "tcp":
                    if p.next("'reset'") != "reset":
                        raise p.err("bad reject")
                elif kind in ("icmp", "icmpx") or (kind == "icmpv6" and p.device is not None):
                    if p.peek() == "type":  # nft 1.0 prints `reject with icmpx admin-prohibited`
                        p.i += 1
                    code = p.next("a reject code")
                    if code not in REJECT_CODES[kind] and not code.isdigit():
                        raise p.err(f"bad reject: '{code}' is no {kind} reject code nft prints")
                    if p.device is not None and kind == "icmpv6":  # implies `meta nfproto ipv6`
                        self.device_words.add("ipv6")
                    elif p.device is not None and kind == "icmp":  # implies `meta nfproto ipv4`
                        self.ipv4 = True
                else:
                    raise p.err(f"reject with '{kind}' is not modelled")
        elif word in ("jump", "goto"):
            self.action = word.upper()
            self.target_at = p.i
            self.target = p.next("a chain name")
        elif p.device is not None and word in NAT_STATEMENTS:
            # device output (`nft_device`): dnat/redirect divert the packet from the address
            # it was sent to (a drop, for the audit); snat/masquerade act after the filter
            self.action = "DROP" if word in ("dnat", "redirect") else "CONTINUE"
            while p.peek() not in ("\n", ";", "}", "comment", None):
                p.i += 1
        else:
            raise p.err(f"'{word}' is not modelled")
        self.verdict_seen = True
