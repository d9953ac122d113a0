"""`zonewall replay` output: text for people, JSON for tools, Markdown for a change ticket
(the HTML page is `replay_html`).  Pure functions; the CLI prints; JSON comes in pieces, one
row at a time (`replay_json_chunks`), so a huge report is never one string.  User text (file
names, statement texts, a bad record's text) is escaped for its format (`terminal_text`,
`markdown_text`).

The JSON document (stable; new keys may be added, none removed or renamed)::

    {"policy": str, "fail_on": "blocked"|"violations"|"none", "ok": bool,
     "files": [{"path", "format", "records", "skipped", "ipv6", "bad",
                "first_bad": [{"line", "reason", "text"}]}],
     "observed": counts, "permitted": counts, "not_filtered": counts,
     "blocked": [{"from", "to", "service", "counts", "decided_by": "deny"|"default deny",
                  "denies": [statement], "opened_by": [statement]}],
     "unused_allows": [statement], "allows_judged": int,  (statement's "action": "allow")
     "violations": [{"assertion", "kind", "file", "line", "from", "to", "service", "counts",
                     "permitted_by_policy": bool,
                     "path": [{"from", "to", "service", "counts"}]}],  (path: [] unless an
                     `unreachable` is broken through several observed hops; "service" and
                     "counts" are then the first hop's)
     "unknown": [{"net", "as_source": counts, "as_destination": counts}]}

    counts: {"flows", "packets", "bytes", "first_seen", "last_seen"}  (times ISO 8601 UTC or
            null);  statement: {"action", "file", "line", "text", "services"}
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Iterator
from typing import Any

from zonewall.diagnostics import Span
from zonewall.present.explain import decider_json
from zonewall.text import markdown_text, terminal_text
from zonewall.traffic.engine import FileStats
from zonewall.traffic.replay import Blocked, Counts, Replay, Unknown, Violation

__all__ = [
    "failing",
    "iso_time",
    "replay_json",
    "replay_json_chunks",
    "replay_markdown",
    "replay_text",
    "where_text",
]

TEXT_BLOCKED_SHOWN = 50


def failing(r: Replay, fail_on: str) -> bool:
    return (fail_on == "blocked" and bool(r.blocked)) or (
        fail_on == "violations" and bool(r.violations)
    )


def iso_time(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def where_text(span: Span | None) -> str:
    return f"{span.file}:{span.line}" if span else "?"


def _counts_text(c: Counts) -> str:
    when = ""
    if c.first is not None:
        when = f", {iso_time(c.first)} .. {iso_time(c.last)}"
    return f"{c.flows:,} flow(s), {c.packets:,} packet(s){when}"


def _decided(b: Blocked) -> str:
    return "deny" if b.denies else "default deny"


def _deciders_text(b: Blocked) -> list[str]:
    if not b.denies:
        return ["      default deny: no allow covers it"]
    return [f"      denied by {where_text(d.span)}: {d.text}" for d in b.denies]


def replay_text(r: Replay, policy: str, fail_on: str) -> str:
    t = terminal_text
    out = [f"zonewall replay: {t(policy)} against {len(r.files)} flow file(s)"]
    for f in r.files:
        extra = f", {f.ipv6:,} IPv6 (not judged)" if f.ipv6 else ""
        out.append(
            f"  {t(f.path)} ({f.format}): {f.records:,} record(s), {f.bad:,} bad{extra}, "
            f"{f.skipped:,} other line(s)"
        )
        for line, why, text in f.first_bad:
            out.append(f"    {t(f.path)}:{line}: bad record: {t(why)}: {t(text[:120])}")
        if f.bad > len(f.first_bad):
            out.append(f"    ... and {f.bad - len(f.first_bad):,} more bad record(s)")
    out.append(f"observed: {_counts_text(r.total)}")
    out.append(
        f"  permitted by the policy: {r.permitted.flows:,} flow(s); not filtered "
        f"(inside one class or between externals): {r.not_filtered.flows:,}"
    )
    flows = sum(b.counts.flows for b in r.blocked)
    out.append(
        f"blocked ({len(r.blocked)} class pair(s) and service(s), {flows:,} flow(s)):"
        if r.blocked
        else "blocked: nothing"
    )
    for b in r.blocked[:TEXT_BLOCKED_SHOWN]:
        out.append(f"  {t(b.src)} -> {t(b.dst)} : {t(b.service)}  {_counts_text(b.counts)}")
        out.extend(t(line) for line in _deciders_text(b))
    if len(r.blocked) > TEXT_BLOCKED_SHOWN:
        out.append(
            f"  ... and {len(r.blocked) - TEXT_BLOCKED_SHOWN} more (--format json lists them all)"
        )
    out.append(
        f"allows never used ({len(r.unused)} of {r.allows}):"
        if r.unused
        else f"allows never used: none (all {r.allows} saw traffic)"
    )
    out.extend(f"  {t(where_text(u.span))}: {t(u.text)}" for u in r.unused)
    out.append(
        f"assertions the observed traffic violates ({len(r.violations)}):"
        if r.violations
        else "assertions the observed traffic violates: none"
    )
    for v in r.violations:
        note = "permitted by the policy" if v.permitted else "the policy blocks it"
        out.append(f"  {t(where_text(v.span))}: assert {t(v.assertion)}")
        if v.path:
            out.append(f"      path {t(' -> '.join([v.src] + [h.dst for h in v.path]))} ({note}):")
            out.extend(
                f"        {t(h.src)} -> {t(h.dst)} : {t(h.service)}  {_counts_text(h.counts)}"
                for h in v.path
            )
            continue
        out.append(
            f"      {t(v.src)} -> {t(v.dst)} : {t(v.service)}  {_counts_text(v.counts)} ({note})"
        )
    out.append(
        f"unknown addresses ({len(r.unknown)} /24):" if r.unknown else "unknown addresses: none"
    )
    for u in r.unknown:
        out.append(
            f"  {u.net}  as source {u.as_src.flows:,} flow(s), as destination "
            f"{u.as_dst.flows:,} flow(s)"
        )
    verdict = "FAIL" if failing(r, fail_on) else "ok"
    out.append(
        f"result: {verdict}: {len(r.blocked)} blocked, {len(r.violations)} "
        f"violation(s), {len(r.unused)} unused allow(s) (--fail-on {fail_on})"
    )
    return "\n".join(out) + "\n"


def _counts_json(c: Counts) -> dict[str, Any]:
    return {
        "flows": c.flows,
        "packets": c.packets,
        "bytes": c.bytes,
        "first_seen": iso_time(c.first),
        "last_seen": iso_time(c.last),
    }


def _file_json(f: FileStats) -> dict[str, Any]:
    return {
        "path": f.path,
        "format": f.format,
        "records": f.records,
        "skipped": f.skipped,
        "ipv6": f.ipv6,
        "bad": f.bad,
        "first_bad": [{"line": n, "reason": why, "text": text} for n, why, text in f.first_bad],
    }


def _blocked_json(b: Blocked) -> dict[str, Any]:
    return {
        "from": b.src,
        "to": b.dst,
        "service": b.service,
        "counts": _counts_json(b.counts),
        "decided_by": _decided(b),
        "denies": [decider_json(d) for d in b.denies],
        "opened_by": [decider_json(d) for d in b.opened_by],
    }


def _violation_json(v: Violation) -> dict[str, Any]:
    return {
        "assertion": v.assertion,
        "kind": v.kind,
        "file": v.span.file if v.span else None,
        "line": v.span.line if v.span else None,
        "from": v.src,
        "to": v.dst,
        "service": v.service,
        "counts": _counts_json(v.counts),
        "permitted_by_policy": v.permitted,
        "path": [
            {"from": h.src, "to": h.dst, "service": h.service, "counts": _counts_json(h.counts)}
            for h in v.path
        ],
    }


def _unknown_json(u: Unknown) -> dict[str, Any]:
    return {
        "net": u.net,
        "as_source": _counts_json(u.as_src),
        "as_destination": _counts_json(u.as_dst),
    }


def _member(key: str, value: object) -> Iterator[str]:
    """`"key": value` as `json.dumps(doc, indent=2)` writes it inside the top-level object;
    a list given as an iterator of rows is written one row at a time (only one row's
    dictionary and text exist at once)."""
    if not isinstance(value, Iterator):
        yield f'  "{key}": ' + json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        return
    first = True
    for row in value:
        text = json.dumps(row, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        yield (f'  "{key}": [\n    ' if first else ",\n    ") + text
        first = False
    yield f'  "{key}": []' if first else "\n  ]"


def replay_json_chunks(r: Replay, policy: str, fail_on: str) -> Iterator[str]:
    """The JSON document in pieces, byte for byte as `json.dumps(doc, indent=2)` would write
    it whole: a report of a million blocked groups is written row by row, never held as one
    document (`replay --format json` writes the pieces as they come)."""
    members: tuple[tuple[str, object], ...] = (
        ("policy", policy),
        ("fail_on", fail_on),
        ("ok", not failing(r, fail_on)),
        ("files", map(_file_json, r.files)),
        ("observed", _counts_json(r.total)),
        ("permitted", _counts_json(r.permitted)),
        ("not_filtered", _counts_json(r.not_filtered)),
        ("blocked", map(_blocked_json, r.blocked)),
        ("unused_allows", map(decider_json, r.unused)),
        ("allows_judged", r.allows),
        ("violations", map(_violation_json, r.violations)),
        ("unknown", map(_unknown_json, r.unknown)),
    )
    yield "{\n"
    for i, (key, value) in enumerate(members):
        yield ",\n" if i else ""
        yield from _member(key, value)
    yield "\n}\n"


def replay_json(r: Replay, policy: str, fail_on: str) -> str:
    """The whole JSON document (`replay_json_chunks` joined)."""
    return "".join(replay_json_chunks(r, policy, fail_on))


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def replay_markdown(r: Replay, policy: str, fail_on: str) -> str:
    m = markdown_text
    verdict = "**would block observed traffic**" if r.blocked else "blocks no observed traffic"
    out = [
        f"## zonewall replay: {m(policy)}",
        "",
        f"{r.total.flows:,} observed flow(s) in {len(r.files)} file(s); the policy {verdict}.",
        "",
    ]
    out += _table(
        ("file", "format", "records", "bad", "IPv6"),
        ((m(f.path), f.format, f"{f.records:,}", f"{f.bad:,}", f"{f.ipv6:,}") for f in r.files),
    )
    out += ["", f"### Blocked ({len(r.blocked)})", ""]
    if r.blocked:
        out += _table(
            ("from", "to", "service", "flows", "packets", "first seen", "last seen", "decided by"),
            (
                (
                    m(b.src),
                    m(b.dst),
                    m(b.service),
                    f"{b.counts.flows:,}",
                    f"{b.counts.packets:,}",
                    iso_time(b.counts.first) or "",
                    iso_time(b.counts.last) or "",
                    "; ".join(m(f"{where_text(d.span)}: {d.text}") for d in b.denies)
                    or "default deny",
                )
                for b in r.blocked
            ),
        )
    else:
        out.append("Nothing.")
    out += ["", f"### Allows never used ({len(r.unused)} of {r.allows})", ""]
    out += [f"- {m(where_text(u.span))}: {m(u.text)}" for u in r.unused] or ["None."]
    out += ["", f"### Assertions the observed traffic violates ({len(r.violations)})", ""]
    if r.violations:
        out += _table(
            ("assertion", "from", "to", "service", "flows", "policy"),
            (
                (
                    m(f"{where_text(v.span)}: {v.assertion}"),
                    m(v.src),
                    m(" -> ".join(h.dst for h in v.path) if v.path else v.dst),
                    m(v.service),
                    f"{v.counts.flows:,}",
                    "permits it" if v.permitted else "blocks it",
                )
                for v in r.violations
            ),
        )
    else:
        out.append("None.")
    out += ["", f"### Unknown addresses ({len(r.unknown)} /24)", ""]
    if r.unknown:
        out += _table(
            ("net", "as source (flows)", "as destination (flows)"),
            ((u.net, f"{u.as_src.flows:,}", f"{u.as_dst.flows:,}") for u in r.unknown),
        )
    else:
        out.append("None.")
    return "\n".join(out) + "\n"
