"""`tools/mutate.py`, the mutation script: where a mutant sits, which tests it runs, samples and
the score's interval.  (Running mutants is slow and is not done here.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

SOURCE = """\
TABLE = {"a": 1}


def f(x, y=2):
    if x > 1:
        return x + y
    return g(x)


class C:
    limit = 3

    def m(self):
        return [x for x in range(4) if x != 2]

    @property
    def p(self):
        def inner():
            return True
        return inner()
"""


@pytest.fixture(scope="module")
def mutate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zw_mutate_tool", ROOT / "tools" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def module_mutants(mutate: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list:  # type: ignore[type-arg]
    (tmp_path / "m.py").write_text(SOURCE, encoding="utf-8")
    monkeypatch.setattr(mutate, "ROOT", tmp_path)
    return list(mutate.mutants("m.py"))


def test_each_mutant_knows_its_statement_and_function(module_mutants: list) -> None:  # type: ignore[type-arg]
    where = {(m.line, m.what): (m.lines, m.runtime, m.scope) for m in module_mutants}
    assert where[(1, "1 -> 2")] == ((1, 1), False, "")  # a table: runs at import
    assert where[(4, "2 -> 3")] == ((4, 4), False, "")  # a default: runs at import
    assert where[(5, "Gt -> GtE")] == ((5, 5), True, "f")  # an if's header
    assert where[(6, "+ -> -")] == ((6, 6), True, "f")
    assert where[(11, "3 -> 4")] == ((11, 11), False, "")  # a class body
    assert where[(14, "NotEq -> Eq")] == ((14, 14), True, "C.m")
    assert where[(19, "True -> False")] == ((19, 19), True, "C.p")  # the outermost function


def test_tests_are_chosen_by_the_lines_of_the_mutant_statement(
    mutate: ModuleType,
    module_mutants: list,  # type: ignore[type-arg]
) -> None:
    m = next(m for m in module_mutants if m.line == 6)
    table = next(m for m in module_mutants if m.line == 1)
    cmap = {
        "digests": {"m.py": m.digest},
        "files": {"m.py": {"1": [""], "6": ["t.py::slow", "t.py::fast"], "7": ["t.py::other"]}},
        "durations": {"t.py::slow": 2.0, "t.py::fast": 0.1, "t.py::other": 1.0, "u.py::x": 1},
    }
    mutate.TARGETS["m.py"] = ("t.py", "u.py")
    try:
        sel = mutate.select(m, "tests", cmap)
        assert sel.only == ("t.py::fast", "t.py::slow") and sel.files == ("t.py",)
        assert sel.seconds == pytest.approx(2.1)
        assert mutate.select(m, "files", cmap).only == ("t.py::fast", "t.py::other", "t.py::slow")
        assert mutate.select(m, "module", cmap).only is None  # the module's whole list
        assert mutate.select(table, "tests", cmap).only is None  # import time: whole list
        uncovered = next(m for m in module_mutants if m.line == 14)
        assert mutate.select(uncovered, "tests", cmap).only == ()
        stale = {**cmap, "digests": {"m.py": "0" * 12}}
        assert mutate.select(m, "tests", stale).only is None  # the module changed since
    finally:
        del mutate.TARGETS["m.py"]


def test_a_stratified_sample_draws_from_every_module_in_proportion(mutate: ModuleType) -> None:
    todo = [
        mutate.Mutant(p, "d", i, i, 1, "x", (i, i), True, "f")
        for p, n in (("a.py", 900), ("b.py", 90), ("c.py", 10))
        for i in range(n)
    ]
    sample = mutate.stratified_sample(todo, 100, 1)
    counts = {p: sum(m.path == p for m in sample) for p in ("a.py", "b.py", "c.py")}
    assert counts == {"a.py": 90, "b.py": 9, "c.py": 5}  # at least five of each module
    assert sample == mutate.stratified_sample(todo, 100, 1)  # reproducible
    assert sample != mutate.stratified_sample(todo, 100, 2)


def test_the_score_interval_is_wilsons(mutate: ModuleType) -> None:
    lo, hi = mutate.wilson(97, 100)
    assert round(lo, 4) == 0.9155 and round(hi, 4) == 0.9897
    assert mutate.wilson(10, 10)[1] == 1.0 and mutate.wilson(10, 10)[0] < 1.0
