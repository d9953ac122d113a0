"""`zonewall.verify` is independent of the backends: it may import only the IR modules
(`ir`, `packets`, `diagnostics`), the interval arithmetic (`intervals`), the standard library,
netaddr and itself.

Sharing `intervals` does not weaken the proof: the independence that matters is from the
backends' *decisions* (what to permit, in which order, under which names).  Set union,
intersection, difference and complement on sorted intervals decide nothing.  A bug there would sit on both sides
of the proof, so the module is held to references that share nothing with it: Python sets and
netaddr (tests/property/test_intervals.py).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "src" / "zonewall" / "verify"
ALLOWED = {
    "zonewall.ir",
    "zonewall.packets",
    "zonewall.diagnostics",
    "zonewall.intervals",
    "netaddr",
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("zonewall.verify")  # relative: inside the package
            else:
                names.add(node.module or "")
                names.update(
                    f"{node.module}.{a.name}" for a in node.names if node.module == "zonewall"
                )
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_verify_imports_only_the_ir(path: Path) -> None:
    for name in imported(path):
        top = name.split(".")[0]
        ok = (
            top in sys.stdlib_module_names
            or top == "__future__"
            or name in ALLOWED
            or name.split(".")[0] == "netaddr"
            or name.startswith("zonewall.verify")
            or name == "zonewall.verify"
        )
        assert ok, f"{path.name} imports {name}"
        assert not name.startswith("zonewall.backends"), f"{path.name} imports {name}"
