"""`check --format sarif|junit`, `matrix` and `graph` end to end (zonewall.present)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cli_util import in_process
from kernel_util import REQUIRE_ENV

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
ALL_EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in EXAMPLES.rglob("*.zw"))
TRANSITIVE = "examples/failures/transitive-path.zw"


run = in_process


@pytest.fixture(autouse=True)
def _in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def text_exit(capsys: pytest.CaptureFixture[str], path: str, *flags: str) -> int:
    return run(capsys, "check", *flags, path)[0]


# ---------------------------------------------------------------------------------------------
# SARIF
# ---------------------------------------------------------------------------------------------


def sarif(capsys: pytest.CaptureFixture[str], path: str, *flags: str) -> tuple[int, Any]:
    code, out, err = run(capsys, "check", "--format", "sarif", *flags, path)
    assert err == ""
    return code, json.loads(out)


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=ALL_EXAMPLES)
def test_sarif_is_valid_and_exits_as_text_does(
    capsys: pytest.CaptureFixture[str], path: str
) -> None:
    code, log = sarif(capsys, path)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert code == text_exit(capsys, path)
    run_ = log["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "zonewall" and driver["version"]
    assert "informationUri" not in driver  # optional; no placeholder URL until a public home
    ids = [r["id"] for r in driver["rules"]]
    for kind_code in ("E301", "E302", "E303", "E304", "E305", "E306", "W109"):
        assert kind_code in ids
    for result in run_["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        assert 1 <= len(result["locations"]) <= 10
        for loc in result["locations"] + result.get("relatedLocations", []):
            art = loc["physicalLocation"]["artifactLocation"]
            assert art == {"uri": path, "uriBaseId": "%SRCROOT%"} or art["uri"].startswith(
                "examples/"
            )
            region = loc["physicalLocation"]["region"]
            assert region["startLine"] >= 1 and region["startColumn"] >= 1
            assert (region["endLine"], region["endColumn"]) > (
                region["startLine"],
                region["startColumn"],
            )
        assert len(result["partialFingerprints"]["zonewall/v1"]) == 32


def test_sarif_failing_assertion_carries_its_counterexample(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, log = sarif(capsys, TRANSITIVE)
    assert code == 1
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["E301"]  # one result, not diagnostic + assertion
    r = results[0]
    assert r["level"] == "error"
    assert r["properties"] == {
        "assertion": "unreachable guest_wifi -> infusion_pump",
        "kind": "unreachable",
        "status": "fail",
    }
    assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == 32
    related = [
        (x["id"], x["physicalLocation"]["region"]["startLine"], x["message"]["text"])
        for x in r["relatedLocations"]
    ]
    assert related == [
        (1, 32, "hop 1: guest_wifi -> byod"),
        (2, 33, "hop 2: byod -> biomed_ws"),
        (3, 34, "hop 3: biomed_ws -> pump_server"),
        (4, 35, "hop 4: pump_server -> infusion_pump"),
        (5, 45, "asserted here"),
    ]
    text = r["message"]["text"]
    assert "2. byod -> biomed_ws on https ([opened here](2))" in text
    assert "[Asserted here](5)" in text
    steps = r["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in steps] == [
        32,
        33,
        34,
        35,
    ]


def test_sarif_accepted_risk_is_a_warning_with_its_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, log = sarif(capsys, "examples/failures/accepted-risk.zw")
    assert code == 0
    (r,) = log["runs"][0]["results"]
    assert (r["ruleId"], r["level"], r["properties"]["status"]) == ("W109", "warning", "accepted")
    assert "RISK-0142" in r["message"]["text"] and "lab_analyzer -> lis" in r["message"]["text"]
    assert sarif(capsys, "examples/failures/accepted-risk.zw", "--warnings-as-errors")[0] == 1


def test_sarif_diagnostics_without_assertions(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif(capsys, "examples/failures/overlapping-subnets.zw")
    assert code == 1
    (r,) = log["runs"][0]["results"]
    assert r["ruleId"] == "E205" and r["level"] == "error"
    assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == 12


def test_sarif_fingerprints_survive_lines_added_above(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (ROOT / TRANSITIVE).read_text(encoding="utf-8")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "p.zw").write_text(source, encoding="utf-8")
    (second / "p.zw").write_text("# a new comment\n\n" + source, encoding="utf-8")
    logs = []
    for folder in (first, second):
        os.chdir(folder)
        logs.append(sarif(capsys, "p.zw")[1]["runs"][0]["results"])
    assert [r["partialFingerprints"] for r in logs[0]] == [
        r["partialFingerprints"] for r in logs[1]
    ]
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in logs[1]]
    assert lines == [34]
    assert logs[0][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "p.zw"


def test_sarif_file_outside_the_directory_gets_an_absolute_uri(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inner = tmp_path / "cwd"
    inner.mkdir()
    shutil.copy(ROOT / TRANSITIVE, tmp_path / "p.zw")
    os.chdir(inner)
    _, log = sarif(capsys, "../p.zw")
    art = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": (tmp_path / "p.zw").as_uri()}
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_sarif_lists_at_most_max_results_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub keeps 25,000 results a run; past that the log counts the diagnostics it leaves
    out instead of building them (800,000 took 4 GB)."""
    from zonewall.present import sarif as sarif_module
    from zonewall.report import run_check

    policy = tmp_path / "p.zw"
    policy.write_text("".join(f"allow x{i} -> y{i}\n" for i in range(6)), encoding="utf-8")
    report = run_check(str(policy))
    assert len(report.diagnostics) == 12  # two unknown names a line
    monkeypatch.setattr(sarif_module, "MAX_RESULTS", 5)
    log = json.loads(sarif_module.to_sarif(report, base=str(tmp_path)))
    run = log["runs"][0]
    assert [r["message"]["text"] for r in run["results"]] == [
        sarif_module._escape(d.message) for d in report.diagnostics[:5]
    ]
    assert run["properties"]["omittedResults"] == 7
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    monkeypatch.setattr(sarif_module, "MAX_RESULTS", 12)
    run = json.loads(sarif_module.to_sarif(report, base=str(tmp_path)))["runs"][0]
    assert len(run["results"]) == 12 and "omittedResults" not in run["properties"]


# ---------------------------------------------------------------------------------------------
# JUnit
# ---------------------------------------------------------------------------------------------


def junit(capsys: pytest.CaptureFixture[str], path: str, *flags: str) -> tuple[int, ET.Element]:
    code, out, err = run(capsys, "check", "--format", "junit", *flags, path)
    assert err == "" and out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return code, ET.fromstring(out)


def asserts_in(path: str) -> list[str]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return [
        " ".join(line.split("#")[0].split()[1:])
        for line in text.splitlines()
        if line.startswith("assert ")
    ]


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=ALL_EXAMPLES)
def test_junit_one_case_per_assertion_and_true_counts(
    capsys: pytest.CaptureFixture[str], path: str
) -> None:
    code, top = junit(capsys, path)
    assert code == text_exit(capsys, path)
    assert top.tag == "testsuites"
    (suite,) = top.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases if c.get("name") != "policy is valid"]
    expected = [re.sub(r' accepted ".*"$', "", a) for a in asserts_in(path)]
    assert names == (expected if code == 0 or names else [])
    for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        n = sum(1 for c in cases if c.find(tag) is not None)
        assert suite.get(attr) == top.get(attr) == str(n)
    assert suite.get("tests") == top.get("tests") == str(len(cases))
    assert all(c.get("classname") == path for c in cases)
    green = all(c.find("failure") is None and c.find("error") is None for c in cases)
    assert green == (code == 0)


def test_junit_failure_and_skip_bodies(capsys: pytest.CaptureFixture[str]) -> None:
    _, top = junit(capsys, TRANSITIVE)
    cases = {c.get("name"): c for c in top.iter("testcase")}
    assert cases["denied guest_wifi -> infusion_pump"].find("failure") is None
    failure = cases["unreachable guest_wifi -> infusion_pump"].find("failure")
    assert failure is not None and failure.get("type") == "E301"
    assert (
        "3. biomed_ws -> pump_server on https (statement at "
        "examples/failures/transitive-path.zw:34)" in (failure.text or "")
    )
    _, top = junit(capsys, "examples/failures/accepted-risk.zw")
    (case,) = top.iter("testcase")
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("accepted risk: RISK")


def test_junit_errors_make_a_failing_validity_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, top = junit(capsys, "examples/failures/syntax-error.zw")
    assert code == 1
    (case,) = top.iter("testcase")
    error = case.find("error")
    assert case.get("name") == "policy is valid" and error is not None
    assert error.get("type") == "E101" and "18 | allow clinician_ws" in (error.text or "")
    code, top = junit(capsys, "examples/failures/dead-and-redundant.zw", "--warnings-as-errors")
    assert code == 1 and top.get("errors") == "1"
    code, top = junit(capsys, "examples/failures/dead-and-redundant.zw")
    assert code == 0 and top.get("errors") == "0"
    system_err = top.find("testsuite/system-err")
    assert system_err is not None and "W101" in (system_err.text or "")


# ---------------------------------------------------------------------------------------------
# matrix
# ---------------------------------------------------------------------------------------------


def test_matrix_text_grid_when_it_fits_list_otherwise(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", TRANSITIVE)
    assert code == 0
    assert re.search(r"^guest_wifi +\. +https +- +\. +\. +https$", out, re.M)
    assert '32  allow https  "screen casting (a test rule left behind)"' in out
    code, out, _ = run(capsys, "matrix", "examples/hospital.zw")
    # too wide in full: the compact grid (numbered columns, a code per distinct cell) fits
    assert code == 0 and "the full grid is wider than 120 columns" in out
    grid = out[: out.index("\ncolumns: ")].splitlines()
    head = next(g for g in grid if g.lstrip().startswith("1 2 3"))
    assert max(len(g) for g in grid) <= 120 and head.split()[-1] == str(len(grid) - 3)
    row = next(g for g in grid if g.split()[1:2] == ["guest_wifi"])
    legend = dict(
        item.split(" = ")
        for item in " ".join(out[out.index("\ncells: ") + 8 :].split("\n'.'")[0].split()).split(
            "; "
        )
    )
    assert {legend[c] for c in row.split()[2:] if c not in ".-"} == {"dhcp", "https, http, dns"}
    assert "  infusion_pump -> pump_server: https\n      examples/hospital.zw:" in out
    code, out, _ = run(capsys, "matrix", "--width", "60", "examples/hospital.zw")
    assert "grid is wider than 60 columns, even with numbered columns" in out
    code, out, _ = run(capsys, "matrix", "--width", "5000", "examples/hospital.zw")
    assert "source \\ destination  ad_dc" in out


def test_matrix_csv_one_row_per_conduit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "--format", "csv", "examples/hospital.zw")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 110
    pump = next(
        r for r in rows if (r["source"], r["destination"]) == ("pump_server", "pump_vendor")
    )
    assert pump["services"] == "https" and pump["destination_kind"] == "external"
    assert "vendor drug-library and firmware service" in pump["why"]
    internet = [r for r in rows if r["destination"] == "internet"]
    assert {r["source"] for r in internet} == {"byod", "clinician_ws", "core_net", "guest_wifi"}


def test_matrix_csv_never_starts_a_formula_nor_splits_a_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `why` and an included file's name are free text: a CR must not split the row, and a
    cell a spreadsheet would run as a formula starts with `'` (issue #12)."""
    monkeypatch.chdir(tmp_path)
    Path("=inc.zw").write_text('allow a -> b : https "ok\r@SUM(1)"\n', encoding="utf-8")
    Path("p.zw").write_text(
        'include "=inc.zw"\nservice https = tcp/443\n'
        "class a { vlan 10 subnet 10.1.0.0/24 }\nclass b { vlan 20 subnet 10.1.1.0/24 }\n"
        "gateway g { platform iptables serves a, b }\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "matrix", "p.zw", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(out.splitlines()) == 2 and len(rows) == 1
    assert rows[0]["why"] == "'=inc.zw:1: ok @SUM(1)"
    for cell in rows[0].values():
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_matrix_markdown_and_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "matrix", "--format", "markdown", TRANSITIVE)
    assert code == 0
    assert "| `guest_wifi` |  | https | - |  |  | https |" in out
    assert (
        "| `guest_wifi` | `byod` | https | no | allow examples/failures/transitive\\-path.zw:32"
        not in out
    )  # '-' is not escaped in Markdown
    assert (
        "| `guest_wifi` | `byod` | https | no | allow examples/failures/transitive-path.zw:32 "
        "| screen casting (a test rule left behind) |" in out
    )
    target = tmp_path / "m.html"
    assert run(capsys, "matrix", "--format", "html", "-o", str(target), TRANSITIVE)[0] == 0
    page = target.read_text(encoding="utf-8")
    assert '<table class="matrix">' in page and "screen casting" in page
    assert_offline(page)


# ---------------------------------------------------------------------------------------------
# graph
# ---------------------------------------------------------------------------------------------


def assert_offline(page: str) -> None:
    refs = re.findall(r"""(?:src|href|xlink:href)\s*=\s*["']?\s*([^"'\s>]+)""", page, re.I)
    assert not [r for r in refs if not r.startswith("#")], refs
    assert not re.search(r"url\(\s*['\"]?(?!#)", page)
    assert "<script" not in page.lower() and "@import" not in page
    assert "<link" not in page.lower()


def test_graph_html_is_one_offline_file_with_graph_and_matrix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    code, out, err = run(
        capsys, "graph", "examples/hospital.zw", "--format", "html", "-o", str(target)
    )
    assert (code, out, err) == (0, "", "")
    page = target.read_text(encoding="utf-8")
    assert_offline(page)
    assert "<svg" in page and '<table class="matrix">' in page
    assert page.count('<g class="node class') == 26
    assert page.count('<g class="node external') == 5  # oob_mgmt is the fifth
    assert "29 assertions: 29 hold" in page and "drug library downloads" in page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # nothing else written


def test_graph_dot_nodes_edges_and_highlight(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "graph", TRANSITIVE, "--highlight", "unreachable guest_wifi -> infusion_pump"
    )
    assert code == 0 and out.startswith("digraph zonewall {")
    assert out.count("shape=box") == 5 and out.count("shape=ellipse") == 1
    assert "subgraph cluster_externals" in out
    edges = [line for line in out.splitlines() if " -> n" in line]
    assert len(edges) == 6
    assert sum('color="#d7191c"' in e for e in edges) == 4  # the 4 hops of the path
    by_line = run(capsys, "graph", TRANSITIVE, "--highlight", "45")[1]
    assert by_line == out


def test_graph_highlight_of_a_missing_flow_is_a_dashed_edge(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "p.zw"
    policy.write_text(
        "pool subnets 10.0.0.0/16\npool vlans 100-199\nservice https = tcp/443\n"
        "class a { hosts 10 }\nclass b { hosts 10 }\n"
        "allow a -> b : https\n"
        "gateway fw { platform iptables\n serves internal }\n"
        "assert allowed b -> a : https\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "graph", str(policy), "--highlight", "9", "--format", "mermaid")
    assert code == 0
    assert '-.->|"missing: https"|' in out


def test_graph_highlight_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", TRANSITIVE, "--highlight", "unreachable x -> y")
    assert (code, out) == (2, "")
    assert err.startswith("zonewall graph: --highlight 'unreachable x -> y' names no assertion")
    assert "line 45: unreachable guest_wifi -> infusion_pump" in err
    code, out, err = run(capsys, "graph", TRANSITIVE, "--highlight", "44")
    assert code == 0 and out.startswith("digraph") and "holds: no counterexample" in err


def test_graph_and_matrix_refuse_a_broken_policy(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("graph", "matrix"):
        code, out, err = run(capsys, cmd, "examples/failures/misspelled-class.zw")
        assert (code, out) == (1, "")
        assert "error[E201]" in err and f"zonewall {cmd}: nothing drawn" in err
    code, out, err = run(capsys, "graph", "no/such/file.zw")
    assert code == 1 and "E105" in err and "Traceback" not in err


def test_graph_svg_without_graphviz_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, out, err = run(capsys, "graph", TRANSITIVE, "--format", "svg")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "apt-get install graphviz" in err


def test_graph_svg_through_graphviz(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("dot") is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"Graphviz 'dot' is not installed, but {REQUIRE_ENV}=1")
        pytest.skip("Graphviz 'dot' is not installed")
    code, out, err = run(
        capsys, "graph", "examples/hospital.zw", "--format", "svg", "--highlight", "1"
    )
    assert code == 2  # line 1 holds no assertion
    code, out, err = run(capsys, "graph", TRANSITIVE, "--format", "svg", "--highlight", "45")
    assert (code, err) == (0, "")
    svg = ET.fromstring(out[out.index("<svg") :])
    assert svg.tag.endswith("svg")
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert "n2&#45;&gt;n1" in titles or "n2->n1" in titles
    assert out.count('stroke="#d7191c"') >= 4


def hostile_policy(tmp_path: Path) -> Path:
    policy = tmp_path / 'we<ird> & "dir"' / "p.zw"
    policy.parent.mkdir()
    policy.write_text(
        'policy "Title <b>bold</b> & \\"quoted\\" | pipe # hash" { owner "x" }\n'
        "pool subnets 10.0.0.0/16\npool vlans 100-199\nservice https = tcp/443\n"
        'class a { hosts 10 description "</script><script>alert(1)</script>" }\n'
        "class b { hosts 10 }\n"
        'allow a -> b : https "why with \\"quotes\\", <tags>, a \\\\ backslash, | pipe, '
        '# hash, *stars* and [link](x)"\n'
        "gateway fw { platform iptables\n serves internal }\n",
        encoding="utf-8",
    )
    return policy


def test_user_text_is_escaped_everywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = str(hostile_policy(tmp_path))
    code, page, _ = run(capsys, "graph", path, "--format", "html")
    assert code == 0
    assert "<script>" not in page and "<b>bold" not in page and "<tags>" not in page
    assert "&lt;tags&gt;" in page
    assert_offline(page)
    code, dot, _ = run(capsys, "graph", path, "--format", "dot")
    assert 'why with \\"quotes\\", <tags>, a \\\\ backslash' in dot
    for line in dot.splitlines():  # every quote inside a DOT string is escaped
        assert len(re.findall(r'(?<!\\)"', line)) % 2 == 0, line
    code, mermaid, _ = run(capsys, "graph", path, "--format", "mermaid")
    assert "<b>" not in mermaid
    for line in mermaid.splitlines()[1:]:
        assert line.count('"') in (0, 2, 4), line
    code, md, _ = run(capsys, "matrix", path, "--format", "markdown")
    row = next(line for line in md.splitlines() if line.startswith("| `a` | `b` |"))
    assert row.count(" | ") == 5  # the why's pipe is escaped: still six cells
    assert "\\|" in row and "&lt;tags&gt;" in row and "\\*stars\\*" in row


def test_svg_through_graphviz_accepts_hostile_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if shutil.which("dot") is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"Graphviz 'dot' is not installed, but {REQUIRE_ENV}=1")
        pytest.skip("Graphviz 'dot' is not installed")
    code, out, err = run(capsys, "graph", str(hostile_policy(tmp_path)), "--format", "svg")
    assert (code, err) == (0, "")
    ET.fromstring(out[out.index("<svg") :])


@pytest.mark.parametrize(
    "args",
    [
        ("graph", "--format", "html"),
        ("graph", "--format", "dot"),
        ("graph", "--format", "mermaid"),
        ("matrix", "--format", "text"),
        ("matrix", "--format", "csv"),
        ("check", "--format", "sarif"),
        ("check", "--format", "junit"),
    ],
    ids=" ".join,
)
def test_output_is_the_same_whatever_the_hash_seed(args: tuple[str, ...]) -> None:
    outputs = set()
    for seed in ("0", "4242"):
        env = dict(
            os.environ,
            PYTHONHASHSEED=seed,
            PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        )
        proc = subprocess.run(
            [sys.executable, "-m", "zonewall", args[0], *args[1:], "examples/hospital.zw"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout)
    assert len(outputs) == 1


GATEWAY_PATH = """\
pool subnets 10.0.0.0/16
pool vlans 100-199
service ssh = tcp/22
service https = tcp/443
class admin { hosts 10 }
class guest { hosts 10 }
gateway fw { platform iptables  interface "eth1.{vlan}"  uplink "eth0"  serves admin, guest }
allow admin -> gateway:fw : ssh  "management"
allow guest -> admin : https     "portal"
assert unreachable guest -> gateway:fw
"""


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "html"])
def test_a_counterexample_ending_at_a_gateway_is_drawn_up_to_its_last_class(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    # graph and matrix show classes and externals only: the last hop (admin -> gateway:fw)
    # has no node to end at, the rest of the path is highlighted
    policy = tmp_path / "p.zw"
    policy.write_text(GATEWAY_PATH, encoding="utf-8")
    code, out, err = run(
        capsys,
        "graph",
        str(policy),
        "--format",
        fmt,
        "--highlight",
        "unreachable guest -> gateway:fw",
    )
    assert (code, err) == (0, "")
    assert "(fail)" in out or "fail" in out
    if fmt == "dot":
        nodes = re.findall(r'^\s*n\d+ \[label="([^"]*)"', out, re.M)
        assert sorted(n.split("\\n")[0] for n in nodes) == ["admin", "guest"]
        assert re.search(r'n\d+ -> n\d+ \[label="https".*color="#d7191c"', out)
    code, out, _ = run(capsys, "matrix", str(policy), "--format", "csv")
    assert code == 0 and "gateway:fw" not in out


def test_junit_renders_at_most_max_listed_diagnostics_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zonewall.present import junit as junit_module
    from zonewall.report import run_check

    policy = tmp_path / "p.zw"
    policy.write_text("".join(f"allow x{i} -> y{i}\n" for i in range(6)), encoding="utf-8")
    report = run_check(str(policy))
    assert len(report.diagnostics) == 12
    monkeypatch.setattr(junit_module, "MAX_LISTED", 5)
    top = ET.fromstring(junit_module.to_junit(report))
    err = top.find("testsuite/system-err")
    assert err is not None and err.text is not None
    assert err.text.count("error[E201]") == 5
    assert err.text.endswith("... and 7 more (zonewall check lists them all)\n")
    monkeypatch.setattr(junit_module, "MAX_LISTED", 12)
    top = ET.fromstring(junit_module.to_junit(report))
    assert "more (zonewall check" not in (top.find("testsuite/system-err").text or "")  # type: ignore[union-attr]
