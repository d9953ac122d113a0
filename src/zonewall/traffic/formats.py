"""Flow file formats: recognise a file from its first lines and write the SQL that reads it.

Every format is read by DuckDB line by line (`read_csv` with one VARCHAR column, bytes as
Latin-1 so that any byte but DuckDB's refused 0x80-0x9f decodes, and a file holding one of
those as UTF-8 (`engine` decides); `.gz` files are decompressed on the fly), so
a record's line number is its row number and a record that cannot be read is counted and
reported at `file:line`, never skipped silently.  This module only writes SQL text; `engine`
runs it.  Each format yields the same text fields (`FIELDS`), which `engine` validates and
types in one place.

Accepted formats (docs/language.md, section 10, "replay"):

- **CSV with named columns** (comma, semicolon or tab separated, header on the first line).
  Column names are matched case-insensitively against `ALIASES`, which also covers the
  headers of `nfdump -o csv` (1.6: `ts,te,td,sa,da,sp,dp,pr,...,ipkt,ibyt`; 1.7:
  `firstSeen,lastSeen,duration,proto,srcAddr,dstAddr,srcPort,dstPort,...`, and the trailing
  `Summary` block of nfdump 1.6) and of pmacct's `print_output: csv`
  (`SRC_IP,DST_IP,SRC_PORT,DST_PORT,PROTOCOL,PACKETS,BYTES,TIMESTAMP_START,...`).
- **Zeek `conn.log`**, TSV (`#separator`, `#fields` header) or JSON lines.
- **Kernel LOG lines** of iptables and nftables rules as syslog or the journal prints them
  (`... IN=eth1.100 OUT=eth0 MAC=... SRC=10.1.1.1 DST=10.2.2.2 LEN=60 ... PROTO=TCP SPT=40000
  DPT=443 ...`); other lines of the log are not flow records and are counted as such.
- **Cisco IOS ACL log lines** (`%SEC-6-IPACCESSLOGP: list ACL denied tcp 10.1.1.1(1234) ->
  10.2.2.2(443), 1 packet`, and the `...LOGDP`, `...LOGNP`, `...LOGSP`, `...LOGRP` forms).
- **The aggregated table** (`AGGREGATE_COLUMNS`): what `engine` computes, so that a site can
  compute it elsewhere and hand it over.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = [
    "AGGREGATE_COLUMNS",
    "ALIASES",
    "FIELDS",
    "FlowFile",
    "FlowInputError",
    "detect",
    "records_sql",
]

# The text fields every format yields, in this order.  `kind` is 'rec' for a flow record and
# 'skip' for a line that is not one (a header, a comment, a blank line, another log message).
FIELDS = (
    "line",
    "kind",
    "text",
    "src_t",
    "dst_t",
    "proto_t",
    "dport_t",
    "packets_t",
    "bytes_t",
    "flows_t",
    "first_t",
    "last_t",
    "dur_t",
    "src_node_t",
    "dst_node_t",
    "sport_t",
)

# canonical field -> accepted column names (lower case)
ALIASES: dict[str, tuple[str, ...]] = {
    "src": (
        "src",
        "src_ip",
        "srcip",
        "source",
        "source_ip",
        "src_addr",
        "srcaddr",
        "sa",
        "ipv4_src_addr",
        "id.orig_h",
        "orig_h",
    ),
    "dst": (
        "dst",
        "dst_ip",
        "dstip",
        "destination",
        "destination_ip",
        "dest_ip",
        "dst_addr",
        "dstaddr",
        "da",
        "ipv4_dst_addr",
        "id.resp_h",
        "resp_h",
    ),
    "proto": ("proto", "protocol", "pr", "ip_proto", "ip_protocol"),
    "dport": (
        "dport",
        "dst_port",
        "dstport",
        "destination_port",
        "dest_port",
        "dp",
        "l4_dst_port",
        "id.resp_p",
        "resp_p",
    ),
    "sport": (
        "sport",
        "src_port",
        "srcport",
        "source_port",
        "sp",
        "l4_src_port",
        "id.orig_p",
        "orig_p",
    ),
    "packets": ("packets", "pkts", "pkt", "ipkt", "inpackets", "in_packets", "in_pkts"),
    "bytes": ("bytes", "byt", "ibyt", "inbytes", "in_bytes"),
    "flows": ("flows", "fl", "count"),
    "first": (
        "first_seen",
        "first",
        "firstseen",
        "start",
        "start_time",
        "ts",
        "timestamp_start",
        "time_first",
        "flow_start",
    ),
    "last": (
        "last_seen",
        "last",
        "lastseen",
        "end",
        "end_time",
        "te",
        "timestamp_end",
        "time_last",
        "flow_end",
    ),
    "duration": ("duration", "td"),
    "mac": ("mac", "src_mac", "smac", "ismc", "insrcmac", "orig_l2_addr"),
}
REQUIRED = ("src", "dst", "proto", "dport")

AGGREGATE_COLUMNS = (
    "src_node",
    "dst_node",
    "proto",
    "dport",
    "packets",
    "bytes",
    "flows",
    "first_seen",
    "last_seen",
)

PEEK_BYTES = 64 * 1024


class FlowInputError(Exception):
    """A flow file that cannot be read at all (its message names the file, and the line)."""


@dataclass(frozen=True, slots=True)
class FlowFile:
    path: str
    format: str  # csv | nfdump | pmacct | zeek-tsv | zeek-json | kernel-log | ios-log | aggregate
    delimiter: str = ","
    columns: tuple[tuple[str, str], ...] = ()  # canonical field -> column name or JSON key
    header: tuple[str, ...] = ()  # the column names as written (CSV, Zeek #fields)
    header_line: str = ""  # the header line itself (CSV): found by its text, not its number
    encoding: str = "latin-1"  # "utf-8" for a file DuckDB's Latin-1 refuses (`engine`)
    read_as: str = ""  # the path DuckDB opens, when not `path` (`engine`: a descriptor)
    compression: str = "auto"  # DuckDB's: by the name's extension, else "gzip" or "none"


def _peek(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(PEEK_BYTES)
            if head[:2] == b"\x1f\x8b":
                fh.seek(0)
                with gzip.GzipFile(fileobj=fh) as gz:
                    head = gz.read(PEEK_BYTES)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FlowInputError(f"{path}: cannot read: {reason}") from None
    return head.decode("latin-1")


def _first_lines(text: str, n: int = 50) -> list[str]:
    lines = text.split("\n")
    if len(text) >= PEEK_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    return [line.rstrip("\r") for line in lines[:n]]


_KERNEL = re.compile(r" SRC=\S+ DST=\S+ ")
_IOS = re.compile(r"%(SEC-6-IPACCESSLOG|IPV6-6-ACCESSLOG)")


def detect(path: str) -> FlowFile:
    """The format of a flow file, from its first 64 KiB.

    Raises:
        FlowInputError: the file cannot be read, or its header lacks a required column.
    """
    lines = _first_lines(_peek(path))
    content = [line for line in lines if line.strip()]
    if not content:
        raise FlowInputError(f"{path}: no flow records (the file is empty)")
    if content[0].startswith("#separator"):
        return _zeek_tsv(path, lines)
    if content[0].lstrip().startswith("{"):
        return _json_lines(path, content[0])
    if any(_KERNEL.search(line) for line in content):
        return FlowFile(path, "kernel-log")
    if any(_IOS.search(line) for line in content):
        return FlowFile(path, "ios-log")
    return _csv(path, lines)


def _zeek_tsv(path: str, lines: list[str]) -> FlowFile:
    separator = "\t"
    fields: list[str] = []
    for line in lines:
        if line.startswith("#separator"):
            value = line.partition(" ")[2].strip()
            separator = value.encode("latin-1").decode("unicode_escape") if value else "\t"
        elif line.startswith("#fields"):
            fields = line.split(separator)[1:]
            break
    if not fields:
        raise FlowInputError(f"{path}: a Zeek log without a '#fields' line in its header")
    return _mapped(path, "zeek-tsv", separator, fields, zeek=True)


def _json_lines(path: str, first: str) -> FlowFile:
    try:
        record = json.loads(first)
    except ValueError:
        raise FlowInputError(
            f"{path}:1: the first line starts with '{{' but is not a JSON "
            "object; JSON flow files have one object per line"
        ) from None
    if not isinstance(record, dict):
        raise FlowInputError(f"{path}:1: not a JSON object")
    return _mapped(path, "zeek-json", "", [str(k) for k in record], zeek=True)


def _csv(path: str, lines: list[str]) -> FlowFile:
    header = next(line for line in lines if line.strip())
    delimiter = max((",", ";", "\t"), key=header.count)
    names = [n.strip().strip('"').strip() for n in header.split(delimiter)]
    lower = [n.lower() for n in names]
    if "src_node" in lower and "dst_node" in lower:
        missing = [c for c in AGGREGATE_COLUMNS if c not in lower]
        extra = [n for n, low in zip(names, lower, strict=True) if low not in AGGREGATE_COLUMNS]
        doubled = sorted({low for low in lower if lower.count(low) > 1})
        if missing or extra or doubled:
            what = "; ".join(
                part
                for part in (
                    f"missing: {', '.join(missing)}" if missing else "",
                    f"not part of it: {', '.join(extra)}" if extra else "",
                    f"given twice: {', '.join(doubled)}" if doubled else "",
                )
                if part
            )
            raise FlowInputError(
                f"{path}:1: an aggregated flow table has exactly the columns "
                f"{', '.join(AGGREGATE_COLUMNS)}; {what}"
            )
        return FlowFile(
            path,
            "aggregate",
            delimiter,
            tuple((c, c) for c in AGGREGATE_COLUMNS),
            tuple(names),
            header,
        )
    kind = (
        "nfdump"
        if {"sa", "da"} <= set(lower) or {"srcaddr", "dstaddr"} <= set(lower)
        else "pmacct"
        if "SRC_IP" in names
        else "csv"
    )
    return replace(_mapped(path, kind, delimiter, names), header_line=header)


def _mapped(path: str, kind: str, delimiter: str, names: list[str], zeek: bool = False) -> FlowFile:
    lower = [n.lower() for n in names]
    columns: dict[str, str] = {}
    for field, aliases in ALIASES.items():
        found = next((names[lower.index(a)] for a in aliases if a in lower), None)
        if found is not None:
            columns[field] = found
    if zeek:  # a conn.log counts both directions of the connection
        for field, a, b in (
            ("packets", "orig_pkts", "resp_pkts"),
            ("bytes", "orig_ip_bytes", "resp_ip_bytes"),
        ):
            if a in lower and b in lower:
                columns[field] = f"{names[lower.index(a)]}+{names[lower.index(b)]}"
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        wanted = "; ".join(f"{f}: {', '.join(ALIASES[f][:6])}, ..." for f in missing)
        where = f"{path}:1" if kind != "zeek-tsv" else f"{path}: #fields"
        raise FlowInputError(
            f"{where}: no column for {', '.join(missing)} (accepted names: "
            f"{wanted}); docs/language.md, section 10, lists every format"
        )
    return FlowFile(path, kind, delimiter, tuple(sorted(columns.items())), tuple(names))


# ---------------------------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------------------------


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _lines_sql(f: FlowFile, extra: str = "", numbered: bool = True) -> str:
    """Every line of the file as (line, t): one VARCHAR column, no quoting.  Without
    `numbered` the line is NULL: numbering is a window over the whole file, which DuckDB runs
    on one thread, and only bad records need their line (`engine` asks for those apart)."""
    line = "row_number() OVER ()" if numbered else "NULL::BIGINT"
    return (
        f"SELECT {line} AS line, coalesce(t, '') AS t{extra} "
        f"FROM read_csv({sql_string(f.read_as or f.path)}, columns={{'t': 'VARCHAR'}}, "
        "delim=E'\\x01', quote='', escape='', header=false, auto_detect=false, "
        f"encoding='{f.encoding}', strict_mode=false, max_line_size=1048576, "
        f"compression='{f.compression}')"
    )


def _select(kind: str, fields: dict[str, str]) -> str:
    cols = [f"{kind} AS kind", "t AS text"]
    for name in FIELDS[3:]:
        cols.append(f"{fields.get(name, 'NULL::VARCHAR')} AS {name}")
    return "line, " + ", ".join(cols)


def records_sql(f: FlowFile, numbered: bool = True) -> str:
    """A SELECT with the columns `FIELDS` (all text but `line`) for one flow file; `line` is
    NULL unless `numbered` (nfdump's Summary block needs the order: always numbered)."""
    if f.format in _LOG_LINES:
        return _log_sql(f, numbered)
    if f.format == "zeek-json":
        return _json_sql(f, numbered)
    return _split_sql(f, numbered or f.format == "nfdump")


def _cell(expr: str) -> str:
    """A field's text: blanks and quotes trimmed; '', '-' and '(empty)' are no value."""
    return f"nullif(nullif(nullif(trim({expr}, ' \"'), ''), '-'), '(empty)')"


def _split_sql(f: FlowFile, numbered: bool) -> str:
    index = {name: i + 1 for i, name in enumerate(f.header)}
    columns = dict(f.columns)

    def col(field: str) -> str | None:
        name = columns.get(field)
        if name is None:
            return None
        if "+" in name and f.format == "zeek-tsv":  # orig + resp counts
            a, b = name.split("+")
            return (
                f"CAST(coalesce(try_cast({_cell(f'p[{index[a]}]')} AS UBIGINT), 0) + "
                f"coalesce(try_cast({_cell(f'p[{index[b]}]')} AS UBIGINT), 0) AS VARCHAR)"
            )
        return _cell(f"p[{index[name]}]")

    fields = {k: v for k, v in _canonical(col, f.format).items() if v is not None}
    if f.format == "zeek-tsv":
        kind = "CASE WHEN starts_with(t, '#') OR trim(t) = '' THEN 'skip' ELSE 'rec' END"
    elif f.format == "nfdump":  # nfdump 1.6 ends its CSV with a Summary block of 3 lines
        kind = (
            "CASE WHEN line = 1 OR trim(t) = '' OR t = 'Summary' OR prev1 = 'Summary' "
            "OR prev2 = 'Summary' THEN 'skip' ELSE 'rec' END"
        )
    else:
        kind = "CASE WHEN line = 1 OR trim(t) = '' THEN 'skip' ELSE 'rec' END"
    extra = (
        ", lag(t, 1) OVER () AS prev1, lag(t, 2) OVER () AS prev2" if f.format == "nfdump" else ""
    )
    if f.format == "aggregate":
        fields["src_node_t"] = _cell(f"p[{index['src_node']}]")
        fields["dst_node_t"] = _cell(f"p[{index['dst_node']}]")
        fields.pop("src_t", None)
        fields.pop("dst_t", None)
    # A header that is not on line 1 (blank lines first) is found by its text
    header_line = f.header_line or f.delimiter.join(f.header)
    kind = kind.replace("line = 1", f"(line = 1 OR t = {sql_string(header_line)})")
    lines = _lines_sql(f, extra, numbered)
    return (
        f"SELECT {_select(kind, fields)} FROM (SELECT *, "
        f"string_split(t, {sql_string(f.delimiter)}) AS p FROM ({lines}))"
    )


def _canonical(get: Callable[[str], str | None], fmt: str) -> dict[str, str | None]:
    fields: dict[str, str | None] = {
        "src_t": get("src"),
        "dst_t": get("dst"),
        "proto_t": get("proto"),
        "dport_t": get("dport"),
        "packets_t": get("packets"),
        "bytes_t": get("bytes"),
        "flows_t": get("flows"),
        "first_t": get("first"),
        "last_t": get("last"),
        "dur_t": get("duration"),
    }
    sport = get("sport")
    if fmt in ("zeek-tsv", "zeek-json") and sport is not None:
        # Zeek: for ICMP the originator "port" is the ICMP type (the responder's is the code)
        fields["dport_t"] = (
            f"CASE WHEN lower({fields['proto_t']}) = 'icmp' THEN {sport} "
            f"ELSE {fields['dport_t']} END"
        )
    elif fmt != "aggregate":  # Zeek's originator is the client: never turned around
        fields["sport_t"] = sport
    return fields


def _json_sql(f: FlowFile, numbered: bool) -> str:
    columns = dict(f.columns)

    def key(name: str) -> str:
        return "$." + json.dumps(name)

    def col(field: str) -> str | None:
        name = columns.get(field)
        if name is None:
            return None
        if "+" in name:
            a, b = name.split("+")
            return (
                f"CAST(coalesce(try_cast(json_extract_string(t, {sql_string(key(a))}) AS "
                f"UBIGINT), 0) + coalesce(try_cast(json_extract_string(t, "
                f"{sql_string(key(b))}) AS UBIGINT), 0) AS VARCHAR)"
            )
        return _cell(f"json_extract_string(t, {sql_string(key(name))})")

    fields = {k: v for k, v in _canonical(col, f.format).items() if v is not None}
    fields = {k: f"CASE WHEN json_valid(t) THEN {v} END" for k, v in fields.items()}
    kind = "CASE WHEN trim(t) = '' THEN 'skip' ELSE 'rec' END"
    return f"SELECT {_select(kind, fields)} FROM ({_lines_sql(f, '', numbered)})"


_ISO_TIME = r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"

# nf_log_ipv4 (net/netfilter/nf_log_syslog.c): "SRC=%pI4 DST=%pI4 LEN=%u TOS=0x%02X ...
# PROTO=TCP SPT=%u DPT=%u ...", "PROTO=ICMP TYPE=%u CODE=%u ...", "PROTO=%u" for others;
# IPv6: "SRC=%pI6 DST=%pI6 LEN=%zu TC=%u HOPLIMIT=%u FLOWLBL=%u PROTO=..."
_KERNEL_RE = (
    r" SRC=(\S+) DST=(\S+) LEN=(\d+)\b.*? PROTO=(\S+)"
    r"(?: SPT=(\d+) DPT=(\d+)| TYPE=(\d+))?"
)


# IOS: "list 101 denied tcp 150.1.13.4(16795) (Serial1/0.123) -> 13.13.12.2(23), 1 packet";
# "...LOGDP: list 151 denied icmp A -> B (3/4), 1 packet"; "...LOGNP: list 171 denied 0 A ->
# B, 1 packet"; "...LOGSP: list X denied igmp A -> B (20), 1 packet".
_IOS_RE = (
    r"%(?:SEC-6-IPACCESSLOG[A-Z]*|IPV6-6-ACCESSLOG[A-Z]*): list \S+ (?:permitted|denied)"
    r" (\S+) ([0-9A-Fa-f.:]+)(?:\((\d+)\))?(?: \([^)]*\))? -> ([0-9A-Fa-f.:]+)"
    r"(?:\((\d+)\))?(?: \((\d+)(?:/\d+)?\))?, (\d+) packets?"
)


@dataclass(frozen=True, slots=True)
class _LogLines:
    """A log whose flow records are the lines one regular expression reads."""

    pattern: str
    groups: tuple[str, ...]  # the pattern's groups in order; src, dst, proto, sport, dport
    # and itype are read alike in every log
    fields: tuple[tuple[str, str], ...]  # the counts, which each log writes its own way
    kind: str  # SQL: 'rec' for a flow record (`m` holds the groups), 'skip' for other lines


_LOG_LINES = {
    "kernel-log": _LogLines(
        _KERNEL_RE,
        ("src", "dst", "len", "proto", "sport", "dport", "itype"),
        (("packets_t", "'1'"), ("bytes_t", "nullif(m.len, '')")),  # one packet per line
        "CASE WHEN m.src = '' THEN 'skip' ELSE 'rec' END",
    ),
    "ios-log": _LogLines(
        _IOS_RE,
        ("proto", "src", "sport", "dst", "dport", "itype", "packets"),
        (("packets_t", "m.packets"),),
        # an ACL log line the pattern does not read is a bad record; other messages are skipped
        "CASE WHEN m.src <> '' THEN 'rec' WHEN regexp_matches(t, "
        "'%(SEC-6-IPACCESSLOG|IPV6-6-ACCESSLOG)') AND NOT regexp_matches(t, "
        "'%SEC-6-IPACCESSLOGS:') THEN 'rec' ELSE 'skip' END",
    ),
}


def _log_sql(f: FlowFile, numbered: bool) -> str:
    """The SQL of a log of `_LOG_LINES`: each line matched once, its groups as `m`."""
    log = _LOG_LINES[f.format]
    fields = {
        "src_t": "m.src",
        "dst_t": "m.dst",
        "proto_t": "m.proto",
        "sport_t": "nullif(m.sport, '')",
        "dport_t": "coalesce(nullif(m.dport, ''), nullif(m.itype, ''))",
        "first_t": f"nullif(regexp_extract(t, {sql_string(_ISO_TIME)}, 1), '')",
        **dict(log.fields),
    }
    groups = "[" + ", ".join(sql_string(g) for g in log.groups) + "]"
    lines = _lines_sql(f, "", numbered)
    return (
        f"SELECT {_select(log.kind, fields)} FROM (SELECT *, regexp_extract(t, "
        f"{sql_string(log.pattern)}, {groups}) AS m FROM ({lines}))"
    )
