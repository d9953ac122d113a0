"""`zonewall diff` semantics: effective flows gained and lost, assertions, classes, rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_helpers import BASE, compiled

from zonewall.build import render_outputs
from zonewall.ir import ResolvedService
from zonewall.packets import TCP, UDP, PacketSet
from zonewall.present.diff import diff_text
from zonewall.report import run_check
from zonewall.review.describe import service_names
from zonewall.review.diff import PolicyDiff, compare, load_side, rule_counts


def diff(old: str, new: str, count_rules: bool = False) -> PolicyDiff:
    return compare(compiled(old)[0], compiled(new)[0], count_rules=count_rules)


def lines(changes: object) -> list[str]:
    out = []
    for f in changes:  # type: ignore[attr-defined]
        where = f" ({', '.join(f.addresses)})" if f.addresses else ""
        src = f.src + (where if f.src_kind == "external" else "")
        dst = f.dst + (where if f.dst_kind == "external" else "")
        out.append(f"{src} -> {dst} : {', '.join(f.services)}")
    return out


# ---------------------------------------------------------------------------------------------
# nothing changes when only the writing changes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "allow a -> b : https\nallow b -> c : ssh\ndeny a -> vendor\nallow a -> internet : https\n",
            "allow a -> internet : https\ndeny a -> vendor\nallow b -> c : ssh\nallow a -> b : https\n",
        ),
        (
            "allow a -> b, c : https, ssh\n",
            "allow a -> b : https\nallow a -> c : https\nallow a -> b, c : ssh\n",
        ),
        ("allow a -> b : https\n", "allow a -> b : tcp/443\n"),
        ("allow a -> b : https, http\n", "allow a -> b : tcp/80\nallow a -> b : tcp/443\n"),
        (
            "allow a -> internet\ndeny a -> vendor : ssh\n",
            "deny a -> vendor : tcp/22\nallow a -> internet : ip\n",
        ),
    ],
    ids=["reorder", "split-allow", "literal-for-service", "split-services", "deny-order"],
)
def test_rewriting_without_changing_the_flows_is_an_empty_diff(old: str, new: str) -> None:
    d = diff(old, new)
    assert (d.gained, d.lost, d.assertions, d.classes, d.externals) == ((), (), (), (), ())
    assert not d.semantic_change


def test_renaming_a_service_changes_nothing_even_in_assertions() -> None:
    old = "allow a -> b : https\nassert allowed a -> b : https\n"
    new = "allow a -> b : tls\nassert allowed a -> b : tls\n"
    d = compare(
        compiled(old)[0], compiled(new, base=BASE.replace("https", "tls"))[0], count_rules=False
    )
    assert not d.semantic_change, d


# ---------------------------------------------------------------------------------------------
# gained and lost, by service name or by range
# ---------------------------------------------------------------------------------------------


def test_a_new_allow_is_a_gained_flow_named_by_service_with_its_statement() -> None:
    d = diff("allow a -> b : https\n", "allow a -> b : https\nallow c -> b : ssh, https\n")
    assert lines(d.gained) == ["c -> b : ssh, https"]
    assert [s.line for s in d.gained[0].rules] == [13]
    assert d.lost == ()


def test_a_widened_allow_gains_only_the_new_packets() -> None:
    d = diff("allow a -> b : https\n", "allow a -> b : https, http, tcp/8080-8090\n")
    assert lines(d.gained) == ["a -> b : http, tcp/8080-8090"]


def test_a_new_deny_is_a_lost_flow() -> None:
    d = diff("allow a -> b, c : https, ssh\n", "allow a -> b, c : https, ssh\ndeny a -> c : ssh\n")
    assert lines(d.lost) == ["a -> c : ssh"]
    assert d.gained == ()


def test_ranges_that_no_service_matches_are_written_as_ranges() -> None:
    d = diff(
        "allow a -> b : tcp/8000-8100\n",
        "allow a -> b : tcp/8000-8100, udp/53\ndeny a -> b : tcp/8080-8090\n",
    )
    assert lines(d.gained) == ["a -> b : udp/53"]  # dns is tcp and udp: not a match
    assert lines(d.lost) == ["a -> b : tcp/8080-8090"]


# ---------------------------------------------------------------------------------------------
# externals: compared on addresses
# ---------------------------------------------------------------------------------------------


def test_an_allow_to_internet_gains_the_vendor_addresses_too() -> None:
    d = diff("allow a -> b : https\n", "allow a -> b : https\nallow a -> internet : https\n")
    assert lines(d.gained) == ["a -> internet : https", "a -> vendor : https"]


def test_a_deny_carving_out_a_vendor_loses_only_the_vendor() -> None:
    d = diff("allow a -> internet : https\n", "allow a -> internet : https\ndeny a -> vendor\n")
    assert lines(d.lost) == ["a -> vendor : https"]
    assert d.gained == ()


def test_flows_from_externals_are_compared_too() -> None:
    d = diff("allow vendor -> b : https\n", "allow internet -> b : https\n")
    assert lines(d.gained) == ["internet -> b : https"]
    assert d.lost == ()


def test_a_new_external_inside_internet_changes_no_flow() -> None:
    old = "allow a -> internet : https\n"
    new = "external cdn { address 198.51.100.0/24 }\nallow a -> internet : https\n"
    d = diff(old, new)
    assert d.gained == d.lost == ()
    assert [(e.name, e.old, e.new) for e in d.externals] == [("cdn", None, "198.51.100.0/24")]


def test_a_new_external_with_a_new_service_gains_just_that() -> None:
    old = "allow a -> internet : https\n"
    new = (
        "external cdn { address 198.51.100.0/24 }\nallow a -> internet : https\n"
        "allow a -> cdn : ssh\n"
    )
    d = diff(old, new)
    assert lines(d.gained) == ["a -> cdn (198.51.100.0/24) : ssh"]


def test_moving_a_vendor_lists_the_addresses_on_both_sides() -> None:
    base_old = "allow a -> vendor : https\n"
    old = compiled(base_old)[0]
    new = compiled(base_old, base=BASE.replace("203.0.113.0/24", "203.0.114.0/25"))[0]
    d = compare(old, new, count_rules=False)
    assert lines(d.gained) == ["a -> vendor (203.0.114.0/25) : https"]
    assert lines(d.lost) == ["a -> vendor (203.0.113.0/24) : https"]
    assert [(e.old, e.new) for e in d.externals] == [("203.0.113.0/24", "203.0.114.0/25")]


def test_addresses_that_became_a_class_are_a_class_change_not_a_lost_flow() -> None:
    old = "allow a -> internet : https\n"
    new = "class d { vlan 13 subnet 10.9.0.0/24 }\nallow a -> internet : https\n"
    d = diff(old, new)
    assert d.lost == ()
    assert [(c.name, c.kind) for c in d.classes] == [("d", "added")]


# ---------------------------------------------------------------------------------------------
# assertions, classes, gateways
# ---------------------------------------------------------------------------------------------


def test_assertion_status_changes_and_newly_failing() -> None:
    old = (
        "allow a -> b : https\n"
        "assert denied a -> c\n"
        'assert denied b -> a accepted "known"\n'
        "assert allowed a -> b : https\n"
        "assert denied c -> a\n"
    )
    new = (
        "allow a -> b, c : https\nallow b -> a : ssh\n"
        "assert denied a -> c\n"  # pass -> fail
        'assert denied b -> a accepted "known"\n'  # pass (stale) -> accepted
        "assert allowed a -> b : https\n"  # unchanged
        "assert denied c -> b\n"
    )  # removed c -> a, added c -> b
    d = diff(old, new)
    got = {(a.text, a.old, a.new, a.newly_fails) for a in d.assertions}
    assert got == {
        ("denied a -> c", "pass", "fail", True),
        ("denied b -> a", "pass", "accepted", False),
        ("denied c -> a", "pass", None, False),
        ("denied c -> b", None, "pass", False),
    }
    failing = d.newly_failing[0]
    assert failing.counterexample is not None and failing.counterexample[0].dst == "c"


def test_a_new_failing_assertion_newly_fails_and_a_fixed_one_does_not() -> None:
    d = diff(
        "allow a -> b\nassert denied a -> b\n",
        "allow a -> c\nassert denied a -> c\nassert denied a -> b\n",
    )
    assert {(a.text, a.old, a.new, a.newly_fails) for a in d.assertions} == {
        ("denied a -> c", None, "fail", True),
        ("denied a -> b", "fail", "pass", False),
    }


def test_class_vlan_subnet_and_gateway_changes() -> None:
    new_base = (
        BASE.replace(
            "class b { vlan 11 subnet 10.0.1.0/24 }", "class b { vlan 21 subnet 10.0.1.0/25 }"
        )
        .replace("class c { vlan 12 subnet 10.0.2.0/24 }", "")
        .replace(
            "serves internal }",
            'serves internal except e }\ngateway gw2 { platform nftables uplink "eth0" serves e }',
        )
        + "class e { vlan 14 subnet 10.0.4.0/24 }\n"
    )
    old = compiled("allow a -> b : https\n")[0]
    new = compiled("allow a -> b : https\nallow a -> e : https\n", base=new_base)[0]
    d = compare(old, new, count_rules=False)
    got = {
        c.name: (c.kind, c.old_vlan, c.new_vlan, c.old_subnets, c.new_subnets, c.new_gateway)
        for c in d.classes
    }
    assert got == {
        "b": ("changed", 11, 21, ("10.0.1.0/24",), ("10.0.1.0/25",), "gw"),
        "c": ("removed", 12, None, ("10.0.2.0/24",), (), None),
        "e": ("added", None, 14, (), ("10.0.4.0/24",), "gw2"),
    }
    assert [(g.name, g.old_platform, g.new_platform) for g in d.gateways] == [
        ("gw", "iptables", "iptables"),
        ("gw2", None, "nftables"),
    ]


def test_rule_counts_are_the_counts_build_writes_in_the_manifest() -> None:
    report = run_check("examples/multi-gateway.zw")
    assert report.compiled is not None
    outputs, _ = render_outputs(report)
    manifest = {o.gateway: o.rules for o in outputs if o.kind == "config"}
    assert {g: n for g, (_, n) in rule_counts(report.compiled).items()} == manifest


def test_gateway_rule_count_delta() -> None:
    d = diff("allow a -> b : https\n", "allow a -> b, c : https\n", count_rules=True)
    (gw,) = d.gateways
    assert gw.old_rules is not None and gw.new_rules is not None
    assert gw.delta == gw.new_rules - gw.old_rules > 0 and gw.changed


# ---------------------------------------------------------------------------------------------
# naming packet sets
# ---------------------------------------------------------------------------------------------


def svc(name: str, *parts: PacketSet) -> ResolvedService:
    packets = PacketSet.union_all(parts)
    return ResolvedService(name, packets, PacketSet())


HTTPS = PacketSet.ports(TCP, 443, 443)
HTTP = PacketSet.ports(TCP, 80, 80)
DNS = PacketSet.ports(UDP, 53, 53) | PacketSet.ports(TCP, 53, 53)
SERVICES = [
    svc("https", HTTPS),
    svc("http", HTTP),
    svc("web", HTTPS, HTTP),
    svc("dns", DNS),
    svc("fhir", HTTPS),
]


@pytest.mark.parametrize(
    ("packets", "expected"),
    [
        (HTTPS | HTTP, ("web",)),
        (HTTPS, ("fhir",)),  # two services match the same packets: the first name wins
        (HTTPS | PacketSet.ports(TCP, 8080, 8090), ("fhir", "tcp/8080-8090")),
        (PacketSet.ports(UDP, 53, 53), ("udp/53",)),
        (DNS | HTTP, ("dns", "http")),
        (PacketSet(), ()),
        (PacketSet.everything(), ("ip",)),
        (PacketSet.protocol(UDP) | HTTPS, ("fhir", "udp")),
    ],
    ids=[
        "largest-first",
        "tie-by-name",
        "rest-as-range",
        "partial-service",
        "key-order",
        "empty",
        "everything",
        "whole-protocol",
    ],
)
def test_service_names(packets: PacketSet, expected: tuple[str, ...]) -> None:
    assert service_names(packets, SERVICES) == expected


def test_object_groups_change_is_reported_without_a_semantic_change(tmp_path: Path) -> None:
    base = (
        "class a { vlan 10  subnet 10.0.0.0/24 }\nclass b { vlan 11  subnet 10.0.1.0/24 }\n"
        "allow a -> b : tcp/443\ngateway sw { platform cisco-ios OG serves internal }\n"
    )
    old, new = tmp_path / "old.zw", tmp_path / "new.zw"
    old.write_text(base.replace("OG", ""), encoding="utf-8")
    new.write_text(base.replace("OG", "object-groups"), encoding="utf-8")
    o, n = load_side("old", str(old)), load_side("new", str(new))
    assert o.report.compiled is not None and n.report.compiled is not None
    d = compare(o.report.compiled, n.report.compiled)
    (gw,) = d.gateways
    assert (gw.old_object_groups, gw.new_object_groups) == (False, True) and gw.changed
    assert not d.semantic_change
    assert "cisco-ios -> cisco-ios object-groups" in diff_text(d, o, n)


def test_stateless_replies_acknowledgement_change_is_shown_beside_the_gateway(
    tmp_path: Path,
) -> None:
    base = (
        "class a { vlan 10  subnet 10.0.0.0/24 }\nclass b { vlan 11  subnet 10.0.1.0/24 }\n"
        "allow a -> b : tcp/443\ngateway sw { platform cisco-ios ACK serves internal }\n"
    )
    paths = [tmp_path / f"{n}.zw" for n in ("none", "ack", "reworded")]
    for path, ack in zip(
        paths,
        ["", 'stateless-replies accepted "ok"', 'stateless-replies accepted "reviewed again"'],
        strict=True,
    ):
        path.write_text(base.replace("ACK", ack), encoding="utf-8")
    none, ack, reworded = (load_side(p.stem, str(p)) for p in paths)
    for side in (none, ack, reworded):
        assert side.report.compiled is not None
    d = compare(none.report.compiled, ack.report.compiled)  # type: ignore[arg-type]
    (gw,) = d.gateways
    assert (gw.old_stateless_accepted, gw.new_stateless_accepted) == (None, "ok") and gw.changed
    assert not d.semantic_change
    assert "cisco-ios -> cisco-ios stateless-replies accepted" in diff_text(d, none, ack)
    d = compare(ack.report.compiled, reworded.report.compiled)  # type: ignore[arg-type]
    assert d.gateways[0].changed
    assert "cisco-ios stateless-replies accepted (reason changed)" in diff_text(d, ack, reworded)


def test_flows_to_the_gateways_themselves_are_gained_and_lost() -> None:
    old = "allow a -> gateway:gw : ssh\nallow internet -> gateway:gw : https\n"
    new = "allow a -> gateways : https\nallow vendor -> gateway:gw : https\n"
    d = diff(old, new)
    assert lines(d.gained) == ["a -> gateway:gw : https"]
    assert lines(d.lost) == ["a -> gateway:gw : ssh", "internet -> gateway:gw : https"]
    assert {(f.src_kind, f.dst_kind) for f in d.gained + d.lost} == {
        ("class", "gateway"),
        ("external", "gateway"),
    }
    assert [s.line for s in d.gained[0].rules] == [12]
    assert (
        diff(
            old, "allow internet -> gateway:gw : https\nallow a -> gateways : ssh\n"
        ).semantic_change
        is False
    )
