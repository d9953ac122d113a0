"""Hostile text in every free-text slot, through every output format (issue 12, item 3).

A small policy holds one generated string in each slot a user can fill with free text: the
policy's title and owner, class descriptions, `why` reasons, an assertion's `accepted` reason,
a gateway's `stateless-replies accepted` reason, and the name of an included file; `replay`
reads a flow file named like the included file, with a bad record holding the string.  The
strings draw on control characters (C0 with CR, ESC, BEL, BS, NUL; DEL; C1), line separators,
bidi and other format characters, noncharacters, markup (`<img src=x onerror=...>`, `[x](url)`,
`|`, `*`, backticks, entities, bare URLs, `www.` and e-mail addresses that GitHub would
autolink), spreadsheet formulas and quotes; a raw LF is the one character a string literal
cannot hold.

Every output is rendered from the same policy once with the hostile strings and once with
plain ones, and must be well-formed for its format (parsed back: `json`, `csv`, `xml.etree`,
`html.parser`, Graphviz for DOT, cmark-gfm for Markdown as GitHub renders it) and have exactly
the structure of the plain rendering: no line, row, cell, tag, link (autolinks included), rule
or testcase added.  Terminal text holds no control or format character but LF and tab.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock
from urllib.parse import unquote

import cmarkgfm
import yaml
from cmarkgfm.cmark import Options
from hypothesis import example, given
from hypothesis import strategies as st
from netaddr import IPAddress

from zonewall.build import build
from zonewall.present.check import (
    render_build_summary,
    render_diagnostics,
    render_text_summary,
    to_json,
)
from zonewall.present.conduits import build_conduits
from zonewall.present.diff import diff_json, diff_markdown, diff_text
from zonewall.present.explain import explain_json, explain_text
from zonewall.present.graph_render import flow_graph, render_dot, render_mermaid, render_svg
from zonewall.present.html_report import render_html_report
from zonewall.present.junit import to_junit
from zonewall.present.matrix import render_matrix
from zonewall.present.replay import replay_json, replay_markdown, replay_text
from zonewall.present.replay_html import replay_html
from zonewall.present.sarif import to_sarif
from zonewall.report import CheckReport, run_check
from zonewall.review.diff import compare, load_side
from zonewall.review.explain import explain
from zonewall.traffic.engine import aggregate
from zonewall.traffic.replay import judge

POLICY = """\
policy "{t}" {{ owner "{t}" }}
pool subnets 10.0.0.0/16
pool vlans 100-199
service https = tcp/443
class a {{ hosts 10 description "{t}" }}
class b {{ hosts 10 description "{t}" criticality high }}
class c {{ hosts 10 }}
class d {{ hosts 10 description "{t}" }}
{include}allow b -> c : https "{t}"
allow b -> d : https "{t}" log
assert unreachable a -> c accepted "{t}"
gateway fw {{ platform iptables interface "eth1.{{vlan}}" uplink "eth0" serves a, b }}
gateway sw {{ platform cisco-ios uplink "Te1/1/1" stateless-replies accepted "{t}" serves c }}
gateway nf {{ platform nftables interface "nf{{vlan}}" uplink "up0" serves d }}
"""
INCLUDED = 'allow a -> b : https "{t}"\n'

# Characters that have broken a terminal, a table, a document or a spreadsheet somewhere.
NASTY = (
    "\x00\x01\x07\x08\t\x0b\x0c\r\x1b\x7f\x85\x9b\u061c\u200b\u200e\u200f\u2028\u2029"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\ufffe\uffff\U000e0041"
    "\"\\'`<>&;|*_~$#[](){}!=+-@%: /."
)
PIECES = (
    "<img src=x onerror=alert(1)>",
    "[x](https://evil.example)",
    "](",
    "&#0;",
    "&lt;",
    "=cmd|' /C calc'!A0",
    "\x1b]0;pwned\x07\x1b[2J",
    "</script>",
    "<!--",
    "]]>",
    "\\n",
    "-->",
    "{vlan}",
    "a\r",
    "| --- |",
    "\u202egnp.exe",
    "https://evil.example/x",
    "see www.evil.example",
    "HTTP://X.EXAMPLE",
    "ops@evil.example",
    "mailto:a.b@c.de",
    "xmpp:x@y.zz/r",
    "ftp://f.example",
)
hostile_text = st.lists(
    st.sampled_from(NASTY)
    | st.sampled_from(PIECES)
    | st.characters(exclude_categories=("Cs",), exclude_characters="\n"),
    min_size=1,
    max_size=12,
).map("".join)
# a file name: no "/" or NUL, not "." or "..", at most 255 bytes with ".zw"
file_stem = hostile_text.map(lambda s: s.replace("/", "_").replace("\x00", "_")[:40]).filter(
    lambda s: s not in ("", ".", "..") and len(s.encode()) < 200
)

TERMINAL_OK = frozenset("\n\t\u200c\u200d")


def literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def terminal_clean(text: str) -> bool:
    """No character a terminal would act on or hide: controls, format, separators."""
    return not any(
        c not in TERMINAL_OK and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text
    )


@dataclass
class Rendered:
    texts: dict[str, str]  # terminal text outputs
    docs: dict[str, str]  # every other output


def render_all_formats(tmp: Path, text: str, stem: str) -> Rendered:
    tmp.mkdir(parents=True)
    include = f"{stem}.zw"
    (tmp / include).write_text(INCLUDED.format(t=literal(text)), encoding="utf-8")
    body = POLICY.format(t=literal(text), include=f'include "{literal(include)}"\n')
    (tmp / "p.zw").write_text(body, encoding="utf-8")
    (tmp / "old.zw").write_text(POLICY.format(t=literal(text), include=""), encoding="utf-8")
    path = str(tmp / "p.zw")
    report = run_check(path)
    assert report.compiled is not None, render_diagnostics(report)
    conduits = build_conduits(report.compiled)
    graph = flow_graph(conduits, report.assertions[0], path)
    old, new = load_side("old", str(tmp / "old.zw")), load_side("new", path)
    assert old.report.compiled is not None and new.report.compiled is not None
    d = compare(old.report.compiled, new.report.compiled, count_rules=False)
    why = explain(report.compiled, report.sources, "a", "b", None, None, None, None)
    result = build(path, str(tmp / "out"))
    assert result.written, render_diagnostics(result.check)
    texts = {
        "check": render_diagnostics(report) + render_text_summary(report),
        "matrix": render_matrix(conduits, "text", 200, path),
        "diff": diff_text(d, old, new),
        "explain": explain_text(why),
        "build": render_build_summary(result, str(tmp / "out")),
    }
    docs = {
        "json": to_json(report),
        "sarif": to_sarif(report, base=str(tmp)),
        "junit": to_junit(report),
        "csv": render_matrix(conduits, "csv"),
        "markdown": render_matrix(conduits, "markdown", source=path),
        "diff-markdown": diff_markdown(d, old, new),
        "diff-json": diff_json(d, old, new, True),
        "explain-json": explain_json(why),
        "matrix-html": render_matrix(conduits, "html", source=path),
        "html": render_html_report(report, conduits, report.assertions[0]),
        "dot": render_dot(graph, path),
        "mermaid": render_mermaid(graph, path),
    }
    texts["replay"], docs["replay-json"], docs["replay-markdown"], docs["replay-html"] = replayed(
        tmp, report, text, stem
    )
    if shutil.which("dot"):
        docs["svg"] = render_svg(graph, path)
    for f in sorted((tmp / "out").iterdir()):
        docs["build/" + f.name] = f.read_text(encoding="utf-8")
    return Rendered(texts, docs)


def replayed(tmp: Path, report: CheckReport, text: str, stem: str) -> tuple[str, ...]:
    """`replay` of a flow file named like the included file: a permitted flow, a blocked one
    that breaks the `unreachable`, an unknown address and a bad record holding the text (the
    file is read line by line: CR would end the line, NUL and SOH are DuckDB's own)."""
    c = report.compiled
    assert c is not None
    host = {k.name: str(IPAddress(k.prefixes[0].first + 1)) for k in c.classes}
    record = "x" + "".join(" " if ch in "\r\x00\x01" else ch for ch in text)
    rows = [
        f"{host['b']},{host['c']},tcp,443",
        f"{host['a']},{host['c']},tcp,22",
        f"{host['a']},10.99.0.5,tcp,443",
        f"{host['a']},{host['b']},tcp,{record}",
    ]
    flows = tmp / f"{stem}.csv"
    flows.write_text("src,dst,proto,dport\n" + "\n".join(rows) + "\n", encoding="utf-8")
    r = judge(c, report.sources, aggregate(c, [str(flows)]))
    assert len(r.blocked) == 1 and len(r.violations) == 1 and r.files[0].bad == 1, r
    path = report.path
    return (
        replay_text(r, path, "blocked"),
        replay_json(r, path, "blocked"),
        replay_markdown(r, path, "blocked"),
        replay_html(r, report, path, "blocked"),
    )


_PLAIN: dict[str, Rendered] = {}


def plain(tmp_root: Path) -> Rendered:
    if "r" not in _PLAIN:
        _PLAIN["r"] = render_all_formats(tmp_root / "plain", "plain text", "inc")
    return _PLAIN["r"]


# --- structure of each format, as its parser sees it ------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1


def html_tags(doc: str) -> Counter[str]:
    parser = _Tags()
    parser.feed(doc)
    parser.close()
    return parser.tags


def xml_shape(doc: str) -> list[str]:
    root = ET.fromstring(doc[doc.index("<svg") :] if "<svg" in doc[:400] else doc.encode())
    return [el.tag for el in root.iter()]


def svg_of(doc: str) -> str:
    return doc[doc.index("<svg") : doc.index("</svg>") + 6]


def md_cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def md_links(doc: str) -> int:
    """Live links and raw HTML tags (an unescaped `](` or `<letter`), but the empty comment
    `markdown_text` puts after the `@` of an address."""
    return len(re.findall(r"(?<!\\)\]\(|<[A-Za-z/!?]", doc.replace("<!-- -->", "")))


def md_html_tags(doc: str) -> Counter[str]:
    """The tags GitHub's own parser (cmark-gfm: tables, autolinks, strikethrough, raw HTML
    passed through as GitHub's sanitiser gets it) makes of a Markdown document: a link, an
    autolinked bare URL, `www.` or e-mail address, emphasis, a cell or a raw tag counts."""
    return html_tags(
        cmarkgfm.github_flavored_markdown_to_html(doc, options=Options.CMARK_OPT_UNSAFE)
    )


def sarif_messages(log: dict) -> list[str]:  # type: ignore[type-arg]
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("message"), dict):
                found.append(node["message"]["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(log)
    return found


def sarif_uris(log: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(
        {
            loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]
            for loc in r["locations"] + r.get("relatedLocations", [])
        }
    )


def check_document(name: str, doc: str, ref: str, text: str, stem: str) -> None:
    fmt = "file." + name.rsplit(".", 1)[-1] if name.startswith("build/") else name
    if fmt == "file.yaml":  # yaml.dump folds long strings: the data is the structure
        rows, ref_rows = yaml.safe_load(doc), yaml.safe_load(ref)
        assert [sorted(r) for r in rows] == [sorted(r) for r in ref_rows]
        assert rows[0]["description"] == text
        return
    assert len(doc.split("\n")) == len(ref.split("\n")), name
    if fmt in ("json", "diff-json", "explain-json", "sarif", "file.json", "replay-json"):
        json.loads(doc)
    if fmt == "replay-json":
        assert json.loads(doc)["unused_allows"][0]["text"].startswith("allow a -> b : https ")
    if fmt == "json":
        assert json.loads(doc)["acknowledged"][0]["reason"] == text  # kept as written
    if fmt == "sarif":
        log, ref_log = json.loads(doc), json.loads(ref)
        links = [re.findall(r"(?<!\\)\]\(([^)]*)\)", m) for m in sarif_messages(log)]
        assert links == [re.findall(r"(?<!\\)\]\(([^)]*)\)", m) for m in sarif_messages(ref_log)]
        assert all(t.isdigit() for ts in links for t in ts)  # only zonewall's own links
        uris = sarif_uris(log)
        assert all(re.fullmatch(r"[A-Za-z0-9._~!$&'()*+,;=:@/%-]+", u) for u in uris), uris
        assert f"{stem}.zw" in [unquote(u) for u in uris]
    if fmt in ("junit", "svg"):
        assert xml_shape(doc) == xml_shape(ref), name
    if fmt == "replay-html":  # the inline SVG of the graph is well-formed XML, as drawn plain
        assert xml_shape(svg_of(doc)) == xml_shape(svg_of(ref)), name
    if fmt in ("html", "matrix-html", "replay-html"):
        assert html_tags(doc) == html_tags(ref), name
        assert terminal_clean(doc.replace("\u200b", "")), name
    if fmt in ("csv", "file.csv"):
        rows, ref_rows = list(csv.reader(io.StringIO(doc))), list(csv.reader(io.StringIO(ref)))
        assert [len(r) for r in rows] == [len(r) for r in ref_rows], name
        assert not any(
            cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))
            for r in rows
            for cell in r
        ), name
    if fmt in ("markdown", "diff-markdown", "file.md", "replay-markdown"):
        assert [md_cells(x) for x in doc.split("\n")] == [md_cells(x) for x in ref.split("\n")]
        assert md_links(doc) == md_links(ref), name
        assert md_html_tags(doc) == md_html_tags(ref), name
    if fmt == "dot":  # every line a statement, its strings closed; Graphviz parses it (svg)
        for line in doc.split("\n"):
            assert len(re.findall(r'(?<!\\)(?:\\\\)*"', line)) % 2 == 0, line
    if fmt == "mermaid":
        assert [x.count('"') for x in doc.split("\n")] == [x.count('"') for x in ref.split("\n")]


@given(text=hostile_text, stem=file_stem)
@example(
    text="\x1b]0;pwned\x07\x1b[2J \u202e [x](https://evil.example) <img src=x>",
    stem="<img src=x onerror=alert(1)> [x](https:evil.example) |\r\x1b[2J",
)
@example(text="=cmd|' /C calc'!A0\r+1", stem="=1+1")
@example(text="ops@evil.example https://evil.example www.evil.example", stem="www.evil.example")
def test_hostile_text_in_every_slot_of_every_output(
    tmp_path_factory: object, text: str, stem: str
) -> None:
    root = tmp_path_factory.mktemp("hostile")  # type: ignore[attr-defined]
    # durability is not what this test is about: fsync is most of a build's time here
    with mock.patch("os.fsync"):
        ref = plain(tmp_path_factory.mktemp("plain"))  # type: ignore[attr-defined]
        got = render_all_formats(root / "h", text, stem)
    assert sorted(got.docs) == sorted(ref.docs)
    for name, out in got.texts.items():
        assert terminal_clean(out), (name, out)
        assert len(out.split("\n")) == len(ref.texts[name].split("\n")), (name, out)
    for name, doc in got.docs.items():
        check_document(name, doc, ref.docs[name], text, stem)
