"""The embedded engine: DuckDB reads the flow files, maps addresses to nodes, aggregates.

Only aggregated rows reach Python: one per (source node, destination node, protocol, port),
with flows, packets, bytes and first/last seen, plus one row of counts per file and status.
DuckDB is imported here and only here, lazily, so `check` and `build` never pay for it.

**Nodes** are the policy's endpoints (`CompiledPolicy.endpoints`): each class, and each atom
of external address space (the addresses shared by exactly one set of externals, so an address
in `internet` and `pump_vendor` belongs to the atom of both, named `pump_vendor`).  Externals
are compiled minus every class subnet, so the endpoints are disjoint and a class always wins
over an external around it.  They are written as a table of address intervals `(lo, hi,
node)`; the documented SQL maps an address with a range join (`ip BETWEEN lo AND hi`), and
zonewall's own query with three hash joins against lookup tables of the same intervals
(`NodeTable.levels`: /16, /24, address), which is several times faster.  An address in no
node is *unknown*; its key is its /24 (`-1 - (ip >> 8)`), so unknown space is aggregated per
/24 without a second pass.

**The aggregated table** (`AGGREGATE_SQL`) is also an input format: a site whose flow records
live in Spark, Trino or ClickHouse can run that SQL there, with the node table `zonewall
replay POLICY --nodes` prints, and hand zonewall the result as CSV.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from zonewall.ir import CompiledPolicy, Endpoint
from zonewall.traffic.formats import FlowFile, FlowInputError, detect, records_sql, sql_string
from zonewall.traffic.ports import EPHEMERAL_FROM, server_ports

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "AGGREGATE_SQL",
    "BAD_SHOWN",
    "FileStats",
    "NodeTable",
    "Observed",
    "ObservedFlow",
    "aggregate",
    "unknown_key",
]

BAD_SHOWN = 5  # bad records shown per file
MOSTLY_BAD = 0.5  # a file with more bad records than this share of its records is an error

# The aggregation, as a site would run it on its own engine: `flows` holds one row per flow
# record (src, dst as integers, proto as a number, dport, packets, bytes, first/last seen as
# epoch seconds), `nodes` is the table `zonewall replay POLICY --nodes` prints.
AGGREGATE_SQL = """\
SELECT coalesce(s.node, 'unknown:' || ((f.src >> 24) & 255) || '.' || ((f.src >> 16) & 255)
                || '.' || ((f.src >> 8) & 255) || '.0/24') AS src_node,
       coalesce(d.node, 'unknown:' || ((f.dst >> 24) & 255) || '.' || ((f.dst >> 16) & 255)
                || '.' || ((f.dst >> 8) & 255) || '.0/24') AS dst_node,
       f.proto, f.dport,
       sum(f.packets) AS packets, sum(f.bytes) AS bytes, count(*) AS flows,
       min(f.first_seen) AS first_seen, max(f.last_seen) AS last_seen
FROM flows f
LEFT JOIN nodes s ON f.src BETWEEN s.lo AND s.hi
LEFT JOIN nodes d ON f.dst BETWEEN d.lo AND d.hi
GROUP BY 1, 2, 3, 4
"""

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"

_MACROS = (
    # string_split + try_cast beats a regular expression by far on millions of addresses
    """CREATE MACRO zw_ip4l(l) AS CASE WHEN len(l) = 4 AND list_count(l) = 4 THEN
        l[1]::BIGINT * 16777216 + l[2]::BIGINT * 65536 + l[3]::BIGINT * 256 + l[4]::BIGINT
        END""",
    """CREATE MACRO zw_ip4(s) AS zw_ip4l(list_transform(string_split(s, '.'),
        lambda x: try_cast(x AS UTINYINT)))""",
    """CREATE MACRO zw_proto(s) AS CASE lower(s) WHEN 'tcp' THEN 6 WHEN 'udp' THEN 17
        WHEN 'icmp' THEN 1 WHEN 'igmp' THEN 2 WHEN 'gre' THEN 47 WHEN 'esp' THEN 50
        WHEN 'ah' THEN 51 WHEN 'ospf' THEN 89 WHEN 'pim' THEN 103 WHEN 'vrrp' THEN 112
        WHEN 'sctp' THEN 132 ELSE CASE WHEN regexp_full_match(s, '[0-9]{1,3}')
        AND s::INTEGER <= 255 THEN s::INTEGER END END""",
    # nfdump writes ICMP as "type.code", IOS as "type/code": the type is the packet key
    """CREATE MACRO zw_port(s) AS coalesce(try_cast(s AS USMALLINT)::INTEGER,
        CASE WHEN regexp_full_match(s, '[0-9]{1,5}([./][0-9]{1,3})?')
        THEN try_cast(regexp_extract(s, '^[0-9]+') AS USMALLINT)::INTEGER END)""",
    """CREATE MACRO zw_count(s) AS coalesce(try_cast(s AS UBIGINT)::BIGINT,
        CASE WHEN regexp_full_match(s, '[0-9]{1,18}(\\.0+)?')
        THEN regexp_extract(s, '^[0-9]+')::BIGINT END)""",
    # epoch seconds, or ISO 8601 (a zone offset applied when given, else UTC)
    """CREATE MACRO zw_time(s) AS CASE WHEN s IS NULL OR starts_with(s, '0000-00-00') THEN NULL
        WHEN NOT contains(s, '-') THEN try_cast(s AS DOUBLE)
        WHEN length(s) > 19 AND (ends_with(s, 'Z') OR contains(substr(s, 20), '+')
            OR contains(substr(s, 20), '-')) THEN epoch(try_cast(s AS TIMESTAMPTZ))
        ELSE epoch(try_cast(s AS TIMESTAMP)) END""",
    """CREATE MACRO zw_ip6(s) AS regexp_full_match(coalesce(s, ''),
        '[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}(:[0-9]{1,3}(\\.[0-9]{1,3}){3})?')""",
    """CREATE MACRO zw_quote(s) AS CASE WHEN s IS NULL THEN 'missing'
        ELSE '''' || left(s, 40) || '''' END""",
)

# Why a record cannot be read (NULL: it can).  Order matters: the first problem is reported.
_REASON = """CASE
  WHEN kind = 'skip' THEN NULL
  WHEN (src IS NULL AND zw_ip6(src_t)) OR (dst IS NULL AND zw_ip6(dst_t)) THEN 'ipv6'
  WHEN src IS NULL AND src_node_t IS NULL THEN 'source address ' || zw_quote(src_t)
    || ' is not an IPv4 address'
  WHEN dst IS NULL AND dst_node_t IS NULL THEN 'destination address ' || zw_quote(dst_t)
    || ' is not an IPv4 address'
  WHEN proto IS NULL THEN 'protocol ' || zw_quote(proto_t)
    || ' is not a protocol name (tcp, udp, icmp, ...) or number 0-255'
  WHEN port IS NULL THEN CASE WHEN proto = 1 THEN 'ICMP type ' ELSE 'destination port ' END
    || zw_quote(dport_t) || ' is not a number 0-' || CASE WHEN proto = 1 THEN '255'
    ELSE '65535' END
  WHEN packets IS NULL AND packets_t IS NOT NULL THEN 'packets '
    || zw_quote(packets_t) || ' is not a count'
  WHEN bytes IS NULL AND bytes_t IS NOT NULL THEN 'bytes ' || zw_quote(bytes_t)
    || ' is not a count'
  WHEN flows IS NULL AND flows_t IS NOT NULL THEN 'flows ' || zw_quote(flows_t)
    || ' is not a count'
  WHEN first_seen IS NULL AND first_t IS NOT NULL AND NOT starts_with(first_t, '0000-00-00')
    THEN 'time ' || zw_quote(first_t) || ' is neither epoch seconds nor an ISO 8601 time'
  WHEN last_seen IS NULL AND last_t IS NOT NULL AND NOT starts_with(last_t, '0000-00-00')
    THEN 'time ' || zw_quote(last_t) || ' is neither epoch seconds nor an ISO 8601 time'
END"""

# A record is a reply, turned around (source and destination swapped, the source port its
# port), when `{reply}` holds: see `ports` (a destination port that is ephemeral, a source
# port that is a server's).
_TYPED = """SELECT * REPLACE (CASE WHEN rev THEN dst ELSE src END AS src,
    CASE WHEN rev THEN src ELSE dst END AS dst, CASE WHEN rev THEN sport_n ELSE port END AS port)
  FROM (SELECT *, coalesce(proto IN (6, 17) AND port >= {ephemeral} AND ({reply}), false) AS rev
  FROM (SELECT *, CASE WHEN proto IN (6, 17) THEN CASE WHEN dport_n <= 65535 THEN dport_n END
      WHEN proto = 1 THEN CASE WHEN dport_n <= 255 THEN dport_n END
      WHEN proto IS NOT NULL THEN 0 END AS port
  FROM (SELECT *, try_cast(sport_t AS USMALLINT)::INTEGER AS sport_n,
      zw_ip4(src_t) AS src, zw_ip4(dst_t) AS dst, zw_proto(proto_t) AS proto,
      zw_port(dport_t) AS dport_n, zw_count(coalesce(packets_t, '0')) AS packets,
      zw_count(coalesce(bytes_t, '0')) AS bytes, zw_count(coalesce(flows_t, '1')) AS flows,
      zw_time(first_t) AS first_seen,
      coalesce(zw_time(last_t), zw_time(first_t) + coalesce(try_cast(dur_t AS DOUBLE), 0))
        AS last_seen
    FROM ({records}))))"""


@dataclass(frozen=True, slots=True)
class ObservedFlow:
    """Aggregated records of one (source, destination, protocol, port).  A node key >= 0 is
    an endpoint id; a negative key is an unknown address's /24 (`unknown_key`)."""

    src: int
    dst: int
    key: int  # packet key: protocol * 65536 + port (ICMP type), as `PacketSet` counts
    flows: int
    packets: int
    bytes: int
    first: float | None  # epoch seconds
    last: float | None


@dataclass(frozen=True, slots=True)
class FileStats:
    path: str
    format: str
    records: int  # flow records read (good, bad and IPv6)
    skipped: int  # lines that are not flow records (headers, comments, other log messages)
    ipv6: int  # IPv6 records: the policy is IPv4, they are counted and not judged
    bad: int
    first_bad: tuple[tuple[int, str, str], ...]  # (line, reason, text) of the first few


@dataclass(frozen=True, slots=True)
class Observed:
    flows: tuple[ObservedFlow, ...]
    files: tuple[FileStats, ...]


def unknown_key(ip: int) -> int:
    return -1 - (ip >> 8)


def unknown_net(key: int) -> str:
    """The /24 an unknown key stands for."""
    net = (-1 - key) << 8
    return ".".join(str((net >> s) & 255) for s in (24, 16, 8, 0)) + "/24"


class NodeTable:
    """The policy's endpoints as sorted, disjoint address intervals, with their labels."""

    def __init__(self, c: CompiledPolicy) -> None:
        self.endpoints: tuple[Endpoint, ...] = c.endpoints
        counts: dict[str, int] = {}
        for ep in c.endpoints:
            counts[ep.name] = counts.get(ep.name, 0) + 1
        self.labels = {
            ep.id: ep.name if counts[ep.name] == 1 else " & ".join(ep.externals)
            for ep in c.endpoints
        }
        intervals: list[tuple[int, int, int]] = []
        for ep in c.endpoints:
            for p in ep.prefixes:
                intervals.append((int(p.first), int(p.last), ep.id))
        intervals.sort()
        merged: list[tuple[int, int, int]] = []
        for lo, hi, node in intervals:
            if merged and merged[-1][2] == node and merged[-1][1] + 1 == lo:
                merged[-1] = (merged[-1][0], hi, node)
            else:
                merged.append((lo, hi, node))
        self.intervals = tuple(merged)
        self._starts = [lo for lo, _, _ in merged]

    def node_of(self, ip: int) -> int | None:
        """The endpoint id of an address (None: unknown); the Python twin of the SQL join."""
        i = bisect.bisect_right(self._starts, ip) - 1
        if i >= 0 and self.intervals[i][1] >= ip:
            return self.intervals[i][2]
        return None

    def label(self, key: int) -> str:
        return self.labels[key] if key >= 0 else unknown_net(key)

    def levels(self) -> tuple[list[tuple[int, int]], ...]:
        """The intervals as three lookup tables for equality joins: (/16 prefix, node), then
        (/24, node) inside the /16s that are split between nodes (or nodes and unknown
        space), then (address, node) inside the split /24s.  `MIXED` marks a split prefix;
        an absent prefix is unknown space.  Hash joins on these are several times faster
        than a range join on the intervals."""
        tables: list[list[tuple[int, int]]] = []
        scope: list[int] | None = None  # the split prefixes of the level above (None: all)
        for shift, up in ((16, 0), (8, 16), (0, 8)):
            found: dict[int, int] = {}
            for lo, hi, node in self.intervals:
                for p in _prefixes(lo, hi, shift, up, scope):
                    whole = lo <= p << shift and ((p + 1) << shift) - 1 <= hi
                    found[p] = node if whole else MIXED
            tables.append(sorted(found.items()))
            scope = sorted(p for p, node in found.items() if node == MIXED)
        return tuple(tables)

    def csv(self) -> str:
        """The node table for `AGGREGATE_SQL` elsewhere: lo,hi as integers, node label."""
        rows = ["lo,hi,node"] + [f"{lo},{hi},{self.labels[n]}" for lo, hi, n in self.intervals]
        return "\n".join(rows) + "\n"


MIXED = -2  # in `NodeTable.levels`: a prefix split between nodes, or a node and unknown space


def _prefixes(lo: int, hi: int, shift: int, up: int, scope: list[int] | None) -> Iterator[int]:
    """The prefixes (address >> shift) that [lo, hi] touches, inside the split prefixes of the
    level above (address >> up) when `scope` is given."""
    first, last = lo >> shift, hi >> shift
    if scope is None:
        yield from range(first, last + 1)
        return
    for q in scope[bisect.bisect_left(scope, lo >> up) : bisect.bisect_right(scope, hi >> up)]:
        yield from range(
            max(first, q << (up - shift)), min(last, ((q + 1) << (up - shift)) - 1) + 1
        )


def _connect(nodes: NodeTable) -> duckdb.DuckDBPyConnection:
    try:
        import duckdb
    except ImportError:
        raise FlowInputError("replay needs the duckdb package (pip install duckdb)") from None
    # insertion order must be kept: a record's line number is its row number
    con = duckdb.connect(config={"preserve_insertion_order": True, "memory_limit": "1GB"})
    con.execute("SET enable_progress_bar = false")
    # The flow records are the probe side of every join and the small node tables the build
    # side, as written: DuckDB cannot estimate a flow file's size, and when its optimizer
    # swaps the sides it hashes ten million records (a 1M-record replay took 1 GB, not 250 MB).
    con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
    try:  # times without a zone are UTC (without the ICU extension DuckDB assumes UTC anyway)
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:
        pass
    for macro in _MACROS:
        con.execute(macro)
    rows = ",".join(f"({lo},{hi},{n})" for lo, hi, n in nodes.intervals) or "(1,0,-1)"
    con.execute(f"CREATE TEMP TABLE nodes AS SELECT * FROM (VALUES {rows}) t(lo, hi, node)")
    for name, table in zip(("t16", "t24", "t32"), nodes.levels(), strict=True):
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT unnest(?::BIGINT[]) AS p, "
            "unnest(?::INTEGER[]) AS node",
            [[p for p, _ in table] or [-1], [n for _, n in table] or [MIXED]],
        )
    names = ",".join(f"({sql_string(label)},{n})" for n, label in nodes.labels.items())
    con.execute(
        f"CREATE TEMP TABLE node_names AS SELECT * FROM (VALUES {names or '(NULL,-1)'})"
        " t(name, node)"
    )
    return con


def _reply_sql(server_ports: Sequence[int]) -> str:
    low = [p for p in server_ports if p < 1024]
    if low != list(range(1024)):
        raise ValueError("server ports include every port below 1024")
    extra = [p for p in server_ports if p >= 1024]
    return "sport_n < 1024" + (f" OR sport_n IN ({', '.join(map(str, extra))})" if extra else "")


def _classified_sql(f: FlowFile, server_ports: Sequence[int], numbered: bool = False) -> str:
    """Every line of a file with its status (ok, bad, ipv6, skip), why, and node keys; the
    line numbers only when `numbered` (for the bad records shown)."""
    typed = _TYPED.format(
        records=records_sql(f, numbered), ephemeral=EPHEMERAL_FROM, reply=_reply_sql(server_ports)
    )
    if f.format == "aggregate":
        # node names from the table itself; an unknown /24 may be given as "unknown:A.B.C.0/24"
        join = (
            "LEFT JOIN node_names s ON s.name = r.src_node_t "
            "LEFT JOIN node_names d ON d.name = r.dst_node_t"
        )
        src = "coalesce(s.node, -1 - (zw_ip4(split_part(r.src_node_t, '/', 1)[9:]) >> 8))"
        dst = "coalesce(d.node, -1 - (zw_ip4(split_part(r.dst_node_t, '/', 1)[9:]) >> 8))"
        bad_node = (
            f"CASE WHEN reason IS NULL AND ({src}) IS NULL THEN 'node ' "
            "|| zw_quote(r.src_node_t) || ' is not a class or external of the policy' "
            f"WHEN reason IS NULL AND ({dst}) IS NULL THEN 'node ' "
            "|| zw_quote(r.dst_node_t) || ' is not a class or external of the policy' "
            "ELSE reason END"
        )
    else:
        # `NodeTable.levels`: /16, then /24, then address, all equality (hash) joins; the
        # documented AGGREGATE_SQL's range join gives the same nodes
        join = " ".join(
            f"LEFT JOIN {t} {a}{side} ON {a}{side}.p = r.{side} >> {shift}"
            for side in ("src", "dst")
            for t, a, shift in (("t16", "a", 16), ("t24", "b", 8), ("t32", "c", 0))
        )
        src, dst = (
            f"coalesce(CASE WHEN a{x}.node >= 0 THEN a{x}.node WHEN b{x}.node >= 0 THEN "
            f"b{x}.node WHEN c{x}.node >= 0 THEN c{x}.node END, -1 - (r.{x} >> 8))"
            for x in ("src", "dst")
        )
        bad_node = "reason"
    return f"""SELECT *, CASE WHEN kind = 'skip' THEN 'skip' WHEN why IS NULL THEN 'ok'
          WHEN why = 'ipv6' THEN 'ipv6' ELSE 'bad' END AS status,
        CASE WHEN why IS NULL THEN src_k END AS src_key,
        CASE WHEN why IS NULL THEN dst_k END AS dst_key
      FROM (SELECT r.*, {bad_node} AS why, {src} AS src_k, {dst} AS dst_k
            FROM (SELECT *, {_REASON} AS reason FROM ({typed})) r {join})"""


def _mapped_sql(index: int, f: FlowFile, server_ports: Sequence[int]) -> str:
    return (
        f"SELECT {index} AS file, status, src_key, dst_key, proto, port, flows, packets, "
        f"bytes, first_seen, last_seen FROM ({_classified_sql(f, server_ports)})"
    )


def _bad_sql(f: FlowFile, server_ports: Sequence[int]) -> str:
    return (
        f"SELECT line, why, text FROM ({_classified_sql(f, server_ports, True)}) "
        f"WHERE status = 'bad' ORDER BY line LIMIT {BAD_SHOWN}"
    )


def policy_server_ports(c: CompiledPolicy) -> tuple[int, ...]:
    """`ports.server_ports` with the ports of the policy's own TCP and UDP services."""
    extra: set[int] = set()
    for svc in c.services:
        for lo, hi in svc.packets.intervals:
            if hi - lo < 64 and lo >> 16 in (6, 17):
                extra.update(k & 0xFFFF for k in range(lo, hi + 1))
    return server_ports(extra)


def aggregate(
    c: CompiledPolicy,
    paths: Sequence[str],
    nodes: NodeTable | None = None,
    server: Sequence[int] | None = None,
    detected: Sequence[FlowFile] | None = None,
) -> Observed:
    """Read, map and aggregate the flow files; `server` are the ports that mark a record's
    source as a server's (`policy_server_ports` by default); `detected` are the files as
    `formats.detect` read them, when that is done already.

    Raises:
        FlowInputError: a file cannot be read, lacks a column, or is mostly bad records.
    """
    nodes = nodes or NodeTable(c)
    named = list(detected) if detected is not None else [detect(p) for p in paths]
    with _by_descriptor(named) as files:
        return _aggregate(c, paths, nodes, server, files)


def _aggregate(
    c: CompiledPolicy,
    paths: Sequence[str],
    nodes: NodeTable,
    server: Sequence[int] | None,
    files: list[FlowFile],
) -> Observed:
    import duckdb

    con = _connect(nodes)
    server = policy_server_ports(c) if server is None else server
    union = "\nUNION ALL\n".join(_mapped_sql(i, f, server) for i, f in enumerate(files))
    query = f"""SELECT grouping(file) AS by_flow, file, status, src_key, dst_key, proto, port,
        count(*) AS n, sum(flows) AS flows, sum(packets) AS packets, sum(bytes) AS bytes,
        min(first_seen) AS first_seen, max(last_seen) AS last_seen
      FROM ({union})
      GROUP BY GROUPING SETS ((file, status), (src_key, dst_key, proto, port))"""
    try:
        rows = con.execute(query).fetchall()
    except duckdb.Error as exc:
        if LATIN1_REFUSED not in str(exc):
            raise FlowInputError(_engine_message(files, exc)) from None
        # UTF-8 text (an em dash, a name) holds bytes DuckDB's Latin-1 refuses: read the files
        # that hold one as UTF-8, and all of them again
        readable = [_readable(con, f) for f in files]
        if readable == files:
            raise FlowInputError(_engine_message(files, exc)) from None
        con.close()
        return aggregate(c, paths, nodes, server, readable)
    counts: dict[tuple[int, str], int] = {}
    flows: list[ObservedFlow] = []
    for by_flow, file, status, s, d, proto, port, n, fl, pk, by, first, last in rows:
        if not by_flow:
            counts[file, status] = n
        elif s is not None and d is not None:
            flows.append(
                ObservedFlow(s, d, proto * 65536 + port, int(fl), int(pk), int(by), first, last)
            )
    stats = tuple(_stats(con, i, f, counts, server) for i, f in enumerate(files))
    con.close()
    flows.sort(key=lambda o: (o.src, o.dst, o.key))
    return Observed(tuple(flows), stats)


def _stats(
    con: Any, i: int, f: FlowFile, counts: dict[tuple[int, str], int], server: Sequence[int]
) -> FileStats:
    ok, bad, ipv6, skipped = (counts.get((i, s), 0) for s in ("ok", "bad", "ipv6", "skip"))
    records = ok + bad + ipv6
    first_bad: tuple[tuple[int, str, str], ...] = ()
    if bad:
        first_bad = tuple(
            (int(line), str(why), str(text))
            for line, why, text in con.execute(_bad_sql(f, server)).fetchall()
        )
    if records == 0:
        raise FlowInputError(
            f"{f.path}: no flow records found (read as {f.format}; "
            f"{skipped} line(s) that are not flow records)"
        )
    if bad > MOSTLY_BAD * records:
        where = f"{f.path}:{first_bad[0][0]}" if first_bad else f.path
        why = f": {first_bad[0][1]}" if first_bad else ""
        raise FlowInputError(
            f"{where}: {bad} of {records} records cannot be read (read as "
            f"{f.format}){why}; is this the right file and format?"
        )
    return FileStats(f.path, f.format, records, skipped, ipv6, bad, first_bad)


# DuckDB reads a path with one of these as a glob pattern (`f[1].csv` reads `f1.csv`), and a
# backslash as a folder separator
_GLOB = re.compile(r"[*?\[\]{}\\]")


@contextlib.contextmanager
def _by_descriptor(files: Sequence[FlowFile]) -> Iterator[list[FlowFile]]:
    """The files as DuckDB is to be given them: one whose name DuckDB would take for a glob
    pattern is opened here and read through its descriptor (`/proc/self/fd/N`), so the file
    named is the file read, and no other."""
    fds: list[int] = []
    try:
        out = []
        for f in files:
            if not _GLOB.search(f.path):
                out.append(f)
                continue
            if not os.path.isdir("/proc/self/fd"):
                raise FlowInputError(
                    f"{f.path}: a file name with * ? [ ] {{ }} or \\ cannot be read here "
                    "(no /proc/self/fd); rename or link the file"
                )
            try:
                fds.append(os.open(f.path, os.O_RDONLY | os.O_CLOEXEC))
            except OSError as exc:
                raise FlowInputError(f"{f.path}: cannot read: {exc.strerror or exc}") from None
            gz = os.pread(fds[-1], 2, 0) == b"\x1f\x8b"  # no name to tell DuckDB: say it
            out.append(
                replace(f, read_as=f"/proc/self/fd/{fds[-1]}", compression="gzip" if gz else "none")
            )
        yield out
    finally:
        for fd in fds:
            os.close(fd)


LATIN1_REFUSED = "not latin-1 encoded"  # DuckDB's error for a byte 0x80-0x9f read as Latin-1


def _readable(con: Any, f: FlowFile) -> FlowFile:
    """The file as DuckDB can read it: Latin-1, else UTF-8 (a file that is neither fails
    the query again, and that error names it)."""
    if f.encoding != "latin-1":
        return f
    try:
        con.execute(f"SELECT count(*) FROM ({records_sql(f, numbered=False)})").fetchall()
    except Exception as exc:  # duckdb.Error; duckdb is imported lazily
        if LATIN1_REFUSED in str(exc):
            return replace(f, encoding="utf-8")
    return f


def _engine_message(files: Sequence[FlowFile], exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    named = next((f.path for f in files if f.path in text), None)
    where = named or ", ".join(f.path for f in files)
    return f"{where}: cannot be read: {text}"
