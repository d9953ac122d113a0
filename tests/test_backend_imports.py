"""Imports inside `zonewall.backends`: no cycle, and no private name borrowed across modules.

Every import is read with `ast`, those inside functions too (a cycle "only when asked" is
still a cycle).  A module that imports `a.b.c` also runs the packages `a.b` and `a`, so those
count as imported too.  A platform that outgrows one module becomes a package whose modules
use each other's public names (`cisco_ios/`), never `_private` ones.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
BACKENDS = SRC / "zonewall" / "backends"
PACKAGE = "zonewall.backends"


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_of(p): p for p in sorted(BACKENDS.rglob("*.py"))}


def import_froms(path: Path) -> Iterator[tuple[str, ast.ImportFrom | ast.Import]]:
    """(absolute module, node) for every import statement anywhere in the file."""
    module = module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                yield ".".join(base + ([node.module] if node.module else [])), node
            else:
                yield node.module or "", node


def with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def edges(path: Path) -> set[str]:
    """The backend modules that importing `path` runs directly (its imports, a submodule
    named in `from X import Y` included, and their parent packages)."""
    out: set[str] = set()
    for target, node in import_froms(path):
        names = {target}
        if isinstance(node, ast.ImportFrom):
            names |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES}
        for name in names:
            out |= {m for m in with_parents(name) if m in MODULES}
    out.discard(module_of(path))
    return out


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its nodes in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_walker_sees_the_backends() -> None:
    assert {f"{PACKAGE}.base", f"{PACKAGE}.cisco_ios.backend", f"{PACKAGE}.iptables"} <= set(
        MODULES
    )
    assert f"{PACKAGE}.cisco_ios.lowering" in edges(MODULES[f"{PACKAGE}.cisco_ios.backend"])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_in_backends() -> None:
    graph = {name: edges(path) for name, path in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_is_imported(module: str) -> None:
    """`from zonewall.x import _name` reaches into another module (dunders such as
    `__version__` are public)."""
    borrowed = [
        f"{target}.{alias.name} (line {node.lineno})"
        for target, node in import_froms(MODULES[module])
        if isinstance(node, ast.ImportFrom) and target.startswith("zonewall")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not borrowed, borrowed


def test_the_cisco_ios_package_imports_nothing() -> None:
    """`cisco_ios/__init__.py` imports nothing, so reading `cisco_ios.names` (build, the VLAN
    plan) loads no lowering; keep it that way."""
    package = BACKENDS / "cisco_ios" / "__init__.py"
    assert [t for t, _ in import_froms(package) if t != "__future__"] == []
