"""Front end: one example per grammar construct, asserted on the IR and, where it matters, spans.

The parser's contract is `parse_text` / `parse_file` -> `ParseResult` (a `Policy` plus local
diagnostics), or `DiagnosticError` for problems that stop reading (syntax, includes, encoding).
IR nodes exclude spans from equality, so expected values are built without spans and spans are
checked separately.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from netaddr import IPNetwork

from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import Diagnostic, DiagnosticError, Span
from zonewall.dsl.parser import ParseResult, parse_file, parse_text
from zonewall.ir import (
    AssertKind,
    AssertStmt,
    ClassDef,
    Criticality,
    ExternalDef,
    GatewayDef,
    Policy,
    PolicyHeader,
    RuleStmt,
    Selector,
    SelTerm,
    ServiceDef,
    ServiceItem,
    ServiceRef,
)
from zonewall.packets import ICMP, TCP, UDP, PacketSet

FILE = "t.zw"


def parse(text: str) -> ParseResult:
    return parse_text(textwrap.dedent(text), FILE)


def parse_ok(text: str) -> Policy:
    result = parse(text)
    assert result.diagnostics == [], [d.message for d in result.diagnostics]
    return result.policy


def local_errors(text: str) -> list[Diagnostic]:
    """Diagnostics the parser reports while still producing a policy."""
    return parse(text).diagnostics


def fatal(text: str) -> tuple[Diagnostic, ...]:
    """Diagnostics of a policy that cannot be read at all (syntax errors)."""
    with pytest.raises(DiagnosticError) as info:
        parse(text)
    return info.value.diagnostics


def sel(*include: SelTerm, exclude: tuple[SelTerm, ...] = ()) -> Selector:
    return Selector(tuple(include), exclude)


def name(value: str) -> SelTerm:
    return SelTerm("name", value)


def nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(IPNetwork(c) for c in cidrs)


# ---------------------------------------------------------------------------------------------
# policy header, pools
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'policy "St. Example" { owner "netops@example.org" }',
            PolicyHeader("St. Example", "netops@example.org"),
        ),
        ('policy "No owner" { }', PolicyHeader("No owner", None)),
        ('policy "Semi" { owner "o"; };', PolicyHeader("Semi", "o")),
        ('policy "Unicode — ok" {\n  owner "a"\n}', PolicyHeader("Unicode — ok", "a")),
    ],
    ids=["with-owner", "without-owner", "semicolons", "multiline-unicode"],
)
def test_policy_header(source: str, expected: PolicyHeader) -> None:
    assert parse_ok(source).header == expected


def test_policy_without_header_has_none() -> None:
    assert parse_ok("").header is None


def test_policy_header_span_covers_the_statement() -> None:
    policy = parse_ok('\n  policy "x" {\n    owner "o"\n  }\n')
    assert policy.header is not None
    assert policy.header.span == Span(FILE, 2, 1, 4, 2)  # dedented by parse()


@pytest.mark.parametrize(
    ("source", "subnets", "vlans"),
    [
        ("pool subnets 10.20.0.0/14", ("10.20.0.0/14",), ()),
        ("pool subnets 10.0.0.0/16, 172.16.0.0/12", ("10.0.0.0/16", "172.16.0.0/12"), ()),
        ("pool vlans 100-899", (), ((100, 899),)),
        ("pool vlans 100-199, 300, 400-401", (), ((100, 199), (300, 300), (400, 401))),
        (
            "pool subnets 10.0.0.0/16\npool subnets 10.1.0.0/16\npool vlans 2-3\npool vlans 9",
            ("10.0.0.0/16", "10.1.0.0/16"),
            ((2, 3), (9, 9)),
        ),
    ],
    ids=[
        "subnets-one",
        "subnets-list",
        "vlans-range",
        "vlans-list-and-single",
        "repeated-pools-merge",
    ],
)
def test_pools(source: str, subnets: tuple[str, ...], vlans: tuple[tuple[int, int], ...]) -> None:
    assert parse_ok(source).pools_key() == (subnets, vlans)


def test_pool_spans_point_at_each_entry() -> None:
    policy = parse_ok("pool subnets 10.0.0.0/16, 10.1.0.0/16\npool vlans 100-199")
    assert [s for _, s in policy.subnet_pools] == [
        Span(FILE, 1, 14, 1, 25),
        Span(FILE, 1, 27, 1, 38),
    ]
    assert [s for *_, s in policy.vlan_pools] == [Span(FILE, 2, 12, 2, 19)]


# ---------------------------------------------------------------------------------------------
# services
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("tcp/443", ServiceItem("tcp/443", PacketSet.ports(TCP, 443, 443))),
        ("tcp/1000-2000", ServiceItem("tcp/1000-2000", PacketSet.ports(TCP, 1000, 2000))),
        ("udp/53", ServiceItem("udp/53", PacketSet.ports(UDP, 53, 53))),
        ("udp/5000-5010", ServiceItem("udp/5000-5010", PacketSet.ports(UDP, 5000, 5010))),
        ("tcp/0", ServiceItem("tcp/0", PacketSet.ports(TCP, 0, 0))),
        ("udp/0-65535", ServiceItem("udp/0-65535", PacketSet.protocol(UDP))),
        ("icmp", ServiceItem("icmp", PacketSet.protocol(ICMP))),
        ("icmp/echo-request", ServiceItem("icmp/echo-request", PacketSet.ports(ICMP, 8, 8))),
        ("icmp/8", ServiceItem("icmp/8", PacketSet.ports(ICMP, 8, 8))),
        ("icmp/time-exceeded", ServiceItem("icmp/time-exceeded", PacketSet.ports(ICMP, 11, 11))),
        ("ip", ServiceItem("ip", PacketSet.everything())),
        ("tcp", ServiceItem("tcp", PacketSet.protocol(TCP))),
        ("udp", ServiceItem("udp", PacketSet.protocol(UDP))),
        ("proto/47", ServiceItem("proto/47", PacketSet.protocol(47))),
        ("proto/0", ServiceItem("proto/0", PacketSet.protocol(0))),
        ("https", ServiceRef("https")),
        ("dicom-tls", ServiceRef("dicom-tls")),
    ],
    ids=[
        "tcp-port",
        "tcp-range",
        "udp-port",
        "udp-range",
        "tcp-port-zero",
        "udp-full-range",
        "icmp",
        "icmp-named-type",
        "icmp-numeric-type",
        "icmp-other-name",
        "ip",
        "tcp-bare",
        "udp-bare",
        "proto",
        "proto-zero",
        "service-ref",
        "service-ref-hyphen",
    ],
)
def test_service_item_forms(item: str, expected: ServiceItem | ServiceRef) -> None:
    (svc,) = parse_ok(f"service s = {item}").services
    assert svc == ServiceDef("s", (expected,), False)


def test_icmp_name_and_number_match_the_same_packets() -> None:
    a, b = parse_ok("service a = icmp/echo-request\nservice b = icmp/8").services
    assert isinstance(a.items[0], ServiceItem) and isinstance(b.items[0], ServiceItem)
    assert a.items[0].packets == b.items[0].packets


def test_service_with_several_items_nested_refs_and_plaintext() -> None:
    policy = parse_ok("""
        service https = tcp/443
        service dicom = tcp/104, tcp/11112 plaintext
        service web   = https, tcp/80, dicom plaintext
    """)
    assert policy.services == (
        ServiceDef("https", (ServiceItem("tcp/443", PacketSet.ports(TCP, 443, 443)),), False),
        ServiceDef(
            "dicom",
            (
                ServiceItem("tcp/104", PacketSet.ports(TCP, 104, 104)),
                ServiceItem("tcp/11112", PacketSet.ports(TCP, 11112, 11112)),
            ),
            True,
        ),
        ServiceDef(
            "web",
            (
                ServiceRef("https"),
                ServiceItem("tcp/80", PacketSet.ports(TCP, 80, 80)),
                ServiceRef("dicom"),
            ),
            True,
        ),
    )


def test_service_spans() -> None:
    (svc,) = parse_ok("service web = https, tcp/80 plaintext").services
    assert svc.span == Span(FILE, 1, 1, 1, 38)
    assert [i.span for i in svc.items] == [Span(FILE, 1, 15, 1, 20), Span(FILE, 1, 22, 1, 28)]


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("tcp/999999", "out of range"),
        ("tcp/65536", "out of range"),
        ("udp/1-70000", "out of range"),
        ("tcp/443-80", "empty"),
        ("tcp/https", "not a port"),
        ("tcp/1-2-3", "not a port"),
        ("icmp/bogus", "unknown ICMP type"),
        ("icmp/256", "unknown ICMP type"),
        ("proto/256", "0-255"),
        ("proto/gre", "0-255"),
    ],
    ids=[
        "port-huge",
        "port-65536",
        "range-end-too-big",
        "range-reversed",
        "port-not-number",
        "range-three-parts",
        "icmp-unknown-name",
        "icmp-type-too-big",
        "proto-too-big",
        "proto-not-number",
    ],
)
def test_invalid_service_items_are_e106_at_the_item(item: str, needle: str) -> None:
    (diag,) = local_errors(f"service s = tcp/1, {item}")
    assert diag.code == "E106"
    assert needle in diag.message
    assert diag.span == Span(FILE, 1, 20, 1, 20 + len(item))


@pytest.mark.parametrize(
    "word",
    ["tcp", "udp", "icmp", "ip", "proto", "any", "internal", "external", "tag", "criticality"],
)
def test_reserved_words_cannot_name_a_service(word: str) -> None:
    diags = local_errors(f"service {word} = tcp/1")
    assert [d.code for d in diags] == ["E104"]
    assert "reserved word" in diags[0].message


# ---------------------------------------------------------------------------------------------
# classes and externals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("vlan 110 subnet 10.20.16.0/22", ClassDef("c", vlan=110, subnets=nets("10.20.16.0/22"))),
        (
            "subnet 10.0.0.0/24, 10.0.2.0/24",
            ClassDef("c", subnets=nets("10.0.0.0/24", "10.0.2.0/24")),
        ),
        ("subnet 10.0.0.7", ClassDef("c", subnets=nets("10.0.0.7/32"))),
        ("hosts 30", ClassDef("c", hosts=30)),
        (
            'description "Pumps on Wi-Fi"  hosts 3',
            ClassDef("c", description="Pumps on Wi-Fi", hosts=3),
        ),
        ("hosts 1 criticality critical", ClassDef("c", hosts=1, criticality=Criticality.CRITICAL)),
        ("hosts 1 criticality low", ClassDef("c", hosts=1, criticality=Criticality.LOW)),
        ("hosts 1", ClassDef("c", hosts=1, criticality=Criticality.MEDIUM)),
        ("hosts 1 tags medical, wireless", ClassDef("c", hosts=1, tags=("medical", "wireless"))),
        ("hosts 1 tags a, b, a", ClassDef("c", hosts=1, tags=("a", "b"))),
        ("vlan 10; subnet 10.0.0.0/24;", ClassDef("c", vlan=10, subnets=nets("10.0.0.0/24"))),
        ("", ClassDef("c")),
    ],
    ids=[
        "vlan-and-subnet",
        "subnet-list",
        "subnet-host-address",
        "hosts",
        "description",
        "criticality-critical",
        "criticality-low",
        "criticality-default",
        "tags",
        "tags-deduplicated",
        "semicolons",
        "empty-body",
    ],
)
def test_class_bodies(body: str, expected: ClassDef) -> None:
    (cls,) = parse_ok(f"class c {{ {body} }}").classes
    assert cls == expected


def test_class_attribute_spans() -> None:
    (cls,) = parse_ok("class pump {\n  vlan 110\n  subnet 10.0.0.0/24\n  tags m\n}").classes
    assert cls.span == Span(FILE, 1, 1, 5, 2)
    assert cls.attr_span("vlan") == Span(FILE, 2, 3, 2, 11)
    assert cls.attr_span("subnet") == Span(FILE, 3, 3, 3, 21)
    assert cls.attr_span("tags") == Span(FILE, 4, 3, 4, 9)
    assert cls.attr_span("hosts") == cls.span  # not written: falls back to the class


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ("vlan 10 vlan 11", "E110", "'vlan' is given twice"),
        ("criticality extreme", "E106", "unknown criticality 'extreme'"),
        ("subnet 10.0.0.1/24", "E106", "host bits set; write the network address '10.0.0.0/24'"),
        ("subnet 10.0.0.0/33", "E106", "not a valid IPv4 address"),
        ("subnet 256.0.0.0/8", "E106", "not a valid IPv4 address"),
        ("vlan 99999999999999999999", "E106", "out of range"),
        ("hosts 0", "E106", "out of range"),
        ("hosts 99999999999", "E106", "out of range"),
        ("tags Medical", "E104", "invalid tag 'Medical'"),
        ('description "a\\nb"', "E106", "unknown escape"),
    ],
    ids=[
        "attribute-twice",
        "bad-criticality",
        "host-bits",
        "prefix-too-long",
        "octet-too-big",
        "vlan-huge",
        "hosts-zero",
        "hosts-huge",
        "tag-uppercase",
        "bad-escape",
    ],
)
def test_class_body_errors(body: str, code: str, needle: str) -> None:
    diags = local_errors(f"class c {{ {body} }}")
    assert [d.code for d in diags] == [code]
    assert needle in diags[0].message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("external internet { address 0.0.0.0/0 }", ExternalDef("internet", nets("0.0.0.0/0"))),
        (
            "external v { address 203.0.113.0/24, 198.51.100.0/24 }",
            ExternalDef("v", nets("203.0.113.0/24", "198.51.100.0/24")),
        ),
        (
            "external net { address 0.0.0.0/0 except 10.0.0.0/8, 192.168.0.0/16; }",
            ExternalDef("net", nets("0.0.0.0/0"), nets("10.0.0.0/8", "192.168.0.0/16")),
        ),
    ],
    ids=["one-address", "address-list", "except-list"],
)
def test_externals(source: str, expected: ExternalDef) -> None:
    assert parse_ok(source).externals == (expected,)


# ---------------------------------------------------------------------------------------------
# rules and selectors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pump", sel(name("pump"))),
        ("tag:medical", sel(SelTerm("tag", "medical"))),
        ("tag : medical", sel(SelTerm("tag", "medical"))),
        ("criticality:critical", sel(SelTerm("criticality", "critical"))),
        ("any", sel(SelTerm("any"))),
        ("internal", sel(SelTerm("internal"))),
        ("external", sel(SelTerm("external"))),
        (
            "a, tag:t, criticality:low, any, internal, external",
            sel(
                name("a"),
                SelTerm("tag", "t"),
                SelTerm("criticality", "low"),
                SelTerm("any"),
                SelTerm("internal"),
                SelTerm("external"),
            ),
        ),
        ("internal except guest_wifi", sel(SelTerm("internal"), exclude=(name("guest_wifi"),))),
        (
            "a, b except tag:x, c",
            sel(name("a"), name("b"), exclude=(SelTerm("tag", "x"), name("c"))),
        ),
    ],
    ids=[
        "name",
        "tag",
        "tag-spaced",
        "criticality",
        "any",
        "internal",
        "external",
        "list",
        "except",
        "except-binds-loosest",
    ],
)
def test_selector_forms(text: str, expected: Selector) -> None:
    (rule,) = parse_ok(f"allow {text} -> dst").rules
    assert rule.src == expected
    assert rule.dst == sel(name("dst"))
    assert rule.src.text() == " ".join(text.replace("tag : ", "tag:").split())


def test_selector_spans() -> None:
    (rule,) = parse_ok("allow a, tag:x except b -> c").rules
    assert rule.src.span == Span(FILE, 1, 7, 1, 24)
    assert [t.span for t in rule.src.include] == [Span(FILE, 1, 7, 1, 8), Span(FILE, 1, 10, 1, 15)]
    assert [t.span for t in rule.src.exclude] == [Span(FILE, 1, 23, 1, 24)]
    assert rule.dst.span == Span(FILE, 1, 28, 1, 29)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("allow a -> b", RuleStmt("allow", sel(name("a")), sel(name("b")))),
        (
            "allow a -> b : https",
            RuleStmt("allow", sel(name("a")), sel(name("b")), (ServiceRef("https"),)),
        ),
        (
            "allow a -> b : https, dns",
            RuleStmt(
                "allow", sel(name("a")), sel(name("b")), (ServiceRef("https"), ServiceRef("dns"))
            ),
        ),
        (
            'allow a -> b : https "drug library"',
            RuleStmt(
                "allow", sel(name("a")), sel(name("b")), (ServiceRef("https"),), "drug library"
            ),
        ),
        (
            'allow a -> b : https "why" log',
            RuleStmt("allow", sel(name("a")), sel(name("b")), (ServiceRef("https"),), "why", True),
        ),
        ("allow a -> b log", RuleStmt("allow", sel(name("a")), sel(name("b")), log=True)),
        (
            'allow a -> b "no services"',
            RuleStmt("allow", sel(name("a")), sel(name("b")), why="no services"),
        ),
        ("deny a -> b", RuleStmt("deny", sel(name("a")), sel(name("b")))),
        (
            'deny tag:m except p -> internet : https "never"',
            RuleStmt(
                "deny",
                sel(SelTerm("tag", "m"), exclude=(name("p"),)),
                sel(name("internet")),
                (ServiceRef("https"),),
                "never",
            ),
        ),
        ("allow a -> b;", RuleStmt("allow", sel(name("a")), sel(name("b")))),
    ],
    ids=[
        "allow-bare",
        "allow-service",
        "allow-services",
        "allow-why",
        "allow-why-log",
        "allow-log-only",
        "allow-why-only",
        "deny-bare",
        "deny-full",
        "semicolon",
    ],
)
def test_rules(source: str, expected: RuleStmt) -> None:
    assert parse_ok(source).rules == (expected,)


def test_rule_services_may_be_literal_items() -> None:
    (rule,) = parse_ok("allow a -> b : https, tcp/8443, icmp").rules
    assert rule.services == (
        ServiceRef("https"),
        ServiceItem("tcp/8443", PacketSet.ports(TCP, 8443, 8443)),
        ServiceItem("icmp", PacketSet.protocol(ICMP)),
    )


def test_rule_span_excludes_semicolon_and_trailing_comment() -> None:
    (rule,) = parse_ok('allow a -> b : s "w" log;  # trailing').rules
    assert rule.span == Span(FILE, 1, 1, 1, 25)


def test_deny_cannot_log() -> None:
    (diag,) = fatal("deny a -> b log")
    assert diag.code == "E101"
    assert diag.span == Span(FILE, 1, 13, 1, 16)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"plain"', "plain"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"both \\ and \""', 'both \\ and "'),
        (r'"# not a comment"', "# not a comment"),
        (r'""', ""),
        ('"unicode — ☃"', "unicode — ☃"),
    ],
    ids=[
        "plain",
        "escaped-quote",
        "escaped-backslash",
        "both-escapes",
        "hash-in-string",
        "empty",
        "unicode",
    ],
)
def test_why_strings_and_escapes(literal: str, value: str) -> None:
    (rule,) = parse_ok(f"allow a -> b {literal}").rules
    assert rule.why == value


def test_unknown_escape_is_e106() -> None:
    (diag,) = local_errors(r'allow a -> b "tab\there"')
    assert diag.code == "E106"
    assert diag.span == Span(FILE, 1, 18, 1, 20)  # the escape itself


def test_unterminated_string_is_e102() -> None:
    (diag,) = fatal('allow a -> b "no end\nallow c -> d')
    assert diag.code == "E102"
    assert "unterminated string" in diag.message
    assert diag.span == Span(FILE, 1, 14, 1, 15)


# ---------------------------------------------------------------------------------------------
# lexical details: comments, semicolons, names
# ---------------------------------------------------------------------------------------------


def test_comments_everywhere_and_hash_inside_strings() -> None:
    policy = parse_ok("""
        # leading comment
        policy "a # b" {   # after brace
          owner "c#d"      # after owner
        }
        class x {          # class
          hosts 3          # hosts
        }                  # end
        allow x -> y "w # z" # why has a hash
    """)
    assert policy.header == PolicyHeader("a # b", "c#d")
    assert policy.classes == (ClassDef("x", hosts=3),)
    assert policy.rules[0].why == "w # z"


def test_optional_semicolons_on_every_statement() -> None:
    with_semis = parse_ok("""
        policy "p" { owner "o"; };
        pool subnets 10.0.0.0/8;
        pool vlans 2-9;
        service s = tcp/1 plaintext;
        class c { hosts 1; tags t; };
        external e { address 1.0.0.0/8; };
        allow c -> e : s;
        deny e -> c;
        gateway g { platform iptables; serves internal; uplink "eth0"; };
        assert denied c -> e;
    """)
    without = parse_ok("""
        policy "p" { owner "o" }
        pool subnets 10.0.0.0/8
        pool vlans 2-9
        service s = tcp/1 plaintext
        class c { hosts 1 tags t }
        external e { address 1.0.0.0/8 }
        allow c -> e : s
        deny e -> c
        gateway g { platform iptables serves internal uplink "eth0" }
        assert denied c -> e
    """)
    assert with_semis == without
    assert with_semis.pools_key() == without.pools_key()


def test_double_semicolon_is_a_syntax_error() -> None:
    (diag,) = fatal("allow a -> b;;")
    assert diag.code == "E101"


@pytest.mark.parametrize(
    ("source", "src", "dst"),
    [
        ("allow pump-server->pacs", "pump-server", "pacs"),
        ("allow pump-server -> pacs", "pump-server", "pacs"),
        ("allow a-b-c->d_1", "a-b-c", "d_1"),
        ("allow a_-_b -> c", "a_-_b", "c"),
        ("allow x9-1->y", "x9-1", "y"),
    ],
    ids=[
        "arrow-glued",
        "arrow-spaced",
        "several-hyphens",
        "underscore-around-hyphen",
        "digit-after-hyphen",
    ],
)
def test_names_with_hyphens(source: str, src: str, dst: str) -> None:
    (rule,) = parse_ok(source).rules
    assert (rule.src, rule.dst) == (sel(name(src)), sel(name(dst)))


def test_hyphenated_name_span() -> None:
    (rule,) = parse_ok("allow pump-server->pacs").rules
    assert rule.src.include[0].span == Span(FILE, 1, 7, 1, 18)
    assert rule.dst.include[0].span == Span(FILE, 1, 20, 1, 24)


@pytest.mark.parametrize(
    ("source", "code", "col"),
    [
        ("class Pump { hosts 1 }", "E104", 7),
        ("class _pump { hosts 1 }", "E104", 7),
        ("class " + "a" * 32 + " { hosts 1 }", "E104", 7),
        ("allow a- -> b", "E101", 8),
        ("allow 1abc -> b", "E101", 7),
        ("class any { hosts 1 }", "E104", 7),
    ],
    ids=[
        "uppercase",
        "leading-underscore",
        "too-long",
        "trailing-hyphen",
        "leading-digit",
        "reserved-word",
    ],
)
def test_invalid_names(source: str, code: str, col: int) -> None:
    if code == "E104":
        diags = local_errors(source)
    else:
        diags = list(fatal(source))
    assert [d.code for d in diags] == [code]
    assert (diags[0].span.line, diags[0].span.col) == (1, col)  # type: ignore[union-attr]


def test_name_of_exactly_31_characters_is_fine() -> None:
    n = "a" * 31
    assert parse_ok(f"class {n} {{ hosts 1 }}").classes[0].name == n


# ---------------------------------------------------------------------------------------------
# gateways
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "platform iptables serves internal",
            GatewayDef("g", "iptables", sel(SelTerm("internal"))),
        ),
        (
            'platform cisco-ios uplink "TenGigabitEthernet1/1/1" serves tag:medical',
            GatewayDef(
                "g", "cisco-ios", sel(SelTerm("tag", "medical")), uplink="TenGigabitEthernet1/1/1"
            ),
        ),
        (
            (
                'platform nftables interface "eth1.{vlan}" uplink "eth0" '
                "serves internal except tag:medical"
            ),
            GatewayDef(
                "g",
                "nftables",
                sel(SelTerm("internal"), exclude=(SelTerm("tag", "medical"),)),
                "eth1.{vlan}",
                "eth0",
            ),
        ),
        ('interface "{name}"', GatewayDef("g", interface="{name}")),
        ("", GatewayDef("g")),
        (
            'platform cisco-ios  object-groups  uplink "Te1/1/1"  serves tag:medical',
            GatewayDef(
                "g",
                "cisco-ios",
                sel(SelTerm("tag", "medical")),
                uplink="Te1/1/1",
                object_groups=True,
            ),
        ),
        ("object-groups;", GatewayDef("g", object_groups=True)),
        (
            'platform cisco-ios stateless-replies accepted "line-rate ACLs, reviewed"',
            GatewayDef("g", "cisco-ios", stateless_accepted="line-rate ACLs, reviewed"),
        ),
    ],
    ids=[
        "minimal",
        "cisco-uplink",
        "all-attributes",
        "interface-name-placeholder",
        "empty",
        "object-groups",
        "object-groups-alone",
        "stateless-replies",
    ],
)
def test_gateway_attributes(body: str, expected: GatewayDef) -> None:
    assert parse_ok(f"gateway g {{ {body} }}").gateways == (expected,)


def test_gateway_attribute_spans_and_duplicates() -> None:
    (gw,) = parse_ok('gateway g {\n  platform iptables\n  uplink "eth0"\n}').gateways
    assert gw.attr_span("platform") == Span(FILE, 2, 3, 2, 20)
    assert gw.attr_span("uplink") == Span(FILE, 3, 3, 3, 16)
    (diag,) = local_errors("gateway g { platform iptables platform nftables }")
    assert diag.code == "E110"
    assert "'platform' is given twice in gateway 'g'" in diag.message


def test_object_groups_span_and_duplicate() -> None:
    (gw,) = parse_ok("gateway g {\n  platform cisco-ios\n  object-groups\n}").gateways
    assert gw.object_groups
    assert gw.attr_span("object-groups") == Span(FILE, 3, 3, 3, 16)
    (diag,) = local_errors("gateway g { object-groups platform cisco-ios object-groups }")
    assert diag.code == "E110"
    assert "'object-groups' is given twice in gateway 'g'" in diag.message
    assert diag.span == Span(FILE, 1, 46, 1, 59)


def test_stateless_replies_span_duplicate_and_missing_reason() -> None:
    (gw,) = parse_ok('gateway g {\n  stateless-replies accepted "ok"\n}').gateways
    assert gw.stateless_accepted == "ok"
    assert gw.attr_span("stateless-replies") == Span(FILE, 2, 3, 2, 34)
    (diag,) = local_errors(
        'gateway g { stateless-replies accepted "a" stateless-replies accepted "b" }'
    )
    assert diag.code == "E110"
    assert "'stateless-replies' is given twice in gateway 'g'" in diag.message
    (diag,) = fatal('gateway g { stateless-replies "no accepted keyword" }')
    assert diag.code == "E101" and diag.span is not None and diag.span.col == 31


# ---------------------------------------------------------------------------------------------
# assertions
# ---------------------------------------------------------------------------------------------

S_A, S_B = sel(name("a")), sel(name("b"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "assert unreachable a -> b",
            AssertStmt(AssertKind.UNREACHABLE, S_A, S_B, text="unreachable a -> b"),
        ),
        (
            "assert unreachable a -> b without hub, tag:h",
            AssertStmt(
                AssertKind.UNREACHABLE,
                S_A,
                S_B,
                without=sel(name("hub"), SelTerm("tag", "h")),
                text="unreachable a -> b without hub, tag:h",
            ),
        ),
        ("assert denied a -> b", AssertStmt(AssertKind.DENIED, S_A, S_B, text="denied a -> b")),
        (
            "assert denied a -> b : https, dns",
            AssertStmt(
                AssertKind.DENIED,
                S_A,
                S_B,
                (ServiceRef("https"), ServiceRef("dns")),
                text="denied a -> b : https, dns",
            ),
        ),
        (
            "assert allowed a -> b : https",
            AssertStmt(
                AssertKind.ALLOWED, S_A, S_B, (ServiceRef("https"),), text="allowed a -> b : https"
            ),
        ),
        (
            "assert only p, q -> b",
            AssertStmt(AssertKind.ONLY, sel(name("p"), name("q")), S_B, text="only p, q -> b"),
        ),
        (
            "assert limited a -> any : https, dns",
            AssertStmt(
                AssertKind.LIMITED,
                S_A,
                sel(SelTerm("any")),
                (ServiceRef("https"), ServiceRef("dns")),
                text="limited a -> any : https, dns",
            ),
        ),
        (
            "assert encrypted -> criticality:critical",
            AssertStmt(
                AssertKind.ENCRYPTED,
                None,
                sel(SelTerm("criticality", "critical")),
                text="encrypted -> criticality:critical",
            ),
        ),
        (
            "assert encrypted external -> internal",
            AssertStmt(
                AssertKind.ENCRYPTED,
                sel(SelTerm("external")),
                sel(SelTerm("internal")),
                text="encrypted external -> internal",
            ),
        ),
        (
            'assert encrypted -> lis accepted "RISK-1: \\"lab\\" # note"',
            AssertStmt(
                AssertKind.ENCRYPTED,
                None,
                sel(name("lis")),
                accepted='RISK-1: "lab" # note',
                text="encrypted -> lis",
            ),
        ),
        (
            'assert unreachable a -> b without c accepted "r"',
            AssertStmt(
                AssertKind.UNREACHABLE,
                S_A,
                S_B,
                without=sel(name("c")),
                accepted="r",
                text="unreachable a -> b without c",
            ),
        ),
        ("assert denied a -> b;", AssertStmt(AssertKind.DENIED, S_A, S_B, text="denied a -> b")),
    ],
    ids=[
        "unreachable",
        "unreachable-without",
        "denied",
        "denied-services",
        "allowed",
        "only",
        "limited",
        "encrypted-any-source",
        "encrypted-with-source",
        "accepted",
        "without-and-accepted",
        "semicolon",
    ],
)
def test_assert_forms(source: str, expected: AssertStmt) -> None:
    assert parse_ok(source).assertions == (expected,)


@pytest.mark.parametrize(
    "source",
    [
        "assert allowed a -> b",
        "assert limited a -> b",
        "assert reachable a -> b",
        "assert only -> b",
        "assert unreachable a -> b without",
    ],
    ids=[
        "allowed-needs-services",
        "limited-needs-services",
        "unknown-kind",
        "only-needs-source",
        "without-needs-selector",
    ],
)
def test_malformed_assertions_are_syntax_errors(source: str) -> None:
    (diag,) = fatal(source)
    assert diag.code in {"E101", "E103"}


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("assert   denied    a   ->   b", "denied a -> b"),
        ("assert only a,\n     b\n  -> c", "only a, b -> c"),
        ("assert only a,   # the first one\n  b -> c   # trailing", "only a, b -> c"),
        ("assert\tlimited a ->\tany : s1,\n\n  s2", "limited a -> any : s1, s2"),
        ('assert denied a -> b accepted "x"  # why', "denied a -> b"),
        ("assert denied pump-server->pacs", "denied pump-server->pacs"),
    ],
    ids=[
        "spaces",
        "newlines",
        "comments",
        "tabs-and-blank-lines",
        "accepted-not-in-text",
        "glued-arrow-kept-as-written",
    ],
)
def test_assertion_text_collapses_whitespace_and_drops_comments(source: str, text: str) -> None:
    (a,) = parse_ok(source).assertions
    assert a.text == text


def test_assertion_span_covers_the_whole_statement() -> None:
    (a,) = parse_ok('\nassert denied a\n  -> b accepted "r"').assertions
    assert a.span == Span(FILE, 2, 1, 3, 20)


def test_assertion_text_with_form_feed_whitespace() -> None:
    (a,) = parse_ok("assert denied a ->\x0c b").assertions
    assert a.text == "denied a -> b"


def test_assertion_text_after_unicode_line_separator_in_comment() -> None:
    (a,) = parse_ok("# note\u2028more\nassert denied a -> b").assertions
    assert a.text == "denied a -> b"


# ---------------------------------------------------------------------------------------------
# syntax errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "code", "span", "needle"),
    [
        ("allow a b", "E101", Span(FILE, 1, 9, 1, 10), "expected ',', '->' or 'except'"),
        ("Allow a -> b", "E101", Span(FILE, 1, 1, 1, 6), "unexpected name 'Allow'"),
        ("class a { vlan 10 } @", "E102", Span(FILE, 1, 21, 1, 22), "unexpected character '@'"),
        ("class a { vlan 10 }\x00", "E102", Span(FILE, 1, 20, 1, 21), "U+0000"),
        ("class a {\n  vlan 10\n", "E103", Span(FILE, 2, 10, 2, 11), "end of input"),
        ("allow a ->", "E103", Span(FILE, 1, 11, 1, 12), "expected"),
    ],
    ids=[
        "missing-arrow",
        "uppercase-keyword",
        "bad-character",
        "nul-byte",
        "eof-in-class",
        "eof-after-arrow",
    ],
)
def test_syntax_errors(source: str, code: str, span: Span, needle: str) -> None:
    (diag,) = fatal(source)
    assert diag.code == code
    assert diag.span == span
    assert needle in diag.message


def test_syntax_error_stops_at_the_first_error_and_keeps_the_source() -> None:
    with pytest.raises(DiagnosticError) as info:
        parse_text("allow a b\nallow c d", "x.zw")
    assert len(info.value.diagnostics) == 1
    assert info.value.sources == {"x.zw": "allow a b\nallow c d"}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# layout independence
# ---------------------------------------------------------------------------------------------

DENSE = """policy "p" { owner "o" }
pool subnets 10.0.0.0/16
pool vlans 100-199
service https = tcp/443
service web = https, tcp/80 plaintext
class a { vlan 10 subnet 10.1.0.0/24 criticality high tags m, w }
class b { hosts 20 }
external internet { address 0.0.0.0/0 except 10.0.0.0/8 }
allow a, b -> internet : web "browse" log
deny tag:m -> internet : web
gateway g { platform iptables interface "eth1.{vlan}" uplink "eth0" serves internal }
assert unreachable b -> a without tag:w
assert only a -> b
"""

SPREAD = """
# A commented, spread-out version of the same policy.
policy   "p"   {
    owner   "o" ;   # owner
}

pool subnets   10.0.0.0/16     # pool
pool vlans 100-199;

service  https =   tcp/443
service web =
    https,
    tcp/80
    plaintext   # plain http

class a {
    vlan 10
    subnet 10.1.0.0/24 ;
    criticality high
    tags m,   w  # two tags
}
class b {   hosts   20   }

external internet {
    address 0.0.0.0/0
    except 10.0.0.0/8
}

allow a,
      b   ->   internet
      : web
      "browse"
      log
deny tag:m->internet:web   ;

gateway g {
    platform iptables
    interface "eth1.{vlan}"   # template
    uplink "eth0"
    serves internal
}

assert   unreachable b ->
    a    # a comment inside the assertion
    without tag:w
assert only a   ->   b ;
"""


def test_layout_and_comments_do_not_change_the_ir() -> None:
    dense, spread = parse_ok(DENSE), parse_ok(SPREAD)
    assert dense == spread
    assert dense.pools_key() == spread.pools_key()
    assert dense.rules[0].span != spread.rules[0].span  # spans differ, equality ignores them


def test_layout_independent_ir_compiles_identically() -> None:
    a = compile_policy(parse_ok(DENSE))
    b = compile_policy(parse_ok(SPREAD))
    assert a.compiled is not None and b.compiled is not None
    assert a.compiled.classes == b.compiled.classes
    assert a.compiled.flows == b.compiled.flows
    assert a.compiled.assertions == b.compiled.assertions


# ---------------------------------------------------------------------------------------------
# includes
# ---------------------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_include_paths_are_relative_to_the_including_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "main.zw",
        """
        include "sub/defs.zw"
        class main_cls { hosts 1 }
    """,
    )
    write(
        tmp_path / "sub" / "defs.zw",
        """
        include "../common.zw"
        include "more/leaf.zw"
        class defs_cls { hosts 1 }
    """,
    )
    write(tmp_path / "common.zw", "class common_cls { hosts 1 }\n")
    write(tmp_path / "sub" / "more" / "leaf.zw", "class leaf_cls { hosts 1 }\n")
    monkeypatch.chdir(tmp_path)
    result = parse_file("main.zw")
    assert [c.name for c in result.policy.classes] == [
        "common_cls",
        "leaf_cls",
        "defs_cls",
        "main_cls",
    ]  # textual order
    assert [f.path for f in result.policy.files] == [
        "main.zw",
        "sub/defs.zw",
        "common.zw",
        "sub/more/leaf.zw",
    ]
    assert set(result.sources) == {"main.zw", "sub/defs.zw", "common.zw", "sub/more/leaf.zw"}
    leaf = next(c for c in result.policy.classes if c.name == "leaf_cls")
    assert leaf.span is not None and leaf.span.file == "sub/more/leaf.zw"


def test_include_path_keeps_the_root_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "p" / "main.zw", 'include "x.zw"\n')
    write(tmp_path / "p" / "x.zw", "class x { hosts 1 }\n")
    monkeypatch.chdir(tmp_path)
    result = parse_file("p/main.zw")
    assert [f.path for f in result.policy.files] == ["p/main.zw", "p/x.zw"]


def test_include_cycle_is_e107(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a.zw", 'class a { hosts 1 }\ninclude "b.zw"\n')
    write(tmp_path / "b.zw", 'include "a.zw"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DiagnosticError) as info:
        parse_file("a.zw")
    (diag,) = info.value.diagnostics
    assert diag.code == "E107"
    assert diag.message == "include cycle: a.zw -> b.zw -> a.zw"
    assert diag.span == Span("b.zw", 1, 1, 1, 15)


def test_self_include_is_e107(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "self.zw", 'include "./self.zw"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DiagnosticError) as info:
        parse_file("self.zw")
    assert [d.code for d in info.value.diagnostics] == ["E107"]


def test_missing_include_is_e108_at_the_include(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "main.zw", '\n\n  include "nope/missing.zw"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DiagnosticError) as info:
        parse_file("main.zw")
    (diag,) = info.value.diagnostics
    assert diag.code == "E108"
    assert "'nope/missing.zw'" in diag.message
    assert diag.span == Span("main.zw", 3, 1, 3, 26)


def test_include_in_parse_text_is_e108() -> None:
    (diag,) = fatal('include "x.zw"')
    assert diag.code == "E108"


def test_file_included_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "main.zw", 'include "a.zw"\ninclude "b.zw"\ninclude "./common.zw"\n')
    write(tmp_path / "a.zw", 'include "common.zw"\n')
    write(tmp_path / "b.zw", 'include "sub/../common.zw"\n')
    write(tmp_path / "common.zw", "class shared { hosts 1 }\nservice s = tcp/1\n")
    monkeypatch.chdir(tmp_path)
    result = parse_file("main.zw")
    assert [c.name for c in result.policy.classes] == ["shared"]
    assert [s.name for s in result.policy.services] == ["s"]
    assert [f.path for f in result.policy.files].count("common.zw") == 1
    assert result.diagnostics == []


def test_name_defined_in_two_files_is_e202_pointing_at_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "main.zw", 'include "lib/defs.zw"\n\nclass pump { hosts 1 }\n')
    write(tmp_path / "lib" / "defs.zw", "# library\nclass pump { hosts 2 }\n")
    monkeypatch.chdir(tmp_path)
    result = compile_policy(parse_file("main.zw").policy)
    (diag,) = [d for d in result.diagnostics if d.code == "E202"]
    assert "'pump'" in diag.message
    places = {diag.span.where() if diag.span else None}
    places |= {s.where() for _, s in diag.notes if s is not None}
    assert places == {"main.zw:3:1", "lib/defs.zw:2:1"}
    assert diag.notes[0][0] == "first defined here"


def test_duplicate_across_files_is_reported_at_the_later_definition_in_reading_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # main.zw reads zz.zw (line 1) before its own definition (line 3)
    write(tmp_path / "main.zw", 'include "zz.zw"\n\nclass pump { hosts 1 }\n')
    write(tmp_path / "zz.zw", "class pump { hosts 2 }\n")
    monkeypatch.chdir(tmp_path)
    result = compile_policy(parse_file("main.zw").policy)
    (diag,) = [d for d in result.diagnostics if d.code == "E202"]
    assert diag.span is not None and diag.span.where() == "main.zw:3:1"
    assert [(n, s.where()) for n, s in diag.notes if s] == [("first defined here", "zz.zw:1:1")]


def test_syntax_error_in_included_file_points_into_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "main.zw", 'include "bad.zw"\n')
    write(tmp_path / "bad.zw", "class a {\n  vlan ten\n}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DiagnosticError) as info:
        parse_file("main.zw")
    (diag,) = info.value.diagnostics
    assert diag.code == "E101"
    assert diag.span == Span("bad.zw", 2, 8, 2, 11)
    assert "bad.zw" in info.value.sources  # type: ignore[attr-defined]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_same_file_through_a_symlink_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "common.zw", "class shared { hosts 1 }\n")
    (tmp_path / "alias.zw").symlink_to(tmp_path / "common.zw")
    write(tmp_path / "main.zw", 'include "common.zw"\ninclude "alias.zw"\n')
    monkeypatch.chdir(tmp_path)
    assert [c.name for c in parse_file("main.zw").policy.classes] == ["shared"]


def test_a_syntax_error_is_one_diagnostic() -> None:
    with pytest.raises(DiagnosticError) as info:
        parse_text("class a {\n  vlan ten\n}\n", "x.zw")
    assert [d.code for d in info.value.diagnostics] == ["E101"]
