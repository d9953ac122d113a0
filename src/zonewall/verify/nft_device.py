"""A device's whole `nft list ruleset` for `zonewall audit` (`nftables` in device mode).

zonewall's own ruleset holds one table and filter chains at the forward, input and output
hooks.  A box that also runs firewalld, docker or NAT prints more; with the audited
interfaces known (`Device`: the served classes' and the uplink), each construct is:

* **read and evaluated**: base chains of every `ip` / `inet` table at the prerouting,
  forward, input and postrouting hooks, in hook order and by priority within a hook (every
  one must accept: an `accept` in one base chain is not final, a `drop` is).  In a `type
  nat` prerouting chain, `dnat` and `redirect` divert a new connection from the destination
  it was sent to: for the audit a drop of the packet toward that destination (the rewritten
  packet meets the forward or input chains like one sent there directly, which the audit
  checks on its own); only a connection's first packet meets nat chains, so their rules
  match ct state new only.  `snat` and `masquerade` act after the filter decision and
  `meta mark set` / `ct mark set` only mark: they go on.
* **skipped and counted**: tables of family bridge and arp; netdev tables that name no
  audited interface; output and route chains and nat chains at the postrouting and input
  hooks (after the filter decision, or for the box's own packets); named maps, flowtables,
  stateful objects and sets of types the verifier does not model (a rule using one is
  refused, unless it cannot matter); a rule that does not parse but cannot match an audited
  packet (its `iifname` or `oifname` names only interfaces that are not audited).
* **refused** (`ConfigParseError`: line, construct, what to do): a netdev table naming an
  audited interface (ingress filtering before the forward hook), and any rule that can
  match an audited packet and does not parse.

firewalld's table (`table inet firewalld`: zone dispatch, `ct status dnat`, IPv6 matches,
the reverse-path filter) is read like any other; its rule words are `nft_firewalld`'s.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .iptables_tables import Device
from .rules import ConfigParseError, Rule

if TYPE_CHECKING:
    from .nftables import _NftChain, _NftTable, _Parser

__all__ = [
    "DEVICE_HOOKS",
    "OTHER_FAMILIES",
    "STAGES",
    "TABLE_OBJECTS",
    "Device",
    "device_line",
    "device_rule",
    "nat_user_chains",
    "new_only",
    "skip_braced",
    "skip_object",
    "skip_other_family",
    "skip_set",
]

OTHER_FAMILIES = ("bridge", "arp", "netdev")
DEVICE_HOOKS = ("prerouting", "forward", "input", "output", "postrouting", "ingress")
STAGES = {"prerouting": 0, "forward": 1, "input": 1, "postrouting": 2}
TABLE_OBJECTS = ("map", "flowtable", "counter", "quota", "ct", "limit", "secmark", "synproxy")
_END = ("\n", ";")


def skip_braced(p: _Parser) -> list[str]:
    """Skip to the `}` closing the `{` just read; the words skipped."""
    depth = 1
    out: list[str] = []
    while p.peek() is not None:
        word = p.words[p.i]
        p.i += 1
        if word == "{":
            depth += 1
        elif word == "}":
            depth -= 1
            if depth == 0:
                return out
        out.append(word)
    raise p.err("expected '}'")


def skip_object(p: _Parser, device: Device, word: str) -> None:
    """`map NAME { ... }`, `ct helper NAME { ... }`, `flowtable NAME { ... }`, ..."""
    while p.peek() not in ("{", None, "\n"):
        p.i += 1
    p.expect("{")
    skip_braced(p)
    device.skipped[f"nft {word} (a rule using it is refused unless it cannot matter)"] += 1


def skip_other_family(p: _Parser, device: Device, line: int) -> None:
    """A bridge, arp or netdev table: skipped, unless a netdev table names an audited
    interface (its ingress hook filters before the forward hook)."""
    family = p.next("a family")
    p.next("a table name")
    words: list[str] = []
    if p.peek() == "{":
        p.i += 1
        words = skip_braced(p)
    names = {w.strip('"') for w in words}
    hit = sorted(names & device.audited)
    if family == "netdev" and hit:
        raise p._err(
            line,
            f"a netdev table filtering audited interface {hit[0]} is not "
            "modelled: its ingress hook drops or accepts before the forward hook; "
            "move it off the audited interfaces or audit by hand",
        )
    device.skipped[f"nft table of family {family}"] += 1


def skip_set(p: _Parser, device: Device, kind: str) -> None:
    """The rest of a set of a type not modelled, up to its closing `}`."""
    skip_braced(p)
    device.skipped[
        f"nft set of type {kind} (a rule using it is refused unless it cannot matter)"
    ] += 1


def device_line(p: _Parser, device: Device, chain: _NftChain) -> None:
    """`devices = { ... }` / `device NAME` of an ingress chain."""
    line = p.line()
    words: list[str] = []
    while p.peek() not in (*_END, "}", None):
        word = p.next()
        if word == "{":
            words.extend(skip_braced(p))
        else:
            words.append(word)
    hit = sorted({w.strip('"') for w in words} & device.audited)
    if hit and chain.hook == "ingress":
        raise p._err(
            line,
            f"an ingress chain on audited interface {hit[0]} is not modelled: "
            "it filters before the forward hook; move it off the audited "
            "interfaces or audit by hand",
        )


def _skip_rule(p: _Parser) -> list[str]:
    out: list[str] = []
    while p.peek() not in (*_END, "}", None):
        word = p.next()
        out.append(word)
        if word == "{":
            out.extend(skip_braced(p))
    return out


def _cannot_matter(words: list[str], chain: _NftChain, device: Device) -> bool:
    """Whether a rule's positive `iifname` / `oifname` keep it off every audited packet."""
    names: dict[str, set[str]] = {}
    fib = False  # inside `fib saddr . iif oif missing`: `iif` / `oif` are keys, not matches
    for k, word in enumerate(words[:-1]):
        fib = (fib or word == "fib") and word not in ("missing", "exists", "type")
        if fib:
            continue
        key = word if word in ("iifname", "oifname", "iif", "oif") else None
        value = words[k + 1]
        if key is not None and value not in ("!=", "{") and not value.endswith('*"'):
            names[key[0]] = {value.strip('"')}
    iif, oif = names.get("i"), names.get("o")
    if oif is not None and not oif & device.audited:
        return True
    return (
        iif is not None
        and not iif & device.audited
        and (chain.hook not in (None, "forward") or (oif is not None and not oif & device.served))
    )


def device_rule(p: _Parser, device: Device, table: _NftTable, chain: _NftChain) -> None:
    """One rule of a device's ruleset (module docstring), appended to the chain's rules (and
    its copy for packets to the box) unless skipped."""
    rule = _device_rule(p, device, table, chain)
    if rule is None:
        return
    local = p.last_local
    if local is not None and chain.hook != "prerouting":
        raise ConfigParseError(
            rule.ref.file,
            rule.ref.line,
            rule.ref.text,
            "'fib daddr type "
            "local' is modelled only in prerouting base chains: restrict "
            "the rule with iifname to an interface that is not audited",
        )
    if local is not True:  # a forwarded packet is never to a local address
        chain.rules.append(rule)
    if local is not False:
        chain.box_rules.append(rule)


def _device_rule(p: _Parser, device: Device, table: _NftTable, chain: _NftChain) -> Rule | None:
    start = p.i
    if (
        chain.hook in ("output", "ingress")
        or chain.kind == "route"
        or (chain.kind == "nat" and chain.hook in ("postrouting", "input", "output"))
    ):
        _skip_rule(p)
        device.skipped[
            f"nft rule of a {chain.kind} {chain.hook} chain (after the filter "
            "decision, or the box's own packets)"
        ] += 1
        return None
    try:
        rule = p.rule(table)
    except ConfigParseError as exc:
        p.i = start
        words = _skip_rule(p)
        if _cannot_matter(words, chain, device):
            device.skipped["nft rule for other interfaces (not modelled, cannot matter)"] += 1
            return None
        raise ConfigParseError(
            exc.file,
            exc.line,
            exc.text,
            f"{exc.message}: this rule can "
            "match packets on the audited interfaces; restrict it with "
            "iifname/oifname to interfaces that are not audited, or audit "
            "by hand",
        ) from None
    return new_only(rule) if chain.kind == "nat" else rule


def new_only(rule: Rule) -> Rule:
    """A rule of a nat chain: only a connection's first packet meets it."""
    states = frozenset({"NEW"}) if rule.states is None else rule.states & {"NEW"}
    return dataclasses.replace(rule, states=states)


def nat_user_chains(table: _NftTable) -> set[str]:
    """The regular chains a nat base chain of the table jumps to (directly or not): they
    see only a connection's first packet too."""
    todo = [c for c in table.chains.values() if c.kind == "nat" and c.hook is not None]
    out: set[str] = set()
    while todo:
        chain = todo.pop()
        for rule in (*chain.rules, *chain.box_rules):
            target = table.chains.get(rule.target or "")
            if target is not None and target.hook is None and target.name not in out:
                out.add(target.name)
                todo.append(target)
    return out
