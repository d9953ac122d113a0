"""The command line as people already know it (issue #13 item 3): -V, bare `zonewall`,
`--help` with an example and exit codes, `-` for standard input, `init`, `--quiet`, a progress
line only on a terminal, and usage mistakes answered as usage mistakes."""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import pytest

from cli_util import zonewall
from zonewall.cli import EXIT_USAGE, _parser, _Progress
from zonewall.cli_args import EXAMPLES, EXIT_CODES
from zonewall.starter import STARTER

ROOT = Path(__file__).resolve().parents[1]
HOSPITAL = ROOT / "examples" / "hospital.zw"


def test_version_short_and_long() -> None:
    for flag in ("-V", "--version"):
        proc = zonewall(flag)
        assert proc.returncode == 0 and proc.stdout.startswith("zonewall ")


def test_bare_zonewall_prints_the_help() -> None:
    proc = zonewall()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: zonewall")
    for command in EXIT_CODES:
        assert f"    {command} " in proc.stdout  # every subcommand listed with its summary


@pytest.mark.parametrize("command", sorted(EXIT_CODES))
def test_each_command_help_has_a_summary_an_example_and_exit_codes(command: str) -> None:
    text = _parser()._subparsers._group_actions[0].choices[command].format_help()  # type: ignore[union-attr]
    assert "example:\n  " + EXAMPLES[command] in text
    assert "exit codes:\n  0 " in text
    if command == "lab":
        assert "root" in text


def test_every_example_in_the_help_parses() -> None:
    """The examples are real command lines: the parser accepts each zonewall invocation."""
    for example in EXAMPLES.values():
        for part in example.split("&&"):
            words = part.split(">")[0].split()
            if words and words[0] == "sudo":
                words = words[1:]
            if words and words[0] == "zonewall":
                _parser().parse_args(words[1:])


def test_the_policy_can_come_from_standard_input(tmp_path: Path) -> None:
    text = HOSPITAL.read_text()
    proc = zonewall("check", "-", stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("<stdin>: ")
    broken = zonewall("check", "-", stdin="class x { vlan }\n")
    assert broken.returncode == 1 and "<stdin>:1:" in broken.stderr
    out = tmp_path / "out"
    built = zonewall(
        "build", "-", "-o", str(out), stdin=(ROOT / "examples" / "deny-beats-allow.zw").read_text()
    )
    assert built.returncode == 0, built.stderr
    assert (out / "manifest.json").is_file()


def test_standard_input_includes_stay_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "part.zw").write_text("service https = tcp/443\n")
    ok = zonewall("check", "-", stdin='include "part.zw"\n', cwd=tmp_path)
    assert "E111" not in ok.stderr and "Traceback" not in ok.stderr
    escape = zonewall("check", "-", stdin='include "../x.zw"\n', cwd=tmp_path)
    assert escape.returncode == 1 and "E111" in escape.stderr


def test_init_writes_a_starter_that_checks_and_builds_clean(tmp_path: Path) -> None:
    site = tmp_path / "p"
    proc = zonewall("init", str(site))
    assert proc.returncode == 0, proc.stderr
    policy = site / "policy.zw"
    assert policy.read_text() == STARTER
    check = zonewall("check", str(policy), "--warnings-as-errors")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 warning(s)" in check.stdout
    assert zonewall("fmt", "--check", str(policy)).returncode == 0
    build = zonewall("build", str(policy), "-o", str(site / "out"), "--warnings-as-errors")
    assert build.returncode == 0, build.stdout + build.stderr
    again = zonewall("init", str(site))  # never overwrites
    assert again.returncode == 1 and "exists already" in again.stderr
    assert policy.read_text() == STARTER


def test_init_refuses_a_link_at_the_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "policy.zw").symlink_to(victim)
    proc = zonewall("init", str(tmp_path))
    assert proc.returncode == 1 and victim.read_text() == "keep"


def test_quiet_prints_only_what_fails_and_the_result(tmp_path: Path) -> None:
    loud = zonewall("check", str(HOSPITAL))
    quiet = zonewall("check", "-q", str(HOSPITAL))
    assert "PASS" in loud.stdout and "PASS" not in quiet.stdout
    assert quiet.stdout.splitlines() == loud.stdout.splitlines()[-1:]
    failing = zonewall("check", "--quiet", "examples/failures/transitive-path.zw")
    assert failing.returncode == 1
    assert "FAIL" in failing.stdout and "PASS" not in failing.stdout
    built = zonewall("build", "-q", str(HOSPITAL), "-o", str(tmp_path / "o"))
    assert built.returncode == 0
    assert built.stdout.startswith("wrote ") and len(built.stdout.splitlines()) == 1
    assert built.stderr == ""


def test_build_output_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "good.zw"
    policy.write_text(STARTER)
    proc = zonewall("build", str(policy), "-o", str(policy))
    assert proc.returncode == EXIT_USAGE
    assert "is the policy file itself" in proc.stderr
    assert "-o takes the output folder" in proc.stderr
    assert policy.read_text() == STARTER
    assert ":1:1" not in proc.stderr
    other = tmp_path / "notes.txt"
    other.write_text("x")
    proc = zonewall("build", str(policy), "-o", str(other))
    assert proc.returncode == EXIT_USAGE and "exists and is not a folder" in proc.stderr
    proc = zonewall("build", str(policy), "-o", str(tmp_path / "new.zw"))
    assert proc.returncode == EXIT_USAGE and not (tmp_path / "new.zw").exists()


@pytest.mark.parametrize(
    ("ends", "flag"),
    [
        (("10.40.0.130", "ehr_app"), "--src-ip 10.40.0.130"),
        (("guest_wifi", "10.43.200.1"), "--dst-ip 10.43.200.1"),
        (("10.40.0.0/24", "ehr_app"), "--src-ip 10.40.0.0/24"),
    ],
)
def test_explain_points_an_address_to_its_option(ends: tuple[str, str], flag: str) -> None:
    proc = zonewall("explain", str(HOSPITAL), *ends)
    assert proc.returncode == EXIT_USAGE
    assert flag in proc.stderr and "Traceback" not in proc.stderr


def test_progress_never_reaches_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with _Progress("build") as progress:  # StringIO is no terminal
        progress.start -= 10
        progress.step(1, 2, "proving fw")
    assert err.getvalue() == ""


def test_progress_on_a_terminal_erases_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.delenv("CI", raising=False)
    with _Progress("build") as progress:
        progress.step(0, 2, "too early: under a second")
        progress.start -= 10
        progress.step(1, 2, "proving fw")
    assert "too early" not in err.getvalue()
    assert err.getvalue() == "\r\033[Kzonewall build: 1/2 proving fw\r\033[K"
    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    with _Progress("build", quiet=True) as progress:
        progress.start -= 10
        progress.step(1, 2, "proving fw")
    assert err.getvalue() == ""


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from zonewall.cli import _colour_wanted
    from zonewall.diagnostics import Severity
    from zonewall.present.check import render_diagnostics
    from zonewall.report import run_check

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert _colour_wanted(Tty()) and not _colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "")
    assert not _colour_wanted(Tty())  # set at all, whatever its value
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not _colour_wanted(Tty())
    report = run_check(str(ROOT / "examples/failures/transitive-path.zw"))
    plain = render_diagnostics(report)
    painted = render_diagnostics(report, colour=True)
    assert "\033[1;31merror[E301]\033[0m: assertion" in painted
    assert "| \033[1;31m^^^" in painted
    # colour adds escape sequences and nothing else
    assert painted.replace("\033[1;31m", "").replace("\033[0m", "") == plain
    assert "\033" not in zonewall("check", "examples/failures/transitive-path.zw").stderr
    warning = dataclasses.replace(report.diagnostics[0], severity=Severity.WARNING)
    warned = render_diagnostics(dataclasses.replace(report, diagnostics=[warning]), colour=True)
    assert "\033[1;33mwarning[E301]\033[0m" in warned and "\033[1;33m^^^" in warned


def test_colour_reaches_stderr_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI paints what it writes to a terminal (here a stand-in) and nothing else."""
    from zonewall import cli

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    policy = str(ROOT / "examples/failures/transitive-path.zw")
    monkeypatch.setattr(cli, "_colour_wanted", lambda stream: True)
    assert cli.main(["check", policy]) == 1
    assert "\033[1;31merror[E301]\033[0m" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_colour_wanted", lambda stream: False)
    assert cli.main(["check", policy]) == 1
    assert "\033" not in capsys.readouterr().err
