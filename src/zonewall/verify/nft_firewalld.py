"""What firewalld's `table inet firewalld` prints, for `zonewall audit` (`nftables` in
device mode, `nft_device`): rule words that zonewall's own ruleset never holds.

* `meta nfproto ipv6`, `ip6 saddr|daddr V`, `icmpv6 type V`: exact for IPv4 (the rule never
  matches an IPv4 packet).  For IPv6, where zonewall's table drops every forwarded packet
  and the audit looks only for IPv6 that leaks through, a drop with an IPv6 address or
  ICMPv6-type match is left out (it can only drop more) and an accept keeps its other
  matches (it can only accept more); any other verdict with one is refused.
* `ct status dnat` (firewalld accepts DNATed packets in its forward and input chains): it
  never matches when nothing in the ruleset DNATs; a ruleset that also holds a `dnat` or
  `redirect` statement is refused (`check_ct_dnat`), since the audit evaluates a DNATed
  packet as one sent to its new address directly.
* `fib saddr [. mark] [. iif] oif missing drop` (the reverse-path filter): under `meta nfproto
  ipv6`, as firewalld writes it (IPv6_rpfilter=yes), it never matches IPv4 and is a drop
  left out for IPv6; an IPv4 one drops by the policy's routes (`_rpfilter_chain`).
* `ct helper set S` attaches a conntrack helper and goes on; `meta pkttype T` (LogDenied=
  unicast and the like) is read in a rule with no verdict (firewalld's log rules), which
  cannot change a verdict.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from zonewall.intervals import normalise
from zonewall.packets import PacketSet

from .nft_device import skip_braced
from .rules import AddrMatch, NameMatch, Rule, RuleRef

if TYPE_CHECKING:
    from .nft_rule import RuleParser
    from .nftables import _Parser

__all__ = ["check_ct_dnat", "device_item", "finish_rule"]

ICMPV6 = 58
_LBCAST = ((0xE0000000, 0xE00000FF), (0xFFFFFFFF, 0xFFFFFFFF))  # 224.0.0.0/24, 255.255.255.255


def device_item(r: RuleParser, word: str) -> bool:
    """The rule words firewalld prints that zonewall's own ruleset never holds: `meta
    nfproto ipv6`, `ip6 saddr|daddr V`, `icmpv6 type V`, `meta pkttype T`, `ct status dnat`,
    `ct helper set S` and the reverse-path filter `fib saddr [. mark] [. iif] oif missing`.
    Each sets a flag in `r.device_words` that `finish_rule` turns into what the audit
    evaluates; True when `word` was one of them (its words are read)."""
    p = r.p
    after = p.peek()
    if word == "meta" and after == "nfproto" and p.i + 1 < len(p.words):
        if p.words[p.i + 1] != "ipv6":
            return False  # `meta nfproto ipv4`: the grammar's own
        p.i += 2
        r.once("meta nfproto")
        r.device_words.add("ipv6")
    elif word == "ip6":
        field = p.next("saddr or daddr")
        if field not in ("saddr", "daddr"):
            raise p.err(f"'ip6 {field}' is not modelled")
        r.negated()
        _skip_value(p)
        r.device_words.update(("ipv6", "ip6-match"))
    elif word == "icmpv6":
        if p.next("'type'") != "type":
            raise p.err("only 'icmpv6 type' is modelled")
        r.negated()
        _skip_value(p)
        r.keys = r.keys & PacketSet.protocol(ICMPV6)
        r.device_words.update(("ipv6", "ip6-match"))
    elif word == "meta" and after == "pkttype":
        p.i += 1  # LogDenied=unicast|broadcast|multicast: `meta pkttype unicast log prefix ...`
        r.negated()
        if p.next("a packet type") not in ("unicast", "broadcast", "multicast", "host"):
            raise p.err("only 'meta pkttype unicast|broadcast|multicast|host' is modelled")
        r.device_words.add("pkttype")
    elif word == "ct" and after == "status":
        p.i += 1
        if p.next("dnat") != "dnat":
            raise p.err("only 'ct status dnat' is modelled")
        r.once("ct status")
        r.device_words.add("ct-dnat")
    elif (
        word == "ct" and after == "helper" and p.i + 1 < len(p.words) and p.words[p.i + 1] == "set"
    ):
        p.i += 2  # `ct helper set "helper-netbios-ns-udp"`: attaches a helper, goes on
        p.string()
    elif word == "fib" and after == "saddr":
        p.i += 1
        keys = []
        while p.peek() == ".":
            p.i += 1
            keys.append(p.next("a fib key"))
        if not set(keys) <= {"mark", "iif"} or (p.next("'oif'"), p.next("'missing'")) != (
            "oif",
            "missing",
        ):
            raise p.err("only the reverse-path filter 'fib saddr [. mark] [. iif] oif missing'")
        r.once("fib saddr")
        r.device_words.update(("rpfilter", "rpfilter-iif") if "iif" in keys else ("rpfilter",))
    else:
        return False
    return True


def _skip_value(p: _Parser) -> None:
    """One value, `{ ... }` or `@set` of a match the audit does not evaluate (IPv6 only)."""
    if p.next("a value") == "{":
        skip_braced(p)


def finish_rule(r: RuleParser, rule: Rule) -> Rule:
    """A rule with `device_item` words as the audit evaluates it.

    IPv4 (exact): a rule with an IPv6 match never matches; `ct status dnat` never matches
    either, since `check_ct_dnat` refuses a ruleset that DNATs.  An IPv4 reverse-path filter
    jumps to its drops by the policy's routes (`_rpfilter_chain`).  `meta pkttype` is read in
    a rule with no verdict only (firewalld's LogDenied log rules).
    IPv6 (zonewall's table drops every forwarded IPv6 packet, and the audit looks only for
    IPv6 that leaks through): a drop with an IPv6 address, ICMPv6 type or reverse-path
    match is left out (it can only drop more), an accept keeps its other matches (it can
    only accept more); anything else with such a match is refused.
    """
    flags = r.device_words
    if not flags:
        return rule
    if "pkttype" in flags:  # firewalld matches it only in its LogDenied rules, which go on
        if rule.action != "CONTINUE":
            raise _at(r, "'meta pkttype' is modelled only in a rule with no verdict (a log)")
        flags = flags - {"pkttype"}
        if not flags:
            return rule
    # no keys: matches nothing (its verdict and jump target kept, as a memoised copy of the
    # rule elsewhere in the table keeps them)
    never = dataclasses.replace(rule, keys=PacketSet())
    p = r.p
    if "ct-dnat" in flags:
        return never
    if not p.ipv6:
        if "ipv6" in flags:
            return never
        if rule.action != "DROP" or rule.target is not None:
            raise p._err(r.line, "a reverse-path filter is modelled only in a rule that drops")
        return dataclasses.replace(rule, action="JUMP", target=_rpfilter_chain(r))
    unmodelled = flags & {"ip6-match", "rpfilter"}
    if not unmodelled or (rule.action == "ACCEPT" and "rpfilter" not in flags):
        return rule
    if rule.action == "DROP":
        return never
    raise p._err(
        r.line,
        f"an IPv6 {'reverse-path' if 'rpfilter' in flags else 'address or ICMPv6'} match "
        "is modelled only in a rule that accepts, drops or rejects: restrict the rule with "
        "iifname to interfaces that are not audited, or audit by hand",
    )


def _at(r: RuleParser, message: str) -> Exception:
    """An error at the rule's line."""
    return r.p._err(r.line, message)


def check_ct_dnat(p: _Parser) -> None:
    """`ct status dnat` (firewalld accepts DNATed packets in its input and forward chains)
    never matches when nothing in the ruleset DNATs: refused when something does, since the
    audit evaluates a DNATed packet as one sent to its new address directly."""
    words = p.words
    status = next(
        (k for k in range(len(words) - 1) if words[k] == "ct" and words[k + 1] == "status"), None
    )
    if status is None:
        return
    nat = next(
        (
            k
            for k in range(1, len(words))
            if words[k] in ("dnat", "redirect")
            and words[k - 1] not in ("status", "type", ",", "{", "chain", "jump", "goto", "!=")
        ),
        None,
    )
    if nat is None:
        return
    nat_line = p.word_lines[nat]
    raise p._err(
        p.word_lines[status],
        f"'ct status dnat' accepts DNATed packets and line {nat_line} DNATs "
        f"('{p.lines[nat_line - 1].strip()}'): the audit evaluates a DNATed packet as one "
        "sent to its new address directly, which this match tells apart; take the DNAT off "
        "the box (firewalld: remove the zone's forward-port; docker: publish no port) or "
        "audit by hand",
    )


def _rpfilter_chain(r: RuleParser) -> str:
    """The chain an IPv4 reverse-path filter (`fib saddr [. mark] [. iif] oif missing drop`)
    jumps to, added to the rule's table: its drops by the policy's routes (`Device.routes`).

    Strict (`. iif`): a packet entering audited interface I is dropped unless its source is
    routed out of I: a served class's addresses out of its interface, every other address
    out of the uplink.  Loose: dropped only when no route leads to its source, which with an
    uplink (the default route) is never.  A packet entering an interface that is not audited
    meets no drop here: the box's routes there are unknown, and a drop left out can only
    make the audit find more packets let through, none that the policy requires (they enter
    audited interfaces).  The mark does not change the policy's routes.
    """
    p = r.p
    assert p.device is not None
    strict = "rpfilter-iif" in r.device_words
    name = f"fib saddr {'. iif ' if strict else ''}oif missing (the policy's routes)"
    if name in r.table.chains:
        return name
    ref = RuleRef(p.file, r.line, p.lines[r.line - 1])
    routes = dict(p.device.routes)
    # the kernel's nft_fib4_eval answers the input interface for a source in 0.0.0.0/8 sent
    # to 255.255.255.255 or 224.0.0.0/24 (a DHCP discover): never dropped
    rules: list[Rule] = [
        Rule(ref, "RETURN", src=AddrMatch.of([(0, 0xFFFFFF)]), dst=AddrMatch.of(_LBCAST))
    ]
    if strict:
        for iface in sorted(p.device.audited):
            src = AddrMatch.of(routes.get(iface, ()), negate=True)
            rules.append(Rule(ref, "DROP", iif=NameMatch(frozenset({iface})), src=src))
    elif routes and all(i in p.device.served for i in routes):  # no uplink
        everywhere = normalise(iv for _, ivs in routes.items() for iv in ivs)
        rules.append(Rule(ref, "DROP", src=AddrMatch.of(everywhere, negate=True)))
    # a regular chain of the table (every field given: the one being read is the template)
    r.table.chains[name] = dataclasses.replace(
        next(iter(r.table.chains.values())),
        name=name,
        line=r.line,
        hook=None,
        kind="filter",
        priority=0,
        policy="accept",
        policy_ref=None,
        rules=rules,
        box_rules=[],
    )
    return name
