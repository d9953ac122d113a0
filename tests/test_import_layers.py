"""Import direction (the layers listed below), checked by walking every import with `ast`.

* `ir` imports only the standard library, netaddr, `zonewall.diagnostics` and `zonewall.packets`;
* `packets` imports only the standard library (it is part of the IR);
* `dsl` never imports `compiler` or `backends`;
* `compiler` never imports `dsl` or `backends`;
* `backends` never import `dsl`;
* `present` (reports and pictures) reads the compiled IR and the check report only: it never
  imports `dsl`, `compiler`, `backends`, `verify`, `build`, `lab` or `cli`.
* `traffic` (replay) sits beside `review`: it may use `review`, never `cli`; nothing below
  it and not `review` imports it.
* `review` (diff, explain) sits above the pipeline: it may use `dsl`, `compiler`, `backends` and
  `report`, never `cli`; nothing below it (`dsl`, `compiler`, `backends`, `verify`, `ir`,
  `report`, `build`) imports it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "zonewall"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module imported anywhere in a file of the package."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path),
                      path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of every module imported anywhere in `source` (functions included)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
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
            # `from zonewall import dsl` imports a submodule: record it too
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(str(node.args[0].value))
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def files(sub: str) -> list[Path]:
    target = PACKAGE / sub
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(SRC)) for p in paths]


def test_the_walker_sees_the_package() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) >= 15
    assert "zonewall.ir" in imports_of(PACKAGE / "compiler" / "pipeline.py")


GROUND = files("ir.py") + files("packets.py") + files("text.py")


@pytest.mark.parametrize("path", GROUND, ids=ids(GROUND))
def test_ir_imports_only_stdlib_netaddr_diagnostics_and_packets(path: Path) -> None:
    allowed = ("zonewall.diagnostics", "zonewall.packets") if path.name == "ir.py" else ()
    bad = sorted(n for n in imports_of(path)
                 if n.split(".")[0] not in STDLIB | {"netaddr"}
                 and not any(within(n, a) for a in allowed))
    assert bad == []


RULES = [
    ("present", ("zonewall.dsl", "zonewall.compiler", "zonewall.backends", "zonewall.verify",
                 "zonewall.build", "zonewall.lab", "zonewall.cli", "zonewall.review",
                 "zonewall.traffic")),
    ("dsl", ("zonewall.compiler", "zonewall.backends", "zonewall.review", "zonewall.traffic")),
    ("compiler", ("zonewall.dsl", "zonewall.backends", "zonewall.review", "zonewall.traffic")),
    ("backends", ("zonewall.dsl", "zonewall.review", "zonewall.traffic")),
    ("verify", ("zonewall.review", "zonewall.traffic")),
    ("report.py", ("zonewall.review", "zonewall.traffic")),
    ("build.py", ("zonewall.review", "zonewall.traffic")),
    ("review", ("zonewall.cli", "zonewall.traffic")),
    ("traffic", ("zonewall.cli",)),
]
CASES = [(path, forbidden) for sub, forbidden in RULES for path in files(sub)]


@pytest.mark.parametrize(("path", "forbidden"), CASES,
                         ids=ids([p for p, _ in CASES]))
def test_layers_import_in_one_direction(path: Path, forbidden: tuple[str, ...]) -> None:
    bad = sorted(n for n in imports_of(path) if any(within(n, f) for f in forbidden))
    assert bad == [], f"{path.relative_to(SRC)} must not import {', '.join(bad)}"


def test_review_is_a_package_the_rules_cover() -> None:
    assert len(files("review")) >= 5
    assert "zonewall.compiler.expand" in imports_of(PACKAGE / "review" / "flow_changes.py")


def test_the_walker_resolves_relative_and_nested_imports() -> None:
    source = ("from ..dsl import parser\nimport zonewall.backends.base as b\n"
              "from . import graph\n"
              "def f():\n    from zonewall.ir import Policy\n"
              "    importlib.import_module('zonewall.dsl.syntax')\n")
    found = imports_in(source, "zonewall.compiler.fake")
    assert {"zonewall.dsl", "zonewall.dsl.parser", "zonewall.backends.base",
            "zonewall.compiler", "zonewall.compiler.graph", "zonewall.ir",
            "zonewall.dsl.syntax"} <= found
    forbidden = ("zonewall.dsl", "zonewall.backends")
    assert sorted(n for n in found if any(within(n, f) for f in forbidden)) == [
        "zonewall.backends.base", "zonewall.dsl", "zonewall.dsl.parser",
        "zonewall.dsl.syntax"]


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
            prefix = (".".join(base + ([node.module] if node.module else [])) if node.level
                      else node.module or "")
            if prefix == "zonewall.packets":
                found.update(alias.name for alias in node.names)
            elif prefix == "zonewall":
                found.update(f"packets.{a.name}" for a in node.names if a.name == "packets")
        elif isinstance(node, ast.Attribute) and node.attr in FRONT_END_NAME_TABLES:
            found.add(node.attr)
    return found


VERIFY = files("verify")


@pytest.mark.parametrize("path", VERIFY, ids=ids(VERIFY))
def test_the_verifier_reads_names_with_its_own_tables(path: Path) -> None:
    taken = names_taken_from_packets(path.read_text(encoding="utf-8"), module_name(path))
    bad = sorted(taken & FRONT_END_NAME_TABLES | {n for n in taken if n.startswith("packets")})
    assert bad == [], f"{path.relative_to(SRC)} uses the front end's {', '.join(bad)}"


def test_the_name_table_check_sees_every_spelling() -> None:
    source = ("from zonewall.packets import ICMP, ICMP_TYPES\n"
              "from ..packets import PROTO_NAMES\nfrom zonewall import packets\n"
              "import zonewall.packets as p\nx = p._ICMP_NAMES\n")
    taken = names_taken_from_packets(source, "zonewall.verify.fake")
    assert taken & FRONT_END_NAME_TABLES == FRONT_END_NAME_TABLES
    assert "packets.packets" in taken and "ICMP" in taken
