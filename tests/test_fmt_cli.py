"""`zonewall fmt FILE... [--check] [--diff]` end to end: exit codes, what is written, what not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cli_util import in_process
from zonewall.dsl import printer

ROOT = Path(__file__).resolve().parent.parent
DIAG = ROOT / "tests" / "diagnostics"
MESSY = "allow a->b:https   # why\n\n\n\ndeny b->a\n"
TIDY = "allow a -> b : https  # why\n\ndeny b -> a\n"
SYNTAX_CASES = sorted(
    p.stem
    for p in DIAG.glob("*.err")
    if any(f"error[{c}]" in p.read_text(encoding="utf-8") for c in ("E101", "E102", "E103"))
    or p.stem == "not-utf8"
)


run = in_process


def policy(tmp_path: Path, text: str, name: str = "p.zw") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_rewrites_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = policy(tmp_path, MESSY)
    assert run(capsys, "fmt", str(path)) == (0, "", f"reformatted {path}\n")
    assert path.read_text(encoding="utf-8") == TIDY
    assert run(capsys, "fmt", str(path)) == (0, "", "")  # nothing to do: silent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.zw"]  # no temporary left over


def test_check_names_unformatted_files_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messy, tidy = policy(tmp_path, MESSY, "messy.zw"), policy(tmp_path, TIDY, "tidy.zw")
    assert run(capsys, "fmt", "--check", str(tidy)) == (0, "", "")
    assert run(capsys, "fmt", "--check", str(tidy), str(messy)) == (
        1,
        "",
        f"would reformat {messy}\n",
    )
    assert messy.read_text(encoding="utf-8") == MESSY


def test_crlf_and_bom_are_not_formatted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("\ufeff" + TIDY, TIDY.replace("\n", "\r\n")):
        path = policy(tmp_path, text)
        assert run(capsys, "fmt", "--check", str(path))[0] == 1
        assert run(capsys, "fmt", str(path))[0] == 0
        assert path.read_bytes() == TIDY.encode("utf-8")


def test_diff_prints_a_patch_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = policy(tmp_path, MESSY)
    code, out, err = run(capsys, "fmt", "--diff", str(path))
    assert (code, err) == (0, "")
    assert out.startswith(f"--- {path}\n+++ {path}\n@@ ")
    assert "-allow a->b:https   # why\n+allow a -> b : https  # why\n" in out
    assert path.read_text(encoding="utf-8") == MESSY
    assert run(capsys, "fmt", "--check", "--diff", str(path)) == (
        1,
        out,
        f"would reformat {path}\n",
    )
    if shutil.which("patch"):
        subprocess.run(["patch", "-s", "-p0"], input=out, text=True, cwd="/", check=True)
        assert path.read_text(encoding="utf-8") == TIDY


def test_diff_of_a_file_without_final_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = policy(tmp_path, "deny b -> a")
    code, out, _ = run(capsys, "fmt", "--diff", str(path))
    assert code == 0
    assert out.endswith("-deny b -> a\n\\ No newline at end of file\n+deny b -> a\n")


def test_syntax_cases_are_found() -> None:
    assert {"syntax-missing-arrow", "unexpected-end", "unterminated-string", "not-utf8"} <= set(
        SYNTAX_CASES
    )


@pytest.mark.parametrize("case", SYNTAX_CASES)
def test_syntax_errors_are_reported_as_check_does_and_nothing_is_written(
    case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)
    path = f"tests/diagnostics/{case}.zw"
    before = (ROOT / path).read_bytes()
    for flags in ((), ("--check",), ("--diff",)):
        code, out, err = run(capsys, "fmt", *flags, path)
        assert (code, out) == (1, "")
        assert err == (DIAG / f"{case}.err").read_text(encoding="utf-8")
    assert (ROOT / path).read_bytes() == before


def test_good_files_are_formatted_next_to_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = policy(tmp_path, "allow a b\n", "bad.zw")
    good = policy(tmp_path, MESSY, "good.zw")
    code, out, err = run(capsys, "fmt", str(bad), str(good), str(tmp_path / "missing.zw"))
    assert code == 1
    assert f"{bad}:1:9: error[E101]: unexpected name 'b'" in err
    assert f"{tmp_path / 'missing.zw'}:1:1: error[E105]: cannot read policy file" in err
    assert f"reformatted {good}\n" in err
    assert bad.read_text(encoding="utf-8") == "allow a b\n"
    assert good.read_text(encoding="utf-8") == TIDY


def test_includes_are_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lib").mkdir()
    included = policy(tmp_path / "lib", MESSY, "common.zw")
    root = policy(tmp_path, 'include   "lib/common.zw";\ninclude "lib/missing.zw"\n')
    assert run(capsys, "fmt", str(root))[0] == 0
    assert root.read_text(encoding="utf-8") == 'include "lib/common.zw"\ninclude "lib/missing.zw"\n'
    assert included.read_text(encoding="utf-8") == MESSY


def test_permissions_and_symlinks_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = policy(tmp_path, MESSY, "real.zw")
    target.chmod(0o640)
    link = tmp_path / "link.zw"
    link.symlink_to(target)
    assert run(capsys, "fmt", str(link))[0] == 0
    assert link.is_symlink() and target.read_text(encoding="utf-8") == TIDY
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write into a read-only folder"
)
def test_an_unwritable_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = policy(tmp_path, MESSY)
    tmp_path.chmod(0o500)
    try:
        code, _, err = run(capsys, "fmt", str(path))
    finally:
        tmp_path.chmod(0o700)
    assert code == 1 and err.startswith(f"zonewall fmt: cannot write '{path}': ")
    assert path.read_text(encoding="utf-8") == MESSY


def test_a_failed_write_leaves_the_file_and_no_temporary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zonewall.fmt

    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    path = policy(tmp_path, MESSY)
    monkeypatch.setattr(zonewall.fmt.os, "replace", full)
    assert run(capsys, "fmt", str(path)) == (
        1,
        "",
        f"zonewall fmt: cannot write '{path}': No space left on device\n",
    )
    assert path.read_text(encoding="utf-8") == MESSY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.zw"]


def test_a_printer_bug_writes_nothing_and_exits_70(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = policy(tmp_path, MESSY)
    monkeypatch.setattr(printer, "_format", lambda cst: "allow b -> a\n")
    code, _, err = run(capsys, "fmt", str(path))
    assert code == 70 and "internal error (this is a bug" in err and "PrinterBug" in err
    assert path.read_text(encoding="utf-8") == MESSY


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "fmt")[0] == 2
    assert run(capsys, "fmt", "--frobnicate", "x.zw")[0] == 2


def test_as_a_command(tmp_path: Path) -> None:
    path = policy(tmp_path, MESSY)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "zonewall", "fmt", "--check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"would reformat {path}\n")


def test_every_example_is_in_canonical_layout() -> None:
    from zonewall.fmt import format_file

    checked = 0
    for path in sorted((ROOT / "examples").rglob("*.zw")):
        result = format_file(str(path))
        if result.formatted is None:  # the syntax-error example: nothing to lay out
            assert any(d.code.startswith("E1") for d in result.diagnostics), path
            continue
        assert not result.changed, f"run `zonewall fmt {path.relative_to(ROOT)}`"
        checked += 1
    assert checked >= 10
