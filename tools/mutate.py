"""Mutation testing for the proof: does some test fail when the verifier or the flow algebra
is changed by one small edit?

A mutant is one edit of one source file, made on its syntax tree: a comparison flipped
(`<` / `<=`, `==` / `!=`, `in` / `not in`, `is` / `is not`), `+` / `-` swapped, an integer
constant moved by one, `and` / `or` swapped, a `not` dropped, `True` / `False` swapped, or a
plain statement (a call, an assignment to an attribute or item, an augmented assignment)
replaced by `pass`.  Each mutant is written into a private copy of `src/` and the module's
tests run against it (`PYTHONPATH` puts the copy first); a failing run kills the mutant.
Docstrings, `__all__`, decorators, annotations and lines marked `# pragma: no mutate` are
not mutated.

Usage (from the repository root, in the project's venv)::

    python tools/mutate.py                        # every target module (slow: hours)
    python tools/mutate.py src/zonewall/verify/rules.py --jobs 2
    python tools/mutate.py --sample 150 --seed 1  # a reproducible random sample
    python tools/mutate.py --list src/zonewall/packets.py

Mutants listed in `tools/equivalent-mutants.txt` (`path:line:column: description`, each with its
reason on the line after) change no behaviour; they are counted apart and left out of the
score.  The exit status is 1 when a non-equivalent mutant survives.  No network is used.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tools" / "equivalent-mutants.txt"
TIMEOUT = 600

# The modules where a silent bug would widen a firewall, and the tests that hold each, fastest
# first (the run stops at the first failure).
VERIFY_TESTS = (
    "tests/unit/verify/test_verify_names.py",
    "tests/property/test_engine_reference.py",
    "tests/unit/verify",
    "tests/property/test_foreign_configs.py",
    "tests/kernel/test_names_kernel.py",
)
FLOW_TESTS = (
    "tests/unit/compiler/test_effective_flows.py",
    "tests/unit/compiler",
    "tests/property/test_flows.py",
    "tests/property/test_packets.py",
)
TARGETS: dict[str, tuple[str, ...]] = {
    "src/zonewall/intervals.py": (
        "tests/property/test_intervals.py",
        "tests/property/test_packets.py",
        *FLOW_TESTS,
        "tests/unit/verify",
    ),
    "src/zonewall/packets.py": (
        "tests/property/test_packets.py",
        "tests/unit/verify/test_verify_names.py",
        *FLOW_TESTS,
        "tests/unit/verify",
    ),
    "src/zonewall/compiler/flows.py": FLOW_TESTS,
    "src/zonewall/compiler/assertions.py": ("tests/unit/compiler/test_assertions.py", *FLOW_TESTS),
    **{
        f"src/zonewall/verify/{p.name}": VERIFY_TESTS
        for p in sorted((ROOT / "src" / "zonewall" / "verify").glob("*.py"))
    },
}

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository root
    index: int  # the site's position in the module's walk order
    line: int
    col: int
    what: str

    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.what}"


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, `__all__`, decorators, annotations."""
    out: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            out.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            out.update(id(n) for n in ast.walk(node))
        for deco in getattr(node, "decorator_list", ()):  # dataclass(frozen=True, ...)
            out.update(id(n) for n in ast.walk(deco))
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if isinstance(ann, ast.AST):
                out.update(id(n) for n in ast.walk(ann))
    return out


def _sites(tree: ast.Module, lines: list[str]) -> list[tuple[ast.AST, int, str]]:
    """Every (node, variant, description) this module offers, in a stable order."""
    skipped = _skipped_nodes(tree)
    out: list[tuple[ast.AST, int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if id(node) in skipped or line is None or "pragma: no mutate" in lines[line - 1]:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _FLIP:
                    out.append((node, i, f"{type(op).__name__} -> {_FLIP[type(op)].__name__}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            out.append((node, 0, "+ -> -" if isinstance(node.op, ast.Add) else "- -> +"))
        elif isinstance(node, ast.BoolOp):
            out.append((node, 0, "and -> or" if isinstance(node.op, ast.And) else "or -> and"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((node, 0, "not x -> x"))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            out.append((node, 0, f"{node.value} -> {not node.value}"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append((node, 0, f"{node.value} -> {node.value + 1}"))
            if node.value > 0:
                out.append((node, 1, f"{node.value} -> {node.value - 1}"))
        elif (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            or isinstance(node, ast.AugAssign)
            or isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Attribute | ast.Subscript) for t in node.targets)
        ):
            out.append((node, 0, f"delete statement '{ast.unparse(node)[:50]}'"))
    return out


def mutants(path: str) -> list[Mutant]:
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    return [
        Mutant(path, i, getattr(n, "lineno", 0), getattr(n, "col_offset", 0) + 1, what)
        for i, (n, _, what) in enumerate(_sites(tree, source.splitlines()))
    ]


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, variant: int) -> None:
        self.target, self.variant = target, variant

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            visited: ast.AST = super().visit(node)
            return visited
        v = self.variant
        if isinstance(node, ast.Compare):
            node.ops[v] = _FLIP[type(node.ops[v])]()
        elif isinstance(node, ast.BinOp):
            node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            node.value = not node.value
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            node.value = node.value + (1 if v == 0 else -1)
        else:
            return ast.copy_location(ast.Pass(), node)
        return node


def mutated_source(m: Mutant) -> str:
    source = (ROOT / m.path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    node, variant, what = _sites(tree, source.splitlines())[m.index]
    assert what == m.what
    return ast.unparse(ast.fix_missing_locations(_Apply(node, variant).visit(tree)))


def run_one(m: Mutant, workdir: Path) -> bool:
    """True when the tests kill the mutant."""
    shutil.copytree(ROOT / "src", workdir / "src", dirs_exist_ok=True)
    (workdir / m.path).write_text(mutated_source(m), encoding="utf-8")
    env = dict(
        os.environ,
        PYTHONPATH=str(workdir / "src"),
        PYTHONDONTWRITEBYTECODE="1",
        HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"),
    )
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        *TARGETS[m.path],
    ]
    try:
        proc = subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return True  # a mutant that hangs the tests is caught
    finally:
        shutil.copy2(ROOT / m.path, workdir / m.path)
    return proc.returncode != 0


def equivalent_keys() -> dict[str, str]:
    """Accepted equivalent mutants: `path:line:column: description`, then its reason."""
    if not EQUIVALENT.exists():
        return {}
    lines = [
        ln
        for ln in EQUIVALENT.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    return {lines[i]: lines[i + 1].strip() for i in range(0, len(lines) - 1, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="modules to mutate (default: every target)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--sample", type=int, help="test a random sample of this many mutants")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = ap.parse_args(argv)
    paths = args.paths or sorted(TARGETS)
    unknown = [p for p in paths if p not in TARGETS]
    if unknown:
        ap.error(f"not a target module: {', '.join(unknown)} (see TARGETS)")
    todo = [m for p in paths for m in mutants(p)]
    if args.sample is not None and args.sample < len(todo):
        todo = sorted(
            random.Random(args.seed).sample(todo, args.sample), key=lambda m: (m.path, m.index)
        )
    if args.list:
        print("\n".join(m.key() for m in todo))
        return 0
    equivalent = equivalent_keys()
    with tempfile.TemporaryDirectory(prefix="zw-mutate-") as tmp:
        dirs = [Path(tmp) / str(i) for i in range(max(1, args.jobs))]
        for d in dirs:
            shutil.copytree(ROOT / "src", d / "src")
        free = list(dirs)

        def job(m: Mutant) -> tuple[Mutant, bool]:
            d = free.pop()
            try:
                return m, run_one(m, d)
            finally:
                free.append(d)

        survivors: list[Mutant] = []
        killed = accepted = 0
        with ThreadPoolExecutor(max_workers=len(dirs)) as pool:
            for m, dead in pool.map(job, todo):
                if dead:
                    killed += 1
                elif m.key() in equivalent:
                    accepted += 1
                else:
                    survivors.append(m)
                print(f"{'killed  ' if dead else 'SURVIVED'} {m.key()}", flush=True)
    counted = killed + len(survivors)
    score = 100.0 * killed / counted if counted else 100.0
    print(
        f"\n{len(todo)} mutants: {killed} killed, {len(survivors)} survived, "
        f"{accepted} equivalent (listed); score {score:.1f}% of non-equivalent mutants"
    )
    for m in survivors:
        print(f"  survivor: {m.key()}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
