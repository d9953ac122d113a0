"""Presentation, the top floor but for the CLI: every rendering of what the commands return.

Everything here reads the compiled layer of the IR (`CompiledPolicy`, `AssertionResult`), the
diagnostics of a `check` and the data the application modules return, and never changes what
the compiler decided:

* `check`: the `check` report as text (diagnostics, the assertion list, the build summary) and
  as the JSON document;
* `diff` and `explain`: `zonewall diff` and `zonewall explain` output (text, Markdown, JSON);
* `lab`: the `zonewall lab` probe matrix;
* `graph`: `zonewall graph` in the format asked for;
* `conduits`: the zones (classes and external address atoms) and the conduits between them,
  with each conduit's services named by the policy's own service names where they fit exactly;
* `matrix`: the class-by-class table of permitted services (text, CSV, Markdown);
* `graph_render`: the flow graph as DOT, Mermaid, or SVG through Graphviz;
* `layout`: a pure-Python layered layout, so the HTML report needs no Graphviz;
* `html_report`: one self-contained HTML file (graph, matrix, assertions, warnings);
* `sarif` and `junit`: `check --format sarif|junit` for code scanning and CI test reports.

Layering: `present` may import every floor below it (the ground floor, the pipeline, the
application modules such as `report`, `review` and `lab`), never `cli`
(tests/test_import_layers.py).  Output is byte-deterministic: every collection is walked in a
sorted or source order, never in hash order.
"""
