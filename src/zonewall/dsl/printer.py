"""Policy text -> the same policy in canonical layout, every comment kept (`zonewall fmt`).

The printer works on the concrete syntax tree (`parser.concrete_tree`: every token kept, `;`
and keywords included).  Comments are not tokens of the grammar; they are exactly the `#...`
runs in the gaps between tokens, so they are found by scanning those gaps and attached to the
output line of the token before them (a trailing comment) or after them (a comment line).

The canonical layout (also in README.md, "zonewall fmt"):

- One statement per line, no indentation at top level; block bodies (`policy`, `class`,
  `external`, `gateway`) indented by two spaces, one attribute per line, in the order written.
  A block written on one line (`{` and `}` on the same line) stays on one line when it fits in
  100 columns: `class pacs { hosts 12  tags imaging }`, attributes two spaces apart.
- Single spaces between tokens; none before `,`; none around `:` in `tag:T` and
  `criticality:L` or around `-` in VLAN ranges; spaces around `->`, `=` and the `:` before
  services.  Optional `;` are dropped.  A statement is never wrapped, however long.
- Blank lines between statements, comments and attributes are kept, collapsed to one; none at
  the start of the file, after `{` or before `}`.  The file ends with one newline.
- Alignment within a run of consecutive lines (no blank line or comment line between them):
  service names are padded so that `=` lines up, external and one-line class names so that `{`
  lines up, `allow`/`deny` so that the selectors line up, and the reasons of rules and trailing
  comments start in one column, two spaces after the longest line that is at most 60
  characters long (a longer line keeps two spaces and does not move the column).
- Comments keep their text (trailing whitespace dropped).  A comment inside a statement that is
  printed on one line moves to its own line just above that statement.

`format_policy` checks its own output before returning it: the result must parse to the same
statements (modulo spans and whitespace in assertion texts), carry the same comments in the same
order, and be a fixed point of the printer.  A failure of that check is a bug in zonewall,
raised as `PrinterBug`, never a silently changed policy.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from lark import Token, Tree

from zonewall.diagnostics import DiagnosticError, DiagnosticSink, Span
from zonewall.dsl.parser import concrete_tree, parse_statements
from zonewall.ir import AssertStmt

__all__ = ["PrinterBug", "format_policy"]

INDENT = "  "
LINE_LIMIT = 100  # a one-line block longer than this is printed one attribute per line
ALIGN_LIMIT = 60  # a line longer than this does not move an alignment column
GAP = 2  # spaces before an aligned reason or trailing comment, at least

_BLOCKS = frozenset({"header", "class_def", "external", "gateway"})
_TIGHT_COLON = frozenset({"t_tag", "t_crit", "t_gateway"})  # tag:T, criticality:L, gateway:G
_PADDED_KINDS = frozenset({"service", "class_def", "external"})  # first cell padded in a run
_COMMENT_RE = re.compile(r"#[^\n]*")


class PrinterBug(Exception):
    """The printer's output failed its own check; the input file is left untouched."""


@dataclass(frozen=True, slots=True)
class _Comment:
    text: str
    line: int
    pos: int


@dataclass
class _Line:
    """One output line of code, with the source tokens it was printed from."""

    cells: list[str]
    indent: int
    kind: str  # service | rule | class_def | external | code | open | close
    tokens: list[Token]
    leading: list[_Comment] = field(default_factory=list)
    trailing: str | None = None
    text: str = ""  # the cells joined and aligned, without indent

    @property
    def src_first(self) -> int:
        return min(t.line or 1 for t in self.tokens)

    @property
    def src_last(self) -> int:
        return max(t.end_line or t.line or 1 for t in self.tokens)


@dataclass
class _Row:
    """One printed line: code, a comment line, or a blank line."""

    indent: int
    text: str
    src_first: int
    src_last: int
    kind: str  # a _Line kind, or comment | blank
    line: _Line | None = None


def format_policy(text: str, file: str = "<policy>") -> str:
    """The policy `text` in canonical layout, with every comment kept.

    Args:
        text: the policy source (one file; `include` statements are printed, not followed).
        file: the name to use in diagnostics.

    Returns:
        The formatted text: empty for a file with nothing in it, else ending in one newline.

    Raises:
        DiagnosticError: the text has a syntax error.
        PrinterBug: the output would not mean the same policy (a bug in zonewall).
    """
    # The fast parser first: it applies the size limits (E109) before lark builds a concrete
    # tree of every token, which for a policy over them took minutes and gigabytes.
    _statements(text, file)
    out = _format(text, file)
    _check(text, out, file)
    return out


def _format(text: str, file: str) -> str:
    tree = concrete_tree(text, file)
    tokens = sorted(tree.scan_values(lambda v: isinstance(v, Token)), key=_pos)
    lines = _lines(tree)
    leftover = _attach(_comments(text, tokens), lines, tokens)
    rows = _rows(lines, leftover, _blank_source_lines(text))
    _align_kinds(rows)
    _align_comments(rows)
    return "".join(INDENT * r.indent + r.text + "\n" if r.text else "\n" for r in rows)


# -- lines from the concrete syntax tree ----------------------------------------------------
def _lines(tree: Tree[Token]) -> list[_Line]:
    lines: list[_Line] = []
    for child in tree.children:
        if isinstance(child, Token):  # a top-level ";" after a statement
            lines[-1].tokens.append(child)
        elif child.data in _BLOCKS:
            lines.extend(_block(child))
        else:
            lines.append(_flat(child))
    return lines


def _flat(node: Tree[Token]) -> _Line:
    items = _walk(node)
    tokens = [t for t, _ in items]
    if node.data == "service":
        return _Line([_join(items[:2]), _join(items[2:])], 0, "service", tokens)
    if node.data == "rule":
        why = next((i for i, (t, p) in enumerate(items) if t.type == "STRING" and p == "rule"),
                   len(items))
        cells = [_join(items[:1]), _join(items[1:why])] + ([_join(items[why:])]
                                                            if why < len(items) else [])
        return _Line(cells, 0, "rule", tokens)
    return _Line([_join(items)], 0, "code", tokens)


def _block(node: Tree[Token]) -> list[_Line]:
    """`KEYWORD ... {` attributes `}`: one line if written on one line and short enough."""
    children = node.children
    lbrace = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "LBRACE")
    rbrace = children[-1]
    assert isinstance(rbrace, Token) and rbrace.type == "RBRACE"
    head = _walk_children(node.data, children[:lbrace])
    brace_open = children[lbrace]
    assert isinstance(brace_open, Token)
    groups = _attribute_groups(node.data, children[lbrace + 1:-1])
    attrs = [_join(g) for g in groups]
    tokens = [t for t, _ in _walk(node)]
    if brace_open.line == rbrace.line:
        body = "{ " + "  ".join(attrs) + " }" if attrs else "{}"
        one = _join(head) + " " + body
        if len(one) <= LINE_LIMIT:
            kind = node.data if node.data in _PADDED_KINDS else "code"
            return [_Line([_join(head), body], 0, kind, tokens)]
    lines = [_Line([_join(head) + " {"], 0, "open", [t for t, _ in head] + [brace_open])]
    lines += [_Line([text], 1, "code", [t for t, _ in g]) for text, g in zip(attrs, groups,
                                                                            strict=True)]
    lines.append(_Line(["}"], 0, "close", [rbrace]))
    return lines


def _attribute_groups(data: str, body: list[Tree[Token] | Token]) -> list[list[tuple[Token, str]]]:
    """The block's attributes, each with the `;` after it (kept for placing comments)."""
    groups: list[list[tuple[Token, str]]] = []
    for child in body:
        if isinstance(child, Token) and child.type == "_SEMI":
            groups[-1].append((child, data))
        elif isinstance(child, Tree) and data != "external":
            groups.append(_walk(child))
        else:  # external's "address CIDR... [except CIDR...]" is one attribute
            if not groups:
                groups.append([])
            groups[-1].extend(_walk_children(data, [child]))
    return groups


def _walk(node: Tree[Token]) -> list[tuple[Token, str]]:
    return _walk_children(node.data, node.children)


def _walk_children(data: str, children: list[Tree[Token] | Token]) -> list[tuple[Token, str]]:
    """Tokens in source order, each with the name of the rule it belongs to."""
    out: list[tuple[Token, str]] = []
    for child in children:
        if isinstance(child, Tree):
            out.extend(_walk(child))
        else:
            out.append((child, data))
    return out


def _join(items: list[tuple[Token, str]]) -> str:
    out: list[str] = []
    tight = True  # no space before the first token
    for tok, parent in items:
        if tok.type == "_SEMI":
            continue
        glue = tok.type in ("COMMA", "MINUS") or (tok.type == "COLON" and parent in _TIGHT_COLON)
        if out and not tight and not glue:
            out.append(" ")
        out.append(str(tok))
        tight = tok.type == "MINUS" or (tok.type == "COLON" and parent in _TIGHT_COLON)
    return "".join(out)


# -- comments -------------------------------------------------------------------------------
def _pos(tok: Token) -> int:
    return tok.start_pos or 0


def _comments(text: str, tokens: list[Token]) -> list[_Comment]:
    """Every comment: the `#...` runs in the gaps between tokens (the rest is whitespace)."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    bounds = [0] + [b for t in tokens for b in (_pos(t), t.end_pos or 0)] + [len(text)]
    found: list[_Comment] = []
    for start, end in zip(bounds[::2], bounds[1::2], strict=True):
        for m in _COMMENT_RE.finditer(text, start, end):
            line = bisect.bisect_left(newlines, m.start()) + 1
            found.append(_Comment(m.group().rstrip(), line, m.start()))
    return found


def _attach(comments: list[_Comment], lines: list[_Line], tokens: list[Token]) -> list[_Comment]:
    """Give each comment to a line, as its trailing comment or a comment line above it.

    Returns the comments after the last token (printed at the end of the file).
    """
    owner = {_pos(t): line for line in lines for t in line.tokens}
    last = {id(line): max(_pos(t) for t in line.tokens) for line in lines}
    starts = [_pos(t) for t in tokens]
    leftover: list[_Comment] = []
    for c in comments:
        i = bisect.bisect_left(starts, c.pos)
        prev = tokens[i - 1] if i > 0 else None
        if prev is not None and (prev.end_line or prev.line) == c.line:
            line = owner[_pos(prev)]
            if last[id(line)] == _pos(prev) and line.trailing is None:
                line.trailing = c.text
            else:  # inside a statement printed on one line: move it above
                line.leading.append(c)
        elif i < len(tokens):
            owner[_pos(tokens[i])].leading.append(c)
        else:
            leftover.append(c)
    return leftover


# -- rows, blank lines and alignment --------------------------------------------------------
def _blank_source_lines(text: str) -> set[int]:
    return {n for n, line in enumerate(text.split("\n"), start=1) if not line.strip()}


def _rows(lines: list[_Line], leftover: list[_Comment], blanks: set[int]) -> list[_Row]:
    rows: list[_Row] = []

    def add(row: _Row) -> None:
        if rows and rows[-1].kind != "open" and row.kind != "close" and any(
                n in blanks for n in range(rows[-1].src_last + 1, row.src_first)):
            rows.append(_Row(0, "", 0, 0, "blank"))
        rows.append(row)

    for line in lines:
        indent = line.indent + 1 if line.kind == "close" else line.indent
        for c in line.leading:
            add(_Row(indent, c.text, c.line, c.line, "comment"))
        add(_Row(line.indent, "", line.src_first, line.src_last, line.kind, line))
    for c in leftover:
        add(_Row(0, c.text, c.line, c.line, "comment"))
    return rows


def _runs(rows: list[_Row], same_kind: bool) -> list[list[_Row]]:
    """Maximal groups of consecutive code rows (of one kind, if `same_kind`)."""
    runs: list[list[_Row]] = []
    prev: _Row | None = None
    for row in rows:
        if row.line is None:
            prev = None
            continue
        if prev is None or (same_kind and prev.kind != row.kind):
            runs.append([])
        runs[-1].append(row)
        prev = row
    return runs


def _align_kinds(rows: list[_Row]) -> None:
    for run in _runs(rows, same_kind=True):
        lines = [r.line for r in run if r.line is not None]
        width = max(len(line.cells[0]) for line in lines)
        for line in lines:
            if line.kind in _PADDED_KINDS or line.kind == "rule":
                line.text = " ".join([line.cells[0].ljust(width)] + line.cells[1:2])
            else:
                line.text = " ".join(line.cells)
        if lines[0].kind == "rule":
            _align_tails(lines, [line.cells[2] if len(line.cells) > 2 else None
                                 for line in lines], lambda line: line.text)
        for row, line in zip(run, lines, strict=True):
            row.text = line.text


def _align_comments(rows: list[_Row]) -> None:
    for run in _runs(rows, same_kind=False):
        lines = [r.line for r in run if r.line is not None]
        _align_tails(lines, [line.trailing for line in lines],
                     lambda line: INDENT * line.indent + line.text)
        for row, line in zip(run, lines, strict=True):
            row.text = line.text


def _align_tails(lines: list[_Line], tails: list[str | None],
                 width_of: Callable[[_Line], str]) -> None:
    """Append each tail in one column: GAP after the widest line of at most ALIGN_LIMIT."""
    widths = [len(width_of(line)) for line in lines]
    fitting = [w for w, t in zip(widths, tails, strict=True) if t is not None and w <= ALIGN_LIMIT]
    column = max(fitting, default=0) + GAP
    for line, w, tail in zip(lines, widths, tails, strict=True):
        if tail is not None:
            line.text += " " * (column - w if w <= ALIGN_LIMIT else GAP) + tail


# -- the printer checks itself --------------------------------------------------------------
def _check(before: str, after: str, file: str) -> None:
    want = _shape(_statements(before, file))
    comments = [c.text for c in _comments(before, _tokens(before, file))]
    try:
        if _shape(_statements(after, file)) != want:
            raise PrinterBug(f"formatting '{file}' would change the policy it describes")
        if [c.text for c in _comments(after, _tokens(after, file))] != comments:
            raise PrinterBug(f"formatting '{file}' would lose or reorder comments")
        if _format(after, file) != after:
            raise PrinterBug(f"formatting '{file}' twice gives a different layout")
    except DiagnosticError as err:
        raise PrinterBug(f"formatting '{file}' gives text that does not parse: "
                         f"{err.diagnostics[0].message}") from None


def _tokens(text: str, file: str) -> list[Token]:
    return sorted(concrete_tree(text, file).scan_values(lambda v: isinstance(v, Token)), key=_pos)


def _statements(text: str, file: str) -> list[Any]:
    return parse_statements(text, file, DiagnosticSink())


def _shape(obj: Any) -> Any:
    """A comparable value without spans, assertion texts compared without whitespace."""
    if isinstance(obj, Span):
        return None
    if is_dataclass(obj) and not isinstance(obj, type):
        values = []
        for f in fields(obj):
            value = getattr(obj, f.name)
            if isinstance(obj, AssertStmt) and f.name == "text":
                value = "".join(value.split())
            values.append(_shape(value))
        return (type(obj).__name__, *values)
    if isinstance(obj, (list, tuple)):
        return tuple(_shape(x) for x in obj)
    return obj
