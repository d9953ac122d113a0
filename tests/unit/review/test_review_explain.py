"""`zonewall explain` semantics: verdicts, the deciding statements, gateways, name lookup."""

from __future__ import annotations

import pytest
from review_helpers import BASE, compiled

from zonewall.review.explain import ExplainError, Explanation, explain

POLICY = """
allow a -> b : https, ssh        "management"
allow a -> b : dns
deny  a -> b : ssh               "no ssh"
allow a -> internet : https
deny  a -> vendor
allow vendor -> c : https
"""


def ask(
    src: str | None, dst: str | None, text: str = POLICY, base: str = BASE, **kw: str
) -> Explanation:
    c, sources = compiled(text, base)
    return explain(c, sources, src, dst, **kw)


def test_an_allowed_flow_names_its_allow_with_file_line_and_text() -> None:
    e = ask("a", "b", service="https")
    assert e.verdict == "permitted"
    (p,) = e.pairs
    assert [(d.span.line if d.span else 0, d.text, d.services) for d in p.allows] == [
        (13, 'allow a -> b : https, ssh "management"', ("https",))
    ]
    assert p.denies == ()


def test_a_denied_flow_names_the_allow_and_the_deny_that_removes_it() -> None:
    e = ask("a", "b", port="tcp/22")
    (p,) = e.pairs
    assert e.verdict == p.verdict == "denied"
    assert [d.text for d in p.allows] == ['allow a -> b : https, ssh "management"']
    assert [(d.text, d.services) for d in p.denies] == [('deny a -> b : ssh "no ssh"', ("ssh",))]


def test_no_allow_covers_it() -> None:
    e = ask("b", "a", service="https")
    (p,) = e.pairs
    assert e.verdict == "denied" and p.allows == () and p.denies == ()


def test_a_deny_where_no_allow_opens_anything_is_listed_as_also_denied() -> None:
    e = ask("a", "vendor", service="ssh")
    (p,) = e.pairs
    assert p.verdict == "denied" and p.allows == ()
    assert [d.text for d in p.also_denied] == ["deny a -> vendor"]


def test_partially_permitted_when_only_some_ports_of_a_service_are_open() -> None:
    e = ask("a", "c", "allow a -> c : udp/53\n", service="dns")
    (p,) = e.pairs
    assert e.verdict == p.verdict == "partial"
    assert (p.permitted, p.not_permitted) == (("udp/53",), ("tcp/53",))
    e = ask("a", "b", port="tcp/440-445")
    (p,) = e.pairs
    assert p.verdict == "partial"
    assert (p.permitted, p.not_permitted) == (("https",), ("tcp/440-442", "tcp/444-445"))
    assert ask("a", "b", port="tcp/20-25").verdict == "denied"  # only ssh, and it is denied


def test_without_a_service_the_answer_lists_what_is_permitted() -> None:
    e = ask("a", "b")
    (p,) = e.pairs
    assert e.verdict == "permitted"
    assert p.permitted == ("dns", "https")  # ssh is denied


def test_an_external_name_is_explained_per_address_atom() -> None:
    e = ask("a", "internet", service="https")
    assert e.verdict == "partial"
    got = {p.dst.name: p.verdict for p in e.pairs}
    assert got == {"internet": "permitted", "vendor": "denied"}
    vendor = next(p for p in e.pairs if p.dst.name == "vendor")
    assert vendor.dst.externals == ("internet", "vendor")
    assert [d.text for d in vendor.denies] == ["deny a -> vendor"]


def test_a_tag_is_explained_member_by_member() -> None:
    base = BASE.replace("class b { vlan 11", "class b { tags x  vlan 11").replace(
        "class c { vlan 12", "class c { tags x  vlan 12"
    )
    e = ask("a", "tag:x", service="https", base=base)
    assert [(p.dst.name, p.verdict) for p in e.pairs] == [("b", "permitted"), ("c", "denied")]
    assert e.verdict == "partial"


def test_addresses_are_resolved_to_their_class_or_external() -> None:
    e = ask(None, None, src_ip="10.0.0.7", dst_ip="203.0.113.9", service="https")
    assert e.resolved == (
        "10.0.0.7 is in class 'a'",
        "203.0.113.9 is in external 'vendor' (also in internet)",
    )
    assert e.verdict == "denied"
    e = ask(None, "c", src_ip="8.8.8.8", service="https")
    assert e.verdict == "denied" and e.pairs[0].src.name == "internet"


def test_an_address_in_unallocated_private_space_says_so_inside_an_external() -> None:
    # internet is 0.0.0.0/0 here, so 10.9.9.9 (private, in no class) falls in it
    e = ask("a", None, dst_ip="10.9.9.9", service="https")
    assert e.resolved == (
        "10.9.9.9 is in external 'internet'",
        "10.9.9.9 is unallocated internal or special space, in no class (10.0.0.0/8 is "
        "private (RFC 1918))",
    )
    assert e.verdict == "permitted"  # what the policy says; W114 is check's warning about it


def test_an_address_in_the_pool_outside_every_external_says_so() -> None:
    base = "pool subnets 10.0.0.0/16\n" + BASE.replace(
        "address 0.0.0.0/0", "address 0.0.0.0/0 except 10.0.0.0/8"
    )
    e = ask("a", None, base=base, dst_ip="10.0.200.1", service="https")
    assert e.resolved == (
        "10.0.200.1 belongs to no class and no external: no statement can permit traffic "
        "from or to it, and gateways drop it",
        "10.0.200.1 is unallocated internal or special space, in no class (10.0.0.0/8 is "
        "private (RFC 1918); 10.0.0.0/16 is this policy's own 'pool subnets')",
    )
    assert e.verdict == "denied"
    # a public address and a class address get no such note
    assert ask("a", None, dst_ip="8.8.8.8").resolved == ("8.8.8.8 is in external 'internet'",)
    assert ask("a", None, dst_ip="10.0.1.1").resolved == ("10.0.1.1 is in class 'b'",)


def test_same_class_and_between_externals() -> None:
    assert ask("a", "a").pairs[0].note.startswith("same class")
    e = ask("internet", "vendor")
    assert e.verdict == "not-filtered"


def test_gateways_source_then_destination_when_they_differ() -> None:
    base = BASE.replace(
        "serves internal }",
        'serves a, b }\ngateway gw2 { platform cisco-ios uplink "Gi0/0" serves c }',
    )
    e = ask("a", "c", "allow a -> c : https\n", base=base, service="https")
    (p,) = e.pairs
    assert [g.gateway for g in p.gateways] == ["gw", "gw2"]
    assert "vlan10" in p.gateways[0].where and "Gi0/0" in p.gateways[1].where
    e = ask("vendor", "c", "allow vendor -> c : https\n", base=base, service="https")
    assert [(g.gateway, "uplink Gi0/0" in g.where) for g in e.pairs[0].gateways] == [("gw2", True)]


@pytest.mark.parametrize(
    ("src", "dst", "kw", "message"),
    [
        ("aa", "b", {}, "unknown class or external 'aa'; did you mean 'a'?"),
        ("a", "vendr", {}, "unknown class or external 'vendr'; did you mean 'vendor'?"),
        ("https", "b", {}, "'https' is a service, not a class or external"),
        ("tag:nope", "b", {}, "no class has tag 'nope'"),
        ("criticality:huge", "b", {}, "unknown criticality 'huge'"),
        ("a", "b", {"service": "htps"}, "unknown service 'htps'; did you mean 'https'?"),
        ("a", "b", {"port": "https"}, "use --service https"),
        ("a", "b", {"port": "tcp/70000"}, "out of range"),
        ("a", "b", {"port": "tcp/1; class x {}"}, "is not a packet set"),
        (None, "b", {"src_ip": "10.0.0.300"}, "'10.0.0.300' is not an IPv4 address"),
    ],
    ids=[
        "class",
        "external",
        "service",
        "tag",
        "criticality",
        "service-typo",
        "port-name",
        "port-range",
        "port-injection",
        "bad-ip",
    ],
)
def test_usage_errors_say_what_is_wrong(
    src: str | None, dst: str, kw: dict[str, str], message: str
) -> None:
    with pytest.raises(ExplainError) as err:
        ask(src, dst, **kw)
    assert message in str(err.value)


# -- traffic to the gateways themselves -------------------------------------------------------

GW_POLICY = """
allow a, internet -> gateway:gw : ssh, https  "management"
deny  a -> gateways : https
"""


def test_a_gateway_destination_names_the_deciding_statements_and_the_gateway() -> None:
    e = ask("a", "gateway:gw", GW_POLICY, service="ssh")
    assert e.verdict == "permitted"
    (p,) = e.pairs
    assert (p.dst.name, p.dst.kind, p.dst.addresses) == ("gateway:gw", "gateway", ())
    assert [d.span.line if d.span else 0 for d in p.allows] == [13]
    assert [(g.gateway, g.where.split(" as ")[0]) for g in p.gateways] == [("gw", "permits it")]
    https = ask("a", "gateways", GW_POLICY, service="https")
    assert https.verdict == "denied"
    assert [d.span.line if d.span else 0 for d in https.pairs[0].denies] == [14]


def test_a_gateway_destination_from_an_external_and_by_default() -> None:
    e = ask("vendor", "gateway:gw", GW_POLICY, service="https")
    assert e.verdict == "permitted"
    b = ask("b", "gateway:gw", GW_POLICY)
    assert b.verdict == "denied" and b.pairs[0].allows == ()


@pytest.mark.parametrize(
    ("src", "dst", "message"),
    [
        ("gateway:gw", "a", "'gateway:gw' can only be a destination"),
        ("a", "gateway:gww", "unknown gateway 'gww'; did you mean 'gw'?"),
        (
            "a",
            "gw",
            "'gw' is a gateway, not a class or external; for the gateway itself, "
            "write 'gateway:gw'",
        ),
    ],
    ids=["source", "unknown", "bare-name"],
)
def test_gateway_usage_errors(src: str, dst: str, message: str) -> None:
    with pytest.raises(ExplainError, match="^" + message.replace("?", r"\?")):
        ask(src, dst, GW_POLICY)
