"""Assertions: each kind passing and failing, with the counterexample docs/language.md, section 9 gives."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from zonewall.diagnostics import Severity
from zonewall.ir import AssertionResult

BASE = """
service https = tcp/443
service ssh   = tcp/22
service dns   = udp/53
service hl7   = tcp/2575 plaintext
class guest  { vlan 10 subnet 10.0.0.0/24 criticality low tags untrusted }
class byod   { vlan 11 subnet 10.0.1.0/24 criticality low tags untrusted }
class ws     { vlan 12 subnet 10.0.2.0/24 }
class engine { vlan 13 subnet 10.0.3.0/24 }
class server { vlan 14 subnet 10.0.4.0/24 criticality high tags medical }
class pump   { vlan 15 subnet 10.0.5.0/24 criticality critical tags medical }
external internet { address 0.0.0.0/0 }
external vendor   { address 203.0.113.0/24 }
"""
L = 14  # line number of the first statement appended to BASE


def hops(result: AssertionResult) -> list[tuple[str, str, tuple[str, ...], int | None]]:
    assert result.counterexample is not None
    return [
        (h.src, h.dst, h.services, h.span.line if h.span else None) for h in result.counterexample
    ]


def policy(*lines: str) -> str:
    return BASE + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# unreachable
# ---------------------------------------------------------------------------------------------

PATHS = [
    "allow guest -> byod : https",  # L
    "allow byod -> ws : https, ssh",  # L+1
    "allow ws -> server : ssh",  # L+2
    "allow server -> pump : https",  # L+3
    "allow guest -> internet : https",  # L+4
    "allow internet -> pump : https",  # L+5
]


def test_unreachable_fails_with_the_shortest_path_and_each_hops_allow(zw: Callable) -> None:
    out = zw(policy(*PATHS, "assert unreachable guest -> pump"))
    result = out.assertion("unreachable guest -> pump")
    assert result.status == "fail"
    assert hops(result) == [
        ("guest", "byod", ("https",), L),
        ("byod", "ws", ("https", "ssh"), L + 1),
        ("ws", "server", ("ssh",), L + 2),
        ("server", "pump", ("https",), L + 3),
    ]
    assert all(h.span is not None and h.span.file == "p.zw" for h in result.counterexample or ())
    diag = out.only("E301")
    assert diag.severity is Severity.ERROR
    assert diag.message == (
        "assertion 'unreachable guest -> pump' fails: path guest -> byod -> ws -> server -> pump"
    )
    assert diag.span is not None and diag.span.line == L
    assert diag.label == "first hop: 'guest' -> 'byod' (tcp/443)"
    assert [(n, s.line if s else None) for n, s in diag.notes] == [
        ("then 'byod' -> 'ws' (tcp/22, tcp/443)", L + 1),
        ("then 'ws' -> 'server' (tcp/22)", L + 2),
        ("then 'server' -> 'pump' (tcp/443)", L + 3),
        ("asserted here", L + 6),
    ]


def test_unreachable_passes_when_there_is_no_path(zw: Callable) -> None:
    out = zw(policy(*PATHS[:3], "assert unreachable guest -> pump"))
    result = out.assertion("unreachable guest -> pump")
    assert (result.status, result.counterexample) == ("pass", None)
    assert "E301" not in out.codes


def test_externals_are_never_intermediate_hops(zw: Callable) -> None:
    out = zw(
        policy(
            "allow guest -> internet : https",
            "allow internet -> pump : https",
            "allow guest -> vendor : ssh",
            "allow vendor -> pump : ssh",
            "assert unreachable guest -> pump",
            "assert unreachable internet -> pump",
            "assert unreachable guest -> vendor",
        )
    )
    assert out.assertion("unreachable guest -> pump").status == "pass"
    assert hops(out.assertion("unreachable internet -> pump")) == [
        ("internet", "pump", ("https",), L + 1)
    ]
    # the internet allow (the first statement opening the edge) also reaches vendor
    assert hops(out.assertion("unreachable guest -> vendor")) == [
        ("guest", "vendor", ("https",), L)
    ]


def test_path_into_an_external_inside_another_one(zw: Callable) -> None:
    # internet contains vendor: an allow toward internet reaches vendor's addresses
    out = zw(policy("allow guest -> internet : https", "assert unreachable guest -> vendor"))
    assert hops(out.assertion("unreachable guest -> vendor")) == [
        ("guest", "vendor", ("https",), L)
    ]


def test_shortest_path_wins_over_a_longer_one(zw: Callable) -> None:
    out = zw(policy(*PATHS, "allow byod -> pump : dns", "assert unreachable guest -> pump"))
    assert [h[:2] for h in hops(out.assertion("unreachable guest -> pump"))] == [
        ("guest", "byod"),
        ("byod", "pump"),
    ]


def test_ties_are_broken_by_the_smallest_sequence_of_node_names(zw: Callable) -> None:
    # three 2-hop paths guest -> {ws, engine, byod} -> pump; 'byod' sorts first
    out = zw(
        policy(
            "allow guest -> ws, engine, byod : https",
            "allow ws -> pump : https",
            "allow engine -> pump : https",
            "allow byod -> pump : ssh",
            "assert unreachable guest -> pump",
            "assert unreachable guest -> pump without byod",
        )
    )
    assert hops(out.assertion("unreachable guest -> pump")) == [
        ("guest", "byod", ("https",), L),
        ("byod", "pump", ("ssh",), L + 3),
    ]
    assert hops(out.assertion("unreachable guest -> pump without byod")) == [
        ("guest", "engine", ("https",), L),
        ("engine", "pump", ("https",), L + 2),
    ]


def test_ties_between_sources_and_targets(zw: Callable) -> None:
    out = zw(
        policy(
            "allow ws -> server : https",
            "allow byod -> pump : https",
            "allow byod -> server : ssh",
            "assert unreachable ws, byod -> pump, server",
        )
    )
    # all paths have one hop; the smallest sequence is byod -> pump
    assert hops(out.assertion("unreachable ws, byod -> pump, server")) == [
        ("byod", "pump", ("https",), L + 1)
    ]


def test_unreachable_between_members_of_one_selector_ignores_self_pairs(zw: Callable) -> None:
    out = zw(
        policy(
            "allow server -> ws : https",
            "allow ws -> pump : https",
            "assert unreachable tag:medical -> tag:medical",
        )
    )
    assert hops(out.assertion("unreachable tag:medical -> tag:medical")) == [
        ("server", "ws", ("https",), L),
        ("ws", "pump", ("https",), L + 1),
    ]


@pytest.mark.parametrize(
    ("without", "status", "path"),
    [
        ("", "fail", ["guest", "byod", "ws", "server", "pump"]),
        (" without ws", "pass", None),
        (" without engine", "fail", ["guest", "byod", "ws", "server", "pump"]),
        (" without tag:medical", "pass", None),
        (" without guest", "fail", ["guest", "byod", "ws", "server", "pump"]),
        (" without pump", "fail", ["guest", "byod", "ws", "server", "pump"]),
    ],
    ids=[
        "no-without",
        "hub-removed",
        "unrelated",
        "by-tag",
        "source-not-affected",
        "target-not-affected",
    ],
)
def test_unreachable_without(
    zw: Callable, without: str, status: str, path: list[str] | None
) -> None:
    text = f"unreachable guest -> pump{without}"
    result = zw(policy(*PATHS, f"assert {text}")).assertion(text)
    assert result.status == status
    if path is None:
        assert result.counterexample is None
    else:
        got = hops(result)
        assert [got[0][0]] + [h[1] for h in got] == path


def test_without_avoids_hubs_but_finds_a_detour(zw: Callable) -> None:
    out = zw(
        policy(
            *PATHS,
            "allow byod -> engine : https",
            "allow engine -> server : https",
            "assert unreachable guest -> pump without ws",
        )
    )
    got = hops(out.assertion("unreachable guest -> pump without ws"))
    assert [h[:2] for h in got] == [
        ("guest", "byod"),
        ("byod", "engine"),
        ("engine", "server"),
        ("server", "pump"),
    ]


# ---------------------------------------------------------------------------------------------
# denied
# ---------------------------------------------------------------------------------------------


def test_denied_fails_with_one_offending_flow(zw: Callable) -> None:
    out = zw(policy("allow ws -> server : https, ssh", "assert denied ws -> tag:medical : ssh"))
    result = out.assertion("denied ws -> tag:medical : ssh")
    assert result.status == "fail"
    assert hops(result) == [("ws", "server", ("https", "ssh"), L)]
    diag = out.only("E302")
    assert diag.message == (
        "assertion 'denied ws -> tag:medical : ssh' fails: 'ws' may initiate tcp/22 to 'server'"
    )
    assert diag.span is not None and diag.span.line == L
    assert diag.label == "allow opens it here"


@pytest.mark.parametrize(
    "assertion",
    [
        "denied ws -> server : dns",
        "denied server -> ws",
        "denied ws -> pump",
        "denied ws -> any except server",
        "denied guest -> any",
    ],
    ids=["other-service", "reverse-direction", "other-class", "except", "no-flows"],
)
def test_denied_passes(zw: Callable, assertion: str) -> None:
    out = zw(policy("allow ws -> server : https, ssh", "allow ws -> ws", f"assert {assertion}"))
    assert out.assertion(assertion).status == "pass"


def test_denied_any_ignores_the_class_itself(zw: Callable) -> None:
    out = zw(policy("allow ws -> ws : https", "assert denied ws -> any"))
    assert out.assertion("denied ws -> any").status == "pass"


def test_denied_respects_denies_wherever_written(zw: Callable) -> None:
    out = zw(
        policy(
            "deny tag:untrusted -> vendor",
            "allow guest, byod -> internet : https",
            "assert denied tag:untrusted -> vendor",
            "assert denied guest -> internet",
        )
    )
    assert out.assertion("denied tag:untrusted -> vendor").status == "pass"
    assert hops(out.assertion("denied guest -> internet")) == [
        ("guest", "internet", ("https",), L + 1)
    ]


def test_denied_toward_an_external_inside_another_one(zw: Callable) -> None:
    out = zw(policy("allow guest -> internet : https", "assert denied guest -> vendor"))
    assert hops(out.assertion("denied guest -> vendor")) == [("guest", "vendor", ("https",), L)]


# ---------------------------------------------------------------------------------------------
# allowed
# ---------------------------------------------------------------------------------------------


def test_allowed_passes_when_every_pair_has_every_service(zw: Callable) -> None:
    out = zw(
        policy(
            "allow ws, byod -> server, pump : https, ssh",
            "assert allowed ws, byod -> tag:medical : https, ssh",
        )
    )
    assert out.assertion("allowed ws, byod -> tag:medical : https, ssh").status == "pass"


def test_allowed_fails_with_the_missing_flow_and_no_file(zw: Callable) -> None:
    out = zw(
        policy(
            "allow ws -> server, pump : https",
            "allow ws -> pump : ssh",
            "assert allowed ws -> tag:medical : https, ssh",
        )
    )
    result = out.assertion("allowed ws -> tag:medical : https, ssh")
    assert result.status == "fail"
    assert hops(result) == [("ws", "server", ("https", "ssh"), None)]
    assert result.counterexample is not None and result.counterexample[0].rule is None
    diag = out.only("E303")
    assert diag.message == (
        "assertion 'allowed ws -> tag:medical : https, ssh' fails: 'ws' may "
        "not initiate tcp/22 to 'server'"
    )
    assert diag.span is not None and diag.span.line == L + 2  # the assertion itself


def test_allowed_is_removed_by_a_deny(zw: Callable) -> None:
    out = zw(
        policy(
            "allow ws -> server : https",
            "deny internal -> tag:medical : https",
            "assert allowed ws -> server : https",
        )
    )
    assert out.assertion("allowed ws -> server : https").status == "fail"


def test_allowed_into_an_external_must_cover_all_its_addresses(zw: Callable) -> None:
    out = zw(
        policy(
            "allow ws -> internet : https",
            "deny ws -> vendor",
            "assert allowed ws -> internet : https",
            "assert allowed ws -> vendor : https",
        )
    )
    assert out.assertion("allowed ws -> internet : https").status == "fail"
    assert out.assertion("allowed ws -> vendor : https").status == "fail"


def test_allowed_uses_packets_not_names(zw: Callable) -> None:
    out = zw(
        policy(
            "service tls = tcp/443",
            "allow ws -> server : tls",
            "assert allowed ws -> server : https",
        )
    )
    assert out.assertion("allowed ws -> server : https").status == "pass"


# ---------------------------------------------------------------------------------------------
# only, limited, encrypted
# ---------------------------------------------------------------------------------------------


def test_only(zw: Callable) -> None:
    out = zw(
        policy(
            "allow server -> pump : https",
            "allow ws -> pump : ssh",
            "assert only server, ws -> pump",
            "assert only server -> pump",
            "assert only server -> server",
        )
    )
    assert out.assertion("only server, ws -> pump").status == "pass"
    assert out.assertion("only server -> server").status == "pass"
    result = out.assertion("only server -> pump")
    assert result.status == "fail"
    assert hops(result) == [("ws", "pump", ("ssh",), L + 1)]
    assert out.only("E304").message == (
        "assertion 'only server -> pump' fails: 'ws' may initiate "
        "tcp/22 to 'pump', and is not listed"
    )


def test_only_counts_externals_by_address(zw: Callable) -> None:
    out = zw(policy("allow internet -> ws : https", "assert only vendor -> ws"))
    assert hops(out.assertion("only vendor -> ws")) == [("internet", "ws", ("https",), L)]


def test_limited(zw: Callable) -> None:
    out = zw(
        policy(
            "allow pump -> server : https",
            "allow pump -> internet : dns, ssh",
            "assert limited pump -> any : https, dns, ssh",
            "assert limited pump -> any : https, dns",
            "assert limited pump -> server : https",
        )
    )
    assert out.assertion("limited pump -> any : https, dns, ssh").status == "pass"
    assert out.assertion("limited pump -> server : https").status == "pass"
    result = out.assertion("limited pump -> any : https, dns")
    assert result.status == "fail"
    assert hops(result) == [("pump", "internet", ("dns", "ssh"), L + 1)]
    assert out.only("E305").message == (
        "assertion 'limited pump -> any : https, dns' fails: 'pump' may initiate tcp/22 to "
        "'internet', outside the listed services"
    )


def test_encrypted(zw: Callable) -> None:
    out = zw(
        policy(
            "allow engine -> pump : https",
            "allow engine -> ws : hl7",
            "allow guest -> server : hl7",
            "assert encrypted -> pump",
            "assert encrypted -> criticality:high",
            "assert encrypted engine -> internal",
            "assert encrypted guest -> ws",
        )
    )
    assert out.assertion("encrypted -> pump").status == "pass"
    assert out.assertion("encrypted guest -> ws").status == "pass"
    assert hops(out.assertion("encrypted -> criticality:high")) == [
        ("guest", "server", ("hl7",), L + 2)
    ]
    assert hops(out.assertion("encrypted engine -> internal")) == [
        ("engine", "ws", ("hl7",), L + 1)
    ]
    assert [d.message for d in out.all("E306")] == [
        (
            "assertion 'encrypted engine -> internal' fails: 'engine' may initiate tcp/2575 to 'ws' "
            "unencrypted"
        ),
        (
            "assertion 'encrypted -> criticality:high' fails: 'guest' may initiate tcp/2575 to "
            "'server' unencrypted"
        ),
    ]


@pytest.mark.parametrize(
    ("assertion", "allows", "named"),
    [
        (
            "encrypted -> pump",
            ("allow internet -> pump : hl7", "allow vendor -> pump : https"),
            "internet",
        ),
        (
            "encrypted -> pump",
            ("allow vendor -> pump : hl7", "allow internet -> pump : https"),
            "vendor",
        ),
        ("encrypted -> pump", ("allow internet -> pump : hl7",), "internet"),
        ("encrypted internet -> pump", ("allow vendor -> pump : hl7",), "internet"),
        ("encrypted vendor -> pump", ("allow internet -> pump : hl7",), "vendor"),
    ],
    ids=[
        "any-source-names-the-opening-external",
        "any-source-narrow-opener",
        "any-source-one-allow",
        "asserted-wide-source",
        "asserted-narrow-source",
    ],
)
def test_encrypted_from_an_external_names_the_external_that_opens_it(
    zw: Callable, assertion: str, allows: tuple[str, ...], named: str
) -> None:
    # vendor lies inside internet: its addresses are both.  With any source, the
    # counterexample names the external the opening allow names; with a listed source, the
    # listed one.  Moved to 1.0.0.0/24, vendor's addresses come first in address order.
    low = (
        policy(*allows, f"assert {assertion}")
        .replace(
            "external internet { address 0.0.0.0/0 }",
            "external internet { address 0.0.0.0/0 except 0.0.0.0/8 }",
        )
        .replace("203.0.113.0/24", "1.0.0.0/24")
    )
    out = zw(low)
    result = out.assertion(assertion)
    assert result.status == "fail"
    assert hops(result) == [(named, "pump", ("hl7",), L)]
    assert out.only("E306").message == (
        f"assertion '{assertion}' fails: '{named}' may initiate tcp/2575 to 'pump' unencrypted"
    )


def test_encrypted_uses_the_plaintext_flag_of_the_opening_allow(zw: Callable) -> None:
    # same packets under two names: the allow that names the plaintext one makes it plaintext
    out = zw(
        policy(
            "service mllp_tls = tcp/2575",
            "allow engine -> ws : mllp_tls",
            "allow byod -> ws : hl7",
            "assert encrypted engine -> ws",
            "assert encrypted byod -> ws",
        )
    )
    assert out.assertion("encrypted engine -> ws").status == "pass"
    assert out.assertion("encrypted byod -> ws").status == "fail"


def test_encrypted_ignores_plaintext_removed_by_a_deny(zw: Callable) -> None:
    out = zw(
        policy(
            "allow engine -> ws : hl7, https", "deny engine -> ws : hl7", "assert encrypted -> ws"
        )
    )
    assert out.assertion("encrypted -> ws").status == "pass"


# ---------------------------------------------------------------------------------------------
# accepted risks
# ---------------------------------------------------------------------------------------------


def test_failing_accepted_assertion_is_w109_and_status_accepted(zw: Callable) -> None:
    out = zw(
        policy("allow engine -> ws : hl7", 'assert encrypted -> ws accepted "RISK-7: legacy MLLP"')
    )
    result = out.assertion("encrypted -> ws")
    assert result.status == "accepted"
    assert hops(result) == [("engine", "ws", ("hl7",), L)]
    diag = out.only("W109")
    assert diag.severity is Severity.WARNING
    assert diag.message == (
        "assertion 'encrypted -> ws' fails (accepted risk): 'engine' may "
        "initiate tcp/2575 to 'ws' unencrypted"
    )
    assert [(n, s.line if s else None) for n, s in diag.notes] == [
        ("asserted here", L + 1),
        ("accepted as a documented risk: RISK-7: legacy MLLP", None),
    ]
    assert not any(d.is_error for d in out.diagnostics)


def test_passing_accepted_assertion_is_stale_w110(zw: Callable) -> None:
    out = zw(policy("allow engine -> ws : https", 'assert unreachable ws -> engine accepted "x"'))
    result = out.assertion("unreachable ws -> engine")
    assert (result.status, result.counterexample) == ("pass", None)
    diag = out.only("W110")
    assert diag.message == (
        "assertion 'unreachable ws -> engine' holds, so its risk acceptance "
        "is stale; remove 'accepted'"
    )
    assert diag.span is not None and diag.span.line == L + 1


@pytest.mark.parametrize(
    "assertion",
    [
        "unreachable ws -> server",
        "denied ws -> server",
        "allowed server -> ws : https",
        "only guest -> server",
        "limited ws -> server : dns",
        "encrypted -> server",
    ],
    ids=["unreachable", "denied", "allowed", "only", "limited", "encrypted"],
)
def test_every_kind_can_be_accepted(zw: Callable, assertion: str) -> None:
    out = zw(policy("allow ws -> server : hl7", f'assert {assertion} accepted "r"'))
    assert out.assertion(assertion).status == "accepted"
    assert out.codes.count("W109") == 1
    assert not any(d.code.startswith("E3") for d in out.diagnostics)


def test_results_keep_assertion_order_and_text(zw: Callable) -> None:
    out = zw(
        policy(
            "allow ws -> server : https",
            "assert   only ws ->\n  server   # who",
            "assert denied ws -> pump",
            "assert unreachable guest -> server",
        )
    )
    assert [(a.text, a.status) for a in out.compiled.assertions] == [
        ("only ws -> server", "pass"),
        ("denied ws -> pump", "pass"),
        ("unreachable guest -> server", "pass"),
    ]
    assert [a.span.line for a in out.compiled.assertions if a.span] == [L + 1, L + 3, L + 4]


def test_allow_without_services_counts_as_plaintext(zw: Callable) -> None:
    # docs/language-notes.md: an allow with no services cannot be shown to be encrypted
    out = zw(policy("allow engine -> pump", "assert encrypted -> pump"))
    assert hops(out.assertion("encrypted -> pump")) == [("engine", "pump", ("ip",), L)]


def test_allowed_between_two_externals_always_fails(zw: Callable) -> None:
    out = zw(policy("allow any -> any : https", "assert allowed internet -> vendor : https"))
    result = out.assertion("allowed internet -> vendor : https")
    assert result.status == "fail"
    assert "never crosses a gateway" in out.only("E303").message


# ---------------------------------------------------------------------------------------------
# unreachable against brute force on small random flow graphs
# ---------------------------------------------------------------------------------------------


def _brute_force_path(
    edges: dict[str, set[str]], externals: set[str], src: set[str], dst: set[str], without: set[str]
) -> list[str] | None:
    """Shortest path, ties broken by the smallest node sequence, enumerating simple paths."""
    best: list[str] | None = None
    for s in sorted(src):
        frontier = [[s]]
        while frontier:
            hits = [p for p in frontier if len(p) > 1 and p[-1] in dst and p[-1] != s]
            if hits:
                found = min(hits)
                if best is None or (len(found), found) < (len(best), best):
                    best = found
                break
            nxt = []
            for p in frontier:
                v = p[-1]
                if len(p) > 1 and (v in externals or v in without):
                    continue  # externals and 'without' members are never intermediate hops
                nxt.extend(p + [u] for u in sorted(edges.get(v, ())) if u not in p)
            frontier = nxt
    return best


def test_unreachable_agrees_with_brute_force(zw: Callable) -> None:
    rng = random.Random(20261122)
    for trial in range(120):
        classes = [f"c{i}" for i in range(rng.randint(2, 6))]
        externals = ["e0", "e1"][: rng.randint(0, 2)]
        nodes = classes + externals
        edges: dict[str, set[str]] = {}
        rules = []
        for _ in range(rng.randint(0, 10)):
            a, b = rng.choice(nodes), rng.choice(nodes)
            if a != b and not (a in externals and b in externals):
                rules.append(f"allow {a} -> {b} : s")
                edges.setdefault(a, set()).add(b)
        src = set(rng.sample(nodes, rng.randint(1, min(3, len(nodes)))))
        dst = set(rng.sample(nodes, rng.randint(1, min(3, len(nodes)))))
        without = set(rng.sample(classes, rng.randint(0, min(2, len(classes)))))
        text = f"unreachable {', '.join(sorted(src))} -> {', '.join(sorted(dst))}"
        if without:
            text += f" without {', '.join(sorted(without))}"
        out = zw(
            "service s = tcp/1\n"
            + "".join(
                f"class {c} {{ vlan {10 + i} subnet 10.0.{i}.0/24 }}\n"
                for i, c in enumerate(classes)
            )
            + "".join(
                f"external {e} {{ address 192.0.{i}.0/24 }}\n" for i, e in enumerate(externals)
            )
            + "\n".join(rules)
            + f"\nassert {text}\n"
        )
        result = out.assertion(text)
        got = None
        if result.status != "pass":
            path = hops(result)
            got = [path[0][0]] + [h[1] for h in path]
        assert got == _brute_force_path(edges, set(externals), src, dst, without), (trial, out.text)
