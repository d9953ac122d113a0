"""CPU seconds of one gateway's proof (translation validation), split by part.

    python benchmarks/generate.py --classes 300 --allows 10000 --gateways 1 \\
        --platforms iptables --out /tmp/est-ipt
    python benchmarks/proof_time.py /tmp/est-ipt/estate.zw --repeat 3

Checks the policy, lowers and renders its first gateway as `build` does, then proves each
rendered config `--repeat` times with `zonewall.build.translation_problem` (what `build` runs),
timing with `time.process_time` under the collector thresholds the command line sets.  Reports
the median of the whole proof and of its parts: reading the config (`parse_config`), the
forwarding comparison (`_Validator` construction and `run`), and the gateway's own plane
(`self_plane` / `acl_self_plane` and, for IOS, the vty lines).  The src/ tree next to this file
is what gets measured.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("policy")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1000)  # as `zonewall` sets it for a command

    from zonewall import build as zbuild
    from zonewall.backends import get_backend
    from zonewall.backends.base import gateway_view, lower_gateway
    from zonewall.report import run_check
    from zonewall.verify import compare

    report = run_check(args.policy)
    compiled = report.compiled
    if compiled is None:
        raise SystemExit("the policy has errors")
    plan = compiled.gateways[0]
    backend = get_backend(plan.platform)
    lowered = lower_gateway(backend, compiled, gateway_view(compiled, plan.name))
    assert lowered.model is not None
    files = sorted(backend.render(lowered.model).items())

    parts: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                parts[name] = parts.get(name, 0.0) + time.process_time() - t

        return run

    for name, label in (
        ("parse_config", "read"),
        ("self_plane", "own plane"),
        ("acl_self_plane", "own plane"),
        ("vty_differences", "own plane"),
    ):
        setattr(compare, name, timed(label, getattr(compare, name)))
    validator = compare._Validator  # noqa: SLF001
    validator.__init__ = timed("forwarding", validator.__init__)  # type: ignore[method-assign]
    validator.run = timed("forwarding", validator.run)  # type: ignore[method-assign]

    totals: list[float] = []
    by_part: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        parts.clear()
        t = time.process_time()
        for path, text in files:
            kind = backend.output_kind(path)
            verifier = zbuild.COMPANION_VERIFIER.get(kind, plan.platform)
            problem = zbuild.translation_problem(compiled, plan, path, text, verifier)
            if problem is not None:
                raise SystemExit(f"{path}: {problem.message}")
        totals.append(time.process_time() - t)
        for name, secs in parts.items():
            by_part.setdefault(name, []).append(secs)
    rules = sum(text.count("\n") for _, text in files)
    print(f"{args.policy}: gateway {plan.name} ({plan.platform}), {rules} config lines")
    print(f"proof: {statistics.median(totals):.2f} s CPU (median of {args.repeat})")
    for name, secs in by_part.items():
        print(f"  {name}: {statistics.median(secs):.2f} s")


if __name__ == "__main__":
    main()
