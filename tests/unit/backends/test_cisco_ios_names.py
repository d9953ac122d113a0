"""Stable, checkable Cisco IOS names: the suffix is the content digest of what the switch runs.

A comment or `why` text, or a change that only another gateway enforces, keeps every name (and
every byte outside remark text); a change of this gateway's entries
gives new names.  The digest is recomputed from the file by the shell recipe in its header, run
literally, and the policy lines of every header agree with `sha256sum` and `manifest.json`.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from zonewall.backends.cisco_ios.names import stated_suffix, suffix_of
from zonewall.build import build, render_outputs
from zonewall.report import run_check

ROOT = Path(__file__).resolve().parents[3]
HOSPITAL = ROOT / "examples" / "hospital.zw"
MULTI = ROOT / "examples" / "multi-gateway.zw"
OBJECT_GROUPS = ROOT / "examples" / "object-groups.zw"


def ios_outputs(path: Path) -> dict[str, str]:
    """Every `.ios` file (ACLs and switch config) of a clean policy, by file name."""
    report = run_check(str(path))
    assert report.compiled is not None and not any(d.is_error for d in report.diagnostics)
    outputs, diags = render_outputs(report)
    assert not any(d.is_error for d in diags), diags
    return {str(o.path): o.text for o in outputs if str(o.path).endswith(".ios")}


def variant(tmp_path: Path, source: Path, *edits: tuple[str, str]) -> Path:
    text = source.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    out = tmp_path / "policy" / source.name  # one path, as a repository's file: each
    out.parent.mkdir(exist_ok=True)  # variant replaces the last one, built before it
    out.write_text(text, encoding="utf-8")
    return out


def suffix(text: str) -> str:
    m = re.search(r"^ip access-list extended ZW-\S+-IN-([0-9A-F]{8})$", text, re.MULTILINE)
    assert m is not None
    return m[1]


def runs(text: str) -> list[str]:
    """The lines that may not change when only comments and `why` texts do: all but remarks."""
    return [line for line in text.splitlines() if not line.startswith(" remark ")]


def test_comments_and_why_texts_change_no_name_and_no_entry(tmp_path: Path) -> None:
    before = ios_outputs(variant(tmp_path, HOSPITAL))
    after = ios_outputs(
        variant(
            tmp_path,
            HOSPITAL,
            (
                "# hospital.zw: a realistic, lint-clean reference policy",
                "# hospital.zw: a realistic reference policy (comment edited)\n# and one more line,",
            ),
            ('"drug library downloads, status and event logs"', '"drug library and logs"'),
        )
    )
    assert sorted(before) == sorted(after) == ["dist_sw1-switch.ios", "dist_sw1.ios"]
    for name in before:
        assert runs(before[name]) == runs(after[name]), name
    assert before["dist_sw1.ios"] != after["dist_sw1.ios"]  # the remarks did change
    assert before["dist_sw1-switch.ios"] == after["dist_sw1-switch.ios"]  # no remark there
    assert suffix(before["dist_sw1.ios"]) == suffix(after["dist_sw1.ios"])


def test_a_change_only_another_gateway_enforces_keeps_this_gateways_names(tmp_path: Path) -> None:
    before = ios_outputs(variant(tmp_path, MULTI))
    # guest Wi-Fi (edge_fw) to the internet: nothing med_sw filters
    after = ios_outputs(
        variant(
            tmp_path,
            MULTI,
            ("allow guest_wifi -> internet : https ", "allow guest_wifi -> internet : https, ntp "),
        )
    )
    for name in ("med_sw.ios", "med_sw-switch.ios"):
        assert runs(before[name]) == runs(after[name]), name


def test_a_change_this_gateway_enforces_gives_new_names(tmp_path: Path) -> None:
    before = ios_outputs(variant(tmp_path, MULTI))
    after = ios_outputs(
        variant(
            tmp_path,
            MULTI,
            (
                "allow biomed_ws -> pump_server : https, rdp ",
                "allow biomed_ws -> pump_server : https ",
            ),
        )
    )
    old, new = suffix(before["med_sw.ios"]), suffix(after["med_sw.ios"])
    assert old != new
    for text, sfx in ((after["med_sw.ios"], new), (after["med_sw-switch.ios"], new)):
        body = "\n".join(line for line in text.splitlines() if not line.startswith("!"))
        names = re.findall(r"\b(ZW[0-9A-Z]*-[-0-9A-Z_]+)\b", body)
        assert names and all(n.endswith("-" + sfx) for n in names)
        assert old not in text


@pytest.mark.parametrize(
    "policy", [HOSPITAL, MULTI, OBJECT_GROUPS], ids=["hospital", "multi-gateway", "object-groups"]
)
def test_the_header_recipe_run_literally_prints_the_content_digest(
    policy: Path, tmp_path: Path
) -> None:
    report = build(str(policy), str(tmp_path))
    assert report.written
    for path in sorted(tmp_path.glob("*.ios")):
        if path.name.endswith("-switch.ios"):
            continue
        text = path.read_text(encoding="utf-8")
        (digest,) = re.findall(r"^! content-sha256: ([0-9a-f]{64}) ", text, re.MULTILINE)
        (command,) = re.findall(r"^! recompute: (.*)$", text, re.MULTILINE)
        assert path.name in command
        proc = subprocess.run(
            ["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=True
        )
        assert proc.stdout.split() == [digest, "-"]
        assert digest[:8].upper() == suffix(text)
        # and the switch config binds exactly those names
        switch = (tmp_path / path.name.replace(".ios", "-switch.ios")).read_text()
        assert set(re.findall(r"-([0-9A-F]{8}) in$", switch, re.MULTILINE)) == {suffix(text)}


def test_every_header_names_each_policy_file_with_its_sha256(tmp_path: Path) -> None:
    """The policy line of every header is what `sha256sum FILE` and manifest.json say."""
    report = build(str(MULTI), str(tmp_path))
    assert report.written
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (entry,) = manifest["policy"]["files"]
    digest = hashlib.sha256(MULTI.read_bytes()).hexdigest()
    assert entry["sha256"] == digest
    line = f"policy: {entry['path']}  sha256: {digest}"
    for name in ("edge_fw.rules", "dc_fw.nft"):
        text = (tmp_path / name).read_text()
        assert re.search(rf"^[#!] {re.escape(line)}$", text, re.MULTILINE), name
        assert "policy-sha256" not in text
    # Cisco files name the file only (their bytes follow what the switch runs, not comments)
    for name in ("med_sw.ios", "med_sw-switch.ios"):
        text = (tmp_path / name).read_text()
        assert f"! policy: {entry['path']}  (its sha256: manifest.json)\n" in text, name


@pytest.mark.parametrize("example", [HOSPITAL, MULTI])
def test_the_stated_suffix_is_the_computed_one(example: Path, tmp_path: Path) -> None:
    """`build` reads each .ios file's suffix from its header (for the switch config): it must
    be the file's content digest, recomputed here from the text."""
    for name, text in ios_outputs(variant(tmp_path, example)).items():
        if not name.endswith("-switch.ios"):
            assert stated_suffix(text) == suffix_of(text) == suffix(text), name
