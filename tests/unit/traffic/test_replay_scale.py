"""What replay at scale relies on: the hash-join node tables map like the intervals, the rule
index decides like `review.explain`, unreachable is judged on observed paths, and reply records
are turned around (issue 16)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traffic_helpers import POLICY, compiled, write

from zonewall.packets import PacketSet
from zonewall.review.explain import pair_judge
from zonewall.traffic.engine import MIXED, NodeTable, aggregate
from zonewall.traffic.formats import FlowInputError
from zonewall.traffic.replay import judge


def _lookup(levels: tuple[list[tuple[int, int]], ...], ip: int) -> int | None:
    """The SQL's CASE over the three joins, in Python."""
    t16, t24, t32 = (dict(t) for t in levels)
    for table, shift in ((t16, 16), (t24, 8), (t32, 0)):
        node = table.get(ip >> shift)
        if node is None:
            return None
        if node != MIXED:
            return node
    return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ip=st.one_of(
        st.integers(0, 2**32 - 1),
        st.integers(0x0A0A0000, 0x0A0AFFFF),
        st.integers(0x0A320000, 0x0A32FFFF),
        st.integers(0xCB007100, 0xCB0071FF),
    )
)
def test_levels_agree_with_the_intervals(tmp_path: Path, ip: int) -> None:
    c, _ = compiled(tmp_path)
    nodes = NodeTable(c)
    assert _lookup(nodes.levels(), ip) == nodes.node_of(ip)


def test_levels_split_a_small_class_down_to_addresses(tmp_path: Path) -> None:
    text = POLICY.replace(
        "class guests  { subnet 10.10.3.0/24 }", "class guests  { subnet 10.10.3.0/28 }"
    )
    path = write(tmp_path, "small.zw", text)
    from zonewall.report import run_check

    c = run_check(path).compiled
    assert c is not None
    nodes = NodeTable(c)
    for ip in ("10.10.3.0", "10.10.3.15", "10.10.3.16", "10.10.2.255", "8.8.8.8"):
        n = int(ipaddress.ip_address(ip))
        assert _lookup(nodes.levels(), n) == nodes.node_of(n), ip
    flows = "src,dst,proto,dport\n10.10.3.15,8.8.8.8,tcp,443\n10.10.3.16,8.8.8.8,tcp,443\n"
    obs = aggregate(c, [write(tmp_path, "f.csv", flows)])
    guests = next(e.id for e in c.endpoints if e.name == "guests")
    assert min(o.src for o in obs.flows) < 0  # 10.10.3.16 is unknown space
    assert any(o.src == guests for o in obs.flows)


def test_deciders_agree_with_explain(tmp_path: Path) -> None:
    c, sources = compiled(tmp_path)
    flows = "src,dst,proto,dport\n" + "".join(
        f"{s},{d},{p},{port}\n"
        for s in ("10.10.1.5", "10.10.3.7", "10.10.2.9")
        for d in ("10.10.2.9", "203.0.113.5", "203.0.113.200", "10.50.7.1", "8.8.8.8")
        for p, port in (("tcp", 443), ("tcp", 2575), ("udp", 53), ("tcp", 8443))
    )
    r = judge(c, sources, aggregate(c, [write(tmp_path, "f.csv", flows)]))
    ask = pair_judge(c, sources)
    nodes = NodeTable(c)
    by_label = {nodes.label(e.id): e for e in c.endpoints}
    svc = {s.name: s.packets for s in c.services}
    assert r.blocked
    for b in r.blocked:
        packets = svc.get(b.service) or _literal(b.service)
        v = ask(by_label[b.src], by_label[b.dst], packets)
        assert b.denies == v.denies + v.also_denied
        assert b.opened_by == v.allows


def _literal(text: str) -> PacketSet:
    proto, _, port = text.partition("/")
    key = {"tcp": 6, "udp": 17}[proto] * 65536 + int(port)
    return PacketSet.of(key, key)


PATH_POLICY = """\
pool vlans 100-199
service https = tcp/443
service ssh = tcp/22
class guests  { subnet 10.10.3.0/24 }
class byod    { subnet 10.10.4.0/24 }
class jump    { subnet 10.10.5.0/24 }
class pumps   { subnet 10.10.1.0/24 }
allow guests -> byod : https "casting"
allow byod -> jump : ssh "admin"
allow jump -> pumps : ssh "maintenance"
gateway fw { platform iptables  serves internal  interface "eth1.{vlan}"  uplink "eth0" }
assert unreachable guests -> pumps without jump
"""


def test_unreachable_on_a_path_of_observed_hops(tmp_path: Path) -> None:
    from zonewall.report import run_check

    path = write(tmp_path, "p.zw", PATH_POLICY.replace(" without jump", ""))
    report = run_check(path)
    assert report.compiled is None or report.errors  # the policy itself fails the assertion
    path = write(tmp_path, "q.zw", PATH_POLICY)
    report = run_check(path)
    assert report.compiled is not None and not report.errors
    flows = (
        "src,dst,proto,dport\n10.10.3.7,10.10.4.8,tcp,443\n10.10.4.8,10.10.5.9,tcp,22\n"
        "10.10.5.9,10.10.1.5,tcp,22\n"
    )
    r = judge(
        report.compiled,
        report.sources,
        aggregate(report.compiled, [write(tmp_path, "f.csv", flows)]),
    )
    assert r.violations == ()  # the only path runs through `jump`, which `without` excludes
    text = PATH_POLICY.replace(" without jump", " without pumps")
    path = write(tmp_path, "r.zw", text.replace("allow jump -> pumps", "deny jump -> pumps"))
    report = run_check(path)
    assert report.compiled is not None and not report.errors, report.diagnostics
    r = judge(
        report.compiled,
        report.sources,
        aggregate(report.compiled, [write(tmp_path, "f.csv", flows)]),
    )
    [v] = r.violations
    assert [(h.src, h.dst, h.service) for h in v.path] == [
        ("guests", "byod", "https"),
        ("byod", "jump", "ssh"),
        ("jump", "pumps", "ssh"),
    ]
    assert (v.src, v.dst, v.permitted) == ("guests", "pumps", False)


def test_a_reply_record_is_turned_around(tmp_path: Path) -> None:
    c, sources = compiled(tmp_path)
    flows = (
        "src,sport,dst,dport,proto\n10.10.1.5,40000,10.10.2.9,443,tcp\n"
        "10.10.2.9,443,10.10.1.5,40000,tcp\n"  # the reply: pumps -> servers https
        "10.10.2.9,2575,10.50.7.20,51000,tcp\n"  # hl7 reply: partner_gw -> servers
        "10.10.1.5,5000,10.10.2.9,40001,tcp\n"
    )  # not a server port: as written
    r = judge(c, sources, aggregate(c, [write(tmp_path, "f.csv", flows)]))
    assert [(b.src, b.dst, b.service, b.counts.flows) for b in r.blocked] == [
        ("pumps", "servers", "tcp/40001", 1)
    ]
    assert r.permitted.flows == 3


@pytest.mark.parametrize(
    "header, problem",
    [
        (
            "src_node,dst_node,proto,dport,packets,bytes,flows,first_seen,last_seen,site",
            "not part of it: site",
        ),
        ("src_node,dst_node,proto,dport,packets,bytes,flows,first_seen", "missing: last_seen"),
        (
            "src_node,dst_node,proto,dport,packets,bytes,flows,first_seen,last_seen,flows",
            "given twice: flows",
        ),
    ],
    ids=["extra", "missing", "twice"],
)
def test_the_aggregated_header_is_exact(tmp_path: Path, header: str, problem: str) -> None:
    c, _ = compiled(tmp_path)
    with pytest.raises(FlowInputError, match=problem):
        aggregate(c, [write(tmp_path, "agg.csv", header + "\n")])
