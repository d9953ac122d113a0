"""`zonewall explain` output: text for people, JSON for tools.  Pure functions; the CLI prints.

The JSON document (stable; new keys may be added, none removed or renamed)::

    {"question": {"from", "to", "service", "port", "packets"},   # packets null: any traffic
     "resolved": [str...],                  # how --src-ip / --dst-ip were resolved
     "verdict": "permitted" | "denied" | "partial" | "not-filtered",
     "pairs": [{"from": member, "to": member, "verdict", "permitted": [...],
                "not_permitted": [...], "allowed_by": [statement...],
                "removed_by": [statement...], "also_denied_by": [statement...],
                "no_allow": bool, "enforced_by": [{"gateway", "platform", "where"}],
                "note": str}]}

    member: {"name", "kind": "class"|"external"|"gateway", "addresses": [cidr...],
             "externals": [...]}  (kind "gateway": `gateway:NAME`, the gateway itself, with no
             addresses: they are the platform's)
    statement: {"action", "file", "line", "text", "services": [...]}
"""

from __future__ import annotations

import json
from typing import Any

from zonewall.review.explain import Decider, Explanation, Member, PairVerdict
from zonewall.text import terminal_text

__all__ = ["explain_json", "explain_text"]

WORDS = {
    "permitted": "permitted",
    "denied": "denied",
    "partial": "partially permitted",
    "not-filtered": "not filtered (between externals)",
}


def _member_text(m: Member, asked: str) -> str:
    if m.kind != "external" or m.externals == (m.name,):
        return m.name
    others = [x for x in m.externals if x != m.name]
    addresses = ", ".join(m.addresses[:3]) + (", ..." if len(m.addresses) > 3 else "")
    inside = f"; part of {', '.join(others)}" if others else ""
    return f"{m.name} ({addresses}{inside})" if asked != m.name or others else m.name


def _decider_text(word: str, d: Decider) -> str:
    where = f"{d.span.file}:{d.span.line}" if d.span else "?"
    return f"  {word} {where}: {d.text}  [{', '.join(d.services)}]"


def _pair_lines(p: PairVerdict, e: Explanation) -> list[str]:
    head = f"{_member_text(p.src, e.src)} -> {_member_text(p.dst, e.dst)}: {WORDS[p.verdict]}"
    lines = [head]
    if p.note:
        return lines + [f"  {p.note}"]
    if p.verdict == "partial" or (e.packets is None and p.permitted):
        lines.append(f"  permitted: {', '.join(p.permitted)}")
    if p.not_permitted and p.verdict == "partial":
        lines.append(f"  not permitted: {', '.join(p.not_permitted)}")
    lines += [_decider_text("allowed by", d) for d in p.allows]
    lines += [_decider_text("removed by", d) for d in p.denies]
    if not p.allows:
        lines.append("  no allow covers it (default deny)")
        lines += [_decider_text("also denied by", d) for d in p.also_denied]
    elif p.not_permitted and not p.denies and p.verdict == "partial":
        lines.append("  no allow covers the rest (default deny)")
    lines += [f"  enforced by {g.gateway} ({g.platform}): {g.where}" for g in p.gateways]
    return lines


def explain_text(e: Explanation) -> str:
    what = ""
    if e.packets is not None:
        what = f" ({e.packets.describe()})" if e.service else ""
    lines = [f"explain {e.question}{what}"]
    lines += [f"  {note}" for note in e.resolved]
    counts = {v: sum(1 for p in e.pairs if p.verdict == v) for v in WORDS}
    verdict = f"verdict: {WORDS[e.verdict]}"
    if len(e.pairs) > 1:
        shown = ", ".join(f"{n} {WORDS[v].split(' (')[0]}" for v, n in counts.items() if n)
        verdict += f" ({len(e.pairs)} member pairs: {shown})"
    lines.append(verdict)
    for p in e.pairs:
        lines += _pair_lines(p, e)
    # statements are quoted as written (their `why` included) and files named: each line is
    # shown with its control characters escaped (no legitimate line of this answer has one)
    return "".join(terminal_text(line) + "\n" for line in lines)


def _member_json(m: Member) -> dict[str, Any]:
    return {
        "name": m.name,
        "kind": m.kind,
        "addresses": list(m.addresses),
        "externals": list(m.externals),
    }


def decider_json(d: Decider) -> dict[str, Any]:
    return {
        "action": d.action,
        "file": d.span.file if d.span else None,
        "line": d.span.line if d.span else None,
        "text": d.text,
        "services": list(d.services),
    }


def explain_json(e: Explanation) -> str:
    doc = {
        "question": {
            "from": e.src,
            "to": e.dst,
            "service": e.service,
            "port": e.port,
            "packets": e.packets.describe() if e.packets is not None else None,
        },
        "resolved": list(e.resolved),
        "verdict": e.verdict,
        "pairs": [
            {
                "from": _member_json(p.src),
                "to": _member_json(p.dst),
                "verdict": p.verdict,
                "permitted": list(p.permitted),
                "not_permitted": list(p.not_permitted),
                "allowed_by": [decider_json(d) for d in p.allows],
                "removed_by": [decider_json(d) for d in p.denies],
                "also_denied_by": [decider_json(d) for d in p.also_denied],
                "no_allow": not p.allows and not p.note,
                "enforced_by": [
                    {"gateway": g.gateway, "platform": g.platform, "where": g.where}
                    for g in p.gateways
                ],
                "note": p.note,
            }
            for p in e.pairs
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
