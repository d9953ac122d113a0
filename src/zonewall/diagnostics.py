"""Diagnostics: the one way zonewall tells a user that something in a policy is wrong.

Every stage (parser, resolver, verifier, backends) reports problems as `Diagnostic` values that
point at a `Span` of the source.  `render_diagnostic` turns one into the text the CLI prints:
``file:line:col: error[CODE]: message``, the source line, a caret line under the span, and notes.
The rendering is terminal text: control and format characters of the policy (in the source
line, a quoted string, a file name) are shown escaped (`zonewall.text.terminal_text`), and the
caret still lines up under the escaped source line.
`DiagnosticError` is the single exception type that carries user errors across a boundary.
"""

from __future__ import annotations

import enum
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import overload

from zonewall.text import terminal_text

__all__ = [
    "CODES",
    "Diagnostic",
    "DiagnosticError",
    "Severity",
    "Span",
    "render_diagnostic",
    "render_all",
    "render_each",
]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based lines and columns, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.col)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span | None = None
    notes: tuple[tuple[str, Span | None], ...] = ()
    label: str = ""  # text printed after the caret line

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


class DiagnosticError(Exception):
    """Raised when a stage cannot go on; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


# Every code zonewall emits, with a one-line summary.  Codes are never reused.
CODES: Mapping[str, str] = {
    # E1xx: reading and parsing
    "E101": "syntax error: unexpected token",
    "E102": "syntax error: unexpected character",
    "E103": "syntax error: unexpected end of input",
    "E104": "invalid name",
    "E105": "file cannot be read or is not UTF-8 text",
    "E106": "invalid number, port, address or range",
    "E107": "include cycle",
    "E108": "included file not found",
    "E109": "policy nested too deeply or too large to read",
    "E110": "statement or attribute given twice where only one is allowed",
    "E111": "include path outside the allowed folders, absolute, or with a NUL character",
    "E112": "device inventory or class list cannot be read",
    # E2xx: names, types and resources
    "E201": "unknown name",
    "E202": "duplicate definition",
    "E203": "a name is used as the wrong kind of thing",
    "E204": "service definitions refer to each other in a cycle",
    "E205": "class subnets overlap",
    "E206": "duplicate VLAN ID",
    "E207": "reserved or out-of-range VLAN ID",
    "E208": "no pool can fit the class",
    "E209": "class served by no gateway",
    "E210": "class served by more than one gateway",
    "E211": "selector selects nothing",
    "E212": "class needs exactly one of 'subnet' or 'hosts'",
    "E213": "external has no addresses outside the classes",
    "E214": "gateway is missing a required setting",
    "E215": "interface name is invalid",
    "E216": "gateway serves something that is not a class",
    "E217": "no VLAN pool can give the class a VLAN",
    "E218": "a gateway attribute is not valid for the gateway's platform",
    "E219": "a gateway itself (`gateway:NAME`, `gateways`) used where only a destination may be",
    "E220": "a DHCP relay's source address is inside a class or an external",
    "E221": "a DHCP relay's helper is not a DHCP server in a class that a served class may reach",
    "E222": "DHCP relayed across another gateway without a `dhcp-relay` declaration",
    "E223": "traffic to a gateway itself from a class that another gateway serves",
    # E3xx: assertions
    "E301": "assertion 'unreachable' fails",
    "E302": "assertion 'denied' fails",
    "E303": "assertion 'allowed' fails",
    "E304": "assertion 'only' fails",
    "E305": "assertion 'limited' fails",
    "E306": "assertion 'encrypted' fails",
    # E4xx: backends
    "E401": "the gateway's platform cannot express what the policy needs (traffic to the "
    "gateway itself included)",
    "E402": "a stateless platform cannot express the return traffic of a flow",
    "E403": "output directory cannot be written",
    "E404": "a generated config does not enforce exactly the policy (translation validation)",
    "E405": "a generated config cannot be read back by the independent evaluator",
    # Wxxx: warnings
    "W101": "allow wholly removed by denies (dead)",
    "W102": "allow wholly covered by other allows (redundant)",
    "W103": "service defined but never used",
    "W104": "tag defined but never used in a selector",
    "W105": "class or external used by no statement",
    "W106": "plaintext service into a high or critical class",
    "W107": "allow with 'any' on both sides and no services",
    "W108": "statement has no effect (only same-class or external-to-external pairs)",
    "W109": "failing assertion accepted as a documented risk",
    "W110": "accepted risk is stale: the assertion holds",
    "W111": "services match the same packets but disagree on 'plaintext'",
    "W113": "stateless gateway: replies are permitted more widely than on a stateful one",
    "W114": "external covers private or special address space that no class owns",
    "W115": "the policy declares no class: nothing is enforced",
    "W116": "the policy has no assertions: check proves nothing about it",
    "W117": "a class subnet lies inside an external's addresses",
    "W118": "a fixed class subnet lies outside every subnet pool",
    "W119": "inventory device outside its class's subnets",
    "W120": "inventory device in no class",
    "W121": "class with inventory devices of mixed types",
    "W122": "class with more inventory devices than its 'hosts'",
    "W123": "inventory device names a class the policy does not have",
}


# A source line longer than this is shown cut around the caret: CONTEXT characters before the
# span and after it, and at most 2 * CONTEXT characters of the span itself, each cut marked
# with "...".  Without it every diagnostic on a 20 KB line reprinted the 20 KB.
CONTEXT = 100
_LONG_LINE = 3 * CONTEXT
_CUT = "..."


# The colours of a diagnostic on a terminal (`render_diagnostic(..., colour=True)`): its
# severity and its carets, in bold red for an error and bold yellow for a warning.
COLOURS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;33m"}
RESET = "\033[0m"


def _painted(text: str, colour: str | None) -> str:
    return f"{colour}{text}{RESET}" if colour else text


def _caret_line(span: Span, text: str, colour: str | None = None) -> str:
    """Carets under the span, on the span's first line as `terminal_text` shows it (tabs kept
    and every escaped character as wide as its escape, so carets line up); `colour` is the
    terminal colour of the carets, if any."""
    start = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line else len(text)
    end = max(min(end, len(text)), start + 1)
    pad = "".join("\t" if ch == "\t" else " " * len(terminal_text(ch)) for ch in text[:start])
    # past the end of the line (an unexpected end of input): one caret
    return pad + _painted("^" * (len(terminal_text(text[start:end])) or end - start), colour)


def _shown_line(span: Span, text: str, colour: str | None = None) -> tuple[str, str]:
    """The source line as shown and its caret line; a long line is cut around the span."""
    if len(text) <= _LONG_LINE:
        return text, _caret_line(span, text, colour)
    start = min(max(span.col - 1, 0), len(text))
    real_end = span.end_col - 1 if span.end_line == span.line else len(text)
    real_end = min(max(real_end, start + 1), len(text))
    end = min(real_end, start + 2 * CONTEXT)  # a long span shows its first 2 * CONTEXT
    lo = max(start - CONTEXT, 0)
    hi = end if end < real_end else min(end + CONTEXT, len(text))
    head = _CUT if lo > 0 else ""
    tail = _CUT if hi < len(text) else ""
    window = text[lo:hi]
    local = Span(span.file, 1, start - lo + 1 + len(head), 1, end - lo + 1 + len(head))
    return head + window + tail, _caret_line(local, head + window, colour)


class SourceLines(Sequence[str]):
    """The lines of a source text as the parser counts them: split at "\n" only (a "\r"
    before it is dropped).

    Only the offsets of line starts are kept (4 bytes a line), and a line's text is cut out
    when asked for: a list of 30 million short lines (a policy of comment lines, under the
    64 MiB cap) took gigabytes.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = array("I", [0])
        self._starts.extend(m.end() for m in _NEWLINE.finditer(text))

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start = self._starts[index]
        n = index % len(self) + 1
        end = self._starts[n] - 1 if n < len(self) else len(self.text)
        line = self.text[start:end]
        return line[:-1] if line.endswith("\r") else line


_NEWLINE = re.compile("\n")


def source_lines(text: str) -> list[str]:
    """Lines as the parser counts them: split at "\n" only (a "\r" before it is dropped).
    `SourceLines` is the same sequence without a string per line."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def span_text(lines: Sequence[str], span: Span) -> str:
    """The text a span covers in `lines` (from `source_lines`), comments dropped and
    whitespace collapsed to single spaces: a statement as written, on one line."""
    picked = list(lines[span.line - 1 : span.end_line])
    if not picked:
        return ""
    if len(picked) == 1:
        picked[0] = picked[0][span.col - 1 : span.end_col - 1]
    else:
        picked[0] = picked[0][span.col - 1 :]
        picked[-1] = picked[-1][: span.end_col - 1]
    return " ".join(" ".join(_strip_comment(line) for line in picked).split())


def _strip_comment(line: str) -> str:
    """Drop a trailing `#` comment; a `#` inside a "string" is part of the string."""
    in_string = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_string and ch == "\\":
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[:i]
        i += 1
    return line


def render_diagnostic(
    d: Diagnostic,
    sources: Mapping[str, str],
    _lines: dict[str, SourceLines] | None = None,
    colour: bool = False,
) -> str:
    """Render one diagnostic as text, with the source line and a caret line where known;
    `colour` paints the severity and the carets for a terminal (`COLOURS`).  Every character
    of the user's is escaped (`terminal_text`), so those are the only escape sequences."""
    paint = COLOURS[d.severity] if colour else None
    head = f"{_painted(f'{d.severity.value}[{d.code}]', paint)}: {terminal_text(d.message)}"
    lines = [f"{terminal_text(d.span.where())}: {head}" if d.span else head]
    if d.span is not None and d.span.file in sources:
        cache = {} if _lines is None else _lines
        if d.span.file not in cache:
            cache[d.span.file] = SourceLines(sources[d.span.file])
        src_lines = cache[d.span.file]
        if 1 <= d.span.line <= len(src_lines):
            text, caret = _shown_line(d.span, src_lines[d.span.line - 1], paint)
            gutter = " " * len(str(d.span.line))
            lines.append(f"  {d.span.line} | {terminal_text(text)}")
            label = f" {terminal_text(d.label)}" if d.label else ""
            lines.append(f"  {gutter} | {caret}{label}")
    for note, span in d.notes:
        note = terminal_text(note)
        lines.append(
            f"  note: {terminal_text(span.where())}: {note}" if span else f"  note: {note}"
        )
    return "\n".join(lines)


def render_each(
    diags: Iterable[Diagnostic], sources: Mapping[str, str], colour: bool = False
) -> Iterator[str]:
    """Each diagnostic rendered (`render_diagnostic`) with its newline, one at a time: a
    printer writes them as they come (800,000 diagnostics are 110 MB of text)."""
    cache: dict[str, SourceLines] = {}
    for d in diags:
        yield render_diagnostic(d, sources, cache, colour) + "\n"


def render_all(
    diags: Iterable[Diagnostic], sources: Mapping[str, str], colour: bool = False
) -> str:
    """Every diagnostic rendered (`render_diagnostic`), one after the other."""
    return "".join(render_each(diags, sources, colour))


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors and warnings in source order; diagnostics without a span last."""

    def key(d: Diagnostic) -> tuple[int, str, int, int, str, str]:
        if d.span is None:
            return (1, "", 0, 0, d.code, d.message)
        return (0, d.span.file, d.span.line, d.span.col, d.code, d.message)

    return sorted(diags, key=key)


# Diagnostics of one code on one source line after the first PER_LINE are counted, not kept:
# the last one kept says "and N more ... on this line".  10,000 bad escapes in one string were
# 10,000 diagnostics that each reprinted the line.
PER_LINE = 3


class _LineCount:
    """How many diagnostics of one code one line has had, and the last one kept."""

    __slots__ = ("count", "index", "last")

    def __init__(self, last: Diagnostic) -> None:
        self.count = 0
        self.index = 0
        self.last = last


@dataclass
class DiagnosticSink:
    """The one mutable object of the pipeline: where passes report problems.

    At most `PER_LINE` diagnostics of one code on one line are kept (see `add`).
    """

    items: list[Diagnostic] = field(default_factory=list)
    reported: int = 0  # every diagnostic reported, kept or only counted
    _lines: dict[tuple[str, int, str], _LineCount] = field(default_factory=dict, repr=False)

    def error(self, code: str, message: str, span: Span | None = None, **kw: object) -> None:
        self.add(Diagnostic(Severity.ERROR, code, message, span, **kw))  # type: ignore[arg-type]

    def warning(self, code: str, message: str, span: Span | None = None, **kw: object) -> None:
        self.add(Diagnostic(Severity.WARNING, code, message, span, **kw))  # type: ignore[arg-type]

    def add(self, d: Diagnostic) -> None:
        """Keep `d`, unless `PER_LINE` of its code on its line are kept already: then the
        last of those gets (or updates) a note "and N more <severity>[<code>] on this line"."""
        self.reported += 1
        if d.span is None:
            self.items.append(d)
            return
        key = (d.span.file, d.span.line, d.code)
        seen = self._lines.get(key)
        if seen is None:
            seen = self._lines[key] = _LineCount(d)
        seen.count += 1
        if seen.count <= PER_LINE:
            seen.index, seen.last = len(self.items), d
            self.items.append(d)
            return
        more = f"and {seen.count - PER_LINE} more {d.severity.value}[{d.code}] on this line"
        self.items[seen.index] = replace(seen.last, notes=(*seen.last.notes, (more, None)))

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)
