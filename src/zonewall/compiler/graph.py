"""The flow graph: classes and externals as nodes, an edge A -> B when A may initiate to B.

Derived data, built from the effective flows.  Node ids are the class and external names (not IR
objects).  An external atom belongs to every external containing it, so a flow to the atom of
``pump_vendor`` is an edge to ``pump_vendor`` and to ``internet``.  Each edge carries the packet
set it permits and the allow statements that opened it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import networkx as nx

from zonewall.ir import Endpoint, Flow, ResolvedClass, ResolvedExternal
from zonewall.packets import PacketSet

__all__ = ["build_graph", "endpoint_names"]


def endpoint_names(ep: Endpoint) -> tuple[str, ...]:
    return ep.externals if ep.kind == "external" else (ep.name,)


def build_graph(classes: Sequence[ResolvedClass], externals: Sequence[ResolvedExternal],
                endpoints: Sequence[Endpoint], flows: Iterable[Flow]) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    for cls in sorted(classes, key=lambda c: c.name):
        graph.add_node(cls.name, kind="class", criticality=cls.criticality.label)
    for ext in sorted(externals, key=lambda e: e.name):
        graph.add_node(ext.name, kind="external")
    names = [endpoint_names(ep) for ep in endpoints]
    edge_packets: dict[tuple[str, str], list[PacketSet]] = {}
    edge_rules: dict[tuple[str, str], list[tuple[int, ...]]] = {}
    for flow in flows:
        for a in names[flow.src]:
            for b in names[flow.dst]:
                if (a, b) in edge_packets:
                    edge_packets[(a, b)].append(flow.packets)
                    edge_rules[(a, b)].append(flow.rules)
                else:
                    edge_packets[(a, b)] = [flow.packets]
                    edge_rules[(a, b)] = [flow.rules]
    graph.add_edges_from(
        (a, b, {"packets": PacketSet.union_all(edge_packets[(a, b)]),
                "rules": _merged(edge_rules[(a, b)])})
        for (a, b) in sorted(edge_packets))
    return graph


def _merged(rule_lists: list[tuple[int, ...]]) -> tuple[int, ...]:
    if len(rule_lists) == 1:
        return tuple(sorted(rule_lists[0]))
    return tuple(sorted({i for rules in rule_lists for i in rules}))
