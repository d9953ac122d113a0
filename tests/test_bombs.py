"""Resource bombs (issue #12 item 5): limits that refuse what would exhaust memory, each with a
diagnostic at a location, and diagnostics whose size does not multiply with the input.

The full-size cases are in `benchmarks/bombs.py` (run by hand; figures in BENCHMARKS.md); here
the limits are lowered so that small policies reach them, and the benchmark runs tiny once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zonewall import build as build_module
from zonewall.build import build
from zonewall.diagnostics import (
    PER_LINE,
    Diagnostic,
    DiagnosticSink,
    Severity,
    SourceLines,
    Span,
    render_diagnostic,
    source_lines,
)
from zonewall.dsl import parser
from zonewall.present.check import render_diagnostics
from zonewall.report import run_check

ROOT = Path(__file__).resolve().parent.parent
BODY = """\
pool subnets 10.0.0.0/16
pool vlans 10-99
service https = tcp/443
class a { hosts 4 }
class b { hosts 4 }
gateway fw { platform iptables  interface "eth1.{vlan}"  uplink "eth0"  serves internal }
"""


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_too_many_statements_is_e109_at_the_first_one_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parser, "MAX_STATEMENTS", 8)
    path = write(
        tmp_path, "p.zw", BODY + "allow a -> b : https\nallow b -> a : https\nallow a -> b\n"
    )
    text = render_diagnostics(run_check(path))
    assert "p.zw:9:1: error[E109]: the policy is too large: more than 8 statements" in text
    assert "^^^^^ statement 9 of the policy" in text


def test_the_statement_limit_counts_included_files_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parser, "MAX_STATEMENTS", 7)
    write(tmp_path, "rules.zw", "allow a -> b : https\nallow b -> a : https\n")
    path = write(tmp_path, "p.zw", BODY + 'include "rules.zw"\n')
    text = render_diagnostics(run_check(path))
    assert (
        "rules.zw:1:1: error[E109]: the policy is too large: more than 7 statements "
        "(its included files counted too" in text
    )


def test_too_many_tokens_is_e109(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "MAX_TOKENS", 40)
    path = write(tmp_path, "p.zw", BODY + "allow a -> b : https, https, https, https\n")
    text = render_diagnostics(run_check(path))
    assert "error[E109]: the policy is too large: more than 40 tokens" in text


def test_the_limit_is_met_before_a_later_syntax_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A syntax error after the limit: the parser stops at the limit, never reaching it.
    monkeypatch.setattr(parser, "MAX_STATEMENTS", 6)
    path = write(tmp_path, "p.zw", BODY + "allow a -> b\n}\n")
    assert "error[E109]" in render_diagnostics(run_check(path))


def test_policy_text_over_the_cap_in_all_files_is_e105(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parser, "MAX_FILE_BYTES", len(BODY) + 40)
    write(tmp_path, "more.zw", "# " + "x" * 60 + "\n")
    path = write(tmp_path, "p.zw", BODY + 'include "more.zw"\n')
    text = render_diagnostics(run_check(path))
    assert "error[E105]: cannot read included file" in text
    assert "p.zw:7:1:" in text


def test_diagnostics_of_one_code_on_one_line_are_capped() -> None:
    sink = DiagnosticSink()
    for col in range(1, 11):
        sink.error("E106", "bad", Span("f.zw", 1, col, 1, col + 1))
    sink.error("E106", "bad", Span("f.zw", 2, 1, 2, 2))  # another line: kept
    sink.error("E104", "bad", Span("f.zw", 1, 1, 1, 2))  # another code: kept
    assert sink.reported == 12
    assert [(d.span.line, d.code) for d in sink.items if d.span] == [(1, "E106")] * PER_LINE + [
        (2, "E106"),
        (1, "E104"),
    ]
    assert sink.items[PER_LINE - 1].notes == (("and 7 more error[E106] on this line", None),)


def test_ten_thousand_bad_escapes_print_a_few_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.zw",
        'class a { hosts 4 description "'
        + "\\q" * 10_000
        + '" }\n'
        + BODY.replace("class a { hosts 4 }\n", ""),
    )
    text = render_diagnostics(run_check(path))
    assert text.count("error[E106]: unknown escape") == PER_LINE
    assert "note: and 9997 more error[E106] on this line" in text
    assert len(text) < 3000


LONG = "x" * 500 + "\tBAD" + "y" * 500


@pytest.mark.parametrize(
    ("span", "shown", "caret"),
    [
        (
            Span("f", 1, 502, 1, 505),
            "..." + "x" * 99 + "\tBAD" + "y" * 100 + "...",
            " " * 102 + "\t^^^",
        ),
        (Span("f", 1, 3, 1, 900), "x" * 202 + "...", "  " + "^" * 200),
        (Span("f", 1, 1000, 1, 1005), "..." + "y" * 105, " " * 103 + "^" * 5),
    ],
    ids=["middle", "long-span", "end"],
)
def test_a_long_line_is_cut_around_the_caret(span: Span, shown: str, caret: str) -> None:
    text = render_diagnostic(Diagnostic(Severity.ERROR, "E101", "m", span), {"f": LONG})
    assert text.splitlines()[1:] == [f"  1 | {shown}", f"    | {caret}"]


def test_a_short_line_is_shown_whole() -> None:
    line = "z" * 300
    text = render_diagnostic(
        Diagnostic(Severity.ERROR, "E101", "m", Span("f", 1, 290, 1, 291)), {"f": line}
    )
    assert text.splitlines()[1] == f"  1 | {line}"


def test_a_config_over_the_rule_budget_is_e401_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "MAX_CONFIG_RULES", 3)
    path = write(tmp_path, "p.zw", BODY + "allow a -> b : https\nallow b -> a : https\n")
    report = build(path, str(tmp_path / "out"))
    text = render_diagnostics(report.check)
    assert "p.zw:6:1: error[E401]: gateway 'fw' (iptables) would need" in text
    assert "more than the 3 zonewall writes and proves for one gateway" in text
    assert not (tmp_path / "out").exists()


def test_the_bombs_benchmark_runs_tiny() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bombs.py"), "--smoke"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAILED" not in proc.stdout


@pytest.mark.parametrize("text", ["", "a", "a\n", "a\r\nb\n\nc", "\n\n", "x\r", "\r\n\r"])
def test_source_lines_without_a_string_per_line_are_the_same(text: str) -> None:
    lines = SourceLines(text)
    assert list(lines) == source_lines(text)
    assert lines[1:3] == source_lines(text)[1:3]
    assert lines[-1] == source_lines(text)[-1]


def test_fmt_meets_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from zonewall.diagnostics import DiagnosticError
    from zonewall.dsl import printer

    monkeypatch.setattr(parser, "MAX_STATEMENTS", 6)
    monkeypatch.setattr(printer, "_format", None)  # nothing is printed
    with pytest.raises(DiagnosticError) as info:
        printer.format_policy(BODY + "allow a -> b\n", "p.zw")
    assert info.value.diagnostics[0].code == "E109"
