"""Small inputs must not take huge memory in the front end (issue #12 item 5).

The lexers' regular expressions once repeated a group per character of a string literal (and
per `-part` of a name, per comment line), and the regular expression engine keeps a
backtracking record for every repetition of a group: about 260 bytes per byte of a string, so
a 10 MB description took 2.6 GB.  These tests hold the peak Python heap of parsing a 1 MB token
(a clean text, and one with a syntax error after it; and `fmt`'s token record of it) to a small
multiple of the input.  `benchmarks/bombs.py` measures the same cases at full size.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from zonewall.diagnostics import DiagnosticError, DiagnosticSink
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
