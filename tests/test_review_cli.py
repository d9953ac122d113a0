"""`zonewall diff` and `zonewall explain` end to end: exit codes, formats, git revisions."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest

from cli_util import in_process, zonewall

ROOT = Path(__file__).resolve().parent.parent
HOSPITAL = ROOT / "examples" / "hospital.zw"


run = in_process


def hospital_with(tmp_path: Path, text: str, name: str = "new.zw") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def breaking_change() -> str:
    return HOSPITAL.read_text(encoding="utf-8").replace(
        "# Core services\n", "# Core services\nallow guest_wifi -> clinician_ws : https\n"
    )


def reordered_and_renamed() -> str:
    """Every allow/deny line shuffled among their places, and `https` renamed `tls`."""
    lines = HOSPITAL.read_text(encoding="utf-8").split("\n")
    places = [i for i, line in enumerate(lines) if line.startswith(("allow ", "deny "))]
    statements = [lines[i] for i in places]
    random.Random(6).shuffle(statements)
    for i, line in zip(places, statements, strict=True):
        lines[i] = line
    return re.sub(r"\bhttps\b", "tls", "\n".join(lines))


# ---------------------------------------------------------------------------------------------
# diff: the done-when checks
# ---------------------------------------------------------------------------------------------


def test_diff_shows_the_gained_flow_and_the_assertion_that_newly_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    new = hospital_with(tmp_path, breaking_change())
    code, out, err = run(capsys, "diff", str(HOSPITAL), new)
    assert code == 1, err
    line = next(
        n
        for n, text in enumerate(breaking_change().split("\n"), 1)
        if text == "allow guest_wifi -> clinician_ws : https"
    )
    assert f"  + guest_wifi -> clinician_ws : https  (opened by {new}:{line})" in out
    assert re.search(r"pass -> fail +unreachable guest_wifi -> tag:medical .*NEWLY FAILS", out)
    assert "flows lost" not in out
    assert "core_fw (iptables): " in out  # the rule count moves on the firewall


def test_reordering_statements_and_renaming_a_service_is_an_empty_diff(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = reordered_and_renamed()
    assert text != HOSPITAL.read_text(encoding="utf-8") and "service tls" in text
    new = hospital_with(tmp_path, text)
    code, out, err = run(capsys, "diff", str(HOSPITAL), new)
    assert (code, err) == (0, "")
    assert out.split("\n")[1].startswith("no semantic change")
    assert "flows gained" not in out and "assertions (" not in out and "rule counts" not in out
    assert out.split("\n")[2].startswith("0 flow(s) gained; 0 lost; 0 assertion(s) changed")
    code, out, _ = run(capsys, "diff", "--format", "json", str(HOSPITAL), new)
    doc = json.loads(out)
    assert doc["semantic_change"] is False and doc["flows"] == {"gained": [], "lost": []}
    assert all(g["rules"]["delta"] == 0 for g in doc["gateways"])


def test_fail_on_gained(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = HOSPITAL.read_text(encoding="utf-8").replace(
        "# Core services\n", "# Core services\nallow biomed_ws -> siem : ssh\n"
    )
    new = hospital_with(tmp_path, text)
    assert run(capsys, "diff", str(HOSPITAL), new)[0] == 0
    code, out, _ = run(capsys, "diff", "--fail-on-gained", str(HOSPITAL), new)
    assert code == 1 and "+ biomed_ws -> siem : ssh" in out
    code, out, _ = run(capsys, "diff", "--fail-on-gained", new, str(HOSPITAL))
    assert code == 0 and "- biomed_ws -> siem : ssh" in out  # lost, not gained


# ---------------------------------------------------------------------------------------------
# diff: formats
# ---------------------------------------------------------------------------------------------


def test_diff_json_shape_is_stable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    new = hospital_with(tmp_path, breaking_change())
    code, out, _ = run(capsys, "diff", "--format", "json", str(HOSPITAL), new)
    doc = json.loads(out)
    assert code == 1
    assert list(doc) == [
        "ok",
        "old",
        "new",
        "semantic_change",
        "flows",
        "assertions",
        "classes",
        "externals",
        "gateways",
    ]
    assert doc["ok"] is False and doc["semantic_change"] is True
    assert doc["old"] == {"path": str(HOSPITAL), "revision": None, "errors": []}
    (flow,) = doc["flows"]["gained"]
    assert {k: v for k, v in flow.items() if k != "opened_by"} == {
        "from": "guest_wifi",
        "from_kind": "class",
        "to": "clinician_ws",
        "to_kind": "class",
        "addresses": [],
        "services": ["https"],
        "packets": "tcp/443",
    }
    assert [list(o) for o in flow["opened_by"]] == [["file", "line"]]
    failing = [a for a in doc["assertions"] if a["newly_fails"]]
    assert {a["text"] for a in failing} >= {"unreachable guest_wifi -> tag:medical"}
    assert list(failing[0]) == [
        "text",
        "old",
        "new",
        "newly_fails",
        "file",
        "line",
        "counterexample",
    ]
    assert failing[0]["counterexample"][0]["from"] == "guest_wifi"
    assert [list(g) for g in doc["gateways"]] == [
        ["name", "platform", "object_groups", "stateless_accepted", "dhcp_relay", "rules"]
    ] * 2
    again = run(capsys, "diff", "--format", "json", str(HOSPITAL), new)[1]
    assert again == out  # deterministic


def test_diff_markdown_for_a_pull_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = breaking_change().replace(
        "# Core services\n", "# Core services\nallow internal except core_net -> core_net : ssh\n"
    )
    new = hospital_with(tmp_path, text)
    code, out, _ = run(capsys, "diff", "--format", "markdown", str(HOSPITAL), new)
    assert code == 1
    assert out.startswith("### zonewall diff: ")
    assert re.search(r"^\*\*\d+ assertion\(s\) newly fail\.\*\*$", out, re.M)
    assert "#### Assertions\n\n| assertion | old | new | where |\n|---|---|---|---|\n" in out
    assert "| `unreachable guest_wifi -> tag:medical` | pass | **fail** |" in out
    # like text and JSON, the markdown says why: the counterexample of each newly failing one
    why = out[out.index("#### Why they fail\n\n") :].split("\n\n")[1].splitlines()
    line = next(w for w in why if w.startswith("- `unreachable guest_wifi -> tag:medical`"))
    assert ": counterexample: guest_wifi -&gt; " in line  # escaped as Markdown text
    assert re.search(r"\[https\\\] \(\S+new\.zw:\d+\)$", line)  # each hop names its allow
    gained = re.search(r"<details><summary>(\d+) flows gained</summary>", out)
    assert gained and int(gained.group(1)) > 10  # long lists fold away
    assert "| guest_wifi | clinician_ws | https |" in out
    assert "#### Gateway rule counts" in out


# ---------------------------------------------------------------------------------------------
# diff: errors and usage
# ---------------------------------------------------------------------------------------------


def test_a_side_with_errors_is_named_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = hospital_with(tmp_path, "class x { vlan 10 subnet 10.0.0.0/24 }\nallow x -> y\n")
    code, out, err = run(capsys, "diff", str(HOSPITAL), bad)
    assert code == 1 and out == ""
    assert f"new policy ({bad}) has errors:" in err
    assert f"{bad}:2:" in err and "unknown class or external 'y'" in err
    assert "old policy" not in err
    code, out, err = run(capsys, "diff", "--format", "json", bad, str(HOSPITAL))
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["flows"] is None
    assert [e["line"] for e in doc["old"]["errors"]] == [1, 2] and doc["new"]["errors"] == []
    assert doc["old"]["errors"][1]["message"] == "unknown class or external 'y'"
    assert "old policy" in err


@pytest.mark.parametrize(
    "args",
    [
        ["diff", "a.zw"],
        ["diff", "a.zw", "b.zw", "c.zw"],
        ["diff", "--git", "HEAD", "a.zw", "b.zw"],
        ["diff", "--format", "yaml", "a.zw", "b.zw"],
    ],
    ids=["one-file", "three-files", "git-two-files", "bad-format"],
)
def test_diff_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert run(capsys, *args)[0] == 2


# ---------------------------------------------------------------------------------------------
# diff --git
# ---------------------------------------------------------------------------------------------

MAIN = """include "common/services.zw"
class a { vlan 10 subnet 10.0.0.0/24 }
class b { vlan 11 subnet 10.0.1.0/24 }
allow a -> b : https
assert denied b -> a
gateway gw { platform iptables serves internal }
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "repo"
    (root / "common").mkdir(parents=True)
    (root / "main.zw").write_text(MAIN)
    (root / "common" / "services.zw").write_text("service https = tcp/443\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "policy")
    return root


def test_git_reads_the_root_and_its_includes_at_the_revision(
    capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    assert run(capsys, "diff", "--git", "HEAD", "main.zw")[0] == 0
    # change only the included file: https now means tcp/8443 too
    (repo / "common" / "services.zw").write_text("service https = tcp/443, tcp/8443\n")
    code, out, _ = run(capsys, "diff", "--git", "HEAD", "main.zw")
    assert code == 0
    assert out.startswith("zonewall diff: main.zw at HEAD -> main.zw\n")
    assert "  + a -> b : tcp/8443  (opened by main.zw:4)" in out
    # and a change that breaks the assertion, checked from a subfolder with a relative path
    (repo / "main.zw").write_text(MAIN + "allow b -> a\n")
    monkeypatch.chdir(repo / "common")
    code, out, _ = run(capsys, "diff", "--git", "HEAD", "../main.zw")
    assert code == 1 and "NEWLY FAILS" in out


def test_git_bad_revision_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, out, err = run(capsys, "diff", "--git", "no-such-rev", str(repo / "main.zw"))
    assert (code, out) == (2, "")
    assert (
        err == f"zonewall diff: 'no-such-rev' is not a revision of the repository at "
        f"'{repo.resolve()}'\n"
    )
    code, _, err = run(capsys, "diff", "--git", "--help", str(repo / "main.zw"))
    assert code == 2


def test_git_outside_a_repository_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "p.zw").write_text(MAIN)
    code, out, err = run(capsys, "diff", "--git", "HEAD", str(plain / "p.zw"))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "is not inside a git repository" in err


def test_git_file_missing_at_the_revision_is_an_old_side_error(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    (repo / "new.zw").write_text(MAIN)
    code, _, err = run(capsys, "diff", "--git", "HEAD", str(repo / "new.zw"))
    assert code == 1
    assert "old policy" in err and "not in revision 'HEAD'" in err


@pytest.mark.parametrize("linked", ["root", "include"])
def test_git_symlink_blob_is_refused_not_parsed(
    capsys: pytest.CaptureFixture[str], repo: Path, linked: str
) -> None:
    # git stores a symbolic link as a blob holding the target's path: never a policy text
    (repo / "common" / "real.zw").write_text("service https = tcp/443\n")
    (repo / "common" / "services.zw").unlink()
    (repo / "common" / "services.zw").symlink_to("real.zw")
    (repo / "link.zw").symlink_to("main.zw")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "links")
    path = repo / ("link.zw" if linked == "root" else "main.zw")
    code, _, err = run(capsys, "diff", "--git", "HEAD", str(path))
    assert code == 1
    old = err.split("new policy")[0]
    assert "error[E105]" in old and "a symbolic link in revision 'HEAD'" in old
    assert "E101" not in err and "E102" not in err


# ---------------------------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------------------------


def hospital_line(startswith: str) -> int:
    lines = HOSPITAL.read_text(encoding="utf-8").split("\n")
    return next(n for n, text in enumerate(lines, 1) if text.startswith(startswith))


def test_explain_a_flow_removed_by_a_deny_names_the_deny(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "explain", str(HOSPITAL), "legacy_win", "imaging_vendor", "--service", "https"
    )
    assert (code, err) == (0, "")
    assert "verdict: denied" in out
    deny = hospital_line("deny  legacy_win -> internet")
    assert f"  removed by {HOSPITAL}:{deny}: deny legacy_win -> internet" in out
    allow = hospital_line("allow tag:imaging -> imaging_vendor")
    assert f"  allowed by {HOSPITAL}:{allow}: allow tag:imaging -> imaging_vendor : https" in out
    assert "enforced by dist_sw1 (cisco-ios): drops it on ingress at Vlan" in out


def test_explain_a_flow_no_allow_covers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "explain", str(HOSPITAL), "guest_wifi", "clinician_ws", "--port", "tcp/443"
    )
    assert code == 0
    assert out.split("\n")[:4] == [
        "explain guest_wifi -> clinician_ws : tcp/443",
        "verdict: denied",
        "guest_wifi -> clinician_ws: denied",
        "  no allow covers it (default deny)",
    ]


def test_explain_an_allowed_flow_names_the_allows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", str(HOSPITAL), "biomed_ws", "pump_server")
    assert code == 0 and "verdict: permitted" in out
    for start in (
        "allow biomed_ws -> tag:medical : ping",
        "allow biomed_ws -> pump_server, central_station : https, ssh",
    ):
        assert f"allowed by {HOSPITAL}:{hospital_line(start)}: {start}" in out
    assert "permitted: ping, ssh, https" in out
    assert "enforced by core_fw (iptables): permits it" in out
    assert "enforced by dist_sw1 (cisco-ios): passes it on uplink" in out


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        str(HOSPITAL),
        "--src-ip",
        "10.40.0.5",
        "--format",
        "json",
        "internet",
        "--service",
        "dns",
    )
    doc = json.loads(out)
    assert code == 0
    assert list(doc) == ["question", "resolved", "verdict", "pairs"]
    assert doc["question"] == {
        "from": "10.40.0.5",
        "to": "internet",
        "service": "dns",
        "port": None,
        "packets": "tcp/53, udp/53",
    }
    assert doc["resolved"] == ["10.40.0.5 is in class 'core_net'"]
    assert doc["verdict"] == "permitted"
    pair = doc["pairs"][0]
    assert list(pair) == [
        "from",
        "to",
        "verdict",
        "permitted",
        "not_permitted",
        "allowed_by",
        "removed_by",
        "also_denied_by",
        "no_allow",
        "enforced_by",
        "note",
    ]
    assert list(pair["allowed_by"][0]) == ["action", "file", "line", "text", "services"]
    assert pair["from"]["name"] == "core_net" and pair["no_allow"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["guest_wifii", "byod"],
            "zonewall explain: unknown class or external 'guest_wifii'; "
            "did you mean 'guest_wifi'?\n",
        ),
        (["guest_wifi"], "zonewall explain: give SRC and DST"),
        (["a", "b", "c"], "zonewall explain: give SRC and DST"),
        (["--src-ip", "10.1.1.1", "a", "b"], "zonewall explain: give SRC and DST"),
        (["guest_wifi", "byod", "--service", "htps"], "did you mean 'https'?"),
        (["guest_wifi", "byod", "--port", "tcp/443", "--service", "https"], "not allowed with"),
    ],
    ids=[
        "did-you-mean",
        "one-name",
        "three-names",
        "ip-and-two-names",
        "service",
        "service-and-port",
    ],
)
def test_explain_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "explain", str(HOSPITAL), *args)
    assert (code, out) == (2, "")
    assert message in err


def test_explain_needs_a_policy_that_compiles(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = hospital_with(tmp_path, "allow x -> y\n")
    code, out, err = run(capsys, "explain", bad, "x", "y")
    assert code == 1 and out == "" and "nothing explained" in err


def test_explain_works_on_a_policy_whose_assertions_fail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    new = hospital_with(tmp_path, breaking_change())
    code, out, err = run(capsys, "explain", new, "guest_wifi", "clinician_ws")
    assert code == 0 and "verdict: permitted" in out
    assert "failing assertion(s)" in err


def test_output_is_the_same_whatever_the_hash_seed(tmp_path: Path) -> None:

    new = hospital_with(
        tmp_path,
        breaking_change().replace(
            "deny  legacy_win -> internet", "deny  legacy_win -> internet except imaging_vendor"
        ),
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        runs = [
            zonewall(*args, PYTHONHASHSEED=seed).stdout
            for args in (
                ["diff", "--format", "json", str(HOSPITAL), new],
                [
                    "explain",
                    "--format",
                    "json",
                    str(HOSPITAL),
                    "any",
                    "tag:medical",
                    "--port",
                    "tcp/443",
                ],
            )
        ]
        outputs.add(tuple(runs))
    assert len(outputs) == 1
    diff_doc = json.loads(next(iter(outputs))[0])
    assert diff_doc["flows"]["gained"] and diff_doc["flows"]["lost"] == []
