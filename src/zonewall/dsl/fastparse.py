"""Fast front end: a hand-written lexer and recursive-descent parser for `.zw` text.

`grammar.lark` is the reference grammar and stays the single source of truth for the language;
this module is an optimisation of it, not a second definition.  It accepts exactly the texts
the lark LALR parser accepts and builds exactly the statements `PolicyTransformer` builds from
lark's tree (same IR nodes, same spans, same local diagnostics in the same order), by calling
the same `TokenChecks`.  The differential tests (tests/unit/dsl/test_fastparse_diff.py: every
example and test policy, generated policies, and random mutations of them) are what guarantees
that.  On a syntax error this module gives up (`FastSyntaxError`) and `parser.parse_statements`
asks lark, so every syntax-error message comes from lark.

Lexing follows lark's contextual lexer, which only tries the terminals the current parser state
can accept.  Tokens other than words lex the same in every state (where they differ, both sides
reject the text), so one master regex finds them.  A word is resolved by the parser against the
keywords lark's lexer would try in that state (`_K_*`, lark's LALR state sets, lookaheads of
merged states included): where NAME is acceptable, a word is a keyword only if it is one
exactly; where it is not, the longest acceptable keyword that begins the word is split off, so
`allowed -> x` at the start of a statement is `allow ed -> x`, as lark reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields
from typing import Any, NoReturn

from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.dsl.checks import Include, PoolSubnets, PoolVlans, TokenChecks
from zonewall.ir import (
    AssertKind,
    AssertStmt,
    ExternalDef,
    RuleStmt,
    Selector,
    SelTerm,
    ServiceDef,
    ServiceItem,
    ServiceRef,
)

__all__ = ["Budget", "FastSyntaxError", "TooLarge", "parse_fast"]

# Whitespace and comments (lark's WS and COMMENT, ignored everywhere), then one token.  The
# order of the alternatives is lark's: priority-2 terminals (PORTSPEC, CIDR) before INT and
# NAME, "->" before "-".  Every repetition of a group is possessive (`*+`): the regular
# expression engine otherwise keeps a backtracking record per repetition (about 260 bytes), so
# a 10 MB string literal, name or run of comment lines cost gigabytes; possessive repeats keep
# none, and a bad character after a long run of comments fails at once.  Nothing follows these
# groups in the pattern, so the match is the same as the greedy one.
_TOKEN = re.compile(r"""
    [ \t\f\r\n]*+(?:\#[^\n]*+[ \t\f\r\n]*+)*+
    (?:
      (?P<port>(?:tcp|udp|icmp|proto)/[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*+)
    | (?P<cidr>[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(?:/[0-9]+)?)
    | (?P<int>[0-9]+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*+)
    | (?P<string>"(?:[^"\\\n]|\\.)*+")
    | (?P<arrow>->)
    | (?P<lbrace>\{)
    | (?P<rbrace>\})
    | (?P<comma>,)
    | (?P<colon>:)
    | (?P<semi>;)
    | (?P<equal>=)
    | (?P<minus>-)
    | (?P<eof>\Z)
    )""", re.VERBOSE)

_STATEMENTS = frozenset({"allow", "assert", "class", "deny", "external", "gateway", "include",
                         "policy", "pool", "service"})
_CLASS_ATTRS = frozenset({"criticality", "description", "hosts", "subnet", "tags", "vlan"})
_GW_ATTRS = frozenset({"dhcp-relay", "interface", "object-groups", "platform", "serves",
                       "stateless-replies", "uplink"})
_SEL_WORDS = frozenset({"any", "criticality", "external", "gateway", "gateways", "internal",
                        "tag"})

# The keywords lark's lexer tries after each kind of token (where NAME is not acceptable).
_K_TOP = _STATEMENTS
_K_OWNER = frozenset({"owner"})
_K_POOL = frozenset({"subnets", "vlans"})
_K_AFTER_CIDR = _STATEMENTS | _CLASS_ATTRS | {"except"}
_K_AFTER_ITEM = _STATEMENTS | {"plaintext"}
_K_CLASS = _CLASS_ATTRS
_K_ADDRESS = frozenset({"address"})
_K_AFTER_TERM = _STATEMENTS | _GW_ATTRS | {"accepted", "except", "log", "without"}
_K_AFTER_USE = _STATEMENTS | {"accepted", "log"}
_K_AFTER_WHY = _STATEMENTS | {"log"}
_K_GW = _GW_ATTRS
_K_ACCEPTED = frozenset({"accepted"})
_K_RELAY = frozenset({"from", "to"})  # after `dhcp-relay`
_K_FROM = frozenset({"from"})  # after a relay helper
_K_KINDS = frozenset(k.value for k in AssertKind)

_LONGEST_FIRST: dict[frozenset[str], tuple[str, ...]] = {}

# Most statements of a large policy are `allow NAME -> NAME : NAME, ...` on one line.  From just
# after the `allow`/`deny` keyword, this matches such a rule's words as `_TOKEN` would lex them
# (atomic groups: the longest word, as the lexer takes it; a service not followed by "/", where
# the lexer reads a PORTSPEC).  Anything else (comments, line breaks, selector keywords) takes
# the general path, from where this match ends.
_WORD = r"(?>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*+)"
_SIMPLE_RULE = re.compile(rf"[ \t]*({_WORD})[ \t]*->[ \t]*({_WORD})[ \t]*:"
                          rf"[ \t]*({_WORD}(?!/)(?:[ \t]*,[ \t]*{_WORD}(?!/))*)")
_WORD_RE = re.compile(_WORD)


# The IR nodes a big policy has by the ten thousand (spans, selectors, rules) are built by
# setting their slots directly: a frozen dataclass's generated __init__ costs about three times
# as much, and this parser builds several hundred thousand of them for a large estate.  The
# result is the same object (the differential tests compare every field).  Should one of these
# classes change, importing this module fails instead of building it wrongly.
def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    if tuple(f.name for f in fields(cls)) != names or hasattr(cls, "__post_init__") \
            or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} changed: update its constructor in fastparse")
    return tuple(cls.__dict__[name].__set__ for name in names)


_new = object.__new__
_SPAN_FILE, _SPAN_LINE, _SPAN_COL, _SPAN_END_LINE, _SPAN_END_COL = _slot_setters(
    Span, ("file", "line", "col", "end_line", "end_col"))
_TERM_KIND, _TERM_VALUE, _TERM_SPAN = _slot_setters(SelTerm, ("kind", "value", "span"))
_SEL_INCLUDE, _SEL_EXCLUDE, _SEL_SPAN = _slot_setters(Selector, ("include", "exclude", "span"))
(_RULE_ACTION, _RULE_SRC, _RULE_DST, _RULE_SERVICES, _RULE_WHY, _RULE_LOG,
 _RULE_SPAN) = _slot_setters(RuleStmt, ("action", "src", "dst", "services", "why", "log", "span"))


def _mk_span(file: str, line: int, col: int, end_line: int, end_col: int) -> Span:
    span: Span = _new(Span)
    _SPAN_FILE(span, file)
    _SPAN_LINE(span, line)
    _SPAN_COL(span, col)
    _SPAN_END_LINE(span, end_line)
    _SPAN_END_COL(span, end_col)
    return span


def _mk_term(kind: str, value: str, span: Span) -> SelTerm:
    term: SelTerm = _new(SelTerm)
    _TERM_KIND(term, kind)
    _TERM_VALUE(term, value)
    _TERM_SPAN(term, span)
    return term


def _mk_selector(include: tuple[SelTerm, ...], exclude: tuple[SelTerm, ...],
                 span: Span) -> Selector:
    sel: Selector = _new(Selector)
    _SEL_INCLUDE(sel, include)
    _SEL_EXCLUDE(sel, exclude)
    _SEL_SPAN(sel, span)
    return sel


def _mk_rule(action: str, src: Selector, dst: Selector,
             services: tuple[ServiceRef | ServiceItem, ...] | None, why: str | None, log: bool,
             span: Span) -> RuleStmt:
    rule: RuleStmt = _new(RuleStmt)
    _RULE_ACTION(rule, action)
    _RULE_SRC(rule, src)
    _RULE_DST(rule, dst)
    _RULE_SERVICES(rule, services)
    _RULE_WHY(rule, why)
    _RULE_LOG(rule, log)
    _RULE_SPAN(rule, span)
    return rule


class FastSyntaxError(Exception):
    """The fast parser cannot read the text; lark's parser gives the diagnostic."""


class Budget:
    """How many more tokens and statements a policy may have (all its files together).

    The parser spends it as it reads; memory and time of every later stage grow with these
    counts, so a limit here bounds them all (issue #12: a policy must never exhaust memory).
    """

    __slots__ = ("statements", "tokens")

    def __init__(self, tokens: int, statements: int) -> None:
        self.tokens = tokens
        self.statements = statements


class TooLarge(Exception):
    """The text goes over its `Budget`: `what` ("tokens" or "statements") at `span`."""

    def __init__(self, what: str, span: Span) -> None:
        super().__init__(what)
        self.what = what
        self.span = span


def parse_fast(text: str, file: str, sink: DiagnosticSink,
               budget: Budget | None = None) -> list[Any]:
    """One file's statements in source order, local problems to `sink`.

    Raises:
        FastSyntaxError: the text has a syntax error (`sink` may then hold partial results).
        TooLarge: the text has more tokens or statements than `budget` has left; the budget
            is spent by what was read.
    """
    parser = _Parser(text, file, sink, budget or Budget(1 << 62, 1 << 62))
    try:
        return parser.statements()
    finally:
        if budget is not None:
            budget.tokens = max(parser.tokens, 0)
            budget.statements = max(parser.left, 0)


class _Parser:
    def __init__(self, text: str, file: str, sink: DiagnosticSink, budget: Budget) -> None:
        self.tokens = budget.tokens  # tokens left to read
        self.left = budget.statements  # statements left to read
        self.text = text
        self.file = file
        self.check = TokenChecks(file, text, sink)
        self.line = 1  # line of the lexer position
        self.line_start = 0  # offset where that line starts
        # The current token: kind, text, start and end offsets, line and column.
        self.k = ""
        self.v = ""
        self.s = 0
        self.e = 0
        self.ln = 1
        self.c = 1
        # Where the last consumed token ends (line, column after it).
        self.pl = 1
        self.pc = 1
        self._advance()

    # -- lexer -------------------------------------------------------------------------------
    def _advance(self) -> None:
        self.pl = self.ln
        self.pc = self.c + self.e - self.s
        text = self.text
        end = self.e
        m = _TOKEN.match(text, end)
        if m is None:
            raise FastSyntaxError
        k = self.k = m.lastgroup or ""
        s, e = m.span(k)
        if s != end:
            nl = text.count("\n", end, s)
            if nl:
                self.line += nl
                self.line_start = text.rfind("\n", end, s) + 1
        self.s = s
        self.e = e
        self.v = text[s:e]
        self.ln = self.line
        self.c = s - self.line_start + 1
        self.tokens -= 1
        if self.tokens < 0:
            raise TooLarge("tokens", self._span())

    def _span(self) -> Span:
        """The current token's span."""
        return _mk_span(self.file, self.ln, self.c, self.ln, self.c + self.e - self.s)

    def _from(self, line: int, col: int) -> Span:
        """From a token's start to the end of the last consumed token."""
        return _mk_span(self.file, line, col, self.pl, self.pc)

    def _fail(self) -> NoReturn:
        raise FastSyntaxError

    def _keyword(self, keywords: frozenset[str]) -> str | None:
        """The current word as one of `keywords`, split off the word's start if need be.

        For states where NAME is not acceptable: lark's lexer then tries the state's keywords,
        longest first, as plain strings.
        """
        if self.k != "word":
            return None
        v = self.v
        if v in keywords:
            return v
        order = _LONGEST_FIRST.get(keywords)
        if order is None:
            order = _LONGEST_FIRST[keywords] = tuple(sorted(keywords, key=lambda w: (-len(w), w)))
        for kw in order:
            if v.startswith(kw):
                self.v = kw
                self.e = self.s + len(kw)
                return kw
        return None

    def _expect(self, kind: str) -> str:
        if self.k != kind:
            self._fail()
        v = self.v
        self._advance()
        return v

    # -- statements ----------------------------------------------------------------------------
    def statements(self) -> list[Any]:
        out: list[Any] = []
        after = _K_TOP
        while self.k != "eof":
            self.left -= 1
            if self.left < 0:
                raise TooLarge("statements", self._span())
            word = self._keyword(after)
            if word is None or word not in _STATEMENTS:
                self._fail()
            stmt, after = getattr(self, "_st_" + word)()
            out.append(stmt)
            if self.k == "semi":
                self._advance()
                after = _K_TOP
        return out

    def _st_policy(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        if self.k != "string":
            self._fail()
        title, title_span = self.v, self._span()
        self._advance()
        self._expect("lbrace")
        owners: list[tuple[str, Span]] = []
        while self._keyword(_K_OWNER) == "owner":
            oline, ocol = self.ln, self.c
            self._advance()
            if self.k != "string":
                self._fail()
            value = self.check.string(self.v, self._span())
            self._advance()
            owners.append((value, self._from(oline, ocol)))
            if self.k == "semi":
                self._advance()
        self._expect("rbrace")
        return self.check.header(title, title_span, owners, self._from(line, col)), _K_TOP

    def _st_include(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        if self.k != "string":
            self._fail()
        value, span = self.v, self._span()
        self._advance()
        return Include(self.check.string(value, span), self._from(line, col)), _K_TOP

    def _st_pool(self) -> tuple[Any, frozenset[str]]:
        self._advance()
        kind = self._keyword(_K_POOL)
        if kind == "subnets":
            self._advance()
            return PoolSubnets(tuple(self._cidr_list())), _K_AFTER_CIDR
        if kind != "vlans":
            self._fail()
        self._advance()
        ranges = [self._vlan_range()]
        while self.k == "comma":
            self._advance()
            ranges.append(self._vlan_range())
        return PoolVlans(tuple(ranges)), _K_TOP

    def _vlan_range(self) -> tuple[int, int, Span]:
        if self.k != "int":
            self._fail()
        line, col = self.ln, self.c
        lo, lo_span = self.v, self._span()
        hi, hi_span = lo, lo_span
        self._advance()
        if self.k == "minus":
            self._advance()
            if self.k != "int":
                self._fail()
            hi, hi_span = self.v, self._span()
            self._advance()
        return self.check.vlan_range(lo, lo_span, hi, hi_span, self._from(line, col))

    def _cidr_list(self) -> list[Any]:
        out = []
        while True:
            if self.k != "cidr":
                self._fail()
            out.append(self.check.cidr(self.v, self._span()))
            self._advance()
            if self.k != "comma":
                return out
            self._advance()

    def _st_service(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        if self.k != "word":
            self._fail()
        name, name_span = self.v, self._span()
        self._advance()
        self._expect("equal")
        items = self._uses()
        plaintext = self._keyword(_K_AFTER_ITEM) == "plaintext"
        if plaintext:
            self._advance()
        defined = self.check.defined_name(name, name_span, "service")
        return (ServiceDef(defined, tuple(items), plaintext, self._from(line, col)),
                _K_TOP if plaintext else _K_AFTER_ITEM)

    def _uses(self) -> list[ServiceItem | ServiceRef]:
        """`item ("," item)*` where an item is a PORTSPEC or a NAME (no keywords)."""
        out = []
        use = self.check.service_use
        file = self.file
        while True:
            k = self.k
            if k != "word" and k != "port":
                self._fail()
            line, col = self.ln, self.c
            out.append(use(self.v, _mk_span(file, line, col, line, col + self.e - self.s),
                           k == "port"))
            self._advance()
            if self.k != "comma":
                return out
            self._advance()

    def _st_class(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        if self.k != "word":
            self._fail()
        name, name_span = self.v, self._span()
        self._advance()
        self._expect("lbrace")
        attrs: list[tuple[str, Any, Span]] = []
        after = _K_CLASS
        while True:
            attr = self._keyword(after)
            if attr is None:
                break
            if attr not in _CLASS_ATTRS:
                self._fail()
            aline, acol = self.ln, self.c
            self._advance()
            after = _K_CLASS
            value: Any
            if attr == "description":
                if self.k != "string":
                    self._fail()
                value = self.check.string(self.v, self._span())
                self._advance()
            elif attr == "vlan" or attr == "hosts":
                if self.k != "int":
                    self._fail()
                if attr == "vlan":
                    value = self.check.integer(self.v, self._span(), 0, 1 << 32, "VLAN")
                else:
                    value = self.check.integer(self.v, self._span(), 1, 1 << 31, "host count")
                self._advance()
            elif attr == "subnet":
                value = tuple(self._cidr_list())
                after = _K_AFTER_CIDR
            elif attr == "criticality":
                if self.k != "word":
                    self._fail()
                value = self.check.level(self.v, self._span())
                self._advance()
            else:  # tags
                names = []
                while True:
                    if self.k != "word":
                        self._fail()
                    names.append(self.check.defined_name(self.v, self._span(), "tag"))
                    self._advance()
                    if self.k != "comma":
                        break
                    self._advance()
                value = tuple(names)
            attrs.append((attr, value, self._from(aline, acol)))
            if self.k == "semi":
                self._advance()
                after = _K_CLASS
        self._expect("rbrace")
        return self.check.class_def(name, name_span, attrs, self._from(line, col)), _K_TOP

    def _st_external(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        if self.k != "word":
            self._fail()
        name, name_span = self.v, self._span()
        self._advance()
        self._expect("lbrace")
        if self._keyword(_K_ADDRESS) != "address":
            self._fail()
        self._advance()
        addresses = self._cidr_list()
        excepts = []
        if self._keyword(_K_AFTER_CIDR) == "except":
            self._advance()
            excepts = self._cidr_list()
        if self.k == "semi":
            self._advance()
        self._expect("rbrace")
        defined = self.check.defined_name(name, name_span, "external")
        return ExternalDef(defined, tuple(n for n, _ in addresses), tuple(n for n, _ in excepts),
                           self._from(line, col)), _K_TOP

    def _st_allow(self) -> tuple[Any, frozenset[str]]:
        return self._rule("allow")

    def _st_deny(self) -> tuple[Any, frozenset[str]]:
        return self._rule("deny")

    def _rule(self, action: str) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        simple = _SIMPLE_RULE.match(self.text, self.e)
        if simple and simple[1] not in _SEL_WORDS and simple[2] not in _SEL_WORDS:
            src, dst, services = self._simple_rule(simple)
            after = _K_AFTER_USE
        else:
            self._advance()
            src = self._selector()
            self._expect("arrow")
            dst = self._selector()
            after = _K_AFTER_TERM
            services = None
            if self.k == "colon":
                self._advance()
                services = tuple(self._uses())
                after = _K_AFTER_USE
        why = None
        if self.k == "string":
            why = (self.v, self._span())
            self._advance()
            after = _K_AFTER_WHY
        log = False
        if action == "allow" and self._keyword(after) == "log":
            self._advance()
            log = True
            after = _K_TOP
        text = self.check.string(*why) if why is not None else None
        return _mk_rule(action, src, dst, services, text, log, self._from(line, col)), after

    def _simple_rule(self, m: re.Match[str]
                     ) -> tuple[Selector, Selector, tuple[ServiceRef | ServiceItem, ...]]:
        """`NAME -> NAME : NAME, ...` matched by `_SIMPLE_RULE`: the same nodes, spans and
        checks, in the same order, as `_selector`, `_selector` and `_uses` would make token by
        token; leaves the lexer on the token after the last service, as `_uses` does."""
        file, ln, base = self.file, self.ln, self.line_start - 1
        check = self.check
        sels = []
        for group in (1, 2):
            start, end = m.span(group)
            span = _mk_span(file, ln, start - base, ln, end - base)
            term = _mk_term("name", check.name(m[group], span), span)
            sels.append(_mk_selector((term,), (), span))
        uses: list[ServiceItem | ServiceRef] = []
        for word in _WORD_RE.finditer(self.text, *m.span(3)):
            start, end = word.span()
            uses.append(check.service_use(
                word[0], _mk_span(file, ln, start - base, ln, end - base), False))
        self.k, self.v, self.s, self.e, self.c = "word", word[0], start, end, start - base
        self.tokens -= 2 * len(uses) + 2  # the names, "->", ":" and the commas
        self._advance()
        if self.k == "comma":
            self._advance()
            uses.extend(self._uses())
        return sels[0], sels[1], tuple(uses)

    def _selector(self) -> Selector:
        """`terms ("except" terms)?`; the current token starts the first term."""
        v = self.v
        if self.k == "word" and v not in _SEL_WORDS:
            # The common case, a lone name: the selector's span is the name's.
            line, col = self.ln, self.c
            span = _mk_span(self.file, line, col, line, col + self.e - self.s)
            self._advance()
            term = _mk_term("name", self.check.name(v, span), span)
            if self.k != "comma" and self._keyword(_K_AFTER_TERM) != "except":
                return _mk_selector((term,), (), span)
            include = [term]
            while self.k == "comma":
                self._advance()
                include.append(self._term())
            terms = tuple(include)
        else:
            line, col = self.ln, self.c
            terms = self._terms()
        exclude: tuple[SelTerm, ...] = ()
        if self._keyword(_K_AFTER_TERM) == "except":
            self._advance()
            exclude = self._terms()
        return _mk_selector(terms, exclude, self._from(line, col))

    def _terms(self) -> tuple[SelTerm, ...]:
        out = [self._term()]
        while self.k == "comma":
            self._advance()
            out.append(self._term())
        return tuple(out)

    def _term(self) -> SelTerm:
        if self.k != "word":
            self._fail()
        v = self.v
        if v not in _SEL_WORDS:
            span = self._span()
            self._advance()
            return _mk_term("name", self.check.name(v, span), span)
        line, col = self.ln, self.c
        if v == "tag" or v == "criticality" or v == "gateway":
            self._advance()
            self._expect("colon")
            if self.k != "word":
                self._fail()
            value, span = self.v, self._span()
            self._advance()
            if v == "tag":
                return SelTerm("tag", self.check.name(value, span, "tag"), self._from(line, col))
            if v == "gateway":
                return SelTerm("gateway", self.check.name(value, span, "gateway name"),
                               self._from(line, col))
            return SelTerm("criticality", self.check.level(value, span).label,
                           self._from(line, col))
        span = self._span()
        self._advance()
        return SelTerm(v, "", span)

    def _st_gateway(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        if self.k != "word":
            self._fail()
        name, name_span = self.v, self._span()
        self._advance()
        self._expect("lbrace")
        attrs: list[tuple[str, Any, Span]] = []
        after = _K_GW
        while True:
            attr = self._keyword(after)
            if attr is None:
                break
            if attr not in _GW_ATTRS:
                self._fail()
            aline, acol = self.ln, self.c
            self._advance()
            after = _K_GW
            value: Any
            if attr == "platform":
                if self.k != "word":
                    self._fail()
                value = self.v
                self._advance()
            elif attr == "serves":
                value = self._selector()
                after = _K_AFTER_TERM
            elif attr == "object-groups":
                value = True
            elif attr == "dhcp-relay":
                value = self._dhcp_relay(aline, acol)
            elif attr == "stateless-replies":  # `accepted "reason"`, as after an assertion
                if self._keyword(_K_ACCEPTED) is None:
                    self._fail()
                self._advance()
                if self.k != "string":
                    self._fail()
                value = self.check.string(self.v, self._span())
                self._advance()
            else:  # interface, uplink
                if self.k != "string":
                    self._fail()
                value = self.check.string(self.v, self._span())
                self._advance()
            attrs.append((attr, value, self._from(aline, acol)))
            if self.k == "semi":
                self._advance()
                after = _K_GW
        self._expect("rbrace")
        return self.check.gateway(name, name_span, attrs, self._from(line, col)), _K_TOP

    def _dhcp_relay(self, line: int, col: int) -> Any:
        """`dhcp-relay [to HELPER, ...] from ADDRESS`, after the keyword."""
        helpers = []
        word = self._keyword(_K_RELAY)
        if word == "to":
            self._advance()
            while True:
                if self.k not in ("word", "cidr"):
                    self._fail()
                helpers.append(self.check.relay_helper(self.v, self._span(), self.k == "cidr"))
                self._advance()
                if self.k != "comma":
                    break
                self._advance()
            word = self._keyword(_K_FROM)
        if word != "from":
            self._fail()
        self._advance()
        if self.k != "cidr":
            self._fail()
        source, source_span = self.v, self._span()
        self._advance()
        return self.check.dhcp_relay(helpers, source, source_span, self._from(line, col))

    def _st_assert(self) -> tuple[Any, frozenset[str]]:
        line, col = self.ln, self.c
        self._advance()
        word = self._keyword(_K_KINDS)
        if word is None:
            self._fail()
        kind = AssertKind(word)
        bline, bcol = self.ln, self.c
        self._advance()
        src: Selector | None = None
        if kind is not AssertKind.ENCRYPTED or self.k != "arrow":
            src = self._selector()
        self._expect("arrow")
        dst = self._selector()
        after = _K_AFTER_TERM
        services = None
        without = None
        if kind is AssertKind.UNREACHABLE:
            if self._keyword(after) == "without":
                self._advance()
                without = self._selector()
        elif kind in (AssertKind.DENIED, AssertKind.ALLOWED, AssertKind.LIMITED):
            if self.k == "colon":
                self._advance()
                services = tuple(self._uses())
                after = _K_AFTER_USE
            elif kind is not AssertKind.DENIED:
                self._fail()
        body = self._from(bline, bcol)
        accepted = None
        if self._keyword(after) == "accepted":
            self._advance()
            if self.k != "string":
                self._fail()
            accepted = self.check.string(self.v, self._span())
            self._advance()
            after = _K_TOP
        return AssertStmt(kind, src, dst, services, without, accepted,
                          self.check.source_text(body), self._from(line, col)), after
