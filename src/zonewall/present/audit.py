"""`zonewall audit` output: the audit report (a JSON-ready dict, `zonewall.review.audit`) as
text, JSON (docs/language.md, section 12) or SARIF 2.1.0.

The report is plain data, so this module imports nothing of the pipeline.  Text escapes every
user and device string (`terminal_text`: a config line or a file name can hold control
characters).  `limit` caps the items shown in text and SARIF; JSON always holds them all, and
the text says how many are left out and how to see them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from zonewall._version import __version__
from zonewall.text import terminal_text

__all__ = ["audit_json", "audit_sarif", "audit_text"]

KIND_TEXT = {
    "permits-too-much": "permits too much",
    "blocks-needed": "blocks needed",
    "reply-blocked": "blocks replies",
}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def audit_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _t(text: object) -> str:
    return terminal_text(str(text))


def _where(ref: Mapping[str, Any]) -> str:
    line = f":{ref['line']}" if ref.get("line") is not None else ""
    return f"{_t(ref['file'])}{line}: {_t(ref['text'])}"


def audit_text(report: Mapping[str, Any], limit: int, quiet: bool = False) -> str:
    """The report for a terminal: each item (up to `limit`), what was skipped (not with
    `quiet`), the unused statements, then the result line."""
    head = f"{_t(report['config'])}: gateway '{_t(report['gateway'])}' ({report['platform']})"
    out: list[str] = []
    if report["result"] == "cannot-audit":
        err = report["error"]
        where = f"{_t(err['file'])}:{err['line']}" if err["line"] is not None else _t(err["file"])
        out.append(f"{where}: error: {_t(err['message'])}")
        if err["text"]:
            out.append(f"  {_t(err['text'])}")
        out.append(
            f"{head}: cannot audit (exit 2): the config holds what the audit cannot "
            "read or model, and it is never skipped when it can change forwarding on "
            "the audited interfaces"
        )
        return "\n".join(out) + "\n"
    items = report["items"]
    for item in items[:limit]:
        out.extend(_item_text(item))
    out.extend(() if quiet else _skipped_text(report["skipped"]))
    out.extend(_counters_text(report.get("counters")))
    if not items:
        out.append(f"{head} enforces exactly the policy: no drift")
        return "\n".join(out) + "\n"
    shown = min(limit, len(items))
    more = f"; showing {shown} (--limit {len(items)} shows all)" if shown < len(items) else ""
    out.append(
        f"{head}: drift: {len(items)} item(s), {report['pairs']} class pair(s), "
        f"{report['differences']} difference(s){more}"
    )
    return "\n".join(out) + "\n"


def _item_text(item: Mapping[str, Any], pairs: int = 6) -> list[str]:
    cond = f" [{_t(item['condition'])}]" if item["condition"] else ""
    decided = item["decided_by"] or [{"file": "", "line": None, "text": "no rule"}]
    n = len(item["pairs"])
    lines = [
        f"{item['kind']}: the device {KIND_TEXT[item['kind']]}{cond}: {n} class "
        f"pair(s), decided by {_where(decided[0])}"
    ]
    lines += [f"  and by {_where(r)}" for r in decided[1:]]
    lines += [f"  reached through {_where(r)}" for r in item["path"]]
    for pair in item["pairs"][:pairs]:
        services = ", ".join(_t(s) for s in pair["services"]) or "nothing"
        flows = f" ({_t(pair['flows'])})" if pair["flows"] else ""
        ingress = pair["ingress"]
        where = ", ".join(_t(i) for i in ingress[:3]) + (
            f" and {len(ingress) - 3} more" if len(ingress) > 3 else ""
        )
        lines.append(
            f"  {_t(pair['src'])} -> {_t(pair['dst'])}: {services}{flows} "
            f"(entering {where}; e.g. {_t(pair['example'])})"
        )
    if n > pairs:
        lines.append(f"  ... and {n - pairs} more class pair(s) (--format json lists all)")
    fixes = item["remediation"]
    lines.append(f"  fix: {_t(fixes[0])}")
    lines += [f"       {'or ' if f == fixes[-1] else ''}{_t(f)}" for f in fixes[1:]]
    return lines


def _skipped_text(skipped: list[Mapping[str, Any]]) -> list[str]:
    if not skipped:
        return []
    total = sum(s["lines"] for s in skipped)
    top = sorted(skipped, key=lambda s: (-s["lines"], s["construct"]))
    parts = ", ".join(f"{s['lines']} {_t(s['construct'])}" for s in top[:6])
    more = f" and {len(top) - 6} more kinds (--format json lists them)" if len(top) > 6 else ""
    return [
        f"skipped {total} line(s) that cannot change forwarding on the audited "
        f"interfaces: {parts}{more}"
    ]


def _counters_text(usage: Mapping[str, Any] | None) -> list[str]:
    if usage is None:
        return []
    unused = usage["unused"]
    out = [
        f"counters: {len(unused)} of {usage['statements']} policy statement(s) with rules "
        "here matched no packet since the counters were last cleared (candidates for "
        "removal)" + (":" if unused else "")
    ]
    out += [f"  {_t(u['statement'])}: {_t(u['text'])}" for u in unused]
    return out


def audit_sarif(report: Mapping[str, Any], limit: int) -> str:
    """One SARIF result per item (up to `limit`), at its first deciding line in the config;
    a report that could not audit is one error result."""
    rules = [
        {"id": kind, "shortDescription": {"text": f"the device {text}"}}
        for kind, text in KIND_TEXT.items()
    ]
    rules.append(
        {
            "id": "cannot-audit",
            "shortDescription": {"text": "the config holds a construct the audit cannot model"},
        }
    )
    results = []
    if report["result"] == "cannot-audit":
        err = report["error"]
        results.append(
            _result("cannot-audit", "error", err["message"], err["file"], err["line"], err["text"])
        )
    for item in report["items"][:limit]:
        ref = (item["decided_by"] or [{"file": report["config"], "line": None, "text": ""}])[0]
        pairs = "; ".join(
            f"{p['src']} -> {p['dst']}: {', '.join(p['services'])}" for p in item["pairs"][:10]
        )
        more = f" and {len(item['pairs']) - 10} more" if len(item["pairs"]) > 10 else ""
        message = (
            f"the device {KIND_TEXT[item['kind']]}: {pairs}{more}; fix: {item['remediation'][0]}"
        )
        results.append(
            _result(item["kind"], "error", message, ref["file"], ref["line"], ref["text"])
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "zonewall", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _result(
    rule: str, level: str, message: str, file: str, line: int | None, text: str
) -> dict[str, Any]:
    region = {"startLine": line} if line is not None else {}
    location: dict[str, Any] = {"artifactLocation": {"uri": file}}
    if region:
        location["region"] = region
    digest = hashlib.sha256(f"{rule}\0{file}\0{message}\0{text}".encode()).hexdigest()[:32]
    return {
        "ruleId": rule,
        "level": level,
        "message": {"text": message},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"zonewall/v1": digest},
    }
