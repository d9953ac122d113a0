"""The check run's renderings: diagnostics and the assertion summary as text (the stderr and
stdout of `check`), the build summary, and the JSON report for CI.

`report.run_check` makes the `CheckReport`; SARIF and JUnit are `sarif.py` and `junit.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from zonewall.diagnostics import Diagnostic, render_each
from zonewall.ir import AssertionResult
from zonewall.report import CheckReport, acknowledged
from zonewall.text import terminal_text

if TYPE_CHECKING:
    from zonewall.build import BuildReport

__all__ = [
    "diagnostic_json",
    "each_diagnostic",
    "each_json_piece",
    "render_build_summary",
    "render_diagnostics",
    "render_text_summary",
    "to_json",
]


def each_diagnostic(
    report: CheckReport,
    quiet: bool = False,
    warnings_as_errors: bool = False,
    colour: bool = False,
) -> Iterator[str]:
    """The diagnostics for stderr, one rendered diagnostic at a time; `quiet` keeps only those
    that fail the command (errors, and warnings too when they count as errors); `colour`
    paints severities and carets."""
    diags = report.diagnostics
    if quiet:
        diags = [d for d in diags if d.is_error or warnings_as_errors]
    return render_each(diags, report.sources, colour)


def render_diagnostics(
    report: CheckReport,
    quiet: bool = False,
    warnings_as_errors: bool = False,
    colour: bool = False,
) -> str:
    """`each_diagnostic` as one text."""
    return "".join(each_diagnostic(report, quiet, warnings_as_errors, colour))


def render_text_summary(report: CheckReport, quiet: bool = False) -> str:
    """The assertion list, acknowledged warnings and the one-line summary (stdout of `check`);
    `quiet` keeps only failing assertions and the summary."""
    lines: list[str] = []
    acks = acknowledged(report)
    if report.compiled is not None and (report.assertions or acks):
        width = max(
            [len(a.status) for a in report.assertions] + [len("accepted") for _ in acks[:1]]
        )
        for a in report.assertions:
            if quiet and a.status != "fail":
                continue
            where = terminal_text(f"{a.span.file}:{a.span.line}") if a.span else ""
            lines.append(f"{a.status.upper():<{width}}  {terminal_text(a.text)}  ({where})")
        for k in acks if not quiet else ():
            where = terminal_text(f"{k.span.file}:{k.span.line}") if k.span else ""
            lines.append(f"{'ACCEPTED':<{width}}  {terminal_text(k.text)}  ({where})")
    counts = {
        s: sum(1 for a in report.assertions if a.status == s) for s in ("pass", "fail", "accepted")
    }
    if report.compiled is None:
        verdict = "not checked: fix the errors above first"
    else:
        verdict = (
            f"{len(report.assertions)} assertions: {counts['pass']} hold, "
            f"{counts['fail']} fail, {counts['accepted']} accepted"
        )
    lines.append(
        f"{terminal_text(report.path)}: {verdict}; {report.errors} error(s), "
        f"{report.warnings} warning(s)"
    )
    return "\n".join(lines) + "\n"


def render_build_summary(result: BuildReport, outdir: str, quiet: bool = False) -> str:
    """Per-gateway summary of a build; `quiet` keeps only the last line."""
    report = result.check
    lines = [
        f"{terminal_text(report.path)}: {len(report.assertions)} assertions hold or are "
        "accepted; "
        f"{report.warnings} warning(s)"
    ]
    rows = []
    for o in result.outputs if not quiet else ():
        unit = "ACEs" if o.platform == "cisco-ios" else "rules"
        count = "" if o.rules is None else f"{o.rules} {unit}"
        rows.append((o.gateway or "-", o.platform or "-", terminal_text(str(o.path)), count))
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    for row in rows:
        cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    lines.append(
        f"wrote {len(result.outputs) + 2} files to {terminal_text(outdir)} "
        "(manifest.json and SHA256SUMS included)"
    )
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
        hops = [
            {
                "from": h.src,
                "to": h.dst,
                "services": list(h.services),
                "file": h.span.file if h.span else None,
                "line": h.span.line if h.span else None,
            }
            for h in a.counterexample
        ]
    return {
        "text": a.text,
        "status": a.status,
        "file": a.span.file if a.span else None,
        "line": a.span.line if a.span else None,
        "counterexample": hops,
    }


def to_json(report: CheckReport, warnings_as_errors: bool = False) -> str:
    """The JSON report (`each_json_piece` as one text)."""
    return "".join(each_json_piece(report, warnings_as_errors))


def each_json_piece(report: CheckReport, warnings_as_errors: bool = False) -> Iterator[str]:
    """The JSON report a piece at a time, each diagnostic encoded on its own: the same bytes
    as `json.dumps(doc, indent=2)`, without a dict per diagnostic held at once (800,000
    diagnostics took 1.5 GB that way)."""
    doc = {
        "ok": report.ok(warnings_as_errors),
        "diagnostics": [],
        "assertions": [_assertion_json(a) for a in report.assertions],
        "acknowledged": [
            {
                "code": k.code,
                "gateway": k.gateway,
                "reason": k.reason,
                "file": k.span.file if k.span else None,
                "line": k.span.line if k.span else None,
            }
            for k in acknowledged(report)
        ],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if not report.diagnostics:
        yield text
        return
    # "diagnostics" is the second key, after a boolean: the first match is the key itself
    head, tail = text.split('"diagnostics": []', 1)
    yield head + '"diagnostics": [\n'
    for i, d in enumerate(report.diagnostics):
        item = json.dumps(_diag_json(d), indent=2, ensure_ascii=False)
        yield ("    " if i == 0 else ",\n    ") + item.replace("\n", "\n    ")
    yield "\n  ]" + tail
