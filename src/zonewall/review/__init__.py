"""Review tools: `zonewall diff` (what a policy change does) and `zonewall explain` (why one
flow is permitted or denied).

This package sits above the pipeline, beside `report` and `build`: it reads policies through
`zonewall.dsl`, compiles them with `zonewall.compiler`, counts rules with `zonewall.backends`,
and returns plain data that `zonewall.present` (`diff.py`, `explain.py`) renders and
`zonewall.cli` prints.  Nothing below it imports it.
"""
