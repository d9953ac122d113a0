"""The per-format text functions: what each keeps, escapes, replaces and where it cuts."""

from __future__ import annotations

import os
import re
from html import unescape

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import example, given
from hypothesis import strategies as st

from zonewall.text import (
    comment_line,
    csv_cell,
    file_name,
    ios_text,
    iptables_comment,
    log_prefix,
    markdown_text,
    nft_comment,
    terminal_text,
    xml_text,
)

RICH = "nurses' desk caf\u00e9 \u00e0 # ; { } | $(x) `id` =cmd"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (RICH, RICH),
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\path\\", "C:\\\\path\\\\"),
        ("a\tb\rc\u2028d\x85e\x00f", "a b c d e f"),
        ("abc \u202eevil\u202c", "abc  evil "),  # bidi controls: the line reads as it loads
    ],
    ids=["rich", "quote", "backslash", "controls", "bidi"],
)
def test_iptables_comment(text: str, want: str) -> None:
    assert iptables_comment(text, 255) == want


def test_iptables_comment_is_cut_at_a_character_boundary_within_the_bytes() -> None:
    got = iptables_comment("\u00e9" * 200, 255)
    assert got == "\u00e9" * 125 + " ..." and len(got.encode()) == 254


def test_iptables_comment_limit_counts_the_bytes_before_escaping() -> None:
    got = iptables_comment('"' * 255, 255)
    assert got == '\\"' * 255  # 255 bytes stored, 510 written


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (RICH, RICH),
        ('say "hi" \\ there', "say 'hi' \\ there"),
    ],
    ids=["rich", "quote"],
)
def test_nft_comment(text: str, want: str) -> None:
    assert nft_comment(text, 128) == want


def test_nft_comment_cut_at_a_word_within_128_bytes() -> None:
    got = nft_comment("word " * 40, 128)
    assert got.endswith("word ...") and len(got.encode()) <= 128
    assert "wor ..." not in got


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("caf\u00e9 \u00e0 na\u00efve \u00c5ngstr\u00f6m", "cafe a naive Angstrom"),
        (
            "Stra\u00dfe \u00e6 \u00f8 \u0142 \u2019q\u2019 \u201cd\u201d a\u2013b \ufb01",
            "Strasse ae o l 'q' \"d\" a-b fi",
        ),
        ("\u4e2d\u6587 \U0001f489 \u00bd", "__ _ _"),
        ("why? ok", "why_ ok"),  # '?' is CLI help when pasted
        ("a\tb\u2028c", "a b c"),
        ('nurses\' desk "3" # | ! \\', 'nurses\' desk "3" # | ! \\'),
    ],
    ids=["accents", "typographic", "other", "question", "controls", "ascii"],
)
def test_ios_text(text: str, want: str) -> None:
    assert ios_text(text, 100) == want


def test_ios_text_is_cut_at_a_word_boundary_with_a_marker() -> None:
    text = "f.zw:12 allow a->b: " + "several words of a long reason " * 5
    got = ios_text(text, 100)
    assert len(got) <= 100 and got.endswith(" ...")
    assert text.startswith(got[:-4]) and text[len(got) - 4] == " "  # a whole word ends there


def test_ios_text_cuts_a_single_long_word_mid_word() -> None:
    assert ios_text("x" * 300, 100) == "x" * 96 + " ..."


def test_text_within_the_limit_is_not_cut() -> None:
    assert ios_text("y" * 100, 100) == "y" * 100
    assert nft_comment("y" * 128, 128) == "y" * 128


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a | b", "a \\| b"),
        ("<b>x</b> & y", "&lt;b&gt;x&lt;/b&gt; &amp; y"),
        (
            "`code` *em* _em_ [l](u) ~~s~~ $m$ \\",
            "\\`code\\` \\*em\\* \\_em\\_ \\[l\\](u) \\~\\~s\\~\\~ \\$m\\$ \\\\",
        ),
        ("ct_mr snake_case", "ct_mr snake_case"),  # intraword _ cannot emphasise
        ("line\u2028break\rhere", "line break here"),
        ("nurses' desk caf\u00e9 #1 =cmd", "nurses' desk caf\u00e9 #1 =cmd"),
        ("see https://x.example/a", "see https&#58;//x.example/a"),
        ("FTP://x www.y.example WWW.z", "FTP&#58;//x www&#46;y.example WWW&#46;z"),
        ("ops@x.example, mailto:a.b@c.d", "ops@<!-- -->x.example, mailto:a.b@<!-- -->c.d"),
        ("@netops 10:30 host:port a.b", "@netops 10:30 host:port a.b"),
    ],
    ids=[
        "pipe",
        "html",
        "markup",
        "intraword",
        "controls",
        "plain",
        "url",
        "www",
        "email",
        "no-link",
    ],
)
def test_markdown_text(text: str, want: str) -> None:
    assert markdown_text(text) == want


_LINKY = st.sampled_from(
    ["https://", "http://", "ftp://", "www.", "WWW.", "@", "mailto:", "xmpp:", ".", "/", "a", "Z"]
    + ["x.example", "b.cd", "_", "-", "+", "|", "[", "](", ")", "<", ">", "*", "~", " ", ":"]
)
# printable text: letters, digits, punctuation, symbols and the ASCII space
_PRINTABLE = st.text(st.characters(categories=("L", "N", "P", "S")) | st.just(" "), max_size=3)


@given(st.lists(_LINKY | _PRINTABLE, max_size=12).map("".join))
@example("ops@x.example www.y.example https://z.example/a_b")
@example("# [x](https://e.example) <img src=x> ~~s~~ *e* | a@b.cd")
def test_markdown_text_renders_as_written_on_github(text: str) -> None:
    """In a table cell, GitHub's own parser (cmark-gfm with its extensions: tables,
    autolinks, strikethrough) shows the text as written (blank runs collapse, as in HTML): no
    link, autolink, tag, emphasis or extra cell."""
    doc = f"| h |\n|---|\n| {markdown_text(text)} |\n"
    html = cmarkgfm.github_flavored_markdown_to_html(doc, options=Options.CMARK_OPT_UNSAFE)
    cells = re.findall(r"<td>(.*?)</td>", html, re.S)
    assert html.count("<td") == 1 and "<a " not in html, html
    assert unescape(" ".join(cells[0].replace("<!-- -->", "").split())) == " ".join(text.split())


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("  =cmd", "'  =cmd"),
        ("\r=cmd", "' =cmd"),
        ("a=b", "a=b"),
        ("nurses' desk", "nurses' desk"),
        ("x\ny", "x y"),
    ],
    ids=["eq", "plus", "minus", "at", "tab", "spaces", "cr", "inner", "plain", "newline"],
)
def test_csv_cell(text: str, want: str) -> None:
    assert csv_cell(text) == want


def test_comment_line_and_log_prefix() -> None:
    assert comment_line("a\nb caf\u00e9", 200) == "a b caf\u00e9"
    assert log_prefix("zw-allow 12 caf\u00e9!", 28) == "zw-allow 12 caf__"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (RICH, RICH),
        ("\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),
        ("a\tb\rc\nd\x08e\x00f\x7fg\x85h\x9bi", "a\tb\\rc\\nd\\x08e\\x00f\\x7fg\\x85h\\x9bi"),
        ("abc \u202eevil\u202c \u2066x\u2069", "abc \\u202eevil\\u202c \\u2066x\\u2069"),
        ("zero\u200bwidth\ufeff \u2028 \u2029", "zero\\u200bwidth\\ufeff \\u2028 \\u2029"),
        (
            "\U0001f469\u200d\U0001f4bb \u00a0caf\u00e9",
            "\U0001f469\u200d\U0001f4bb \u00a0caf\u00e9",
        ),
        ("bad \udcff \ud800 \ufffe \U000e0041", "bad \\xff \\ud800 \\ufffe \\U000e0041"),
        ("C:\\dir\\x1b", "C:\\dir\\x1b"),
    ],
    ids=["rich", "osc", "c0-c1", "bidi", "invisible", "emoji-kept", "surrogate", "backslash-kept"],
)
def test_terminal_text_shows_what_it_cannot_print(text: str, want: str) -> None:
    assert terminal_text(text) == want
    assert terminal_text(want) == want  # idempotent: rendered text can go through it again


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (b"policy.zw", "policy.zw"),
        (b"caf\xc3\xa9/p.zw", "caf\u00e9/p.zw"),
        (b"d\xfe/p\xff.zw", "d\\xfe/p\\xff.zw"),
        (b"\xe9t\xe9\x1b.zw", "\\xe9t\\xe9\x1b.zw"),  # a control character is left to the format
    ],
    ids=["ascii", "utf-8", "undecodable", "latin-1"],
)
def test_file_name_shows_undecodable_bytes(raw: bytes, want: str) -> None:
    name = os.fsdecode(raw)
    assert file_name(name) == want
    want.encode("utf-8")  # always text
    assert terminal_text(name) == terminal_text(want)


def test_xml_text_keeps_lf_and_leaves_only_xml_characters() -> None:
    every = "".join(chr(c) for c in range(0x100)) + "\u202e\ufffe\uffff\U0010ffff"
    got = xml_text(every)
    assert "\n" in got and "\\r" in got and "\\x00" in got
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in got)
    assert not any(c in got for c in "\x7f\x85\u202e\ufffe\uffff\U0010ffff")
