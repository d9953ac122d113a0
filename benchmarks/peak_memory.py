"""Run one command; print its wall time, CPU time and peak memory, workers included.

    python benchmarks/peak_memory.py -- zonewall build estate.zw -o out -q

Prints one JSON line: `wall_s`; `cpu_s` (user + system of the command and of the processes it
waited for, from `wait4`); `maxrss_mib` (the largest single process's RSS); `peak_pss_mib`
(the largest sum, over the command's process tree, of each process's proportional set size,
`Pss:` in /proc/PID/smaps_rollup, sampled every 50 ms: pages shared between a parent and its
forked workers count once, which RSS would count in every process); `processes` (the most
processes seen at once) and the 1-minute load average at the end.  Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give a command after --")
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = {"pss": 0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            tree = descendants(proc.pid)
            peak["pss"] = max(peak["pss"], sum(pss_kib(p) for p in tree))
            peak["processes"] = max(peak["processes"], len(tree))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    result = {
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(time.perf_counter() - start, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "maxrss_mib": round(usage.ru_maxrss / 1024),
        "peak_pss_mib": round(peak["pss"] / 1024),
        "processes": peak["processes"],
        "load_1min": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    return 0 if result["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
