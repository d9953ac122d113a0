"""Small inputs must not take huge memory in the front end (issue #12 item 5).

The lexers' regular expressions once repeated a group per character of a string literal (and
per `-part` of a name, per comment line), and the regular expression engine keeps a
backtracking record for every repetition of a group: about 260 bytes per byte of a string, so
a 10 MB description took 2.6 GB.  These tests hold the peak Python heap of parsing a 1 MB token
(a clean text, and one with a syntax error after it; and `fmt`'s token record of it) to a small
multiple of the input.  `benchmarks/bombs.py` measures the same cases at full size.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable

import pytest

from zonewall.diagnostics import DiagnosticError, DiagnosticSink
from zonewall.dsl import checks
from zonewall.dsl.parser import parse_text
from zonewall.dsl.syntax import parse, record

MB = 1_000_000
CASES = {
    "description": 'class a { subnet 10.0.0.0/24 description "' + "x" * MB + '" }\n',
    "non-ascii description": 'class a { subnet 10.0.0.0/24 description "'
    + "é" * (MB // 2)
    + '" }\n',
    "escapes": 'class a { subnet 10.0.0.0/24 description "' + "\\\\" * (MB // 2) + '" }\n',
    "title": 'policy "' + "t" * MB + '" { owner "o" }\n',
    "long name": "class " + "a-" * (MB // 2) + "a { hosts 4 }\n",
    "comment lines": "#\n" * (MB // 2) + "class a { hosts 4 }\n",
    "port name": "service s = tcp/" + "1-" * (MB // 2) + "1\n",
}


def peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_the_parser_takes_memory_in_proportion(text: str) -> None:
    def run() -> None:
        try:
            parse(text, "t.zw", DiagnosticSink())
        except Exception:  # noqa: BLE001 - only memory is measured here
            pass

    assert peak(run) < 20 * MB


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_a_syntax_error_after_it_takes_memory_in_proportion(text: str) -> None:
    # A stray '}' at the end: the text has a syntax error, found after the long token.
    def run() -> None:
        with pytest.raises(DiagnosticError):
            parse_text(text + "}\n", "t.zw")

    assert peak(run) < 20 * MB


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_the_token_record_takes_memory_in_proportion(text: str) -> None:
    def run() -> None:
        try:
            record(text, "t.zw", DiagnosticSink())
        except Exception:  # noqa: BLE001 - only memory is measured here
            pass

    assert peak(run) < 20 * MB


def test_a_long_description_is_read_whole() -> None:
    result = parse_text(CASES["escapes"], "t.zw")
    assert result.policy.classes[0].description == "\\" * (MB // 2)


@pytest.mark.parametrize("piece", [1, 2, 3, 7])
def test_escapes_taken_out_a_piece_at_a_time_read_as_one_pass(
    monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """A long string is unescaped in pieces; a piece never ends inside an escape."""
    monkeypatch.setattr(checks, "_UNESCAPE_PIECE", piece)
    rnd = random.Random(piece)
    for _ in range(2000):
        parts = ["\\\\", '\\"', "a", "\u00e9", "\\q", "\U0001f489", "\\\\\\\\"]
        body = "".join(rnd.choice(parts) for _ in range(rnd.randint(0, 24)))
        assert checks._unescape(f'"{body}"') == checks._ESCAPE.sub(r"\1", body), body


def test_a_long_string_with_escapes_and_an_emoji_takes_memory_in_proportion() -> None:
    """One character outside the BMP makes Python hold the text 4 bytes a character; the
    string's escapes must not add a list entry per escape on top (issue 12 item 5)."""
    body = "\U0001f489" + "\\\\x" * (4 * MB // 3)
    text = 'class a { subnet 10.0.0.0/24 description "' + body + '" }\n'

    def run() -> None:
        parse(text, "t.zw", DiagnosticSink())

    # the token (16 MB held 4 bytes a character) and the value without its escapes; it was
    # 52 MB when `re.sub` ran over the whole string
    assert peak(run) < 40 * MB
