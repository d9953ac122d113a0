"""Fuzzing: byte and token mutations of every example policy, through `check` and `build`'s
rendering, never raise (issue #12: no traceback for any input).

Each example is a starting point; hypothesis mutates its bytes (deleted, inserted, replaced,
including non-UTF-8 bytes, NUL, control characters and bidi overrides) or its tokens (dropped,
repeated, swapped, replaced by keywords, punctuation and odd strings), and the mutated text goes
through what `zonewall check` and `zonewall build` do in process: `run_check` (read, parse,
compile, prove), the rendering of every diagnostic, and, when the policy is valid, every output
rendered and proven (`render_outputs`, without writing).  A `DiagnosticError` never escapes
`run_check`; anything else raised is a bug.  Includes of the examples are read from disk as
`check` reads them.

The number of examples is hypothesis's (`HYPOTHESIS_PROFILE=ci` fixes it: 150 per test, well
under a minute together); every crash found becomes an `@example`.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zonewall.build import render_outputs
from zonewall.present.check import render_diagnostics, to_json
from zonewall.report import CheckReport, run_check

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").rglob("*.zw"))
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*+"|#[^\n]*|[A-Za-z0-9_./-]+|->|\s+|.', re.DOTALL)
VOCABULARY = [
    "allow",
    "deny",
    "class",
    "external",
    "service",
    "gateway",
    "include",
    "policy",
    "pool",
    "assert",
    "unreachable",
    "only",
    "limited",
    "encrypted",
    "denied",
    "allowed",
    "except",
    "without",
    "accepted",
    "log",
    "tags",
    "tag:x",
    "gateway:fw",
    "gateways",
    "any",
    "internal",
    "serves",
    "platform",
    "cisco-ios",
    "nftables",
    "iptables",
    "object-groups",
    "subnet",
    "hosts",
    "vlan",
    "0",
    "4095",
    "99999999999",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "10.0.0.1/24",
    "999.1.1.1",
    "tcp/0-65535",
    "udp/70000",
    "icmp/255",
    "icmp/13",
    "proto/0",
    "tcp",
    "ip",
    "{",
    "}",
    ",",
    ":",
    ";",
    "->",
    "=",
    "-",
    '""',
    '"\\q"',
    '"\\u202e\\x1b[2J"',
    '"x',
    "#",
    "\n",
    "\t",
    "Upper",
    "a" * 40,
]
ODD_BYTES = [
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\r",
    b"\x1b",
    b"\xe2\x80\xae",
    b"\xef\xbb\xbf",
    b"\n",
    b'"',
    b"{",
    b"}",
    b"\\",
    b"#",
    b"-",
    b"/",
    b":",
    b",",
]
SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _through_everything(root: str, data: bytes) -> None:
    """`check` and, for a valid policy, `build`'s rendering and proofs, all in process."""

    def read(path: str) -> bytes:
        if path == root:
            return data
        with open(path, "rb") as fh:
            return fh.read()

    report: CheckReport = run_check(root, read)
    render_diagnostics(report)
    to_json(report)
    if report.ok():
        render_outputs(report)


@st.composite
def byte_mutations(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(EXAMPLES))
    data = (ROOT / path).read_bytes()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        odd = draw(st.sampled_from(ODD_BYTES) | st.binary(min_size=1, max_size=3))
        if op == "delete":
            data = data[:i] + data[i + draw(st.integers(1, 8)) :]
        elif op == "insert":
            data = data[:i] + odd + data[i:]
        elif op == "replace":
            data = data[:i] + odd + data[i + len(odd) :]
        else:
            data = data[:i]
    return path, data


@st.composite
def token_mutations(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(EXAMPLES))
    tokens = TOKEN.findall((ROOT / path).read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "swap", "replace", "insert"]))
        if op == "drop":
            del tokens[i]
        elif op == "repeat":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            word = draw(st.sampled_from(VOCABULARY) | st.sampled_from(tokens))
            tokens[i : i + (op == "replace")] = [word, " "]
    return path, "".join(tokens).encode("utf-8")


@SETTINGS
@given(byte_mutations())
@example(("examples/hospital.zw", b'include "\x00"\n'))
@example(("examples/hospital.zw", b"\xef\xbb\xbf\xef\xbb\xbf"))
def test_byte_mutations_of_the_examples_never_raise(case: tuple[str, bytes]) -> None:
    _through_everything(*case)


@SETTINGS
@given(token_mutations())
@example(("examples/hospital.zw", b"allow a -> b : icmp/13\n"))
def test_token_mutations_of_the_examples_never_raise(case: tuple[str, bytes]) -> None:
    _through_everything(*case)
