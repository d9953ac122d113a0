"""Lint warnings W101-W108 and W111 (W109/W110 belong to assertions: see test_assertions.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zonewall.diagnostics import Severity

BASE = """
service https = tcp/443
service ssh   = tcp/22
service hl7   = tcp/2575 plaintext
class a    { vlan 10 subnet 10.0.0.0/24 }
class b    { vlan 11 subnet 10.0.1.0/24 }
class crit { vlan 12 subnet 10.0.2.0/24 criticality critical }
class high { vlan 13 subnet 10.0.3.0/24 criticality high }
"""
FIRST = 9  # line of the first statement appended to BASE


def lint_codes(out: object) -> list[str]:
    return [d.code for d in out.diagnostics if d.code.startswith("W")]  # type: ignore[attr-defined]


def test_lints_are_warnings_and_never_stop_compilation(zw: Callable) -> None:
    out = zw(BASE + "allow any -> any\nallow a -> a : https\n")
    assert out.diagnostics and all(d.severity is Severity.WARNING for d in out.diagnostics)
    assert out.compiled is not None


# ---------------------------------------------------------------------------------------------
# W101 dead, W102 redundant
# ---------------------------------------------------------------------------------------------


def test_allow_wholly_removed_by_denies_is_w101(zw: Callable) -> None:
    out = zw(
        BASE
        + """allow a -> b, crit : https, ssh
deny a -> b
deny internal -> crit : https
deny a -> crit : ssh
deny high -> a
allow crit -> high : https
"""
    )
    diag = out.only("W101")
    assert diag.message == "allow is dead: denies remove every flow it permits"
    assert diag.span is not None and diag.span.line == FIRST
    assert [(n, s.line) for n, s in diag.notes if s] == [
        ("removed by this deny", FIRST + 1),
        ("removed by this deny", FIRST + 2),
        ("removed by this deny", FIRST + 3),
    ]


@pytest.mark.parametrize(
    ("rules", "dead"),
    [
        ("allow a -> b, crit : https\ndeny a -> b", False),
        ("allow a -> b : https, ssh\ndeny a -> b : ssh", False),
        ("allow a -> b : https\ndeny a -> b : https, ssh", True),
        ("allow a, b -> b : https\ndeny a -> b", True),  # b -> b is never a flow
    ],
    ids=["one-pair-survives", "one-service-survives", "deny-wider", "only-same-class-left"],
)
def test_dead_only_when_nothing_survives(zw: Callable, rules: str, dead: bool) -> None:
    assert ("W101" in zw(BASE + rules + "\n").codes) is dead


def test_allow_covered_by_other_allows_is_w102(zw: Callable) -> None:
    out = zw(
        BASE
        + """allow a -> b, crit : https
allow high -> b : https, ssh
allow a, high -> b : https
"""
    )
    diag = out.only("W102")
    assert diag.message == (
        "allow is redundant: every flow it permits is also permitted by "
        "other allows; remove it or narrow the others"
    )
    assert diag.span is not None and diag.span.line == FIRST + 2
    assert [(n, s.line) for n, s in diag.notes if s] == [
        ("covered by this allow", FIRST),
        ("covered by this allow", FIRST + 1),
    ]


def test_of_two_identical_allows_the_later_is_redundant(zw: Callable) -> None:
    out = zw(BASE + "allow a -> b : https\nallow a -> b : https\n")
    diag = out.only("W102")
    assert diag.span is not None and diag.span.line == FIRST + 1


def test_redundancy_compares_packets_not_service_names(zw: Callable) -> None:
    out = zw(BASE + "service tls = tcp/443\nallow a -> b : https, ssh\nallow a -> b : tls\n")
    assert out.only("W102").span.line == FIRST + 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "rules",
    [
        "allow a -> b : https\nallow a -> crit : https",
        "allow a -> b : https\nallow a -> b : ssh",
        "allow a, high -> b : https\nallow a -> b, crit : https",
    ],
    ids=["different-pairs", "different-services", "overlapping-but-each-needed"],
)
def test_allows_each_with_a_flow_of_their_own_are_not_redundant(zw: Callable, rules: str) -> None:
    assert "W102" not in zw(BASE + rules + "\n").codes


# ---------------------------------------------------------------------------------------------
# W103 - W105: defined but unused
# ---------------------------------------------------------------------------------------------


def test_unused_service_is_w103(zw: Callable) -> None:
    out = zw(BASE + "allow a -> b : https\nassert limited a -> b : ssh\n")
    assert [d.message for d in out.all("W103")] == ["service 'hl7' is never used"]
    assert out.only("W103").span.line == 4  # type: ignore[union-attr]


def test_service_used_only_inside_another_service_is_used(zw: Callable) -> None:
    out = zw(BASE + "service web = https, ssh, hl7\nallow a -> b : web\n")
    assert "W103" not in out.codes


def test_unused_tag_is_w104_at_the_first_tags_attribute(zw: Callable) -> None:
    out = zw("""
        service s = tcp/1
        class a { vlan 10 subnet 10.0.0.0/24 tags used, spare }
        class b { vlan 11 subnet 10.0.1.0/24
                  tags spare }
        allow tag:used -> b : s
    """)
    diag = out.only("W104")
    assert diag.message == "tag 'spare' is never used in a selector"
    assert diag.span is not None and (diag.span.line, diag.span.col) == (3, 38)


@pytest.mark.parametrize(
    ("use", "gateways"),
    [
        ("allow a -> tag:t : s", None),
        ("allow b -> a : s\nassert denied a -> tag:t", None),
        (
            "allow a -> b : s",
            (
                'gateway g1 { platform iptables uplink "e0" serves tag:t }\n'
                'gateway g2 { platform iptables uplink "e0" serves a }'
            ),
        ),
    ],
    ids=["rule", "assertion", "gateway-serves"],
)
def test_tag_used_anywhere_in_a_selector_is_not_w104(
    zw: Callable, use: str, gateways: str | None
) -> None:
    text = (
        "service s = tcp/1\nclass a { vlan 10 subnet 10.0.0.0/24 }\n"
        "class b { vlan 11 subnet 10.0.1.0/24 tags t }\n" + use + "\n"
    )
    out = zw(text + (gateways + "\n" if gateways else ""), gateway=gateways is None)
    assert not any(d.is_error for d in out.diagnostics), out.rendered
    assert "W104" not in out.codes


def test_class_or_external_used_by_no_rule_is_w105(zw: Callable) -> None:
    out = zw(
        BASE
        + """external vendor { address 203.0.113.0/24 }
allow a -> b : https
assert denied high -> vendor
"""
    )
    assert [d.message for d in out.all("W105")] == [
        "class 'crit' is selected by no allow or deny, so it can neither reach nor be reached",
        "class 'high' is selected by no allow or deny, so it can neither reach nor be reached",
        "external 'vendor' is selected by no allow or deny",
    ]


def test_class_selected_through_internal_or_a_deny_is_used(zw: Callable) -> None:
    out = zw(BASE + "allow internal except crit -> a : https\ndeny high -> crit\n")
    assert "W105" not in out.codes


# ---------------------------------------------------------------------------------------------
# W106 plaintext into high/critical, W107 any -> any, W108 no effect, W111 aliases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "allow a -> crit : hl7",
            (
                "plaintext tcp/2575 into 'crit' (critical); use an encrypted "
                "service or record the risk"
            ),
        ),
        (
            "allow a -> high, crit, b : hl7, https",
            (
                "plaintext tcp/2575 into 'crit' (critical), 'high' (high); use an encrypted service or "
                "record the risk"
            ),
        ),
        (
            "allow a -> criticality:high : hl7",
            ("plaintext tcp/2575 into 'high' (high); use an encrypted service or record the risk"),
        ),
    ],
    ids=["critical", "several", "via-criticality-selector"],
)
def test_plaintext_into_high_or_critical_is_w106(zw: Callable, rule: str, message: str) -> None:
    out = zw(BASE + rule + "\n")
    assert out.only("W106").message == message


@pytest.mark.parametrize(
    "rule",
    ["allow a -> b : hl7", "allow a -> crit : https", "deny a -> crit : hl7", "allow a -> crit"],
    ids=["medium-class", "encrypted-service", "deny", "no-services"],
)
def test_no_w106(zw: Callable, rule: str) -> None:
    assert "W106" not in zw(BASE + rule + "\n").codes


@pytest.mark.parametrize(
    ("rule", "warned"),
    [
        ("allow any -> any", True),
        ('allow any -> any "everything" log', True),
        ("allow any except crit -> any, a", True),
        ("allow any -> any : https", False),
        ("allow internal -> any", False),
        ("deny any -> any", False),
    ],
    ids=["bare", "with-why-and-log", "with-except", "with-services", "internal-left", "deny"],
)
def test_allow_any_any_without_services_is_w107(zw: Callable, rule: str, warned: bool) -> None:
    out = zw(BASE + rule + "\n")
    assert ("W107" in out.codes) is warned
    if warned:
        assert out.only("W107").message == (
            "'allow any -> any' with no services permits everything between every class and "
            "external; name the services"
        )


@pytest.mark.parametrize(
    ("rule", "action"),
    [
        ("allow a -> a : https", "allow"),
        ("deny b -> b", "deny"),
        ("allow e1 -> e2 : https", "allow"),
        ("allow e1, e2 -> external", "allow"),
    ],
    ids=["same-class", "deny-same-class", "external-to-external", "externals-only"],
)
def test_statement_without_effect_is_w108(zw: Callable, rule: str, action: str) -> None:
    out = zw(
        BASE
        + "external e1 { address 1.0.0.0/8 }\nexternal e2 { address 2.0.0.0/8 }\n"
        + "allow a -> b, e1, e2\n"
        + rule
        + "\n"
    )
    diag = out.only("W108")
    assert diag.message == (
        f"{action} has no effect: it covers only same-class pairs (not "
        "routed, so never filtered) or external-to-external pairs"
    )
    assert diag.span is not None and diag.span.line == FIRST + 3


def test_services_matching_the_same_packets_but_disagreeing_on_plaintext_is_w111(
    zw: Callable,
) -> None:
    out = zw(BASE + "service mllp = tcp/2575\nallow a -> b : hl7, mllp\n")
    diag = out.only("W111")
    assert diag.message == (
        "services 'hl7', 'mllp' match the same packets (tcp/2575) but only "
        "'hl7' is marked plaintext; flows on 'mllp' escape 'encrypted' checks"
    )
    assert diag.span is not None and diag.span.line == FIRST  # the later of the two


def test_aliases_that_agree_on_plaintext_are_fine(zw: Callable) -> None:
    out = zw(BASE + "service tls = tcp/443\nallow a -> b : https, tls\n")
    assert "W111" not in out.codes


def test_a_clean_policy_has_no_lints(zw: Callable) -> None:
    out = zw(
        BASE + "allow a -> b : https\nallow b -> crit, high : ssh\n"
        "allow high -> a : hl7\nassert denied crit -> a\n"
    )
    assert out.diagnostics == []


def test_no_assertions_is_w116_and_an_empty_policy_also_w115(zw: Callable) -> None:
    out = zw(BASE + "allow a -> b : https\n")
    assert out.only("W116").message.startswith("the policy has no assertions")
    assert "W115" not in out.codes


def test_a_class_inside_a_narrow_external_is_w117_unless_excepted(zw: Callable) -> None:
    policy = (
        BASE + "external partner { address 10.0.0.0/16%s }\nallow a -> partner : https\n"
        "assert denied b -> a\n"
    )
    out = zw(policy % "")
    hits = out.all("W117")
    assert {d.message.split("'")[1] for d in hits} >= {"a", "b", "crit"}
    assert "write `except 10.0.0.0/24` in 'partner'" in hits[0].message
    excepted = zw(policy % " except 10.0.0.0/22")
    assert excepted.all("W117") == []


def test_a_wide_external_leaves_classes_to_w114(zw: Callable) -> None:
    out = zw(
        BASE + "external internet { address 0.0.0.0/0 }\nallow a -> internet : https\n"
        "assert denied b -> a\n"
    )
    assert out.all("W117") == [] and out.all("W114")


def test_a_fixed_subnet_outside_every_pool_is_w118(zw: Callable) -> None:
    out = zw("pool subnets 10.0.0.0/23\n" + BASE + "allow a -> b : https\nassert denied b -> a\n")
    flagged = sorted(d.message.split("'")[1] for d in out.all("W118"))
    assert flagged == ["crit", "high"]  # 10.0.0.0/24 and 10.0.1.0/24 are inside the pool
    assert zw(BASE + "allow a -> b : https\nassert denied b -> a\n").all("W118") == []
