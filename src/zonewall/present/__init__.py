"""Presentation: the compiled policy and the `check` report shown to people and to other tools.

Everything here reads the compiled layer of the IR (`CompiledPolicy`, `AssertionResult`) and
the diagnostics of a `check`, and never changes what the compiler decided:

* `conduits`: the zones (classes and external address atoms) and the conduits between them,
  with each conduit's services named by the policy's own service names where they fit exactly;
* `matrix`: the class-by-class table of permitted services (text, CSV, Markdown);
* `graph_render`: the flow graph as DOT, Mermaid, or SVG through Graphviz;
* `layout`: a pure-Python layered layout, so the HTML report needs no Graphviz;
* `html_report`: one self-contained HTML file (graph, matrix, assertions, warnings);
* `sarif` and `junit`: `check --format sarif|junit` for code scanning and CI test reports.

Layering: `present` imports the IR, `diagnostics`, `packets` and `report` (for `CheckReport`),
never `dsl`, `compiler`, `backends` or `verify`.  Output is byte-deterministic: every
collection is walked in a sorted or source order, never in hash order.
"""
