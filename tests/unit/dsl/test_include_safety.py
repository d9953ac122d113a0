"""Includes from a hostile policy: nothing outside the policy's folder, nothing echoed, no hang.

A pull request's policy is checked in CI with secrets in the environment, so an include must
never read (let alone print) a file outside the root policy's folder unless `--include-path`
allows that folder, and a file that is not a policy (FIFO, device, /proc file, directory,
not UTF-8) is an error that quotes nothing from it and never blocks.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import cli_util
from zonewall.cli import _parser
from zonewall.dsl.parser import MAX_INCLUDE_DEPTH
from zonewall.present.check import render_diagnostics
from zonewall.report import run_check

ROOT = Path(__file__).resolve().parents[3]
SECRET = "zw-secret-4f1c9a"
BODY = """\
service https = tcp/443
class a { vlan 10  subnet 10.0.0.0/24 }
class b { vlan 11  subnet 10.0.1.0/24 }
gateway fw { platform iptables  interface "eth1.{vlan}"  serves internal }
"""


def zonewall(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli_util.zonewall(*args, cwd=cwd, timeout=60, ZW_TEST_TOKEN=SECRET)


def policy(folder: Path, include: str, name: str = "p.zw") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(f'include "{include}"\n'.encode() + BODY.encode())
    return path


def codes(path: Path, *include_path: str) -> str:
    return render_diagnostics(run_check(str(path), include_path=include_path))


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_proc_self_environ_is_refused_and_nothing_is_echoed(tmp_path: Path, fmt: str) -> None:
    policy(tmp_path, "/proc/self/environ")
    proc = zonewall("check", "p.zw", "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 1
    assert "E111" in proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr and "PYTHONPATH" not in proc.stdout


@pytest.mark.parametrize(
    ("include", "why"),
    [
        ("/etc/hostname", "an absolute include path outside the allowed folders"),
        ("../outside.zw", "the include leads outside the allowed folders"),
        ("sub/../../outside.zw", "the include leads outside the allowed folders"),
        ("link.zw", "the include leads outside the allowed folders ('..' or a symlink)"),
    ],
)
def test_includes_leaving_the_folder_are_e111(tmp_path: Path, include: str, why: str) -> None:
    (tmp_path / "outside.zw").write_text(f"# {SECRET}\n")
    root = policy(tmp_path / "repo", include)
    os.symlink(tmp_path / "outside.zw", tmp_path / "repo" / "link.zw")
    text = codes(root)
    assert f"{root}:1:1: error[E111]: {why}" in text
    assert SECRET not in text


def test_dotdot_inside_the_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    (tmp_path / "repo" / "common.zw").write_text("service ssh = tcp/22\n")
    (tmp_path / "repo" / "sub" / "x.zw").write_text('include "../common.zw"\n')
    root = policy(tmp_path / "repo", "sub/x.zw")
    assert "error" not in codes(root)


def test_include_path_allows_another_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "services.zw").write_text("service ssh = tcp/22\n")
    for include in ("../shared/services.zw", str(shared / "services.zw")):
        root = policy(tmp_path / "repo", include)
        assert "E111" in codes(root)
        assert "error" not in codes(root, str(shared))


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "proc"])
def test_special_files_are_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    extra: list[str] = []
    if kind == "fifo":
        os.mkfifo(tmp_path / "inc.zw")
        reason = "not a regular file (a FIFO)"
    elif kind == "directory":
        (tmp_path / "inc.zw").mkdir()
        reason = "not a regular file (a directory)"
    elif kind == "device":
        os.symlink("/dev/zero", tmp_path / "inc.zw")
        extra = ["--include-path", "/dev"]
        reason = "not a regular file (a device)"
    else:
        os.symlink("/proc/self/environ", tmp_path / "inc.zw")
        extra = ["--include-path", "/proc"]
        reason = "not a regular file (a kernel pseudo-file)"
    policy(tmp_path, "inc.zw")
    proc = zonewall("check", "p.zw", *extra, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"error[E105]: cannot read included file 'inc.zw': {reason}" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


def test_not_utf8_include_quotes_nothing(tmp_path: Path) -> None:
    (tmp_path / "inc.zw").write_bytes(f"# {SECRET}\n\xff".encode("latin-1"))
    text = codes(policy(tmp_path, "inc.zw"))
    assert "error[E105]: 'inc.zw' is not UTF-8 text" in text.replace(str(tmp_path) + "/", "")
    assert SECRET not in text


def test_nul_in_an_include_path_is_a_diagnostic(tmp_path: Path) -> None:
    policy(tmp_path, "a\0b.zw")
    proc = zonewall("check", "p.zw", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "p.zw:1:1: error[E111]: include path contains a NUL character" in proc.stderr


@pytest.mark.parametrize("depth", [MAX_INCLUDE_DEPTH - 1, 490])
def test_deep_include_chains(tmp_path: Path, depth: int) -> None:
    for i in range(1, depth):
        (tmp_path / f"f{i}.zw").write_text(f'include "f{i + 1}.zw"\n')
    (tmp_path / f"f{depth}.zw").write_text("service ssh = tcp/22\n")
    text = codes(policy(tmp_path, "f1.zw"))
    if depth < MAX_INCLUDE_DEPTH:
        assert "error" not in text
    else:
        assert f"error[E109]: includes are nested more than {MAX_INCLUDE_DEPTH} files deep" in text


def test_diff_git_keeps_includes_inside(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pol").mkdir(parents=True)
    (repo / "outside.zw").write_text(f"# {SECRET}\nservice ssh = tcp/22\n")
    policy(repo / "pol", "../outside.zw")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    policy(repo / "pol", "../outside.zw")
    proc = zonewall("diff", "--git", "HEAD", "pol/p.zw", cwd=repo)
    assert proc.returncode == 1
    assert "old policy" in proc.stderr and "E111" in proc.stderr and SECRET not in proc.stderr
    proc = zonewall("diff", "--git", "HEAD", "pol/p.zw", "--include-path", ".", cwd=repo)
    assert proc.returncode == 0, proc.stderr


def test_every_command_that_reads_policies_takes_include_path(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "s.zw").write_text('service ssh = tcp/22\nallow a -> b : ssh "x"\n')
    root = policy(tmp_path / "repo", "../shared/s.zw")
    out = tmp_path / "out"
    runs = {
        "check": ["check", str(root)],
        "build": ["build", str(root), "-o", str(out)],
        "explain": ["explain", str(root), "a", "b"],
        "matrix": ["matrix", str(root)],
        "graph": ["graph", str(root)],
        "diff": ["diff", str(root), str(root)],
        "audit": ["audit", str(root), "--gateway", "fw", "--config", str(out / "fw.rules")],
    }
    allow = ["--include-path", str(tmp_path / "shared")]
    for name, args in runs.items():
        # audit cannot run against a policy with errors: exit 2 ("cannot audit")
        assert zonewall(*args, cwd=tmp_path).returncode == (2 if name == "audit" else 1), name
        proc = zonewall(*args, *allow, cwd=tmp_path)
        assert proc.returncode == 0, (name, proc.stderr)
    # lab needs root and network namespaces: only its option is checked here
    assert _parser().parse_args(["lab", "p.zw", *allow]).include_path == allow[1:]
    with pytest.raises(SystemExit):
        _parser().parse_args(["fmt", "p.zw", *allow])
