"""The HTML report: one self-contained file with the graph, the matrix, assertions and warnings.

Everything is inline: the CSS in a ``<style>`` element, the flow graph as an ``<svg>`` drawn
by `zonewall.present.layout` (no Graphviz needed), no script and no external reference, so the
file opens offline and can be attached to a change request or an audit as it is.  All user
text (``why`` strings, descriptions, titles, file paths, diagnostics) is HTML-escaped by the
template engine.
"""

from __future__ import annotations

from markupsafe import Markup

from zonewall.diagnostics import render_all
from zonewall.ir import AssertionResult
from zonewall.present.conduits import Conduits
from zonewall.present.graph_render import flow_graph
from zonewall.present.jinja import render_template
from zonewall.present.layout import render_inline_svg
from zonewall.present.matrix import matrix_context
from zonewall.present.results import assertion_rows
from zonewall.report import CheckReport

__all__ = ["render_html_report"]


def render_html_report(
    report: CheckReport,
    c: Conduits,
    highlight: AssertionResult | None = None,
    warnings_as_errors: bool = False,
) -> str:
    """The whole report as one HTML document."""
    rows = assertion_rows(report.compiled)
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("pass", "fail", "accepted")}
    counts["total"] = len(rows)
    svg = render_inline_svg(flow_graph(c, highlight, report.path))
    context = matrix_context(c, report.path) | {
        "svg": Markup(svg),  # rendered by an autoescaping template: already escaped
        "rows": rows,
        "counts": counts,
        "ok": report.ok(warnings_as_errors),
        "errors": report.errors,
        "warnings": report.warnings,
        "diagnostics": render_all(report.diagnostics, report.sources),
    }
    return render_template("report.html.j2", context)
