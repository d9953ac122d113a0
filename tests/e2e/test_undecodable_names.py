"""File names that are not UTF-8, given on the command line (issue 12, item 3).

Linux allows any byte but `/` and NUL in a file name, and Python holds the bytes of an argument
that are not UTF-8 as lone surrogates, which no UTF-8 output can carry.  Every command is run
here as a user would, with real files and folders named with such bytes; each must finish with
its ordinary exit code (never 70, an internal error), write only UTF-8, parse as its format,
and name the files with the bytes shown as `\\xff`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "deny-beats-allow.zw"
FOLDER = b"d\xfe"  # the policy's folder: an include inside it gets the folder's name too
ROOT = FOLDER + b"/p\xff.zw"
BROKEN = FOLDER + b"/broken\xfa.zw"  # includes a file whose statement names no class
CONFIG = b"running\xff.rules"


def zonewall(cwd: Path, *args: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUTF8": "1"}
    return subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"zonewall", *args],
        cwd=cwd,
        capture_output=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("undecodable")
    folder = os.path.join(os.fsencode(tmp), FOLDER)
    try:
        os.mkdir(folder)
    except OSError:  # a file system that keeps names as UTF-8 only
        pytest.skip("this file system refuses file names that are not UTF-8")
    text = EXAMPLE.read_bytes()
    Path(os.fsdecode(os.path.join(os.fsencode(tmp), ROOT))).write_bytes(text)
    Path(os.fsdecode(folder), "inc.zw").write_bytes(b"allow nosuch -> pacs : https\n")
    Path(os.fsdecode(os.path.join(os.fsencode(tmp), BROKEN))).write_bytes(
        b'include "inc.zw"\n' + text
    )
    Path(os.fsdecode(os.path.join(os.fsencode(tmp), CONFIG))).write_bytes(b"*filter\nCOMMIT\n")
    (tmp / "flows.csv").write_text("src,dst,proto,dport\n10.0.0.1,10.0.0.2,tcp,443\n")
    return tmp


def shown(data: bytes) -> str:
    """The output as text: strict UTF-8, and no lone surrogate escaped the other way."""
    text = data.decode("utf-8")  # raises on any byte that is not UTF-8
    assert "\\udc" not in text, text
    return text


def strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


# (arguments, expected exit code, format of stdout, what stdout or stderr must name)
CASES = [
    ([b"check", ROOT], 0, "text", "p\\xff.zw"),
    ([b"check", BROKEN], 1, "text", "d\\xfe/inc.zw:1:7: error[E201]"),
    ([b"check", b"--format", b"json", BROKEN], 1, "json", "d\\xfe/inc.zw"),
    ([b"check", b"--format", b"sarif", BROKEN], 1, "json", "inc.zw"),
    ([b"check", b"--format", b"junit", BROKEN], 1, "xml", "broken\\xfa.zw"),
    ([b"check", b"--format", b"junit", ROOT], 0, "xml", "p\\xff.zw"),
    ([b"check", b"no-such\xff.zw"], 1, "text", "no-such\\xff.zw"),
    ([b"build", ROOT, b"-o", b"out\xfe"], 0, "text", "wrote 8 files to out\\xfe"),
    ([b"build", BROKEN, b"-o", b"out2\xfe"], 1, "text", "d\\xfe/inc.zw"),
    ([b"matrix", ROOT, b"--format", b"markdown"], 0, "text", "p\\\\xff.zw"),
    ([b"matrix", ROOT, b"--format", b"html"], 0, "text", "p\\xff.zw"),
    ([b"matrix", ROOT, b"--format", b"csv", b"-o", b"m\xff.csv"], 0, "text", ""),
    ([b"graph", ROOT, b"--format", b"dot", b"-o", b"g\xff.dot"], 0, "text", ""),
    ([b"explain", ROOT, b"ct_mr", b"pacs", b"--format", b"json"], 0, "json", ""),
    ([b"diff", ROOT, BROKEN], 1, "text", "d\\xfe/inc.zw"),
    ([b"diff", ROOT, ROOT, b"--format", b"json"], 0, "json", "d\\xfe/p\\xff.zw"),
    ([b"diff", ROOT, ROOT, b"--format", b"markdown"], 0, "text", "p\\\\xff.zw"),
    (
        [b"audit", ROOT, b"--gateway", b"fw", b"--config", CONFIG, b"--format", b"json"],
        2,
        "json",
        "running\\xff.rules",
    ),
    (
        [b"audit", ROOT, b"--gateway", b"fw", b"--config", CONFIG, b"--format", b"sarif"],
        2,
        "json",
        "",
    ),
    (
        [b"audit", ROOT, b"--gateway", b"fw", b"--config", b"no\xff", b"--format", b"json"],
        2,
        "json",
        "no\\xff",
    ),
    ([b"audit", ROOT, b"--gateway", b"fw", b"--config", CONFIG], 2, "text", "running\\xff.rules"),
    ([b"replay", ROOT, b"flows.csv", b"--format", b"json"], 0, "json", "d\\xfe/p\\xff.zw"),
    ([b"fmt", b"--check", ROOT], 0, "text", ""),
    ([b"fmt", b"--check", b"no-such\xff.zw"], 1, "text", "no-such\\xff.zw"),
    ([b"init", b"new\xff"], 0, "text", "wrote new\\xff/policy.zw"),
]


@pytest.mark.parametrize(
    ("args", "code", "fmt", "named"),
    CASES,
    ids=[f"{i}-{c[0][0].decode()}" for i, c in enumerate(CASES)],
)
def test_undecodable_file_names_through_the_cli(
    site: Path, args: list[bytes], code: int, fmt: str, named: str
) -> None:
    for leftover in ("out\udcfe", "out2\udcfe", "new\udcff"):
        shutil.rmtree(site / leftover, ignore_errors=True)
    r = zonewall(site, *args)
    out, err = shown(r.stdout), shown(r.stderr)
    assert r.returncode == code, err
    if fmt == "json":  # the name as the document's strings hold it
        out = "\n".join(strings(json.loads(out)))
    elif fmt == "xml":
        ET.fromstring(r.stdout)
    assert named in out + err


def test_a_build_in_an_undecodable_folder_writes_a_readable_manifest(site: Path) -> None:
    out = site / "built\udcfe"
    shutil.rmtree(out, ignore_errors=True)
    assert zonewall(site, b"build", ROOT, b"-o", b"built\xfe").returncode == 0
    manifest = json.loads((out / "manifest.json").read_bytes().decode("utf-8"))
    assert [f["path"] for f in manifest["policy"]["files"]] == ["d\\xfe/p\\xff.zw"]
    for f in out.iterdir():
        shown(f.read_bytes())  # every generated file is UTF-8 text
