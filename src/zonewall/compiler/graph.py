"""The flow graph: classes and externals as nodes, an edge A -> B when A may initiate to B.

Derived data, built from the effective flows.  Node ids are the class and external names (not IR
objects).  An external atom belongs to every external containing it, so a flow to the atom of
``pump_vendor`` is an edge to ``pump_vendor`` and to ``internet``.  The graph's ``flows``
attribute maps each edge to the flows behind it; `edge_packets` and `edge_rules` derive what
the edge permits and which allow statements opened it, only for the few edges a
counterexample names (a 1,000-class estate has ~50,000 edges, and unioning every edge's
packet sets up front cost more than the proofs).

Only ``unreachable`` assertions walk the graph, so the pipeline builds it only for them, and
networkx is imported here, when a graph is first built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from zonewall.ir import Endpoint, Flow, ResolvedClass, ResolvedExternal
from zonewall.packets import PacketSet

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["build_graph", "edge_packets", "edge_rules", "endpoint_names"]


def endpoint_names(ep: Endpoint) -> tuple[str, ...]:
    return ep.externals if ep.kind == "external" else (ep.name,)


def build_graph(
    classes: Sequence[ResolvedClass],
    externals: Sequence[ResolvedExternal],
    endpoints: Sequence[Endpoint],
    flows: Iterable[Flow],
) -> nx.DiGraph[str]:
    """The graph; a gateway endpoint (``gateway:NAME``) is a node of kind "gateway"."""
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    for cls in sorted(classes, key=lambda c: c.name):
        graph.add_node(cls.name, kind="class", criticality=cls.criticality.label)
    for ext in sorted(externals, key=lambda e: e.name):
        graph.add_node(ext.name, kind="external")
    for ep in endpoints:
        if ep.kind == "gateway":
            graph.add_node(ep.name, kind="gateway")
    names = [endpoint_names(ep) for ep in endpoints]
    edge_flows: dict[tuple[str, str], list[Flow]] = {}
    for flow in flows:
        for a in names[flow.src]:
            for b in names[flow.dst]:
                got = edge_flows.get((a, b))
                if got is None:
                    edge_flows[(a, b)] = [flow]
                else:
                    got.append(flow)
    # The flows behind each edge live in one graph attribute, not in ~50,000 edge dicts.
    graph.add_edges_from(sorted(edge_flows))
    graph.graph["flows"] = edge_flows
    return graph


def edge_packets(graph: nx.DiGraph[str], a: str, b: str) -> PacketSet:
    """Everything `a` may initiate to `b`."""
    flows: list[Flow] = graph.graph["flows"][a, b]
    return PacketSet.union_all(f.packets for f in flows)


def edge_rules(graph: nx.DiGraph[str], a: str, b: str) -> tuple[int, ...]:
    """The allow statements that open the edge `a -> b`, in source order."""
    flows: list[Flow] = graph.graph["flows"][a, b]
    return tuple(sorted({i for f in flows for i in f.rules}))
