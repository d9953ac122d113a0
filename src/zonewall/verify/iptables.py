"""Parser for iptables-restore / iptables-save text (IPv4), into the verifier's rule model.

Modelled exactly, and nothing else (any other option, match, target or line is a
`ConfigParseError` carrying the file, line and text):

* lines: `#` comments, blank lines, `*table`, `:CHAIN POLICY [p:b]`, `[p:b] -A CHAIN ...`,
  `COMMIT`.  Only the `filter` table is evaluated; any other table must hold no rules and
  only ACCEPT policies (NAT or mangling would change what filtering sees).
* rule options, each optionally negated with a preceding `!`: `-i`/`-o` (with the `+`
  wildcard), `-s`/`-d` (address, CIDR, dotted mask or a comma list, host bits cleared as
  iptables does), `-p` (name or number; `all` and `0` mean every protocol), `-m tcp|udp`
  `--dport`/`--sport` (port or `lo:hi`), `-m multiport --dports|--sports`, `-m icmp
  --icmp-type` (a type, by number or name, without code), `-m conntrack --ctstate` and
  `-m state --state`, `-m comment --comment`, `-m limit --limit/--limit-burst` (only on LOG or
  target-less rules: a rate-limited verdict is not deterministic).
* targets: ACCEPT, DROP, REJECT [--reject-with X] (a drop), RETURN, LOG [--log-prefix P]
  [--log-level L] (goes on), a user chain (`-j`, or `-g` goto), or none (counts, goes on).

Evaluation starts at `FORWARD` for every ingress interface.  iptables-save's rewrites (option
order, `-m tcp`, `/32`, `RELATED,ESTABLISHED`, counters, header comments) all parse.

Two kinds of text, told apart by whether the filter table declares `:FORWARD POLICY`:

* A full ruleset, as `iptables-save` prints a device's (`zonewall audit`): FORWARD is evaluated
  as written, its policy and every rule included, so a rule before zonewall's jump counts and
  a missing jump is drift.
* zonewall's own file, loaded with `iptables-restore --noflush` (the box's FORWARD is not
  declared, so the file cannot know what else it holds).  It must touch nothing but zonewall's
  objects: only the filter table, no built-in chain declared or appended to, every chain it
  declares named `zw-...`, the entry chain `zw-forward` among them.  FORWARD is then modelled as
  the load line leaves it: zonewall's jump `-A FORWARD -j zw-forward` first, then the box's own
  rules, assumed to accept anything (policy ACCEPT).  That is the worst case: a proof under it
  holds whatever the box has after the jump.  INPUT (traffic to the box itself) is modelled
  the same way with `-A INPUT -j zw-input` when the file declares `zw-input`; a file without
  it leaves INPUT to the box, assumed to accept anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from zonewall.intervals import complement, normalise
from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

from .iptables_words import split_words
from .names import IANA_PROTOCOLS, IPTABLES_ICMP
from .rules import (
    EVERYTHING,
    AddrMatch,
    Chain,
    ConfigParseError,
    Fail,
    NameMatch,
    Rule,
    RuleRef,
    Ruleset,
    parse_prefix,
)

__all__ = [
    "ENTRY",
    "OWN_PREFIX",
    "RuleParser",
    "Table",
    "filter_chains",
    "parse_iptables",
    "read_tables",
    "split_words",
]

ENTRY = "zw-forward"  # zonewall's entry chain: FORWARD's first rule jumps to it
INPUT_ENTRY = "zw-input"  # zonewall's chain for traffic to the box: INPUT's first rule
OWN_PREFIX = "zw-"  # the names of zonewall's chains

BUILTIN = {"filter": ("INPUT", "FORWARD", "OUTPUT")}
OTHER_TABLES = {
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
PROTOCOLS = IANA_PROTOCOLS
STATES = frozenset({"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"})
# Options each match module owns (the only ones modelled).
MODULE_OPTIONS = {
    "tcp": {"--dport", "--destination-port", "--sport", "--source-port"},
    "udp": {"--dport", "--destination-port", "--sport", "--source-port"},
    "multiport": {"--dports", "--destination-ports", "--sports", "--source-ports"},
    "icmp": {"--icmp-type"},
    "conntrack": {"--ctstate"},
    "state": {"--state"},
    "comment": {"--comment"},
    "limit": {"--limit", "--limit-burst"},
}
TARGET_OPTIONS = {"LOG": {"--log-prefix", "--log-level"}, "REJECT": {"--reject-with"}}


@dataclass
class _Table:
    """One `*table` block: chain policies and rules (words after the chain name), by chain."""

    name: str
    line: int
    policies: dict[str, tuple[str | None, int, str]] = field(default_factory=dict)
    # a rule's words after the chain name, as a tuple: the garbage collector stops tracking a
    # tuple of strings, which matters with tens of thousands of rules held until `_build`
    rules: dict[str, list[tuple[tuple[str, ...], int, str]]] = field(default_factory=dict)


def parse_iptables(text: str, file: str = "<iptables>", *, memoise: bool = True) -> Ruleset:
    """Parse iptables-restore/-save text into a `Ruleset` entered at filter/FORWARD.

    `memoise=False` parses every rule on its own (slower, same result: the tests compare).
    """
    return _build(read_tables(text, file), file, memoise)


def read_tables(text: str, file: str) -> dict[str, Table]:
    """The tables of iptables-save/-restore text: chain declarations and rules as words,
    checked for structure (tables committed, rules in declared chains) but not parsed."""
    tables: dict[str, _Table] = {}
    cur: _Table | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        if cur is None or line[0] in "*:" or line == "COMMIT":
            cur = _control_line(tables, cur, line, partial(ConfigParseError, file, n, raw), n, raw)
        else:
            _rule_line(cur, line, file, n, raw)
    if cur is not None:
        raise ConfigParseError(file, cur.line, f"*{cur.name}", "table is never committed")
    return tables


def _control_line(
    tables: dict[str, _Table], cur: _Table | None, line: str, fail: Fail, n: int, raw: str
) -> _Table | None:
    """A `*table`, `COMMIT` or `:CHAIN` line (or a line outside a table); the table now open."""
    if line.startswith("*"):
        if cur is not None:
            raise fail(f"table '{cur.name}' is not committed before a new table")
        name = line[1:]
        if name not in BUILTIN and name not in OTHER_TABLES:
            raise fail(f"unknown table '{name}'")
        if name in tables:
            raise fail(f"table '{name}' appears twice")
        cur = tables[name] = _Table(name, n)
        builtin = BUILTIN.get(name) or OTHER_TABLES[name]
        cur.rules.update({c: [] for c in builtin})
        cur.policies.update({c: ("ACCEPT", n, raw) for c in builtin})
        return cur
    if cur is None:
        raise fail("line outside a '*table' ... 'COMMIT' block")
    if line == "COMMIT":
        return None
    _chain_decl(cur, line, fail, n, raw)
    return cur


def _rule_line(table: _Table, line: str, file: str, n: int, raw: str) -> None:
    """A `[p:b] -A CHAIN ...` line, kept as words until every chain is declared."""
    try:
        words = split_words(line)
    except ValueError as exc:
        raise ConfigParseError(file, n, raw, str(exc)) from None
    if words and words[0].startswith("[") and words[0].endswith("]"):
        _counters(words[0], partial(ConfigParseError, file, n, raw))
        words = words[1:]
    if len(words) < 2 or words[0] not in ("-A", "--append"):
        raise ConfigParseError(
            file, n, raw, "unmodelled line (only -A rules, chain declarations and COMMIT)"
        )
    if words[1] not in table.rules:
        raise ConfigParseError(file, n, raw, f"rule for undeclared chain '{words[1]}'")
    table.rules[words[1]].append((tuple(words[2:]), n, raw))


def _counters(word: str, fail: Fail) -> None:
    inner = word[1:-1].split(":")
    if len(inner) != 2 or not all(p.isdigit() for p in inner):
        raise fail(f"bad counters '{word}'")


def _chain_decl(table: _Table, line: str, fail: Fail, n: int, raw: str) -> None:
    parts = line[1:].split()
    if len(parts) == 3:
        _counters(parts[2], fail)
    elif len(parts) != 2:
        raise fail("bad chain declaration")
    name, policy = parts[0], parts[1]
    builtin = BUILTIN.get(table.name) or OTHER_TABLES[table.name]
    if name in builtin:
        if policy not in ("ACCEPT", "DROP"):
            raise fail(f"built-in chain '{name}' needs policy ACCEPT or DROP")
        table.policies[name] = (policy, n, raw)
        return
    if policy != "-":
        raise fail(f"user chain '{name}' cannot have a policy")
    if not name or name.startswith("-") or len(name) > 28:
        raise fail(f"bad chain name '{name}'")
    table.rules.setdefault(name, [])
    table.policies[name] = (None, n, raw)


def _build(tables: dict[str, _Table], file: str, memoise: bool) -> Ruleset:
    for name, table in tables.items():
        if name == "filter":
            continue
        for chain, rules in table.rules.items():
            if rules:
                _, n, raw = rules[0]
                raise ConfigParseError(file, n, raw, f"rules in table '{name}' are not modelled")
            policy, n, raw = table.policies[chain]
            if policy not in ("ACCEPT", None):
                raise ConfigParseError(file, n, raw, f"policy of {name}/{chain} is not modelled")
    filt = tables.get("filter")
    if filt is None:
        raise ConfigParseError(file, None, "", "no '*filter' table")
    _, n, raw = filt.policies["FORWARD"]
    # without ":FORWARD POLICY" the file is zonewall's --noflush file: the kernel keeps its
    # FORWARD chain, which is modelled as the load line leaves it (module docstring)
    own = not raw.lstrip().startswith(":FORWARD")
    if own:
        _check_own_objects(tables, file)
    chains = filter_chains(filt, file, memoise)
    if own:
        chains["FORWARD"] = Chain(
            "FORWARD",
            (
                Rule(
                    RuleRef(
                        file, None, f"FORWARD's first rule (the load line's): -A FORWARD -j {ENTRY}"
                    ),
                    "JUMP",
                    ENTRY,
                ),
            ),
            "ACCEPT",
            RuleRef(
                file,
                None,
                f"FORWARD after the jump to {ENTRY}: the box's own rules, "
                "assumed to accept anything",
            ),
        )
        # INPUT likewise: zonewall's jump first when the file has zonewall's input chain
        jump = (
            Rule(
                RuleRef(
                    file, None, f"INPUT's first rule (the load line's): -A INPUT -j {INPUT_ENTRY}"
                ),
                "JUMP",
                INPUT_ENTRY,
            ),
        )
        chains["INPUT"] = Chain(
            "INPUT",
            jump if INPUT_ENTRY in chains else (),
            "ACCEPT",
            RuleRef(
                file,
                None,
                "INPUT"
                + (
                    f" after the jump to {INPUT_ENTRY}"
                    if INPUT_ENTRY in chains
                    else " (not touched by this file)"
                )
                + ": the box's own rules, assumed to accept anything",
            ),
        )
    return Ruleset("iptables", file, chains, default_entry=("FORWARD",), input_entry=("INPUT",))


def filter_chains(filt: Table, file: str, memoise: bool = True) -> dict[str, Chain]:
    """The filter table's chains, every rule parsed (fail closed)."""
    chains: dict[str, Chain] = {}
    memo = _RuleMemo(filt, file)
    for name, rules in filt.rules.items():
        if memoise:
            parsed = memo.parse(rules)
        else:
            parsed = tuple(_RuleParser(w, file, n, raw, filt).parse() for w, n, raw in rules)
        policy, pn, praw = filt.policies[name]
        chains[name] = Chain(name, parsed, policy, RuleRef(file, pn, praw))
    return chains


def _check_own_objects(tables: dict[str, _Table], file: str) -> None:
    """A file that does not declare FORWARD is loaded with --noflush beside the box's rules,
    so it may touch zonewall's own chains only (failing closed on anything else)."""
    for name, table in tables.items():
        if name != "filter":
            raise ConfigParseError(
                file,
                table.line,
                f"*{name}",
                "a --noflush file (FORWARD not declared) may hold only zonewall's filter chains",
            )
    filt = tables["filter"]
    for chain in BUILTIN["filter"]:
        _, n, raw = filt.policies[chain]
        if raw.lstrip().startswith(f":{chain}"):
            raise ConfigParseError(
                file,
                n,
                raw,
                f"a --noflush file must not declare {chain} (it would set the box's policy)",
            )
        if filt.rules[chain]:
            _, n, raw = filt.rules[chain][0]
            raise ConfigParseError(
                file,
                n,
                raw,
                f"a --noflush file must not add rules to {chain} (a reload would add them again)",
            )
    for chain, (_, n, raw) in filt.policies.items():
        if chain not in BUILTIN["filter"] and not chain.startswith(OWN_PREFIX):
            raise ConfigParseError(
                file,
                n,
                raw,
                f"chain '{chain}' is not zonewall's (a "
                f"--noflush file declares only {OWN_PREFIX}* chains)",
            )
    if ENTRY not in filt.rules:
        raise ConfigParseError(
            file,
            filt.line,
            "*filter",
            f"the policy of FORWARD is not "
            f"declared and zonewall's entry chain '{ENTRY}' is missing",
        )


# Options whose value `_RuleParser` takes and never reads, and the target options.
INERT_VALUE_OPTIONS = frozenset({"--comment", "--log-prefix", "--log-level", "--reject-with"})
TARGET_WORDS = frozenset({"-j", "--jump", "-g", "--goto"})


class _RuleMemo:
    """Rules already parsed, by their options with the values that cannot change the result
    left out, so a generated ruleset's thousands of look-alike rules are parsed once each.

    Every modelled option takes exactly one value, so the option words sit at fixed places
    (`[!] OPTION VALUE ...`).  Two rules whose words differ only in the value of an option in
    `INERT_VALUE_OPTIONS` or in a jump/goto target that is a user chain of the table parse
    alike: `_RuleParser` never reads the former, and reads the latter only to check that it is
    a user chain and to copy it into `Rule.target`.  Failures are never stored, so a line
    that does not parse is always parsed on its own and fails with its own error.
    """

    def __init__(self, table: _Table, file: str) -> None:
        self.table, self.file = table, file
        keywords = {"ACCEPT", "DROP", "RETURN", "LOG", "REJECT", *BUILTIN["filter"]}
        self.user_chains = frozenset(c for c in table.rules if c not in keywords)
        self.rules: dict[tuple[str | None, ...], Rule] = {}

    def parse(self, rules: list[tuple[tuple[str, ...], int, str]]) -> tuple[Rule, ...]:
        """The rules of one chain: (words after the chain name, line number, line)."""
        out = []
        for words, n, raw in rules:
            key, target = self.key(words)
            seen = self.rules.get(key)
            if seen is None:
                seen = self.rules[key] = _RuleParser(words, self.file, n, raw, self.table).parse()
                out.append(seen)
            else:
                out.append(
                    Rule(
                        RuleRef(self.file, n, raw),
                        seen.action,
                        target or seen.target,
                        seen.iif,
                        seen.oif,
                        seen.src,
                        seen.dst,
                        seen.keys,
                        seen.sports,
                        seen.states,
                    )
                )
        return tuple(out)

    def key(self, words: tuple[str, ...]) -> tuple[tuple[str | None, ...], str | None]:
        """The words with the left-out values as None, and the user-chain target if any."""
        key: list[str | None] = list(words)
        target = None
        i = 0
        while i + 1 < len(words):
            if words[i] == "!":
                i += 1
                if i + 1 >= len(words):
                    break
            option, value = words[i], words[i + 1]
            if option in INERT_VALUE_OPTIONS:
                key[i + 1] = None
            elif option in TARGET_WORDS and value in self.user_chains:
                key[i + 1] = None
                target = value
            i += 2
        return tuple(key), target


class _RuleParser:
    """The options of one `-A CHAIN` line (after the chain name)."""

    def __init__(self, words: tuple[str, ...], file: str, n: int, raw: str, table: _Table) -> None:
        self.words, self.file, self.n, self.raw, self.table = words, file, n, raw, table
        self.i = 0
        self.modules: set[str] = set()
        self.seen: set[str] = set()
        self.iif: NameMatch | None = None
        self.oif: NameMatch | None = None
        self.src: AddrMatch | None = None
        self.dst: AddrMatch | None = None
        self.states: tuple[frozenset[str], bool] | None = None
        self.proto: tuple[int, bool] | None = None
        self.dports: tuple[tuple[tuple[int, int], ...], bool] | None = None
        self.sports: tuple[tuple[tuple[int, int], ...], bool] | None = None
        self.icmp: tuple[int | None, bool] | None = None
        self.limited = False
        self.target: str | None = None
        self.goto = False

    def fail(self, msg: str) -> ConfigParseError:
        return ConfigParseError(self.file, self.n, self.raw, msg)

    def take(self, what: str) -> str:
        if self.i >= len(self.words):
            raise self.fail(f"'{what}' needs a value")
        self.i += 1
        return self.words[self.i - 1]

    def parse(self) -> Rule:
        while self.i < len(self.words):
            neg = False
            word = self.take("option")
            if word == "!":
                neg = True
                word = self.take("!")
            self.option(word, neg)
        return self.rule()

    def once(self, name: str) -> None:
        if name in self.seen:
            raise self.fail(f"'{name}' given twice")
        self.seen.add(name)

    def option(self, word: str, neg: bool) -> None:
        # One branch per keyword of the grammar, in the order the docstring lists them:
        # long, but a flat dispatch is easier to check against the syntax than a table.
        if word in ("-i", "--in-interface", "-o", "--out-interface"):
            value = self.take(word)
            names, prefixes = ((), (value[:-1],)) if value.endswith("+") else ((value,), ())
            match = NameMatch(frozenset(names), prefixes, neg)
            if word in ("-i", "--in-interface"):
                self.once("-i")
                self.iif = match
            else:
                self.once("-o")
                self.oif = match
        elif word in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
            value = self.take(word)
            try:
                ivs = [parse_prefix(p) for p in value.split(",")]
            except ValueError as exc:
                raise self.fail(str(exc)) from None
            if neg and len(ivs) > 1:
                raise self.fail("'!' with several addresses")
            if word in ("-s", "--source", "--src"):
                self.once("-s")
                self.src = AddrMatch.of(ivs, neg)
            else:
                self.once("-d")
                self.dst = AddrMatch.of(ivs, neg)
        elif word in ("-p", "--protocol"):
            self.once("-p")
            self.proto = (self.protocol(self.take(word)), neg)
            if self.proto[0] in (TCP, UDP, ICMP):  # iptables loads the match implicitly
                self.modules.add({TCP: "tcp", UDP: "udp", ICMP: "icmp"}[self.proto[0]])
        elif word in ("-m", "--match"):
            if neg:
                raise self.fail("'!' before -m")
            module = self.take(word)
            if module not in MODULE_OPTIONS:
                raise self.fail(f"match module '{module}' is not modelled")
            self.modules.add(module)
        elif word in ("-j", "--jump", "-g", "--goto"):
            if neg or self.target is not None:
                raise self.fail("a second or negated target")
            self.target = self.take(word)
            self.goto = word in ("-g", "--goto")
        elif word.startswith("--"):
            self.module_option(word, neg)
        else:
            raise self.fail(f"option '{word}' is not modelled")

    def module_option(self, word: str, neg: bool) -> None:
        owner = next((m for m in sorted(self.modules) if word in MODULE_OPTIONS[m]), None)
        if owner is None:
            target_opts = TARGET_OPTIONS.get(self.target or "", set())
            if word in target_opts and not neg:
                self.once(word)
                self.take(word)
                return
            raise self.fail(f"option '{word}' is not modelled here")
        value = self.take(word)
        if word in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            self.once("--dport")
            self.dports = (self.ports(value, multi=word.endswith("s")), neg)
        elif word in ("--sport", "--source-port", "--sports", "--source-ports"):
            self.once("--sport")
            self.sports = (self.ports(value, multi=word.endswith("s")), neg)
        elif word == "--icmp-type":
            self.once("--icmp-type")
            self.icmp = (self.icmp_type(value), neg)
        elif word in ("--ctstate", "--state"):
            states = frozenset(value.split(","))
            if not states <= STATES:
                raise self.fail(f"conntrack states {value} are not modelled")
            self.once("--ctstate")
            self.states = (states, neg)
        elif word == "--comment":
            if neg:
                raise self.fail("'!' before --comment")
        else:  # --limit, --limit-burst
            if neg:
                raise self.fail(f"'!' before {word}")
            self.limited = True

    def protocol(self, value: str) -> int:
        if value in ("all", "0"):
            return -1
        if value.isdigit() and int(value) <= 255:
            return int(value)
        if value.lower() in PROTOCOLS:
            return PROTOCOLS[value.lower()]
        raise self.fail(f"protocol '{value}' is not modelled")

    def ports(self, value: str, multi: bool) -> tuple[tuple[int, int], ...]:
        items = value.split(",")
        if not multi and len(items) > 1:
            raise self.fail("several ports need -m multiport")
        out = []
        for item in items:
            lo_s, _, hi_s = item.partition(":")
            if not lo_s.isdigit() or (hi_s and not hi_s.isdigit()):
                raise self.fail(f"port '{item}' is not a number or range")
            lo, hi = int(lo_s), int(hi_s or lo_s)
            if not lo <= hi < PORT_SPAN:
                raise self.fail(f"bad port range '{item}'")
            out.append((lo, hi))
        return tuple(out)

    def icmp_type(self, value: str) -> int | None:
        if value == "any":
            return None
        if value.isdigit() and int(value) <= 255:
            return int(value)
        if value in IPTABLES_ICMP:
            return IPTABLES_ICMP[value]
        raise self.fail(f"ICMP type '{value}' is not modelled (codes are not)")

    def rule(self) -> Rule:
        ref = RuleRef(self.file, self.n, self.raw)
        action, target = self.action()
        proto = self.proto[0] if self.proto else -1
        if self.proto and self.proto[1] and (self.dports or self.sports or self.icmp):
            raise self.fail("'! -p' with port or type matches")
        if (self.dports or self.sports) and proto not in (TCP, UDP):
            raise self.fail("port matches need -p tcp or -p udp")
        if self.icmp and proto != ICMP:
            raise self.fail("--icmp-type needs -p icmp")
        if self.limited and action not in ("CONTINUE",):
            raise self.fail("a rate-limited verdict is not deterministic")
        keys = self.keys(proto)
        states = None
        if self.states is not None:
            st, neg = self.states
            states = frozenset(STATES - st) if neg else st
        sports = None
        if self.sports is not None:
            ivs, neg = self.sports
            sports = complement(normalise(ivs), 0, PORT_SPAN - 1) if neg else ivs
        return Rule(
            ref, action, target, self.iif, self.oif, self.src, self.dst, keys, sports, states
        )

    def keys(self, proto: int) -> PacketSet:
        if proto == -1:
            if self.proto and self.proto[1]:
                return PacketSet()  # "! -p all" matches nothing
            return EVERYTHING
        block = PacketSet.protocol(proto)
        if self.proto and self.proto[1]:
            return EVERYTHING - block
        if self.dports is not None:
            ivs, neg = self.dports
            ports = PacketSet.union_all(PacketSet.ports(proto, lo, hi) for lo, hi in ivs)
            return block - ports if neg else ports
        if self.icmp is not None and self.icmp[0] is not None:
            one = PacketSet.ports(ICMP, self.icmp[0], self.icmp[0])
            return block - one if self.icmp[1] else one
        if self.icmp is not None and self.icmp[1]:
            return PacketSet()  # "! --icmp-type any"
        return block

    def action(self) -> tuple[str, str | None]:
        t = self.target
        if t is None:
            return "CONTINUE", None
        if t in ("ACCEPT", "DROP", "RETURN", "LOG", "REJECT"):
            if self.goto:
                raise self.fail(f"-g needs a user chain, not {t}")
            return {"LOG": "CONTINUE", "REJECT": "DROP"}.get(t, t), None
        if t not in self.table.rules or t in BUILTIN["filter"]:
            raise self.fail(f"target '{t}' is not a user chain of this table or not modelled")
        return ("GOTO" if self.goto else "JUMP"), t


Table = _Table  # for `iptables_tables`, which reads the other tables of a device's output
RuleParser = _RuleParser
