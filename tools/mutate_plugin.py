"""pytest plugin for `tools/mutate.py` (loaded with `-p mutate_plugin`, `tools/` on the path).

Two modes:

- `--mutate-map=FILE`: run the tests under `coverage` and write, for each target module, which
  tests execute which lines (`{"files": {path: {line: [test ids]}}, "durations": {id: s}}`).
  Each test's setup, call and teardown are recorded under its node id; lines run while no test
  runs (imports during collection) are recorded under "".
- `--mutate-only=FILE`: run only the tests whose node ids FILE lists (one a line), in that order
  (the mutation script lists the fastest first, so a killed mutant dies early).
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MEMORY = 3 << 30  # bytes a mutant's child may map: a mutant that runs away fails its test


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mutate")
    group.addoption("--mutate-map", help="record which tests run which lines of the targets")
    group.addoption("--mutate-targets", help="comma-separated target modules (for --mutate-map)")
    group.addoption("--mutate-only", help="run only the test ids this file lists, in its order")
    group.addoption("--mutate-batch", help="run the mutants this JSON file lists, forked")


class _Recorder:
    def __init__(self, out: Path, targets: list[str]) -> None:
        import coverage  # only the map needs it

        self.out, self.targets = out, targets
        self.cov = coverage.Coverage(
            data_file=None,
            include=[str(ROOT / t) for t in targets],
            branch=False,
            config_file=False,
        )
        self.durations: dict[str, float] = {}
        self.cov.start()
        self.cov.switch_context("")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.cov.switch_context(item.nodeid)
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            self.durations[item.nodeid] = round(time.perf_counter() - start, 3)
            self.cov.switch_context("")

    def pytest_sessionfinish(self) -> None:
        self.cov.stop()
        data = self.cov.get_data()
        files: dict[str, dict[int, list[str]]] = {}
        for target in self.targets:
            path = str(ROOT / target)
            if path not in data.measured_files():
                files[target] = {}
                continue
            by_line = data.contexts_by_lineno(path)
            files[target] = {line: sorted(set(ctx)) for line, ctx in sorted(by_line.items())}
        self.out.write_text(
            json.dumps({"files": files, "durations": self.durations}, sort_keys=True),
            encoding="utf-8",
        )


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("--mutate-map")
    if out:
        targets = (config.getoption("--mutate-targets") or "").split(",")
        config.pluginmanager.register(_Recorder(Path(out), [t for t in targets if t]))
    batch = config.getoption("--mutate-batch")
    if batch:
        config.pluginmanager.register(_FastRunner(Path(batch)), "mutate-fast")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only = config.getoption("--mutate-only")
    if not only:
        return
    order = {
        line: i
        for i, line in enumerate(Path(only).read_text(encoding="utf-8").splitlines())
        if line
    }
    kept = sorted((it for it in items if it.nodeid in order), key=lambda it: order[it.nodeid])
    deselected = [it for it in items if it.nodeid not in order]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = kept


# ---------------------------------------------------------------------------------------------
# Fast pass: one collection, one forked child per mutant
# ---------------------------------------------------------------------------------------------


def _function(module: Any, qualname: str) -> Any:
    """The function object `qualname` names in `module` (through properties, static and class
    methods and cache wrappers), or None."""
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, "__dict__", {}).get(part)
        if obj is None:
            return None
        if isinstance(obj, property):
            obj = obj.fget
        elif isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        while hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
    return obj if hasattr(obj, "__code__") else None


def _clear_caches() -> None:
    """Empty every functools cache of zonewall's modules (filled by the real code)."""
    import sys

    for name, module in list(sys.modules.items()):
        if name == "zonewall" or name.startswith("zonewall."):
            for value in list(vars(module).values()):
                for obj in (value, *vars(value).values()) if isinstance(value, type) else (value,):
                    clear = getattr(obj, "cache_clear", None)
                    if callable(clear):
                        clear()


def _swap(job: dict[str, Any]) -> bool:
    """Give the real function the mutated function's code; False when that cannot be done."""
    import importlib
    import types

    module = importlib.import_module(job["module"])
    fresh = types.ModuleType(job["module"])
    fresh.__dict__.update(__name__=job["module"], __package__=module.__package__)
    fresh.__file__ = module.__file__
    exec(compile(job["source"], str(ROOT / job["path"]), "exec"), fresh.__dict__)
    old, new = _function(module, job["qualname"]), _function(fresh, job["qualname"])
    if old is None or new is None or old.__code__.co_freevars != new.__code__.co_freevars:
        return False
    old.__code__ = new.__code__
    old.__defaults__, old.__kwdefaults__ = new.__defaults__, new.__kwdefaults__
    _clear_caches()
    return True


class _FastRunner:
    """Runs a batch of mutants: the tests are collected once; each mutant runs in a child of
    this process whose one function has the mutant's code, its tests in order, stopping at the
    first failure.  Results (one JSON object a line) go to the batch's `out` file."""

    def __init__(self, batch: Path) -> None:
        spec = json.loads(batch.read_text(encoding="utf-8"))
        self.jobs: list[dict[str, Any]] = spec["mutants"]
        self.out = Path(spec["out"])
        self.parallel: int = spec.get("parallel", 1)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        import os
        import resource
        import signal

        by_id = {item.nodeid: item for item in session.items}
        running: dict[int, tuple[dict[str, Any], float, Path]] = {}
        queue = list(self.jobs)
        tmp = self.out.parent

        def finish(pid: int, status: int) -> None:
            job, started, note = running.pop(pid)
            seconds = round(time.monotonic() - started, 1)
            code = os.waitstatus_to_exitcode(status)
            rec: dict[str, Any] = {"id": job["id"], "seconds": seconds}
            if code == 0:
                rec["status"] = "survived"
            elif code == 1:
                rec["status"] = "killed"
                rec["killer"] = note.read_text(encoding="utf-8") if note.exists() else ""
            elif code == 3:
                rec["status"] = "skipped"  # the swap could not be made: run it the slow way
            elif code == -signal.SIGKILL and job.get("timed_out"):
                rec["status"] = "timeout"
            else:
                rec["status"] = "killed"  # the child crashed: the mutant broke the process
                rec["killer"] = f"exit {code}"
            note.unlink(missing_ok=True)
            killer = rec.get("killer", "")
            if "::" in killer and killer not in killers:
                # A control: the test that killed a mutant, run alone in a child on the real
                # code, must pass there (else its kills say nothing about the mutants).
                killers.add(killer)
                control = {"module": None, "tests": [killer], "timeout": 600}
                queue.insert(0, {**control, "id": f"control:{killer}"})
            with self.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")

        killers: set[str] = set()
        while queue or running:
            while queue and len(running) < self.parallel:
                job = queue.pop(0)
                items = (
                    list(session.items)  # every test collected (the files given to the run)
                    if job["tests"] is None
                    else [by_id[t] for t in job["tests"] if t in by_id]
                )
                note = tmp / f"killer-{os.getpid()}-{len(queue)}.txt"
                pid = os.fork()
                if pid == 0:  # the child: never returns
                    code = 2
                    try:
                        _die_with_parent()
                        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
                        null = os.open(os.devnull, os.O_WRONLY)
                        os.dup2(null, 1)
                        os.dup2(null, 2)
                        code = 0 if job["module"] is None or _swap(job) else 3
                        if code == 0:
                            code = _run_items(session, items, note)
                    finally:
                        os._exit(code)
                running[pid] = (job, time.monotonic(), note)
            deadline_hit = False
            for pid, (job, started, _) in list(running.items()):
                if time.monotonic() - started > job["timeout"]:
                    job["timed_out"] = True
                    os.kill(pid, signal.SIGKILL)
                    deadline_hit = True
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.05 if not deadline_hit else 0)
                continue
            finish(pid, status)
        return True


def _die_with_parent() -> None:
    """Linux: the child is killed when the runner dies (an interrupted run leaves none)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_items(session: pytest.Session, items: list[pytest.Item], note: Path) -> int:
    class Stop:
        failed: str | None = None

        @staticmethod
        def pytest_runtest_logreport(report: pytest.TestReport) -> None:
            if report.failed and Stop.failed is None:
                Stop.failed = report.nodeid

    session.config.pluginmanager.register(Stop(), "mutate-stop")
    for i, item in enumerate(items):
        nxt = items[i + 1] if i + 1 < len(items) else None
        item.ihook.pytest_runtest_protocol(item=item, nextitem=nxt)
        if Stop.failed is not None:
            note.write_text(Stop.failed, encoding="utf-8")
            return 1
    return 0
