"""`zonewall graph` output: the flow graph in the format asked for (DOT, Mermaid, SVG through
Graphviz, or the self-contained HTML report).  Pure function; the CLI writes the text."""

from __future__ import annotations

from zonewall.ir import AssertionResult
from zonewall.present import graph_render as gr
from zonewall.present.conduits import Conduits
from zonewall.present.html_report import render_html_report
from zonewall.report import CheckReport

__all__ = ["render_graph"]


def render_graph(
    report: CheckReport, conduits: Conduits, highlight: AssertionResult | None, fmt: str
) -> str:
    """The graph of a checked policy as `fmt` (`html`, `dot`, `mermaid` or `svg`).

    Raises:
        graph_render.RenderError: Graphviz is missing or failed (`svg`).
    """
    if fmt == "html":
        return render_html_report(report, conduits, highlight)
    graph = gr.flow_graph(conduits, highlight, report.path)
    render = {"dot": gr.render_dot, "mermaid": gr.render_mermaid, "svg": gr.render_svg}[fmt]
    return render(graph, report.path)
