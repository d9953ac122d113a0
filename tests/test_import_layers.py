"""Import direction: one ordered list of layers, checked over transitive imports with `ast`.

    ground        _version, intervals, text, packets, diagnostics, ir, atomic
    pipeline      dsl, compiler, backends, verify          (side by side: none imports another)
    application   report, outdir, starter, build, fmt, lab, review, traffic
    presentation  present
    cli           cli, cli_args, __main__

A module may import its own layer and the layers before it, never a later one; a pipeline
package imports no other pipeline package (they meet only in the IR).  Every import counts:
at module level, inside functions, under `TYPE_CHECKING`, `importlib.import_module("...")`,
and `from zonewall import X`, which is resolved to the module that defines `X` (the lazy
table `PUBLIC` in `zonewall/__init__.py`).  Importing `zonewall.a.b` also runs
`zonewall/a/__init__.py`, so a package's `__init__` is followed too.  The check is over the
transitive closure, and a failure prints the chain of imports that climbs.

`zonewall/__init__.py` itself is the public facade: at run time it imports only the ground
floor (`_version`) and loads the rest on first use, so importing `zonewall.packets` loads
neither the parser nor the compiler (checked in a fresh interpreter below).

No import cycles either, not even through an import inside a function: Tarjan's algorithm
over the run-time imports (`TYPE_CHECKING` blocks left out, as they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "zonewall"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# The one ordered list: (layer, its units, whether its units are independent of each other).
# A unit is a module or a package directly under `zonewall`.
LAYERS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("ground", ("_version", "intervals", "text", "packets", "diagnostics", "ir", "atomic"), False),
    ("pipeline", ("dsl", "compiler", "backends", "verify"), True),
    (
        "application",
        ("report", "outdir", "starter", "build", "fmt", "lab", "lab_probe", "review", "traffic"),
        False,
    ),
    ("presentation", ("present",), False),
    ("cli", ("cli", "cli_args", "__main__"), False),
)
# Ground-floor modules that import nothing outside the standard library (and the ground).
STDLIB_ONLY = ("_version", "intervals", "packets", "text")
ROOT = "zonewall"  # the package's own __init__: the facade, checked on its own


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _nodes(tree: ast.AST, runtime_only: bool) -> Iterator[ast.AST]:
    """Every node of `tree`; with `runtime_only`, leave out `if TYPE_CHECKING:` bodies."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if runtime_only and _type_checking(child):
                assert isinstance(child, ast.If)
                todo.extend(child.orelse)
                continue
            todo.append(child)


def imports_in(
    source: str, module: str, is_package: bool = False, runtime_only: bool = False
) -> set[str]:
    """Absolute names of every module imported anywhere in `source` (functions included);
    `from M import N` gives both `M` and `M.N` (N may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _nodes(ast.parse(source), runtime_only):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def root_exports(source: str) -> dict[str, str]:
    """What `from zonewall import X` loads, for each name `zonewall/__init__.py` offers: the
    lazy `PUBLIC` table and the names it imports eagerly."""
    out: dict[str, str] = {}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.update({a.asname or a.name: node.module for a in node.names})
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name) and target.id == "PUBLIC" and node.value is not None:
            table = ast.literal_eval(node.value)
            out.update({name: where for name, (where, _) in table.items()})
    return out


class Graph:
    """The package's modules and their imports among themselves, resolved to modules."""

    def __init__(self, sources: Mapping[str, tuple[str, bool]]) -> None:
        """`sources`: module name -> (its text, whether it is a package `__init__`)."""
        self.modules = set(sources)
        exports = root_exports(sources[ROOT][0]) if ROOT in sources else {}
        self.edges: dict[str, set[str]] = {}
        self.runtime: dict[str, set[str]] = {}
        for name, (text, is_package) in sources.items():
            self.edges[name] = self._resolve(imports_in(text, name, is_package), name, exports)
            self.runtime[name] = self._resolve(
                imports_in(text, name, is_package, runtime_only=True), name, exports
            )

    def _resolve(self, names: set[str], me: str, exports: dict[str, str]) -> set[str]:
        out: set[str] = set()
        for n in names:
            if n.split(".")[0] != ROOT:
                continue
            head, _, leaf = n.partition(".")
            if n not in self.modules and "." not in leaf and leaf in exports:
                n = exports[leaf]  # `from zonewall import X`: where X lives
            while n not in self.modules and "." in n:
                n = n.rpartition(".")[0]
            if n in self.modules and n not in (me, ROOT):
                out.add(n)
        return out

    def parents(self, name: str) -> set[str]:
        """The packages whose `__init__` runs before `name` (the root facade aside)."""
        parts = name.split(".")
        return {".".join(parts[:i]) for i in range(2, len(parts))} & self.modules

    def path_to(self, start: str, bad: set[str]) -> list[str] | None:
        """The shortest import chain from `start` to a module in `bad`, or None."""
        seen = {start: ""}
        todo = deque([start])
        while todo:
            cur = todo.popleft()
            for nxt in sorted(self.edges[cur] | self.parents(cur)):
                if nxt in seen:
                    continue
                seen[nxt] = cur
                if nxt in bad:
                    chain = [nxt]
                    while chain[-1] != start:
                        chain.append(seen[chain[-1]])
                    return chain[::-1]
                todo.append(nxt)
        return None

    def cycles(self) -> list[list[str]]:
        """Strongly connected groups of more than one module over run-time imports."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.runtime[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

        for v in sorted(self.modules):
            if v not in index:
                visit(v)
        return sorted(found)


def unit_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def place(module: str) -> tuple[int, str, bool] | None:
    """(layer index, unit, independent) of a module, None for a module no layer lists."""
    unit = unit_of(module)
    for i, (_, units, independent) in enumerate(LAYERS):
        if unit in units:
            return i, unit, independent
    return None


def forbidden_for(module: str, modules: set[str]) -> set[str]:
    """The modules `module` may not reach: any later layer, and in an independent layer
    any other unit of it."""
    here = place(module)
    assert here is not None
    layer, unit, independent = here
    out = set()
    for m in modules:
        there = place(m)
        if there is None or m == ROOT:
            continue
        if there[0] > layer or (there[0] == layer and independent and there[1] != unit):
            out.add(m)
    return out


def layer_violations(graph: Graph) -> list[str]:
    out = []
    for m in sorted(graph.modules - {ROOT}):
        chain = graph.path_to(m, forbidden_for(m, graph.modules))
        if chain:
            out.append(" -> ".join(chain))
    return out


def sources_of(package: Path) -> dict[str, tuple[str, bool]]:
    return {
        module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(package.rglob("*.py"))
    }


GRAPH = Graph(sources_of(PACKAGE))


def test_every_module_has_a_room() -> None:
    homeless = sorted(m for m in GRAPH.modules - {ROOT} if place(m) is None)
    assert homeless == [], f"add to LAYERS: {homeless}"
    assert len(GRAPH.modules) >= 80


def test_imports_flow_down_the_layers() -> None:
    assert layer_violations(GRAPH) == []


def test_the_facade_imports_only_the_ground_floor_at_run_time() -> None:
    assert GRAPH.runtime[ROOT] <= {"zonewall._version"}
    exports = root_exports(sources_of(PACKAGE)[ROOT][0])
    assert exports["compile_policy"] == "zonewall.compiler.pipeline"
    assert exports["__version__"] == "zonewall._version"


def test_every_public_name_loads() -> None:
    import zonewall

    assert {n: getattr(zonewall, n).__name__ for n in ("parse", "compile_policy", "Span")} == {
        "parse": "parse_file",
        "compile_policy": "compile_policy",
        "Span": "Span",
    }
    assert all(getattr(zonewall, n) is not None for n in zonewall.__all__)
    with pytest.raises(AttributeError):
        _ = zonewall.no_such_name


def test_importing_the_ground_floor_loads_no_pipeline() -> None:
    probe = (
        "import sys, zonewall.packets, zonewall.intervals, zonewall.ir; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('zonewall'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    loaded = proc.stdout.split()
    assert "zonewall.packets" in loaded
    above = [m for m in loaded if m != ROOT and (place(m) or (1,))[0] > 0]
    assert above == []


@pytest.mark.parametrize("unit", STDLIB_ONLY)
def test_the_arithmetic_imports_only_the_standard_library(unit: str) -> None:
    text, is_package = sources_of(PACKAGE)[f"{ROOT}.{unit}"]
    outside = sorted(
        n
        for n in imports_in(text, f"{ROOT}.{unit}", is_package)
        if n.split(".")[0] not in STDLIB | {ROOT}
    )
    assert outside == []


def test_the_ground_floor_imports_only_the_standard_library_and_netaddr() -> None:
    ground = [m for m in GRAPH.modules if (place(m) or (1,))[0] == 0]
    sources = sources_of(PACKAGE)
    outside = sorted(
        f"{m}: {n}"
        for m in ground
        for n in imports_in(sources[m][0], m, sources[m][1])
        if n.split(".")[0] not in STDLIB | {ROOT, "netaddr"}
    )
    assert outside == []


def test_no_import_cycles() -> None:
    assert GRAPH.cycles() == []


# -- the checker checks: small made-up packages --------------------------------------------


def test_the_walker_resolves_relative_nested_and_dynamic_imports() -> None:
    source = (
        "from ..dsl import parser\nimport zonewall.backends.base as b\n"
        "from . import graph\n"
        "def f():\n    from zonewall.ir import Policy\n"
        "    importlib.import_module('zonewall.dsl.syntax')\n"
    )
    found = imports_in(source, "zonewall.compiler.fake")
    assert {
        "zonewall.dsl",
        "zonewall.dsl.parser",
        "zonewall.backends.base",
        "zonewall.compiler",
        "zonewall.compiler.graph",
        "zonewall.ir",
        "zonewall.dsl.syntax",
    } <= found


def test_an_upward_import_through_a_chain_is_caught() -> None:
    graph = Graph(
        {
            "zonewall": ("", True),
            "zonewall.ir": ("", False),
            "zonewall.verify": ("", True),
            "zonewall.verify.engine": ("from zonewall.verify import helper\n", False),
            "zonewall.verify.helper": ("def f():\n    from .. import ir, build\n", False),
            "zonewall.build": ("", False),
        }
    )
    assert layer_violations(graph) == [
        "zonewall.verify.engine -> zonewall.verify.helper -> zonewall.build",
        "zonewall.verify.helper -> zonewall.build",
    ]


def test_from_zonewall_import_a_public_name_is_the_module_behind_it() -> None:
    facade = (
        "from zonewall._version import __version__\n"
        'PUBLIC: dict = {"parse": ("zonewall.dsl.parser", "parse_file")}\n'
    )
    graph = Graph(
        {
            "zonewall": (facade, True),
            "zonewall._version": ("", False),
            "zonewall.dsl": ("", True),
            "zonewall.dsl.parser": ("", False),
            "zonewall.backends": ("", True),
            "zonewall.backends.cisco": ("from zonewall import parse, __version__\n", False),
        }
    )
    assert graph.edges["zonewall.backends.cisco"] == {"zonewall.dsl.parser", "zonewall._version"}
    assert layer_violations(graph) == ["zonewall.backends.cisco -> zonewall.dsl.parser"]


def test_a_package_init_is_followed_and_pipeline_packages_stay_apart() -> None:
    graph = Graph(
        {
            "zonewall": ("", True),
            "zonewall.compiler": ("from zonewall.backends import x\n", True),
            "zonewall.compiler.flows": ("", False),
            "zonewall.backends": ("", True),
            "zonewall.backends.x": ("", False),
            "zonewall.review": ("from zonewall.compiler.flows import f\n", False),
        }
    )
    assert layer_violations(graph) == [
        "zonewall.compiler -> zonewall.backends",
        "zonewall.compiler.flows -> zonewall.compiler -> zonewall.backends",
    ]


def test_cycles_are_found_through_functions_but_not_type_checking() -> None:
    graph = Graph(
        {
            "zonewall": ("", True),
            "zonewall.present": ("", True),
            "zonewall.present.a": ("def f():\n    from zonewall.present import b\n", False),
            "zonewall.present.b": ("from zonewall.present.a import f\n", False),
            "zonewall.present.c": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from zonewall.present.d import D\n",
                False,
            ),
            "zonewall.present.d": ("from zonewall.present.c import C\n", False),
        }
    )
    assert graph.cycles() == [["zonewall.present.a", "zonewall.present.b"]]


# The front end's name tables: what `icmp/NAME` in a policy and a protocol's printed name
# mean.  The verifier reads names in configs with its own tables (`verify/names.py`, pinned
# against iptables, nft and the protocol database), so one wrong number cannot sit on both
# sides of the proof.  The interval arithmetic (`PacketSet`, `key`, the protocol numbers)
# stays shared.
FRONT_END_NAME_TABLES = frozenset({"ICMP_TYPES", "PROTO_NAMES", "_ICMP_NAMES"})


def names_taken_from_packets(source: str, module: str) -> set[str]:
    """Names `source` imports from `zonewall.packets`, or reads as attributes of it."""
    package = module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            prefix = (
                ".".join(base + ([node.module] if node.module else []))
                if node.level
                else node.module or ""
            )
            if prefix == "zonewall.packets":
                found.update(alias.name for alias in node.names)
            elif prefix == "zonewall":
                found.update(f"packets.{a.name}" for a in node.names if a.name == "packets")
        elif isinstance(node, ast.Attribute) and node.attr in FRONT_END_NAME_TABLES:
            found.add(node.attr)
    return found


VERIFY = sorted((PACKAGE / "verify").rglob("*.py"))


@pytest.mark.parametrize("path", VERIFY, ids=[str(p.relative_to(SRC)) for p in VERIFY])
def test_the_verifier_reads_names_with_its_own_tables(path: Path) -> None:
    taken = names_taken_from_packets(path.read_text(encoding="utf-8"), module_name(path))
    bad = sorted(taken & FRONT_END_NAME_TABLES | {n for n in taken if n.startswith("packets")})
    assert bad == [], f"{path.relative_to(SRC)} uses the front end's {', '.join(bad)}"


def test_the_name_table_check_sees_every_spelling() -> None:
    source = (
        "from zonewall.packets import ICMP, ICMP_TYPES\n"
        "from ..packets import PROTO_NAMES\nfrom zonewall import packets\n"
        "import zonewall.packets as p\nx = p._ICMP_NAMES\n"
    )
    taken = names_taken_from_packets(source, "zonewall.verify.fake")
    assert taken & FRONT_END_NAME_TABLES == FRONT_END_NAME_TABLES
    assert "packets.packets" in taken and "ICMP" in taken
