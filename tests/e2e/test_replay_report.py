"""`zonewall replay --format html` on the example hospital's day of traffic (issue 16, part 3),
and `-o` for every replay format: one self-contained page with the observed traffic drawn over
the flow graph, the same bytes on every run, written atomically or not at all."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "examples" / "hospital.zw")
FLOWS = [str(ROOT / "examples" / "flows" / n) for n in ("hospital-flows.csv", "conn.log")]
SVG = "{http://www.w3.org/2000/svg}"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from zonewall.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err
    return code, out, err


class _Tables(HTMLParser):
    """Each table's rows (cells as text) under the heading that precedes it, and every
    reference to anything outside the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.heading = ""
        self.external: list[str] = []
        self._in: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        if tag in ("script", "link", "iframe", "img", "object"):
            self.external.append(tag)
        if tag in ("h2", "h3"):
            self._in, self._text = "heading", ""
        elif tag == "tr":
            self.tables.setdefault(self.heading, []).append([])
        elif tag in ("td", "th"):
            self._in, self._text = "cell", ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3") and self._in == "heading":
            self.heading, self._in = self._text.split(" (")[0], None
        elif tag in ("td", "th") and self._in == "cell":
            self.tables[self.heading][-1].append(self._text)
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data


def tables(doc: str) -> _Tables:
    parser = _Tables()
    parser.feed(doc)
    parser.close()
    return parser


def edges(doc: str) -> dict[str, list[tuple[str, str, str]]]:
    """The graph's arrows by kind of line: (tooltip's first line, label, tooltip's second
    line: what was observed)."""
    root = ET.fromstring(doc[doc.index("<svg") : doc.index("</svg>") + 6])
    out: dict[str, list[tuple[str, str, str]]] = {}
    for g in root.iter(f"{SVG}g"):
        if "edge" not in (g.get("class") or "").split():
            continue
        path = g.find(f"{SVG}path")
        title = g.find(f"{SVG}title")
        label = g.find(f"{SVG}text")
        assert path is not None and title is not None
        kind = " ".join((path.get("class") or "").split()[1:]) or "plain"
        head, seen = (title.text or "").split("\n")[:2]
        text = (label.text or "") if label is not None else ""
        out.setdefault(kind, []).append((head, text, seen))
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("replay") / "replay.html"
    done = subprocess.run(
        [sys.executable, "-m", "zonewall", "replay", POLICY, *FLOWS, "--format", "html"]
        + ["-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # observed traffic would be blocked
    assert done.stdout == "" and done.stderr == ""
    return out.read_text(encoding="utf-8")


def test_the_graph_shows_what_the_traffic_did_on_each_conduit(page: str) -> None:
    drawn = edges(page)
    assert sorted(drawn) == ["hl", "hl missing", "seen", "unused"]
    # the forgotten clinical flow: the analyzers' ASTM is allowed and carried, HL7 is not
    assert [e[:2] for e in drawn["hl"]] == [
        (
            "lab_analyzer -> lis: allowed astm",
            "blocked hl7 (14 flow(s)); carried tcp/5100 (8 flow(s))",
        )
    ]
    # the legacy consoles' Windows Update: nothing opens the pair, a dashed red arrow
    assert drawn["hl missing"] == [
        (
            "legacy_win -> internet: no allow",
            "blocked https (6 flow(s))",
            "observed, would be blocked: 6 flow(s), 1,364 packet(s), "
            "2025-03-03T08:34:43Z .. 2025-03-03T19:04:35Z: https",
        )
    ]
    # past 40 arrows only the red ones carry a label; the tooltips say what was seen
    assert ("hl7_engine -> ehr_app: allowed hl7_tls", "", "no observed traffic") in drawn["unused"]
    assert all(e[2] == "no observed traffic" for e in drawn["unused"])
    assert len(drawn["seen"]) == 17
    assert all(e[2].startswith("observed, permitted: ") for e in drawn["seen"])
    # every permitted flow is drawn on its conduit: 159 of the text report's "permitted by
    # the policy: 159 flow(s)"
    carried = [e[2] for kind in ("seen", "hl") for e in drawn[kind]]
    assert sum(int(re.findall(r"permitted: (\d+) flow", x)[0]) for x in carried) == 159
    # the nodes of blocked traffic are marked
    assert page.count('class="node class hl"') + page.count('class="node external hl"') == 4


def test_the_tables_say_what_the_text_report_says(page: str) -> None:
    t = tables(page)
    assert t.external == []  # self-contained: no script, no link, nothing fetched
    blocked = t.tables["Blocked"][1:]
    assert blocked[0][:4] == ["lab_analyzer", "lis", "hl7", "14"]
    assert blocked[0][7] == "default deny"
    assert blocked[1][:3] == ["legacy_win", "internet", "https"]
    assert re.fullmatch(
        r".*examples/hospital\.zw:\d+: deny legacy_win -> internet .*", blocked[1][7]
    )
    unused = t.tables["Allows never used"][1:]
    assert len(unused) == 18 and all(re.search(r"hospital\.zw:\d+$", row[0]) for row in unused)
    violated = t.tables["Assertions the observed traffic violates"][1:]
    assert [row[0].split(": ", 1)[1] for row in violated] == [
        "assert denied legacy_win -> external"
    ]
    assert violated[0][1:] == ["legacy_win -> internet", "https", "6", "blocks it"]
    assert t.tables["Unknown addresses"][1][0] == "10.60.3.0/24"
    files = t.tables["Flow files"][1:]
    assert [row[1] for row in files] == ["csv", "zeek-tsv"]


def test_the_page_is_the_same_bytes_on_every_run(page: str, tmp_path: Path) -> None:
    for seed in ("0", "4242"):
        out = tmp_path / f"r{seed}.html"
        subprocess.run(
            [sys.executable, "-m", "zonewall", "replay", POLICY, *FLOWS, "--format", "html"]
            + ["-o", str(out)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=False,
        )
        assert out.read_text(encoding="utf-8") == page


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_o_writes_what_stdout_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, _ = run(capsys, "replay", POLICY, *FLOWS, "--format", fmt)
    target = tmp_path / f"replay.{fmt}"
    assert run(capsys, "replay", POLICY, *FLOWS, "--format", fmt, "-o", str(target)) == (
        code,
        "",
        "",
    )
    assert target.read_text(encoding="utf-8") == out
    if fmt == "json":
        assert json.loads(out)["blocked"][0]["from"] == "lab_analyzer"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary left


def test_nothing_is_written_on_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "replay.html"
    bad = tmp_path / "bad.csv"
    bad.write_text("src,dst,proto,dport\nnot,an,address,x\n", encoding="utf-8")
    assert run(capsys, "replay", POLICY, str(bad), "--format", "html", "-o", str(out))[0] == 1
    broken = tmp_path / "broken.zw"
    broken.write_text("class a {\n", encoding="utf-8")
    assert run(capsys, "replay", str(broken), *FLOWS, "--format", "html", "-o", str(out))[0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "broken.zw"]


def test_o_never_writes_through_a_link_nor_over_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "replay.html"
    link.symlink_to(victim)
    code, _, err = run(capsys, "replay", POLICY, *FLOWS, "--format", "html", "-o", str(link))
    assert code == 1 and "symbolic link" in err and "nothing written" in err
    assert victim.read_text(encoding="utf-8") == "keep me\n" and link.is_symlink()
    flows = tmp_path / "flows.csv"
    flows.write_bytes(Path(FLOWS[0]).read_bytes())
    code, _, err = run(capsys, "replay", POLICY, str(flows), "-o", str(flows))
    assert code == 2 and "is the input file" in err
    assert flows.read_bytes() == Path(FLOWS[0]).read_bytes()


def test_replay_then_enforce_as_the_readme_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """README, `zonewall replay`: replay, allow the forgotten clinical flow, replay again
    (only what a deny is for stays blocked), build."""
    code, out, _ = run(capsys, "replay", POLICY, *FLOWS)
    assert code == 1 and "blocked (2 class pair(s) and service(s), 20 flow(s)):" in out
    assert "denied by examples/hospital.zw:255: deny legacy_win -> internet" in (
        out.replace(str(ROOT) + "/", "")
    )
    source = Path(POLICY).read_text(encoding="utf-8")
    anchor = 'allow lab_analyzer -> lis : astm  "results and host queries"\n'
    assert anchor in source
    fixed = tmp_path / "hospital.zw"
    fixed.write_text(
        source.replace(
            anchor,
            anchor + 'allow lab_analyzer -> lis : hl7  "blood-gas results to the LIS (seen in '
            'replay, 14 flows a day)"\n',
        ),
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "replay", str(fixed), *FLOWS, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [(b["from"], b["to"], b["service"], b["decided_by"]) for b in doc["blocked"]] == [
        ("legacy_win", "internet", "https", "deny")
    ]
    assert doc["blocked"][0]["denies"][0]["line"] == 255
    code, out, _ = run(capsys, "build", str(fixed), "-o", str(tmp_path / "out"))
    assert code == 0, out
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_arrows_for_pairs_no_allow_connects_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from zonewall.present import replay_html
    from zonewall.report import run_check
    from zonewall.traffic.engine import aggregate
    from zonewall.traffic.replay import judge

    report = run_check(POLICY)
    assert report.compiled is not None
    r = judge(report.compiled, report.sources, aggregate(report.compiled, FLOWS))
    monkeypatch.setattr(replay_html, "NEW_ARROWS", 0)
    doc = replay_html.replay_html(r, report, "hospital.zw", "blocked")
    assert "hl missing" not in edges(doc)
    assert "1 more pair(s) of zones with blocked traffic and no allow between them" in doc
    assert tables(doc).tables["Blocked"][2][:2] == ["legacy_win", "internet"]  # still listed


def test_nodes_go_to_o_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, shown, _ = run(capsys, "replay", POLICY, "--nodes")
    out = tmp_path / "nodes.csv"
    assert (code, run(capsys, "replay", POLICY, "--nodes", "-o", str(out))) == (0, (0, "", ""))
    assert out.read_text(encoding="utf-8") == shown and shown.count("\n") > 10


def test_learn_never_writes_over_one_of_its_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = tmp_path / "flows.csv"
    flows.write_bytes(Path(FLOWS[0]).read_bytes())
    policy = tmp_path / "hospital.zw"
    policy.write_bytes(Path(POLICY).read_bytes())
    for target in (flows, policy):
        code, out, err = run(
            capsys, "learn", str(flows), "--policy", str(policy), "-o", str(target)
        )
        assert code == 2 and "is the input file" in err and out == ""
    assert flows.read_bytes() == Path(FLOWS[0]).read_bytes()
    assert policy.read_bytes() == Path(POLICY).read_bytes()
