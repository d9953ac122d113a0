"""Benchmarks: zonewall phase by phase, side by side with Aerleon, on generated estates.

    python benchmarks/run.py                        # 300x1000, 300x5000, 300x10000, once each
    python benchmarks/run.py --compare-aerleon      # the same, failing if Aerleon is missing
    python benchmarks/run.py --sizes 300x1000@3,300x10000@3,1000x20000x100 --cli --heap
    python benchmarks/run.py --compare-aerleon --sizes '' --single-gateway 300x10000@3

A size is CLASSESxALLOWS[xASSERTIONS][@REPEAT].  For each size, `generate.py` writes one
estate as a zonewall policy and as the equivalent Aerleon policy + definitions, then:

* zonewall, in process, in a fresh interpreter per repeat: every phase timed separately by
  wrapping the phase functions `compile_policy` calls (parse, resolve, allocate, endpoints,
  flows, redundant, graph, assertions, lints), then every gateway lowered, rendered and
  translation-validated (`zonewall.build.translation_problem`, as `build` does) by BOTH the
  iptables and the cisco-ios backend, then the VLAN plan and the atomic writes.  Aerleon
  renders the whole policy for both targets, so zonewall does too: the runner swaps each
  gateway's platform in the compiled policy.  The IOS per-ACL budget (E401) is lifted so that
  estates where an ACL outgrows it are still measured; the overruns are counted and reported.
  Phases are exclusive: a nested phase (allocate inside resolve) is not counted in its parent.
* Aerleon, in process, in a fresh interpreter per repeat: the steps `aclgen` takes for one
  policy file (definitions, parse, iptables, cisco, write), timed the same way.
* Aerleon's Cisco ACL is then held to the policy by zonewall's IOS evaluator
  (`aerleon_check.py`: every endpoint probe pair, exactly the policy's flows), so that the ACE
  counts compare outputs that permit the same flows (untimed).
* `--cli`: both command lines once (`python -m zonewall build`, `python -m aerleon` = aclgen),
  wall time and peak RSS from `wait4`, interpreter start-up included.  zonewall's command
  builds the estate as generated, whose gateways alternate iptables / cisco-ios, so it renders
  each gateway for one platform only: less backend work than the in-process "full" figure.
* `--single-gateway SIZES` (issue #18): the estate with ONE gateway serving every class (the
  usual layout of a hospital's core firewall or L3 distribution switch; `generate.py
  --gateways 1`), written once with an iptables gateway and once with a cisco-ios gateway
  with object groups.  `python -m zonewall build` of each, as a user runs it (fresh process,
  every proof on, the workers the machine's CPUs allow), against `python -m aerleon`
  generating iptables and Cisco from the Aerleon twin; every repeat runs the three commands
  (in alternating order, so that a change in the machine's load hits both tools), and the
  speed-up is the median of aclgen over the median of the two builds' sum, wall and CPU (user +
  system of the process and its workers, from `wait4`).  Measured before the other sizes.
* `--heap`: one more zonewall run under tracemalloc, for each phase's peak Python heap (it is
  several times slower, so its times are not used).

Times are medians over the repeats, wall clock and CPU (`time.process_time`, which a busy
machine disturbs less); peak RSS is the maximum.  Output size is counted the same way for both
tools: iptables rules are lines starting with `-A `, Cisco ACEs are `permit`/`deny` lines.
Results go to a Markdown report on stdout and to `benchmarks/results.json`.  Aerleon is
optional (`pip install .[bench]`); without it only zonewall is measured.  The src/ tree next
to this file is what gets measured (it is put first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
DEFAULT_SIZES = "300x1000,300x5000,300x10000"
ACE = re.compile(r"^\s*(?:\d+\s+)?(?:permit|deny)\s", re.MULTILINE)
IPT_RULE = re.compile(r"^-A ", re.MULTILINE)

# Display order and labels.  "dead/redundant" = flows + redundant + lints (the effective-flow
# computation is where dead allows are found; lints turns findings into warnings).
ZW_PHASES = [
    ("import", "import zonewall"),
    ("parse", "parse"),
    ("resolve", "resolve (names, services, selectors, gateways)"),
    ("allocate", "allocate (subnets, VLANs)"),
    ("endpoints", "endpoints (external atoms, members)"),
    ("flows", "flows (effective flows, dead allows)"),
    ("redundant", "redundant allows (segment sweep)"),
    ("graph", "flow graph (networkx)"),
    ("assertions", "assertions (proofs)"),
    ("lints", "lints"),
    ("compile-other", "compile: rest of compile_policy"),
    ("views", "gateway views (per-gateway permits)"),
    ("iptables-check", "iptables: check"),
    ("iptables-lower", "iptables: lower"),
    ("iptables-render", "iptables: render (jinja2)"),
    ("iptables-validate", "iptables: translation validation"),
    ("cisco-ios-check", "cisco-ios: check"),
    ("cisco-ios-lower", "cisco-ios: lower"),
    ("cisco-ios-render", "cisco-ios: render (jinja2)"),
    ("cisco-ios-validate", "cisco-ios: translation validation"),
    ("vlan-plan", "VLAN plan + switch configs"),
    ("write", "write files + manifest"),
]
AER_PHASES = [
    ("import", "import aerleon"),
    ("definitions", "definitions (naming)"),
    ("parse", "parse policy (YAML -> terms)"),
    ("plugins", "load generators"),
    ("iptables", "iptables generator"),
    ("cisco", "cisco generator"),
    ("write", "write files"),
]
TARGET_PLATFORMS = ("iptables", "cisco-ios")


# --------------------------------------------------------------------------------------------
# Measuring inside a worker process


class Meter:
    """Exclusive wall time per phase (nested phases are subtracted from their parent), the
    process's RSS high-water mark after each phase and, under tracemalloc, the peak heap."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.rss_after: dict[str, float] = {}
        self.heap_peak: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list[Any]] = []  # [name, start, child_wall, peak, cpu0, child_cpu]
        if trace:
            tracemalloc.start()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self.trace:
            current, peak = tracemalloc.get_traced_memory()
            if self._stack:
                self._stack[-1][3] = max(self._stack[-1][3], peak)
            tracemalloc.reset_peak()
        else:
            current = 0
        frame = [name, time.perf_counter(), 0.0, current, time.process_time(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - frame[1]
            cpu = time.process_time() - frame[4]
            self._stack.pop()
            if self._stack:
                self._stack[-1][2] += elapsed
                self._stack[-1][5] += cpu
            self.wall[name] = self.wall.get(name, 0.0) + elapsed - frame[2]
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu - frame[5]
            self.calls[name] = self.calls.get(name, 0) + 1
            self.rss_after[name] = _maxrss_mib(resource.getrusage(resource.RUSAGE_SELF))
            if self.trace:
                frame[3] = max(frame[3], tracemalloc.get_traced_memory()[1])
                self.heap_peak[name] = max(self.heap_peak.get(name, 0.0), frame[3] / 2**20)
                if self._stack:
                    self._stack[-1][3] = max(self._stack[-1][3], frame[3])

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        return timed

    def result(self) -> dict[str, Any]:
        return {
            "wall": self.wall,
            "cpu": self.cpu,
            "rss_after_mib": self.rss_after,
            "heap_peak_mib": self.heap_peak,
            "calls": self.calls,
            "peak_rss_mib": _maxrss_mib(resource.getrusage(resource.RUSAGE_SELF)),
        }


def _maxrss_mib(usage: Any) -> float:
    return float(usage.ru_maxrss) / 1024.0  # Linux reports KiB


def zonewall_worker(estate: Path, outdir: Path, trace: bool) -> dict[str, Any]:
    """One zonewall build of `estate`, every phase timed; both backends on every gateway."""
    import gc

    # The collector thresholds `zonewall` sets for a command (cli._few_full_collections):
    # full collections of the millions of long-lived objects of a large policy are rare.
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1000)
    m = Meter(trace)
    with m.phase("import"):
        import dataclasses

        from zonewall import build as zbuild
        from zonewall.backends import get_backend
        from zonewall.backends.base import Feature, gateway_view

        try:
            from zonewall.backends.cisco_ios.backend import CiscoIosBackend
        except ImportError:  # a tree from before the cisco_ios package (issue 17)
            from zonewall.backends.cisco_ios import CiscoIosBackend  # type: ignore[no-redef]
        from zonewall.backends.vlan_plan import vlan_plan
        from zonewall.compiler import flows as zflows
        from zonewall.compiler import pipeline
        from zonewall.diagnostics import Diagnostic, Severity, sort_diagnostics
        from zonewall.dsl.parser import parse_file
        from zonewall.report import CheckReport

        class UnboundedIos(CiscoIosBackend):
            """The real backend with the per-ACL budget (E401) lifted, so that estates where
            one ACL outgrows it still measure the whole build; the overruns are counted."""

            ace_budget = sys.maxsize

        backends = {p: get_backend(p) for p in TARGET_PLATFORMS}
        backends["cisco-ios"] = UnboundedIos()
        budget = CiscoIosBackend.ace_budget
    # The phases compile_policy runs, wrapped where it looks them up (module globals), so the
    # real pipeline runs unchanged and a renamed phase fails loudly here.
    for attr, name in (
        ("_resolve", "resolve"),
        ("allocate", "allocate"),
        ("_classes", "endpoints"),
        ("build_endpoints", "endpoints"),
        ("_members", "endpoints"),
        ("compute_flows", "flows"),
        ("_prove", "assertions"),
        ("build_graph", "graph"),
        ("lint", "lints"),
    ):
        setattr(pipeline, attr, m.wrap(name, getattr(pipeline, attr)))
    zflows._redundant = m.wrap("redundant", zflows._redundant)  # type: ignore[attr-defined]

    path = str(estate / "estate.zw")
    with m.phase("parse"):
        parsed = parse_file(path)
    with m.phase("compile-other"):
        result = pipeline.compile_policy(parsed.policy)
        diags = sort_diagnostics(parsed.diagnostics + result.diagnostics)
    errors = [d for d in diags if d.is_error]
    if result.compiled is None or errors:
        raise SystemExit(f"zonewall reported errors: {errors[:3]}")
    compiled = result.compiled
    report = CheckReport(path, diags, compiled.assertions, parsed.sources, compiled)

    outputs: list[Any] = []
    variants = {
        p: dataclasses.replace(
            compiled,
            gateways=tuple(
                dataclasses.replace(
                    g, platform=p, uplink=_uplink(p), object_groups=p == "cisco-ios"
                )
                for g in compiled.gateways
            ),
        )
        for p in TARGET_PLATFORMS
    }
    extra: list[Diagnostic] = []
    over_budget = 0
    invalid: list[str] = []
    # translation validation, as `build` runs it on every rendered config (absent before it
    # existed; then the phase is simply not reported)
    validate = getattr(zbuild, "translation_problem", None)
    for plan in compiled.gateways:
        with m.phase("views"):
            view = gateway_view(compiled, plan.name)  # the same permits whatever the platform
        for p in TARGET_PLATFORMS:
            backend = backends[p]
            vplan = next(g for g in variants[p].gateways if g.name == plan.name)
            pview = dataclasses.replace(view, plan=vplan)
            with m.phase(f"{p}-check"):
                problems = backend.check(variants[p], pview)
                if Feature.STATEFUL not in backend.supports:
                    problems.append(Diagnostic(Severity.WARNING, "W113", "stateless", plan.span))
            if any(d.is_error for d in problems):
                raise SystemExit(f"{p} cannot express the estate: {problems[:3]}")
            extra.extend(problems)
            with m.phase(f"{p}-lower"):
                # `lower` returns the model with its diagnostics (`Lowered`) since issue 17;
                # before, cisco-ios lowered in `check` and `lower` raised on an error
                lowered = backend.lower(variants[p], pview)
                model = lowered.unwrap() if hasattr(lowered, "unwrap") else lowered
            with m.phase(f"{p}-render"):
                files = backend.render(model)
            if validate is not None:
                with m.phase(f"{p}-validate"):
                    for fpath, text in sorted(files.items()):
                        verifier = getattr(zbuild, "COMPANION_VERIFIER", {}).get(
                            backend.output_kind(fpath), p
                        )
                        problem = validate(variants[p], vplan, fpath, text, verifier)
                        if problem is not None:
                            invalid.append(f"{problem.code} {problem.message}")
            count = backend.rule_count(model)
            if p == "cisco-ios":
                over_budget += sum(1 for acl in model.acls if len(acl.aces) > budget)
            for fpath, text in sorted(files.items()):
                outputs.append(zbuild.Output(fpath, text, plan.name, p, "config", count))
    with m.phase("vlan-plan"):
        switch_of = {
            f"{g.name}-switch.ios": g.name for g in compiled.gateways if g.platform == "cisco-ios"
        }
        for fpath, text in sorted(vlan_plan(compiled).items()):
            gw = switch_of.get(str(fpath))
            kind = "vlan-plan" if gw is None else "switch-config"
            outputs.append(zbuild.Output(fpath, text, gw, "cisco-ios" if gw else None, kind, None))
    with m.phase("write"):
        zbuild._write(outdir, outputs, zbuild.manifest(report, outputs))  # noqa: SLF001

    out = m.result()
    out["outputs"] = _zonewall_sizes(outputs)
    out["outputs"]["cisco_acls_over_budget"] = over_budget
    out["validation"] = {
        "present": validate is not None,
        "problems": invalid[:20],
        "problem_count": len(invalid),
    }
    out["diagnostics"] = _diag_counts(diags)
    return out


def _uplink(platform_name: str) -> str:
    return "TenGigabitEthernet1/1/1" if platform_name == "cisco-ios" else "eth0"


def _zonewall_sizes(outputs: list[Any]) -> dict[str, int]:
    configs = [o for o in outputs if o.kind == "config"]
    return {
        "iptables_rules": sum(
            len(IPT_RULE.findall(o.text)) for o in configs if o.platform == "iptables"
        ),
        "cisco_aces": sum(len(ACE.findall(o.text)) for o in configs if o.platform == "cisco-ios"),
        "iptables_rule_count": sum(o.rules for o in configs if o.platform == "iptables"),
        "cisco_rule_count": sum(o.rules for o in configs if o.platform == "cisco-ios"),
        "bytes": sum(len(o.text.encode()) for o in outputs),
    }


def _diag_counts(diags: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in diags:
        counts[d.code] = counts.get(d.code, 0) + 1
    return dict(sorted(counts.items()))


def aerleon_worker(estate: Path, outdir: Path, trace: bool) -> dict[str, Any]:
    """What `aclgen` does for one policy file, each step timed."""
    m = Meter(trace)
    with m.phase("import"):
        import copy
        import logging as pylogging

        from absl import logging as alogging
        from aerleon.lib import naming, plugin_supervisor
        from aerleon.lib import yaml as ayaml

        alogging.set_verbosity(alogging.WARNING)
        pylogging.getLogger("absl").setLevel(pylogging.ERROR)
    base = estate / "aerleon" / "policies"
    policy_file = base / "pol" / "estate.yaml"
    with m.phase("definitions"):
        defs = naming.Naming(str(estate / "aerleon" / "def"))
    with m.phase("parse"):
        pol = ayaml.ParsePolicy(
            policy_file.read_text(encoding="utf-8"),
            filename=policy_file,
            base_dir=str(base),
            definitions=defs,
            optimize=False,
            shade_check=False,
        )
    with m.phase("plugins"):
        supervisor = plugin_supervisor.PluginSupervisor
        supervisor.Start()
    texts: dict[str, str] = {}
    for target in ("iptables", "cisco"):
        with m.phase(target):
            generator = supervisor.generators[target]
            acl = generator(copy.deepcopy(pol), 2)
            texts[target] = str(acl)
            suffix = acl.SUFFIX
        texts[target + ":name"] = policy_file.with_suffix(suffix).name
    with m.phase("write"):
        outdir.mkdir(parents=True, exist_ok=True)
        for target in ("iptables", "cisco"):
            (outdir / texts[target + ":name"]).write_text(texts[target])
    out = m.result()
    out["outputs"] = {
        "iptables_rules": len(IPT_RULE.findall(texts["iptables"])),
        "cisco_aces": len(ACE.findall(texts["cisco"])),
        "bytes": len(texts["iptables"].encode()) + len(texts["cisco"].encode()),
    }
    return out


# --------------------------------------------------------------------------------------------
# The driver


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_measured(cmd: list[str], timeout: float = 3600) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB of that child alone, exit code, stderr)."""
    wall, _, rss, code, stderr = run_timed(cmd, timeout)
    return wall, rss, code, stderr


def run_timed(cmd: list[str], timeout: float = 3600) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS MiB, exit code, stderr) of one command.  CPU is
    user + system time of the child and of the processes it waited for (its workers); peak
    RSS is the largest of those processes, not their sum."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child only
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, _maxrss_mib(usage), proc.returncode, stderr


def run_worker(tool: str, estate: Path, outdir: Path, trace: bool) -> dict[str, Any]:
    result_file = outdir.parent / f".{tool}-result.json"
    shutil.rmtree(outdir, ignore_errors=True)  # every run builds into an empty directory
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        tool,
        "--estate",
        str(estate),
        "--outdir",
        str(outdir),
        "--result",
        str(result_file),
    ]
    if trace:
        cmd.append("--trace")
    wall, rss, code, tail = run_measured(cmd)
    if code != 0:
        raise RuntimeError(f"{tool} worker failed ({code}):\n{tail[-3000:]}")
    data: dict[str, Any] = json.loads(result_file.read_text())
    result_file.unlink()
    data["process_wall"] = wall
    data["process_rss_mib"] = rss
    return data


def summarise(runs: list[dict[str, Any]], traced: dict[str, Any] | None) -> dict[str, Any]:
    names = sorted({n for r in runs for n in r["wall"]})
    phases = {}
    for n in names:
        walls = [r["wall"].get(n, 0.0) for r in runs]
        phases[n] = {
            "median_s": statistics.median(walls),
            "runs_s": walls,
            "median_cpu_s": statistics.median(r["cpu"].get(n, 0.0) for r in runs),
            "rss_after_mib": max(r["rss_after_mib"].get(n, 0.0) for r in runs),
            "heap_peak_mib": (traced or {}).get("heap_peak_mib", {}).get(n),
        }
    totals = [sum(r["wall"].values()) for r in runs]
    cpu = [sum(r["cpu"].values()) for r in runs]
    return {
        "phases": phases,
        "total_s": statistics.median(totals),
        "totals_s": totals,
        "total_cpu_s": statistics.median(cpu),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "outputs": runs[-1]["outputs"],
        "diagnostics": runs[-1].get("diagnostics"),
        "validation": runs[-1].get("validation"),
    }


def parse_size(text: str, asserts: int, repeat: int) -> tuple[int, int, int, int]:
    """CLASSESxALLOWS[xASSERTIONS][@REPEAT] -> (classes, allows, assertions, repeat)."""
    shape, _, times = text.strip().lower().partition("@")
    try:
        parts = [int(p) for p in shape.split("x")]
        count = int(times) if times else repeat
    except ValueError:
        parts, count = [], 0
    if len(parts) not in (2, 3) or count < 1:
        raise SystemExit(f"size {text!r} is not CLASSESxALLOWS[xASSERTIONS][@REPEAT]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else asserts, count


def measure_size(
    size: tuple[int, int, int, int], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import generate

    classes, allows, asserts, repeat = size
    label = f"{classes}x{allows}x{asserts}"
    where = workdir / label
    estate = generate.build_estate(
        classes,
        allows,
        args.denies,
        asserts,
        args.gateways,
        args.seed,
        tuple(args.platforms.split(",")),
    )
    t0 = time.perf_counter()
    generate.write_estate(estate, where)
    meta = json.loads((where / "estate.json").read_text())
    entry: dict[str, Any] = {
        "size": label,
        "classes": classes,
        "allows": allows,
        "asserts": asserts,
        "estate": meta,
        "generate_s": time.perf_counter() - t0,
        "repeat": repeat,
        "loadavg_before": os.getloadavg(),
    }
    _say(
        f"[{label}] estate written in {entry['generate_s']:.1f}s: "
        f"{meta['allow_statements']} allows, {meta['deny_statements']} denies, "
        f"{meta['aerleon_terms']} Aerleon terms"
    )

    runs = []
    for i in range(repeat):
        runs.append(run_worker("zonewall", where, where / "zw-out", False))
        _say(
            f"[{label}] zonewall run {i + 1}/{repeat}: "
            f"{sum(runs[-1]['wall'].values()):.2f}s, {runs[-1]['peak_rss_mib']:.0f} MiB"
        )
    traced = None
    if args.heap:
        traced = run_worker("zonewall", where, where / "zw-out", True)
        _say(f"[{label}] zonewall run under tracemalloc (peak heap per phase) done")
    entry["zonewall"] = summarise(runs, traced)
    if args.cli:
        wall, rss, code, tail = run_measured(
            [
                sys.executable,
                "-m",
                "zonewall",
                "build",
                str(where / "estate.zw"),
                "-o",
                str(where / "zw-cli-out"),
            ]
        )
        errors = sorted(set(re.findall(r"error\[(E\d+)\]", tail)))
        if code not in (0, 1) or (code == 1 and not errors):
            raise RuntimeError(f"zonewall build failed ({code}):\n{tail[-3000:]}")
        entry["zonewall_cli"] = {
            "wall_s": wall,
            "peak_rss_mib": rss,
            "exit": code,
            "errors": errors,
            "outputs": _manifest_sizes(where / "zw-cli-out") if code == 0 else None,
        }
        verdict = "built" if code == 0 else f"refused ({', '.join(errors)})"
        _say(f"[{label}] zonewall build (CLI): {verdict}, {wall:.2f}s, {rss:.0f} MiB")

    if args.aerleon:
        aruns = []
        for i in range(repeat):
            aruns.append(run_worker("aerleon", where, where / "aer-out", False))
            _say(
                f"[{label}] aerleon run {i + 1}/{repeat}: "
                f"{sum(aruns[-1]['wall'].values()):.2f}s, {aruns[-1]['peak_rss_mib']:.0f} MiB"
            )
        entry["aerleon"] = summarise(aruns, None)
        if args.cli:
            base = where / "aerleon" / "policies"
            wall, rss, code, tail = run_measured(
                [
                    sys.executable,
                    "-m",
                    "aerleon",
                    "--base_directory",
                    str(base),
                    "--definitions_directory",
                    str(where / "aerleon" / "def"),
                    "--policy_file",
                    str(base / "pol" / "estate.yaml"),
                    "--output_directory",
                    str(where / "aer-cli-out"),
                ]
            )
            if code != 0:
                raise RuntimeError(f"aclgen failed ({code}):\n{tail[-3000:]}")
            entry["aerleon_cli"] = {"wall_s": wall, "peak_rss_mib": rss}
            _say(f"[{label}] aclgen (CLI): {wall:.2f}s, {rss:.0f} MiB")
        acl = where / "aer-out" / "estate.acl"
        sys.path.insert(0, str(SRC))
        import aerleon_check

        same = aerleon_check.check(where / "estate.zw", acl.read_text(encoding="utf-8"))
        entry["aerleon_flows"] = {
            "pairs": same.pairs,
            "identical": same.identical,
            "mismatches": same.mismatches,
        }
        _say(
            f"[{label}] Aerleon's Cisco ACL against the policy ({same.pairs} address pairs, "
            f"zonewall's IOS evaluator): {'same flows' if same.identical else 'DIFFERENT'}"
        )
        zw, ae = entry["zonewall"], entry["aerleon"]
        entry["ratio"] = ae["total_s"] / zw["total_s"]
        entry["ratio_cpu"] = ae["total_cpu_s"] / zw["total_cpu_s"]
        entry["ace_ratio"] = (
            zw["outputs"]["cisco_aces"] / ae["outputs"]["cisco_aces"]
            if ae["outputs"]["cisco_aces"]
            else None
        )
        entry["iptables_ratio"] = (
            zw["outputs"]["iptables_rules"] / ae["outputs"]["iptables_rules"]
            if ae["outputs"]["iptables_rules"]
            else None
        )
    entry["loadavg_after"] = os.getloadavg()
    if not args.keep:
        shutil.rmtree(where, ignore_errors=True)
    return entry


# The layout of issue #18: one gateway serves every class (a hospital's core firewall or L3
# distribution switch), built once for iptables and once for cisco-ios with object groups.
SINGLE_PLATFORMS = ("iptables", "cisco-ios")


def measure_single_gateway(
    size: tuple[int, int, int, int], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """`zonewall build` of the estate with ONE gateway, once per platform, against `aclgen`
    generating both targets for the same flows: commands in fresh processes, interleaved
    (every repeat runs the three commands, in alternating order), medians of wall and CPU."""
    sys.path.insert(0, str(HERE))
    import generate

    classes, allows, asserts, repeat = size
    label = f"{classes}x{allows}x{asserts}, 1 gateway"
    where = workdir / f"single-{classes}x{allows}x{asserts}"
    for p in SINGLE_PLATFORMS:
        estate = generate.build_estate(classes, allows, args.denies, asserts, 1, args.seed, (p,))
        generate.write_estate(estate, where / p)
    # The Aerleon twin is the same whatever the gateways: one policy for the whole estate.
    aer = where / SINGLE_PLATFORMS[0] / "aerleon"
    commands: dict[str, list[str]] = {
        p: [
            sys.executable,
            "-m",
            "zonewall",
            "build",
            str(where / p / "estate.zw"),
            "-o",
            str(where / p / "out"),
            "-q",
        ]
        for p in SINGLE_PLATFORMS
    }
    if args.aerleon:
        commands["aclgen"] = [
            sys.executable,
            "-m",
            "aerleon",
            "--base_directory",
            str(aer / "policies"),
            "--definitions_directory",
            str(aer / "def"),
            "--policy_file",
            str(aer / "policies" / "pol" / "estate.yaml"),
            "--output_directory",
            str(where / "aer-out"),
        ]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    loads = [os.getloadavg()[0]]
    names = list(commands)
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            wall, cpu, rss, code, tail = run_timed(commands[name])
            if code != 0:
                raise RuntimeError(f"{name} failed ({code}) at {label}:\n{tail[-3000:]}")
            runs[name].append({"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss})
            loads.append(os.getloadavg()[0])
            _say(f"[{label}] {name} run {i + 1}/{repeat}: {wall:.2f}s wall, {cpu:.2f}s CPU")
    entry: dict[str, Any] = {
        "size": label,
        "classes": classes,
        "allows": allows,
        "asserts": asserts,
        "repeat": repeat,
        "loadavg_1min": loads,
        "runs": runs,
    }
    for name, rs in runs.items():
        entry[name] = {
            "wall_s": statistics.median(r["wall_s"] for r in rs),
            "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
        }
    both = [
        {k: sum(runs[p][i][k] for p in SINGLE_PLATFORMS) for k in ("wall_s", "cpu_s")}
        for i in range(repeat)
    ]
    entry["zonewall"] = {
        "wall_s": statistics.median(b["wall_s"] for b in both),
        "cpu_s": statistics.median(b["cpu_s"] for b in both),
    }
    entry["outputs"] = {p: _manifest_sizes(where / p / "out") for p in SINGLE_PLATFORMS}
    if "aclgen" in entry:
        entry["ratio"] = entry["aclgen"]["wall_s"] / entry["zonewall"]["wall_s"]
        entry["ratio_cpu"] = entry["aclgen"]["cpu_s"] / entry["zonewall"]["cpu_s"]
    if not args.keep:
        shutil.rmtree(where, ignore_errors=True)
    return entry


def single_gateway_table(entries: list[dict[str, Any]]) -> str:
    def cell(m: dict[str, float] | None) -> str:
        if m is None:
            return "-"
        rss = f", {m['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in m else ""
        return f"{m['wall_s']:.2f} s ({m['cpu_s']:.2f} s{rss})"

    head = [
        "size (classes x allows x asserts)",
        "zw build iptables",
        "zw build cisco-ios",
        "zw both",
        "aclgen (iptables + cisco)",
        "speed-up",
        "runs",
        "load average (1 min)",
    ]
    rows = [
        [
            e["size"],
            cell(e.get("iptables")),
            cell(e.get("cisco-ios")),
            cell(e.get("zonewall")),
            cell(e.get("aclgen")),
            f"{_fmt_ratio(e.get('ratio'))} ({_fmt_ratio(e.get('ratio_cpu'))})",
            str(e["repeat"]),
            f"{min(e['loadavg_1min']):.1f}-{max(e['loadavg_1min']):.1f}",
        ]
        for e in entries
    ]
    return markdown_table(head, rows)


def _manifest_sizes(outdir: Path) -> dict[str, int]:
    doc = json.loads((outdir / "manifest.json").read_text())
    sizes = {"iptables_rules": 0, "cisco_aces": 0}
    for o in doc["outputs"]:
        text = (outdir / o["path"]).read_text()
        if o["kind"] == "config" and o["platform"] == "iptables":
            sizes["iptables_rules"] += len(IPT_RULE.findall(text))
        elif o["kind"] == "config" and o["platform"] == "cisco-ios":
            sizes["cisco_aces"] += len(ACE.findall(text))
    return sizes


# --------------------------------------------------------------------------------------------
# Reporting


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def derived(entry: dict[str, Any]) -> dict[str, float]:
    ph = entry["zonewall"]["phases"]

    def s(*names: str) -> float:
        return sum(ph.get(n, {}).get("median_s", 0.0) for n in names)

    return {
        "check_s": s(
            "import",
            "parse",
            "resolve",
            "allocate",
            "endpoints",
            "flows",
            "redundant",
            "graph",
            "assertions",
            "lints",
            "compile-other",
        ),
        "dead_redundant_s": s("flows", "redundant", "lints"),
        "backends_s": s(
            "views", *(f"{p}-{k}" for p in TARGET_PLATFORMS for k in ("check", "lower", "render"))
        ),
        "validation_s": s(*(f"{p}-validate" for p in TARGET_PLATFORMS)),
    }


def _fmt_ratio(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}x"


def summary_table(entries: list[dict[str, Any]]) -> str:
    head = [
        "size (classes x allows x asserts)",
        "zw full build (CPU)",
        "zw peak RSS",
        "zw check",
        "zw dead/redundant",
        "zw validation",
        "Aerleon (CPU)",
        "Aerleon peak RSS",
        "speed-up (CPU)",
        "ipt rules zw / aer",
        "Cisco ACEs zw / aer",
        "ACE ratio",
        "zw build CLI",
        "aclgen CLI",
    ]
    rows = []
    for e in entries:
        zw, ae, d = e["zonewall"], e.get("aerleon"), derived(e)
        zo = zw["outputs"]
        rows.append(
            [
                e["size"],
                f"{zw['total_s']:.2f} s ({zw['total_cpu_s']:.2f} s)",
                f"{zw['peak_rss_mib']:.0f} MiB",
                f"{d['check_s']:.2f} s",
                f"{d['dead_redundant_s']:.2f} s",
                f"{d['validation_s']:.2f} s" if "iptables-validate" in zw["phases"] else "-",
                f"{ae['total_s']:.2f} s ({ae['total_cpu_s']:.2f} s)" if ae else "-",
                f"{ae['peak_rss_mib']:.0f} MiB" if ae else "-",
                f"{_fmt_ratio(e.get('ratio'))} ({_fmt_ratio(e.get('ratio_cpu'))})",
                f"{zo['iptables_rules']} / {ae['outputs']['iptables_rules']}"
                if ae
                else str(zo["iptables_rules"]),
                (
                    f"{zo['cisco_aces']} / {ae['outputs']['cisco_aces']}"
                    if ae
                    else str(zo["cisco_aces"])
                )
                + _over_budget(zo),
                _fmt_ratio(e.get("ace_ratio")),
                _cli_cell(e.get("zonewall_cli")),
                f"{e['aerleon_cli']['wall_s']:.2f} s" if "aerleon_cli" in e else "-",
            ]
        )
    return markdown_table(head, rows)


def _over_budget(outputs: dict[str, Any]) -> str:
    n = outputs.get("cisco_acls_over_budget", 0)
    return f" ({n} ACL{'s' if n > 1 else ''} over the 1,000-ACE budget)" if n else ""


def _cli_cell(cli: dict[str, Any] | None) -> str:
    if cli is None:
        return "-"
    if cli.get("exit"):
        return f"{cli['wall_s']:.2f} s, refused: {', '.join(cli['errors'])}"
    return f"{cli['wall_s']:.2f} s"


def phase_table(entries: list[dict[str, Any]], tool: str, phases: list[tuple[str, str]]) -> str:
    present = [e for e in entries if tool in e]
    if not present:
        return ""
    head = ["phase"] + [e["size"] for e in present]
    rows = []
    for key, label in phases:
        cells = [label]
        for e in present:
            p = e[tool]["phases"].get(key)
            if p is None:
                cells.append("-")
                continue
            mem = p["heap_peak_mib"]
            extra = f", heap {mem:.0f} MiB" if mem is not None else ""
            cells.append(f"{p['median_s']:.3f} s (RSS {p['rss_after_mib']:.0f} MiB{extra})")
        rows.append(cells)
    rows.append(
        [
            "**total**",
            *(
                f"**{e[tool]['total_s']:.2f} s** (peak RSS {e[tool]['peak_rss_mib']:.0f} MiB)"
                for e in present
            ),
        ]
    )
    return markdown_table(head, rows)


def ranked_phases(entry: dict[str, Any]) -> str:
    ph = entry["zonewall"]["phases"]
    total = entry["zonewall"]["total_s"]
    labels = dict(ZW_PHASES)
    order = sorted(ph.items(), key=lambda kv: -kv[1]["median_s"])
    rows = [
        [labels.get(k, k), f"{v['median_s']:.3f} s", f"{100 * v['median_s'] / total:.1f}%"]
        for k, v in order
    ]
    return markdown_table(["phase", "median", "share"], rows)


def growth_table(entries: list[dict[str, Any]]) -> str:
    """Exponent k in time ~ allows^k between successive sizes with the same class count."""
    rows = []
    by_classes: dict[int, list[dict[str, Any]]] = {}
    for e in entries:
        by_classes.setdefault(e["classes"], []).append(e)
    for classes, group in sorted(by_classes.items()):
        group.sort(key=lambda e: e["allows"])
        for a, b in zip(group, group[1:], strict=False):
            if a["allows"] == b["allows"]:
                continue
            cells = [
                f"{classes} classes: {a['allows']} -> {b['allows']} allows",
                _exponent(a, b, "zonewall"),
            ]
            cells.append(_exponent(a, b, "aerleon") if "aerleon" in a and "aerleon" in b else "-")
            rows.append(cells)
    if not rows:
        return ""
    return markdown_table(["step", "zonewall k, wall (CPU)", "Aerleon k, wall (CPU)"], rows)


def _exponent(a: dict[str, Any], b: dict[str, Any], tool: str) -> str:
    """k in t ~ allows^k between two sizes: 1 is linear, 2 quadratic."""
    steps = math.log(b["allows"] / a["allows"])
    wall = math.log(b[tool]["total_s"] / a[tool]["total_s"]) / steps
    cpu = math.log(b[tool]["total_cpu_s"] / a[tool]["total_cpu_s"]) / steps
    return f"{wall:.2f} ({cpu:.2f})"


def targets(entries: list[dict[str, Any]]) -> list[str]:
    """The BENCHMARKS.md targets that the measured sizes speak to (reported, never asserted)."""
    out = []
    for e in entries:
        d = derived(e)
        zw = e["zonewall"]
        if e["classes"] == 300 and e["allows"] == 10000 and "ratio" in e:
            ok = e["ratio"] >= 20
            out.append(
                f"{'MET' if ok else 'NOT MET'}: 300x10000 full build >= 20x faster than "
                f"Aerleon (measured {e['ratio']:.2f}x wall, {e['ratio_cpu']:.2f}x CPU)"
            )
        if e["allows"] == 10000:
            ok = d["dead_redundant_s"] < 2
            out.append(
                f"{'MET' if ok else 'NOT MET'}: dead/redundant detection at 10,000 "
                f"allows < 2 s (measured {d['dead_redundant_s']:.2f} s at {e['size']})"
            )
        if e["classes"] == 1000 and e["allows"] == 20000 and e["asserts"] >= 100:
            ok = zw["total_s"] < 5 and zw["peak_rss_mib"] < 1024
            out.append(
                f"{'MET' if ok else 'NOT MET'}: 1000x20000x100 full build < 5 s and "
                f"< 1 GiB (measured {zw['total_s']:.2f} s, "
                f"{zw['peak_rss_mib']:.0f} MiB)"
            )
        if e.get("ace_ratio") is not None and e["allows"] == 10000:
            flows = e.get("aerleon_flows") or {}
            ok = e["ace_ratio"] <= 0.5 and bool(flows.get("identical"))
            same = (
                f"identical permitted flows over {flows['pairs']} address pairs"
                if flows.get("identical")
                else "permitted flows NOT identical"
                if flows
                else "permitted flows not compared"
            )
            out.append(
                f"{'MET' if ok else 'NOT MET'}: Cisco ACEs <= 0.5x Aerleon's at "
                f"{e['size']} (measured {e['ace_ratio']:.2f}x; {same})"
            )
    return out


def single_target(e: dict[str, Any]) -> str:
    ok = e["ratio"] >= 5
    return (
        f"{'MET' if ok else 'NOT MET'}: one gateway at {e['size']}, iptables + cisco-ios "
        f"builds >= 5x faster than Aerleon generating both (measured {e['ratio']:.2f}x wall, "
        f"{e['ratio_cpu']:.2f}x CPU)"
    )


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines.extend("| " + " | ".join(r) + " |" for r in rows)
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            from importlib.metadata import version as v

            return v(dist)
        except Exception:  # noqa: BLE001 - not installed
            return None

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    )
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "aerleon": version("aerleon"),
        "netaddr": version("netaddr"),
        "networkx": version("networkx"),
        "zonewall_commit": commit,
        "zonewall_src_modified": dirty,
    }


def report(entries: list[dict[str, Any]], single: list[dict[str, Any]] | None = None) -> str:
    parts = []
    if single:
        parts += [
            "## Single gateway: `zonewall build` for iptables and for cisco-ios against "
            "`aclgen` for both (wall, CPU in parentheses; medians, interleaved)",
            "",
            single_gateway_table(single),
            "",
        ]
        checks = [single_target(e) for e in single if "ratio" in e]
        if checks and not entries:
            parts += ["## Targets", "", *(f"- {c}" for c in checks), ""]
    if not entries:
        return "\n".join(parts)
    parts += ["## Summary", "", summary_table(entries), ""]
    growth = growth_table(entries)
    if growth:
        parts += ["## Growth", "", growth, ""]
    parts += [
        "## zonewall phases (median, exclusive; RSS high-water after the phase; "
        "peak Python heap under tracemalloc)",
        "",
        phase_table(entries, "zonewall", ZW_PHASES),
        "",
    ]
    aer = phase_table(entries, "aerleon", AER_PHASES)
    if aer:
        parts += ["## Aerleon phases", "", aer, ""]
    largest = max(entries, key=lambda e: (e["allows"], e["classes"]))
    parts += [
        f"## Where zonewall spends its time at {largest['size']}",
        "",
        ranked_phases(largest),
        "",
    ]
    checks = [single_target(e) for e in single or () if "ratio" in e] + targets(entries)
    for e in entries:
        v = e["zonewall"].get("validation") or {}
        if v.get("problem_count"):
            checks.append(
                f"translation validation found {v['problem_count']} problems at "
                f"{e['size']} (a zonewall bug): {v['problems'][:3]}"
            )
    if checks:
        parts += ["## Targets", "", *(f"- {c}" for c in checks), ""]
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated CLASSESxALLOWS[xASSERTIONS] (default {DEFAULT_SIZES})",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fresh processes per tool and size, unless a size says @N (default 1)",
    )
    ap.add_argument("--denies", type=int, default=50)
    ap.add_argument(
        "--asserts", type=int, default=100, help="assertions when a size does not give them"
    )
    ap.add_argument("--gateways", type=int, default=4)
    ap.add_argument(
        "--single-gateway",
        default="",
        metavar="SIZES",
        help="also (or with --sizes '' only) the layout of issue #18: ONE gateway serving "
        "every class, `zonewall build` once for iptables and once for cisco-ios against "
        "aclgen for both, commands interleaved; comma-separated CLASSESxALLOWS[xASSERTIONS]"
        "[@REPEAT], e.g. 300x10000@3",
    )
    ap.add_argument(
        "--platforms",
        default="iptables,cisco-ios",
        help="platforms cycled over the estate's gateways (the CLI build uses them)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--no-aerleon", dest="aerleon", action="store_false", help="measure zonewall only"
    )
    ap.add_argument(
        "--compare-aerleon",
        action="store_true",
        help="require Aerleon (the default compares when it is installed; with "
        "this flag a missing Aerleon is an error, not a zonewall-only run)",
    )
    ap.add_argument(
        "--cli",
        action="store_true",
        help="also time `python -m zonewall build` and aclgen as commands, once",
    )
    ap.add_argument(
        "--heap",
        action="store_true",
        help="one more zonewall run under tracemalloc: each phase's peak heap",
    )
    ap.add_argument("--json", type=Path, default=HERE / "results.json")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the report here")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where estates and outputs go (default: a temporary directory)",
    )
    ap.add_argument("--keep", action="store_true", help="keep estates and outputs")
    ap.add_argument("--worker", choices=["zonewall", "aerleon"], help=argparse.SUPPRESS)
    ap.add_argument("--estate", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        fn = zonewall_worker if args.worker == "zonewall" else aerleon_worker
        args.result.write_text(json.dumps(fn(args.estate, args.outdir, args.trace)))
        return 0

    sizes = [parse_size(s, args.asserts, args.repeat) for s in args.sizes.split(",") if s.strip()]
    singles = [
        parse_size(s, args.asserts, args.repeat)
        for s in args.single_gateway.split(",")
        if s.strip()
    ]
    if not sizes and not singles:
        ap.error("nothing to measure: give --sizes or --single-gateway")
    if args.compare_aerleon and not args.aerleon:
        ap.error("--compare-aerleon and --no-aerleon contradict each other")
    if args.compare_aerleon and importlib.util.find_spec("aerleon") is None:
        ap.error("--compare-aerleon: aerleon is not installed (pip install '.[bench]')")
    if args.aerleon and importlib.util.find_spec("aerleon") is None:
        _say("aerleon is not installed (pip install '.[bench]'); measuring zonewall only")
        args.aerleon = False
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="zonewall-bench-"))
    entries = []
    single = []
    try:
        for size in singles:
            single.append(measure_single_gateway(size, args, workdir))
        for size in sizes:
            entries.append(measure_size(size, args, workdir))
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    doc = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "environment": environment(),
        "sizes": entries,
        "single_gateway": single,
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    text = report(entries, single)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    _say(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
