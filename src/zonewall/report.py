"""`check` as a library call, and its two renderings: text for people, JSON for CI.

`run_check(path)` parses, compiles and proves a policy and never raises for anything wrong with
the policy: every problem is a diagnostic in the returned `CheckReport`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Severity,
    Span,
    render_all,
    sort_diagnostics,
)
from zonewall.dsl.parser import parse_file
from zonewall.ir import AssertionResult, CompiledPolicy
from zonewall.text import terminal_text

__all__ = [
    "Acknowledged",
    "CheckReport",
    "acknowledged",
    "diagnostic_json",
    "render_build_summary",
    "render_diagnostics",
    "render_text_summary",
    "run_check",
    "to_json",
]


@dataclass
class CheckReport:
    path: str
    diagnostics: list[Diagnostic]
    assertions: Sequence[AssertionResult] = ()
    sources: dict[str, str] = field(default_factory=dict)
    compiled: CompiledPolicy | None = None

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.WARNING)

    def ok(self, warnings_as_errors: bool = False) -> bool:
        if self.compiled is None or self.errors:
            return False
        return not (warnings_as_errors and self.warnings)


def run_check(path: str, read: Callable[[str], bytes] | None = None,
              include_path: Sequence[str] = ()) -> CheckReport:
    """Check a policy; `read` reads files from elsewhere than the file system, `include_path`
    allows includes from more folders (see `parse_file`)."""
    try:
        parsed = parse_file(path, read, include_path)
    except DiagnosticError as err:
        diags = [d if d.span is not None else Diagnostic(
            d.severity, d.code, d.message, Span(path, 1, 1, 1, 2), d.notes, d.label)
            for d in err.diagnostics]
        return CheckReport(path, diags, (), dict(getattr(err, "sources", {})))
    if any(d.is_error for d in parsed.diagnostics):
        return CheckReport(path, sort_diagnostics(parsed.diagnostics), (), parsed.sources)
    result = compile_policy(parsed.policy)
    diags = sort_diagnostics(parsed.diagnostics + result.diagnostics)
    compiled = result.compiled
    return CheckReport(path, diags, compiled.assertions if compiled else (), parsed.sources,
                       compiled)


def render_diagnostics(report: CheckReport) -> str:
    return render_all(report.diagnostics, report.sources)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A warning the policy acknowledges with a reason (today: W113 per gateway)."""

    code: str
    gateway: str
    reason: str
    span: Span | None

    @property
    def text(self) -> str:
        return f"{self.code} stateless replies on gateway '{self.gateway}': {self.reason}"


def acknowledged(report: CheckReport) -> list[Acknowledged]:
    """Each `stateless-replies accepted "reason"` that stands, in gateway order."""
    if report.compiled is None:
        return []
    defs = {g.name: g for g in report.compiled.policy.gateways}
    return [Acknowledged("W113", g.name, g.stateless_accepted,
                         defs[g.name].attr_span("stateless-replies") if g.name in defs else None)
            for g in report.compiled.gateways if g.stateless_accepted is not None]


def render_text_summary(report: CheckReport, quiet: bool = False) -> str:
    """The assertion list, acknowledged warnings and the one-line summary (stdout of `check`);
    `quiet` keeps only failing assertions and the summary."""
    lines: list[str] = []
    acks = acknowledged(report)
    if report.compiled is not None and (report.assertions or acks):
        width = max([len(a.status) for a in report.assertions]
                    + [len("accepted") for _ in acks[:1]])
        for a in report.assertions:
            if quiet and a.status != "fail":
                continue
            where = terminal_text(f"{a.span.file}:{a.span.line}") if a.span else ""
            lines.append(f"{a.status.upper():<{width}}  {terminal_text(a.text)}  ({where})")
        for k in acks if not quiet else ():
            where = terminal_text(f"{k.span.file}:{k.span.line}") if k.span else ""
            lines.append(f"{'ACCEPTED':<{width}}  {terminal_text(k.text)}  ({where})")
    counts = {s: sum(1 for a in report.assertions if a.status == s)
              for s in ("pass", "fail", "accepted")}
    if report.compiled is None:
        verdict = "not checked: fix the errors above first"
    else:
        verdict = (f"{len(report.assertions)} assertions: {counts['pass']} hold, "
                   f"{counts['fail']} fail, {counts['accepted']} accepted")
    lines.append(f"{terminal_text(report.path)}: {verdict}; {report.errors} error(s), "
                 f"{report.warnings} warning(s)")
    return "\n".join(lines) + "\n"


def render_build_summary(result: Any, outdir: str, quiet: bool = False) -> str:
    """Per-gateway summary of a build (`result` is a `zonewall.build.BuildReport`); `quiet`
    keeps only the last line."""
    report = result.check
    lines = [f"{terminal_text(report.path)}: {len(report.assertions)} assertions hold or are "
             "accepted; "
             f"{report.warnings} warning(s)"]
    rows = []
    for o in result.outputs if not quiet else ():
        unit = "ACEs" if o.platform == "cisco-ios" else "rules"
        count = "" if o.rules is None else f"{o.rules} {unit}"
        rows.append((o.gateway or "-", o.platform or "-", terminal_text(str(o.path)), count))
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    for row in rows:
        cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    lines.append(f"wrote {len(result.outputs) + 2} files to {terminal_text(outdir)} "
                 "(manifest.json and SHA256SUMS included)")
    if quiet:
        return lines[-1] + "\n"
    lines.extend(f"note: {terminal_text(n)}" for n in result.notes)
    return "\n".join(lines) + "\n"


def _diag_json(d: Diagnostic) -> dict[str, Any]:
    s = d.span
    return {
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
        "file": s.file if s else None,
        "line": s.line if s else None,
        "column": s.col if s else None,
        "end_line": s.end_line if s else None,
        "end_column": s.end_col if s else None,
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """One diagnostic as the JSON report gives it (for other JSON outputs)."""
    return _diag_json(d)


def _assertion_json(a: AssertionResult) -> dict[str, Any]:
    hops = None
    if a.counterexample is not None:
        hops = [{"from": h.src, "to": h.dst, "services": list(h.services),
                 "file": h.span.file if h.span else None,
                 "line": h.span.line if h.span else None} for h in a.counterexample]
    return {
        "text": a.text,
        "status": a.status,
        "file": a.span.file if a.span else None,
        "line": a.span.line if a.span else None,
        "counterexample": hops,
    }


def to_json(report: CheckReport, warnings_as_errors: bool = False) -> str:
    doc = {
        "ok": report.ok(warnings_as_errors),
        "diagnostics": [_diag_json(d) for d in report.diagnostics],
        "assertions": [_assertion_json(a) for a in report.assertions],
        "acknowledged": [{"code": k.code, "gateway": k.gateway, "reason": k.reason,
                          "file": k.span.file if k.span else None,
                          "line": k.span.line if k.span else None}
                         for k in acknowledged(report)],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
