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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonewall.text import terminal_text

__all__ = [
    "CODES",
    "Diagnostic",
    "DiagnosticError",
    "Severity",
    "Span",
    "render_diagnostic",
    "render_all",
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


def _caret_line(span: Span, text: str) -> str:
    """Carets under the span, on the span's first line as `terminal_text` shows it (tabs kept
    and every escaped character as wide as its escape, so carets line up)."""
    start = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line else len(text)
    end = max(min(end, len(text)), start + 1)
    pad = "".join("\t" if ch == "\t" else " " * len(terminal_text(ch)) for ch in text[:start])
    # past the end of the line (an unexpected end of input): one caret
    return pad + "^" * (len(terminal_text(text[start:end])) or end - start)


def source_lines(text: str) -> list[str]:
    """Lines as the parser counts them: split at "\n" only (a "\r" before it is dropped)."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def span_text(lines: list[str], span: Span) -> str:
    """The text a span covers in `lines` (from `source_lines`), comments dropped and
    whitespace collapsed to single spaces: a statement as written, on one line."""
    picked = lines[span.line - 1: span.end_line]
    if not picked:
        return ""
    if len(picked) == 1:
        picked[0] = picked[0][span.col - 1: span.end_col - 1]
    else:
        picked[0] = picked[0][span.col - 1:]
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


def render_diagnostic(d: Diagnostic, sources: Mapping[str, str],
                      _lines: dict[str, list[str]] | None = None) -> str:
    """Render one diagnostic as text, with the source line and a caret line where known."""
    head = f"{d.severity.value}[{d.code}]: {terminal_text(d.message)}"
    lines = [f"{terminal_text(d.span.where())}: {head}" if d.span else head]
    if d.span is not None and d.span.file in sources:
        cache = {} if _lines is None else _lines
        if d.span.file not in cache:
            cache[d.span.file] = source_lines(sources[d.span.file])
        src_lines = cache[d.span.file]
        if 1 <= d.span.line <= len(src_lines):
            text = src_lines[d.span.line - 1]
            gutter = " " * len(str(d.span.line))
            lines.append(f"  {d.span.line} | {terminal_text(text)}")
            caret = _caret_line(d.span, text)
            label = f" {terminal_text(d.label)}" if d.label else ""
            lines.append(f"  {gutter} | {caret}{label}")
    for note, span in d.notes:
        note = terminal_text(note)
        lines.append(f"  note: {terminal_text(span.where())}: {note}" if span
                     else f"  note: {note}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    cache: dict[str, list[str]] = {}
    return "".join(render_diagnostic(d, sources, cache) + "\n" for d in diags)


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors and warnings in source order; diagnostics without a span last."""

    def key(d: Diagnostic) -> tuple[int, str, int, int, str, str]:
        if d.span is None:
            return (1, "", 0, 0, d.code, d.message)
        return (0, d.span.file, d.span.line, d.span.col, d.code, d.message)

    return sorted(diags, key=key)


@dataclass
class DiagnosticSink:
    """The one mutable object of the pipeline: where passes report problems."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None = None, **kw: object) -> None:
        self.items.append(Diagnostic(Severity.ERROR, code, message, span, **kw))  # type: ignore[arg-type]

    def warning(self, code: str, message: str, span: Span | None = None, **kw: object) -> None:
        self.items.append(Diagnostic(Severity.WARNING, code, message, span, **kw))  # type: ignore[arg-type]

    def add(self, d: Diagnostic) -> None:
        self.items.append(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)
