"""Seeded synthetic hospital estate, written for zonewall and for Aerleon.

    python benchmarks/generate.py --classes 1000 --allows 20000 --seed 1 > estate.zw
    python benchmarks/generate.py --classes 300 --allows 10000 --out /tmp/estate

The same arguments always give the same estate.  It has N classes (a third with a fixed /24,
the rest `hosts` from a pool, tags from a small vocabulary), F allows between random classes
and tags on random TCP/UDP services (some toward the internet or a vendor), D denies toward a
vendor, A assertions that hold by construction (an isolated 'quarantine' tag nobody may reach)
or are accepted, and G gateways whose platforms cycle through `--platforms` (cisco-ios
gateways declare `object-groups`: IOS object-group ACLs, on a target that supports them).

Without `--out`, the zonewall policy goes to stdout.  With `--out DIR` it writes:

    DIR/estate.zw                          the zonewall policy
    DIR/aerleon/policies/pol/estate.yaml   the same flows as one Aerleon policy
    DIR/aerleon/def/networks.yaml          class, tag and external address tokens
    DIR/aerleon/def/services.yaml          the services
    DIR/estate.json                        the parameters and statement counts

The Aerleon policy expresses the permitted flows of the zonewall policy, so both tools do the
same work: one term per allow and protocol (source = the class or tag tokens, destination = the
class or external token, the allow's services of that protocol as ports, action accept), every
deny as a deny term placed before all accepts (Aerleon is first-match, zonewall's denies win
regardless of order), and "internet" excluding the classes' addresses (a zonewall external is
its address set minus the classes).  One filter targets `iptables` (FORWARD, default DROP,
stateful) and `cisco` (extended).  Subnets of `hosts` classes come from zonewall's own
allocator, so both tools see the same addresses.  Known differences, none of which changes a
permitted flow: Aerleon also emits terms for same-class pairs (zonewall drops them: that
traffic is not routed), and its Cisco ACL has no reply ACEs (zonewall's stateless IOS output
permits replies explicitly).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["medical", "imaging", "lab", "clinical", "admin", "iot", "infra", "wireless"]
# Private and special-purpose space is never "internet" (W114): the external excludes it, as
# examples/hospital.zw does, and the Aerleon twin excludes the same ranges.
SPECIAL = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
EXTERNALS = {
    "internet": ("0.0.0.0/0",),
    "vendor_a": ("203.0.113.0/24",),
    "vendor_b": ("198.51.100.0/24",),
}
SUBNET_POOL = "10.64.0.0/10"
FIXED_POOL = "10.0.0.0/14"  # where the fixed /24s are (a pool too, so they are not W118)
PLATFORMS = ("iptables", "cisco-ios", "nftables")
UPLINKS = {"iptables": "eth0", "nftables": "eth0", "cisco-ios": "TenGigabitEthernet1/1/1"}


@dataclass(frozen=True)
class Service:
    name: str
    proto: str  # tcp | udp
    ranges: tuple[tuple[int, int], ...]

    def zonewall(self) -> str:
        return ", ".join(
            f"{self.proto}/{lo}" if lo == hi else f"{self.proto}/{lo}-{hi}"
            for lo, hi in self.ranges
        )


@dataclass(frozen=True)
class ClassSpec:
    name: str
    subnet: str | None  # a fixed subnet, or None for `hosts`
    hosts: int | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    action: str  # allow | deny
    srcs: tuple[str, ...]  # class names or "tag:<t>"
    dst: str  # class name or external name
    services: tuple[str, ...]  # () = every protocol


@dataclass(frozen=True)
class Gateway:
    name: str
    platform: str
    serves: tuple[str, ...]


@dataclass(frozen=True)
class Estate:
    params: dict[str, object]
    services: tuple[Service, ...]
    classes: tuple[ClassSpec, ...]
    rules: tuple[Rule, ...]
    assertions: tuple[str, ...]
    gateways: tuple[Gateway, ...]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rules if r.action == action)


def build_estate(
    classes: int,
    allows: int,
    denies: int,
    asserts: int,
    gateways: int,
    seed: int,
    platforms: tuple[str, ...] = ("iptables", "cisco-ios"),
) -> Estate:
    """The estate as data; every random choice comes from one `random.Random(seed)`."""
    if classes < 2 or gateways < 1 or not platforms:
        # class 0 is quarantined: the allows need at least one other class
        raise ValueError("need at least two classes, one gateway and one platform")
    rnd = random.Random(seed)
    services = tuple(_service(rnd, i) for i in range(60))
    specs = []
    fixed = 0
    for i in range(classes):
        tags = tuple(rnd.sample(TAGS, rnd.randrange(1, 3)))
        if i % 50 == 0:
            tags = ("quarantine",)
        if i % 3 == 0:
            # fixed subnets are contiguous /24s, as a real addressing plan would be
            specs.append(
                ClassSpec(f"c{i:04d}", f"10.{fixed // 256}.{fixed % 256}.0/24", None, tags)
            )
            fixed += 1
        else:
            specs.append(ClassSpec(f"c{i:04d}", None, rnd.choice([10, 30, 60, 100, 250]), tags))
    names = [c.name for c in specs]
    quarantined = [c.name for c in specs if c.tags == ("quarantine",)]
    normal = [n for n in names if n not in set(quarantined)]
    used_tags = sorted({t for c in specs for t in c.tags if t != "quarantine"})
    src_pool = normal + [f"tag:{t}" for t in used_tags]
    dst_pool = normal + ["internet", "vendor_a"]
    svc_names = [s.name for s in services]
    rules: list[Rule] = []
    for _ in range(allows):
        src = rnd.choice(src_pool)
        dst = rnd.choice(dst_pool)
        rules.append(Rule("allow", (src,), dst, tuple(rnd.sample(svc_names, rnd.randrange(1, 4)))))
    rules.extend(Rule("allow", (q,), "vendor_b", ("s0",)) for q in quarantined)
    for _ in range(denies):
        rules.append(
            Rule("deny", (f"tag:{rnd.choice(used_tags)}",), "vendor_a", (rnd.choice(svc_names),))
        )
    if "iot" in used_tags:
        rules.append(Rule("deny", ("tag:iot",), "internet", ()))
    assertions = tuple(_assertion(rnd, i, names, used_tags) for i in range(asserts))
    per = (classes + gateways - 1) // gateways
    gws = tuple(
        Gateway(f"gw{g}", platforms[g % len(platforms)], tuple(names[g * per : (g + 1) * per]))
        for g in range(gateways)
    )
    params: dict[str, object] = {
        "classes": classes,
        "allows": allows,
        "denies": denies,
        "asserts": asserts,
        "gateways": gateways,
        "seed": seed,
        "platforms": list(platforms),
    }
    return Estate(
        params, services, tuple(specs), tuple(rules), assertions, tuple(g for g in gws if g.serves)
    )


def _service(rnd: random.Random, i: int) -> Service:
    proto = rnd.choice(["tcp", "tcp", "udp"])
    port = rnd.randrange(1, 60000)
    ranges = [(port, port)]
    if rnd.random() < 0.2:
        ranges.append((port + 1, port + rnd.randrange(2, 20)))
    return Service(f"s{i}", proto, tuple(ranges))


def _assertion(rnd: random.Random, i: int, names: list[str], tags: list[str]) -> str:
    kind = i % 4
    if kind == 0:
        return f"assert unreachable tag:{rnd.choice(tags)} -> tag:quarantine"
    if kind == 1:
        return f"assert denied {rnd.choice(names)} -> tag:quarantine"
    if kind == 2:
        who = "infra" if "infra" in tags else tags[0]
        return f'assert only tag:{who} -> tag:quarantine accepted "bench"'
    return "assert limited tag:quarantine -> external : s0"


def zonewall_text(estate: Estate) -> str:
    """The estate as a zonewall policy."""
    out = [
        'policy "synthetic estate" { owner "bench@example.org" }',
        f"pool subnets {SUBNET_POOL}",
        f"pool subnets {FIXED_POOL}",
        "pool vlans 2-1001, 1006-4094",
    ]
    out.extend(f"service {s.name} = {s.zonewall()}" for s in estate.services)
    for c in estate.classes:
        body = f"subnet {c.subnet}" if c.subnet else f"hosts {c.hosts}"
        out.append(f"class {c.name} {{ {body} tags {', '.join(c.tags)} }}")
    out.extend(
        f"external {n} {{ address {', '.join(a)}{_except(n)} }}" for n, a in EXTERNALS.items()
    )
    for r in estate.rules:
        svcs = f" : {', '.join(r.services)}" if r.services else ""
        out.append(f"{r.action} {', '.join(r.srcs)} -> {r.dst}{svcs}")
    out.extend(estate.assertions)
    for g in estate.gateways:
        og = (
            ' object-groups stateless-replies accepted "bench"' if g.platform == "cisco-ios" else ""
        )
        out.append(
            f"gateway {g.name} {{ platform {g.platform}{og} "
            f'uplink "{UPLINKS[g.platform]}" serves {", ".join(g.serves)} }}'
        )
    return "\n".join(out) + "\n"


def generate(
    classes: int,
    allows: int,
    denies: int,
    asserts: int,
    gateways: int,
    seed: int,
    platforms: tuple[str, ...] = ("iptables", "cisco-ios"),
) -> str:
    """The zonewall policy text (the original entry point of this script)."""
    return zonewall_text(build_estate(classes, allows, denies, asserts, gateways, seed, platforms))


def class_prefixes(estate: Estate) -> dict[str, list[str]]:
    """Every class's prefixes as zonewall allocates them (fixed subnets and `hosts`)."""
    try:
        import zonewall  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT / "src"))
    from zonewall.compiler.allocate import allocate
    from zonewall.compiler.resolve import resolve_names
    from zonewall.diagnostics import DiagnosticSink
    from zonewall.dsl.parser import parse_text

    # Only the pools and classes: allocation depends on nothing else, and this stays cheap.
    text = "\n".join(
        line for line in zonewall_text(estate).splitlines() if line.startswith(("pool ", "class "))
    )
    policy = parse_text(text + "\n", "classes.zw").policy
    sink = DiagnosticSink()
    alloc = allocate(policy, resolve_names(policy, sink).classes, sink)
    if sink.has_errors:
        raise RuntimeError(f"allocation failed: {sink.items[0].message}")
    return {name: [str(p) for p in a.prefixes] for name, a in sorted(alloc.items())}


def _except(external: str) -> str:
    return f" except {', '.join(SPECIAL)}" if external == "internet" else ""


def aerleon_documents(estate: Estate, prefixes: dict[str, list[str]]) -> dict[str, object]:
    """The Aerleon policy and definitions, as YAML documents keyed by relative path."""
    tags: dict[str, list[str]] = {}
    for c in estate.classes:
        for t in c.tags:
            tags.setdefault(t, []).append(c.name)
    networks: dict[str, object] = {
        name: {"values": [{"address": p} for p in prefixes[name]]} for name in sorted(prefixes)
    }
    networks.update(
        {
            _tag_token(t): {"values": [{"name": n} for n in members]}
            for t, members in sorted(tags.items())
        }
    )
    networks["INTERNAL"] = {
        "values": [{"name": n} for n in sorted(prefixes)] + [{"address": a} for a in SPECIAL]
    }
    networks.update(
        {n.upper(): {"values": [{"address": a} for a in addrs]} for n, addrs in EXTERNALS.items()}
    )
    services = {
        s.name: [
            {"protocol": s.proto, "port": str(lo) if lo == hi else f"{lo}-{hi}"}
            for lo, hi in s.ranges
        ]
        for s in estate.services
    }
    by_name = {s.name: s for s in estate.services}
    deny_terms: list[dict[str, object]] = []
    accept_terms: list[dict[str, object]] = []
    for index, rule in enumerate(estate.rules):
        target = accept_terms if rule.action == "allow" else deny_terms
        target.extend(_terms(index, rule, by_name))
    policy = {
        "filters": [
            {
                "header": {
                    "comment": f"synthetic estate {json.dumps(estate.params, sort_keys=True)}",
                    "targets": {"iptables": "FORWARD DROP", "cisco": "estate extended"},
                },
                "terms": deny_terms + accept_terms,
            }
        ]
    }
    return {
        "aerleon/policies/pol/estate.yaml": policy,
        "aerleon/def/networks.yaml": {"networks": networks},
        "aerleon/def/services.yaml": {"services": services},
    }


def _tag_token(tag: str) -> str:
    return f"TAG_{tag}"


def _address_token(selector: str) -> str:
    if selector.startswith("tag:"):
        return _tag_token(selector[4:])
    return selector.upper() if selector in EXTERNALS else selector


def _terms(index: int, rule: Rule, services: dict[str, Service]) -> list[dict[str, object]]:
    """One term per protocol: Aerleon crosses a term's protocols with all of its ports."""
    base: dict[str, object] = {
        "source-address": " ".join(_address_token(s) for s in rule.srcs),
        "destination-address": _address_token(rule.dst),
    }
    if rule.dst == "internet":
        base["destination-exclude"] = "INTERNAL"
    action = "accept" if rule.action == "allow" else "deny"
    prefix = f"{rule.action[0]}{index:05d}"
    if not rule.services:
        return [{"name": prefix, **base, "action": action}]
    by_proto: dict[str, list[str]] = {}
    for name in rule.services:
        by_proto.setdefault(services[name].proto, []).append(name)
    return [
        {
            "name": f"{prefix}-{proto}",
            **base,
            "protocol": proto,
            "destination-port": " ".join(names),
            "action": action,
        }
        for proto, names in sorted(by_proto.items())
    ]


def write_estate(estate: Estate, outdir: Path) -> dict[str, Path]:
    """Write the zonewall policy, the Aerleon policy and definitions, and estate.json."""
    docs = aerleon_documents(estate, class_prefixes(estate))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    written = {"zonewall": outdir / "estate.zw"}
    outdir.mkdir(parents=True, exist_ok=True)
    written["zonewall"].write_text(zonewall_text(estate), encoding="utf-8")
    for rel, doc in docs.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.dump(
                doc, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1_000_000
            ),
            encoding="utf-8",
        )
    terms = docs["aerleon/policies/pol/estate.yaml"]["filters"][0]["terms"]  # type: ignore[index]
    meta = dict(
        estate.params,
        allow_statements=estate.count("allow"),
        deny_statements=estate.count("deny"),
        assertions=len(estate.assertions),
        aerleon_terms=len(terms),
    )
    (outdir / "estate.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    written.update(
        aerleon_policies=outdir / "aerleon" / "policies", aerleon_defs=outdir / "aerleon" / "def"
    )
    return written


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--allows", type=int, default=10000)
    ap.add_argument("--denies", type=int, default=50)
    ap.add_argument("--asserts", type=int, default=100)
    ap.add_argument("--gateways", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--platforms",
        default="iptables,cisco-ios",
        help="comma-separated platforms, cycled over the gateways (default: iptables,cisco-ios)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write estate.zw, the Aerleon policy and definitions into this directory "
        "instead of the zonewall policy to stdout",
    )
    a = ap.parse_args()
    platforms = tuple(p.strip() for p in a.platforms.split(",") if p.strip())
    bad = [p for p in platforms if p not in PLATFORMS]
    if bad:
        ap.error(f"unknown platform {bad[0]!r} (choose from {', '.join(PLATFORMS)})")
    try:
        estate = build_estate(
            a.classes, a.allows, a.denies, a.asserts, a.gateways, a.seed, platforms
        )
    except ValueError as exc:
        ap.error(str(exc))
    if a.out is None:
        sys.stdout.write(zonewall_text(estate))
    else:
        for what, path in write_estate(estate, a.out).items():
            print(f"{what}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
