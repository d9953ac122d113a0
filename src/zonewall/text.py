"""Free text in the outputs: descriptions, `why` reasons, titles and file names, one function
per format, each keeping every character its format can carry as written.

The policy language lets a string hold any character but a raw newline, so every function
here first decides what happens to control characters and line separators (Unicode
categories Cc, Zl and Zp: tab, CR, NUL, U+0085, U+2028, ...) and to bidirectional controls
(U+202E, ...: they would make the rest of a line display in another order than it is read):
a format that cannot quote them gets a space, so no text ever adds a line or a command or
hides one.  Then, per format:

* `iptables_comment`: the text between the double quotes of `--comment "..."`.  Verified with
  iptables 1.8.9 (nf_tables and legacy), loaded and read back with `iptables-save` in a
  scratch network namespace: any UTF-8, `'`, `#`, `;`, `{}`, `|`, `$`, backticks load and
  come back unchanged; `"` and `\\` are written `\\"` and `\\\\` (iptables-save itself writes
  `\\'` for `'`).  The kernel keeps 255 bytes and silently drops the rest, even inside a
  UTF-8 character, so the text is cut before that, visibly.
* `nft_comment`: the text of `comment "..."`.  nft 1.0.6 has no escape inside a quoted
  string (`\\"` is a syntax error, a backslash is an ordinary character), so `"` becomes `'`;
  everything else above loads and lists back unchanged.  nft refuses comments over 128 bytes
  ("comment too long, 128 characters maximum allowed"), so the text is cut before that.
* `comment_line`: a whole `#` line of an iptables-restore or nft file (headers, set notes).
* `log_prefix`: log prefixes keep the narrow charset `[A-Za-z0-9 _.:/>,+=-]`: they are built
  from chain names, and syslog filters match them.
* `ios_text`: `remark` and `description` text for Cisco IOS.  ASCII only: other characters
  are transliterated when their compatibility decomposition is ASCII plus accents (`à` ->
  `a`, `ﬁ` -> `fi`) or a common typographic one (`’` -> `'`, `–` -> `-`, `ß` -> `ss`), else
  `_`.  `?` also becomes `_`: pasted into the IOS CLI (the deploy sequence in every `.ios`
  header), `?` asks for context help instead of being typed.
* `markdown_text`: text inside a Markdown table cell or heading: `\\`, `|`, backticks,
  `*`, `[`, `]`, `~`, `$` and `_` (but between two letters or digits) are backslash-escaped,
  `&`, `<`, `>` written as entities, so the text renders as written and can neither add
  markup nor break the table.  Nor a link: GitHub also links bare addresses (the GFM
  autolink extension, checked with cmark-gfm, GitHub's own parser).  It finds `http://`,
  `https://`, `ftp://` and `www.` while it reads the raw text, so the `:` of `://` and the `.`
  after `www` are written as the entities `&#58;` and `&#46;` (the same characters on the
  page, hidden from that search); it finds e-mail addresses (`a@b.cd`, `mailto:`, `xmpp:`)
  afterwards in the decoded text of each run, so an `@` after an address character is
  followed by an empty HTML comment, `<!-- -->`, which ends the run and shows nothing.
* `csv_cell`: the csv module quotes; a cell starting (after any spaces) with `=`, `+`, `-`,
  `@`, tab or CR gets a leading `'` so spreadsheets read it as text (the OWASP rule against
  formula injection).
* `terminal_text`: text on a terminal (`check`, `explain`, `matrix`, `diff`, `audit`, `lab`).
  Unlike the config formats it shows what it cannot print instead of blanking it: every
  control character but tab (C0 with CR, LF, ESC, BEL, BS; DEL; C1), line and paragraph
  separator, format character (the bidi controls, zero-width spaces, U+FEFF; but the zero-width
  joiners that emoji and some scripts need), lone surrogate and noncharacter is written as a
  Python-style escape, `\\x1b`, `\\r`, `\\u202e`, so an ESC
  sequence can neither retitle nor clear the terminal and a reviewer sees that it is there.
  A backslash stays itself, so the function is idempotent (rendered text can go through it
  again) at the price of `\\x1b` written literally looking the same.
* `xml_text`: the same visible escapes for XML, HTML and SVG text and attributes, keeping tab
  and LF: what is left is always a character XML 1.0 can hold.
* `file_name`: a file name as text.  Linux allows any byte but `/` and NUL in a name, and
  Python keeps the bytes of a name given on the command line that are not UTF-8 as lone
  surrogates (U+DC80 to U+DCFF, "surrogateescape"), which no UTF-8 output can hold (JSON,
  SARIF and JUnit could not be written).  Each such byte is written `\\xff`, and `terminal_text`
  and `xml_text` show a stray one the same way; a valid name is unchanged.  The policy
  loader names each file it reads this way, so every span, report and manifest carries text.

YAML needs no function: `yaml.dump` quotes and escapes whatever the text holds, and
`yaml.safe_load` gives the same string back.

Texts longer than a limit are cut at a word boundary when one is near (else at a character
boundary) and end in ` ...`, so a reader sees that something was left out.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "CONTINUED",
    "comment_line",
    "csv_cell",
    "cut",
    "file_name",
    "ios_text",
    "iptables_comment",
    "log_prefix",
    "markdown_text",
    "nft_comment",
    "terminal_text",
    "xml_text",
]

CONTINUED = " ..."
_CONTROL = frozenset({"Cc", "Zl", "Zp"})
# Bidirectional controls reorder how the rest of a line is displayed ("Trojan Source"): a
# comment could make the rule after it read differently on screen than it loads.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A word boundary this close to the limit is used; further back, the cut is mid-word.
_WORD_SLACK = 24


def _blank(c: str) -> bool:
    return c in _BIDI or unicodedata.category(c) in _CONTROL


def _one_line(text: str, keep: str = "") -> str:
    """Control characters, line separators and bidi controls (but those in `keep`) as
    spaces."""
    if text.isprintable():  # most texts; False for any of those (and a few harmless others)
        return text
    return "".join(" " if c not in keep and _blank(c) else c for c in text)


def _utf8_len(text: str) -> int:
    return len(text.encode())


def _utf8_prefix(text: str, size: int) -> str:
    """The longest prefix of `text` of at most `size` UTF-8 bytes (whole characters only)."""
    return text.encode()[:size].decode(errors="ignore")


def _char_prefix(text: str, size: int) -> str:
    return text[:size]


def cut(
    text: str,
    limit: int,
    size: Callable[[str], int] = len,
    prefix: Callable[[str, int], str] = _char_prefix,
) -> str:
    """`text` if it fits in `limit` (measured by `size`), else its beginning plus ` ...`.

    The cut falls on the last space before the limit when that space is within a few
    characters of it, so a word is not split unless it is very long.
    """
    if size(text) <= limit:
        return text
    head = prefix(text, limit - len(CONTINUED))
    if text[len(head)] != " ":  # the limit falls inside a word
        space = head.rfind(" ")
        if space >= max(len(head) - _WORD_SLACK, 1):
            head = head[:space]
    return head.rstrip() + CONTINUED


def iptables_comment(text: str, limit: int) -> str:
    """The text between the double quotes of `-m comment --comment "..."`, at most `limit`
    bytes before escaping (what the kernel keeps)."""
    text = cut(_one_line(text), limit, _utf8_len, _utf8_prefix)
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def nft_comment(text: str, limit: int) -> str:
    """The text between the double quotes of an nft `comment "..."`, at most `limit` bytes."""
    return cut(_one_line(text).replace('"', "'"), limit, _utf8_len, _utf8_prefix)


def comment_line(text: str, limit: int) -> str:
    """The text of one `#` comment line (iptables-restore, nft), at most `limit` characters."""
    return cut(_one_line(text), limit)


_NOT_PREFIX = re.compile(r"[^A-Za-z0-9 _.:/>,+=-]")


def log_prefix(text: str, limit: int) -> str:
    """A log prefix: the narrow charset `[A-Za-z0-9 _.:/>,+=-]`, at most `limit` bytes."""
    return " ".join(_NOT_PREFIX.sub("_", text).split())[:limit].rstrip()


# Typographic characters whose compatibility decomposition is not ASCII.
_ASCII_LOOKALIKE = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2022": "*",
    "\u00b7": ".",
    "\u00d7": "x",
    "\u2192": "->",
    "\u2190": "<-",
    "\u00df": "ss",
    "\u00e6": "ae",
    "\u00c6": "AE",
    "\u0153": "oe",
    "\u0152": "OE",
    "\u00f8": "o",
    "\u00d8": "O",
    "\u0111": "d",
    "\u0110": "D",
    "\u0142": "l",
    "\u0141": "L",
    "\u00f0": "d",
    "\u00d0": "D",
    "\u00fe": "th",
    "\u00de": "Th",
    "\u0131": "i",
}


@functools.lru_cache(maxsize=4096)
def _ascii_char(c: str) -> str:
    if c in _ASCII_LOOKALIKE:
        return _ASCII_LOOKALIKE[c]
    if _blank(c):
        return " "
    decomposed = unicodedata.normalize("NFKD", c)
    kept = "".join(d for d in decomposed if d.isascii() and d.isprintable())
    if kept and all(d.isascii() or unicodedata.combining(d) for d in decomposed):
        return kept
    return "_"


def ios_text(text: str, limit: int) -> str:
    """ASCII text for an IOS `remark` or `description`, at most `limit` characters."""
    if not (text.isascii() and text.isprintable()):
        text = "".join(c if c.isascii() and c.isprintable() else _ascii_char(c) for c in text)
    # "?" asks the IOS CLI for help when pasted: write it as "_", never as itself.
    return cut(text.replace("?", "_"), limit)


# `_` between two letters or digits cannot start or end emphasis (CommonMark flanking
# rules), so `ct_mr` stays as it is.  The last three alternatives are the autolinks: the
# `:` of `https://`, the `.` of `www.` (both as entities) and the `@` of an e-mail address
# (followed by a comment); see the module docstring.
_MARKDOWN = re.compile(
    r"[\\`*\[\]~$|&<>]|(?<![^\W_])_|_(?![^\W_])"
    r"|:(?=//)|(?i:(?<=www)\.)|(?<=[A-Za-z0-9.+_-])@"
)
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;", ":": "&#58;", ".": "&#46;", "@": "@<!-- -->"}


def _markdown_escape(m: re.Match[str]) -> str:
    c = m.group()
    return _ENTITY.get(c) or "\\" + c


def markdown_text(text: str) -> str:
    """Text inside a Markdown (GFM) table cell or heading, rendering as written."""
    return _MARKDOWN.sub(_markdown_escape, _one_line(text))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A CSV cell's text: one line (tabs kept), and never read as a spreadsheet formula.

    Blanks before a formula character count too: an import that trims spaces would
    otherwise see the formula.
    """
    text = _one_line(text, keep="\t")
    return "'" + text if text.lstrip(" ").startswith(_FORMULA_START) else text


# Format characters that are part of ordinary text: the zero-width non-joiner and joiner
# (Persian, Indic scripts, emoji sequences).
_FORMAT_KEPT = frozenset("\u200c\u200d")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped_byte(code: int) -> bool:
    """A byte of an undecodable file name as Python holds it (`surrogateescape`)."""
    return 0xDC80 <= code <= 0xDCFF


def file_name(path: str) -> str:
    """`path` as text: each byte that was not UTF-8 (a lone surrogate U+DC80-U+DCFF, as
    Python decodes file names) written `\\xNN`, any other lone surrogate `\\uNNNN`."""
    if path.isprintable() or not any(0xD800 <= ord(c) <= 0xDFFF for c in path):
        return path
    return "".join(_visible_char(c) if 0xD800 <= ord(c) <= 0xDFFF else c for c in path)


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


@functools.lru_cache(maxsize=4096)
def _visible_char(c: str) -> str:
    """`c` itself, or its escape when a terminal or an XML parser must not get it raw."""
    code = ord(c)
    category = unicodedata.category(c)
    hidden = (
        category in ("Cc", "Zl", "Zp", "Cs")
        or _noncharacter(code)
        or (category == "Cf" and c not in _FORMAT_KEPT)
    )
    if not hidden:
        return c
    if c in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[c]
    if _escaped_byte(code):  # the byte itself, as the file name has it on disk
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _visible(text: str, keep: str) -> str:
    if text.isprintable():  # most texts: no control, format or separator character at all
        return text
    return "".join(c if c in keep else _visible_char(c) for c in text)


def terminal_text(text: str) -> str:
    """Text for a terminal: control, format and separator characters as visible escapes
    (`\\x1b`, `\\r`, `\\u202e`), tab kept; idempotent."""
    return _visible(text, "\t")


def xml_text(text: str) -> str:
    """Text for XML, HTML or SVG (before markup escaping): as `terminal_text`, but LF kept
    too.  Every character left is one XML 1.0 allows."""
    return _visible(text, "\t\n")
