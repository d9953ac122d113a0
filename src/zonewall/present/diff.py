"""`zonewall diff` output: text for a terminal, markdown for a pull-request comment, JSON for
CI.  Pure functions of a `PolicyDiff`; the CLI prints them.

The JSON document (stable; new keys may be added, none removed or renamed)::

    {"ok": bool,                       # false: a side has errors, or an assertion newly fails
     "old": {"path": str, "revision": str|null, "errors": [diagnostic...]},
     "new": {...same...},
     "semantic_change": bool|null,     # null when a side has errors (nothing compared)
     "flows": {"gained": [flow...], "lost": [flow...]} | null,
     "assertions": [{"text", "old", "new", "newly_fails", "file", "line",
                     "counterexample"}] | null,   # counterexample as in `check --format json`
     "classes": [{"name", "change", "vlan": {"old","new"}, "subnets": {"old","new"},
                  "gateway": {"old","new"}}] | null,
     "externals": [{"name", "change", "old", "new"}] | null,
     "gateways": [{"name", "platform": {"old","new"}, "object_groups": {"old","new"},
                   "stateless_accepted": {"old","new"} (the reason, or null),
                   "dhcp_relay": {"old","new"} ("to HELPERS from SOURCE", or null),
                   "rules": {"old","new","delta"}}] | null}

    flow: {"from", "from_kind", "to", "to_kind", "addresses": [cidr...] (empty: all of the
           external's addresses), "services": [name or range...], "packets": "tcp/443, ...",
           "opened_by": [{"file", "line"}...]}
          kinds are "class" and "external"; "to_kind" "gateway" is traffic to a gateway
          itself ("to": "gateway:NAME")
"""

from __future__ import annotations

import json
from typing import Any

from zonewall.present.check import diagnostic_json
from zonewall.review.diff import FlowChange, PolicyDiff, Side
from zonewall.text import markdown_text, terminal_text

__all__ = ["DETAILS_OVER", "diff_json", "diff_markdown", "diff_text"]

DETAILS_OVER = 10  # markdown: longer tables go inside a collapsible <details>


def _where(span: Any) -> str:
    return f"{span.file}:{span.line}" if span is not None else ""


def _endpoint(name: str, addresses: tuple[str, ...]) -> str:
    if not addresses:
        return name
    shown = ", ".join(addresses[:4]) + (
        f", +{len(addresses) - 4} more" if len(addresses) > 4 else ""
    )
    return f"{name} ({shown})"


def _flow_line(f: FlowChange) -> str:
    src = _endpoint(f.src, f.addresses if f.src_kind == "external" else ())
    dst = _endpoint(f.dst, f.addresses if f.dst_kind == "external" else ())
    return f"{src} -> {dst} : {', '.join(f.services)}"


def _hops(hops: Any) -> str:
    """A counterexample as one line: each flow with its services and the allow that opened it."""
    parts = []
    for h in hops:
        by = f" ({_where(h.span)})" if h.span is not None else " (no allow)"
        parts.append(f"{h.src} -> {h.dst} [{', '.join(h.services)}]{by}")
    return "counterexample: " + "; ".join(parts)


def _summary(d: PolicyDiff) -> str:
    gw = [g for g in d.gateways if g.changed]
    parts = [
        f"{len(d.gained)} flow(s) gained",
        f"{len(d.lost)} lost",
        f"{len(d.assertions)} assertion(s) changed, {len(d.newly_failing)} newly failing",
        f"{len(d.classes)} class(es) and {len(d.externals)} external(s) changed",
        f"{len(gw)} gateway(s) with a different rule count",
    ]
    return "; ".join(parts)


def _gateway_cells(g: Any) -> tuple[str, str, str, str]:
    def count(n: int | None, platform: str | None) -> str:
        if platform is None:
            return "-"
        return "n/a" if n is None else str(n)

    def label(platform: str | None, og: bool, ack: str | None, relay: str | None) -> str | None:
        if platform is None:
            return None
        return " ".join(
            [platform]
            + ["object-groups"] * og
            + ["stateless-replies accepted"] * (ack is not None)
            + [f"dhcp-relay {relay}"] * (relay is not None)
        )

    old = label(g.old_platform, g.old_object_groups, g.old_stateless_accepted, g.old_relay)
    new = label(g.new_platform, g.new_object_groups, g.new_stateless_accepted, g.new_relay)
    platform = new or old or "-"
    if old and new and old != new:
        platform = f"{old} -> {new}"
    elif old and new and g.old_stateless_accepted != g.new_stateless_accepted:
        platform += " (reason changed)"
    delta = "" if g.delta is None else f"{g.delta:+d}"
    return platform, count(g.old_rules, g.old_platform), count(g.new_rules, g.new_platform), delta


def _class_line(c: Any) -> str:
    if c.kind == "added":
        return f"+ {c.name}: vlan {c.new_vlan}, {', '.join(c.new_subnets)}, gateway {c.new_gateway}"
    if c.kind == "removed":
        return f"- {c.name}: vlan {c.old_vlan}, {', '.join(c.old_subnets)}, gateway {c.old_gateway}"
    parts = []
    if c.old_vlan != c.new_vlan:
        parts.append(f"vlan {c.old_vlan} -> {c.new_vlan}")
    if c.old_subnets != c.new_subnets:
        parts.append(f"subnet {', '.join(c.old_subnets)} -> {', '.join(c.new_subnets)}")
    if c.old_gateway != c.new_gateway:
        parts.append(f"gateway {c.old_gateway} -> {c.new_gateway}")
    return f"~ {c.name}: " + "; ".join(parts)


def _external_line(e: Any) -> str:
    if e.old is None:
        return f"+ {e.name}: {e.new}"
    if e.new is None:
        return f"- {e.name}: {e.old}"
    return f"~ {e.name}: {e.old} -> {e.new}"


def diff_text(d: PolicyDiff, old: Side, new: Side) -> str:
    lines = [f"zonewall diff: {old.title} -> {new.title}"]
    if not d.semantic_change:
        lines.append("no semantic change: the same flows, assertion results, classes and externals")
    if d.gained:
        lines.append(f"flows gained ({len(d.gained)}):")
        for f in d.gained:
            by = ", ".join(_where(s) for s in f.rules)
            lines.append(f"  + {_flow_line(f)}" + (f"  (opened by {by})" if by else ""))
    if d.lost:
        lines.append(f"flows lost ({len(d.lost)}):")
        lines.extend(f"  - {_flow_line(f)}" for f in d.lost)
    if d.assertions:
        lines.append(f"assertions ({len(d.assertions)} changed):")
        for a in d.assertions:
            change = f"{a.old or 'absent'} -> {a.new or 'absent'}"
            flag = "  NEWLY FAILS" if a.newly_fails else ""
            lines.append(f"  {change:<20} {a.text}  ({_where(a.span)}){flag}")
            if a.newly_fails and a.counterexample:
                lines.append(f"  {'':<20} {_hops(a.counterexample)}")
    if d.classes:
        lines.append(f"classes ({len(d.classes)} changed):")
        lines.extend("  " + _class_line(c) for c in d.classes)
    if d.externals:
        lines.append(f"externals ({len(d.externals)} changed):")
        lines.extend("  " + _external_line(e) for e in d.externals)
    changed = [g for g in d.gateways if g.changed]
    if changed:
        lines.append("gateway rule counts (as in manifest.json):")
        for g in changed:
            platform, o, n, delta = _gateway_cells(g)
            lines.append(f"  {g.name} ({platform}): {o} -> {n}" + (f" ({delta})" if delta else ""))
    lines.append(_summary(d))
    # file names, revisions and the statements' texts are the user's: each line is shown with
    # its control characters escaped (no legitimate line of this report has one)
    return "".join(terminal_text(line) + "\n" for line in lines)


# ---------------------------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------------------------


def _code(text: str) -> str:
    """A code span when `text` is plain (names, packet sets), else escaped text: a backtick
    would end the span, and a `|` or a control character would break the table even inside
    one."""
    if text and all(c.isalnum() or c in " _-.:/,<>*+()" for c in text):
        return f"`{text}`"
    return markdown_text(text)


def _table(header: list[str], rows: list[list[str]], what: str) -> list[str]:
    """A GFM table; `rows` are Markdown already (user text escaped where it entered)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    if len(rows) > DETAILS_OVER:
        return [f"<details><summary>{len(rows)} {what}</summary>", "", *out, "", "</details>"]
    return out


def diff_markdown(d: PolicyDiff, old: Side, new: Side) -> str:
    """The diff as GitHub-flavoured Markdown; every piece of user text (file names, revisions,
    statements) goes through `markdown_text`, so it renders as written and adds no markup,
    link, HTML or table cell."""
    md = markdown_text
    out = [f"### zonewall diff: {_code(old.title)} → {_code(new.title)}", ""]
    if d.newly_failing:
        out.append(f"**{len(d.newly_failing)} assertion(s) newly fail.**")
        out.append("")
    out.append(_summary(d) + ".")
    if not d.semantic_change:
        out += ["", "No semantic change: the same flows, assertion results, classes and externals."]
    if d.assertions:
        rows = [
            [
                _code(a.text),
                md(a.old or "absent"),
                f"**{md(a.new or 'absent')}**" if a.newly_fails else md(a.new or "absent"),
                md(_where(a.span)),
            ]
            for a in d.assertions
        ]
        out += ["", "#### Assertions", ""] + _table(
            ["assertion", "old", "new", "where"], rows, "assertions changed"
        )
        failing = [a for a in d.assertions if a.newly_fails and a.counterexample]
        if failing:  # what a reviewer needs to see why: the path or flow that breaks it
            out += ["", "#### Why they fail", ""]
            out += [
                f"- {_code(a.text)} ({md(_where(a.span))}): {md(_hops(a.counterexample))}"
                for a in failing
            ]
    for title, flows in (("Flows gained", d.gained), ("Flows lost", d.lost)):
        if not flows:
            continue
        rows = []
        for f in flows:
            src = _endpoint(f.src, f.addresses if f.src_kind == "external" else ())
            dst = _endpoint(f.dst, f.addresses if f.dst_kind == "external" else ())
            row = [md(src), md(dst), md(", ".join(f.services))]
            if title == "Flows gained":
                row.append(md(", ".join(_where(s) for s in f.rules)))
            rows.append(row)
        header = ["from", "to", "services"] + (["opened by"] if title == "Flows gained" else [])
        out += ["", f"#### {title} ({len(flows)})", ""] + _table(header, rows, title.lower())
    if d.classes or d.externals:
        rows = [
            ["class", md(c.name), c.kind, md(_class_line(c)[2:].split(": ", 1)[1])]
            for c in d.classes
        ]
        rows += [
            [
                "external",
                md(e.name),
                "added" if e.old is None else "removed" if e.new is None else "changed",
                md(_external_line(e)[2:].split(": ", 1)[1]),
            ]
            for e in d.externals
        ]
        out += ["", "#### Classes and externals", ""] + _table(
            ["kind", "name", "change", "detail"], rows, "classes and externals changed"
        )
    changed = [g for g in d.gateways if g.changed]
    if changed:
        rows = [[md(cell) for cell in (g.name, *_gateway_cells(g))] for g in changed]
        out += ["", "#### Gateway rule counts", ""] + _table(
            ["gateway", "platform", "old", "new", "delta"], rows, "gateways"
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _side_json(side: Side) -> dict[str, Any]:
    errors = [
        diagnostic_json(x)
        for x in side.report.diagnostics
        if x.is_error and side.report.compiled is None
    ]
    return {"path": side.path, "revision": side.revision, "errors": errors}


def _flow_json(f: FlowChange) -> dict[str, Any]:
    return {
        "from": f.src,
        "from_kind": f.src_kind,
        "to": f.dst,
        "to_kind": f.dst_kind,
        "addresses": list(f.addresses),
        "services": list(f.services),
        "packets": f.packets.describe(),
        "opened_by": [{"file": s.file, "line": s.line} for s in f.rules],
    }


def _hops_json(hops: Any) -> list[dict[str, Any]] | None:
    if hops is None:
        return None
    return [
        {
            "from": h.src,
            "to": h.dst,
            "services": list(h.services),
            "file": h.span.file if h.span else None,
            "line": h.span.line if h.span else None,
        }
        for h in hops
    ]


def diff_json(d: PolicyDiff | None, old: Side, new: Side, ok: bool) -> str:
    doc: dict[str, Any] = {
        "ok": ok,
        "old": _side_json(old),
        "new": _side_json(new),
        "semantic_change": None,
        "flows": None,
        "assertions": None,
        "classes": None,
        "externals": None,
        "gateways": None,
    }
    if d is not None:
        doc["semantic_change"] = d.semantic_change
        doc["flows"] = {
            "gained": [_flow_json(f) for f in d.gained],
            "lost": [_flow_json(f) for f in d.lost],
        }
        doc["assertions"] = [
            {
                "text": a.text,
                "old": a.old,
                "new": a.new,
                "newly_fails": a.newly_fails,
                "file": a.span.file if a.span else None,
                "line": a.span.line if a.span else None,
                "counterexample": _hops_json(a.counterexample),
            }
            for a in d.assertions
        ]
        doc["classes"] = [
            {
                "name": c.name,
                "change": c.kind,
                "vlan": {"old": c.old_vlan, "new": c.new_vlan},
                "subnets": {"old": list(c.old_subnets), "new": list(c.new_subnets)},
                "gateway": {"old": c.old_gateway, "new": c.new_gateway},
            }
            for c in d.classes
        ]
        doc["externals"] = [
            {
                "name": e.name,
                "change": "added" if e.old is None else "removed" if e.new is None else "changed",
                "old": e.old,
                "new": e.new,
            }
            for e in d.externals
        ]
        doc["gateways"] = [
            {
                "name": g.name,
                "platform": {"old": g.old_platform, "new": g.new_platform},
                "object_groups": {"old": g.old_object_groups, "new": g.new_object_groups},
                "stateless_accepted": {
                    "old": g.old_stateless_accepted,
                    "new": g.new_stateless_accepted,
                },
                "dhcp_relay": {"old": g.old_relay, "new": g.new_relay},
                "rules": {"old": g.old_rules, "new": g.new_rules, "delta": g.delta},
            }
            for g in d.gateways
        ]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
