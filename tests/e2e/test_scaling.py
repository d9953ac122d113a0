"""Scaling smoke test: a generated 300-class estate builds end to end (not timed).

The estate comes from `benchmarks/generate.py`, the generator the benchmarks use, imported by
path: 300 classes, 10,000 allows (the size of issue #5's first target), 50 denies, 100
assertions, four gateways alternating iptables and cisco-ios (with object groups).  Timings
live in BENCHMARKS.md, never in the test suite; this test only shows that an estate of that size
compiles clean, proves its assertions, passes translation validation and writes a config for
every gateway, and that the Aerleon side of the estate names the same addresses zonewall
allocated.  It takes about 15 s on a 2-core machine: a quadratic regression shows as a slow CI.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import yaml

from zonewall.build import build

GENERATOR = Path(__file__).resolve().parents[2] / "benchmarks" / "generate.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zonewall_bench_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_300_class_estate_builds_end_to_end(tmp_path: Path) -> None:
    gen = load_generator()
    estate = gen.build_estate(
        classes=300,
        allows=10000,
        denies=50,
        asserts=100,
        gateways=4,
        seed=1,
        platforms=("iptables", "cisco-ios"),
    )
    paths = gen.write_estate(estate, tmp_path / "estate")
    out = tmp_path / "out"

    result = build(str(paths["zonewall"]), str(out))

    errors = [d for d in result.diagnostics if d.is_error]
    assert errors == [] and result.written
    assert len(result.check.assertions) == 100
    assert all(a.status in ("pass", "accepted") for a in result.check.assertions)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    configs = {o["gateway"]: o for o in manifest["outputs"] if o["kind"] == "config"}
    assert sorted(configs) == sorted(g.name for g in estate.gateways)
    for gw in estate.gateways:
        entry = configs[gw.name]
        assert entry["platform"] == gw.platform
        assert entry["rules"] > 0
        assert (out / entry["path"]).stat().st_size > 0

    # Both tools see the same addresses: the Aerleon definitions hold zonewall's allocation.
    compiled = result.check.compiled
    assert compiled is not None
    networks = yaml.safe_load((paths["aerleon_defs"] / "networks.yaml").read_text())["networks"]
    for cls in compiled.classes:
        assert [v["address"] for v in networks[cls.name]["values"]] == [
            str(p) for p in cls.prefixes
        ]
    policy = yaml.safe_load((paths["aerleon_policies"] / "pol" / "estate.yaml").read_text())[
        "filters"
    ][0]
    assert set(policy["header"]["targets"]) == {"iptables", "cisco"}
    actions = [t["action"] for t in policy["terms"]]
    assert actions == sorted(actions, key=lambda a: a != "deny")  # denies first: first match
    statements = {t["name"].split("-")[0] for t in policy["terms"]}
    assert len(statements) == len(estate.rules)
