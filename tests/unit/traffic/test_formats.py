# ruff: noqa: E501
"""Every flow format, read through the engine: the record shapes are the ones the tools print
(Zeek's conn.log header, nfdump's CSV header and Summary block, pmacct's CSV header, kernel
LOG lines, IOS ACL log messages), and bad records are counted and shown with file:line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from traffic_helpers import compiled, write

from zonewall.traffic.engine import NodeTable, Observed, aggregate
from zonewall.traffic.formats import FlowInputError, detect


def run(tmp_path: Path, name: str, text: str) -> tuple[Observed, NodeTable]:
    c, _ = compiled(tmp_path)
    nodes = NodeTable(c)
    return aggregate(c, [write(tmp_path, name, text)], nodes), nodes


def triples(obs: Observed, nodes: NodeTable) -> set[tuple[str, str, int]]:
    return {(nodes.label(o.src), nodes.label(o.dst), o.key) for o in obs.flows}


TCP, UDP, ICMP = 6 * 65536, 17 * 65536, 1 * 65536

CSV = """\
src,dst,proto,dport,packets,bytes,first_seen,last_seen
10.10.1.5,10.10.2.9,tcp,443,10,1000,2025-03-03T07:00:00Z,2025-03-03T07:05:00Z
10.10.1.6,10.10.2.9,TCP,443,5,500,1740985200,1740985500
10.10.3.7,203.0.113.200,6,443,1,60,,
"""


def test_csv_with_named_columns(tmp_path: Path) -> None:
    obs, nodes = run(tmp_path, "flows.csv", CSV)
    assert obs.files[0].format == "csv"
    assert (obs.files[0].records, obs.files[0].bad, obs.files[0].skipped) == (3, 0, 1)
    assert triples(obs, nodes) == {
        ("pumps", "servers", TCP + 443),
        ("guests", "cloud & internet & vendor", TCP + 443),
    }
    pumps = next(o for o in obs.flows if nodes.label(o.src) == "pumps")
    assert (pumps.flows, pumps.packets, pumps.bytes) == (2, 15, 1500)
    assert (pumps.first, pumps.last) == (1740985200.0, 1740985500.0)


def test_semicolons_quotes_and_aliases(tmp_path: Path) -> None:
    text = (
        '"Source IP";"Destination";"Protocol";"dst_port";"pkts"\n'
        '"10.10.1.5";"10.10.2.9";"udp";"53";"3"\n'
    )
    obs, nodes = run(tmp_path, "x.csv", text.replace('"Source IP"', '"source_ip"'))
    assert triples(obs, nodes) == {("pumps", "servers", UDP + 53)}


NFDUMP_16 = """\
ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr
2025-03-03 07:00:01,2025-03-03 07:00:09,8.000,10.10.1.5,10.10.2.9,51234,443,TCP,.AP.SF,0,0,12,3400,0,0,3,4,0,0,24,24,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0.000,0.000,0.000,10.0.0.1,0/0,1,1970-01-01 00:00:00.000
2025-03-03 07:00:02,2025-03-03 07:00:02,0.000,10.10.1.5,10.10.2.9,0,8.0,ICMP,......,0,0,1,84,0,0,3,4,0,0,24,24,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0.000,0.000,0.000,10.0.0.1,0/0,1,1970-01-01 00:00:00.000
Summary
flows,bytes,packets,avg_bps,avg_pps,avg_bpp
2,3484,13,3484,1,268
"""


def test_nfdump_16_csv_with_its_summary_block(tmp_path: Path) -> None:
    obs, nodes = run(tmp_path, "nf.csv", NFDUMP_16)
    assert obs.files[0].format == "nfdump"
    assert (obs.files[0].records, obs.files[0].bad) == (2, 0)
    assert triples(obs, nodes) == {("pumps", "servers", TCP + 443), ("pumps", "servers", ICMP + 8)}


def test_nfdump_17_csv(tmp_path: Path) -> None:
    text = (
        "firstSeen,lastSeen,duration,proto,srcAddr,dstAddr,srcPort,dstPort,packets,bytes\n"
        "2025-03-03 07:00:01.000,2025-03-03 07:00:09.250,8.250,TCP,10.10.1.5,10.10.2.9,"
        "51234,443,12,3400\n"
    )
    obs, nodes = run(tmp_path, "nf17.csv", text)
    assert obs.files[0].format == "nfdump"
    assert triples(obs, nodes) == {("pumps", "servers", TCP + 443)}
    assert obs.flows[0].last == obs.flows[0].first + 8.25  # type: ignore[operator]


def test_pmacct_csv(tmp_path: Path) -> None:
    text = (
        "SRC_MAC,DST_MAC,VLAN,SRC_IP,DST_IP,SRC_PORT,DST_PORT,PROTOCOL,TOS,PACKETS,FLOWS,"
        "BYTES\n00:0c:29:aa:bb:cc,00:0c:29:dd:ee:ff,0,10.10.1.5,10.10.2.9,51234,443,tcp,0,"
        "12,3,3400\n"
    )
    obs, nodes = run(tmp_path, "pm.csv", text)
    assert obs.files[0].format == "pmacct"
    assert [(o.flows, o.packets) for o in obs.flows] == [(3, 12)]


ZEEK = """\
#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2019-11-08-11-44-16
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]
1521911721.255387\tC8Tful1TvM3Zf5x8fl\t10.10.1.5\t39681\t10.10.2.9\t443\ttcp\t-\t0.004266\t97\t19\tRSTR\t-\t-\t0\tShADTdtr\t10\t730\t6\t342\t-
1521911722.000000\tCxAbc\t10.10.1.5\t8\t10.10.2.9\t0\ticmp\t-\t-\t-\t-\tOTH\t-\t-\t0\t-\t1\t84\t0\t0\t-
#close\t2019-11-08-11-44-16
"""


def test_zeek_conn_log_tsv(tmp_path: Path) -> None:
    obs, nodes = run(tmp_path, "conn.log", ZEEK)
    assert obs.files[0].format == "zeek-tsv"
    assert (obs.files[0].records, obs.files[0].bad) == (2, 0)
    assert triples(obs, nodes) == {("pumps", "servers", TCP + 443), ("pumps", "servers", ICMP + 8)}
    tcp = next(o for o in obs.flows if o.key == TCP + 443)
    assert (tcp.packets, tcp.bytes) == (16, 1072)
    assert tcp.last == pytest.approx(1521911721.255387 + 0.004266)


def test_zeek_conn_log_json_and_gzip(tmp_path: Path) -> None:
    line = (
        '{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"10.10.3.7",'
        '"id.orig_p":36844,"id.resp_h":"93.184.216.34","id.resp_p":53,"proto":"udp",'
        '"service":"dns","duration":0.066,"orig_pkts":1,"orig_ip_bytes":66,'
        '"resp_pkts":1,"resp_ip_bytes":108}\n'
    )
    c, _ = compiled(tmp_path)
    path = tmp_path / "conn.json.gz"
    path.write_bytes(gzip.compress((line * 3).encode()))
    nodes = NodeTable(c)
    obs = aggregate(c, [str(path)], nodes)
    assert obs.files[0].format == "zeek-json"
    assert triples(obs, nodes) == {("guests", "internet", UDP + 53)}
    assert (obs.flows[0].flows, obs.flows[0].bytes) == (3, 522)


KERNEL = """\
2025-03-03T07:00:01.202833+00:00 fw kernel: zw-drop IN=eth1.100 OUT=eth0 MAC=00:16:3e:aa:bb:cc:00:16:3e:dd:ee:ff:08:00 SRC=10.10.3.7 DST=10.10.1.5 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP SPT=40000 DPT=443 WINDOW=29200 RES=0x00 SYN URGP=0
Mar  3 07:00:02 fw kernel: [12345.678901] zw-drop IN=eth1.100 OUT=eth1.101 SRC=10.10.3.7 DST=10.10.1.5 LEN=84 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1
Mar  3 07:00:03 fw kernel: [12346.1] zw-ipv6-closed IN=eth1.100 OUT=eth0 SRC=fe80:0000:0000:0000:0216:3eff:feaa:bbcc DST=ff02:0000:0000:0000:0000:0000:0000:0001 LEN=72 TC=0 HOPLIMIT=255 FLOWLBL=0 PROTO=ICMPv6 TYPE=135 CODE=0
Mar  3 07:00:04 fw sshd[123]: Accepted publickey for admin from 10.10.2.9 port 50000 ssh2
Mar  3 07:00:05 fw kernel: zw-drop IN=eth1.100 OUT=eth0 SRC=10.10.3.7 DST=10.10.1.5 LEN=40 TOS=0x00 PREC=0x00 TTL=63 ID=2 PROTO=47
"""


def test_kernel_log_lines(tmp_path: Path) -> None:
    obs, nodes = run(tmp_path, "kern.log", KERNEL)
    stats = obs.files[0]
    assert stats.format == "kernel-log"
    assert (stats.records, stats.ipv6, stats.bad, stats.skipped) == (4, 1, 0, 1)
    assert triples(obs, nodes) == {
        ("guests", "pumps", TCP + 443),
        ("guests", "pumps", ICMP + 8),
        ("guests", "pumps", 47 * 65536),
    }
    timed = next(o for o in obs.flows if o.key == TCP + 443)
    assert timed.first == 1740985201.202833 and timed.bytes == 60


IOS = """\
Oct 28 13:15:28 10.0.80.11 877630: Oct 28 13:15:27.383 CEST: %SEC-6-IPACCESSLOGP: list ZW-guests-1A2B3C4D denied udp 10.10.3.7(59646) (TenGigabitEthernet3/3 0022.bd37.c800) -> 10.10.1.5(53), 1 packet
Sep 26 12:13:08 192.168.0.1 %SEC-6-IPACCESSLOGP: list 100 denied tcp 10.10.3.7(58282) -> 10.10.1.5(22), 5 packets
%SEC-6-IPACCESSLOGDP: list 151 denied icmp 10.10.3.7 -> 10.10.1.5 (8/0), 1 packet
%SEC-6-IPACCESSLOGNP: list 171 denied 0 10.10.3.7 -> 10.10.1.5, 1 packet
%SEC-6-IPACCESSLOGS: list 10 denied 10.10.3.7 1 packet
%LINK-3-UPDOWN: Interface GigabitEthernet1/0/29, changed state to up
"""


def test_ios_acl_log_lines(tmp_path: Path) -> None:
    obs, nodes = run(tmp_path, "ios.log", IOS)
    stats = obs.files[0]
    assert stats.format == "ios-log"
    assert (stats.records, stats.bad, stats.skipped) == (4, 0, 2)
    assert triples(obs, nodes) == {
        ("guests", "pumps", UDP + 53),
        ("guests", "pumps", TCP + 22),
        ("guests", "pumps", ICMP + 8),
        ("guests", "pumps", 0),
    }
    assert next(o for o in obs.flows if o.key == TCP + 22).packets == 5


def test_bad_records_are_counted_and_shown_with_their_line(tmp_path: Path) -> None:
    good = "10.10.1.5,10.10.2.9,tcp,443,1,60\n"
    text = (
        "src,dst,proto,dport,packets,bytes\n"
        + good * 20
        + "10.10.1.999,10.10.2.9,tcp,443,1,60\n"
        + good
        + "10.10.1.5,10.10.2.9,xyz,443,1,60\n"
        + "10.10.1.5,10.10.2.9,tcp,70000,1,60\n"
        + "10.10.1.5,10.10.2.9,tcp,443,many,60\n"
        + "10.10.1.5,10.10.2.9\n"
        + "10.10.1.5,10.10.2.9,udp,53,1,60\n" * 3
        + "\xff\xfe,x\n"
        + good
    )
    obs, _ = run(tmp_path, "bad.csv", text)
    stats = obs.files[0]
    assert (stats.records, stats.bad) == (31, 6)
    assert [(line, why) for line, why, _ in stats.first_bad] == [
        (22, "source address '10.10.1.999' is not an IPv4 address"),
        (24, "protocol 'xyz' is not a protocol name (tcp, udp, icmp, ...) or number 0-255"),
        (25, "destination port '70000' is not a number 0-65535"),
        (26, "packets 'many' is not a count"),
        (27, "protocol missing is not a protocol name (tcp, udp, icmp, ...) or number 0-255"),
    ]


def test_utf8_text_is_read_whatever_its_bytes(tmp_path: Path) -> None:
    """DuckDB's Latin-1 refuses the bytes 0x80-0x9f, which UTF-8 text is full of (an em dash
    is e2 80 94): such a file is read as UTF-8, its odd record one bad record, not an error;
    a file that is neither UTF-8 nor Latin-1 is an error naming the files."""
    c, _ = compiled(tmp_path)
    good = b"10.10.1.5,10.10.2.9,tcp,443\n"
    dash = b"src,dst,proto,dport\n" + good * 3 + "10.10.1.5,10.10.2.9,tcp,443\u2014x\n".encode()
    (tmp_path / "dash.csv").write_bytes(dash)
    (tmp_path / "dash.csv.gz").write_bytes(gzip.compress(dash, mtime=0))
    (tmp_path / "plain.csv").write_bytes(b"src,dst,proto,dport\n" + good + b"1,2,tcp,\xff\n" + good)
    paths = [str(tmp_path / n) for n in ("dash.csv", "dash.csv.gz", "plain.csv")]
    obs = aggregate(c, paths)
    assert [(f.records, f.bad) for f in obs.files] == [(4, 1), (4, 1), (3, 1)]
    assert obs.files[0].first_bad[0][1] == "destination port '443\u2014x' is not a number 0-65535"
    assert obs.files[2].first_bad[0][2] == "1,2,tcp,\xff"  # Latin-1: every byte a character
    (tmp_path / "both.csv").write_bytes(dash + b"1,2,tcp,\xff\n")
    with pytest.raises(FlowInputError, match="both.csv: cannot be read"):
        aggregate(c, [str(tmp_path / "both.csv")])


def test_the_file_named_is_the_file_read(tmp_path: Path) -> None:
    """DuckDB takes `[1]` in a name for a glob (`f[1].csv` would read `f1.csv`) and a
    backslash for a folder separator: such files are read through their descriptor."""
    c, _ = compiled(tmp_path)
    one = b"src,dst,proto,dport\n10.10.1.5,10.10.2.9,tcp,443\n"
    (tmp_path / "f1.csv").write_bytes(one)
    names = ["f[1].csv", "b\\k*?{a}.csv", "g[1].dat"]
    (tmp_path / names[0]).write_bytes(one + one[20:] * 2)
    (tmp_path / names[1]).write_bytes(one + one[20:])
    (tmp_path / names[2]).write_bytes(gzip.compress(one + one[20:] * 3, mtime=0))  # no .gz
    obs = aggregate(c, [str(tmp_path / n) for n in names])
    assert [(f.path.rsplit("/", 1)[1], f.records) for f in obs.files] == list(
        zip(names, [3, 2, 4], strict=True)
    )


def test_a_mostly_bad_file_is_an_error(tmp_path: Path) -> None:
    text = "src,dst,proto,dport\n10.10.1.5,10.10.2.9,tcp,443\nx,y,z,w\nx,y,z,w\n"
    with pytest.raises(FlowInputError, match=r"mostly\.csv:3: 2 of 3 records cannot be read"):
        run(tmp_path, "mostly.csv", text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"no flow records \(the file is empty\)"),
        ("src,dst,packets\n1.2.3.4,5.6.7.8,1\n", "no column for proto, dport"),
        ("{not json\n", "is not a JSON object"),
        ("#separator \\x09\n#path\tconn\n", "without a '#fields' line"),
        ("src,dst,proto,dport\n\n\n", "no flow records found"),
    ],
    ids=["empty", "missing-columns", "bad-json", "zeek-no-fields", "header-only"],
)
def test_unreadable_files_are_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FlowInputError, match=message):
        run(tmp_path, "f.csv", text)


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FlowInputError, match=r"nothere\.csv: cannot read"):
        detect(str(tmp_path / "nothere.csv"))


def test_the_aggregated_table_is_an_input(tmp_path: Path) -> None:
    text = (
        "src_node,dst_node,proto,dport,packets,bytes,flows,first_seen,last_seen\n"
        "pumps,servers,6,443,100,9000,7,2025-03-03T07:00:00Z,2025-03-03T08:00:00Z\n"
        "unknown:10.99.1.0/24,servers,6,443,1,60,1,,\n"
        "nosuch,servers,6,443,1,60,1,,\n" + "pumps,servers,17,53,1,60,2,,\n" * 3
    )
    obs, nodes = run(tmp_path, "agg.csv", text)
    assert obs.files[0].format == "aggregate"
    assert obs.files[0].bad == 1
    assert obs.files[0].first_bad[0][:2] == (
        4,
        "node 'nosuch' is not a class or external of the policy",
    )
    assert triples(obs, nodes) == {
        ("pumps", "servers", TCP + 443),
        ("10.99.1.0/24", "servers", TCP + 443),
        ("pumps", "servers", UDP + 53),
    }
    assert next(o for o in obs.flows if o.key == TCP + 443 and o.src >= 0).flows == 7
