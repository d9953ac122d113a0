"""Mutation testing for the proof: does some test fail when the verifier or the flow algebra
is changed by one small edit?

A mutant is one edit of one source file, made on its syntax tree: a comparison flipped
(`<` / `<=`, `==` / `!=`, `in` / `not in`, `is` / `is not`), `+` / `-` swapped, an integer
constant moved by one, `and` / `or` swapped, a `not` dropped, `True` / `False` swapped, or a
plain statement (a call, an assignment to an attribute or item, an augmented assignment)
replaced by `pass`.  Each mutant is written into a private copy of `src/` and tests run against
it (`PYTHONPATH` puts the copy first); a failing run kills the mutant.  Docstrings, `__all__`,
decorators, annotations and lines marked `# pragma: no mutate` are not mutated.

Which tests: a coverage map (`.mutate/coverage-map.json`, made once by `--map` with the
`coverage` package, `tools/mutate_plugin.py` recording each test under its own id) says which
tests execute which lines.  A mutant inside a function runs only the tests that execute its
statement, fastest first, stopping at the first failure (`--select tests`, the default);
`--select files` runs every test of the files holding those tests (module fixtures and caches
shared between tests are then covered), `--select module` the module's whole list (`TARGETS`).
Code run at import (tables, defaults, class bodies), and every module changed since the map was
made, always get the module's whole list (its first file alone first: the fastest, where the
tables are pinned).  A mutant whose statement no test executes survives without running
("uncovered").  Each run has a time limit (`--timeout`, by default ten times the selected
tests' recorded time plus 60 s); a mutant over it counts as killed ("timeout").  A whole list
has no recorded time: its limit is 30 minutes and a mutant over it is left unjudged ("error").

`--fast` first runs every mutant inside a function from one pytest process: the tests are
collected once, and each mutant runs in a forked child whose one function is given the
mutant's code, its covering tests in order, stopping at the first failure (about a second a
mutant instead of a process start and a collection).  Each test that kills there runs alone in
a child on the real code too (a control: it must pass, else its kills run again the ordinary
way).  Survivors of the fast pass are recorded as such, or with `--confirm` run again the
ordinary way in a fresh process (a cache filled by the real code before the fork could hide a
mutant from a child, never make one fail: an unconfirmed survivor can only lower the score).

Results are appended to `tools/mutation-results.jsonl`, one JSON object a line keyed by the
mutant's id (module path, hash of the module's source, site index): a run skips mutants that
already have a result for the same source, so an interrupted run, or a later session, continues
where it stopped.  `--rerun-survivors` runs the survivors again (after new tests, or with a wider
`--select`).

Usage (from the repository root, in the project's venv; `pip install coverage` for the map;
on a shared machine prefix `nice -n 19`)::

    python tools/mutate.py --map                  # the coverage map (again after test changes)
    python tools/mutate.py src/zonewall/verify/rules.py --jobs 2   # one module: on every change
    python tools/mutate.py --sample 450 --stratified --seed 1 --fast --jobs 2  # sampled
    python tools/mutate.py --sample 450 --stratified --seed 1 --report  # its scores, per module
    python tools/mutate.py --list src/zonewall/packets.py

Mutants listed in `tools/equivalent-mutants.txt` (`path:line:column: description`, each with its
reason on the line after) change no behaviour; they are counted apart and left out of the
score.  The exit status is 1 when a non-equivalent mutant survives.  No network is used.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tools" / "equivalent-mutants.txt"
RESULTS = ROOT / "tools" / "mutation-results.jsonl"
MAP = ROOT / ".mutate" / "coverage-map.json"
TIMEOUT = 1800  # per mutant when the map gives no time for its tests (then not a kill)

# The modules where a silent bug would widen a firewall, and the tests that hold each, fastest
# first (the run stops at the first failure).
VERIFY_TESTS = (
    "tests/unit/verify/test_verify_names.py",
    "tests/property/test_engine_reference.py",
    "tests/unit/verify",
    "tests/property/test_foreign_configs.py",
    "tests/property/test_split_words.py",
    "tests/kernel/test_names_kernel.py",
    "tests/property/test_audit_mutations.py",
    "tests/e2e/test_audit_devices.py",
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
# Every test the map records: the union of the lists above, each path once.
UNIVERSE = tuple(dict.fromkeys(t for tests in TARGETS.values() for t in tests))

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
    digest: str  # of the module's source: results are kept per source
    index: int  # the site's position in the module's walk order
    line: int
    col: int
    what: str
    lines: tuple[int, int]  # the enclosing statement's lines (its header, for a compound one)
    runtime: bool  # inside a function body (else it runs at import)
    scope: str  # the qualified name of the outermost function around it ("" at import)

    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.what}"

    @property
    def id(self) -> str:
        return f"{self.path}@{self.digest}#{self.index}"


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


def _placement(tree: ast.Module) -> dict[int, tuple[tuple[int, int], bool, str]]:
    """For every node: its innermost statement's lines, whether it runs inside a function, and
    the qualified name of the outermost function whose body holds it."""
    out: dict[int, tuple[tuple[int, int], bool, str]] = {}
    functions = ast.FunctionDef | ast.AsyncFunctionDef

    def lines_of(stmt: ast.AST) -> tuple[int, int]:
        body = getattr(stmt, "body", None)
        first: int = stmt.lineno  # type: ignore[attr-defined]
        if isinstance(body, list) and body and hasattr(body[0], "lineno"):
            return first, max(first, body[0].lineno - 1)
        return first, stmt.end_lineno or first  # type: ignore[attr-defined]

    def visit(node: ast.AST, span: tuple[int, int], scope: str, prefix: str) -> None:
        if isinstance(node, ast.stmt | ast.excepthandler | ast.match_case) and hasattr(
            node, "lineno"
        ):
            span = lines_of(node)
        out[id(node)] = (span, bool(scope), scope)
        name = getattr(node, "name", None)
        for field, value in ast.iter_fields(node):
            inner_scope, inner_prefix = scope, prefix
            if field == "body" and not scope:
                if isinstance(node, functions):
                    inner_scope = prefix + str(name)
                elif isinstance(node, ast.Lambda):
                    inner_scope = "<lambda>"  # a module-level lambda: found by no name
                elif isinstance(node, ast.ClassDef):
                    inner_prefix = f"{prefix}{name}."
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, span, inner_scope, inner_prefix)

    visit(tree, (0, 0), "", "")
    return out


def mutants(path: str) -> list[Mutant]:
    source = (ROOT / path).read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    tree = ast.parse(source)
    where = _placement(tree)
    return [
        Mutant(
            path,
            digest,
            i,
            getattr(n, "lineno", 0),
            getattr(n, "col_offset", 0) + 1,
            what,
            *where[id(n)],
        )
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


# ---------------------------------------------------------------------------------------------
# The coverage map and the choice of tests
# ---------------------------------------------------------------------------------------------


def _digest(path: str) -> str:
    return hashlib.sha256((ROOT / path).read_bytes()).hexdigest()[:12]


def make_map(targets: list[str]) -> int:
    """Run every test of the universe once under coverage; write `MAP`."""
    MAP.parent.mkdir(exist_ok=True)
    raw = MAP.with_suffix(".raw.json")
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "tools"),
        HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"),
    )
    args = [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header"),
        *("-p", "mutate_plugin", f"--mutate-map={raw}", f"--mutate-targets={','.join(targets)}"),
        *UNIVERSE,
    ]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0:
        print("the tests fail on the real code: no map written", file=sys.stderr)
        return 1
    data = json.loads(raw.read_text(encoding="utf-8"))
    raw.unlink()
    data["digests"] = {t: _digest(t) for t in targets}
    data["commit"] = _commit()
    MAP.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    print(f"map written to {MAP.relative_to(ROOT)} in {time.monotonic() - started:.0f} s")
    return 0


def _commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return proc.stdout.strip()


@dataclass(frozen=True)
class Selection:
    files: tuple[str, ...]  # test paths given to pytest
    only: tuple[str, ...] | None  # test ids to keep, in order (None: all of `files`)
    seconds: float | None  # their recorded time (None: unknown)


def select(m: Mutant, level: str, cmap: dict | None) -> Selection:  # type: ignore[type-arg]
    whole = Selection(TARGETS[m.path], None, None)
    if level == "module" or cmap is None or not m.runtime:
        return whole
    if cmap["digests"].get(m.path) != m.digest:
        return whole  # the module changed since the map: its lines no longer match
    by_line = cmap["files"].get(m.path, {})
    ids: set[str] = set()
    for line in range(m.lines[0], m.lines[1] + 1):
        ids.update(by_line.get(str(line), ()))
    tests = ids - {""}
    if not tests:
        # Run only while importing (a function called by module-level code), or by nothing.
        return whole if ids else Selection((), (), 0.0)
    durations: dict[str, float] = cmap["durations"]
    if level == "files":
        files = {t.split("::")[0] for t in tests}
        tests = {t for t in durations if t.split("::")[0] in files}
    order = tuple(sorted(tests, key=lambda t: (durations.get(t, 0.0), t)))
    files_in_order = tuple(dict.fromkeys(t.split("::")[0] for t in order))
    return Selection(files_in_order, order, sum(durations.get(t, 0.0) for t in order))


# ---------------------------------------------------------------------------------------------
# Running one mutant
# ---------------------------------------------------------------------------------------------


def _limit_memory() -> None:
    """In a mutant's test process: at most 3 GiB mapped (a runaway mutant fails its test)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


def run_one(m: Mutant, workdir: Path, sel: Selection, timeout: float | None) -> dict:  # type: ignore[type-arg]
    """Run the selected tests against the mutant; the result record."""
    started = time.monotonic()
    record = {"id": m.id, "key": m.key(), "tests": len(sel.only) if sel.only is not None else None}
    if sel.only == ():
        return {**record, "status": "uncovered", "seconds": 0.0}
    (workdir / m.path).write_text(mutated_source(m), encoding="utf-8")
    env = dict(
        os.environ,
        PYTHONPATH=f"{workdir / 'src'}{os.pathsep}{ROOT / 'tools'}",
        PYTHONDONTWRITEBYTECODE="1",
        HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"),
    )
    args = [
        *(sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header"),
        *("-p", "mutate_plugin"),
    ]
    if sel.only is not None:
        only = workdir / "only.txt"
        only.write_text("\n".join(sel.only) + "\n", encoding="utf-8")
        args.append(f"--mutate-only={only}")
    limit = timeout or (60 + 10 * sel.seconds if sel.seconds is not None else TIMEOUT)
    # The module's whole list: its first file alone first (the fastest; tables are pinned there).
    stages = [sel.files[:1], sel.files] if sel.only is None and len(sel.files) > 1 else [sel.files]
    try:
        for files in stages:
            proc = subprocess.run(
                [*args, *files],
                cwd=ROOT,
                env=env,
                preexec_fn=_limit_memory,
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
            )
            if proc.returncode != 0:
                break
    except subprocess.TimeoutExpired:
        seconds = round(time.monotonic() - started, 1)
        if sel.seconds is None:  # no recorded time to compare with: not a verdict
            return {**record, "status": "error", "seconds": seconds, "rc": "time limit"}
        return {**record, "status": "timeout", "seconds": seconds}
    finally:
        shutil.copy2(ROOT / m.path, workdir / m.path)
    seconds = round(time.monotonic() - started, 1)
    if proc.returncode == 0:
        return {**record, "status": "survived", "seconds": seconds}
    if proc.returncode not in (1, 2):  # 1: a test failed; 2: collection broke (an import)
        return {**record, "status": "error", "seconds": seconds, "rc": proc.returncode}
    killer = _FAILED.search(proc.stdout)
    return {
        **record,
        "status": "killed",
        "seconds": seconds,
        "killer": killer.group(1) if killer else f"exit {proc.returncode}",
    }


def fast_pass(
    todo: list[Mutant],
    cmap: dict | None,  # type: ignore[type-arg]
    jobs: int,
    tmp: Path,
    confirm: bool,
    given: tuple[str, ...] | None = None,
) -> list[Mutant]:
    """Run the mutants that sit inside a function in one pytest process: the tests are
    collected once and each mutant runs in a forked child whose function has the mutant's
    code (`tools/mutate_plugin.py`).  Kills are recorded; the mutants left (survivors, and
    those it cannot run) are returned for the ordinary run, which confirms each survivor in a
    fresh process (a cache the real code filled before the fork can hide a mutant)."""
    eligible: list[tuple[Mutant, Selection]] = []
    rest: list[Mutant] = []
    for m in todo:
        sel = Selection(given, None, 30.0) if given else select(m, "tests", cmap)
        if m.scope and m.scope != "<lambda>" and (sel.only or given):
            eligible.append((m, sel))
        else:
            rest.append(m)
    if not eligible:
        return rest
    out = tmp / "fast.jsonl"
    batch = tmp / "fast.json"
    batch.write_text(
        json.dumps(
            {
                "out": str(out),
                "parallel": max(1, jobs),
                "mutants": [
                    {
                        "id": m.id,
                        "module": m.path.removeprefix("src/").removesuffix(".py").replace("/", "."),
                        "path": m.path,
                        "source": mutated_source(m),
                        "qualname": m.scope,
                        "tests": None if sel.only is None else list(sel.only),
                        "timeout": 60 + 10 * (sel.seconds or 0.0),
                    }
                    for m, sel in eligible
                ],
            }
        ),
        encoding="utf-8",
    )
    files = tuple(dict.fromkeys(f for _, sel in eligible for f in sel.files))
    env = dict(
        os.environ,
        PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tools'}",
        HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"),
    )
    args = [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header"),
        *("-p", "mutate_plugin", f"--mutate-batch={batch}", *files),
    ]
    print(f"fast pass: {len(eligible)} mutants, one collection of {len(files)} files", flush=True)
    by_id = {m.id: m for m, _ in eligible}
    seen: dict[str, dict] = {}  # type: ignore[type-arg]
    controls: dict[str, str] = {}  # test id: its status on the real code
    commit = _commit()
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    pending: dict[str, list[dict]] = {}  # type: ignore[type-arg]  # kills awaiting their control
    left_over: list[Mutant] = []
    read = 0

    def record(rec: dict) -> None:  # type: ignore[type-arg]
        full = {**rec, "key": by_id[rec["id"]].key(), "select": "fast", "commit": commit}
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(json.dumps(full, sort_keys=True) + "\n")

    while True:
        ended = proc.poll() is not None
        lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
        for line in lines[read:]:
            read += 1
            rec = json.loads(line)
            if rec["id"].startswith("control:"):
                test = rec["id"].removeprefix("control:")
                controls[test] = rec["status"]
                for kill in pending.pop(test, []):
                    if rec["status"] == "survived":
                        record(kill)
                    else:
                        left_over.append(by_id[kill["id"]])
                if rec["status"] != "survived":
                    print(
                        f"fast pass: {test} fails on the real code in a child: its kills "
                        "are run again",
                        flush=True,
                    )
                continue
            m = by_id[rec["id"]]
            seen[m.id] = rec
            killer = rec.get("killer", "")
            if rec["status"] == "timeout":
                record(rec)
            elif rec["status"] == "killed" and controls.get(killer) == "survived":
                record(rec)
            elif rec["status"] == "killed" and "::" in killer and killer not in controls:
                pending.setdefault(killer, []).append(rec)
            elif rec["status"] == "survived" and not confirm:
                record(rec)
            else:
                left_over.append(m)
            left = (time.monotonic() - started) / len(seen) * (len(eligible) - len(seen))
            print(
                f"[fast {len(seen)}/{len(eligible)} ~{left / 60:.0f} min left] "
                f"{rec['status']:9} {rec['seconds']:6.1f}s {m.key()}",
                flush=True,
            )
        if ended:
            break
        time.sleep(1)
    left_over += [by_id[k["id"]] for kills in pending.values() for k in kills]
    left_over += [m for m, _ in eligible if m.id not in seen]
    return rest + left_over


# ---------------------------------------------------------------------------------------------
# Results, samples, scores
# ---------------------------------------------------------------------------------------------


def load_results() -> dict[str, dict]:  # type: ignore[type-arg]
    """The latest result of each mutant id."""
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    if RESULTS.exists():
        for line in RESULTS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec["id"]] = rec
    return out


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


def stratified_sample(todo: list[Mutant], n: int, seed: int) -> list[Mutant]:
    """About n mutants, each module's share proportional to its size, at least 5 (or all)."""
    by_path: dict[str, list[Mutant]] = {}
    for m in todo:
        by_path.setdefault(m.path, []).append(m)
    out: list[Mutant] = []
    for path, ms in sorted(by_path.items()):
        k = min(len(ms), max(5, round(n * len(ms) / len(todo))))
        out.extend(random.Random(f"{seed}:{path}").sample(ms, k))
    return sorted(out, key=lambda m: (m.path, m.index))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def report(todo: list[Mutant], population: dict[str, int]) -> int:
    """Per module and overall: killed, survived, equivalent; the score and its 95% interval."""
    results, equivalent = load_results(), equivalent_keys()
    rows: dict[str, list[int]] = {}  # path: [sampled, killed, timeout, survived, eq, missing]
    survivors: list[str] = []
    for m in todo:
        row = rows.setdefault(m.path, [0, 0, 0, 0, 0, 0])
        row[0] += 1
        rec = results.get(m.id)
        if rec is not None and rec["status"] in ("killed", "timeout"):
            row[1 if rec["status"] == "killed" else 2] += 1
        elif m.key() in equivalent:
            row[4] += 1
        elif rec is None or rec["status"] == "error":
            row[5] += 1
        else:
            row[3] += 1
            survivors.append(f"{rec['status']}: {m.key()}")
    head = (
        "| module | mutants | sampled | killed | timeout | survived | equivalent | not run "
        "| score |"
    )
    print(head)
    print("|" + " --- |" * head.count(" | ") + " --- |")
    tot = [0] * 6
    weighted = weight = 0.0
    for path, row in sorted(rows.items()):
        counted = row[1] + row[2] + row[3]
        score = f"{100 * (row[1] + row[2]) / counted:.1f}%" if counted else "-"
        print(
            f"| `{path.removeprefix('src/zonewall/')}` | {population[path]} | "
            + " | ".join(str(v) for v in row)
            + f" | {score} |"
        )
        tot = [a + b for a, b in zip(tot, row, strict=True)]
        if counted:
            share = population[path] * counted / row[0]  # its non-equivalent mutants, estimated
            weighted += share * (row[1] + row[2]) / counted
            weight += share
    counted = tot[1] + tot[2] + tot[3]
    lo, hi = wilson(tot[1] + tot[2], counted)
    score = 100 * (tot[1] + tot[2]) / counted if counted else 100.0
    print(
        f"| all | {sum(population[p] for p in rows)} | "
        + " | ".join(str(v) for v in tot)
        + f" | {score:.1f}% |"
    )
    print(
        f"\nscore {score:.1f}% of {counted} non-equivalent mutants (95% Wilson interval "
        f"{100 * lo:.1f}%-{100 * hi:.1f}%); weighted by module size "
        f"{100 * weighted / weight if weight else 100.0:.1f}%"
    )
    for s in survivors:
        print(f"  {s}")
    return 1 if survivors or tot[5] else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="modules to mutate (default: every target)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--sample", type=int, help="test a random sample of this many mutants")
    ap.add_argument("--stratified", action="store_true", help="sample every module in proportion")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    ap.add_argument("--map", action="store_true", help="make the coverage map, run no mutant")
    ap.add_argument("--report", action="store_true", help="print the recorded scores, run nothing")
    ap.add_argument(
        "--select",
        choices=("tests", "files", "module"),
        default="tests",
        help="the tests each mutant runs (see the module's docstring)",
    )
    ap.add_argument("--timeout", type=float, help="seconds per mutant (default: from the map)")
    ap.add_argument("--rerun-survivors", action="store_true", help="run recorded survivors again")
    ap.add_argument("--rerun", action="store_true", help="run every mutant again")
    ap.add_argument(
        "--key", action="append", default=[], help="only this mutant (`path:line:col: what`)"
    )
    ap.add_argument(
        "--tests",
        nargs="+",
        help="run these test paths instead of the chosen ones (new tests before a new map)",
    )
    ap.add_argument(
        "--confirm",
        action="store_true",
        help="with --fast: run its survivors again in a fresh process (the verdict)",
    )
    ap.add_argument(
        "--fast",
        action="store_true",
        help="first run the mutants inside functions forked from one collection (needs the map)",
    )
    args = ap.parse_args(argv)
    paths = args.paths or sorted(TARGETS)
    unknown = [p for p in paths if p not in TARGETS]
    if unknown:
        ap.error(f"not a target module: {', '.join(unknown)} (see TARGETS)")
    if args.map:
        return make_map(sorted(TARGETS))
    every = {p: mutants(p) for p in paths}
    population = {p: len(ms) for p, ms in every.items()}
    todo = [m for ms in every.values() for m in ms]
    if args.sample is not None and args.sample < len(todo):
        if args.stratified:
            todo = stratified_sample(todo, args.sample, args.seed)
        else:
            todo = sorted(
                random.Random(args.seed).sample(todo, args.sample), key=lambda m: (m.path, m.index)
            )
    if args.key:
        todo = [m for m in todo if m.key() in args.key]
    if args.list:
        print("\n".join(m.key() for m in todo))
        return 0
    # Modules interleaved: an interrupted run has still sampled every module alike.
    todo = sorted(todo, key=lambda m: random.Random(f"{args.seed}:{m.id}").random())
    if args.report:
        return report(todo, population)
    chosen = todo
    cmap = json.loads(MAP.read_text(encoding="utf-8")) if MAP.exists() else None
    if cmap is None and args.select != "module":
        print(
            f"no coverage map ({MAP.relative_to(ROOT)}): every mutant runs its module's list; "
            "`--map` makes one",
            file=sys.stderr,
        )
    done = load_results()
    equivalent = equivalent_keys()
    if not args.rerun:
        todo = [
            m
            for m in todo
            if m.key() not in equivalent
            and (
                m.id not in done
                or done[m.id]["status"] == "error"
                or (args.rerun_survivors and done[m.id]["status"] in ("survived", "uncovered"))
            )
        ]
    print(f"{len(todo)} mutants to run ({len(done)} results recorded)", flush=True)
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="zw-mutate-") as tmp:
        if args.fast and args.tests:  # every mutant against the given files, all their tests
            todo = fast_pass(todo, cmap, args.jobs, Path(tmp), args.confirm, tuple(args.tests))
        elif args.fast and cmap is not None and args.select == "tests":
            todo = fast_pass(todo, cmap, args.jobs, Path(tmp), args.confirm)
            print(f"{len(todo)} mutants left for a run each", flush=True)
        dirs = [Path(tmp) / str(i) for i in range(max(1, args.jobs))]
        for d in dirs:
            shutil.copytree(ROOT / "src", d / "src")
        free = list(dirs)

        def job(m: Mutant) -> dict:  # type: ignore[type-arg]
            with lock:
                d = free.pop()
            try:
                sel = (
                    Selection(tuple(args.tests), None, None)
                    if args.tests
                    else select(m, args.select, cmap)
                )
                rec = run_one(m, d, sel, args.timeout)
            finally:
                with lock:
                    free.append(d)
            rec["select"] = "given" if args.tests else args.select
            rec["commit"] = _commit()
            with lock, RESULTS.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
            return rec

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(dirs)) as pool:
            for i, rec in enumerate(pool.map(job, todo), 1):
                left = (time.monotonic() - started) / i * (len(todo) - i)
                print(
                    f"[{i}/{len(todo)} ~{left / 60:.0f} min left] {rec['status']:9} "
                    f"{rec['seconds']:6.1f}s {rec['key']}",
                    flush=True,
                )
    return report(chosen, population)


if __name__ == "__main__":
    sys.exit(main())
