"""`zonewall replay --format html`: one page, the observed traffic drawn over the flow graph.

The graph is the one `zonewall graph` and the HTML report draw (`graph_render.flow_graph`, laid
out without Graphviz by `layout`), with each conduit marked by what the observed traffic did:

- **carried traffic** (green): the policy permits it and it was seen; the label adds the flows;
- **allowed, no traffic** (grey, dotted): an allow nothing used, a candidate for removal;
- **would be blocked** (red, drawn as `graph --highlight` draws a counterexample): observed
  traffic the policy does not permit between the two zones; a dashed red arrow where no allow
  opens anything between them at all.

Tooltips give the counts and services of both sides and the statements of the conduit.  Below
the graph come the tables of the text report: flow files and their bad records, what would be
blocked and the statement that decides it, allows never used, assertions the traffic already
violates, unknown addresses; each shows at most `HTML_ROWS` rows and says how many more the
JSON output lists.  Likewise the graph draws at most `NEW_ARROWS` arrows between zones that no
allow connects (the most flows first; random traffic could ask for one per pair of zones).
The page is self-contained (inline CSS and SVG, no script, no external reference) and every
piece of user text is escaped by the autoescaping template (`present.jinja`); its bytes depend
only on the policy and the flows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from zonewall._version import __version__
from zonewall.ir import Endpoint
from zonewall.present.conduits import Conduits, build_conduits, zone_labels
from zonewall.present.graph_render import (
    CRITICALITY_COLOURS,
    EXTERNAL_COLOUR,
    FlowGraph,
    GraphEdge,
    GraphNode,
    flow_graph,
)
from zonewall.present.jinja import render_template
from zonewall.present.layout import render_inline_svg
from zonewall.present.replay import failing, iso_time, where_text
from zonewall.report import CheckReport
from zonewall.traffic.replay import Counts, PairTraffic, Replay

__all__ = ["HTML_ROWS", "NEW_ARROWS", "observed_graph", "replay_html"]

HTML_ROWS = 1000  # rows shown per table; the JSON output lists them all
NEW_ARROWS = 200  # arrows drawn for blocked traffic between zones no allow connects


def _flows(c: Counts) -> str:
    return f"{c.flows:,} flow(s)"


def _side(what: str, c: Counts, services: Sequence[str]) -> str:
    when = f", {iso_time(c.first)} .. {iso_time(c.last)}" if c.first is not None else ""
    return f"observed, {what}: {_flows(c)}, {c.packets:,} packet(s){when}: {', '.join(services)}"


def _tooltip(head: str, p: PairTraffic | None, edge: GraphEdge | None) -> str:
    lines = [head]
    if p is None or not (p.permitted.flows or p.blocked.flows):
        lines.append("no observed traffic")
    else:
        if p.permitted.flows:
            lines.append(_side("permitted", p.permitted, p.permitted_services))
        if p.blocked.flows:
            lines.append(_side("would be blocked", p.blocked, p.blocked_services))
    if edge is not None:
        lines += edge.tooltip.split("\n")[1:]  # the statements that open the conduit
    return "\n".join(lines)


def _over_conduit(e: GraphEdge, p: PairTraffic | None, nodes: dict[str, GraphNode]) -> GraphEdge:
    """A conduit of the policy, marked by the traffic observed on it."""
    src, dst = nodes[e.src.key], nodes[e.dst.key]
    tip = _tooltip(f"{e.src.key} -> {e.dst.key}: allowed {e.label}", p, e)
    if p is not None and p.blocked.flows:
        label = f"blocked {', '.join(p.blocked_services)} ({_flows(p.blocked)})"
        if p.permitted.flows:
            label += f"; carried {', '.join(p.permitted_services)} ({_flows(p.permitted)})"
        return GraphEdge(src, dst, label, tip, highlighted=True)
    if p is not None and p.permitted.flows:
        return GraphEdge(src, dst, f"{e.label} ({_flows(p.permitted)})", tip, style="seen")
    return GraphEdge(src, dst, e.label, tip, style="unused")


def observed_graph(
    c: Conduits, r: Replay, endpoints: Sequence[Endpoint], source: str = ""
) -> tuple[FlowGraph, int]:
    """The flow graph of the conduits with the judged traffic drawn over it, and how many
    pairs with blocked traffic and no conduit were left out of the picture (past
    `NEW_ARROWS`, the fewest flows first: the tables list them all)."""
    base = flow_graph(c, None, source)
    labels = zone_labels(endpoints)
    traffic = {(labels[p.src], labels[p.dst]): p for p in r.pairs}
    edges = [(e, traffic.pop((e.src.key, e.dst.key), None)) for e in base.edges]
    # what is left has no conduit: all of it is blocked
    new = sorted(traffic.items(), key=lambda kv: (-kv[1].blocked.flows, kv[0]))
    drawn = [p for _, p in edges if p is not None] + [p for _, p in new[:NEW_ARROWS]]
    red = {k for p in drawn if p.blocked.flows for k in (labels[p.src], labels[p.dst])}
    nodes = {n.key: dataclasses.replace(n, highlighted=n.key in red) for n in base.nodes}
    out = [_over_conduit(e, p, nodes) for e, p in edges]
    for (s, d), p in new[:NEW_ARROWS]:
        label = f"blocked {', '.join(p.blocked_services)} ({_flows(p.blocked)})"
        tip = _tooltip(f"{s} -> {d}: no allow", p, None)
        out.append(GraphEdge(nodes[s], nodes[d], label, tip, highlighted=True, missing=True))
    return FlowGraph(base.title, tuple(nodes.values()), tuple(out)), max(len(new) - NEW_ARROWS, 0)


def _shown(rows: Sequence[Any]) -> tuple[Sequence[Any], int]:
    return rows[:HTML_ROWS], max(len(rows) - HTML_ROWS, 0)


def _tables(r: Replay) -> dict[str, Any]:
    """The rows of every table as text: the template only loops over them."""
    blocked, blocked_more = _shown(r.blocked)
    violations, violations_more = _shown(r.violations)
    unused, unused_more = _shown(r.unused)
    unknown, unknown_more = _shown(r.unknown)
    return {
        "files": [
            (f.path, f.format, f"{f.records:,}", f"{f.bad:,}", f"{f.ipv6:,}", f"{f.skipped:,}")
            for f in r.files
        ],
        "bad": [
            (f"{f.path}:{line}", why, text[:200])
            for f in r.files
            for line, why, text in f.first_bad
        ],
        "bad_more": sum(max(f.bad - len(f.first_bad), 0) for f in r.files),
        "blocked": [
            (
                b.src,
                b.dst,
                b.service,
                f"{b.counts.flows:,}",
                f"{b.counts.packets:,}",
                iso_time(b.counts.first) or "",
                iso_time(b.counts.last) or "",
                [f"{where_text(d.span)}: {d.text}" for d in b.denies] or ["default deny"],
            )
            for b in blocked
        ],
        "blocked_more": blocked_more,
        "blocked_flows": f"{sum(b.counts.flows for b in r.blocked):,}",
        "unused": [(where_text(u.span), u.text, ", ".join(u.services)) for u in unused],
        "unused_more": unused_more,
        "violations": [
            (
                f"{where_text(v.span)}: assert {v.assertion}",
                " -> ".join([v.src] + [h.dst for h in v.path]) if v.path else f"{v.src} -> {v.dst}",
                v.service,
                f"{v.counts.flows:,}",
                "permits it" if v.permitted else "blocks it",
            )
            for v in violations
        ],
        "violations_more": violations_more,
        "unknown": [(u.net, f"{u.as_src.flows:,}", f"{u.as_dst.flows:,}") for u in unknown],
        "unknown_more": unknown_more,
    }


def replay_html(r: Replay, report: CheckReport, policy: str, fail_on: str) -> str:
    """The replay as one self-contained HTML page.

    Args:
        r: the judged traffic.
        report: the check report of the policy (it compiled).
        policy: the policy's name as given on the command line.
        fail_on: the `--fail-on` setting, for the verdict.
    """
    assert report.compiled is not None, "replay needs a compiled policy"
    conduits = build_conduits(report.compiled)
    graph, left_out = observed_graph(conduits, r, report.compiled.endpoints, policy)
    context = {
        "title": conduits.title or policy,
        "policy": policy,
        "version": __version__,
        "fail_on": fail_on,
        "ok": not failing(r, fail_on),
        "r": r,
        "observed": _flows(r.total),
        "permitted": _flows(r.permitted),
        "not_filtered": _flows(r.not_filtered),
        "svg": Markup(render_inline_svg(graph)),  # rendered by an autoescaping template
        "colours": CRITICALITY_COLOURS,
        "external_colour": EXTERNAL_COLOUR,
        "rows_shown": HTML_ROWS,
        "arrows_left_out": left_out,
        "new_arrows": NEW_ARROWS,
    }
    return render_template("replay.html.j2", context | _tables(r))
