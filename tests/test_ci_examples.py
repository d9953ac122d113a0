"""The CI examples: the GitHub Actions workflow and the pre-commit hooks.

The YAML must parse; the workflow must have the permissions its actions need and fail the job
when check or diff fail; every `zonewall fmt` / `zonewall check` command line in the workflow and
the hooks (fmt, check --format sarif, diff --git --format markdown) must be accepted by
zonewall's own argument parser, and the fmt hooks must behave as a hook should.  The workflow's shell steps are run with a stand-in `zonewall` on PATH to check
that exit codes propagate and the SARIF and comment files are made only when there is output.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from zonewall.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "ci" / "zonewall.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
CONFIG = ROOT / "examples" / "ci" / "pre-commit-config.yaml"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def job() -> dict[str, Any]:
    (only,) = load(WORKFLOW)["jobs"].values()
    assert isinstance(only, dict)
    return only


def step(**match: str) -> dict[str, Any]:
    found = [s for s in job()["steps"] if all(k in s and v in str(s[k]) for k, v in match.items())]
    assert len(found) == 1, f"expected one step with {match}, found {len(found)}"
    return found[0]


def hooks() -> dict[str, dict[str, Any]]:
    return {h["id"]: h for h in load(HOOKS)}


def zonewall_commands(script: str) -> list[list[str]]:
    """The argv after `zonewall` of every zonewall command in a shell script."""
    out = []
    for line in script.splitlines():
        for part in re.split(r"\||&&|\|\||;|>|\{|\}", line.split(" #")[0]):
            words = shlex.split(part)
            if "zonewall" in words:
                out.append(words[words.index("zonewall") + 1 :])
    return out


def accepted(argv: list[str]) -> bool:
    try:
        _parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def test_the_yaml_files_parse() -> None:
    assert isinstance(load(WORKFLOW), dict)
    assert isinstance(load(HOOKS), list)
    assert isinstance(load(CONFIG), dict)


def test_workflow_runs_on_pull_requests_with_the_permissions_it_needs() -> None:
    doc = load(WORKFLOW)
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    assert doc["permissions"] == {"contents": "read"}  # least privilege outside the job
    assert job()["permissions"] == {
        "contents": "read",
        "security-events": "write",
        "pull-requests": "write",
    }
    assert step(uses="actions/checkout@")["with"]["fetch-depth"] == 0
    assert job()["env"]["BASE_REF"] == "${{ github.base_ref }}"


def test_workflow_uploads_the_sarif_that_check_writes() -> None:
    check = step(id="check")
    assert 'zonewall check "$POLICY" --format sarif > zonewall.sarif' in check["run"]
    upload = step(uses="github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "zonewall.sarif"
    assert "zonewall.sarif" in upload["if"]


def test_workflow_comments_the_diff_against_the_target_branch() -> None:
    diff = step(id="diff")
    assert 'zonewall diff --git "origin/$BASE_REF" "$POLICY" --format markdown' in diff["run"]
    comment = step(uses="marocchino/sticky-pull-request-comment@")
    assert comment["with"]["path"] == "zonewall-diff.md" and "> zonewall-diff.md" in diff["run"]


def test_workflow_fails_when_any_tolerated_step_failed() -> None:
    tolerated = [s["id"] for s in job()["steps"] if s.get("continue-on-error")]
    assert set(tolerated) == {"fmt", "check", "diff"}
    last = job()["steps"][-1]
    assert "exit 1" in last["run"]
    for sid in tolerated:
        assert f"steps.{sid}.outcome == 'failure'" in last["if"]


def test_workflow_fmt_command_is_accepted_by_zonewall() -> None:
    commands = zonewall_commands(step(id="fmt")["run"])
    assert commands == [["fmt", "--check"]]
    assert accepted(commands[0] + ["a.zw", "b.zw"])


@pytest.mark.parametrize("sid", ["check", "diff"])
def test_workflow_check_and_diff_commands_are_accepted_by_zonewall(sid: str) -> None:
    commands = zonewall_commands(step(id=sid)["run"])
    assert commands
    for argv in commands:
        assert accepted(argv), argv


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("sid", "output", "code", "made"),
    [
        ("check", "{}", 0, ["zonewall.sarif"]),
        ("check", "{}", 1, ["zonewall.sarif"]),
        ("check", "", 70, []),
        ("diff", "| flow |", 0, ["diff.md", "zonewall-diff.md"]),
        ("diff", "| flow |", 1, ["diff.md", "zonewall-diff.md"]),
        ("diff", "", 2, ["diff.md"]),
    ],
)
def test_workflow_steps_propagate_exit_codes(
    sid: str, output: str, code: int, made: list[str], tmp_path: Path
) -> None:
    shim = tmp_path / "bin" / "zonewall"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {code}\n", encoding="utf-8")
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(
        os.environ,
        PATH=f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        POLICY="policy.zw",
        BASE_REF="main",
    )
    proc = subprocess.run(
        ["bash", "-e", "-c", step(id=sid)["run"]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    assert sorted(p.name for p in work.iterdir()) == made
    if "zonewall-diff.md" in made:
        assert (work / "zonewall-diff.md").read_text(encoding="utf-8").endswith("| flow |")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_workflow_scripts_are_valid_bash() -> None:
    for s in job()["steps"]:
        if "run" in s:
            subprocess.run(["bash", "-n", "-c", s["run"]], check=True)


def test_hooks_are_what_the_readme_promises() -> None:
    assert set(hooks()) == {"zonewall-fmt", "zonewall-fmt-check", "zonewall-check"}
    for hook in hooks().values():
        assert hook["language"] == "python"  # installed from this repository's pyproject
        assert re.search(hook["files"], "policies/hospital.zw")
        assert not re.search(hook["files"], "hospital.zw.orig")
        assert shlex.split(hook["entry"])[0] == "zonewall"


@pytest.mark.parametrize("hook_id", ["zonewall-fmt", "zonewall-fmt-check", "zonewall-check"])
def test_hook_command_lines_are_accepted_by_zonewall(hook_id: str) -> None:
    hook = hooks()[hook_id]
    configured = {h["id"]: h for repo in load(CONFIG)["repos"] for h in repo["hooks"]}
    argv = shlex.split(hook["entry"])[1:] + list(configured.get(hook_id, {}).get("args", []))
    if hook.get("pass_filenames", True):
        argv += ["a.zw", "lib/b.zw"]
    else:
        argv += [] if hook_id in configured else ["policy.zw"]  # what the README tells users
    assert accepted(argv), argv


def test_fmt_hooks_behave_like_hooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zonewall.cli import main

    path = tmp_path / "p.zw"
    path.write_text("allow a->b\n", encoding="utf-8")
    check = shlex.split(hooks()["zonewall-fmt-check"]["entry"])[1:]
    rewrite = shlex.split(hooks()["zonewall-fmt"]["entry"])[1:]
    assert main(check + [str(path)]) == 1  # unformatted: the hook fails, nothing written
    assert path.read_text(encoding="utf-8") == "allow a->b\n"
    assert main(rewrite + [str(path)]) == 0  # pre-commit sees the file change and stops
    assert path.read_text(encoding="utf-8") == "allow a -> b\n"
    assert main(check + [str(path)]) == 0
    capsys.readouterr()


def test_the_example_config_uses_only_hooks_that_exist() -> None:
    config = load(CONFIG)
    (repo,) = config["repos"]
    assert repo["rev"] and repo["repo"].startswith("https://")
    used = {h["id"] for h in repo["hooks"]}
    assert used <= set(hooks()) and {"zonewall-check"} <= used
    check = next(h for h in repo["hooks"] if h["id"] == "zonewall-check")
    assert check["args"] and all(a.endswith(".zw") for a in check["args"])
