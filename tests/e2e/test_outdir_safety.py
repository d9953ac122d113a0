"""A hostile output folder: planted symlinks, FIFOs, devices and forged manifests.

Someone who can write to the output folder (a shared CI workspace) must never make `build`,
`matrix -o` or `graph -o` write, read or delete a file outside it, and never make it block.
Temporary names are random; to plant links at *every* name a run could use, the tests fix the
random source (`secrets.token_hex`) to a known sequence and plant a link at each name of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zonewall import atomic
from zonewall.build import build
from zonewall.cli import main
from zonewall.present.check import render_diagnostics

ROOT = Path(__file__).resolve().parents[2]

POLICY = """\
service https = tcp/443
class a { vlan 10  subnet 10.0.0.0/24 }
class b { vlan 11  subnet 10.0.1.0/24 }
allow a -> b : https  "web"
gateway fw { platform iptables  interface "eth1.{vlan}"  serves internal }
"""
NAMES = [
    "SHA256SUMS",
    "fw-interfaces.sh",
    "fw.rules",
    "manifest.json",
    "vlan-plan.csv",
    "vlan-plan.md",
    "vlan-plan.yaml",
]
VICTIM_TEXT = "outside the output folder: must never change\n"


@pytest.fixture
def policy(tmp_path: Path) -> str:
    path = tmp_path / "p.zw"
    path.write_text(POLICY)
    return str(path)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


def tokens(count: int) -> list[str]:
    return [f"{i:016x}" for i in range(count)]


@pytest.fixture
def fixed_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every temporary name of this run is from `tokens(200)`, in order."""
    seq = tokens(200)
    it: Iterator[str] = iter(seq)
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(it))
    return seq


def snapshot(folder: Path) -> dict[str, str]:
    """Each entry of the folder: a link's target, or a file's sha256."""
    out: dict[str, str] = {}
    for entry in sorted(os.listdir(folder)):
        path = folder / entry
        if path.is_symlink():
            out[entry] = "-> " + os.readlink(path)
        elif path.is_file():
            out[entry] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[entry] = "special"
    return out


def consistent(folder: Path) -> bool:
    """The manifest present lists exactly the files there, each with its sha256."""
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {o["path"]: o["sha256"] for o in manifest["outputs"]}
    for name, digest in listed.items():
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            return False
    return True


@pytest.mark.parametrize("taken", [60, 200], ids=["some-names", "every-name"])
def test_links_at_every_temporary_name_are_never_followed(
    policy: str, victim: Path, tmp_path: Path, fixed_tokens: list[str], taken: int
) -> None:
    """Links at the first names (the build takes the next free ones) or at every name the
    build could draw (it gives up after 100 tries per file, E403, and changes nothing)."""
    out = tmp_path / "out"
    out.mkdir()
    planted = 0
    for token in fixed_tokens[:taken]:
        for name in NAMES:
            os.symlink(victim, out / f".{name}.zw-{token}.tmp")
            planted += 1
    # the names of the zonewall versions before this one, for a range of process ids
    for pid in range(os.getpid() - 50, os.getpid() + 50):
        for name in NAMES:
            os.symlink(victim, out / f".{name}.tmp-{pid}")
    before = snapshot(out)
    result = build(policy, str(out))
    assert victim.read_text() == VICTIM_TEXT
    if taken == len(fixed_tokens):
        assert "no free temporary name" in render_diagnostics(result.check)
        assert not result.written and snapshot(out) == before
        return
    assert result.written, render_diagnostics(result.check)
    for name in NAMES:
        assert (out / name).is_file() and not (out / name).is_symlink()
    assert consistent(out)
    links = [p for p in out.iterdir() if p.is_symlink()]
    assert len(links) == planted + 100 * len(NAMES)  # links are not ours to remove
    assert all(os.readlink(p) == str(victim) for p in links)


@pytest.mark.parametrize("name", NAMES)
def test_a_link_at_an_output_name_is_refused(
    policy: str, victim: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    assert build(policy, str(out)).written
    (out / name).unlink()
    os.symlink(victim, out / name)
    before = snapshot(out)
    result = build(policy, str(out))
    assert not result.written
    text = render_diagnostics(result.check)
    assert "E403" in text and f"'{out / name}' is a symbolic link, not a regular file" in text
    assert snapshot(out) == before and victim.read_text() == VICTIM_TEXT


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_special_files_at_output_names_refused_without_blocking(
    policy: str, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("manifest.json" if kind != "directory" else "vlan-plan.yaml")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", target)
    else:
        target.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "zonewall", "build", policy, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert f"error[E403]: cannot write to '{out}': '{target}' is" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert os.listdir(out) == [target.name]


def test_a_directory_in_the_way_leaves_the_old_build_consistent(
    policy: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert build(policy, str(out)).written
    old = snapshot(out)
    Path(policy).write_text(POLICY.replace("10.0.1.0/24", "10.0.2.0/24"))
    (out / "vlan-plan.yaml").unlink()
    (out / "vlan-plan.yaml").mkdir()
    result = build(policy, str(out))
    assert not result.written
    assert f"'{out / 'vlan-plan.yaml'}' is a directory" in render_diagnostics(result.check)
    now = snapshot(out)
    assert now == old | {"vlan-plan.yaml": "special"}


def test_output_folder_that_is_a_link_is_refused(policy: str, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "out")
    result = build(policy, str(tmp_path / "out"))
    assert not result.written and os.listdir(real) == []
    assert "is a symbolic link (to" in render_diagnostics(result.check)


def test_another_users_link_above_the_folder_is_not_followed(policy: str, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a link owned by another user")
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "planted")
    os.lchown(tmp_path / "planted", 4242, 4242)
    result = build(policy, str(tmp_path / "planted" / "out"))
    assert not result.written and os.listdir(real) == []
    assert "is a symbolic link owned by another user (uid 4242)" in render_diagnostics(result.check)


def test_forged_manifest_cannot_remove_anything_outside(
    policy: str, victim: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert build(policy, str(out)).written
    inside = tmp_path / "inside-victim.txt"
    inside.write_text(VICTIM_TEXT)
    os.symlink(inside, out / "link.rules")
    forged = [
        {"path": p}
        for p in (
            "../victim.txt",
            str(victim),
            "link.rules",
            ".",
            "..",
            ".hidden",
            "a/../../victim.txt",
        )
    ]
    doc = json.loads((out / "manifest.json").read_text())
    doc["outputs"] += forged
    (out / "manifest.json").write_text(json.dumps(doc))
    assert build(policy, str(out)).written
    assert victim.read_text() == VICTIM_TEXT and inside.read_text() == VICTIM_TEXT
    assert (out / "link.rules").is_symlink()  # listed, but a link: not removed
    assert consistent(out)


def test_leftovers_are_removed_but_never_through_a_link(
    policy: str, victim: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".fw.rules.zw-00000000deadbeef.tmp").write_text("half a file")
    (out / ".manifest.json.tmp-12345").write_text("half a manifest")
    (out / ".other.txt.tmp-12345").write_text("not ours: not a name zonewall writes")
    os.symlink(victim, out / ".vlan-plan.md.zw-00000000cafecafe.tmp")
    assert build(policy, str(out)).written
    left = sorted(p for p in os.listdir(out) if p.startswith("."))
    assert left == [".other.txt.tmp-12345", ".vlan-plan.md.zw-00000000cafecafe.tmp"]
    assert victim.read_text() == VICTIM_TEXT


def test_a_huge_manifest_is_not_read(
    policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zonewall import outdir

    out = tmp_path / "out"
    assert build(policy, str(out)).written
    (out / "gone.rules").write_text("stale")
    doc = json.loads((out / "manifest.json").read_text())
    doc["outputs"].append({"path": "gone.rules"})
    (out / "manifest.json").write_text(json.dumps(doc))
    monkeypatch.setattr(outdir, "MAX_MANIFEST_BYTES", 64)
    assert build(policy, str(out)).written  # as if there were no manifest: nothing removed
    assert (out / "gone.rules").exists()


@pytest.mark.parametrize("command", [["matrix", "--format", "csv"], ["graph"]])
def test_matrix_and_graph_output_never_follow_links(
    policy: str,
    victim: Path,
    tmp_path: Path,
    fixed_tokens: list[str],
    command: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = tmp_path / "doc.txt"
    for token in fixed_tokens[:60]:
        os.symlink(victim, tmp_path / f".doc.txt.zw-{token}.tmp")
    for pid in range(os.getpid() - 50, os.getpid() + 50):
        os.symlink(victim, tmp_path / f".doc.txt.tmp-{pid}")
    assert main([command[0], policy, *command[1:], "-o", str(doc)]) == 0
    assert doc.is_file() and not doc.is_symlink() and doc.read_text()
    assert victim.read_text() == VICTIM_TEXT
    doc.unlink()
    os.symlink(victim, doc)
    assert main([command[0], policy, *command[1:], "-o", str(doc)]) == 1
    assert "is a symbolic link, not a regular file" in capsys.readouterr().err
    assert victim.read_text() == VICTIM_TEXT and doc.is_symlink()


def test_fmt_temporary_file_is_exclusive(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fmt writes through a link the user named, but never through a planted temporary name."""
    import tempfile

    names = [f"n{i:05d}" for i in range(100)]
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: iter(names))
    real = tmp_path / "real.zw"
    real.write_text("class  a {  vlan 10 subnet 10.0.0.0/24 }\n")
    os.symlink(real, tmp_path / "named.zw")
    for name in names[:99]:
        os.symlink(victim, tmp_path / f".real.zw.{name}.tmp")
    assert main(["fmt", str(tmp_path / "named.zw")]) == 0
    assert victim.read_text() == VICTIM_TEXT
    assert real.read_text() == "class a { vlan 10  subnet 10.0.0.0/24 }\n"
    assert (tmp_path / "named.zw").is_symlink()
