"""The fast parser against the reference (lark) parser: same statements, same diagnostics.

`zonewall.dsl.fastparse` is a hand-written parser for the language `grammar.lark` defines; these
tests are what makes it the same language.  For every policy file in the repository, for
generated policies with every kind of statement and odd layout, and for random mutations of
those, both front ends must either accept the text with equal statements (every field compared,
spans included, which the IR's own equality leaves out) and equal diagnostics in the same
order, or both reject it.  A text only lark accepts would, in production, silently fall back
to lark; here it fails.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork

from zonewall.diagnostics import Diagnostic, DiagnosticError, DiagnosticSink
from zonewall.dsl import parser
from zonewall.dsl.fastparse import FastSyntaxError, parse_fast
from zonewall.dsl.parser import lark_statements, parse_statements, parse_text

ROOT = Path(__file__).resolve().parents[3]
FILE = "t.zw"


def deep(value: Any) -> Any:
    """A comparable form of IR values with every dataclass field, spans included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(
            (f.name, deep(getattr(value, f.name))) for f in dataclasses.fields(value))
    if isinstance(value, (tuple, list)):
        return tuple(deep(v) for v in value)
    if isinstance(value, IPNetwork):
        return ("net", str(value))
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.name)
    return value


Outcome = tuple[str, Any, list[Diagnostic]]


def fast(text: str) -> Outcome:
    sink = DiagnosticSink()
    try:
        statements = parse_fast(text, FILE, sink)
    except FastSyntaxError:
        return ("rejected", None, [])
    return ("ok", deep(statements), list(sink.items))


def reference(text: str) -> Outcome:
    sink = DiagnosticSink()
    try:
        statements = lark_statements(text, FILE, sink)
    except DiagnosticError as err:
        return ("rejected", None, list(err.diagnostics))
    return ("ok", deep(statements), list(sink.items))


def assert_same(text: str) -> str:
    """Both front ends agree on `text`; returns "ok" or "rejected"."""
    got, want = fast(text), reference(text)
    assert got[0] == want[0], f"fast parser {got[0]}, lark {want[0]}: {text!r}\n{want[2]}"
    if want[0] == "ok":
        assert got[1] == want[1], text
        assert got[2] == want[2], text
    return want[0]


def policy_files() -> list[Path]:
    return sorted(p for d in ("examples", "tests") for p in (ROOT / d).rglob("*.zw"))


@pytest.mark.parametrize("path", policy_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_policy_file_parses_the_same(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    assert_same(text)


def test_the_repository_has_policy_files_to_compare() -> None:
    assert len(policy_files()) > 50


# Texts where lark's contextual lexer does something a naive lexer would not, and corners of
# every statement.  Each must come out the same from both front ends.
CORNERS = [
    "allowed -> y",  # 'allow' split off: allow ed -> y
    "allow a -> b allowed -> c",
    "class x { vlan5 }",
    "class x {subnet10.0.0.0/8}",
    "class x { subnet 10.0.0.0/8vlan 5 }",
    "assertonly a -> b",
    "assertunreachable a -> b withoutc",
    "allow a -> b loginclude \"x\"",
    "allow a exceptb -> c",
    "external e { address10.0.0.0/8 except10.1.0.0/16 }",
    "pool subnets 10.0.0.0/8vlan 3",
    "pool vlans 1-2,3,4-5",
    "pool vlans 1 -> 2",
    "service allow = log, any",
    "service s = tcp/1plaintext",
    "service s = tcp/1 plaintextallow a -> b",
    "deny a -> b log",
    "deny a -> b \"x\" log",
    "allow a -> b \"x\" log",
    "allow a -> b: tcp/1-2, icmp/echo-request, proto/47, icmp, ip \"why \\\"so\\\"\" log",
    "allow tag:x, criticality:high, any, internal, external except c -> d",
    "allow tag : x -> criticality :CRITICAL",
    "allow a -> gateway:g, gateways : ssh \"management\"",
    "allow a -> gateway : g",
    "allow a -> gateway",
    "allow a -> gateway:",
    "allow gateway:g -> a",
    "allow a -> gatewaysx, gateways except gateway:G",
    "allow a -> gateway:g gateway g { serves a }",
    "assert only a -> gateway:gateway",
    "assert encrypted -> gateways",
    "class gateway { hosts 1 } class gateways { hosts 1 }",
    "gateway g { serves gateway:g }",
    "allow tcp/1 -> b",
    "allow any -> tcp",
    "assert encrypted -> a",
    "assert encrypted a -> b accepted \"r\"",
    "assert encrypteda -> b",
    "assert limited a -> b",
    "assert denied a -> b: tcp/22 accepted \"x\";",
    "assert only a -> b: s",
    "gateway g { platform allow; serves a except b; interface \"i\" uplink \"u\" }",
    "gateway g { serves a uplink \"u\" serves b }",
    "gateway g { ; }",
    "gateway g { platform cisco-ios object-groups; object-groups serves a }",
    "gateway g { object-groupsuplink \"u\" serves a object-groups}",
    "gateway g { serves a object-groups-x }",
    "gateway g { platform object-groups object-groups }",
    "gateway g { uplink \"u\"object-groups }",
    "allow a -> b object-groups",
    "gateway object-groups { object-groups }",
    "gateway g { platform cisco-ios stateless-replies accepted \"r\"; serves a }",
    "gateway g { stateless-replies accepted\"r\"stateless-replies accepted \"s\" }",
    "gateway g { stateless-repliesaccepted \"r\" }",
    "gateway g { stateless-replies \"r\" }",
    "gateway g { stateless-replies accepted }",
    "gateway g { stateless-replies accepted r }",
    "gateway g { serves a stateless-replies accepted \"\" }",
    "gateway g { stateless-replies-x accepted \"r\" }",
    "assert denied a -> b stateless-replies accepted \"r\"",
    "gateway g { serves a dhcp-relay to srv, 10.0.0.2 from 10.9.0.1; uplink \"u\" }",
    "gateway g { dhcp-relay from 10.9.0.1 dhcp-relay to x from 10.9.0.2 }",
    "gateway g { dhcp-relay from 10.9.0.0/24 }",
    "gateway g { dhcp-relay to 10.0.0.0/30, Bad from 10.9.0.1/33 }",
    "gateway g { dhcp-relayto x from 1.2.3.4 }",
    "gateway g { dhcp-relay tox fromy 1.2.3.4 }",
    "gateway g { dhcp-relay to x fromy 1.2.3.4 }",
    "gateway g { dhcp-relay to from 1.2.3.4 }",
    "gateway g { dhcp-relay to x, from 1.2.3.4 }",
    "gateway g { dhcp-relay to x }",
    "gateway g { dhcp-relay from x }",
    "gateway g { dhcp-relay }",
    "gateway g { serves a dhcp-relay-x from 1.2.3.4 }",
    "gateway g { serves a dhcp-relayfrom 1.2.3.4 }",
    "allow a -> b dhcp-relay from 1.2.3.4",
    "class to { hosts 1 } class from { hosts 1 } allow to -> from",
    "class c { tags a, b, a; tags c }",
    "class C-1 { hosts 99999999999 criticality Loud description \"a\\qb\" }",
    "policy \"t\" { owner \"a\" owner \"b\"; } policy \"u\" {}",
    "policy \"t\" { ; }",
    "include \"x.zw\";;",
    ";",
    "",
    "# only a comment",
    "allow a -> b # c\n;",
    "allow a\n->\n\tb\r\n:\fs",
    "allow a -> b: s, \"x\"",
    "allow a-b_c -> d--e",
    "allow a->b",
    "allow a-->b",
    "class x { vlan 10.0.0.1 }",
    "service s = tcp/",
    "allow a -> b \"unterminated",
    "allow a -> b @",
    "allow a -> b\u00a0",
    "class é { }",
]


@pytest.mark.parametrize("text", CORNERS)
def test_corner_cases_parse_the_same(text: str) -> None:
    assert_same(text)


def test_lark_really_reads_glued_keywords() -> None:
    # The reason the fast parser splits keywords off words: lark's contextual lexer does.
    assert assert_same("allowed -> y") == "ok"
    assert assert_same("class x { vlan5 }") == "ok"


# -- generated policies ----------------------------------------------------------------------

NAMES = st.sampled_from([
    "a", "b", "web", "db-1", "x_y", "c0", "gw", "s", "high", "log", "allow", "except", "tag",
    "any", "tcp", "icmp", "ip", "owner", "plaintext", "accepted", "Upper", "_u", "a-b-c",
    "n" * 31, "m" * 32, "vlan", "without", "gateway", "gateways",
])
PORTS = st.sampled_from([
    "tcp/1-2", "tcp/443", "udp/53", "icmp/echo-request", "icmp/8", "proto/47", "tcp/99999",
    "tcp/5-1", "icmp/bogus", "proto/300", "udp/1-2-3", "tcp/x", "tcp", "icmp", "udp", "ip",
])
CIDRS = st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "10.0.0.1",
                         "10.0.0.1/8", "300.1.1.1/8", "1.2.3.4/40", "0.0.0.0/0"])
STRINGS = st.sampled_from(['""', '"x"', '"a \\"b\\""', '"back\\\\slash"', '"bad \\q"',
                           '"# not a comment"', '"tab\there"'])
LEVELS = st.sampled_from(["low", "medium", "high", "critical", "HIGH", "loud"])
INTS = st.sampled_from(["0", "1", "5", "4094", "99999999999", "2147483648", "007"])
GAPS = st.sampled_from([" ", "  ", "\n", "\t", " # note\n", "\n\n  ", "\r\n", " #\n", "\f"])


def joined(draw: st.DrawFn, parts: list[str], tight: frozenset[str] = frozenset()) -> str:
    """Tokens joined with random whitespace/comments (none at all before ',' ':' ';' ...)."""
    out = parts[0]
    for part in parts[1:]:
        gap = draw(GAPS)
        if part in tight or out[-1] in tight:
            gap = draw(st.sampled_from(["", gap]))
        out += gap + part
    return out


TIGHT = frozenset({",", ":", ";", "{", "}", "->", "=", "-"})


@st.composite
def terms(draw: st.DrawFn) -> list[str]:
    out: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        if i:
            out.append(",")
        kind = draw(st.sampled_from(["name", "name", "tag", "crit", "any", "internal",
                                     "external", "gw", "gateways"]))
        if kind == "name":  # 'tag', 'criticality', 'gateway' alone: syntax errors in a selector
            out.append(draw(NAMES.filter(lambda n: n not in ("tag", "criticality", "gateway"))))
        elif kind == "tag":
            out += ["tag", ":", draw(NAMES)]
        elif kind == "gw":
            out += ["gateway", ":", draw(NAMES)]
        elif kind == "crit":
            out += ["criticality", ":", draw(LEVELS)]
        else:
            out.append(kind)
    return out


@st.composite
def selector(draw: st.DrawFn) -> list[str]:
    out = draw(terms())
    if draw(st.booleans()) and draw(st.booleans()):
        out += ["except"] + draw(terms())
    return out


@st.composite
def uses(draw: st.DrawFn) -> list[str]:
    out: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        if i:
            out.append(",")
        out.append(draw(st.one_of(NAMES, PORTS)))
    return out


@st.composite
def cidr_list(draw: st.DrawFn) -> list[str]:
    out: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        if i:
            out.append(",")
        out.append(draw(CIDRS))
    return out


def opt_semi(draw: st.DrawFn) -> list[str]:
    return [";"] if draw(st.booleans()) else []


@st.composite
def statement(draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(["header", "include", "pool_subnets", "pool_vlans", "service",
                                 "class", "external", "allow", "deny", "gateway", "assert"]))
    if kind == "header":
        owners = [t for _ in range(draw(st.integers(0, 2)))
                  for t in ["owner", draw(STRINGS)] + opt_semi(draw)]
        return ["policy", draw(STRINGS), "{"] + owners + ["}"]
    if kind == "include":
        return ["include", draw(STRINGS)]
    if kind == "pool_subnets":
        return ["pool", "subnets"] + draw(cidr_list())
    if kind == "pool_vlans":
        out = ["pool", "vlans"]
        for i in range(draw(st.integers(1, 3))):
            out += ([","] if i else []) + [draw(INTS)]
            if draw(st.booleans()):
                out += ["-", draw(INTS)]
        return out
    if kind == "service":
        out = ["service", draw(NAMES), "="] + draw(uses())
        return out + (["plaintext"] if draw(st.booleans()) else [])
    if kind == "class":
        out = ["class", draw(NAMES), "{"]
        for _ in range(draw(st.integers(0, 4))):
            attr = draw(st.sampled_from(["description", "vlan", "subnet", "hosts",
                                         "criticality", "tags"]))
            value = {"description": lambda: [draw(STRINGS)], "vlan": lambda: [draw(INTS)],
                     "hosts": lambda: [draw(INTS)], "subnet": lambda: draw(cidr_list()),
                     "criticality": lambda: [draw(LEVELS)],
                     "tags": lambda: [t for i, n in enumerate(draw(st.lists(NAMES, min_size=1,
                                                                            max_size=3)))
                                      for t in ([","] if i else []) + [n]]}[attr]()
            out += [attr] + value + opt_semi(draw)
        return out + ["}"]
    if kind == "external":
        out = ["external", draw(NAMES), "{", "address"] + draw(cidr_list())
        if draw(st.booleans()):
            out += ["except"] + draw(cidr_list())
        return out + opt_semi(draw) + ["}"]
    if kind in ("allow", "deny"):
        out = [kind] + draw(selector()) + ["->"] + draw(selector())
        if draw(st.booleans()):
            out += [":"] + draw(uses())
        if draw(st.booleans()):
            out.append(draw(STRINGS))
        if kind == "allow" and draw(st.booleans()):
            out.append("log")
        return out
    if kind == "gateway":
        out = ["gateway", draw(NAMES), "{"]
        for _ in range(draw(st.integers(0, 4))):
            attr = draw(st.sampled_from(["platform", "serves", "interface", "uplink",
                                         "object-groups", "stateless-replies"]))
            value = {"platform": lambda: [draw(st.sampled_from(["iptables", "cisco-ios",
                                                                 "nftables", "log"]))],
                     "serves": lambda: draw(selector()),
                     "interface": lambda: [draw(STRINGS)],
                     "uplink": lambda: [draw(STRINGS)],
                     "object-groups": lambda: [],
                     "stateless-replies": lambda: ["accepted", draw(STRINGS)]}[attr]()
            out += [attr] + value + opt_semi(draw)
        return out + ["}"]
    form = draw(st.sampled_from(["unreachable", "denied", "allowed", "only", "limited",
                                 "encrypted"]))
    out = ["assert", form]
    if form != "encrypted" or draw(st.booleans()):
        out += draw(selector())
    out += ["->"] + draw(selector())
    if form == "unreachable" and draw(st.booleans()):
        out += ["without"] + draw(selector())
    if form in ("allowed", "limited") or (form == "denied" and draw(st.booleans())):
        out += [":"] + draw(uses())
    if draw(st.booleans()):
        out += ["accepted", draw(STRINGS)]
    return out


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        parts += draw(statement()) + opt_semi(draw)
    return joined(draw, parts, TIGHT) + draw(st.sampled_from(["", "\n", " # end", "\n\n"]))


PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(policy_texts())
@example("allow a -> b: tcp/1-2 \"x\" log\nassert unreachable a -> b without c accepted \"r\"")
def test_generated_policies_parse_the_same(text: str) -> None:
    assert assert_same(text) == "ok"


MUTATION_CHARS = st.sampled_from(list(" \n\t;,:{}=-/>.#\"\\0123456789axyzAZ_é") + ["->"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(policy_texts())
    for _ in range(draw(st.integers(1, 3))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        op = draw(st.sampled_from(["delete", "insert", "swap", "drop_token", "dup_token"]))
        if op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "insert":
            text = text[:i] + draw(MUTATION_CHARS) + text[i:]
        elif op == "swap" and i + 1 < len(text):
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        else:
            words = text.split(" ")
            j = draw(st.integers(0, len(words) - 1))
            words[j:j + 1] = [] if op == "drop_token" else [words[j], words[j]]
            text = " ".join(words)
    return text


@PROPERTY
@given(mutated())
def test_mutated_policies_parse_the_same_or_fail_on_both(text: str) -> None:
    assert_same(text)


def test_mutations_of_the_examples_parse_the_same_or_fail_on_both() -> None:
    import random

    rnd = random.Random(5)
    alphabet = " \n;,:{}-/>.#\"0123456789abzA"
    for path in sorted((ROOT / "examples").rglob("*.zw")):
        base = path.read_text(encoding="utf-8")
        for _ in range(20):
            i = rnd.randrange(len(base))
            op = rnd.randrange(3)
            if op == 0:
                text = base[:i] + base[i + 1:]
            elif op == 1:
                text = base[:i] + rnd.choice(alphabet) + base[i:]
            else:
                text = base[:i] + base[i + 1:i + 2] + base[i:i + 1] + base[i + 2:]
            assert_same(text)


# -- a large estate, and the fallback ----------------------------------------------------------

def test_a_generated_estate_of_1000_classes_parses_the_same() -> None:
    spec = importlib.util.spec_from_file_location("zw_bench_generate",
                                                  ROOT / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generate
    try:
        spec.loader.exec_module(generate)
        text = generate.generate(1000, 20000, 50, 100, 4, 1)
    finally:
        del sys.modules[spec.name]
    assert text.count("\n") > 20000
    assert assert_same(text) == "ok"


def test_syntax_errors_come_from_lark() -> None:
    sink = DiagnosticSink()
    with pytest.raises(DiagnosticError) as info:
        parse_statements("allow a -> b\nallow a ->\n", FILE, sink)
    with pytest.raises(DiagnosticError) as ref:
        lark_statements("allow a -> b\nallow a ->\n", FILE, DiagnosticSink())
    assert info.value.diagnostics == ref.value.diagnostics
    assert info.value.diagnostics[0].code == "E103"
    assert sink.items == []


def test_local_diagnostics_of_a_text_with_a_syntax_error_are_not_kept() -> None:
    # The fast parser reports 'Bad' before it finds the syntax error; lark reports only that.
    sink = DiagnosticSink()
    with pytest.raises(DiagnosticError):
        parse_statements("allow Bad -> b\nallow a -> }\n", FILE, sink)
    assert sink.items == []


def test_a_text_only_lark_reads_is_read_by_lark_and_recorded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, file: str, sink: DiagnosticSink, budget: object) -> list[Any]:
        raise FastSyntaxError

    monkeypatch.setattr(parser, "parse_fast", broken)
    before = len(parser.FAST_PATH_MISMATCHES)
    try:
        result = parse_text("allow a -> b: s", FILE)
        assert [r.action for r in result.policy.rules] == ["allow"]
        assert len(parser.FAST_PATH_MISMATCHES) == before + 1
        assert parser.FAST_PATH_MISMATCHES[-1][0] == FILE
    finally:
        del parser.FAST_PATH_MISMATCHES[before:]


def test_a_crash_of_the_fast_parser_falls_back_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def crashing(text: str, file: str, sink: DiagnosticSink, budget: object) -> list[Any]:
        raise IndexError("bug")

    monkeypatch.setattr(parser, "parse_fast", crashing)
    before = len(parser.FAST_PATH_MISMATCHES)
    try:
        assert len(parse_text("deny a -> b", FILE).policy.rules) == 1
        assert "IndexError" in parser.FAST_PATH_MISMATCHES[-1][1]
    finally:
        del parser.FAST_PATH_MISMATCHES[before:]


def test_a_clean_parse_never_builds_the_lark_parser() -> None:
    code = ("from zonewall.dsl import parser\n"
            "r = parser.parse_file('examples/hospital.zw')\n"
            "assert r.policy.classes\n"
            "print(parser._lark.cache_info().currsize)\n"
            "try:\n"
            "    parser.parse_text('allow a ->', 'x.zw')\n"
            "except Exception:\n"
            "    pass\n"
            "print(parser._lark.cache_info().currsize)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["0", "1"]  # neither lark parser built by a clean parse; one by an error
