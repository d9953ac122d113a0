"""Parser for nft rulesets (`nft -f` input and `nft list ruleset` output), IPv4 forwarding.

The file is replayed as one transaction: `flush ruleset`, `table FAMILY NAME` (create if
missing), `delete table FAMILY NAME`, and `table FAMILY NAME { ... }` (add sets and chains,
append rules), so the `table` / `delete table` / definition replace idiom gives exactly the
last definition.  Tables of family `ip` and `inet` are evaluated; `ip6` tables are parsed but
cannot see IPv4; other families are not modelled.

Modelled exactly (anything else is a `ConfigParseError` with file, line and text):

* sets: `type ipv4_addr|inet_service|inet_proto`, `flags interval|constant`, `auto-merge`,
  `elements = { ... }` (addresses, prefixes, `a-b` ranges; ports; protocols), `comment`.
* base chains: `type filter hook forward|input|output priority P; policy accept|drop;`.  Every
  `forward` base chain of every table is traversed in priority order and all must accept;
  likewise every `input` chain for a packet to the box itself (`Ruleset.input_entry`);
  output chains are not evaluated.
* rule matches (each optionally `!=`): `iifname`/`oifname`/`iif`/`oif` (strings, `*` suffix
  wildcard, anonymous sets), `meta iifname|oifname|l4proto`, `ip saddr|daddr` (literal, set
  literal, `@set`), `ip protocol`, `tcp|udp dport|sport` (port, `lo-hi`, set, `@set`),
  `icmp type` (number or name), `ct state`, `meta nfproto ipv4`; statements `counter
  [packets N bytes M]`, `log [prefix S] [level L]`, `limit rate N/unit [burst N packets]`
  (only in rules without a verdict), `comment S`; verdicts `accept`, `drop`, `reject [with
  ...]` (a drop), `jump C`, `goto C`, `return`, `continue`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zonewall.packets import PORT_SPAN, PacketSet

from .names import IANA_PROTOCOLS, NFT_ICMP
from .nft_device import (
    DEVICE_HOOKS,
    OTHER_FAMILIES,
    STAGES,
    TABLE_OBJECTS,
    Device,
    device_line,
    device_rule,
    nat_user_chains,
    new_only,
    skip_object,
    skip_other_family,
    skip_set,
)
from .nft_firewalld import check_ct_dnat
from .nft_rule import RuleParser
from .rules import (
    Chain,
    ConfigParseError,
    Rule,
    RuleRef,
    Ruleset,
    parse_prefix,
)

__all__ = ["parse_nftables"]

# A quoted string has no escapes (nft 1.0.6: `"a \" b"` is a syntax error, a backslash is an
# ordinary character), so it ends at the next `"`.
_TOKEN = re.compile(r'"[^"\n]*"|!=|[{};,=]|@[A-Za-z0-9_.\-]+|[^\s{};,="@#]+|#[^\n]*|\n')
# The tokens or the blanks between them: where these matches cover a whole line, they are the
# tokens `_TOKEN` finds in it, in one call; other lines are read token by token.
_TOKEN_OR_BLANK = re.compile(_TOKEN.pattern + r"|[^\S\n]+")
PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
}


@dataclass
class _NftSet:
    name: str
    kind: str
    values: list[tuple[int, int]]


@dataclass
class _NftChain:
    name: str
    line: int
    hook: str | None = None
    kind: str = "filter"  # the base chain's type: filter, nat (device output only)
    priority: int = 0
    policy: str = "accept"
    policy_ref: RuleRef | None = None
    rules: list[Rule] = field(default_factory=list)
    # device output: the rules as a packet to the box meets them (`fib daddr type local`)
    box_rules: list[Rule] = field(default_factory=list)


@dataclass
class _NftTable:
    family: str
    name: str
    sets: dict[str, _NftSet] = field(default_factory=dict)
    chains: dict[str, _NftChain] = field(default_factory=dict)
    # rules parsed so far, by `_Parser.rule_key`; emptied when a set changes (rules read sets)
    memo: dict[tuple[str | None, ...], tuple[Rule, int | None]] = field(default_factory=dict)


def parse_nftables(
    text: str, file: str = "<nftables>", *, memoise: bool = True, device: Device | None = None
) -> Ruleset:
    """Parse an nft ruleset into a `Ruleset` whose entry is every forward base chain.

    `memoise=False` parses every rule on its own (slower, same result: the tests compare).
    `device`: the text is a device's whole `nft list ruleset` (`zonewall audit`; see
    `nft_device`): other families, hooks and chain types are read, and what cannot change
    forwarding on `device.audited` is skipped and counted in `device.skipped`.
    """
    return _Parser(text, file, memoise, device=device).parse()


def parse_nftables_ipv6(
    text: str, file: str = "<nftables>", *, device: Device | None = None
) -> Ruleset:
    """The same ruleset as IPv6 packets see it: the forward base chains of `ip6` and `inet`
    tables, where a rule with an `ip saddr|daddr|protocol` or `icmp type` match never
    matches (it is kept, with no keys, so line numbers stay).  Addresses and protocols of
    IPv6 itself (`ip6 saddr`, `icmpv6`) are not modelled and fail closed as always."""
    return _Parser(text, file, memoise=False, ipv6=True, device=device).parse()


class _Parser:
    def __init__(
        self,
        text: str,
        file: str,
        memoise: bool = True,
        ipv6: bool = False,
        device: Device | None = None,
    ) -> None:
        self.file = file
        self.device = device
        self.memoise = memoise and not ipv6
        self.ipv6 = ipv6
        self.lines = text.splitlines()
        self.words: list[str] = []  # the tokens, newlines included
        self.word_lines: list[int] = []  # the line of each
        for n, line in enumerate(self.lines, 1):
            found = _TOKEN_OR_BLANK.findall(line)
            if sum(map(len, found)) != len(line):
                found = self._tokens(n, line)
            words = [w for w in found if not w[0].isspace() and w[0] != "#"]
            words.append("\n")
            self.words.extend(words)
            self.word_lines.extend([n] * len(words))
        self.i = 0
        self.tables: dict[tuple[str, str], _NftTable] = {}

    def _tokens(self, n: int, line: str) -> list[str]:
        """The tokens of a line, one at a time, failing at the first text that is none."""
        pos = 0
        out = []
        for m in _TOKEN.finditer(line):
            if line[pos : m.start()].strip():
                raise self._err(n, f"cannot read '{line[pos : m.start()].strip()}'")
            pos = m.end()
            out.append(m.group())
        if line[pos:].strip():
            raise self._err(n, f"cannot read '{line[pos:].strip()}'")
        return out

    # -- token helpers --------------------------------------------------------------------------
    def _err(self, line: int | None, msg: str) -> ConfigParseError:
        text = self.lines[line - 1] if line is not None and 0 < line <= len(self.lines) else ""
        return ConfigParseError(self.file, line, text, msg)

    def err(self, msg: str) -> ConfigParseError:
        line = self.word_lines[min(self.i, len(self.words) - 1)] if self.words else None
        return self._err(line, msg)

    def peek(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def line(self) -> int:
        return self.word_lines[min(self.i, len(self.words) - 1)]

    def next(self, what: str = "a word") -> str:
        if self.i >= len(self.words) or self.words[self.i] in ("\n", ";"):
            raise self.err(f"expected {what}")
        self.i += 1
        return self.words[self.i - 1]

    def expect(self, text: str) -> None:
        if self.peek() != text:
            raise self.err(f"expected '{text}', found '{self.peek()}'")
        self.i += 1

    def skip_newlines(self, semis: bool = True) -> None:
        while self.peek() == "\n" or (semis and self.peek() == ";"):
            self.i += 1

    def end_statement(self) -> None:
        if self.peek() not in ("\n", ";", "}", None):
            raise self.err(f"unexpected '{self.peek()}'")

    # -- top level ------------------------------------------------------------------------------
    def parse(self) -> Ruleset:
        while True:
            self.skip_newlines()
            word = self.peek()
            if word is None:
                break
            line = self.line()
            self.i += 1
            if word == "flush" and self.peek() == "ruleset":
                self.i += 1
                self.tables.clear()
            elif word == "delete" and self.peek() == "table":
                self.i += 1
                ident = self.table_ident()
                if ident not in self.tables:
                    raise self._err(line, f"delete of missing table {' '.join(ident)}")
                del self.tables[ident]
            elif word in ("table", "add") and (word == "table" or self.peek() == "table"):
                if word == "add":
                    self.i += 1
                if self.device is not None and self.peek() in OTHER_FAMILIES:
                    skip_other_family(self, self.device, line)
                    self.end_statement()
                    continue
                ident = self.table_ident()
                table = self.tables.setdefault(ident, _NftTable(*ident))
                if self.peek() == "{":
                    self.i += 1
                    self.table_body(table)
            else:
                raise self._err(line, f"'{word}' is not modelled at top level")
            self.end_statement()
        if self.device is not None:
            check_ct_dnat(self)
        return self.ruleset()

    def table_ident(self) -> tuple[str, str]:
        family = self.next("a family")
        if family not in ("ip", "inet", "ip6"):
            raise self.err(f"table family '{family}' is not modelled")
        return family, self.next("a table name")

    def table_body(self, table: _NftTable) -> None:
        while True:
            self.skip_newlines()
            word = self.peek()
            if word == "}":
                self.i += 1
                return
            line = self.line()
            word = self.next("a table statement")
            if word == "set":
                name = self.next("a set name")
                self.expect("{")
                self.set_body(table, name, line)
            elif word == "chain":
                name = self.next("a chain name")
                chain = table.chains.setdefault(name, _NftChain(name, line))
                self.expect("{")
                self.chain_body(table, chain)
            elif self.device is not None and word in TABLE_OBJECTS and self.peek() != "{":
                skip_object(self, self.device, word)  # `map NAME { ... }`, `flowtable ...`
            else:
                raise self._err(line, f"'{word}' is not modelled in a table")
            self.end_statement()

    def set_body(self, table: _NftTable, name: str, line: int) -> None:
        kind = ""
        values: list[tuple[int, int]] = []
        while True:
            self.skip_newlines()
            word = self.next("a set statement")
            if word == "}":
                break
            if word == "type":
                kind = self.next("a set type")
                if kind not in ("ipv4_addr", "inet_service", "inet_proto"):
                    if self.device is None:
                        raise self.err(f"set type '{kind}' is not modelled")
                    skip_set(self, self.device, kind)  # a rule using it is refused
                    return
            elif word == "flags":
                flags = [self.next("a flag")]
                while self.peek() == ",":
                    self.i += 1
                    flags.append(self.next("a flag"))
                if not set(flags) <= {"interval", "constant"}:
                    raise self.err(f"set flags {', '.join(flags)} are not modelled")
            elif word == "auto-merge":
                pass
            elif word == "comment":
                self.string()
            elif word == "elements":
                self.expect("=")
                if not kind:
                    raise self.err("elements before the set type")
                values.extend(self.values(kind, table))
            else:
                raise self.err(f"'{word}' is not modelled in a set")
            self.end_statement()
        if name in table.sets and table.sets[name].kind != kind:
            raise self._err(line, f"set '{name}' redefined with another type")
        old = table.sets.get(name)
        table.sets[name] = _NftSet(name, kind, (old.values if old else []) + values)
        table.memo.clear()

    def chain_body(self, table: _NftTable, chain: _NftChain) -> None:
        while True:
            self.skip_newlines()
            if self.peek() == "}":
                self.i += 1
                return
            if self.peek() is None:  # the text ends inside the chain
                raise self.err("expected '}'")
            if self.peek() == "type":
                self.base_chain(chain)
            elif self.device is not None and self.peek() in ("devices", "device"):
                device_line(self, self.device, chain)
            elif self.peek() == "policy":
                line = self.line()
                self.i += 1
                chain.policy = self.next("a policy")
                if chain.policy not in ("accept", "drop"):
                    raise self.err(f"policy '{chain.policy}' is not modelled")
                chain.policy_ref = RuleRef(self.file, line, self.lines[line - 1])
            elif self.device is not None:
                device_rule(self, self.device, table, chain)
            else:
                chain.rules.append(self.rule(table))
            self.end_statement()

    def rule(self, table: _NftTable) -> Rule:
        """One rule, parsed once per table for all rules that differ only in comments, log
        prefixes and jump targets (see `rule_key`)."""
        start = self.i
        key, targets = self.rule_key(start)
        seen = table.memo.get(key) if self.memoise else None
        self.last_local: bool | None = None
        if seen is None:
            parser = RuleParser(self, table)
            rule = parser.parse()
            self.last_local = parser.local
            if self.ipv6 and parser.ipv4:
                return Rule(rule.ref, "CONTINUE", keys=PacketSet())  # never matches IPv6
            if parser.local is not None:
                return rule  # not memoised: the memo does not keep `local`
            read_at = () if parser.target_at is None else (parser.target_at - start,)
            if self.memoise and key and self.i == start + len(key) and targets == read_at:
                table.memo[key] = (rule, targets[0] if targets else None)
            return rule
        self.i = start + len(key)
        line = self.word_lines[start]
        rule, at = seen
        target = rule.target if at is None else self.words[start + at]
        return Rule(
            RuleRef(self.file, line, self.lines[line - 1]),
            rule.action,
            target,
            rule.iif,
            rule.oif,
            rule.src,
            rule.dst,
            rule.keys,
            rule.sports,
            rule.states,
        )

    def rule_key(self, start: int) -> tuple[tuple[str | None, ...], tuple[int, ...]]:
        """The tokens from `start` to the first newline, ';' or '}', with None for a quoted
        string after `comment` or `prefix` and for each word after `jump` or `goto` (whose
        places are returned).

        A rule parsed from exactly these tokens stands for every rule with the same key:
        `RuleParser` reads such a string only to check it is quoted (in a rule that parses,
        a quoted string after those words can be nothing but a comment or a log prefix), and
        it copies the jump target without reading it, which `rule` checks it did at that
        place, the only such place.  Sets are the only other input, hence one memo per table,
        emptied on a set change.  A rule that fails is not stored: it fails with its own error.
        """
        key: list[str | None] = []
        targets: list[int] = []
        words = self.words
        for i in range(start, len(words)):
            word = words[i]
            if word in ("\n", ";", "}"):
                break
            before = words[i - 1] if i > start else ""
            if before in ("jump", "goto"):
                key.append(None)
                targets.append(i - start)
            elif before in ("comment", "prefix") and word[0] == '"':
                key.append(None)
            else:
                key.append(word)
        return tuple(key), tuple(targets)

    def base_chain(self, chain: _NftChain) -> None:
        line = self.line()
        self.i += 1
        chain.kind = self.next("a chain type")
        if (chain.kind != "filter" and self.device is None) or self.next("'hook'") != "hook":
            raise self.err("only 'type filter hook ...' base chains are modelled")
        chain.hook = self.next("a hook")
        hooks = DEVICE_HOOKS if self.device is not None else ("forward", "input", "output")
        if chain.hook not in hooks or chain.kind not in ("filter", "nat", "route"):
            raise self.err(f"{chain.kind} hook '{chain.hook}' is not modelled")
        if self.next("'priority'") != "priority":
            raise self.err("expected 'priority'")
        chain.priority = self.priority()
        chain.policy_ref = RuleRef(self.file, line, self.lines[line - 1])

    def priority(self) -> int:
        word = self.next("a priority")
        base = PRIORITIES.get(word)
        if base is None:
            if not re.fullmatch(r"-?\d+", word):
                raise self.err(f"priority '{word}' is not modelled")
            return int(word)
        if self.peek() and re.fullmatch(r"[+-]\d*", self.peek() or ""):
            sign = self.next()
            num = sign[1:] or self.next("a number")
            if not num.isdigit():
                raise self.err("bad priority offset")
            return base + (int(num) if sign[0] == "+" else -int(num))
        return base

    # -- values ---------------------------------------------------------------------------------
    def string(self) -> str:
        word = self.next("a string")
        if not (word.startswith('"') and word.endswith('"') and len(word) >= 2):
            raise self.err(f"expected a quoted string, found {word}")
        return word[1:-1]

    def values(self, kind: str, table: _NftTable) -> list[tuple[int, int]]:
        """One value, `{ v, ... }` (newlines allowed inside) or `@set`, as intervals."""
        word = self.peek()
        if word is not None and word.startswith("@"):
            self.i += 1
            found = table.sets.get(word[1:])
            if found is None or found.kind != kind:
                raise self.err(f"set '{word[1:]}' is undefined or not of type {kind}")
            return list(found.values)
        if word != "{":
            return [self.value(kind, self.next("a value"))]
        self.i += 1
        out: list[tuple[int, int]] = []
        while True:
            self.skip_newlines(semis=False)
            out.append(self.value(kind, self.next("a value")))
            self.skip_newlines(semis=False)
            sep = self.next("',' or '}'")
            if sep == "}":
                return out
            if sep != ",":
                raise self.err(f"expected ',' or '}}', found '{sep}'")

    def value(self, kind: str, word: str) -> tuple[int, int]:
        try:
            if kind == "ipv4_addr":
                if "-" in word:
                    lo_s, hi_s = word.split("-", 1)
                    lo, hi = parse_prefix(lo_s)[0], parse_prefix(hi_s)[0]
                    if lo > hi:
                        raise ValueError("empty range")
                    return lo, hi
                return parse_prefix(word)
            if kind == "inet_service":
                lo_s, _, hi_s = word.partition("-")
                lo, hi = int(lo_s), int(hi_s or lo_s)
                if not (lo_s.isdigit() and (not hi_s or hi_s.isdigit()) and lo <= hi < PORT_SPAN):
                    raise ValueError("bad port")
                return lo, hi
            if kind == "inet_proto":
                if word in IANA_PROTOCOLS or word == "ip":
                    return _proto_number(word), _proto_number(word)
                lo_s, _, hi_s = word.partition("-")
                lo, hi = _proto_number(lo_s), _proto_number(hi_s or lo_s)
                if lo > hi:
                    raise ValueError("empty range")
                return lo, hi
            if kind == "icmp_type":
                if word in NFT_ICMP:
                    return NFT_ICMP[word], NFT_ICMP[word]
                lo_s, _, hi_s = word.partition("-")
                lo, hi = int(lo_s), int(hi_s or lo_s)
                if not (lo_s.isdigit() and lo <= hi <= 255):
                    raise ValueError("bad type")
                return lo, hi
        except ValueError as exc:
            raise self.err(f"bad {kind} value '{word}': {exc}") from None
        raise self.err(f"values of type {kind} are not modelled")

    # -- result ---------------------------------------------------------------------------------
    def ruleset(self) -> Ruleset:
        chains: dict[str, Chain] = {}
        # (stage, input hook?, priority, order, name, name of the copy for the box)
        bases: list[tuple[int, bool, int, int, str, str]] = []
        for t_index, ((family, tname), table) in enumerate(self.tables.items()):
            under_nat = nat_user_chains(table)  # device output: their rules see NEW only
            for c_index, chain in enumerate(table.chains.values()):
                qualified = f"{family} {tname} {chain.name}"
                if chain.name in under_nat:
                    chain.rules = [new_only(r) for r in chain.rules]
                rules = tuple(_qualify(r, f"{family} {tname} ") for r in chain.rules)
                for rule in (*chain.rules, *chain.box_rules):
                    if rule.target is not None and rule.target not in table.chains:
                        raise ConfigParseError(
                            self.file,
                            rule.ref.line,
                            rule.ref.text,
                            f"jump to undefined chain '{rule.target}'",
                        )
                    if rule.target is not None and table.chains[rule.target].hook is not None:
                        raise ConfigParseError(
                            self.file, rule.ref.line, rule.ref.text, "jump to a base chain"
                        )
                policy = chain.policy.upper() if chain.hook is not None else None
                chains[qualified] = Chain(qualified, rules, policy, chain.policy_ref)
                to_box_name = qualified
                if chain.hook == "prerouting":  # device output: its rules as the box sees them
                    to_box_name = qualified + " (to the box)"
                    chains[to_box_name] = Chain(
                        to_box_name,
                        tuple(_qualify(r, f"{family} {tname} ") for r in chain.box_rules),
                        policy,
                        chain.policy_ref,
                    )
                after = chain.kind == "nat" and chain.hook == "postrouting"  # rules skipped
                if (
                    chain.hook in STAGES
                    and not after
                    and family in (("ip6", "inet") if self.ipv6 else ("ip", "inet"))
                ):
                    bases.append(
                        (
                            STAGES[chain.hook],
                            chain.hook == "input",
                            chain.priority,
                            t_index * 10000 + c_index,
                            qualified,
                            to_box_name,
                        )
                    )
        # prerouting, then forward (and postrouting), or input: every chain must accept
        entry = tuple(b[4] for b in sorted(bases) if b[0] != 1 or not b[1])
        to_box = tuple(b[5] for b in sorted(bases) if b[0] == 0 or b[1])
        return Ruleset("nftables", self.file, chains, default_entry=entry, input_entry=to_box)


def _proto_number(word: str) -> int:
    if word.isdigit() and int(word) <= 255:
        return int(word)
    if word == "ip":  # nft prints protocol 0 as "ip"
        return 0
    if word in IANA_PROTOCOLS:
        return IANA_PROTOCOLS[word]
    raise ValueError(f"unknown protocol '{word}'")


def _qualify(rule: Rule, prefix: str) -> Rule:
    if rule.target is None:
        return rule
    return Rule(
        rule.ref,
        rule.action,
        prefix + rule.target,
        rule.iif,
        rule.oif,
        rule.src,
        rule.dst,
        rule.keys,
        rule.sports,
        rule.states,
        rule.ack,
    )
