"""Address-to-node mapping against a plain-Python oracle, replay verdicts, the command line."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traffic_helpers import HOSPITAL, HOSPITAL_FLOWS, POLICY, compiled, run, write

from zonewall.ir import CompiledPolicy
from zonewall.traffic.engine import NodeTable, aggregate, unknown_key
from zonewall.traffic.replay import judge

CLASSES = {
    "pumps": "10.10.1.0/24",
    "servers": "10.10.2.0/24",
    "guests": "10.10.3.0/24",
    "partner_gw": "10.50.7.0/24",
}
EXTERNALS = {
    "internet": (["0.0.0.0/0"], ["10.0.0.0/8", "192.168.0.0/16"]),
    "vendor": (["203.0.113.0/24"], []),
    "cloud": (["203.0.113.128/25", "198.51.100.0/24"], []),
    "partner": (["10.50.0.0/16"], []),
}


def oracle(c: CompiledPolicy, ip: int) -> int | None:
    """The endpoint of an address, from the policy text's own terms: a class first; else the
    atom of exactly the externals whose addresses (minus excepts) hold it; else unknown."""
    addr = ipaddress.ip_address(ip)
    for name, net in CLASSES.items():
        if addr in ipaddress.ip_network(net):
            return next(e.id for e in c.endpoints if e.name == name)
    holders = tuple(
        sorted(
            n
            for n, (inc, exc) in EXTERNALS.items()
            if any(addr in ipaddress.ip_network(p) for p in inc)
            and not any(addr in ipaddress.ip_network(p) for p in exc)
        )
    )
    if not holders:
        return None
    return next(e.id for e in c.endpoints if e.kind == "external" and e.externals == holders)


INTERESTING = [
    ipaddress.ip_network(n)
    for n in (
        "10.10.0.0/22",
        "10.50.6.0/23",
        "10.50.255.0/24",
        "203.0.113.0/24",
        "198.51.100.0/24",
        "192.168.0.0/24",
        "9.255.255.0/24",
        "11.0.0.0/24",
        "0.0.0.0/24",
        "255.255.255.0/24",
    )
]
addresses = st.one_of(
    st.integers(0, 2**32 - 1),
    st.sampled_from(INTERESTING).flatmap(
        lambda n: st.integers(int(n.network_address), int(n.broadcast_address))
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ip=addresses)
def test_node_table_agrees_with_the_oracle(tmp_path: Path, ip: int) -> None:
    c, _ = compiled(tmp_path)
    assert NodeTable(c).node_of(ip) == oracle(c, ip)


def test_the_engine_maps_like_the_oracle(tmp_path: Path) -> None:
    """The SQL range join, on every interesting /24's edges and samples inside."""
    c, _ = compiled(tmp_path)
    ips = sorted(
        {
            i
            for n in INTERESTING
            for i in (int(n.network_address), int(n.broadcast_address), int(n.network_address) + 77)
        }
        | {
            int(ipaddress.ip_address(a))
            for a in ("203.0.113.127", "203.0.113.128", "10.50.7.0", "10.50.6.255")
        }
    )
    text = "src,dst,proto,dport\n" + "".join(
        f"{ipaddress.ip_address(ip)},10.10.2.9,udp,{i}\n" for i, ip in enumerate(ips)
    )
    obs = aggregate(c, [write(tmp_path, "map.csv", text)])
    got = {o.key - 17 * 65536: o.src for o in obs.flows}
    servers = next(e.id for e in c.endpoints if e.name == "servers")
    for i, ip in enumerate(ips):
        expected = oracle(c, ip)
        if expected == servers:  # same node: still aggregated, keyed by the port
            pass
        assert got[i] == (expected if expected is not None else unknown_key(ip)), (
            ipaddress.ip_address(ip)
        )


FLOWS = """\
src,dst,proto,dport,packets,first_seen,last_seen
10.10.1.5,10.10.2.9,tcp,443,10,2025-03-03T07:00:00Z,2025-03-03T07:10:00Z
10.10.1.5,10.10.2.9,tcp,8443,4,2025-03-03T08:00:00Z,2025-03-03T08:01:00Z
10.10.1.6,10.10.2.9,tcp,8443,4,2025-03-03T09:00:00Z,2025-03-03T09:01:00Z
10.10.3.7,203.0.113.5,tcp,443,2,,
10.10.3.7,10.10.1.5,tcp,443,1,,
10.10.1.5,10.10.1.6,tcp,22,1,,
10.99.1.5,10.10.2.9,tcp,443,3,,
10.10.2.9,10.50.7.20,tcp,2575,1,,
"""


def test_replay_verdicts(tmp_path: Path) -> None:
    c, sources = compiled(tmp_path)
    r = judge(c, sources, aggregate(c, [write(tmp_path, "f.csv", FLOWS)]))
    blocked = {(b.src, b.dst, b.service): b for b in r.blocked}
    assert set(blocked) == {
        ("pumps", "servers", "tcp/8443"),
        ("guests", "internet & vendor", "https"),
        ("guests", "pumps", "https"),
        ("servers", "partner_gw", "hl7"),
    }
    eighty = blocked["pumps", "servers", "tcp/8443"]
    assert (eighty.counts.flows, eighty.counts.packets, eighty.denies) == (2, 8, ())
    vendor = blocked["guests", "internet & vendor", "https"]
    assert [(d.span.line if d.span else 0, d.action) for d in vendor.denies] == [(18, "deny")]
    assert vendor.opened_by[0].span.line == 17  # type: ignore[union-attr]
    assert r.not_filtered.flows == 1  # inside pumps
    assert [u.text for u in r.unused] == [
        'allow servers -> vendor : https "vendor service"',
        'allow guests -> internet : https, dns "guest internet"',
        'allow servers -> partner : hl7 "results to the partner"',
        'allow partner_gw -> servers : hl7 "partner orders"',
    ]
    assert [(v.assertion, v.src, v.dst, v.service, v.permitted) for v in r.violations] == [
        ("denied guests -> pumps", "guests", "pumps", "https", False),
        ("only pumps, partner_gw -> servers", "10.99.1.0/24", "servers", "https", False),
    ]
    assert [(u.net, u.as_src.flows, u.as_dst.flows) for u in r.unknown] == [("10.99.1.0/24", 1, 0)]


def test_the_example_hospital_replay(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "replay", HOSPITAL, *HOSPITAL_FLOWS)
    assert code == 1
    assert "  lab_analyzer -> lis : hl7  14 flow(s)" in out
    lines = out.splitlines()
    assert (
        lines[lines.index(next(x for x in lines if "lab_analyzer -> lis : hl7" in x)) + 1]
        == "      default deny: no allow covers it"
    )
    assert "allows never used (18 of 36):" in out
    assert "assert denied legacy_win -> external" in out
    assert "10.60.3.0/24" in out


@pytest.mark.parametrize(("fail_on", "code"), [("blocked", 1), ("violations", 1), ("none", 0)])
def test_fail_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fail_on: str, code: int
) -> None:
    policy = write(tmp_path, "p.zw", POLICY)
    flows = write(tmp_path, "f.csv", FLOWS)
    assert run(capsys, "replay", policy, flows, "--fail-on", fail_on)[0] == code
    clean = write(tmp_path, "ok.csv", "src,dst,proto,dport\n10.10.1.5,10.10.2.9,tcp,443\n")
    assert run(capsys, "replay", policy, clean, "--fail-on", fail_on)[0] == 0


def test_formats_and_nodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    policy = write(tmp_path, "p.zw", POLICY)
    flows = write(tmp_path, "f.csv", FLOWS)
    code, out, _ = run(capsys, "replay", policy, flows, "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and len(doc["blocked"]) == 4
    code, out, _ = run(capsys, "replay", policy, flows, "--format", "markdown")
    assert "### Blocked (4)" in out and "| pumps | servers | tcp/8443 |" in out
    code, out, _ = run(capsys, "replay", policy, "--nodes")
    assert code == 0 and out.startswith("lo,hi,node\n") and "\n168427776,168428031,pumps\n" in out


def test_usage_and_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "p.zw", POLICY)
    assert run(capsys, "replay", policy)[0] == 2
    code, _, err = run(capsys, "replay", policy, str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv: cannot read" in err
    broken = write(tmp_path, "broken.zw", "class a {")
    assert run(capsys, "replay", broken, write(tmp_path, "x.csv", FLOWS))[0] == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "src,dst,proto,dport",
                    "10.10.1.5,10.10.2.9,tcp,443",
                    "{",
                    "#separator \\x09",
                    "#fields\tts",
                    "\x00\x01",
                    "a;b;c",
                    "SRC=1",
                    " SRC=1.2.3.4 DST=5.6.7.8 LEN=1 PROTO=TCP SPT=1 DPT=2 ",
                    ",,,,",
                    "%SEC-6-IPACCESSLOGP: list x denied tcp",
                    '"',
                    "\ufeff",
                ]
            ),
            max_size=8,
        ).map(lambda xs: "\n".join(xs).encode()),
    )
)
def test_no_traceback_for_any_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    policy = write(tmp_path, "p.zw", POLICY)
    path = tmp_path / "garbage.log"
    path.write_bytes(data)
    code, _, _ = run(capsys, "replay", policy, str(path), "--fail-on", "none")
    assert code in (0, 1)


def test_check_never_imports_duckdb(tmp_path: Path) -> None:
    policy = write(tmp_path, "p.zw", POLICY)
    code = (
        "import sys; from zonewall.cli import main; main(['check', '-q', sys.argv[1]]); "
        "print('duckdb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, policy], capture_output=True, text=True)
    assert out.stdout.strip().endswith("False")


def test_json_is_written_row_by_row_as_one_document_would_be(tmp_path: Path) -> None:
    import dataclasses
    import json

    from zonewall.present.replay import replay_json_chunks

    c, sources = compiled(tmp_path)
    r = judge(c, sources, aggregate(c, [write(tmp_path, "f.csv", FLOWS)]))
    empty = dataclasses.replace(r, blocked=(), unused=(), violations=(), unknown=())
    for report in (r, empty):
        chunks = list(replay_json_chunks(report, "p.zw", "blocked"))
        text = "".join(chunks)
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    # one piece per row: no piece holds two blocked groups
    rows = [x for x in replay_json_chunks(r, "p.zw", "blocked") if '"decided_by"' in x]
    assert len(rows) == len(r.blocked) == 4


def test_pair_traffic_adds_up_to_the_verdicts(tmp_path: Path) -> None:
    c, sources = compiled(tmp_path)
    r = judge(c, sources, aggregate(c, [write(tmp_path, "f.csv", FLOWS)]))
    assert sum(p.permitted.flows for p in r.pairs) == r.permitted.flows
    assert sum(p.blocked.flows for p in r.pairs) == sum(b.counts.flows for b in r.blocked)
    assert [(p.src, p.dst) for p in r.pairs] == sorted({(p.src, p.dst) for p in r.pairs})
    label = NodeTable(c).label
    blocked = {(label(p.src), label(p.dst)) for p in r.pairs if p.blocked.flows}
    assert blocked == {(b.src, b.dst) for b in r.blocked}
