"""`python -m zonewall check` end to end: exit codes, text and JSON output, hostile inputs."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest

from cli_util import in_process, zonewall

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def check_json(path: str, *flags: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = zonewall("check", "--format", "json", *flags, path)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------
# text output
# ---------------------------------------------------------------------------------------------


def test_hospital_is_clean_and_every_assertion_passes() -> None:
    proc = zonewall("check", "examples/hospital.zw")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # examples compile with no warnings
    asserts = [
        line.strip()
        for line in (EXAMPLES / "hospital.zw").read_text().splitlines()
        if line.startswith("assert ")
    ]
    listed = [
        line
        for line in proc.stdout.splitlines()
        if re.match(r"^[A-Z]+ ", line) and "W113" not in line
    ]
    assert len(asserts) == len(listed) == 29
    for source, line in zip(asserts, listed, strict=True):
        match = re.fullmatch(r"(\w+)\s+(.*?)\s+\((.*)\)", line)
        assert match is not None, line
        status, text, where = match.groups()
        assert status == "PASS"
        assert text == " ".join(source.removeprefix("assert ").split("#")[0].split())
        assert where.startswith("examples/hospital.zw:")
    assert proc.stdout.splitlines()[-1] == (
        "examples/hospital.zw: 29 assertions: 29 hold, 0 fail, 0 accepted; 0 error(s), 0 warning(s)"
    )


def test_deny_beats_allow_example_is_clean() -> None:
    proc = zonewall("check", "examples/deny-beats-allow.zw")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.count("PASS  ") == 3


def test_misspelled_class_points_at_the_name_with_a_suggestion() -> None:
    proc = zonewall("check", "examples/failures/misspelled-class.zw")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == (
        "examples/failures/misspelled-class.zw:13:7: error[E201]: unknown class "
        "or external 'infusion_pmp'; did you mean 'infusion_pump'?"
    )
    assert lines[1] == (
        '  13 | allow infusion_pmp -> pump_server : https   "drug library and event logs"'
    )
    assert lines[2] == "     |       ^^^^^^^^^^^^"
    assert "not checked: fix the errors above first; 1 error(s), 0 warning(s)" in proc.stdout


def test_failing_unreachable_prints_the_path_and_each_hops_allow() -> None:
    proc = zonewall("check", "examples/failures/transitive-path.zw")
    assert proc.returncode == 1
    f = "examples/failures/transitive-path.zw"
    assert proc.stderr.splitlines() == [
        (
            f"{f}:32:1: error[E301]: assertion 'unreachable guest_wifi -> infusion_pump' fails: "
            "path guest_wifi -> byod -> biomed_ws -> pump_server -> infusion_pump"
        ),
        (
            '  32 | allow guest_wifi -> byod : https            "screen casting (a test rule '
            'left behind)"'
        ),
        "     | " + "^" * 86 + " first hop: 'guest_wifi' -> 'byod' (tcp/443)",
        f"  note: {f}:33:1: then 'byod' -> 'biomed_ws' (tcp/443)",
        f"  note: {f}:34:1: then 'biomed_ws' -> 'pump_server' (tcp/443)",
        f"  note: {f}:35:1: then 'pump_server' -> 'infusion_pump' (tcp/443)",
        f"  note: {f}:45:1: asserted here",
    ]
    assert f"PASS  denied guest_wifi -> infusion_pump  ({f}:44)" in proc.stdout
    assert f"FAIL  unreachable guest_wifi -> infusion_pump  ({f}:45)" in proc.stdout


@pytest.mark.parametrize(
    ("example", "code", "exit_code"),
    [
        ("accepted-risk", "W109", 0),
        ("dead-and-redundant", "W101", 0),
        ("internet-overlaps-vendor", "E302", 1),
        ("misspelled-class", "E201", 1),
        ("overlapping-subnets", "E205", 1),
        ("plaintext-into-critical", "E306", 1),
        ("reserved-vlan", "E207", 1),
        ("service-alias", "E302", 1),
        ("syntax-error", "E101", 1),
        ("transitive-path", "E301", 1),
        ("unserved-class", "E209", 1),
    ],
    ids=lambda v: str(v),
)
def test_failure_examples(
    example: str,
    code: str,
    exit_code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    rc, _, err = in_process(capsys, "check", f"examples/failures/{example}.zw")
    assert rc == exit_code
    assert f"[{code}]" in err


def test_failure_examples_are_all_listed() -> None:
    listed = {
        "accepted-risk",
        "dead-and-redundant",
        "internet-overlaps-vendor",
        "misspelled-class",
        "overlapping-subnets",
        "plaintext-into-critical",
        "reserved-vlan",
        "service-alias",
        "syntax-error",
        "transitive-path",
        "unserved-class",
    }
    assert {p.stem for p in (EXAMPLES / "failures").glob("*.zw")} <= listed


def test_stderr_is_exactly_the_golden_rendering() -> None:
    proc = zonewall("check", "tests/diagnostics/unreachable-fails.zw")
    golden = (ROOT / "tests" / "diagnostics" / "unreachable-fails.err").read_text("utf-8")
    assert proc.stderr == golden


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

DIAG_KEYS = {"severity", "code", "message", "file", "line", "column", "end_line", "end_column"}
ASSERT_KEYS = {"text", "status", "file", "line", "counterexample"}
HOP_KEYS = {"from", "to", "services", "file", "line"}


def assert_report_shape(doc: dict) -> None:  # type: ignore[type-arg]
    assert set(doc) == {"ok", "diagnostics", "assertions", "acknowledged"}
    assert isinstance(doc["ok"], bool)
    for k in doc["acknowledged"]:
        assert set(k) == {"code", "gateway", "reason", "file", "line"}
    for d in doc["diagnostics"]:
        assert set(d) == DIAG_KEYS
        assert d["severity"] in {"error", "warning"}
        assert re.fullmatch(r"[EW]\d{3}", d["code"])
    for a in doc["assertions"]:
        assert set(a) == ASSERT_KEYS
        assert a["status"] in {"pass", "fail", "accepted"}
        assert (a["counterexample"] is None) == (a["status"] == "pass")
        for hop in a["counterexample"] or ():
            assert set(hop) == HOP_KEYS
            assert isinstance(hop["services"], list)


def test_json_for_a_clean_policy() -> None:
    code, doc = check_json("examples/hospital.zw")
    assert code == 0
    assert_report_shape(doc)
    assert doc["ok"] is True and doc["diagnostics"] == []
    assert len(doc["assertions"]) == 29
    assert doc["assertions"][0] == {
        "text": "unreachable guest_wifi -> tag:medical",
        "status": "pass",
        "file": "examples/hospital.zw",
        "line": 331,
        "counterexample": None,
    }


def test_json_unreachable_counterexample_is_the_path() -> None:
    code, doc = check_json("examples/failures/transitive-path.zw")
    assert code == 1
    assert_report_shape(doc)
    assert doc["ok"] is False
    f = "examples/failures/transitive-path.zw"
    assert doc["diagnostics"] == [
        {
            "severity": "error",
            "code": "E301",
            "message": "assertion 'unreachable guest_wifi -> infusion_pump' fails: path guest_wifi "
            "-> byod -> biomed_ws -> pump_server -> infusion_pump",
            "file": f,
            "line": 32,
            "column": 1,
            "end_line": 32,
            "end_column": 87,
        }
    ]
    assert doc["assertions"][1] == {
        "text": "unreachable guest_wifi -> infusion_pump",
        "status": "fail",
        "file": f,
        "line": 45,
        "counterexample": [
            {"from": "guest_wifi", "to": "byod", "services": ["https"], "file": f, "line": 32},
            {"from": "byod", "to": "biomed_ws", "services": ["https"], "file": f, "line": 33},
            {
                "from": "biomed_ws",
                "to": "pump_server",
                "services": ["https"],
                "file": f,
                "line": 34,
            },
            {
                "from": "pump_server",
                "to": "infusion_pump",
                "services": ["https"],
                "file": f,
                "line": 35,
            },
        ],
    }


def test_json_allowed_counterexample_has_no_file(tmp_path: Path) -> None:
    policy = tmp_path / "p.zw"
    policy.write_text(
        "service https = tcp/443\nclass a { vlan 10 subnet 10.0.0.0/24 }\n"
        "class b { vlan 11 subnet 10.0.1.0/24 }\nallow b -> a : https\n"
        "gateway g { platform iptables serves internal }\n"
        "assert allowed a -> b : https\n",
        encoding="utf-8",
    )
    code, doc = check_json(str(policy))
    assert code == 1
    assert_report_shape(doc)
    assert doc["assertions"] == [
        {
            "text": "allowed a -> b : https",
            "status": "fail",
            "file": str(policy),
            "line": 6,
            "counterexample": [
                {"from": "a", "to": "b", "services": ["https"], "file": None, "line": None}
            ],
        }
    ]


def test_json_accepted_risk() -> None:
    code, doc = check_json("examples/failures/accepted-risk.zw")
    assert code == 0
    assert_report_shape(doc)
    assert doc["ok"] is True
    (a,) = doc["assertions"]
    assert a["status"] == "accepted"
    assert a["counterexample"] == [
        {
            "from": "lab_analyzer",
            "to": "lis",
            "services": ["astm"],
            "file": "examples/failures/accepted-risk.zw",
            "line": 19,
        }
    ]
    assert [d["code"] for d in doc["diagnostics"]] == ["W109"]


def test_json_for_a_policy_that_does_not_parse() -> None:
    code, doc = check_json("examples/failures/syntax-error.zw")
    assert code == 1
    assert_report_shape(doc)
    assert doc == {
        "ok": False,
        "assertions": [],
        "acknowledged": [],
        "diagnostics": [
            {
                "severity": "error",
                "code": "E101",
                "message": "unexpected name 'ehr_app'; expected ',', '->' or 'except'",
                "file": "examples/failures/syntax-error.zw",
                "line": 18,
                "column": 20,
                "end_line": 18,
                "end_column": 27,
            }
        ],
    }


def test_json_prints_nothing_on_stderr() -> None:
    proc = zonewall("check", "--format", "json", "examples/failures/misspelled-class.zw")
    assert proc.returncode == 1 and proc.stderr == ""
    assert_report_shape(json.loads(proc.stdout))


# ---------------------------------------------------------------------------------------------
# --warnings-as-errors and usage
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["dead-and-redundant", "accepted-risk"])
def test_warnings_as_errors(example: str) -> None:
    path = f"examples/failures/{example}.zw"
    assert zonewall("check", path).returncode == 0
    assert zonewall("check", "--warnings-as-errors", path).returncode == 1
    code, doc = check_json(path, "--warnings-as-errors")
    assert (code, doc["ok"]) == (1, False)
    code, doc = check_json(path)
    assert (code, doc["ok"]) == (0, True)


def test_warnings_as_errors_on_a_clean_policy() -> None:
    assert zonewall("check", "--warnings-as-errors", "examples/hospital.zw").returncode == 0


@pytest.mark.parametrize("example", ["hospital", "multi-gateway", "object-groups"])
def test_build_with_ios_passes_warnings_as_errors(example: str, tmp_path: Path) -> None:
    """W113 is acknowledged in the examples' cisco-ios gateways: strict CI builds them."""
    path = f"examples/{example}.zw"
    proc = zonewall("build", "--warnings-as-errors", path, "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "W113" not in proc.stderr and (tmp_path / "out" / "manifest.json").is_file()
    proc = zonewall("check", "--warnings-as-errors", path)
    assert proc.returncode == 0, proc.stderr
    assert "ACCEPTED  W113 stateless replies on gateway '" in proc.stdout


def test_check_and_build_give_w113_alike(tmp_path: Path) -> None:
    """Without the acknowledgement, check and build both warn once and both fail strict."""
    text = (EXAMPLES / "multi-gateway.zw").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines(keepends=True) if "stateless-replies" in x)
    policy = tmp_path / "p.zw"
    policy.write_text(text.replace(line, ""), encoding="utf-8")
    check = zonewall("check", "--warnings-as-errors", str(policy))
    build = zonewall("build", "--warnings-as-errors", str(policy), "-o", str(tmp_path / "o"))
    assert check.returncode == build.returncode == 1
    assert check.stderr.count("warning[W113]") == build.stderr.count("warning[W113]") == 1
    assert not (tmp_path / "o").exists()
    loose = zonewall("build", str(policy), "-o", str(tmp_path / "o"))
    assert loose.returncode == 0 and loose.stderr.count("warning[W113]") == 1


def test_linux_gateway_without_parent_names_gets_a_note_not_a_warning(tmp_path: Path) -> None:
    """Interface names that do not say which trunk a VLAN rides on: no interface script, a
    note in the build summary, and strict mode still passes (check and build agree)."""
    text = (EXAMPLES / "multi-gateway.zw").read_text(encoding="utf-8")
    assert text.count('interface "eth1.{vlan}"') == 2
    policy = tmp_path / "p.zw"
    policy.write_text(
        text.replace('interface "eth1.{vlan}"', 'interface "vl{vlan}"', 1), encoding="utf-8"
    )
    proc = zonewall("build", "--warnings-as-errors", str(policy), "-o", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    every = [x for x in proc.stdout.splitlines() if x.startswith("note: ")]
    # the example lets nothing reach its gateways themselves: one note each, too (the
    # cisco-ios one says its vty lines take no session)
    closed = [x for x in every if "no allow reaches the box itself" in x]
    assert len(closed) == 3 and sum("vty lines take no session" in x for x in closed) == 1
    notes = [x for x in every if x not in closed]
    assert len(notes) == 1 and "interface-configs" not in notes[0]
    assert "does not name the parent interface" in notes[0]
    made = sorted(p.name for p in (tmp_path / "o").glob("*-interfaces.sh"))
    assert len(made) == 1 and notes[0].startswith("note: no ") and made[0] not in notes[0]


def test_acknowledged_w113_is_in_the_json_report() -> None:
    code, doc = check_json("examples/hospital.zw", "--warnings-as-errors")
    assert (code, doc["ok"]) == (0, True)
    (ack,) = doc["acknowledged"]
    assert {k: ack[k] for k in ("code", "gateway", "file")} == {
        "code": "W113",
        "gateway": "dist_sw1",
        "file": "examples/hospital.zw",
    }
    assert ack["reason"].startswith("medical VLANs stay on")
    assert not any(d["code"] == "W113" for d in doc["diagnostics"])


@pytest.mark.parametrize(
    "args",
    [
        ("check",),
        ("frobnicate", "x.zw"),
        ("check", "--format", "xml", "x.zw"),
        ("check", "--no-such-flag", "examples/hospital.zw"),
        ("check", "examples/hospital.zw", "extra.zw"),
    ],
    ids=["no-file", "unknown-command", "bad-format", "unknown-flag", "two-files"],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    proc = zonewall(*args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_version() -> None:
    proc = zonewall("--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, "zonewall 0.1.0")


# ---------------------------------------------------------------------------------------------
# robustness: whatever the input, exit 0 or 1 and never a traceback
# ---------------------------------------------------------------------------------------------

SMALL_POLICY = (
    "service https = tcp/443\nclass a { vlan 10 subnet 10.0.0.0/24 }\n"
    "class b { vlan 11 subnet 10.0.1.0/24 }\nallow a -> b : https\n"
    "gateway g { platform iptables serves internal }\n"
)


def _junk(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _printable(size: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    alphabet = b'abcxyz019 \n\t{}[]();:,.-/>#"\\=*@'
    return bytes(rng.choice(alphabet) for _ in range(size))


TWO_MB = 2 * 1024 * 1024

HOSTILE: dict[str, bytes] = {
    "binary-junk": _junk(4096),
    "empty": b"",
    "only-whitespace-and-comments": b"\n\n   \t# nothing here\n# at all\n",
    "2mb-of-comments": b"# " + b"x" * TWO_MB + b"\n" + SMALL_POLICY.encode(),
    "2mb-of-binary": _junk(TWO_MB, 2),
    "2mb-one-line-of-tokens": b"allow " * (TWO_MB // 6),
    "2mb-of-printable-noise": _printable(TWO_MB),
    "2mb-string": b'class a { description "' + b"d" * TWO_MB + b'" vlan 10 subnet 10.0.0.0/24 }\n',
    "huge-numbers": (
        b"pool vlans 1-99999999999999999999\n"
        b"service s = tcp/999999, udp/1-99999999999999999999, proto/99999999999,"
        b" icmp/99999999999\n"
        b"class a { vlan 99999999999999999999 hosts 99999999999999999999999 }\n"
        b"class b { vlan 4294967296 subnet 10.0.0.0/99999999999999999999 }\n"
        b"class c { vlan 10 subnet 999999999999.1.1.1/8 }\n"
    ),
    "max-hosts": (
        b"pool subnets 0.0.0.0/0\npool vlans 2-4094\nclass a { hosts 2147483648 }\n"
        b"class b { hosts 1 }\nallow a -> b\n"
        b"gateway g { platform iptables serves internal }\n"
    ),
    "nested-braces": b"{" * 100_000 + b"}" * 100_000,
    "nested-in-class": b"class a " + b"{" * 100_000,
    "nested-parens": b"allow " + b"(" * 100_000 + b"a" + b")" * 100_000 + b" -> b",
    "nul-bytes": b"class a\x00 { vlan 10 }\n" + b"\x00" * 1000,
    "invalid-utf8": b'class a { description "\xff\xfe\xc3\x28" }\n',
    "utf8-surrogate": b"# \xed\xa0\x80\nclass a { vlan 10 }\n",
    "utf16-with-bom": SMALL_POLICY.encode("utf-16"),
    "utf8-bom": b"\xef\xbb\xbf" + SMALL_POLICY.encode(),
    "crlf": SMALL_POLICY.replace("\n", "\r\n").encode(),
    "lone-cr": SMALL_POLICY.replace("\n", "\r").encode() + b"allow x -> a\r",
    "unicode-line-separators": (
        "# a\u2028b\u2029c\x85d\x0ce\x1cf\n" + SMALL_POLICY + "allow x -> a\n"
    ).encode(),
    "long-name": b"class " + b"a" * 1_000_000 + b" { vlan 10 }\n",
    "many-errors": b"".join(b"allow x%d -> y%d\n" % (i, i) for i in range(2000)),
    "include-itself": b'include "include-itself.zw"\n',
    "include-directory": b'include "."\n',
    "include-binary": b'include "binary-junk.zw"\n',
    "include-missing": b'include "no/such/file.zw"\n',
    "unicode-names": "class café { vlan 10 }\nallow ☃ -> café\n".encode(),
    "every-statement-broken": (
        b"policy { }\npool subnets\npool vlans -\nservice = tcp/1\n"
        b"class { }\nexternal e { }\nallow -> \ndeny\ngateway { }\n"
        b"assert\ninclude\n"
    ),
}


def _hostile_file(tmp_path: Path, name: str) -> Path:
    (tmp_path / "binary-junk.zw").write_bytes(HOSTILE["binary-junk"])
    path = tmp_path / f"{name}.zw"
    path.write_bytes(HOSTILE[name])
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_in_process(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _hostile_file(tmp_path, name)
    for fmt in ("text", "json"):
        code, out, err = in_process(capsys, "check", "--format", fmt, str(path))
        assert code in (0, 1), (code, err[-2000:])  # 70 would be an internal error
        assert "Traceback" not in out + err
        assert "internal error" not in err
        if fmt == "json":
            doc = json.loads(out)
            assert doc["ok"] is (code == 0)
        elif code == 1:
            assert re.search(r"error\[E\d{3}\]", err)


# The inputs the command line must survive as a separate process (no traceback on stderr).
SUBPROCESS_CASES = [
    "binary-junk",
    "empty",
    "2mb-of-comments",
    "2mb-of-binary",
    "huge-numbers",
    "nested-braces",
    "nul-bytes",
    "invalid-utf8",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_hostile_input_as_a_process(name: str, tmp_path: Path) -> None:
    proc = zonewall("check", str(_hostile_file(tmp_path, name)))
    assert proc.returncode in (0, 1), (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr


@pytest.mark.parametrize("kind", ["directory", "missing", "unreadable", "dev-null"])
def test_unreadable_paths(kind: str, tmp_path: Path) -> None:
    if kind == "directory":
        target = str(tmp_path)
    elif kind == "missing":
        target = str(tmp_path / "no-such.zw")
    elif kind == "dev-null":
        if not os.path.exists(os.devnull):
            pytest.skip("no null device")
        target = os.devnull
    else:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            pytest.skip("root can read a chmod 000 file; the directory case covers E105")
        path = tmp_path / "secret.zw"
        path.write_text(SMALL_POLICY, encoding="utf-8")
        path.chmod(0)
        target = str(path)
    proc = zonewall("check", target)
    assert "Traceback" not in proc.stdout + proc.stderr
    if kind == "dev-null":  # an empty policy
        assert proc.returncode == 0
        return
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{target}:1:1: error[E105]: cannot read policy file")


# ---------------------------------------------------------------------------------------------
# control characters never reach the terminal (issue 12, item 3)
# ---------------------------------------------------------------------------------------------

PWNED = "\x1b]0;pwned\x07\x1b[2J"  # retitles the terminal, then clears it


def _terminal_policy(tmp_path: Path) -> Path:
    (tmp_path / f"inc{PWNED}\u202e.zw").write_text(
        f'allow guest -> srv : https "screen casting {PWNED}\u202e\r\b"\n', encoding="utf-8"
    )
    path = tmp_path / "p.zw"
    path.write_text(
        f'policy "T {PWNED}" {{ owner "o" }}\npool subnets 10.0.0.0/16\npool vlans 100-199\n'
        f'service https = tcp/443\nclass guest {{ hosts 10 description "{PWNED}" }}\n'
        f'class srv {{ hosts 10 }}\ninclude "inc{PWNED}\u202e.zw"\n'
        "assert unreachable guest -> srv\n"
        'gateway fw { platform iptables uplink "eth0" serves internal }\n',
        encoding="utf-8",
    )
    text = path.read_text(encoding="utf-8")
    (tmp_path / "old.zw").write_text(text[: text.index("include")], encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("check",),
        ("matrix",),
        ("explain", "{p}", "guest", "srv"),
        ("diff", "{old}", "{p}"),
        ("graph", "--highlight", "no such assertion {pwned}"),
    ],
    ids=["check", "matrix", "explain", "diff", "graph-usage-error"],
)
def test_no_control_character_reaches_the_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    path = str(_terminal_policy(tmp_path))
    argv = [a.format(p=path, pwned=PWNED, old=str(tmp_path / "old.zw")) for a in args]
    if "{p}" not in args:
        argv.append(path)
    code, out, err = in_process(capsys, *argv)
    assert code in (0, 1, 2), err
    for text in (out, err):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out + err  # shown, escaped, not hidden


def test_sarif_message_carries_no_link_of_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.zw").write_text('include "[x](https:evil.example) #.zw"\n', encoding="utf-8")
    from zonewall.present.sarif import to_sarif
    from zonewall.report import run_check

    log = json.loads(to_sarif(run_check("p.zw")))
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "E108"
    assert "\\[x\\](https:evil.example)" in result["message"]["text"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "p.zw"
