"""The quick splitter for lines without a backslash agrees with the character-by-character one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonewall.verify.iptables_words import _split_escaped, _split_unescaped, split_words

LINES = st.text(alphabet='ab "\t\u00a0-', max_size=30)


@given(LINES)
def test_unescaped_split_agrees_with_the_reference(text: str) -> None:
    try:
        want: list[str] | None = _split_escaped(text)
    except ValueError:
        want = None
    if want is None:
        with pytest.raises(ValueError):
            _split_unescaped(text)
    else:
        assert _split_unescaped(text) == want


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '-A X -m comment --comment "from class a" -j ACCEPT',
            ["-A", "X", "-m", "comment", "--comment", "from class a", "-j", "ACCEPT"],
        ),
        ('a""b "" c"d e"f', ["ab", "", "cd ef"]),
        ("  lead  trail  ", ["lead", "trail"]),
    ],
)
def test_unescaped_split_examples(text: str, words: list[str]) -> None:
    assert _split_unescaped(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # as zonewall writes a comment, and as iptables-save gives it back (\' for ')
        ('--comment "a \\" b \\\\ c" -j X', ["--comment", 'a " b \\ c', "-j", "X"]),
        ('--comment "nurses\\\' desk"', ["--comment", "nurses' desk"]),
        # outside quotes iptables-restore reads a backslash as itself
        ('x\\y "q"', ["x\\y", "q"]),
    ],
)
def test_split_words_reads_escapes_inside_quotes_only(text: str, words: list[str]) -> None:
    assert split_words(text) == words
