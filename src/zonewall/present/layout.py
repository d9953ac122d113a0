"""A small layered layout of the flow graph, drawn as inline SVG without Graphviz.

The HTML report must open offline on a machine without Graphviz, so it draws the graph itself:

1. cycles are broken by a depth-first search over the classes in name order (an edge back to a
   node on the search stack is laid out as if reversed);
2. classes are put in layers by ``networkx.topological_generations`` (longest path from a
   source), and the externals in one row of their own at the bottom, inside a dashed frame;
3. each row is ordered by a few barycentre sweeps (ties keep the previous order);
4. boxes get integer coordinates, edges quadratic curves with their label at the midpoint.

Every step iterates in a fixed order and rounds coordinates to one decimal, so the SVG is
byte-identical from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from zonewall.present.graph_render import FlowGraph, GraphEdge, GraphNode
from zonewall.present.jinja import render_template

__all__ = ["Arrow", "Box", "Layout", "layered_layout", "render_inline_svg"]

MARGIN = 20
BOX_H = 32
H_GAP = 28
ROW_GAP = 120
CHAR_W = 7.2
SWEEPS = 6
BOW = 150.0  # sideways pull of an edge spanning two rows; BOW_STEP more per further row
BOW_STEP = 40.0
SIDE = MARGIN + 110  # room at the sides for bowed edges
LABELLED_EDGES = 40  # past this many edges, only highlighted edges carry a visible label


@dataclass(frozen=True, slots=True)
class Box:
    node: GraphNode
    x: float  # left
    y: float  # top
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True, slots=True)
class Arrow:
    edge: GraphEdge
    path: str  # SVG path data
    lx: float  # label position
    ly: float


@dataclass(frozen=True, slots=True)
class Layout:
    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    frame: tuple[float, float, float, float] | None  # the externals' frame: x, y, w, h


def _acyclic(keys: list[str], edges: list[tuple[str, str]]) -> nx.DiGraph[str]:
    """The edges with each back edge of a DFS (in name order) reversed: a DAG."""
    succ: dict[str, list[str]] = {k: [] for k in keys}
    for a, b in edges:
        succ[a].append(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[tuple[str, str]] = set()
    for root in keys:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    dag: nx.DiGraph[str] = nx.DiGraph()
    dag.add_nodes_from(keys)
    dag.add_edges_from((b, a) if (a, b) in back else (a, b) for a, b in edges)
    return dag


def _rows(g: FlowGraph) -> list[list[str]]:
    classes = [n.key for n in g.classes]
    member = set(classes)
    edges = sorted(
        {
            (e.src.key, e.dst.key)
            for e in g.edges
            if e.src.key in member and e.dst.key in member and e.src.key != e.dst.key
        }
    )
    rank = {k: i for i, k in enumerate(classes)}
    rows = [
        sorted(gen, key=rank.__getitem__)
        for gen in nx.topological_generations(_acyclic(classes, edges))
    ]
    if g.externals:
        rows.append([n.key for n in g.externals])
    return _order(rows, [(e.src.key, e.dst.key) for e in g.edges])


def _order(rows: list[list[str]], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Barycentre sweeps, down then up: a node moves toward the mean place of its neighbours."""
    nbrs: dict[str, list[str]] = {}
    for a, b in edges:
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
    for sweep in range(SWEEPS):
        order = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for r in order:
            ref = rows[r - 1] if sweep % 2 == 0 else rows[r + 1]
            pos = {k: (i + 0.5) / len(ref) for i, k in enumerate(ref)}
            row = rows[r]

            def bary(k: str, i: int, pos: dict[str, float] = pos, n: int = len(row)) -> float:
                near = [pos[x] for x in nbrs.get(k, []) if x in pos]
                return sum(near) / len(near) if near else (i + 0.5) / n

            rows[r] = [k for _, _, k in sorted((bary(k, i), i, k) for i, k in enumerate(row))]
    return rows


def _r(v: float) -> float:
    return round(v, 1)


def _arrow(n: int, edge: GraphEdge, boxes: dict[str, Box], pairs: set[tuple[str, str]]) -> Arrow:
    """The ``n``-th edge as a quadratic curve; an edge over several rows bows out sideways."""
    a, b = boxes[edge.src.key], boxes[edge.dst.key]
    two_way = (edge.dst.key, edge.src.key) in pairs
    shift = 8.0 if two_way else 0.0
    if b.y > a.y:
        x1, y1, x2, y2 = a.cx + shift, a.y + a.h, b.cx + shift, b.y
    elif b.y < a.y:
        x1, y1, x2, y2 = a.cx - shift, a.y, b.cx - shift, b.y + b.h
    else:
        x1, y1, x2, y2 = a.cx, a.y, b.cx, b.y
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    dx, dy = x2 - x1, y2 - y1
    length = max((dx * dx + dy * dy) ** 0.5, 1.0)
    rows = round(abs(b.y - a.y) / (BOX_H + ROW_GAP))
    if b.y == a.y:
        cx, cy = mx, my - 30.0 - abs(dx) * 0.15
    else:
        # Past one row a straight line would cross the boxes between: bow it out, to
        # alternate sides so parallel long edges do not coincide.
        bend = 22.0 if two_way else 0.0
        if rows > 1:
            bend = (BOW + BOW_STEP * (rows - 2)) * (1 if n % 2 == 0 else -1)
        cx, cy = mx - dy / length * bend, my + dx / length * bend
    lx, ly = 0.25 * x1 + 0.5 * cx + 0.25 * x2, 0.25 * y1 + 0.5 * cy + 0.25 * y2
    path = f"M{_r(x1)},{_r(y1)} Q{_r(cx)},{_r(cy)} {_r(x2)},{_r(y2)}"
    return Arrow(edge, path, _r(lx), _r(ly))


def layered_layout(g: FlowGraph) -> Layout:
    """Coordinates for every node and edge of the graph."""
    rows = _rows(g)
    nodes = {n.key: n for n in g.nodes}
    widths = {k: float(max(90, round(len(k) * CHAR_W) + 24)) for k in nodes}
    row_w = [sum(widths[k] for k in row) + H_GAP * max(len(row) - 1, 0) for row in rows]
    width = max(row_w, default=0.0) + 2 * SIDE
    if g.highlight is not None:
        width = max(width, (len(g.highlight.text) + 32) * 8.0)
    top = MARGIN + (24 if g.highlight is not None else 0)
    boxes: dict[str, Box] = {}
    for r, row in enumerate(rows):
        x = (width - row_w[r]) / 2
        y = top + r * (BOX_H + ROW_GAP)
        for k in row:
            boxes[k] = Box(nodes[k], _r(x), _r(y), widths[k], BOX_H)
            x += widths[k] + H_GAP
    frame = None
    if g.externals:
        ext = [boxes[n.key] for n in g.externals]
        x0, x1 = min(b.x for b in ext) - 12, max(b.x + b.w for b in ext) + 12
        frame = (_r(x0), _r(ext[0].y - 22), _r(x1 - x0), float(BOX_H + 34))
    pairs = {(e.src.key, e.dst.key) for e in g.edges}
    arrows = tuple(_arrow(i, e, boxes, pairs) for i, e in enumerate(g.edges))
    height = top + len(rows) * (BOX_H + ROW_GAP) - ROW_GAP + 2 * MARGIN
    return Layout(_r(width), _r(height), tuple(boxes[n.key] for n in g.nodes), arrows, frame)


def render_inline_svg(g: FlowGraph) -> str:
    """The graph as an ``<svg>`` element to embed in HTML (no scripts, no external references)."""
    return render_template(
        "graph.svg.j2",
        {
            "g": g,
            "layout": layered_layout(g),
            "red": "#d7191c",
            "labels": len(g.edges) <= LABELLED_EDGES,
        },
    )
