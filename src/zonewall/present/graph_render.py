"""`zonewall graph`: the flow graph as DOT, Mermaid, or SVG drawn by Graphviz.

Nodes are the zones of `zonewall.present.conduits` (classes, and external address atoms set
apart in their own cluster and shape); an edge is a conduit, labelled with its services.
Classes are coloured by criticality.  ``--highlight`` names an assertion (its text, or the line
it is written on) and draws its counterexample in red: the path of a failing ``unreachable``,
the offending flow of the other kinds, or, for ``allowed``, the missing flow as a dashed edge.

SVG needs Graphviz's ``dot``; when it is not installed, `render_svg` raises `RenderError`
naming the package.  The HTML report does not need Graphviz (see `zonewall.present.layout`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from zonewall.ir import AssertionResult
from zonewall.present.conduits import Conduits
from zonewall.present.jinja import render_template

__all__ = [
    "CRITICALITY_COLOURS",
    "EXTERNAL_COLOUR",
    "GRAPH_FORMATS",
    "FlowGraph",
    "GraphEdge",
    "GraphNode",
    "HighlightError",
    "RenderError",
    "find_assertion",
    "flow_graph",
    "render_dot",
    "render_mermaid",
    "render_svg",
]

GRAPH_FORMATS = ("dot", "mermaid", "svg", "html")
CRITICALITY_COLOURS = {
    "low": "#d9f0d3",
    "medium": "#fff2b3",
    "high": "#fdc086",
    "critical": "#f4a6a6",
}
EXTERNAL_COLOUR = "#e8e8e8"
HIGHLIGHT_COLOUR = "#d7191c"
DOT_TIMEOUT = 120


class RenderError(Exception):
    """A picture cannot be drawn (e.g. Graphviz is missing); the message says what to do."""


class HighlightError(Exception):
    """``--highlight`` names no assertion of the policy; the message lists what it could be."""


@dataclass(frozen=True, slots=True)
class GraphNode:
    id: str  # n0, n1, ...: safe in every output language
    key: str
    kind: str  # class | external
    criticality: str | None
    fill: str
    tooltip: str
    highlighted: bool = False


@dataclass(frozen=True, slots=True)
class GraphEdge:
    src: GraphNode
    dst: GraphNode
    label: str
    tooltip: str
    highlighted: bool = False
    missing: bool = False  # a flow an `allowed` assertion needs and the policy lacks
    style: str = ""  # an extra CSS class of the line (`replay`'s HTML: "seen", "unused")


@dataclass(frozen=True, slots=True)
class FlowGraph:
    title: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    highlight: AssertionResult | None = None

    @property
    def classes(self) -> tuple[GraphNode, ...]:
        return tuple(n for n in self.nodes if n.kind == "class")

    @property
    def externals(self) -> tuple[GraphNode, ...]:
        return tuple(n for n in self.nodes if n.kind == "external")


def _normalise(text: str) -> str:
    words = text.split("#")[0].split()
    if words and words[0] == "assert":
        words = words[1:]
    return " ".join(words)


def find_assertion(
    assertions: Sequence[AssertionResult], spec: str, root: str = ""
) -> AssertionResult:
    """The assertion ``spec`` names: its text (``assert`` optional) or its line number.

    A line number is looked up in the root policy file first, then in included files.

    Raises:
        HighlightError: no assertion, or more than one, matches.
    """
    spec = spec.strip()
    if spec.isdigit():
        line = int(spec)
        found = [a for a in assertions if a.span is not None and a.span.line == line]
        in_root = [a for a in found if a.span is not None and a.span.file == root]
        found = in_root or found
    else:
        found = [a for a in assertions if a.text == _normalise(spec)]
    if len(found) == 1:
        return found[0]
    listing = "; ".join(f"line {a.span.line if a.span else '?'}: {a.text}" for a in assertions)
    if not found:
        raise HighlightError(_no_match(spec, listing))
    where = ", ".join(f"{a.span.file}:{a.span.line}" for a in found if a.span)
    raise HighlightError(
        f"--highlight '{spec}' matches more than one assertion ({where}); "
        "give the assertion's text instead"
    )


def _no_match(spec: str, listing: str) -> str:
    if not listing:
        return f"--highlight '{spec}': the policy has no assertions"
    return (
        f"--highlight '{spec}' names no assertion; give an assertion's text or line "
        f"number ({listing})"
    )


def _node(i: int, key: str, c: Conduits, marked: set[str]) -> GraphNode:
    z = c.zone(key)
    if z.kind == "class":
        tip = f"{key}: class, criticality {z.criticality}"
        tip += f", VLAN {z.vlan}" if z.vlan is not None else ""
        tip += f" - {z.description}" if z.description else ""
        fill = CRITICALITY_COLOURS.get(z.criticality or "", "#ffffff")
    else:
        tip = f"{key}: external {', '.join(z.prefixes)} ({z.description})"
        fill = EXTERNAL_COLOUR
    return GraphNode(f"n{i}", key, z.kind, z.criticality, fill, tip, key in marked)


def _path_pairs(
    c: Conduits, result: AssertionResult | None
) -> tuple[set[tuple[str, str]], list[tuple[str, str, str]]]:
    """The conduits a counterexample uses, and the flows it needs that do not exist."""
    used: set[tuple[str, str]] = set()
    missing: list[tuple[str, str, str]] = []
    if result is None or not result.counterexample:
        return used, missing
    for hop in result.counterexample:
        pairs = [
            (s, d)
            for s in c.zones_of(hop.src)
            for d in c.zones_of(hop.dst)
            if c.between(s, d) is not None
        ]
        if pairs:
            used.update(pairs)
        else:
            src, dst = c.zones_of(hop.src), c.zones_of(hop.dst)
            if src and dst:
                missing.append((src[0], dst[0], "missing: " + ", ".join(hop.services)))
    return used, missing


def flow_graph(
    c: Conduits, highlight: AssertionResult | None = None, source: str = ""
) -> FlowGraph:
    """The flow graph of the conduits; ``highlight`` marks an assertion's counterexample."""
    used, missing = _path_pairs(c, highlight)
    marked = {k for pair in used for k in pair} | {k for s, d, _ in missing for k in (s, d)}
    nodes = {z.key: _node(i, z.key, c, marked) for i, z in enumerate(c.zones)}
    edges = []
    for conduit in c.conduits:
        tip_lines = [f"{conduit.src} -> {conduit.dst}: {conduit.label}"]
        tip_lines += [
            f"{s.where} {s.action}" + (f": {s.why}" if s.why else "") for s in conduit.statements
        ]
        edges.append(
            GraphEdge(
                nodes[conduit.src],
                nodes[conduit.dst],
                conduit.label,
                "\n".join(tip_lines),
                (conduit.src, conduit.dst) in used,
            )
        )
    for s, d, label in missing:
        edges.append(GraphEdge(nodes[s], nodes[d], label, f"{s} -> {d}: {label}", True, True))
    title = c.title or source or "zonewall policy"
    return FlowGraph(title, tuple(nodes.values()), tuple(edges), highlight)


def _context(g: FlowGraph, source: str) -> dict[str, object]:
    return {
        "g": g,
        "source": source,
        "red": HIGHLIGHT_COLOUR,
        "colours": CRITICALITY_COLOURS,
        "external_colour": EXTERNAL_COLOUR,
    }


def render_dot(g: FlowGraph, source: str = "") -> str:
    return render_template("graph.dot.j2", _context(g, source))


def render_mermaid(g: FlowGraph, source: str = "") -> str:
    highlighted = [i for i, e in enumerate(g.edges) if e.highlighted]
    return render_template("graph.mmd.j2", {**_context(g, source), "hl_edges": highlighted})


def render_svg(g: FlowGraph, source: str = "") -> str:
    """SVG drawn by Graphviz ``dot`` from the DOT rendering.

    Raises:
        RenderError: ``dot`` is not installed, or it failed.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise RenderError(
            "Graphviz is not installed ('dot' not found): install it with "
            "'apt-get install graphviz', or use --format html, which needs no "
            "Graphviz"
        )
    try:
        proc = subprocess.run(
            [dot, "-Tsvg"],
            input=render_dot(g, source),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"Graphviz 'dot' could not run: {exc}") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no message"])[0]
        raise RenderError(f"Graphviz 'dot' failed (exit {proc.returncode}): {first}")
    return proc.stdout
