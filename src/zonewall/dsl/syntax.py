"""The `.zw` language's one definition: a hand-written lexer and recursive-descent parser.

`docs/language.md` (sections 2-5) documents the language this module reads; there is no other
grammar.  `parse` turns one file's text into its statements (frozen IR nodes with spans, in
source order), reporting local problems (names, ports, addresses) to a sink through
`checks.TokenChecks`, and raises `ParseError` with an E101/E102/E103 diagnostic at the first
syntax error.  `record` reads the same way and also keeps the concrete token stream (every
token, `;` included, and every comment) for `zonewall fmt`.

**Lexing.**  One regular expression skips whitespace and comments and takes one token: a word
(names and keywords alike), a number, an address, a port form (`tcp/443`), a string or a
symbol.  Keywords are whole words: the parser, which knows at each point whether it expects a
name or one of a few keywords, compares the whole word, so `allowed`, `vlan5` and `assertonly`
are names, never a keyword with something glued to it.  A word is a keyword only where a name
cannot stand (`allow a -> b log`: `log` ends the rule); where a name can, any word is a name
(`class vlan { ... }`; reserved words are then E104, from `TokenChecks`).

**Size.**  Every repetition in the lexer's pattern is possessive, so a 10 MB string, name or
run of comments costs no backtracking records; the parser spends a `Budget` of tokens and
statements (E109 when a policy goes over it) before any later stage sees the text.
"""

from __future__ import annotations

import difflib
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NoReturn

from zonewall.diagnostics import Diagnostic, DiagnosticSink, Severity, Span
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

__all__ = ["KEYWORDS", "Budget", "Concrete", "ParseError", "TooLarge", "parse", "record"]

# Whitespace and comments, then one token.  Port forms and addresses come before numbers and
# words (`tcp/443` is one token, `10.0.0.0/8` too), "->" before "-".  Every repetition of a
# group is possessive (`*+`): the regular expression engine otherwise keeps a backtracking
# record per repetition (about 260 bytes), so a 10 MB string literal, name or run of comment
# lines would cost gigabytes; possessive repeats keep none, and a bad character after a long run
# of comments fails at once.  Nothing follows these groups in the pattern, so the match is the
# same as the greedy one.
_SKIP = r"[ \t\f\r\n]*+(?:\#[^\n]*+[ \t\f\r\n]*+)*+"
_TOKEN = re.compile(
    rf"""
    {_SKIP}
    (?:
      (?P<port>(?:tcp|udp|icmp|proto)/[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*+)
    | (?P<cidr>[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(?:/[0-9]+)?)
    | (?P<int>[0-9]+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*+(?:-[A-Za-z0-9_]+)*+)
    | (?P<string>"(?:[^"\\\n]|\\.)*+")
    | (?P<arrow>->)
    | (?P<lbrace>\{{)
    | (?P<rbrace>\}})
    | (?P<comma>,)
    | (?P<colon>:)
    | (?P<semi>;)
    | (?P<equal>=)
    | (?P<minus>-)
    | (?P<eof>\Z)
    )""",
    re.VERBOSE,
)
_SKIP_RE = re.compile(_SKIP)
_COMMENT_RE = re.compile(r"#[^\n]*+")

_STATEMENTS = frozenset(
    {
        "allow",
        "assert",
        "class",
        "deny",
        "external",
        "gateway",
        "include",
        "policy",
        "pool",
        "service",
    }
)
_OWNER = frozenset({"owner"})
_CLASS_ATTRS = frozenset({"criticality", "description", "hosts", "subnet", "tags", "vlan"})
_GW_ATTRS = frozenset(
    {
        "dhcp-relay",
        "interface",
        "object-groups",
        "platform",
        "serves",
        "stateless-replies",
        "uplink",
    }
)
_SEL_WORDS = frozenset({"any", "criticality", "external", "gateway", "gateways", "internal", "tag"})
_KINDS = frozenset(k.value for k in AssertKind)
# Every word that is a keyword somewhere (for messages and "did you mean").
KEYWORDS = (
    _STATEMENTS
    | _CLASS_ATTRS
    | _GW_ATTRS
    | _SEL_WORDS
    | _KINDS
    | {
        "owner",
        "subnets",
        "vlans",
        "plaintext",
        "address",
        "except",
        "log",
        "to",
        "from",
        "without",
        "accepted",
    }
)


def _quoted(words: frozenset[str] | set[str]) -> str:
    ordered = [f"'{w}'" for w in sorted(words)]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


# What the parser expected, in words.
_A_STATEMENT = f"a statement ({_quoted(_STATEMENTS)})"
_NEW_STATEMENT = "a new statement"
_CLASS_ATTR = f"a class attribute ({_quoted(_CLASS_ATTRS)})"
_GW_ATTR = f"a gateway attribute ({_quoted(_GW_ATTRS)})"
_SELECTOR = (
    "a selector (a class or external name, tag:T, criticality:L, any, internal, "
    "external, gateway:NAME or gateways)"
)
_SERVICE = "a service (a service name, or a form such as tcp/443, udp/53 or icmp)"
_CIDR = "an address such as 10.0.0.0/24"
_KIND = f"an assertion kind ({_quoted(_KINDS)})"

# Most statements of a large policy are `allow NAME -> NAME : NAME, ...` on one line.  From just
# after the `allow`/`deny` keyword, this matches such a rule's words as `_TOKEN` would lex them
# (atomic groups: the longest word, as the lexer takes it; a service not followed by "/", where
# the lexer reads a port form).  Anything else (comments, line breaks, selector keywords) takes
# the general path, from where this match ends.
_WORD = r"(?>[A-Za-z_][A-Za-z0-9_]*+(?:-[A-Za-z0-9_]+)*+)"
_SIMPLE_RULE = re.compile(
    rf"[ \t]*({_WORD})[ \t]*->[ \t]*({_WORD})[ \t]*:"
    rf"[ \t]*({_WORD}(?!/)(?:[ \t]*,[ \t]*{_WORD}(?!/))*+)"
)
_WORD_RE = re.compile(_WORD)


# The IR nodes a big policy has by the ten thousand (spans, selectors, rules) are built by
# setting their slots directly: a frozen dataclass's generated __init__ costs about three times
# as much, and this parser builds several hundred thousand of them for a large estate.  The
# result is the same object (tests/unit/dsl/test_parser.py compares every field).  Should one
# of these classes change, importing this module fails instead of building it wrongly.
def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    if (
        tuple(f.name for f in fields(cls)) != names
        or hasattr(cls, "__post_init__")
        or not hasattr(cls, "__slots__")
    ):
        raise TypeError(f"{cls.__name__} changed: update its constructor in dsl/syntax.py")
    return tuple(cls.__dict__[name].__set__ for name in names)


_new = object.__new__
_SPAN_FILE, _SPAN_LINE, _SPAN_COL, _SPAN_END_LINE, _SPAN_END_COL = _slot_setters(
    Span, ("file", "line", "col", "end_line", "end_col")
)
_TERM_KIND, _TERM_VALUE, _TERM_SPAN = _slot_setters(SelTerm, ("kind", "value", "span"))
_SEL_INCLUDE, _SEL_EXCLUDE, _SEL_SPAN = _slot_setters(Selector, ("include", "exclude", "span"))
(_RULE_ACTION, _RULE_SRC, _RULE_DST, _RULE_SERVICES, _RULE_WHY, _RULE_LOG, _RULE_SPAN) = (
    _slot_setters(RuleStmt, ("action", "src", "dst", "services", "why", "log", "span"))
)


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


def _mk_selector(
    include: tuple[SelTerm, ...], exclude: tuple[SelTerm, ...], span: Span
) -> Selector:
    sel: Selector = _new(Selector)
    _SEL_INCLUDE(sel, include)
    _SEL_EXCLUDE(sel, exclude)
    _SEL_SPAN(sel, span)
    return sel


def _mk_rule(
    action: str,
    src: Selector,
    dst: Selector,
    services: tuple[ServiceRef | ServiceItem, ...] | None,
    why: str | None,
    log: bool,
    span: Span,
) -> RuleStmt:
    rule: RuleStmt = _new(RuleStmt)
    _RULE_ACTION(rule, action)
    _RULE_SRC(rule, src)
    _RULE_DST(rule, dst)
    _RULE_SERVICES(rule, services)
    _RULE_WHY(rule, why)
    _RULE_LOG(rule, log)
    _RULE_SPAN(rule, span)
    return rule


class ParseError(Exception):
    """The text has a syntax error: `diagnostic` is its E101, E102 or E103."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


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


# Token kinds in a `Concrete` record (one byte each).
(
    WORD,
    PORT,
    CIDR,
    INT,
    STRING,
    WHY,
    ARROW,
    LBRACE,
    RBRACE,
    COMMA,
    COLON,
    TIGHT,
    SEMI,
    EQUAL,
    MINUS,
) = range(15)
_KIND_CODE = {
    "word": WORD,
    "port": PORT,
    "cidr": CIDR,
    "int": INT,
    "string": STRING,
    "arrow": ARROW,
    "lbrace": LBRACE,
    "rbrace": RBRACE,
    "comma": COMMA,
    "colon": COLON,
    "semi": SEMI,
    "equal": EQUAL,
    "minus": MINUS,
}


@dataclass
class Concrete:
    """One file as `fmt` needs it: every token in order, every statement, every comment.

    Token `i` is `text[starts[i]:ends[i]]` on line `lines[i]` (a token never spans lines), of
    kind `kinds[i]` (`WORD` ... `MINUS`; `TIGHT` is the `:` of `tag:T`, `criticality:L` and
    `gateway:NAME`, `WHY` a rule's reason string).  A statement is `(kind, lo, hi, attrs)`:
    kind is `header`, `include`, `pool`, `service`, `class`, `external`, `rule`, `gateway` or
    `assert`; its tokens are `lo` up to `hi` (its `;` included); `attrs` are the token indices
    where a block's attributes start (a block's `{` is then the token before `attrs[0]`, or its
    `}`'s neighbour when it has none).  Comment `j` is `text[comment_starts[j]:comment_ends[j]]`
    on line `comment_lines[j]`.  Arrays keep this small: a 2,000,000-token file takes about
    50 MB.  For the token budget (E109), `record` counts a comment as a token.
    """

    text: str
    starts: array[int]
    ends: array[int]
    lines: array[int]
    kinds: bytearray
    statements: list[tuple[str, int, int, tuple[int, ...]]]
    comment_starts: array[int]
    comment_ends: array[int]
    comment_lines: array[int]
    parsed: list[Any]

    def token(self, i: int) -> str:
        return self.text[self.starts[i] : self.ends[i]]

    def comments(self) -> list[tuple[str, int, int]]:
        """Every comment: its text (trailing whitespace dropped), line and offset."""
        text = self.text
        return [
            (text[s:e].rstrip(), line, s)
            for s, e, line in zip(
                self.comment_starts, self.comment_ends, self.comment_lines, strict=True
            )
        ]


def parse(text: str, file: str, sink: DiagnosticSink, budget: Budget | None = None) -> list[Any]:
    """One file's statements in source order, local problems to `sink`.

    Raises:
        ParseError: the text has a syntax error (`sink` may then hold partial results).
        TooLarge: the text has more tokens or statements than `budget` has left; the budget
            is spent by what was read.
    """
    return _run(_Parser(text, file, sink, budget or Budget(1 << 62, 1 << 62)), budget)


def record(text: str, file: str, sink: DiagnosticSink, budget: Budget | None = None) -> Concrete:
    """`parse`, keeping the concrete token stream and the comments (for `zonewall fmt`).

    Raises:
        ParseError, TooLarge: as `parse`.
    """
    parser = _Recorder(text, file, sink, budget or Budget(1 << 62, 1 << 62))
    parsed = _run(parser, budget)
    return Concrete(
        text,
        parser.r_starts,
        parser.r_ends,
        parser.r_lines,
        parser.r_kinds,
        parser.r_statements,
        parser.r_comment_starts,
        parser.r_comment_ends,
        parser.r_comment_lines,
        parsed,
    )


def _run(parser: _Parser, budget: Budget | None) -> list[Any]:
    try:
        return parser.statements()
    finally:
        if budget is not None:
            budget.tokens = max(parser.tokens, 0)
            budget.statements = max(parser.left, 0)


def _describe(kind: str, value: str) -> str:
    """A token as a message names it."""
    if len(value) > 40:
        value = value[:40] + "..."
    if kind == "word":
        return f"'{value}'" if value in KEYWORDS else f"name '{value}'"
    kinds = {"int": "number", "cidr": "address", "port": "port"}
    if kind in kinds:
        return f"{kinds[kind]} '{value}'"
    if kind == "string":
        return f"string {value}" + ('"' if value.endswith("...") else "")
    return f"'{value}'"


def _suggest(word: str, keywords: frozenset[str] | set[str]) -> str:
    """The keyword the user probably meant by `word`, or ''."""
    if not keywords:
        return ""
    if word.lower() in keywords:
        return word.lower()
    for kw in sorted(keywords, key=lambda w: (-len(w), w)):
        if word.startswith(kw):
            rest = word[len(kw) :].lstrip("_-")
            return f"{kw} {rest}" if rest and (rest.isdigit() or rest in KEYWORDS) else kw
    close = difflib.get_close_matches(word, sorted(keywords), n=1, cutoff=0.75)
    return close[0] if close else ""


def _hint_for_char(ch: str) -> str:
    if ch in "\u201c\u201d\u2018\u2019":
        return 'a typographic quote: strings are written with a plain "'
    return ""


class _Parser:
    # `allow NAME -> NAME : NAME, ...` by one regular expression (`_SIMPLE_RULE`)
    shortcut = True

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
        # Phrases for what could also have come at the current token: set by a list or a
        # selector that has just ended (`','`, `'except'`) and by an ended statement.
        self.cont: tuple[str, ...] = ()
        # The block the parser is in: what it is and where its '{' is (for E101/E103 notes).
        self.block: tuple[str, Span] | None = None
        self._advance()

    # -- lexer -------------------------------------------------------------------------------
    def _advance(self) -> None:
        self.pl = self.ln
        self.pc = self.c + self.e - self.s
        text = self.text
        end = self.e
        m = _TOKEN.match(text, end)
        if m is None:
            self._bad_character(end)
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

    def _bad_character(self, end: int) -> NoReturn:
        text = self.text
        pos = _SKIP_RE.match(text, end).end()  # type: ignore[union-attr]
        line = self.line + text.count("\n", end, pos)
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        ch = text[pos]
        if ch == '"':
            msg = 'unterminated string: strings are "..." on one line'
        else:
            shown = repr(ch) if ch.isprintable() and ch not in "'\"" else f"U+{ord(ch):04X}"
            msg = f"unexpected character {shown}"
        raise ParseError(
            Diagnostic(
                Severity.ERROR,
                "E102",
                msg,
                Span(self.file, line, col, line, col + 1),
                label=_hint_for_char(ch),
            )
        )

    def _span(self) -> Span:
        """The current token's span."""
        return _mk_span(self.file, self.ln, self.c, self.ln, self.c + self.e - self.s)

    def _from(self, line: int, col: int) -> Span:
        """From a token's start to the end of the last consumed token."""
        return _mk_span(self.file, line, col, self.pl, self.pc)

    def _fail(
        self, *expected: str, keywords: frozenset[str] | set[str] = frozenset(), hint: str = ""
    ) -> NoReturn:
        """E101 (E103 at the end of the text): the current token, and what could have come.

        `expected` are phrases ("a class name", "'->'"), after those in `self.cont`;
        `keywords` are the keywords among them (for "did you mean"); `hint` replaces the
        "did you mean".
        """
        words = sorted(set(self.cont + expected))
        exp = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        notes: tuple[tuple[str, Span | None], ...] = ()
        if self.block is not None and (self.k == "eof" or self.v in _STATEMENTS):
            what, where = self.block
            notes = ((f"{what} opened here is not closed; end it with '}}'", where),)
        if self.k == "eof":
            # just after the last character of the last line (a final line break not counted)
            body = self.text.removesuffix("\n").removesuffix("\r")
            line = body.count("\n") + 1
            col = len(body) - body.rfind("\n")
            raise ParseError(
                Diagnostic(
                    Severity.ERROR,
                    "E103",
                    f"unexpected end of input; expected {exp}",
                    Span(self.file, line, col, line, col + 1),
                    notes,
                )
            )
        msg = f"unexpected {_describe(self.k, self.v)}; expected {exp}"
        label = ""
        if self.k == "word":
            hint = hint or _suggest(self.v, keywords)
            if hint.startswith("only"):
                msg += f"; {hint}"
            elif hint:
                msg += f"; did you mean '{hint}'?"
            elif self.v != self.v.lower():
                label = "names and keywords are lowercase"
        raise ParseError(Diagnostic(Severity.ERROR, "E101", msg, self._span(), notes, label=label))

    def _keyword(self, keywords: frozenset[str]) -> str | None:
        """The current word if it is one of `keywords` (a whole word), else None."""
        if self.k == "word" and self.v in keywords:
            return self.v
        return None

    def _expect(self, kind: str, what: str) -> None:
        if self.k != kind:
            self._fail(what)
        self.cont = ()
        self._advance()

    def _string(self, what: str = 'a "string"') -> tuple[str, Span]:
        if self.k != "string":
            self._fail(what)
        self.cont = ()
        value, span = self.v, self._span()
        self._advance()
        return value, span

    def _name(self, what: str) -> tuple[str, Span]:
        if self.k != "word":
            self._fail(what)
        self.cont = ()
        value, span = self.v, self._span()
        self._advance()
        return value, span

    # hooks for the recorder (`fmt`): no-ops here
    def _mark(self, kind: int) -> None:
        """The token just consumed is of `kind` (TIGHT, WHY)."""

    def _attribute(self) -> None:
        """A block's attribute starts at the current token."""

    def _statement(self, kind: str, lo: int) -> None:
        """A statement of `kind` ended (its `;` consumed)."""

    def _count(self) -> int:
        return 0

    # -- statements ----------------------------------------------------------------------------
    def statements(self) -> list[Any]:
        out: list[Any] = []
        after: tuple[str, ...] = ()
        while self.k != "eof":
            self.left -= 1
            if self.left < 0:
                raise TooLarge("statements", self._span())
            word = self._keyword(_STATEMENTS)
            if word is None:
                if after:
                    self._fail("';'", _NEW_STATEMENT, keywords=_STATEMENTS | set(after_kw(after)))
                self._fail(_A_STATEMENT, keywords=_STATEMENTS)
            lo = self._count()
            self.cont = ()
            out.append(getattr(self, "_st_" + word)())
            if self.k == "semi":
                self._advance()
                self.cont = ()
            after = self.cont
            self._statement(word, lo)
        return out

    def _st_policy(self) -> Any:
        line, col = self.ln, self.c
        self._advance()
        title, title_span = self._string('a title "string"')
        self._open("the policy header")
        attrs = self._attributes(_OWNER, "'owner'", self._owner)
        owners = [(value, span) for _, value, span in attrs]
        return self.check.header(title, title_span, owners, self._from(line, col))

    def _owner(self, attr: str, line: int, col: int) -> Any:
        return self.check.string(*self._string('an owner "string"'))

    def _close(self, attribute: str, keywords: frozenset[str]) -> None:
        """The `}` of a block (after its attributes)."""
        if self.k != "rbrace":
            self._fail(attribute, "'}'", keywords=keywords)
        self.block = None
        self.cont = ()
        self._advance()

    def _st_include(self) -> Any:
        line, col = self.ln, self.c
        self._advance()
        value, span = self._string('a file path "string"')
        return Include(self.check.string(value, span), self._from(line, col))

    def _st_pool(self) -> Any:
        self._advance()
        kind = self._keyword(frozenset({"subnets", "vlans"}))
        if kind == "subnets":
            self._advance()
            return PoolSubnets(tuple(self._cidr_list()))
        if kind != "vlans":
            self._fail("'subnets' or 'vlans'", keywords={"subnets", "vlans"})
        self._advance()
        ranges = [self._vlan_range()]
        while self.k == "comma":
            self._advance()
            ranges.append(self._vlan_range())
        return PoolVlans(tuple(ranges))

    def _vlan_range(self) -> tuple[int, int, Span]:
        if self.k != "int":
            self._fail("a VLAN ID or range such as 100-199")
        line, col = self.ln, self.c
        lo, lo_span = self.v, self._span()
        hi, hi_span = lo, lo_span
        self._advance()
        self.cont = ("'-'", "','")
        if self.k == "minus":
            self._advance()
            self.cont = ()
            if self.k != "int":
                self._fail("a number (the range's last VLAN ID)")
            hi, hi_span = self.v, self._span()
            self._advance()
            self.cont = ("','",)
        return self.check.vlan_range(lo, lo_span, hi, hi_span, self._from(line, col))

    def _cidr_list(self) -> list[Any]:
        out = []
        while True:
            if self.k != "cidr":
                self._fail(_CIDR)
            self.cont = ()
            out.append(self.check.cidr(self.v, self._span()))
            self._advance()
            if self.k != "comma":
                self.cont = ("','",)
                return out
            self._advance()

    def _st_service(self) -> Any:
        line, col = self.ln, self.c
        self._advance()
        name, name_span = self._name("a service name")
        self._expect("equal", "'='")
        items = self._uses()
        plaintext = self._keyword(frozenset({"plaintext"})) is not None
        if plaintext:
            self._advance()
            self.cont = ()
        else:
            self.cont += ("'plaintext'",)
        defined = self.check.defined_name(name, name_span, "service")
        return ServiceDef(defined, tuple(items), plaintext, self._from(line, col))

    def _uses(self) -> list[ServiceItem | ServiceRef]:
        """`item ("," item)*` where an item is a port form or a word (no keywords)."""
        out = []
        use = self.check.service_use
        file = self.file
        while True:
            k = self.k
            if k != "word" and k != "port":
                self._fail(_SERVICE)
            line, col = self.ln, self.c
            out.append(
                use(self.v, _mk_span(file, line, col, line, col + self.e - self.s), k == "port")
            )
            self._advance()
            if self.k != "comma":
                self.cont = ("','",)
                return out
            self._advance()
            self.cont = ()

    def _open(self, what: str) -> None:
        """The `{` of a block."""
        if self.k != "lbrace":
            self._fail("'{'")
        self.block = (what, self._span())
        self.cont = ()
        self._advance()

    def _attributes(
        self, keywords: frozenset[str], phrase: str, value: Callable[[str, int, int], Any]
    ) -> list[tuple[str, Any, Span]]:
        """A block's attributes after its `{`, and its `}`: each `KEYWORD ... [;]` as
        (keyword, value, span), where `value(keyword, line, col)` reads what follows the
        keyword (`line`, `col`: where the keyword starts). `phrase` and `keywords` name the
        attributes when the `}` is missing."""
        attrs: list[tuple[str, Any, Span]] = []
        while True:
            attr = self._keyword(keywords)
            if attr is None:
                break
            self._attribute()
            line, col = self.ln, self.c
            self._advance()
            self.cont = ()
            attrs.append((attr, value(attr, line, col), self._from(line, col)))
            if self.k == "semi":
                self._advance()
                self.cont = ()
        self._close(phrase, keywords)
        return attrs

    def _named_block(
        self,
        what: str,
        keywords: frozenset[str],
        phrase: str,
        value: Callable[[str, int, int], Any],
        make: Callable[[str, Span, list[tuple[str, Any, Span]], Span], Any],
    ) -> Any:
        """`WHAT NAME { attributes }` (a class, a gateway): `make(name, name_span, attributes,
        span)` checks and builds the statement."""
        line, col = self.ln, self.c
        self._advance()
        name, name_span = self._name(f"a {what} name")
        self._open(f"{what} '{name}'")
        attrs = self._attributes(keywords, phrase, value)
        return make(name, name_span, attrs, self._from(line, col))

    def _st_class(self) -> Any:
        return self._named_block(
            "class", _CLASS_ATTRS, _CLASS_ATTR, self._class_attribute, self.check.class_def
        )

    def _class_attribute(self, attr: str, line: int, col: int) -> Any:
        if attr == "description":
            return self.check.string(*self._string())
        if attr == "vlan" or attr == "hosts":
            if self.k != "int":
                self._fail("a VLAN ID" if attr == "vlan" else "a number of hosts")
            if attr == "vlan":
                value = self.check.integer(self.v, self._span(), 0, 1 << 32, "VLAN")
            else:
                value = self.check.integer(self.v, self._span(), 1, 1 << 31, "host count")
            self._advance()
            return value
        if attr == "subnet":
            return tuple(self._cidr_list())
        if attr == "criticality":
            word, span = self._name("a criticality (low, medium, high or critical)")
            return self.check.level(word, span)
        names = []  # tags
        while True:
            word, span = self._name("a tag name")
            names.append(self.check.defined_name(word, span, "tag"))
            if self.k != "comma":
                self.cont = ("','",)
                return tuple(names)
            self._advance()

    def _st_external(self) -> Any:
        line, col = self.ln, self.c
        self._advance()
        name, name_span = self._name("an external name")
        self._open(f"external '{name}'")
        if self._keyword(frozenset({"address"})) is None:
            self._fail("'address'", keywords={"address"})
        self._attribute()
        self._advance()
        addresses = self._cidr_list()
        excepts = []
        if self._keyword(frozenset({"except"})):
            self._advance()
            excepts = self._cidr_list()
        else:
            self.cont += ("'except'",)
        if self.k == "semi":
            self._advance()
            self.cont = ()
        self._close("';'" if self.cont else "'}'", frozenset({"except"}))
        defined = self.check.defined_name(name, name_span, "external")
        return ExternalDef(
            defined,
            tuple(n for n, _ in addresses),
            tuple(n for n, _ in excepts),
            self._from(line, col),
        )

    def _st_allow(self) -> RuleStmt:
        return self._rule("allow")

    def _st_deny(self) -> RuleStmt:
        return self._rule("deny")

    def _rule(self, action: str) -> RuleStmt:
        line, col = self.ln, self.c
        simple = _SIMPLE_RULE.match(self.text, self.e) if self.shortcut else None
        if simple and simple[1] not in _SEL_WORDS and simple[2] not in _SEL_WORDS:
            src, dst, services = self._simple_rule(simple)
        else:
            self._advance()
            src = self._selector()
            self._expect("arrow", "'->'")
            dst = self._selector()
            services = None
            if self.k == "colon":
                self._advance()
                self.cont = ()
                services = tuple(self._uses())
            else:
                self.cont += ("':' and services",)
        why = None
        if self.k == "string":
            why = (self.v, self._span())
            self._advance()
            self._mark(WHY)
            self.cont = ()
        else:
            self.cont += ('a reason "string"',)
        log = False
        if action == "allow":
            if self._keyword(frozenset({"log"})):
                self._advance()
                log = True
                self.cont = ()
            else:
                self.cont += ("'log'",)
        elif self._keyword(frozenset({"log"})):
            self._fail("';'", _NEW_STATEMENT, hint="only an allow can 'log'")
        text = self.check.string(*why) if why is not None else None
        return _mk_rule(action, src, dst, services, text, log, self._from(line, col))

    def _simple_rule(
        self, m: re.Match[str]
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
            uses.append(
                check.service_use(word[0], _mk_span(file, ln, start - base, ln, end - base), False)
            )
        self.k, self.v, self.s, self.e, self.c = "word", word[0], start, end, start - base
        self.tokens -= 2 * len(uses) + 2  # the names, "->", ":" and the commas
        self._advance()
        self.cont = ("','",)
        if self.k == "comma":
            self._advance()
            self.cont = ()
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
            if self.k != "comma" and (self.k != "word" or self.v != "except"):
                self.cont = ("','", "'except'")
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
        self.cont = ("','", "'except'")
        if self.k == "word" and self.v == "except":
            self._advance()
            self.cont = ()
            exclude = self._terms()
            self.cont = ("','",)
        return _mk_selector(terms, exclude, self._from(line, col))

    def _terms(self) -> tuple[SelTerm, ...]:
        out = [self._term()]
        while self.k == "comma":
            self._advance()
            out.append(self._term())
        return tuple(out)

    def _term(self) -> SelTerm:
        if self.k != "word":
            self._fail(_SELECTOR)
        self.cont = ()
        v = self.v
        if v not in _SEL_WORDS:
            span = self._span()
            self._advance()
            return _mk_term("name", self.check.name(v, span), span)
        line, col = self.ln, self.c
        if v == "tag" or v == "criticality" or v == "gateway":
            self._advance()
            if self.k != "colon":
                self._fail(f"':' (written tight: {v}:NAME)")
            self._advance()
            self._mark(TIGHT)
            what = {
                "tag": "a tag name",
                "gateway": "a gateway name",
                "criticality": "a criticality (low, medium, high or critical)",
            }[v]
            value, span = self._name(what)
            if v == "tag":
                return SelTerm("tag", self.check.name(value, span, "tag"), self._from(line, col))
            if v == "gateway":
                return SelTerm(
                    "gateway", self.check.name(value, span, "gateway name"), self._from(line, col)
                )
            return SelTerm(
                "criticality", self.check.level(value, span).label, self._from(line, col)
            )
        span = self._span()
        self._advance()
        return SelTerm(v, "", span)

    def _st_gateway(self) -> Any:
        return self._named_block(
            "gateway", _GW_ATTRS, _GW_ATTR, self._gateway_attribute, self.check.gateway
        )

    def _gateway_attribute(self, attr: str, line: int, col: int) -> Any:
        if attr == "platform":
            return self._name("a platform (iptables, nftables or cisco-ios)")[0]
        if attr == "serves":
            return self._selector()
        if attr == "object-groups":
            return True
        if attr == "dhcp-relay":
            return self._dhcp_relay(line, col)
        if attr == "stateless-replies":  # `accepted "reason"`, as after an assertion
            if self._keyword(frozenset({"accepted"})) is None:
                self._fail("'accepted'", keywords={"accepted"})
            self._advance()
            return self.check.string(*self._string('a reason "string"'))
        what = (  # interface, uplink
            'an interface name "string"'
            if attr == "uplink"
            else 'an interface name template "string" such as "eth1.{vlan}"'
        )
        return self.check.string(*self._string(what))

    def _dhcp_relay(self, line: int, col: int) -> Any:
        """`dhcp-relay [to HELPER, ...] from ADDRESS`, after the keyword."""
        helpers = []
        word = self._keyword(frozenset({"to", "from"}))
        if word == "to":
            self._advance()
            while True:
                if self.k not in ("word", "cidr"):
                    self._fail("a DHCP server (a class name or an address)")
                self.cont = ()
                helpers.append(self.check.relay_helper(self.v, self._span(), self.k == "cidr"))
                self._advance()
                if self.k != "comma":
                    break
                self._advance()
            self.cont = ("','",)
            word = self._keyword(frozenset({"from"}))
        if word != "from":
            self._fail(
                "'from' and the relay's source address"
                if helpers
                else "'to' and DHCP servers, or 'from' and the relay's source address",
                keywords={"from"} if helpers else {"to", "from"},
            )
        self._advance()
        self.cont = ()
        if self.k != "cidr":
            self._fail("the relay's source address")
        source, source_span = self.v, self._span()
        self._advance()
        return self.check.dhcp_relay(helpers, source, source_span, self._from(line, col))

    def _st_assert(self) -> Any:
        line, col = self.ln, self.c
        self._advance()
        word = self._keyword(_KINDS)
        if word is None:
            self._fail(_KIND, keywords=_KINDS)
        kind = AssertKind(word)
        bline, bcol = self.ln, self.c
        self._advance()
        src: Selector | None = None
        if kind is not AssertKind.ENCRYPTED or self.k != "arrow":
            if kind is AssertKind.ENCRYPTED and self.k != "word":
                self._fail(_SELECTOR, "'->'")
            src = self._selector()
        self._expect("arrow", "'->'")
        dst = self._selector()
        services = None
        without = None
        if kind is AssertKind.UNREACHABLE:
            if self._keyword(frozenset({"without"})):
                self._advance()
                self.cont = ()
                without = self._selector()
            else:
                self.cont += ("'without'",)
        elif kind in (AssertKind.DENIED, AssertKind.ALLOWED, AssertKind.LIMITED):
            if self.k == "colon":
                self._advance()
                self.cont = ()
                services = tuple(self._uses())
            elif kind is not AssertKind.DENIED:
                self._fail(f"':' and services (a '{word}' assertion names them)")
            else:
                self.cont += ("':' and services",)
        body = self._from(bline, bcol)
        accepted = None
        if self._keyword(frozenset({"accepted"})):
            self._advance()
            self.cont = ()
            accepted = self.check.string(*self._string('a reason "string"'))
        else:
            self.cont += ("'accepted'",)
        return AssertStmt(
            kind,
            src,
            dst,
            services,
            without,
            accepted,
            self.check.source_text(body),
            self._from(line, col),
        )


def after_kw(after: tuple[str, ...]) -> list[str]:
    """The keywords among phrases such as "'log'" (for "did you mean")."""
    return [p[1:-1] for p in after if p.startswith("'") and p[1:-1] in KEYWORDS]


class _Recorder(_Parser):
    """The parser, also keeping every token, statement and comment (a `Concrete`)."""

    shortcut = False

    def __init__(self, text: str, file: str, sink: DiagnosticSink, budget: Budget) -> None:
        self.r_starts: array[int] = array("q")
        self.r_ends: array[int] = array("q")
        self.r_lines: array[int] = array("q")
        self.r_kinds = bytearray()
        self.r_statements: list[tuple[str, int, int, tuple[int, ...]]] = []
        self.r_comment_starts: array[int] = array("q")
        self.r_comment_ends: array[int] = array("q")
        self.r_comment_lines: array[int] = array("q")
        self.r_attrs: list[int] = []
        self.r_first = True
        super().__init__(text, file, sink, budget)

    def _advance(self) -> None:
        if self.r_first:
            self.r_first = False
        else:
            self.r_starts.append(self.s)
            self.r_ends.append(self.e)
            self.r_lines.append(self.ln)
            self.r_kinds.append(_KIND_CODE[self.k])
        end, line = self.e, self.line
        super()._advance()
        if self.s != end:
            text = self.text
            for m in _COMMENT_RE.finditer(text, end, self.s):
                start, stop = m.span()
                line += text.count("\n", end, start)
                end = start
                self.r_comment_starts.append(start)
                self.r_comment_ends.append(stop)
                self.r_comment_lines.append(line)
                self.tokens -= 1  # for `fmt`, a comment is a token
            if self.tokens < 0:
                raise TooLarge("tokens", self._span())

    def _mark(self, kind: int) -> None:
        self.r_kinds[-1] = kind

    def _attribute(self) -> None:
        self.r_attrs.append(len(self.r_kinds))

    def _count(self) -> int:
        return len(self.r_kinds)

    def _statement(self, kind: str, lo: int) -> None:
        self.r_statements.append((kind, lo, len(self.r_kinds), tuple(self.r_attrs)))
        self.r_attrs = []
