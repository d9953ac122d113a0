"""`check --format sarif`: the check report as SARIF 2.1.0 for GitHub code scanning.

One run, tool ``zonewall`` with one rule per diagnostic code of the catalogue
(`zonewall.diagnostics.CODES`); the six assertion codes E301-E306 are the rules of the six
assertion kinds, and W109 the rule of an accepted failing assertion.

Results:

* every diagnostic, except those of failing or accepted assertions, is one result at its span;
* every failing assertion is one result (level ``error``), every accepted one a ``warning``:
  the primary location is the statement that opened the first offending flow (as in the text
  output) or, when there is none (``allowed``), the assertion; the message gives the
  counterexample hop by hop, with links to ``relatedLocations`` (each hop's statement, then the
  assertion) and a ``codeFlows`` path through the same statements.

Paths are made relative to the current directory (``uriBaseId`` ``%SRCROOT%``: run it from the
repository root); a file outside it gets an absolute ``file:`` URI.  Columns count Unicode code
points (``columnKind``), as the parser does.  ``partialFingerprints`` hash what a result is
about (code, file, message, the text of the source line), never line numbers, so an alert
survives lines being added above it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from zonewall._version import __version__
from zonewall.diagnostics import CODES, Diagnostic, Severity, Span, source_lines
from zonewall.ir import AssertKind
from zonewall.present.results import (
    ACCEPTED_CODE,
    ASSERTION_CODES,
    AssertionRow,
    assertion_rows,
    hop_text,
    is_assertion_diagnostic,
)
from zonewall.report import CheckReport
from zonewall.text import terminal_text

__all__ = ["SARIF_SCHEMA", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "zonewall/v1"

_KIND_HELP = {
    AssertKind.UNREACHABLE: "no path from any member of A to any member of B in the flow graph",
    AssertKind.DENIED: "no effective flow from A to B (on the services given)",
    AssertKind.ALLOWED: "every member pair of A x B may initiate all the services given",
    AssertKind.ONLY: "no class or external outside the listed ones has a flow into B",
    AssertKind.LIMITED: "flows from A to B use nothing but the services given",
    AssertKind.ENCRYPTED: "no effective flow into B (from A) uses a plaintext service",
}
_AREAS = {"E1": "syntax", "E2": "names", "E3": "assertion", "E4": "backend", "W1": "lint"}


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def _rule(code: str) -> dict[str, Any]:
    summary = CODES[code]
    name = "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", summary))
    kind = next((k for k, c in ASSERTION_CODES.items() if c == code), None)
    help_text = summary
    if kind is not None:
        help_text = (
            f"'assert {kind.value} ...' holds when {_KIND_HELP[kind]}. A failing "
            "assertion is an error with a counterexample; add 'accepted \"reason\"' "
            "to record a known risk instead."
        )
    elif code == ACCEPTED_CODE:
        help_text = (
            "A failing assertion marked 'accepted \"reason\"': a documented risk "
            "(IEC 80001 risk acceptance), reported as a warning."
        )
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": "error" if code.startswith("E") else "warning"},
        "properties": {"tags": ["zonewall", _AREAS.get(code[:2], "other")]},
    }


class _Locator:
    """Spans to SARIF locations, relative to the current directory."""

    def __init__(self, sources: Mapping[str, str], base: str) -> None:
        self.sources = sources
        self.base = os.path.abspath(base)
        self.lines: dict[str, list[str]] = {}

    def artifact(self, file: str) -> dict[str, str]:
        path = os.path.abspath(os.path.join(self.base, file))
        rel = os.path.relpath(path, self.base)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            return {"uri": Path(path).as_uri()}
        return {"uri": quote(rel.replace(os.sep, "/")), "uriBaseId": SRCROOT}

    def location(
        self, span: Span, message: str | None = None, ident: int | None = None
    ) -> dict[str, Any]:
        end_line = max(span.end_line, span.line)
        end_col = span.end_col if end_line > span.line else max(span.end_col, span.col + 1)
        loc: dict[str, Any] = {}
        if ident is not None:
            loc["id"] = ident
        loc["physicalLocation"] = {
            "artifactLocation": self.artifact(span.file),
            "region": {
                "startLine": span.line,
                "startColumn": span.col,
                "endLine": end_line,
                "endColumn": end_col,
            },
        }
        if message is not None:
            loc["message"] = {"text": message}
        return loc

    def line_text(self, span: Span | None) -> str:
        if span is None or span.file not in self.sources:
            return ""
        if span.file not in self.lines:
            self.lines[span.file] = source_lines(self.sources[span.file])
        lines = self.lines[span.file]
        return lines[span.line - 1].strip() if 1 <= span.line <= len(lines) else ""


# GitHub code scanning keeps at most 25,000 results of a run; a log of every one of 800,000
# diagnostics (a policy near the token limit) took 4 GB to build.  The diagnostics past it are
# counted in the run's properties (`omittedResults`); `zonewall check` lists them all.
MAX_RESULTS = 25_000


def _escape(text: str) -> str:
    """User text in a SARIF plain-text message: literal brackets and backslashes escaped, so
    only zonewall's own `[text](id)` are embedded links (SARIF 3.11.6), and control and bidi
    characters shown as escapes (`terminal_text`), as a code-scanning page shows text."""
    return re.sub(r"([\\\[\]])", r"\\\1", terminal_text(text))


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


def _diagnostic_result(d: Diagnostic, loc: _Locator, root: Span) -> dict[str, Any]:
    span = d.span or root
    message = _escape(d.message + (f" ({d.label})" if d.label else ""))
    related = [
        loc.location(s, _escape(note), i)
        for i, (note, s) in enumerate([(n, s) for n, s in d.notes if s is not None], start=1)
    ]
    unplaced = [_escape(n) for n, s in d.notes if s is None]
    if unplaced:
        message += "; " + "; ".join(unplaced)
    result: dict[str, Any] = {
        "ruleId": d.code,
        "level": _level(d.severity),
        "message": {"text": message},
        "locations": [loc.location(span)],
        "partialFingerprints": {
            FINGERPRINT: _fingerprint(
                d.code, loc.artifact(span.file)["uri"], d.message, loc.line_text(span)
            )
        },
    }
    if related:
        result["relatedLocations"] = related
    return result


def _assertion_result(row: AssertionRow, loc: _Locator, root: Span) -> dict[str, Any]:
    stmt_span = row.span or root
    hops = [h for h in row.hops if h.span is not None]
    primary = hops[0].span if hops and hops[0].span is not None else stmt_span
    related = []
    text = [_escape(f"assertion '{row.text}' fails: {row.result.message}")]
    if row.status == "accepted":
        text.append(_escape(f"Accepted risk: {row.reason}."))
    if row.hops:
        text.append("Counterexample:")
    for i, hop in enumerate(row.hops, start=1):
        if hop.span is None:
            text.append(f"{i}. {_escape(hop_text(hop))}")
            continue
        related.append(loc.location(hop.span, _escape(f"hop {i}: {hop.src} -> {hop.dst}"), i))
        services = ", ".join(hop.services) or "any service"
        text.append(f"{i}. {_escape(f'{hop.src} -> {hop.dst} on {services}')} ([opened here]({i}))")
    asserted = len(row.hops) + 1
    related.append(loc.location(stmt_span, "asserted here", asserted))
    text.append(f"[Asserted here]({asserted}).")
    result: dict[str, Any] = {
        "ruleId": row.code,
        "level": _level(row.severity),
        "message": {"text": "\n".join(text)},
        "locations": [loc.location(primary)],
        "relatedLocations": related,
        "partialFingerprints": {
            FINGERPRINT: _fingerprint(
                ASSERTION_CODES[row.result.kind], loc.artifact(stmt_span.file)["uri"], row.text
            )
        },
        "properties": {"assertion": row.text, "kind": row.result.kind.value, "status": row.status},
    }
    if hops:
        steps = [
            {"location": loc.location(h.span, _escape(f"{h.src} -> {h.dst}"))}
            for h in hops
            if h.span is not None
        ]
        result["codeFlows"] = [{"threadFlows": [{"locations": steps}]}]
    return result


def to_sarif(report: CheckReport, warnings_as_errors: bool = False, base: str = ".") -> str:
    """The SARIF 2.1.0 log of a check, as JSON text.

    Args:
        report: the check report.
        warnings_as_errors: whether warnings made the check fail (recorded in the run).
        base: the directory relative URIs start from (the repository root).

    Returns:
        The log, indented JSON with a final newline.
    """
    loc = _Locator(report.sources, base)
    root = Span(report.path, 1, 1, 1, 2)
    codes = sorted(CODES)
    rows = assertion_rows(report.compiled)
    listed = (d for d in report.diagnostics if not (is_assertion_diagnostic(d) and rows))
    results = [_diagnostic_result(d, loc, root) for d in itertools.islice(listed, MAX_RESULTS)]
    omitted = sum(1 for _ in listed)  # past MAX_RESULTS: counted, not built
    results += [_assertion_result(r, loc, root) for r in rows if r.status != "pass"]
    for r in results:
        r["ruleIndex"] = codes.index(r["ruleId"])
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("pass", "fail", "accepted")}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "zonewall",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(c) for c in codes],
            }
        },
        "originalUriBaseIds": {
            SRCROOT: {
                "description": {"text": "the directory zonewall check ran in (the repository root)"}
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "ok": report.ok(warnings_as_errors),
            "assertions": counts,
            "policy": report.path,
        },
    }
    if omitted:
        run["properties"]["omittedResults"] = omitted
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
