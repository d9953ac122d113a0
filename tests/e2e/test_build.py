"""End to end: `zonewall build` on every example, compared byte for byte with e2e/expected/.

Regenerate with `pytest --update-golden` and review the diff.  Also: two builds under different
PYTHONHASHSEED give identical bytes, and a policy whose check fails leaves the output directory
exactly as it was.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import cli_util

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).parent / "expected"
EXAMPLES = sorted((ROOT / "examples").glob("*.zw"))


def zonewall(*args: str, seed: str = "0", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return cli_util.zonewall(*args, cwd=cwd, PYTHONHASHSEED=seed)


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_build_matches_expected(
    example: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "out"
    proc = zonewall("build", str(example.relative_to(ROOT)), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    got = tree(out)
    expected_dir = EXPECTED / example.stem
    if request.config.getoption("--update-golden"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
        return
    want = tree(expected_dir)
    assert sorted(got) == sorted(want), "the set of output files changed"
    for name in sorted(want):
        if got[name] != want[name]:
            diff = "".join(
                difflib.unified_diff(
                    want[name].decode().splitlines(True),
                    got[name].decode().splitlines(True),
                    f"expected/{name}",
                    f"built/{name}",
                )
            )
            pytest.fail(f"{name} differs from the expected output:\n{diff[:6000]}")


def test_build_is_deterministic_across_hash_seeds(tmp_path: Path) -> None:
    outs = []
    for seed in ("1", "4242"):
        out = tmp_path / f"out{seed}"
        proc = zonewall("build", "examples/hospital.zw", "-o", str(out), seed=seed)
        assert proc.returncode == 0, proc.stderr
        outs.append(tree(out))
    assert outs[0] == outs[1]


def test_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert zonewall("build", "examples/hospital.zw", "-o", str(out)).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["zonewall_version"] == "0.1.0"
    assert [f["path"] for f in manifest["policy"]["files"]] == ["examples/hospital.zw"]
    listed = {o["path"]: o for o in manifest["outputs"]}
    assert set(listed) | {"manifest.json", "SHA256SUMS"} == set(tree(out))
    sums = (out / "SHA256SUMS").read_text().splitlines()
    assert sums == [f"{listed[name]['sha256']}  {name}" for name in sorted(listed)]
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert entry["kind"] in (
            "config",
            "ipv6-companion",
            "switch-config",
            "interface-config",
            "vlan-plan",
        )
    kinds = {o["kind"] for o in manifest["outputs"]}
    assert kinds == {"config", "ipv6-companion", "switch-config", "interface-config", "vlan-plan"}
    assert listed["core_fw-interfaces.sh"] | {"sha256": ""} == {
        "path": "core_fw-interfaces.sh",
        "gateway": "core_fw",
        "platform": "iptables",
        "kind": "interface-config",
        "sha256": "",
        "rules": None,
    }
    # the iptables gateway's IPv6 companion: its own hash and rule count
    (six,) = [o for o in manifest["outputs"] if o["kind"] == "ipv6-companion"]
    assert (six["path"], six["gateway"], six["platform"]) == (
        "core_fw.rules6",
        "core_fw",
        "iptables",
    )
    text = (out / "core_fw.rules6").read_text()
    assert six["rules"] == text.count("\n-A ") > 0
    platforms = {o["platform"] for o in manifest["outputs"] if o["kind"] == "config"}
    assert {"iptables", "cisco-ios"} <= platforms
    for entry in manifest["outputs"]:
        if entry["kind"] == "config":
            assert isinstance(entry["rules"], int) and entry["rules"] > 0


def test_failed_check_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("untouched")
    before = tree(out)
    proc = zonewall("build", "examples/failures/transitive-path.zw", "-o", str(out))
    assert proc.returncode == 1
    assert "E301" in proc.stderr and "nothing written" in proc.stdout
    assert tree(out) == before


def test_rebuild_removes_outputs_the_policy_no_longer_produces(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert zonewall("build", "examples/hospital.zw", "-o", str(out)).returncode == 0
    (out / "keep.txt").write_text("not ours")
    stale = out / "old_gw.rules"
    stale.write_text("old")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["outputs"].append(
        {
            "path": "old_gw.rules",
            "gateway": "old_gw",
            "platform": "iptables",
            "kind": "config",
            "sha256": "",
            "rules": 1,
        }
    )
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert zonewall("build", "examples/hospital.zw", "-o", str(out)).returncode == 0
    assert not stale.exists()
    assert (out / "keep.txt").read_text() == "not ours"
