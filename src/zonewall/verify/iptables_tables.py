"""A device's whole `iptables-save` output: every table read, for `zonewall audit`.

`iptables.parse_iptables` evaluates the filter table and refuses any other table with rules
(right for zonewall's own files).  A box that also does NAT, runs docker or fail2ban prints
nat, mangle, raw and security tables too.  `parse_iptables_device` reads them all, knowing the
gateway's audited interfaces (`Device`), and decides per rule:

* **cannot matter, skipped and counted**: a rule reached only from an OUTPUT chain (locally
  generated packets); a rule whose `-i` names only interfaces that are not audited (in the
  filter table only when its `-o` cannot be a served class's interface either: a packet from
  another interface toward a served class is audited); a rule whose `-o` names only
  interfaces that are not audited; a rule whose target cannot change what is forwarded or
  taken in: MARK, CONNMARK, TOS, DSCP, TTL, TCPMSS, CHECKSUM, CLASSIFY, LOG, no target
  (the filter table never matches a mark: `-m mark` there is refused as unmodelled), and
  SNAT / MASQUERADE (nat POSTROUTING acts after the filter decision).
* **modelled**: nat PREROUTING DNAT, REDIRECT and NETMAP divert a new connection from the
  destination it was sent to; for the audit that is a drop of the packet toward its
  addressed destination (the rewritten packet meets FORWARD or INPUT like one sent there
  directly, which the audit checks on its own).  Only the first packet of a connection meets
  the nat table, so its rules match ct state NEW only.  DROP and REJECT in mangle, raw and
  security drop; ACCEPT ends that table's chain and the packet goes on to the next table.
  `-m addrtype --dst-type LOCAL` (docker's jump) is modelled in the nat table: it never
  matches a forwarded packet and always matches one to the box.  A packet traverses, in
  order, raw PREROUTING, mangle PREROUTING, nat PREROUTING, then mangle and filter FORWARD,
  security FORWARD and mangle POSTROUTING (or mangle, filter and security INPUT); each must
  accept it.
* **refused** (`ConfigParseError` naming the line, the construct and what to do): anything
  else that can match an audited packet: NOTRACK / CT in raw (untracked packets meet the
  filter as UNTRACKED, not NEW), TPROXY, other targets and matches not modelled.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from .iptables import (
    BUILTIN,
    OTHER_TABLES,
    RuleParser,
    Table,
    filter_chains,
    parse_iptables,
    read_tables,
)
from .rules import Chain, ConfigParseError, Rule, RuleRef, Ruleset

__all__ = ["Device", "parse_iptables_device"]

INERT_TARGETS = frozenset(
    {
        "MARK",
        "CONNMARK",
        "TOS",
        "DSCP",
        "TTL",
        "TCPMSS",
        "CHECKSUM",
        "CLASSIFY",
        "LOG",
        "NFLOG",
        "SNAT",
        "MASQUERADE",
        "SECMARK",
        "CONNSECMARK",
        "HL",
        "ECN",
    }
)
DIVERTS = frozenset({"DNAT", "REDIRECT", "NETMAP"})
PASS = frozenset({"ACCEPT", "DROP", "REJECT", "RETURN"})
# the chains a forwarded packet, and one to the box, traverses, in order (table, chain)
FORWARD_PATH = (
    ("raw", "PREROUTING"),
    ("mangle", "PREROUTING"),
    ("nat", "PREROUTING"),
    ("mangle", "FORWARD"),
    ("filter", "FORWARD"),
    ("security", "FORWARD"),
    ("mangle", "POSTROUTING"),
)
INPUT_PATH = (
    ("raw", "PREROUTING"),
    ("mangle", "PREROUTING"),
    ("nat", "PREROUTING"),
    ("mangle", "INPUT"),
    ("filter", "INPUT"),
    ("security", "INPUT"),
)
TO_BOX = " (to the box)"  # the nat chains' copy for packets to the box (addrtype LOCAL)


@dataclass
class Device:
    """What the audit knows of the gateway: its audited interfaces (served classes' and the
    uplink), the served ones and the policy's routes; and what was skipped (construct ->
    lines), filled in."""

    audited: frozenset[str]
    served: frozenset[str]
    skipped: Counter[str] = field(default_factory=Counter)
    # the policy's routes: (interface, the source addresses routed out of it), for nft's
    # reverse-path filter (`nft_device.finish_rule`); the uplink has the rest (default route)
    routes: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()


def parse_iptables_device(text: str, file: str, device: Device) -> Ruleset:
    """A device's iptables-save output as a `Ruleset` (module docstring)."""
    tables = read_tables(text, file)
    filt = tables.get("filter")
    if filt is None:
        raise ConfigParseError(file, None, "", "no '*filter' table")
    if not filt.policies["FORWARD"][2].lstrip().startswith(":FORWARD"):
        return parse_iptables(text, file)  # zonewall's own --noflush file (`iptables`)
    reader = _Reader(file, device)
    chains = reader.filter_table(filt)
    for name in ("raw", "mangle", "nat", "security"):
        if name in tables:
            chains.update(reader.other_table(tables[name]))
    forward = tuple(_entry(chains, t, c) for t, c in FORWARD_PATH if _entry(chains, t, c))
    to_box = tuple(
        _entry(chains, t, c, box=True) for t, c in INPUT_PATH if _entry(chains, t, c, box=True)
    )
    return Ruleset("iptables", file, chains, default_entry=forward, input_entry=to_box)


def _entry(chains: dict[str, Chain], table: str, chain: str, box: bool = False) -> str:
    """The chain's name in `chains` when it exists and can decide something, else ""."""
    name = chain if table == "filter" else f"{table} {chain}"
    if table == "nat" and box:
        name += TO_BOX
    found = chains.get(name)
    if found is None or (table != "filter" and not found.rules and found.policy == "ACCEPT"):
        return ""
    return name


def _interfaces(words: tuple[str, ...]) -> tuple[set[str] | None, set[str] | None]:
    """The exact names a rule's positive `-i` and `-o` require (None: not so restricted)."""
    out: list[set[str] | None] = [None, None]
    for k, word in enumerate(words[:-1]):
        side = {"-i": 0, "--in-interface": 0, "-o": 1, "--out-interface": 1}.get(word)
        value = words[k + 1]
        if side is not None and (k == 0 or words[k - 1] != "!") and not value.endswith("+"):
            out[side] = {value}
    return out[0], out[1]


def _target(words: tuple[str, ...]) -> tuple[int, str | None]:
    """Where the target (`-j`/`-g`) starts and its name (len(words), None: no target)."""
    for k, word in enumerate(words[:-1]):
        if word in ("-j", "--jump", "-g", "--goto"):
            return k, words[k + 1]
    return len(words), None


class _Reader:
    def __init__(self, file: str, device: Device) -> None:
        self.file, self.device = file, device

    def fail(self, n: int, raw: str, construct: str, todo: str) -> ConfigParseError:
        return ConfigParseError(
            self.file,
            n,
            raw,
            f"{construct} can change what the audited "
            f"interfaces forward and is not modelled: {todo}",
        )

    def filter_table(self, filt: Table) -> dict[str, Chain]:
        """The filter table, fail closed but for rules that cannot match an audited packet
        (which are left out and counted before the strict parse)."""
        reach = _reach(filt)
        kept = dataclasses.replace(
            filt,
            rules={
                chain: [r for r in rules if self.keep_filter(filt, chain, reach, r)]
                for chain, rules in filt.rules.items()
            },
        )
        try:
            return filter_chains(kept, self.file)
        except ConfigParseError as exc:
            marks = (
                " (marks set in the mangle table are not modelled)"
                if "mark'" in exc.message
                else ""
            )
            raise ConfigParseError(
                exc.file,
                exc.line,
                exc.text,
                f"{exc.message}{marks}: this "
                "rule can match packets on the audited interfaces; restrict it "
                "with -i/-o to interfaces that are not audited, or audit "
                "by hand",
            ) from None

    def keep_filter(
        self,
        filt: Table,
        chain: str,
        reach: dict[str, set[str]],
        rule: tuple[tuple[str, ...], int, str],
    ) -> bool:
        words, n, raw = rule
        iif, oif = _interfaces(words)
        audited, served = self.device.audited, self.device.served
        if reach.get(chain, set()) <= {"OUTPUT"}:
            why = "filter rule for locally generated packets (OUTPUT)"
        elif oif is not None and not oif & audited:
            why = "filter rule for packets leaving other interfaces"
        elif (
            iif is not None
            and not iif & audited
            and ("FORWARD" not in reach.get(chain, set()) or (oif is not None and not oif & served))
        ):
            why = "filter rule for packets entering other interfaces"
        else:
            return True
        try:
            RuleParser(words, self.file, n, raw, filt).parse()
        except ConfigParseError:
            self.device.skipped[why + " (not modelled, cannot matter)"] += 1
            return False
        return True

    def other_table(self, table: Table) -> dict[str, Chain]:
        """A nat, mangle, raw or security table as chains named "TABLE CHAIN" (nat twice:
        for forwarded packets, and for packets to the box)."""
        reach = _reach(table)
        chains: dict[str, Chain] = {}
        variants = (False, True) if table.name == "nat" else (False,)
        for box in variants:
            suffix = TO_BOX if box else ""
            for chain, rules in table.rules.items():
                parsed = [
                    r
                    for w, n, raw in rules
                    if (r := self.other_rule(table, chain, reach, w, n, raw, box))
                ]
                policy, pn, praw = table.policies[chain]
                qualified = [
                    dataclasses.replace(r, target=f"{table.name} {r.target}{suffix}")
                    if r.target is not None
                    else r
                    for r in parsed
                ]
                name = f"{table.name} {chain}{suffix}"
                chains[name] = Chain(name, tuple(qualified), policy, RuleRef(self.file, pn, praw))
        return chains

    def other_rule(
        self,
        table: Table,
        chain: str,
        reach: dict[str, set[str]],
        words: tuple[str, ...],
        n: int,
        raw: str,
        box: bool,
    ) -> Rule | None:
        hooks = reach.get(chain, set()) - {"OUTPUT"}
        iif, oif = _interfaces(words)
        audited = self.device.audited
        at, target = _target(words)
        count = not box  # the nat table is read twice: count once
        if (
            not hooks
            or (iif is not None and not iif & audited)
            or (oif is not None and not oif & audited)
        ):
            if count:
                self.device.skipped[
                    f"{table.name} rule for other interfaces or locally generated packets"
                ] += 1
            return None
        if target is None or target in INERT_TARGETS:
            if count:
                self.device.skipped[
                    f"{table.name} {target or 'counter'} (cannot change what is forwarded)"
                ] += 1
            return None
        matches = list(words[:at])
        local = _addrtype(matches)
        if local == "other" or (local is not None and table.name != "nat"):
            raise self.fail(
                n,
                raw,
                "this -m addrtype match",
                "only '--dst-type LOCAL' in "
                "the nat table is modelled; restrict the rule with -i to an "
                "interface that is not audited",
            )
        if local is not None and local != box:
            return None  # dst-type LOCAL never matches forwarded packets, always ones to the box
        if target in DIVERTS and table.name == "nat" and chain != "POSTROUTING":
            verb = "DROP"
        elif target in PASS or target in table.rules:
            verb = target if target != "REJECT" else "DROP"
        elif target in ("NOTRACK", "CT"):
            raise self.fail(
                n,
                raw,
                f"{table.name} {target}",
                "untracked packets meet the "
                "filter as UNTRACKED, not NEW or ESTABLISHED; restrict it with -i "
                "to an interface that is not audited",
            )
        else:
            raise self.fail(
                n,
                raw,
                f"target {target} in the {table.name} table",
                "restrict it with -i to an interface that is not audited, or remove it",
            )
        try:
            rule = RuleParser((*matches, words[at], verb), self.file, n, raw, table).parse()
        except ConfigParseError as exc:
            raise self.fail(n, raw, f"this {table.name} rule", exc.message) from None
        if table.name == "nat":  # only a connection's first packet meets the nat table
            states = frozenset({"NEW"}) if rule.states is None else rule.states & {"NEW"}
            rule = dataclasses.replace(rule, states=states)
        return rule


def _addrtype(matches: list[str]) -> bool | str | None:
    """Remove `-m addrtype [!] --dst-type LOCAL` from the words: True (LOCAL), False (not
    LOCAL), None (no addrtype match) or "other" (another addrtype form, not modelled)."""
    if "addrtype" not in matches:
        return None
    k = matches.index("addrtype")
    rest = matches[k + 1 :]
    neg = rest[:1] == ["!"]
    if neg:
        rest = rest[1:]
    if k == 0 or matches[k - 1] not in ("-m", "--match") or rest[:2] != ["--dst-type", "LOCAL"]:
        return "other"
    del matches[k - 1 : k + 3 + neg]
    return not neg


def _reach(table: Table) -> dict[str, set[str]]:
    """Each chain of a table: the built-in chains whose rules can reach it."""
    builtin = BUILTIN.get(table.name) or OTHER_TABLES[table.name]
    reach: dict[str, set[str]] = {c: set() for c in table.rules}
    for base in builtin:
        todo = [base]
        while todo:
            chain = todo.pop()
            if base in reach.setdefault(chain, set()):
                continue
            reach[chain].add(base)
            for words, _, _ in table.rules.get(chain, ()):
                _, target = _target(words)
                if target in table.rules and target not in builtin:
                    todo.append(target)
    return reach
