"""The iptables and nftables parsers parse each distinct rule once (a memo keyed on the rule's
words with comments, log prefixes and jump targets left out): the result must be exactly the
`Ruleset` of parsing every rule on its own, and a config that fails must fail with the same
line and message.  Checked on every example's configs, on a generated estate, and on random
rule texts built from the words the memo key treats specially.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from verify_helpers import EXAMPLES, ROOT, gateway_configs

from zonewall.build import render_outputs
from zonewall.report import run_check
from zonewall.verify import ConfigParseError, Ruleset, parse_iptables, parse_nftables
from zonewall.verify.rules import _parse_prefix_netaddr, parse_prefix

PARSERS: dict[str, Callable[..., Ruleset]] = {
    "iptables": parse_iptables,
    "nftables": parse_nftables,
}
GENERATOR = ROOT / "benchmarks" / "generate.py"


def outcome(platform: str, text: str, memoise: bool) -> str:
    """The parse result as text (chain order, rule fields and refs), or the error."""
    try:
        return repr(PARSERS[platform](text, "f", memoise=memoise))
    except ConfigParseError as exc:
        return f"error: {exc}"


def assert_memo_agrees(platform: str, text: str) -> None:
    assert outcome(platform, text, True) == outcome(platform, text, False)


@cache
def generated_configs(tmp: str) -> tuple[tuple[str, str], ...]:
    spec = importlib.util.spec_from_file_location("zonewall_bench_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # dataclasses look their module up while being defined
    spec.loader.exec_module(gen)
    estate = gen.build_estate(
        classes=60,
        allows=800,
        denies=50,
        asserts=10,
        gateways=4,
        seed=1,
        platforms=("iptables", "nftables"),
    )
    paths = gen.write_estate(estate, Path(tmp))
    report = run_check(str(paths["zonewall"]))
    outputs, _ = render_outputs(report)
    return tuple((str(o.platform), o.text) for o in outputs if o.kind == "config")


CASES = [
    (str(o.platform), p, o.gateway)
    for p in EXAMPLES
    for o in gateway_configs(p)
    if str(o.platform) in PARSERS
]


@pytest.mark.parametrize(
    ("platform", "path", "gateway"), CASES, ids=[f"{p.stem}-{g}" for _, p, g in CASES]
)
def test_memo_agrees_on_examples(platform: str, path: Path, gateway: str) -> None:
    text = next(o.text for o in gateway_configs(path) if o.gateway == gateway)
    assert_memo_agrees(platform, text)


def test_memo_agrees_on_a_generated_estate(tmp_path_factory: pytest.TempPathFactory) -> None:
    configs = generated_configs(str(tmp_path_factory.mktemp("estate")))
    assert {p for p, _ in configs} == {"iptables", "nftables"}
    for platform, text in configs:
        rs = PARSERS[platform](text, "f")
        assert sum(len(c.rules) for c in rs.chains.values()) > 500
        assert_memo_agrees(platform, text)


# -- iptables: random rules over the words the memo key singles out -----------------------------
IPT_WORDS = st.sampled_from(
    [
        "!",
        "-j",
        "-g",
        "--jump",
        "ACCEPT",
        "DROP",
        "LOG",
        "REJECT",
        "RETURN",
        "ua",
        "ub",
        "FORWARD",
        "--comment",
        "-m",
        "comment",
        "--log-prefix",
        "--log-level",
        "--reject-with",
        '"x y"',
        '""',
        "-p",
        "tcp",
        "--dport",
        "22",
        "-s",
        "10.0.0.0/8",
        "-o",
        "eth+",
        "--limit",
        "5/min",
        "-A",
    ]
)
IPT_RULE = st.lists(IPT_WORDS, max_size=9).map(" ".join)
IPT_HEAD = "*filter\n:FORWARD DROP [0:0]\n:ua - [0:0]\n:ub - [0:0]\n"


@given(st.lists(IPT_RULE, min_size=1, max_size=6))
@example(["-m comment --comment a -j ua", "-m comment --comment b -j ub"])
@example(["-j LOG --log-prefix a", "-j LOG --log-prefix ! -j ua", "-j ua", "-g ub"])
@example(["-m comment --comment -j -j ua", "-m comment --comment x -j ub"])
def test_iptables_memo_agrees_on_random_rules(rules: list[str]) -> None:
    chains = ["FORWARD", "ua", "ub"]
    body = "".join(f"-A {chains[n % 3]} {rule}\n" for n, rule in enumerate(rules))
    assert_memo_agrees("iptables", IPT_HEAD + body + "COMMIT\n")


# -- nftables: the same for nft rules -------------------------------------------------------------
NFT_WORDS = st.sampled_from(
    [
        "jump",
        "goto",
        "ca",
        "cb",
        "accept",
        "drop",
        "comment",
        "prefix",
        "log",
        '"x"',
        '"y z"',
        "iifname",
        "oifname",
        "!=",
        "eth0",
        "{",
        "}",
        ",",
        "counter",
        "tcp",
        "dport",
        "22",
        "ip",
        "saddr",
        "@s",
        "10.0.0.1",
        "level",
        "warn",
        "reject",
        "with",
        "icmp",
        "type",
        "\n",
        ";",
    ]
)
NFT_RULE = st.lists(NFT_WORDS, max_size=9).map(" ".join)
NFT_HEAD = (
    "table ip t {\n set s {\n type ipv4_addr\n elements = { 10.0.0.0/8 }\n }\n"
    " chain ca {\n }\n chain cb {\n }\n chain f {\n type filter hook forward priority 0;\n"
)


@given(st.lists(NFT_RULE, min_size=1, max_size=6))
@example(["iifname jump jump ca", "iifname jump goto cb"])
@example(['jump ca comment "a"', 'jump cb comment "b"', 'goto ca comment "c"'])
@example(['iifname comment "x" accept', 'log prefix "a" jump ca', 'log prefix "b" jump cb'])
def test_nftables_memo_agrees_on_random_rules(rules: list[str]) -> None:
    body = "".join(f"  {rule}\n" for rule in rules)
    text = NFT_HEAD + body + " }\n}\n"
    if text.count("{") != text.count("}"):
        return  # an unclosed chain is not what this test is about
    assert_memo_agrees("nftables", text)


def test_nftables_memo_follows_set_changes() -> None:
    """A rule reads its sets when it is parsed: a later set definition must not reuse it."""
    rule = '  ip saddr @s accept comment "r"\n'
    text = (
        "table ip t {\n set s {\n type ipv4_addr\n elements = { 10.0.0.0/8 }\n }\n"
        " chain f {\n type filter hook forward priority 0;\n" + rule + " }\n"
        " set s {\n type ipv4_addr\n elements = { 11.0.0.0/8 }\n }\n chain f {\n" + rule + " }\n}\n"
    )
    rs = parse_nftables(text, "f")
    first, second = rs.chains["ip t f"].rules
    assert first.src != second.src
    assert_memo_agrees("nftables", text)


# -- parse_prefix: plain prefixes by arithmetic, the rest through netaddr ------------------------
OCTET = st.one_of(st.integers(0, 300).map(str), st.text("0123456789", max_size=4))
LENGTH = st.one_of(st.none(), st.integers(0, 40).map(str), st.text("0123456789.", max_size=8))
PREFIX = st.one_of(
    st.text("0123456789./", max_size=20),
    st.builds(
        lambda a, b, c, d, n: f"{a}.{b}.{c}.{d}" + ("" if n is None else f"/{n}"),
        OCTET,
        OCTET,
        OCTET,
        OCTET,
        LENGTH,
    ),
)


def prefix_outcome(parse: Callable[[str], tuple[int, int]], text: str) -> object:
    try:
        return parse(text)
    except ValueError as exc:
        return str(exc)


@given(PREFIX)
@example("10.1.2.3/0.0.0.255")
@example("10.1.2.3/08")
@example("10.1.2.3/33")
@example("010.1.2.3")
@example("\u0661.1.2.3")
def test_parse_prefix_agrees_with_netaddr(text: str) -> None:
    assert prefix_outcome(parse_prefix, text) == prefix_outcome(_parse_prefix_netaddr, text)
