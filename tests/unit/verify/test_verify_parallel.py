"""One gateway's proof split over worker processes gives what the serial proof gives.

`validate(..., jobs=parallel.forked(n))` runs the comparison's jobs (each ingress's rows, the
gateway's own plane) in n processes.  Its differences must be the serial ones: the same
findings, in the same order, with the same texts and counterexample packets, whatever the
number of workers and whichever worker runs which job.  Checked on every example's configs,
on mutants of them (lines dropped, ports moved, ranges widened, flags removed), and on a
generated one-gateway estate with wrong rules seeded into its configs; then `build` itself
with the split against `ZONEWALL_WORKERS=1`.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import signal
import sys
import time
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from verify_helpers import EXAMPLES, ROOT, built

from zonewall import build as zbuild
from zonewall.build import COMPANION_VERIFIER, all_gateway_steps, cpus, proof_split
from zonewall.report import run_check
from zonewall.verify import ConfigParseError, Difference, validate
from zonewall.verify.compare import Job, Jobs
from zonewall.verify.parallel import forked, run_forked

CASES = [
    (p, o) for p in EXAMPLES for o in built(str(p))[1] if o.kind in ("config", "ipv6-companion")
]


def _mutants(text: str, seed: int, count: int) -> list[str]:
    """`count` copies of a config, each with one rule line broken."""
    rng = random.Random(seed)
    lines = text.splitlines()
    rules = [
        i
        for i, line in enumerate(lines)
        if re.match(r"\s*(\d+\s+)?(permit|deny)\s|-A |\s+(tcp|udp|ip|meta|iifname|ct) ", line)
    ]
    out = []
    for _ in range(count if rules else 0):
        i = rng.choice(rules)
        line = lines[i]
        how = rng.randrange(3)
        new: str | None = None  # dropped
        if how == 1 and (m := re.search(r"\b(eq|dport|sport|--dports?|--sports?) (\d+)", line)):
            new = line[: m.start(2)] + str(int(m.group(2)) + 1) + line[m.end(2) :]
        elif how == 2 and ("established" in line or "ESTABLISHED" in line):
            new = line.replace(" established", "").replace("ESTABLISHED,", "")
        out.append("\n".join(lines[:i] + ([] if new is None else [new]) + lines[i + 1 :]) + "\n")
    return out


def _shuffled(seed: int, workers: int) -> Jobs:
    """`forked(workers)` with each job delayed at random: another process runs which job."""
    rng = random.Random(seed)

    def run(jobs: list[Job]) -> list[list[Difference]]:
        delays = [rng.random() * 0.002 for _ in jobs]

        def late(job: Job, delay: float) -> Job:
            def go() -> list[Difference]:
                time.sleep(delay)
                return job()

            return go

        return run_forked([late(j, d) for j, d in zip(jobs, delays, strict=True)], workers)

    return run


def _reversed(jobs: list[Job]) -> list[list[Difference]]:
    """Every job in this process, the last first."""
    return [job() for job in jobs[::-1]][::-1]


def _same(serial: list[Difference], other: list[Difference], what: str) -> None:
    assert other == serial, what
    assert [d.describe() for d in other] == [d.describe() for d in serial], what
    assert [d.example for d in other] == [d.example for d in serial], what


def _validate(
    compiled: object, gateway: str, text: str, platform: str, jobs: Jobs | None
) -> list[Difference]:
    return validate(compiled, gateway, text, platform, filename="config", jobs=jobs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "out"), CASES, ids=[f"{p.stem}-{o.path}" for p, o in CASES])
def test_split_proof_reports_what_the_serial_proof_reports(path: Path, out: object) -> None:
    compiled, _ = built(str(path))
    gateway = out.gateway  # type: ignore[attr-defined]
    platform = COMPANION_VERIFIER.get(out.kind, out.platform)  # type: ignore[attr-defined]
    seed = zlib.crc32(str(out.path).encode())  # type: ignore[attr-defined]
    differing = 0
    for n, text in enumerate([out.text, *_mutants(out.text, seed, 6)]):  # type: ignore[attr-defined]
        try:
            serial = _validate(compiled, gateway, text, platform, None)
        except ConfigParseError:
            continue
        for name, jobs in (
            ("2 workers", forked(2)),
            ("3 workers", forked(3)),
            ("2 workers, jobs delayed at random", _shuffled(seed + n, 2)),
            ("in reverse order", _reversed),
        ):
            _same(serial, _validate(compiled, gateway, text, platform, jobs), f"mutant {n}, {name}")
        differing += bool(serial)
    if out.kind == "config":  # type: ignore[attr-defined]
        assert differing, "no mutant differed from the policy: the test proves nothing"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "zonewall_bench_generate", ROOT / "benchmarks" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("platform", ["iptables", "cisco-ios"])
def test_split_proof_of_a_generated_estate_with_wrong_rules(platform: str, tmp_path: Path) -> None:
    """One gateway serving every class of a generated estate, its config with wrong rules
    seeded in: the split proof finds exactly the serial findings."""
    gen = _generator()
    estate = gen.build_estate(40, 400, 5, 4, 1, 7, (platform,))
    path = tmp_path / "estate.zw"
    path.write_text(gen.zonewall_text(estate), encoding="utf-8")
    compiled, outputs = built(str(path))
    config = next(o for o in outputs if o.kind == "config")
    lines = config.text.splitlines()
    rng = random.Random(18)
    rules = [i for i, line in enumerate(lines) if re.match(r"\s*(\d+\s+)?permit\s|-A ", line)]
    broken = set(rng.sample(rules, 12))
    wrong = [
        re.sub(r"\b(eq|--dport) (\d+)", lambda m: f"{m.group(1)} {int(m.group(2)) + 7}", line)
        if i in broken and i % 2
        else line
        for i, line in enumerate(lines)
        if not (i in broken and i % 2 == 0)  # every other seeded line is dropped
    ]
    text = "\n".join(wrong) + "\n"
    serial = _validate(compiled, config.gateway, text, config.platform, None)
    assert serial, "the seeded wrong rules were not found: the test proves nothing"
    for workers in (2, 4):
        split = _validate(compiled, config.gateway, text, config.platform, forked(workers))
        _same(serial, split, f"{workers} workers")
    _same(serial, _validate(compiled, config.gateway, text, config.platform, _shuffled(1, 2)), "")


def test_build_splits_the_biggest_gateway_and_writes_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`build` with spare CPUs splits the proof of its biggest gateway (in a gateway worker,
    whether the gateways build in parallel or not); the outputs are the ones a serial build
    (ZONEWALL_WORKERS=1) writes, byte for byte."""
    log = tmp_path / "forked"
    real = zbuild.forked

    def spy(workers: int) -> Jobs:
        with log.open("a") as f:  # from whichever process proves the gateway
            f.write(f"{workers}\n")
        return real(workers)

    monkeypatch.setattr(zbuild, "PARALLEL_MIN_KEYS", 0)
    monkeypatch.setattr(zbuild, "forked", spy)
    for name in ("hospital.zw", "object-groups.zw"):
        compiled = run_check(str(ROOT / "examples" / name)).compiled
        assert compiled is not None
        log.write_text("")
        monkeypatch.setenv("ZONEWALL_WORKERS", str(len(compiled.gateways) + 2))
        split = all_gateway_steps(compiled)
        assert set(log.read_text().split()) == {"3"}, f"{name}: the proof was not split"
        monkeypatch.setenv("ZONEWALL_WORKERS", "1")
        log.write_text("")
        assert all_gateway_steps(compiled) == split, name
        assert not log.read_text(), name


def test_workers_variable_and_the_split() -> None:
    env = os.environ.copy()
    try:
        for value, want in (("1", 1), ("3", 3), ("0", 1), ("two", 1), ("-2", 1)):
            os.environ["ZONEWALL_WORKERS"] = value
            assert cpus() == want, value
    finally:
        os.environ.clear()
        os.environ.update(env)
    compiled = run_check(str(ROOT / "examples" / "multi-gateway.zw")).compiled
    assert compiled is not None
    n = len(compiled.gateways)
    assert proof_split(compiled, n) == (-1, 1)  # no spare CPU: no split
    index, workers = proof_split(compiled, n + 2)
    assert workers == 3
    assert len(compiled.gateways[index].classes) == max(len(g.classes) for g in compiled.gateways)


def test_a_failing_job_fails_the_proof() -> None:
    def fine() -> list[Difference]:
        return []

    def broken() -> list[Difference]:
        raise ValueError("seeded failure")

    assert run_forked([fine] * 5, 2) == [[]] * 5
    with pytest.raises((RuntimeError, ValueError), match="seeded failure"):
        run_forked([fine, broken, fine, broken, fine, broken], 2)


def test_a_worker_that_dies_fails_the_proof() -> None:
    parent = os.getpid()

    def die() -> list[Difference]:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.5)  # let the child take the other jobs
        return []

    with pytest.raises(RuntimeError, match="ended without its results"):
        run_forked([die] * 4, 2)
