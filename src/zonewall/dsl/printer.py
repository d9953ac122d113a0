"""Policy text -> the same policy in canonical layout, every comment kept (`zonewall fmt`).

The printer works on the concrete token stream the parser records (`syntax.record`: every
token kept, `;` and keywords included, each statement's tokens and its attributes marked, and
every comment with its place).  A comment is attached to the output line of the token before it
(a trailing comment) or after it (a comment line).

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
order, and be a fixed point of the printer (the input and the output are each read once).  A
failure of that check is a bug in zonewall, raised as `PrinterBug`, never a silently changed
policy.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from zonewall.diagnostics import DiagnosticError, Span
from zonewall.dsl.parser import record_statements
from zonewall.dsl.syntax import COMMA, LBRACE, MINUS, RBRACE, SEMI, TIGHT, WHY, Concrete
from zonewall.ir import AssertStmt

__all__ = ["PrinterBug", "format_policy"]

INDENT = "  "
LINE_LIMIT = 100  # a one-line block longer than this is printed one attribute per line
ALIGN_LIMIT = 60  # a line longer than this does not move an alignment column
GAP = 2  # spaces before an aligned reason or trailing comment, at least

_BLOCKS = frozenset({"policy", "class", "external", "gateway"})
_PADDED_KINDS = frozenset({"service", "class", "external"})  # first cell padded in a run


class PrinterBug(Exception):
    """The printer's output failed its own check; the input file is left untouched."""


@dataclass(frozen=True, slots=True)
class _Comment:
    text: str
    line: int
    pos: int


@dataclass
class _Line:
    """One output line of code, printed from the source tokens `lo` up to `hi`."""

    cells: list[str]
    indent: int
    kind: str  # service | rule | class | external | code | open | close
    lo: int
    hi: int
    src_first: int
    src_last: int
    leading: list[_Comment] = field(default_factory=list)
    trailing: str | None = None
    text: str = ""  # the cells joined and aligned, without indent


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
        DiagnosticError: the text has a syntax error, or is over the size limits (E109).
        PrinterBug: the output would not mean the same policy (a bug in zonewall).
    """
    # One policy's statements are held at a time: each side is compared by a digest.
    before = record_statements(text, file)
    meaning, before.parsed = _digest(before.parsed), []
    out = _format(before)
    try:
        after = record_statements(out, file)
    except DiagnosticError as err:
        raise PrinterBug(
            f"formatting '{file}' gives text that does not parse: {err.diagnostics[0].message}"
        ) from None
    if _digest(after.parsed) != meaning:
        raise PrinterBug(f"formatting '{file}' would change the policy it describes")
    after.parsed = []
    if [c[0] for c in after.comments()] != [c[0] for c in before.comments()]:
        raise PrinterBug(f"formatting '{file}' would lose or reorder comments")
    if _format(after) != out:
        raise PrinterBug(f"formatting '{file}' twice gives a different layout")
    return out


def _digest(statements: list[Any]) -> bytes:
    """A digest of what the statements mean (`_shape`: no spans, assertion texts without
    whitespace)."""
    h = hashlib.sha256()
    for stmt in statements:
        h.update(repr(_shape(stmt)).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.digest()


def _format(cst: Concrete) -> str:
    lines = _lines(cst)
    leftover = _attach([_Comment(*c) for c in cst.comments()], lines, cst)
    rows = _rows(lines, leftover, _blank_source_lines(cst.text))
    _align_kinds(rows)
    _align_comments(rows)
    return "".join(INDENT * r.indent + r.text + "\n" if r.text else "\n" for r in rows)


# -- lines from the token stream ------------------------------------------------------------
def _lines(cst: Concrete) -> list[_Line]:
    lines: list[_Line] = []
    for kind, lo, hi, attrs in cst.statements:
        if kind in _BLOCKS:
            lines.extend(_block(cst, kind, lo, hi, attrs))
        else:
            lines.append(_flat(cst, kind, lo, hi))
    return lines


def _line(cst: Concrete, cells: list[str], indent: int, kind: str, lo: int, hi: int) -> _Line:
    return _Line(cells, indent, kind, lo, hi, cst.lines[lo], cst.lines[hi - 1])


def _flat(cst: Concrete, kind: str, lo: int, hi: int) -> _Line:
    if kind == "service":
        return _line(cst, [_join(cst, lo, lo + 2), _join(cst, lo + 2, hi)], 0, "service", lo, hi)
    if kind in ("allow", "deny"):
        why = next((i for i in range(lo, hi) if cst.kinds[i] == WHY), hi)
        cells = [_join(cst, lo, lo + 1), _join(cst, lo + 1, why)] + (
            [_join(cst, why, hi)] if why < hi else []
        )
        return _line(cst, cells, 0, "rule", lo, hi)
    return _line(cst, [_join(cst, lo, hi)], 0, "code", lo, hi)


def _block(cst: Concrete, kind: str, lo: int, hi: int, attrs: tuple[int, ...]) -> list[_Line]:
    """`KEYWORD ... {` attributes `}`: one line if written on one line and short enough."""
    rbrace = hi - 1
    while cst.kinds[rbrace] != RBRACE:
        rbrace -= 1
    lbrace = attrs[0] - 1 if attrs else rbrace - 1
    assert cst.kinds[lbrace] == LBRACE
    bounds = list(attrs) + [rbrace]
    groups = list(zip(bounds, bounds[1:], strict=False))
    texts = [_join(cst, a, b) for a, b in groups]
    head = _join(cst, lo, lbrace)
    if cst.lines[lbrace] == cst.lines[rbrace]:
        body = "{ " + "  ".join(texts) + " }" if texts else "{}"
        if len(head) + 1 + len(body) <= LINE_LIMIT:
            return [_line(cst, [head, body], 0, kind if kind in _PADDED_KINDS else "code", lo, hi)]
    lines = [_line(cst, [head + " {"], 0, "open", lo, lbrace + 1)]
    lines += [_line(cst, [t], 1, "code", a, b) for t, (a, b) in zip(texts, groups, strict=True)]
    lines.append(_line(cst, ["}"], 0, "close", rbrace, hi))
    return lines


def _join(cst: Concrete, lo: int, hi: int) -> str:
    out: list[str] = []
    tight = True  # no space before the first token
    kinds = cst.kinds
    for i in range(lo, hi):
        kind = kinds[i]
        if kind == SEMI:
            continue
        if out and not tight and kind != COMMA and kind != MINUS and kind != TIGHT:
            out.append(" ")
        out.append(cst.token(i))
        tight = kind == MINUS or kind == TIGHT
    return "".join(out)


# -- comments -------------------------------------------------------------------------------
def _attach(comments: list[_Comment], lines: list[_Line], cst: Concrete) -> list[_Comment]:
    """Give each comment to a line, as its trailing comment or a comment line above it.

    Returns the comments after the last token (printed at the end of the file).
    """
    firsts = [line.lo for line in lines]  # lines cover the tokens in order, without gaps

    def owner(tok: int) -> _Line:
        return lines[bisect.bisect_right(firsts, tok) - 1]

    starts = cst.starts
    count = len(starts)
    leftover: list[_Comment] = []
    for c in comments:
        i = bisect.bisect_left(starts, c.pos)
        if i > 0 and cst.lines[i - 1] == c.line:
            line = owner(i - 1)
            if line.hi == i and line.trailing is None:
                line.trailing = c.text
            else:  # inside a statement printed on one line: move it above
                line.leading.append(c)
        elif i < count:
            owner(i).leading.append(c)
        else:
            leftover.append(c)
    return leftover


# -- rows, blank lines and alignment --------------------------------------------------------
def _blank_source_lines(text: str) -> set[int]:
    return {n for n, line in enumerate(text.split("\n"), start=1) if not line.strip()}


def _rows(lines: list[_Line], leftover: list[_Comment], blanks: set[int]) -> list[_Row]:
    rows: list[_Row] = []

    def add(row: _Row) -> None:
        if (
            rows
            and rows[-1].kind != "open"
            and row.kind != "close"
            and any(n in blanks for n in range(rows[-1].src_last + 1, row.src_first))
        ):
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
            _align_tails(
                lines,
                [line.cells[2] if len(line.cells) > 2 else None for line in lines],
                lambda line: line.text,
            )
        for row, line in zip(run, lines, strict=True):
            row.text = line.text


def _align_comments(rows: list[_Row]) -> None:
    for run in _runs(rows, same_kind=False):
        lines = [r.line for r in run if r.line is not None]
        _align_tails(
            lines, [line.trailing for line in lines], lambda line: INDENT * line.indent + line.text
        )
        for row, line in zip(run, lines, strict=True):
            row.text = line.text


def _align_tails(
    lines: list[_Line], tails: list[str | None], width_of: Callable[[_Line], str]
) -> None:
    """Append each tail in one column: GAP after the widest line of at most ALIGN_LIMIT."""
    widths = [len(width_of(line)) for line in lines]
    fitting = [w for w, t in zip(widths, tails, strict=True) if t is not None and w <= ALIGN_LIMIT]
    column = max(fitting, default=0) + GAP
    for line, w, tail in zip(lines, widths, tails, strict=True):
        if tail is not None:
            line.text += " " * (column - w if w <= ALIGN_LIMIT else GAP) + tail


# -- the printer checks itself ----------------------------------------------
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
    if isinstance(obj, frozenset):
        return tuple(sorted(repr(_shape(x)) for x in obj))
    return obj
