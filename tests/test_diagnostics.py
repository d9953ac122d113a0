"""Golden diagnostics: `tests/diagnostics/<case>.zw` + `<case>.err`, compared byte for byte.

The `.err` file holds exactly what `zonewall check tests/diagnostics/<case>.zw` writes to
stderr when run from the repository root (file names in it are relative to the root, so they
are stable).  Cases are discovered from the directory: a new case is just two new files.
Files under `tests/diagnostics/includes/` are included by cases and are not cases themselves.

A case whose first line is `# golden: build` is run through `zonewall build` instead (into a
temporary directory, or into `-o DIR` given on that line, relative to the repository root), for
the codes only a build can give (backend capability errors, unwritable output).  A case whose
first line is `# golden: check --inventory FILE` is checked with that device inventory (FILE
relative to the repository root, kept under `tests/diagnostics/inventory/`).

`pytest --update-golden` rewrites the `.err` files from the current output; review the diff.
"""

from __future__ import annotations

import difflib
import re
import shlex
from pathlib import Path

import pytest

from zonewall.build import build
from zonewall.diagnostics import CODES, Diagnostic, Severity, Span, render_diagnostic
from zonewall.present.check import render_diagnostics
from zonewall.report import CheckReport, run_check
from zonewall.traffic.inventory import with_inventory

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "tests" / "diagnostics"
CASES = sorted(p.stem for p in CASES_DIR.glob("*.zw"))

# Codes that no policy can trigger today, each with the reason.  The meta-test fails if a case
# for one of them appears, so that this list never hides a code that is in fact covered.
UNTRIGGERABLE = {
    # Translation validation: only a bug in a backend triggers these; they are proven by
    # tests/e2e/test_translation_validation.py, which breaks a backend on purpose.
    "E404": "a backend bug: a rendered config that does not enforce the policy",
    "E405": "a backend bug: a rendered config the evaluator cannot read back",
}


def render_case(case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """What `zonewall check` (or `build`, for build cases) prints on stderr for the case."""
    monkeypatch.chdir(ROOT)
    path = f"tests/diagnostics/{case}.zw"
    first = (CASES_DIR / f"{case}.zw").read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    if first.startswith("# golden:"):
        words = shlex.split(first.removeprefix("# golden:"))
        if words[:2] == ["check", "--inventory"]:
            return render_diagnostics(with_inventory(run_check(path), words[2]))
        assert words[:1] == ["build"], f"unknown golden mode in {path}: {first!r}"
        outdir = words[2] if words[1:2] == ["-o"] else str(tmp_path / "out")
        return render_diagnostics(build(path, outdir).check)
    return render_diagnostics(run_check(path))


def test_cases_are_discovered() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_diagnostics_golden(
    case: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    actual = render_case(case, monkeypatch, tmp_path).encode("utf-8")
    golden = CASES_DIR / f"{case}.err"
    if request.config.getoption("--update-golden"):
        if not golden.exists() or golden.read_bytes() != actual:
            golden.write_bytes(actual)
        return
    if not golden.exists():
        pytest.fail(f"{golden.relative_to(ROOT)} is missing; run pytest --update-golden")
    expected = golden.read_bytes()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.decode("utf-8", "replace").splitlines(keepends=True),
                actual.decode("utf-8", "replace").splitlines(keepends=True),
                fromfile=f"tests/diagnostics/{case}.err (expected)",
                tofile=f"tests/diagnostics/{case}.err (actual)",
            )
        )
        pytest.fail(f"diagnostics differ from the golden file:\n{diff}", pytrace=False)


def test_every_err_file_has_a_case() -> None:
    orphans = sorted(p.name for p in CASES_DIR.glob("*.err") if p.stem not in CASES)
    assert orphans == [], "delete the .err files of removed cases"


def _codes_in_goldens() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for err in sorted(CASES_DIR.glob("*.err")):
        for code in re.findall(r"\[([EW]\d{3})\]", err.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(err.stem)
    return found


def test_every_code_has_a_golden_case() -> None:
    found = _codes_in_goldens()
    missing = sorted(set(CODES) - set(found) - set(UNTRIGGERABLE))
    assert missing == [], f"add a tests/diagnostics case for: {', '.join(missing)}"


def test_untriggerable_codes_are_really_uncovered() -> None:
    found = _codes_in_goldens()
    assert set(UNTRIGGERABLE) <= set(CODES)
    covered = sorted(c for c in UNTRIGGERABLE if c in found)
    assert covered == [], f"remove {covered} from UNTRIGGERABLE: a case covers it now"


def test_goldens_use_only_known_codes() -> None:
    unknown = sorted(set(_codes_in_goldens()) - set(CODES))
    assert unknown == []


def test_every_code_summary_is_one_line() -> None:
    for code, summary in CODES.items():
        assert re.fullmatch(r"[EW]\d{3}", code)
        assert summary and "\n" not in summary and not summary.endswith(".")


# ---------------------------------------------------------------------------------------------
# render_diagnostic: the one text format (docs/language.md, section 11)
# ---------------------------------------------------------------------------------------------

SOURCE = "first line\n\tallow a ->\tb : https\nlast"


@pytest.mark.parametrize(
    ("diag", "expected"),
    [
        (
            Diagnostic(Severity.ERROR, "E201", "unknown 'b'", Span("f.zw", 2, 13, 2, 14)),
            (
                "f.zw:2:13: error[E201]: unknown 'b'\n"
                "  2 | \tallow a ->\tb : https\n"
                "    | \t          \t^"
            ),
        ),
        (
            Diagnostic(Severity.WARNING, "W101", "dead", Span("f.zw", 2, 2, 2, 22), label="here"),
            (
                "f.zw:2:2: warning[W101]: dead\n"
                "  2 | \tallow a ->\tb : https\n"
                "    | \t^^^^^^^^^^^^^^^^^^^^ here"
            ),
        ),
        (
            Diagnostic(Severity.ERROR, "E209", "multi", Span("f.zw", 1, 7, 3, 2)),
            ("f.zw:1:7: error[E209]: multi\n  1 | first line\n    |       ^^^^"),
        ),
        (
            Diagnostic(Severity.ERROR, "E103", "eof", Span("f.zw", 3, 5, 3, 6)),
            ("f.zw:3:5: error[E103]: eof\n  3 | last\n    |     ^"),
        ),
        (
            Diagnostic(Severity.ERROR, "E105", "no source", Span("other.zw", 1, 1, 1, 2)),
            "other.zw:1:1: error[E105]: no source",
        ),
        (
            Diagnostic(Severity.ERROR, "E105", "past the end", Span("f.zw", 9, 1, 9, 2)),
            "f.zw:9:1: error[E105]: past the end",
        ),
        (
            Diagnostic(
                Severity.WARNING,
                "W113",
                "no span",
                notes=(("with span", Span("f.zw", 1, 1, 1, 2)), ("without", None)),
            ),
            ("warning[W113]: no span\n  note: f.zw:1:1: with span\n  note: without"),
        ),
    ],
    ids=[
        "tabs-kept-in-caret",
        "label",
        "multi-line-span",
        "end-of-input",
        "file-not-in-sources",
        "line-past-the-end",
        "notes",
    ],
)
def test_render_diagnostic(diag: Diagnostic, expected: str) -> None:
    assert render_diagnostic(diag, {"f.zw": SOURCE}) == expected


@pytest.mark.parametrize(
    ("line", "target", "shown", "shown_target"),
    [
        (
            'allow a -> b : https "\x1b]0;x\x07" zz',
            "zz",
            'allow a -> b : https "\\x1b]0;x\\x07" zz',
            "zz",
        ),
        ('d "\u202e" "\r\x08" bad', "bad", 'd "\\u202e" "\\r\\x08" bad', "bad"),
        ('x "\x1b\x1b" bad', '"\x1b\x1b"', 'x "\\x1b\\x1b" bad', '"\\x1b\\x1b"'),
    ],
    ids=["esc-before", "bidi-and-cr", "escapes-inside-the-span"],
)
def test_control_characters_are_escaped_and_the_caret_follows(
    line: str, target: str, shown: str, shown_target: str
) -> None:
    col = line.index(target) + 1
    diag = Diagnostic(
        Severity.ERROR,
        "E101",
        "unexpected \x1b[2J",
        Span("f\x1b.zw", 1, col, 1, col + len(target)),
        label="lab\x07el",
        notes=(("note \u202e", None),),
    )
    got = render_diagnostic(diag, {"f\x1b.zw": line}).split("\n")
    caret = " " * shown.index(shown_target) + "^" * len(shown_target)
    assert got == [
        f"f\\x1b.zw:1:{col}: error[E101]: unexpected \\x1b[2J",
        f"  1 | {shown}",
        f"    | {caret} lab\\x07el",
        "  note: note \\u202e",
    ]


def test_gutter_widens_with_the_line_number() -> None:
    source = "x\n" * 120 + "allow a -> b\n"
    text = render_diagnostic(
        Diagnostic(Severity.ERROR, "E201", "m", Span("f.zw", 121, 7, 121, 8)), {"f.zw": source}
    )
    assert text.splitlines()[1:] == ["  121 | allow a -> b", "      |       ^"]


@pytest.mark.parametrize(
    "separator",
    ["\u2028", "\x85", "\x0c", "\x1c"],
    ids=["U+2028", "NEL", "form-feed", "file-separator"],
)
def test_rendered_source_line_after_a_unicode_line_separator(
    separator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.zw").write_text(
        f"# note{separator}more\nclass a {{ vlan 10 subnet 10.0.0.0/24 }}\nallow x -> a\n",
        encoding="utf-8",
    )
    text = render_diagnostics(run_check("p.zw"))
    assert "p.zw:3:7: error[E201]: unknown class or external 'x'\n  3 | allow x -> a\n" in text


def test_rendering_many_diagnostics_splits_each_source_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Re-splitting a large source for every diagnostic made printing quadratic.
    import zonewall.diagnostics as diagnostics_module

    calls: list[int] = []

    class Counting(diagnostics_module.SourceLines):
        def __init__(self, text: str) -> None:
            calls.append(1)
            super().__init__(text)

    monkeypatch.setattr(diagnostics_module, "SourceLines", Counting)
    source = "".join(f"# line {i}\n" for i in range(5_000))
    diags = [
        Diagnostic(Severity.WARNING, "W105", "m", Span("big.zw", 1 + i * 9, 1, 1 + i * 9, 5))
        for i in range(500)
    ]
    report = CheckReport("big.zw", diags, (), {"big.zw": source})
    text = render_diagnostics(report)
    assert len(calls) == 1
    assert "  4492 | # line 4491" in text
