"""Wall time of the front end and of `zonewall check` on one policy, each in a fresh process.

    python benchmarks/generate.py --classes 1000 --allows 20000 --asserts 100 --seed 1 > e.zw
    python benchmarks/parse_time.py e.zw [--src DIR] [--repeat N]

Prints, per repeat, the import time of `zonewall.dsl.parser` and the `parse_file` time (the
policy read, hashed, decoded and parsed into a `Policy`), then the wall time of
`python -m zonewall check` on the file (interpreter start-up included).  `--src` measures
another checkout's src/ tree (e.g. a `git archive` of an older commit).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PROBE = (
    "import sys, time\n"
    "t0 = time.perf_counter()\n"
    "from zonewall.dsl.parser import parse_file\n"
    "t1 = time.perf_counter()\n"
    "result = parse_file(sys.argv[1])\n"
    "t2 = time.perf_counter()\n"
    "print(f'import {t1 - t0:.3f}s  parse_file {t2 - t1:.3f}s  '\n"
    "      f'rules {len(result.policy.rules)}  diagnostics {len(result.diagnostics)}')\n"
)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("policy")
    ap.add_argument("--src", default=str(Path(__file__).resolve().parent.parent / "src"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=args.src)
    for _ in range(args.repeat):
        subprocess.run([sys.executable, "-c", PROBE, args.policy], env=env, check=True)
    for _ in range(args.repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "zonewall", "check", args.policy], env=env, capture_output=True
        )
        print(f"check {time.perf_counter() - start:.3f}s (exit {proc.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
