"""The pure-Python layered layout of the HTML report's graph."""

from __future__ import annotations

from zonewall.packets import PacketSet
from zonewall.present.conduits import Conduit, Conduits, Zone
from zonewall.present.graph_render import flow_graph
from zonewall.present.layout import layered_layout


def conduits(edges: list[tuple[str, str]], externals: tuple[str, ...] = ()) -> Conduits:
    names = sorted({n for e in edges for n in e} - set(externals))
    zones = tuple(Zone(n, "class", "medium", (), ()) for n in names) + tuple(
        Zone(n, "external", None, (n,), ("0.0.0.0/0",)) for n in externals
    )
    flows = tuple(
        Conduit(a, b, PacketSet.everything(), ("ip",), False, ()) for a, b in sorted(edges)
    )
    return Conduits(None, zones, flows)


def rows_of(edges: list[tuple[str, str]], externals: tuple[str, ...] = ()) -> dict[str, float]:
    layout = layered_layout(flow_graph(conduits(edges, externals)))
    return {b.node.key: b.y for b in layout.boxes}


def test_a_chain_goes_down_one_row_per_hop() -> None:
    y = rows_of([("a", "b"), ("b", "c"), ("a", "c")])
    assert y["a"] < y["b"] < y["c"]


def test_cycles_are_laid_out_and_externals_get_the_bottom_row() -> None:
    y = rows_of(
        [("a", "b"), ("b", "a"), ("b", "c"), ("c", "inet"), ("inet", "a")], externals=("inet",)
    )
    assert y["a"] < y["b"] < y["c"] < y["inet"]


def test_boxes_in_a_row_never_overlap_and_layout_is_deterministic() -> None:
    edges = [("hub", f"leaf{i}") for i in range(12)] + [(f"leaf{i}", "sink") for i in range(12)]
    g = flow_graph(conduits(edges))
    first, second = layered_layout(g), layered_layout(g)
    assert first == second
    rows: dict[float, list[tuple[float, float]]] = {}
    for b in first.boxes:
        rows.setdefault(b.y, []).append((b.x, b.x + b.w))
        assert 0 <= b.x and b.x + b.w <= first.width
    for spans in rows.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
