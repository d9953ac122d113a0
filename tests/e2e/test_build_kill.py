"""`build` killed (SIGKILL) at every step of its write phase, then built again.

The build runs in a subprocess whose file-system calls of the write phase (`os.open` with a
folder descriptor, `os.rename`, `os.unlink`, `os.fsync`) are counted; at the Nth one the
process kills itself, for every N.  Whatever N, the folder must be, by the manifest present,
entirely the old build or entirely the new one, or hold no manifest at all (an interrupted
build, which README tells deployers never to deploy); `SHA256SUMS`, when present, must match.
A build after the kill must leave exactly the new build and no leftover.  The same holds for
kills from outside at random moments of the whole run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zonewall.build import build

ROOT = Path(__file__).resolve().parents[2]

OLD = """\
service https = tcp/443
class a { vlan 10  subnet 10.0.0.0/24 }
class b { vlan 11  subnet 10.0.1.0/24 }
allow a -> b : https  "web"
gateway fw { platform iptables  interface "eth1.{vlan}"  serves internal }
"""
# another gateway name (so the old configs become stale) and another flow
NEW = OLD.replace("fw {", "edge {").replace("a -> b", "b -> a")

KILLER = """\
import os, signal, sys
from zonewall.cli import main
limit, seen = int(sys.argv[1]), [0]
def counted(fn, only_dir_fd=False):
    def call(*args, **kwargs):
        if not only_dir_fd or kwargs.get("dir_fd") is not None:
            seen[0] += 1
            if seen[0] == limit:
                os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return call
os.open = counted(os.open, only_dir_fd=True)
os.rename, os.unlink, os.fsync = counted(os.rename), counted(os.unlink), counted(os.fsync)
code = main(sys.argv[2:])
sys.stderr.write(f"steps: {seen[0]}\\n")
sys.exit(code)
"""


def run_killed(limit: int, policy: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-c", KILLER, str(limit), "build", str(policy), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def state_of(folder: Path, old: dict[str, bytes], new: dict[str, bytes]) -> str:
    """'old', 'new' or 'interrupted' (no manifest); fails on any torn state."""
    now = {k: v for k, v in files(folder).items() if not k.startswith(".")}
    if "SHA256SUMS" in now:  # what `sha256sum -c SHA256SUMS` checks
        for line in now["SHA256SUMS"].decode().splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(now[name]).hexdigest() == digest, f"SHA256SUMS: {name}"
    if "manifest.json" not in now:
        return "interrupted"
    listed = json.loads(now["manifest.json"])["outputs"]
    for entry in listed:
        assert hashlib.sha256(now[entry["path"]]).hexdigest() == entry["sha256"], entry["path"]
    for name, want in (("old", old), ("new", new)):
        if now["manifest.json"] == want["manifest.json"]:
            assert {e["path"] for e in listed} | {"manifest.json", "SHA256SUMS"} == set(want)
            return name
    raise AssertionError("a manifest that is neither the old nor the new one")


def test_kill_at_every_step_of_the_write_phase(tmp_path: Path) -> None:
    policy = tmp_path / "p.zw"
    policy.write_text(NEW)
    reference = tmp_path / "new"
    assert build(str(policy), str(reference)).written
    new = files(reference)
    policy.write_text(OLD)
    base = tmp_path / "old"
    assert build(str(policy), str(base)).written
    old = files(base)
    policy.write_text(NEW)

    probe = tmp_path / "probe"
    shutil.copytree(base, probe)
    proc = run_killed(0, policy, probe)
    assert proc.returncode == 0, proc.stderr
    steps = int(proc.stderr.rsplit("steps: ", 1)[1])
    assert steps >= 20  # lock, record, 7 temporaries, renames, removals, fsyncs
    seen = set()
    for limit in range(1, steps + 1):
        out = tmp_path / f"k{limit}"
        shutil.copytree(base, out)
        proc = run_killed(limit, policy, out)
        assert proc.returncode == -signal.SIGKILL, (limit, proc.stderr)
        seen.add(state_of(out, old, new))
        result = build(str(policy), str(out))
        assert result.written
        assert files(out) == new, f"killed at step {limit}: the next build left {files(out)}"
    assert seen == {"old", "interrupted", "new"}


@pytest.mark.slow
def test_kill_at_random_moments_of_the_whole_build(tmp_path: Path) -> None:
    """SIGKILL from outside at seeded random moments over the whole run (start-up, check,
    render, proof, write phase), as a CI runner or the OOM killer would."""
    policy = tmp_path / "p.zw"
    policy.write_text(NEW)
    reference = tmp_path / "new"
    assert build(str(policy), str(reference)).written
    new = files(reference)
    policy.write_text(OLD)
    base = tmp_path / "old"
    assert build(str(policy), str(base)).written
    old = files(base)
    policy.write_text(NEW)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    argv = [sys.executable, "-m", "zonewall", "build", str(policy), "-o"]
    start = time.monotonic()
    subprocess.run([*argv, str(tmp_path / "timed")], env=env, check=True, capture_output=True)
    took = time.monotonic() - start
    rnd = random.Random(12)
    for i in range(8):
        out = tmp_path / f"r{i}"
        shutil.copytree(base, out)
        proc = subprocess.Popen([*argv, str(out)], env=env, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.0, took))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
        state_of(out, old, new)  # old, new or interrupted, never torn
        assert build(str(policy), str(out)).written
        assert files(out) == new, f"killed after {i}: the next build left {files(out)}"
