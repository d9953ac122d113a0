"""The language's one parser (`zonewall.dsl.syntax`): what it accepts, what it rejects, and
how it says so.

There is no second grammar to compare against: `docs/language.md` is the definition, and these
tests hold the parser to it.  Generated policies with every kind of statement and odd layout
must parse, to statements whose spans point at their own text; random mutations of them must
either parse or give one E101/E102/E103 with a caret inside the text, never another exception.
The "corners" are texts where the lark contextual lexer zonewall used before read a keyword off
the start of a word (`allowed -> y` as `allow ed -> y`): each is held to its diagnostic now.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zonewall.diagnostics import DiagnosticError, DiagnosticSink, Span, render_diagnostic
from zonewall.dsl.parser import parse_statements, parse_text
from zonewall.dsl.syntax import record

ROOT = Path(__file__).resolve().parents[3]
FILE = "t.zw"


def spans(value: Any) -> list[Span]:
    """Every span inside IR values."""
    if isinstance(value, Span):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in spans(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in spans(v)]
    return []


def inside(text: str, span: Span) -> bool:
    """The span starts on a line of `text` and ends at most one column past that line's end."""
    lines = text.split("\n")
    if not 1 <= span.line <= len(lines) or not 1 <= span.end_line <= len(lines):
        return False
    return (
        1 <= span.col <= len(lines[span.line - 1]) + 1
        and 1 <= span.end_col <= len(lines[span.end_line - 1]) + 2
        and (span.line, span.col) <= (span.end_line, span.end_col)
    )


def outcome(text: str) -> str:
    """ "ok", or the syntax error's code; any other exception fails the test."""
    sink = DiagnosticSink()
    try:
        statements = parse_statements(text, FILE, sink)
    except DiagnosticError as err:
        [diag] = err.diagnostics
        assert diag.code in {"E101", "E102", "E103"}, diag
        assert diag.span is not None and inside(text, diag.span), (text, diag)
        assert "expected" in diag.message or diag.code == "E102", diag.message
        assert render_diagnostic(diag, {FILE: text})
        return diag.code
    for span in spans(statements) + [d.span for d in sink.items if d.span is not None]:
        assert span.file == FILE and inside(text, span), (text, span)
    return "ok"


def policy_files() -> list[Path]:
    return sorted(p for d in ("examples", "tests") for p in (ROOT / d).rglob("*.zw"))


@pytest.mark.parametrize("path", policy_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_policy_file_parses_or_gives_one_syntax_error(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    assert outcome(text) in {"ok", "E101", "E102", "E103"}


def test_the_repository_has_policy_files() -> None:
    assert len(policy_files()) > 50


# The old contextual lexer's accidents: keywords read off the start of a word.  Each is an error
# now, with the keyword the user probably meant.
GLUED = [
    ("allowed -> y : https", 1, "unexpected 'allowed'", "did you mean 'allow'?"),
    (
        "class ed { hosts 4 }\nallowed -> ed : https",
        1,
        "unexpected 'allowed'",
        "did you mean 'allow'?",
    ),
    ("allow a -> b allowed -> c", 14, "unexpected 'allowed'", "did you mean 'allow'?"),
    ("class x { vlan5 }", 11, "unexpected name 'vlan5'", "did you mean 'vlan 5'?"),
    ("class x {subnet10.0.0.0/8}", 10, "unexpected name 'subnet10'", "did you mean 'subnet 10'?"),
    ("assertonly a -> b", 1, "unexpected name 'assertonly'", "did you mean 'assert only'?"),
    (
        "assertunreachable a -> b withoutc",
        1,
        "unexpected name 'assertunreachable'",
        "did you mean 'assert unreachable'?",
    ),
    ("assert encrypteda -> b", 8, "unexpected name 'encrypteda'", "did you mean 'encrypted'?"),
    (
        'allow a -> b loginclude "x"',
        14,
        "unexpected name 'loginclude'",
        "did you mean 'log include'?",
    ),
    ("allow a exceptb -> c", 9, "unexpected name 'exceptb'", "expected ',', '->' or 'except'"),
    (
        "external e { address10.0.0.0/8 except10.1.0.0/16 }",
        14,
        "unexpected name 'address10'",
        "did you mean 'address 10'?",
    ),
    (
        "service s = tcp/1 plaintextallow a -> b",
        19,
        "unexpected name 'plaintextallow'",
        "did you mean 'plaintext allow'?",
    ),
    (
        'gateway g { object-groupsuplink "u" serves a object-groups}',
        13,
        "unexpected name 'object-groupsuplink'",
        "did you mean 'object-groups uplink'?",
    ),
    (
        "gateway g { serves a object-groups-x }",
        22,
        "unexpected name 'object-groups-x'",
        "did you mean 'object-groups'?",
    ),
    (
        'gateway g { stateless-repliesaccepted "r" }',
        13,
        "unexpected name 'stateless-repliesaccepted'",
        "did you mean 'stateless-replies accepted'?",
    ),
    (
        "gateway g { dhcp-relayto x from 1.2.3.4 }",
        13,
        "unexpected name 'dhcp-relayto'",
        "did you mean 'dhcp-relay to'?",
    ),
    (
        "gateway g { dhcp-relay tox fromy 1.2.3.4 }",
        24,
        "unexpected name 'tox'",
        "did you mean 'to'?",
    ),
    (
        "gateway g { dhcp-relay to x fromy 1.2.3.4 }",
        29,
        "unexpected name 'fromy'",
        "did you mean 'from'?",
    ),
    ("Allow a -> b", 1, "unexpected name 'Allow'", "did you mean 'allow'?"),
    ("clas a { hosts 1 }", 1, "unexpected name 'clas'", "did you mean 'class'?"),
]


@pytest.mark.parametrize(("text", "col", "what", "fix"), GLUED, ids=[g[0] for g in GLUED])
def test_a_keyword_glued_to_a_word_is_an_error_with_a_fix(
    text: str, col: int, what: str, fix: str
) -> None:
    with pytest.raises(DiagnosticError) as info:
        parse_text(text, FILE)
    [diag] = info.value.diagnostics
    assert diag.code == "E101" and diag.span is not None
    assert diag.span.line == text.count("\n", 0, text.find(what.split("'")[1])) + 1
    assert diag.span.col == col
    assert diag.message.startswith(what) and fix in diag.message, diag.message


def test_a_name_that_starts_with_a_keyword_is_a_name() -> None:
    result = parse_text(
        "class allowed { hosts 4 }\nclass vlan5 { hosts 4 }\n"
        "service assertonly = tcp/1\n"
        "allow allowed -> vlan5 : assertonly\n",
        FILE,
    )
    assert [c.name for c in result.policy.classes] == ["allowed", "vlan5"]
    [rule] = result.policy.rules
    assert (rule.src.include[0].value, rule.dst.include[0].value) == ("allowed", "vlan5")
    assert result.diagnostics == []


# Corners of every statement: "ok" or the code of the syntax error, and a part of its message.
CORNERS = [
    ("class x { subnet 10.0.0.0/8vlan 5 }", "ok", ""),  # a number ends where a word starts
    ("pool subnets 10.0.0.0/8vlan 3", "E101", "unexpected 'vlan'; expected ',', ';' or a new"),
    ("pool vlans 1-2,3,4-5", "ok", ""),
    ("pool vlans 1 -> 2", "E101", "expected ',', '-', ';' or a new statement"),
    ("service allow = log, any", "ok", ""),
    ("deny a -> b log", "E101", "only an allow can 'log'"),
    ('deny a -> b "x" log', "E101", "only an allow can 'log'"),
    ('allow a -> b "x" log', "ok", ""),
    ('allow a -> b: tcp/1-2, icmp/echo-request, proto/47, icmp, ip "why \\"so\\"" log', "ok", ""),
    ("allow tag:x, criticality:high, any, internal, external except c -> d", "ok", ""),
    ("allow tag : x -> criticality :high", "ok", ""),
    ('allow a -> gateway:g, gateways : ssh "management"', "ok", ""),
    ("allow a -> gateway", "E103", "expected ':' (written tight: gateway:NAME)"),
    ("allow a -> gateway:", "E103", "expected a gateway name"),
    ("allow a -> gateway:g gateway g { serves a }", "ok", ""),
    ("assert only a -> gateway:gateway", "ok", ""),
    ("assert encrypted -> gateways", "ok", ""),
    ("allow tcp/1 -> b", "E101", "unexpected port 'tcp/1'; expected a selector"),
    ("allow any -> tcp", "ok", ""),
    ('assert encrypted a -> b accepted "r"', "ok", ""),
    ("assert encrypted 5", "E101", "expected '->' or a selector"),
    ("assert limited a -> b", "E103", "':' and services (a 'limited' assertion names them)"),
    ('assert denied a -> b: tcp/22 accepted "x";', "ok", ""),
    ("assert only a -> b: s", "E101", "unexpected ':'; expected ',', ';', 'accepted', 'except'"),
    ('gateway g { platform allow; serves a except b; interface "i" uplink "u" }', "ok", ""),
    ("gateway g { ; }", "E101", "unexpected ';'; expected '}' or a gateway attribute"),
    ("gateway g { platform object-groups object-groups }", "ok", ""),
    ('gateway g { uplink "u"object-groups }', "ok", ""),
    ("allow a -> b object-groups", "E101", "unexpected 'object-groups'"),
    ("gateway object-groups { object-groups }", "ok", ""),
    ('gateway g { stateless-replies "r" }', "E101", "unexpected string \"r\"; expected 'accepted'"),
    ("gateway g { stateless-replies accepted }", "E101", 'expected a reason "string"'),
    ('gateway g { serves a dhcp-relay to srv, 10.0.0.2 from 10.9.0.1; uplink "u" }', "ok", ""),
    (
        "gateway g { dhcp-relay to from 1.2.3.4 }",
        "E101",
        "unexpected address '1.2.3.4'; expected ',' or 'from'",
    ),
    ("gateway g { dhcp-relay from x }", "E101", "expected the relay's source address"),
    ("gateway g { dhcp-relay }", "E101", "expected 'to' and DHCP servers, or 'from'"),
    ("class to { hosts 1 } class from { hosts 1 } allow to -> from", "ok", ""),
    ('policy "t" { ; }', "E101", "unexpected ';'; expected 'owner' or '}'"),
    ('include "x.zw";;', "E101", "unexpected ';'; expected a statement ('allow', 'assert',"),
    ("", "ok", ""),
    ("# only a comment", "ok", ""),
    ("allow a -> b # c\n;", "ok", ""),
    ("allow a\n->\n\tb\r\n:\fs", "ok", ""),
    ('allow a -> b: s, "x"', "E101", 'unexpected string "x"; expected a service'),
    ("allow a-b_c -> d--e", "E101", "unexpected '-'"),
    ("allow a->b", "ok", ""),
    ("allow a-->b", "E101", "unexpected '-'; expected ',', '->' or 'except'"),
    ("class x { vlan 10.0.0.1 }", "E101", "unexpected address '10.0.0.1'; expected a VLAN ID"),
    ("service s = tcp/", "E102", "unexpected character '/'"),
    ('allow a -> b "unterminated', "E102", "unterminated string"),
    ("allow a -> b \u00a0", "E102", "U+00A0"),
    ("class é { }", "E102", "unexpected character 'é'"),
    (
        "allow a -> b c",
        "E101",
        "expected ',', ':' and services, ';', 'except', 'log', a new statement or a reason",
    ),
]


@pytest.mark.parametrize(("text", "code", "message"), CORNERS, ids=[c[0] for c in CORNERS])
def test_corners(text: str, code: str, message: str) -> None:
    assert outcome(text) == code
    if code != "ok":
        with pytest.raises(DiagnosticError) as info:
            parse_text(text, FILE)
        assert message in info.value.diagnostics[0].message


def test_an_unclosed_block_says_where_it_opened() -> None:
    text = "class a {\n  vlan 10\n\nallow a -> b\n"
    with pytest.raises(DiagnosticError) as info:
        parse_text(text, FILE)
    [diag] = info.value.diagnostics
    assert (diag.code, diag.span) == ("E101", Span(FILE, 4, 1, 4, 6))
    assert diag.notes == (
        ("class 'a' opened here is not closed; end it with '}'", Span(FILE, 1, 9, 1, 10)),
    )
    with pytest.raises(DiagnosticError) as info:
        parse_text("gateway g {\n  platform iptables\n", FILE)
    [diag] = info.value.diagnostics
    assert diag.code == "E103" and diag.notes[0][1] == Span(FILE, 1, 11, 1, 12)


# -- generated policies ----------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        "a",
        "b",
        "web",
        "db-1",
        "x_y",
        "c0",
        "gw",
        "s",
        "high",
        "log",
        "allow",
        "except",
        "tag",
        "any",
        "tcp",
        "icmp",
        "ip",
        "owner",
        "plaintext",
        "accepted",
        "Upper",
        "_u",
        "a-b-c",
        "n" * 31,
        "m" * 32,
        "vlan",
        "without",
        "gateway",
        "gateways",
    ]
)
PORTS = st.sampled_from(
    [
        "tcp/1-2",
        "tcp/443",
        "udp/53",
        "icmp/echo-request",
        "icmp/8",
        "proto/47",
        "tcp/99999",
        "tcp/5-1",
        "icmp/bogus",
        "proto/300",
        "udp/1-2-3",
        "tcp/x",
        "tcp",
        "icmp",
        "udp",
        "ip",
    ]
)
CIDRS = st.sampled_from(
    [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "192.168.1.0/24",
        "10.0.0.1",
        "10.0.0.1/8",
        "300.1.1.1/8",
        "1.2.3.4/40",
        "0.0.0.0/0",
    ]
)
STRINGS = st.sampled_from(
    ['""', '"x"', '"a \\"b\\""', '"back\\\\slash"', '"bad \\q"', '"# not a comment"', '"tab\there"']
)
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
        kind = draw(
            st.sampled_from(
                ["name", "name", "tag", "crit", "any", "internal", "external", "gw", "gateways"]
            )
        )
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
    kind = draw(
        st.sampled_from(
            [
                "header",
                "include",
                "pool_subnets",
                "pool_vlans",
                "service",
                "class",
                "external",
                "allow",
                "deny",
                "gateway",
                "assert",
            ]
        )
    )
    if kind == "header":
        owners = [
            t
            for _ in range(draw(st.integers(0, 2)))
            for t in ["owner", draw(STRINGS)] + opt_semi(draw)
        ]
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
            attr = draw(
                st.sampled_from(["description", "vlan", "subnet", "hosts", "criticality", "tags"])
            )
            value = {
                "description": lambda: [draw(STRINGS)],
                "vlan": lambda: [draw(INTS)],
                "hosts": lambda: [draw(INTS)],
                "subnet": lambda: draw(cidr_list()),
                "criticality": lambda: [draw(LEVELS)],
                "tags": lambda: [
                    t
                    for i, n in enumerate(draw(st.lists(NAMES, min_size=1, max_size=3)))
                    for t in ([","] if i else []) + [n]
                ],
            }[attr]()
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
            attr = draw(
                st.sampled_from(
                    [
                        "platform",
                        "serves",
                        "interface",
                        "uplink",
                        "object-groups",
                        "stateless-replies",
                    ]
                )
            )
            value = {
                "platform": lambda: [
                    draw(st.sampled_from(["iptables", "cisco-ios", "nftables", "log"]))
                ],
                "serves": lambda: draw(selector()),
                "interface": lambda: [draw(STRINGS)],
                "uplink": lambda: [draw(STRINGS)],
                "object-groups": lambda: [],
                "stateless-replies": lambda: ["accepted", draw(STRINGS)],
            }[attr]()
            out += [attr] + value + opt_semi(draw)
        return out + ["}"]
    form = draw(
        st.sampled_from(["unreachable", "denied", "allowed", "only", "limited", "encrypted"])
    )
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


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(policy_texts())
@example('allow a -> b: tcp/1-2 "x" log\nassert unreachable a -> b without c accepted "r"')
def test_generated_policies_parse(text: str) -> None:
    assert outcome(text) == "ok"


@PROPERTY
@given(policy_texts())
def test_the_recorded_tokens_are_the_text(text: str) -> None:
    """`record` (for fmt) keeps every token and comment: with the whitespace between them,
    they are the text again."""
    cst = record(text, FILE, DiagnosticSink())
    pieces = [(s, e) for s, e in zip(cst.starts, cst.ends, strict=True)]
    pieces += list(zip(cst.comment_starts, cst.comment_ends, strict=True))
    pieces.sort()
    rebuilt = []
    at = 0
    for s, e in pieces:
        assert text[at:s].strip() == "" and s >= at
        rebuilt.append(text[s:e])
        at = e
    assert text[at:].strip() == ""
    assert "".join(text.split()) == "".join("".join(rebuilt).split())
    assert sum(hi - lo for _, lo, hi, _ in cst.statements) == len(cst.starts)


MUTATION_CHARS = st.sampled_from(list(' \n\t;,:{}=-/>.#"\\0123456789axyzAZ_é') + ["->"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(policy_texts())
    for _ in range(draw(st.integers(1, 3))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        op = draw(st.sampled_from(["delete", "insert", "swap", "drop_token", "dup_token"]))
        if op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(MUTATION_CHARS) + text[i:]
        elif op == "swap" and i + 1 < len(text):
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        else:
            words = text.split(" ")
            j = draw(st.integers(0, len(words) - 1))
            words[j : j + 1] = [] if op == "drop_token" else [words[j], words[j]]
            text = " ".join(words)
    return text


@PROPERTY
@given(mutated())
def test_mutated_policies_parse_or_give_one_syntax_error(text: str) -> None:
    outcome(text)


def test_mutations_of_the_examples_parse_or_give_one_syntax_error() -> None:
    import random

    rnd = random.Random(5)
    alphabet = ' \n;,:{}-/>.#"0123456789abzA'
    for path in sorted((ROOT / "examples").rglob("*.zw")):
        base = path.read_text(encoding="utf-8")
        for _ in range(20):
            i = rnd.randrange(len(base))
            op = rnd.randrange(3)
            if op == 0:
                text = base[:i] + base[i + 1 :]
            elif op == 1:
                text = base[:i] + rnd.choice(alphabet) + base[i:]
            else:
                text = base[:i] + base[i + 1 : i + 2] + base[i : i + 1] + base[i + 2 :]
            outcome(text)


def test_a_generated_estate_of_1000_classes_parses() -> None:
    spec = importlib.util.spec_from_file_location(
        "zw_bench_generate", ROOT / "benchmarks" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generate
    try:
        spec.loader.exec_module(generate)
        text = generate.generate(1000, 20000, 50, 100, 4, 1)
    finally:
        del sys.modules[spec.name]
    assert text.count("\n") > 20000
    sink = DiagnosticSink()
    statements = parse_statements(text, FILE, sink)
    assert len(statements) > 21000 and sink.items == []
    # the one-line rule shortcut and the token-by-token path build the same statements
    recorded = record(text, FILE, DiagnosticSink()).parsed
    assert recorded == statements
    assert [spans(s) for s in recorded[-3000:]] == [spans(s) for s in statements[-3000:]]


def test_local_diagnostics_of_a_text_with_a_syntax_error_are_not_kept() -> None:
    sink = DiagnosticSink()
    with pytest.raises(DiagnosticError) as info:
        parse_statements("allow Bad -> b\nallow a -> }\n", FILE, sink)
    assert [d.code for d in info.value.diagnostics] == ["E101"]
    assert sink.items == []


def test_zonewall_never_imports_lark() -> None:
    code = (
        "import sys\n"
        "from zonewall import cli\n"
        "from zonewall.dsl import parser, printer\n"
        "parser.parse_file('examples/hospital.zw')\n"
        "printer.format_policy(open('examples/hospital.zw').read())\n"
        "try:\n"
        "    parser.parse_text('allow a ->', 'x.zw')\n"
        "except Exception:\n"
        "    pass\n"
        "print('lark' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["False"]
