"""`zonewall replay` at scale: N generated flow records against the 300-class estate.

Writes the estate (`benchmarks/generate.py`, seeded) and a CSV of N flow records whose
addresses are drawn from the estate's class subnets (90%), the internet (8%) and unknown
private space (2%), on the estate's services; then times `zonewall replay` in a fresh process
and reports its wall time and peak RSS (the child's `ru_maxrss`).

    python benchmarks/replay.py --records 1000000 [--classes 300 --allows 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import build_estate, class_prefixes, zonewall_text  # noqa: E402

PORTS = [("tcp", 443), ("tcp", 2575), ("tcp", 104), ("udp", 53), ("tcp", 22), ("tcp", 8080),
         ("udp", 123), ("tcp", 3389), ("tcp", 5100)]


def write_flows(path: Path, prefixes: dict[str, list[str]], records: int, seed: int) -> None:
    rnd = random.Random(seed)
    nets = [ipaddress.ip_network(p) for ps in prefixes.values() for p in ps]
    pools = [(int(n.network_address) + 1, int(n.broadcast_address) - 1) for n in nets]

    def address() -> str:
        roll = rnd.random()
        if roll < 0.9:
            lo, hi = rnd.choice(pools)
            return str(ipaddress.ip_address(rnd.randint(lo, hi)))
        if roll < 0.98:
            return f"93.184.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        return f"172.31.{rnd.randrange(4)}.{rnd.randrange(1, 255)}"

    t0 = 1740985200
    with path.open("w", encoding="ascii") as fh:
        fh.write("first_seen,last_seen,src,sport,dst,dport,proto,packets,bytes\n")
        batch = []
        for i in range(records):
            proto, port = PORTS[rnd.randrange(len(PORTS))]
            t = t0 + rnd.randrange(86400)
            pk = rnd.randrange(1, 500)
            batch.append(f"{t},{t + rnd.randrange(600)},{address()},{rnd.randrange(32768, 61000)},"
                         f"{address()},{port},{proto},{pk},{pk * 400}\n")
            if len(batch) == 10000:
                fh.write("".join(batch))
                batch.clear()
        fh.write("".join(batch))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--allows", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--keep", type=Path, help="write the estate and flows here and keep them")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="zw-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    estate = build_estate(args.classes, args.allows, 50, 100, 4, args.seed)
    policy = work / "estate.zw"
    policy.write_text(zonewall_text(estate), encoding="utf-8")
    flows = work / "flows.csv"
    start = time.perf_counter()
    write_flows(flows, class_prefixes(estate), args.records, args.seed)
    print(f"wrote {args.records:,} records ({flows.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "zonewall", "replay", str(policy), str(flows),
                           "--format", "json", "--fail-on", "none"], capture_output=True)
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace"))
        return 1
    print(f"replay: {args.records:,} records, {args.classes} classes, {args.allows:,} allows: "
          f"{wall:.1f} s wall, peak RSS {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
