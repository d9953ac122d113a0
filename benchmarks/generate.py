"""Seeded synthetic hospital estate: N classes, F allows, D denies, A assertions, G gateways.

    python benchmarks/generate.py --classes 1000 --allows 20000 --seed 1 > estate.zw

The same seed always gives the same policy.  Classes get fixed /24s or `hosts` from a pool,
tags from a small vocabulary, allows between random classes and tags on random TCP/UDP
services, denies toward a few externals, and assertions that are true by construction (an
isolated 'quarantine' tag nobody may reach) or accepted.
"""

from __future__ import annotations

import argparse
import random
import sys

TAGS = ["medical", "imaging", "lab", "clinical", "admin", "iot", "infra", "wireless"]


def generate(classes: int, allows: int, denies: int, asserts: int, gateways: int,
             seed: int) -> str:
    rnd = random.Random(seed)
    out = ['policy "synthetic estate" { owner "bench@example.org" }',
           "pool subnets 10.64.0.0/10", "pool vlans 2-1001, 1006-4094"]
    services = []
    for i in range(60):
        proto = rnd.choice(["tcp", "tcp", "udp"])
        port = rnd.randrange(1, 60000)
        extra = f", {proto}/{port + 1}-{port + rnd.randrange(2, 20)}" if rnd.random() < 0.2 else ""
        services.append(f"s{i}")
        out.append(f"service s{i} = {proto}/{port}{extra}")
    names = [f"c{i:04d}" for i in range(classes)]
    for i, name in enumerate(names):
        tags = rnd.sample(TAGS, rnd.randrange(1, 3))
        if i % 50 == 0:
            tags = ["quarantine"]
        if i % 3 == 0:
            body = f"subnet 10.{i // 256}.{i % 256}.0/24"
        else:
            body = f"hosts {rnd.choice([10, 30, 60, 100, 250])}"
        out.append(f"class {name} {{ {body} tags {', '.join(tags)} }}")
    out.append("external internet { address 0.0.0.0/0 }")
    out.append("external vendor_a { address 203.0.113.0/24 }")
    out.append("external vendor_b { address 198.51.100.0/24 }")
    quarantined = {n for i, n in enumerate(names) if i % 50 == 0}
    normal = [n for n in names if n not in quarantined]
    for _ in range(allows):
        src = rnd.choice(normal + [f"tag:{t}" for t in TAGS])
        dst = rnd.choice(normal + ["internet", "vendor_a"])
        svcs = ", ".join(rnd.sample(services, rnd.randrange(1, 4)))
        out.append(f"allow {src} -> {dst} : {svcs}")
    for q in sorted(quarantined):
        out.append(f"allow {q} -> vendor_b : s0")
    for _ in range(denies):
        out.append(f"deny tag:{rnd.choice(TAGS)} -> vendor_a : {rnd.choice(services)}")
    out.append("deny tag:iot -> internet")
    for i in range(asserts):
        kind = i % 4
        if kind == 0:
            out.append(f"assert unreachable tag:{rnd.choice(TAGS)} -> tag:quarantine")
        elif kind == 1:
            out.append(f"assert denied {rnd.choice(names)} -> tag:quarantine")
        elif kind == 2:
            out.append(f"assert only tag:infra -> tag:quarantine accepted \"bench\"")
        else:
            out.append(f"assert limited tag:quarantine -> external : s0")
    per = (classes + gateways - 1) // gateways
    for g in range(gateways):
        members = ", ".join(names[g * per:(g + 1) * per])
        out.append(f'gateway gw{g} {{ platform iptables interface "v{{vlan}}" uplink "eth0" '
                   f"serves {members} }}")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--allows", type=int, default=10000)
    ap.add_argument("--denies", type=int, default=50)
    ap.add_argument("--asserts", type=int, default=100)
    ap.add_argument("--gateways", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sys.stdout.write(generate(a.classes, a.allows, a.denies, a.asserts, a.gateways, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
