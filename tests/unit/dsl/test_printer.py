"""The printer (`zonewall fmt`): idempotent, comment-preserving, semantics-preserving.

Every `.zw` file under `examples/` and `tests/diagnostics/` is a case: those that parse must
format to a fixed point that keeps every comment and means the same policy; those that do not
parse must be refused with a diagnostic.  Comments are counted by a plain scan here,
independently of the parser's lexer.  `printer_cases/<case>.in.zw` are hand-written inputs
with their expected output in `<case>.out.zw` (`pytest --update-golden` rewrites it).
"""

from __future__ import annotations

import difflib
import shutil
import textwrap
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from policy_text import plain_comments
from zonewall.diagnostics import DiagnosticError, DiagnosticSink, Span
from zonewall.dsl import printer
from zonewall.dsl.parser import decode_source, parse_file, parse_statements
from zonewall.dsl.printer import PrinterBug, format_policy
from zonewall.fmt import format_file

ROOT = Path(__file__).resolve().parents[3]
ZW_FILES = sorted([*(ROOT / "examples").rglob("*.zw"), *(ROOT / "tests/diagnostics").rglob("*.zw")])
EXAMPLES = sorted((ROOT / "examples").rglob("*.zw"))
CASES_DIR = Path(__file__).resolve().parent / "printer_cases"
GOLDEN = sorted(p.name.removesuffix(".in.zw") for p in CASES_DIR.glob("*.in.zw"))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def shape(obj: Any) -> Any:
    """IR without spans (for IR nodes that keep spans inside tuples, such as pools)."""
    if isinstance(obj, Span):
        return None
    if is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__, *(shape(getattr(obj, f.name)) for f in fields(obj)))
    if isinstance(obj, (list, tuple)):
        return tuple(shape(x) for x in obj)
    return obj


def source(path: Path) -> str | None:
    """The text of a case, or None when it is not a readable, parseable policy."""
    try:
        text = decode_source(rel(path), path.read_bytes())
        parse_statements(text, rel(path), DiagnosticSink())
    except DiagnosticError:
        return None
    return text


def test_cases_are_discovered() -> None:
    assert len(ZW_FILES) >= 60 and len(EXAMPLES) >= 10
    assert sum(source(p) is None for p in ZW_FILES) >= 5  # syntax and encoding cases


@pytest.mark.parametrize("path", ZW_FILES, ids=rel)
def test_idempotent_and_comments_kept(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    text = source(path)
    if text is None:
        result = format_file(rel(path))
        assert result.formatted is None and result.diagnostics
        return
    once = format_policy(text, rel(path))
    assert format_policy(once, rel(path)) == once
    assert plain_comments(once) == plain_comments(text)
    assert shape(parse_statements(once, "f", DiagnosticSink())) == shape(
        parse_statements(text, "f", DiagnosticSink())
    )
    assert once == "" or (once.endswith("\n") and not once.endswith("\n\n"))
    assert all(line == line.rstrip() for line in once.split("\n"))
    assert "\n\n\n" not in once


@pytest.mark.parametrize("path", EXAMPLES, ids=rel)
def test_examples_mean_the_same_policy_after_formatting(path: Path, tmp_path: Path) -> None:
    if source(path) is None:
        pytest.skip("a syntax-error example")
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    before = parse_file(str(copy))
    copy.write_text(format_policy(copy.read_text(encoding="utf-8"), str(copy)), encoding="utf-8")
    after = parse_file(str(copy))
    assert after.policy == before.policy  # spans excluded; assertion texts compared exactly
    assert after.policy.pools_key() == before.policy.pools_key()
    assert [d.code for d in after.diagnostics] == [d.code for d in before.diagnostics]


@pytest.mark.parametrize("case", GOLDEN)
def test_golden(case: str, request: pytest.FixtureRequest) -> None:
    given = (CASES_DIR / f"{case}.in.zw").read_text(encoding="utf-8")
    actual = format_policy(given, f"{case}.in.zw")
    golden = CASES_DIR / f"{case}.out.zw"
    if request.config.getoption("--update-golden"):
        golden.write_text(actual, encoding="utf-8")
        return
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            f"{case}.out.zw (expected)",
            f"{case}.out.zw (actual)",
        )
    )
    assert format_policy(expected, "x.zw") == expected


def fmt(text: str) -> str:
    return format_policy(textwrap.dedent(text).lstrip("\n"), "t.zw")


LAYOUT_CASES = {
    "spacing": ("service web=https,tcp/80\n", "service web = https, tcp/80\n"),
    "tight-colon-and-range": (
        "pool vlans 2 -9\nallow a->tag : x , criticality :high : dns\n",
        "pool vlans 2-9\nallow a -> tag:x, criticality:high : dns\n",
    ),
    "semicolons-dropped": (
        'include "a.zw";\nclass a { hosts 2; };\n',
        'include "a.zw"\nclass a { hosts 2 }\n',
    ),
    "blank-lines-collapsed": (
        "\n\nallow a -> b\n\n\n\nallow b -> a\n\n",
        "allow a -> b\n\nallow b -> a\n",
    ),
    "one-line-block-kept": (
        "class a { hosts 2\n tags t }\nclass b { hosts 2  tags t }\n",
        "class a {\n  hosts 2\n  tags t\n}\nclass b { hosts 2  tags t }\n",
    ),
    "empty-block": ("class a {}\nclass b {\n}\n", "class a {}\nclass b {\n}\n"),
    "block-indent-and-blanks": (
        "gateway g {\n\n platform iptables\n\n\n serves any\n\n}\n",
        "gateway g {\n  platform iptables\n\n  serves any\n}\n",
    ),
    "rules-aligned": (
        'allow a -> b : x "one"\ndeny b -> c "two"\n',
        'allow a -> b : x  "one"\ndeny  b -> c      "two"\n',
    ),
    "long-rule-not-aligned": (
        'allow a -> b "one"\nallow aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -> '
        'bbbbbbbbbbbbbbbbbbbbbbbb "two"\n',
        'allow a -> b  "one"\nallow aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -> '
        'bbbbbbbbbbbbbbbbbbbbbbbb  "two"\n',
    ),
    "runs-broken-by-blank-and-comment": (
        "service a = tcp/1\nservice bbbb = tcp/2\n\nservice cc = tcp/3\n# c\nservice d = tcp/4\n",
        "service a    = tcp/1\nservice bbbb = tcp/2\n\nservice cc = tcp/3\n# c\n"
        "service d = tcp/4\n",
    ),
    "externals-aligned": (
        "external i { address 0.0.0.0/0 }\nexternal vv {address 1.0.0.0/8}\n",
        "external i  { address 0.0.0.0/0 }\nexternal vv { address 1.0.0.0/8 }\n",
    ),
    "crlf-and-bom": (
        "\ufeffallow a -> b  # c \r\n\r\n\r\nallow b -> a\r\n",
        "allow a -> b  # c\n\nallow b -> a\n",
    ),
    "hash-in-string": (
        'allow a -> b "#1 not a comment" # but this is\n',
        'allow a -> b  "#1 not a comment"  # but this is\n',
    ),
    "empty": ("", ""),
    "only-comments": ("\n# one\n\n\n#two   \n", "# one\n\n#two\n"),
    "no-final-newline": ("allow a -> b # c", "allow a -> b  # c\n"),
}


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_layout(case: str) -> None:
    given, expected = LAYOUT_CASES[case]
    text = given.removeprefix("\ufeff")  # the file reader drops a BOM before the printer
    assert format_policy(text, "t.zw") == expected
    assert format_policy(expected, "t.zw") == expected


def test_comments_in_blocks_stay_in_place() -> None:
    assert fmt("""
        class a {  # after the brace
          # before vlan
          vlan 10   # on vlan
          hosts 4 ;  # after a semicolon
          # before the closing brace
        } # after the block
    """) == textwrap.dedent("""\
        class a {  # after the brace
          # before vlan
          vlan 10  # on vlan
          hosts 4  # after a semicolon
          # before the closing brace
        }  # after the block
    """)


def test_comments_inside_a_statement_move_above_it() -> None:
    assert fmt("""
        # before
        allow a,   # first source
          b        # second source
          -> c     # destination
          : https  # the service
    """) == textwrap.dedent("""\
        # before
        # first source
        # second source
        # destination
        allow a, b -> c : https  # the service
    """)


def test_a_multi_line_header_keeps_its_comment() -> None:
    assert (
        fmt("""
        gateway g   # core
        { platform iptables  serves any }
    """)
        == "# core\ngateway g { platform iptables  serves any }\n"
    )


def test_statements_are_never_wrapped() -> None:
    names = ", ".join(f"class_number_{i}" for i in range(30))
    assert fmt(f"allow {names} -> b : https\n") == f"allow {names} -> b : https\n"


def test_a_one_line_block_too_long_is_expanded() -> None:
    text = 'class a { description "' + "x" * 80 + '"  hosts 2 }\n'
    assert fmt(text) == 'class a {\n  description "' + "x" * 80 + '"\n  hosts 2\n}\n'


def test_syntax_errors_are_diagnostics() -> None:
    with pytest.raises(DiagnosticError) as info:
        format_policy("class a { hosts 2 }\nallow a b\n", "bad.zw")
    (d,) = info.value.diagnostics
    assert (d.code, d.span.where() if d.span else None) == ("E101", "bad.zw:2:9")


def test_invalid_names_are_formatted_not_judged() -> None:
    # fmt needs only the syntax; `check` reports the invalid name
    assert fmt("class Bad-Name {hosts 2}\n") == "class Bad-Name { hosts 2 }\n"


def test_a_printer_that_would_change_the_policy_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printer, "_format", lambda cst: "allow b -> a\n")
    with pytest.raises(PrinterBug, match="would change the policy"):
        format_policy("allow a -> b\n", "t.zw")


def test_a_printer_that_would_drop_a_comment_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printer, "_format", lambda cst: "allow a -> b\n")
    with pytest.raises(PrinterBug, match="comments"):
        format_policy("allow a -> b  # why\n", "t.zw")


def test_a_printer_without_a_fixed_point_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printer, "_format", lambda cst: cst.text + " ")
    with pytest.raises(PrinterBug, match="twice"):
        format_policy("allow a -> b\n", "t.zw")


def test_a_printer_output_that_does_not_parse_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printer, "_format", lambda cst: "allow a b\n")
    with pytest.raises(PrinterBug, match="does not parse"):
        format_policy("allow a -> b\n", "t.zw")
