"""`zonewall audit`: device output against the policy, as a report an engineer can act on.

`run_audit` calls the verifier (`zonewall.verify.audit_config`) and folds its differences
into *items*, one per cause: kind, deciding config lines and condition.  An item lists its
class pairs (source owner -> destination owner, the direction of the packets), each with
the packets in the policy's own service names (as `diff` names them), the ingress
interfaces and an example packet; and a remediation: the command(s) that
restore the policy when one line of the box's decides it (`iptables -D ...`,
`nft delete rule ... handle N`, IOS `ip access-list extended NAME` + `no 15`), else "rebuild
and redeploy".  The report is a plain JSON-ready dict (docs/language.md, section 12), which
`zonewall.present.audit` renders as text, JSON or SARIF.

Exit status: 0 no drift, 1 drift, 2 cannot audit (the config cannot be read, or holds a
construct that matters and is not modelled).
"""

from __future__ import annotations

import re
from typing import Any

from zonewall.ir import CompiledPolicy
from zonewall.packets import PacketSet
from zonewall.review.counters import statement_hits
from zonewall.review.describe import service_names
from zonewall.verify import ConfigParseError, Difference, RuleRef
from zonewall.verify.audit import audit_config

__all__ = [
    "AUDIT_VERSION",
    "EXIT_CANNOT",
    "EXIT_CLEAN",
    "EXIT_DRIFT",
    "audit_error_report",
    "run_audit",
]

AUDIT_VERSION = 1
EXIT_CLEAN, EXIT_DRIFT, EXIT_CANNOT = 0, 1, 2
REBUILD = (
    "rebuild and redeploy: zonewall build POLICY -o OUT, then load the gateway's file "
    "as its header says"
)
_SEQ = re.compile(r"\s*(\d+)\s+(permit|deny)\b")
_HANDLE = re.compile(r"#\s*handle\s+(\d+)\s*$")
# a chain firewalld writes for zone Z: filter_FWD_Z, filter_IN_Z and their _allow, _deny, ...
_FIREWALLD_ZONE = re.compile(r"filter_(FWD|IN)_(?!policy_)(.+?)(_pre|_log|_deny|_allow|_post)?")


def audit_error_report(
    policy: str,
    gateway: str,
    platform: str,
    config: str,
    message: str,
    line: int | None = None,
    text: str = "",
) -> dict[str, Any]:
    """The report of an audit that could not run (exit 2)."""
    error = {"file": config, "line": line, "text": text.strip(), "message": message}
    return _report((policy, gateway, platform, config), "cannot-audit", EXIT_CANNOT, error)


def _report(
    audited: tuple[str, str, str, str],
    result: str,
    exit_code: int,
    error: dict[str, Any] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    differences: int = 0,
    items: list[dict[str, Any]] | None = None,
    counters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's fields in their documented order; `audited` is (policy, gateway, platform,
    config)."""
    policy, gateway, platform, config = audited
    return {
        "version": AUDIT_VERSION,
        "policy": policy,
        "gateway": gateway,
        "platform": platform,
        "config": config,
        "result": result,
        "exit_code": exit_code,
        "error": error,
        "skipped": skipped or [],
        "differences": differences,
        "pairs": sum(len(i["pairs"]) for i in items or ()),
        "items": items or [],
        "counters": counters,
    }


def run_audit(
    compiled: CompiledPolicy,
    policy: str,
    gateway: str,
    platform: str,
    config: str,
    text: str,
    counters: str | None = None,
) -> dict[str, Any]:
    """Audit `text` (the device output read from `config`) and build the report; with
    `counters` (the device's hit counters, `review.counters`), the statements whose rules
    matched nothing."""
    try:
        result = audit_config(compiled, gateway, text, platform, filename=config)
    except ConfigParseError as exc:
        return audit_error_report(
            policy, gateway, platform, config, exc.message, exc.line, exc.text
        )
    items = _items(compiled, platform, text, result.differences)
    usage = None
    if counters is not None:
        hits = statement_hits(platform, text, counters)
        usage = {
            "statements": len(hits),
            "unused": [
                {"statement": key, "text": desc}
                for key, (n, desc) in sorted(hits.items(), key=lambda kv: _file_line(kv[0]))
                if n == 0
            ],
        }
    return _report(
        (policy, gateway, platform, config),
        "drift" if items else "clean",
        EXIT_DRIFT if items else EXIT_CLEAN,
        skipped=[{"construct": c, "lines": n} for c, n in result.skipped],
        differences=len(result.differences),
        items=items,
        counters=usage,
    )


def _items(
    compiled: CompiledPolicy, platform: str, text: str, diffs: tuple[Difference, ...]
) -> list[dict[str, Any]]:
    """One item per cause (kind, deciding lines, condition), with its class pairs."""
    groups: dict[tuple[object, ...], list[Difference]] = {}
    for d in diffs:
        groups.setdefault((d.kind, d.rules, d.condition), []).append(d)
    lines = text.splitlines()
    out: list[dict[str, Any]] = []
    for members in groups.values():
        first = members[0]
        out.append(
            {
                "kind": first.kind,
                "condition": first.condition,
                "decided_by": [_ref(r) for r in first.rules],
                "path": [_ref(r) for r in first.path],
                "remediation": _firewalld_fix(platform, lines, members)
                or _remedy(platform, lines, first),
                "differences": len(members),
                "pairs": _pairs(compiled, members),
            }
        )
    order = ("permits-too-much", "blocks-needed", "reply-blocked")
    out.sort(
        key=lambda i: (
            order.index(i["kind"]),
            -i["differences"],
            [(r["line"] or 0) for r in i["decided_by"]],
        )
    )
    return out


def _pairs(compiled: CompiledPolicy, members: list[Difference]) -> list[dict[str, Any]]:
    """The class pairs (source owner -> destination owner) of one item, in the policy's
    service names, with the ingress interfaces and one example packet each."""
    by_pair: dict[tuple[str, str, str], list[Difference]] = {}
    for d in members:
        by_pair.setdefault((d.src_owner, d.dst_owner, d.flows), []).append(d)
    out = []
    for (src, dst, flows), ds in sorted(by_pair.items()):
        packets = PacketSet.union_all(d.packets for d in ds)
        out.append(
            {
                "src": src,
                "dst": dst,
                "flows": flows,
                "services": list(service_names(packets, compiled.services)),
                "ingress": sorted({d.ingress for d in ds}),
                "example": ds[0].example,
            }
        )
    return out


def _file_line(key: str) -> tuple[str, int]:
    file, _, line = key.rpartition(":")
    return file, int(line)


def _ref(r: RuleRef) -> dict[str, Any]:
    return {"file": r.file, "line": r.line, "text": r.text.strip()}


def _remedy(platform: str, lines: list[str], d: Difference) -> list[str]:
    """The commands that undo the deciding line when it is one the box's operator added
    (a permit that opens too much, a drop or divert of someone else's), else a rebuild."""
    out: list[str] = []
    opens = d.kind == "permits-too-much"
    for ref in d.rules:
        if ref.line is None or not 0 < ref.line <= len(lines):
            continue
        fix = {"iptables": _iptables_fix, "nftables": _nft_fix, "cisco-ios": _ios_fix}.get(
            platform, _none
        )(lines, ref.line, opens)
        out.extend(f for f in fix if f not in out)
    return out + [REBUILD]


def _firewalld_fix(platform: str, lines: list[str], members: list[Difference]) -> list[str]:
    """When a line of firewalld's table decides (its zones reject what zonewall lets
    through: firewalld's base chains run beside zonewall's, at priority filter + 10, and
    every chain at a hook must accept), firewalld is what to change, not zonewall."""
    first = members[0]
    if platform != "nftables" or first.kind == "permits-too-much":
        return []
    chain = ""
    for ref in first.rules:
        if ref.line is not None and 0 < ref.line <= len(lines):
            where = _table_chain(lines, ref.line)
            if where[0] == "inet firewalld" and not ref.text.strip().startswith("type "):
                chain = where[1] or ""
    if not chain:
        return []
    ifaces = sorted({d.ingress for d in members})
    zone_chain = _FIREWALLD_ZONE.fullmatch(chain)
    if zone_chain is None:  # a policy's or rich rule's chain, the rpfilter, ...
        return [
            f"change the firewalld setting that writes chain {chain} (firewall-cmd "
            "--list-all-zones, --list-all-policies), then: firewall-cmd --reload",
            "disable firewalld, whose chains run beside zonewall's: "
            "systemctl disable --now firewalld",
        ]
    zone = zone_chain.group(2)
    if first.dst_owner.startswith("gateway:"):
        return [
            f"firewall-cmd --permanent --zone={zone} --add-port=PORT/PROTO  (firewalld's "
            f"zone {zone} rejects these packets to the box entering {', '.join(ifaces)}: "
            "open the services above in it)",
            "firewall-cmd --reload",
            "disable firewalld, whose input chain runs beside zonewall's: "
            "systemctl disable --now firewalld",
        ]
    moves = [f"firewall-cmd --permanent --zone=trusted --change-interface={i}" for i in ifaces]
    moves[0] += (
        f"  (firewalld's zone {zone} rejects what zonewall forwards here: put the "
        "interfaces in a zone with forward that lets the flows through, as trusted does, "
        "or add a firewalld policy from their zone to the egress interface's zone with "
        "--set-target ACCEPT)"
    )
    return [
        *moves,
        "firewall-cmd --reload",
        "disable firewalld, whose forward chain runs beside zonewall's: "
        "systemctl disable --now firewalld",
    ]


def _table_chain(lines: list[str], n: int) -> tuple[str | None, str | None]:
    """The `table FAMILY NAME` and `chain NAME` that line `n` of an nft listing is in."""
    table = chain = None
    for ln in reversed(lines[: n - 1]):
        words = ln.split()
        if chain is None and words[:1] == ["chain"] and len(words) >= 2:
            chain = words[1]
        if words[:1] == ["table"] and len(words) >= 3:
            table = f"{words[1]} {words[2]}"
            break
    return table, chain


def _none(lines: list[str], n: int, opens: bool) -> list[str]:
    return []


# a built-in chain's policy decided: zonewall's jump is missing (its load line adds it first)
_JUMPS = {"FORWARD": "zw-forward", "INPUT": "zw-input"}


def _iptables_fix(lines: list[str], n: int, opens: bool) -> list[str]:
    text = lines[n - 1].strip()
    chain = text[1:].split(" ", 1)[0] if text.startswith(":") else ""
    if chain in _JUMPS:
        jump = _JUMPS[chain]
        declared = any(ln.startswith(f":{jump} ") for ln in lines)
        jumped = any(ln.split("] ", 1)[-1].startswith(f"-A {chain} -j {jump}") for ln in lines)
        return [f"iptables -I {chain} 1 -j {jump}"] if declared and not jumped else []
    if text.startswith("["):
        text = text.split("]", 1)[1].strip()
    if not text.startswith("-A "):
        return []
    chain = text.split()[1]
    words = text.split()
    target = words[words.index("-j") + 1] if "-j" in words[:-1] else ""
    if chain.startswith("zw-") or (not opens and target in ("ACCEPT", "")):
        return []  # zonewall's own chains: rebuild; a drift it did not open: rebuild
    table = next((ln.strip()[1:] for ln in reversed(lines[:n]) if ln.startswith("*")), "filter")
    flag = "" if table == "filter" else f"-t {table} "
    return [f"iptables {flag}-D {text[3:]}"]


def _nft_fix(lines: list[str], n: int, opens: bool) -> list[str]:
    handle = _HANDLE.search(lines[n - 1])
    table, chain = _table_chain(lines, n)
    if table is None or chain is None or table.endswith(" zonewall"):
        return []
    if handle is None:
        return [
            f"nft -a list chain {table} {chain}  (to find the rule's handle, then: nft "
            f"delete rule {table} {chain} handle N)"
        ]
    return [f"nft delete rule {table} {chain} handle {handle.group(1)}"]


def _ios_fix(lines: list[str], n: int, opens: bool) -> list[str]:
    text = lines[n - 1].strip()
    if not lines[n - 1][:1].isspace() or not re.match(r"(\d+\s+)?(permit|deny)\b", text):
        return []
    if not opens and " any any" in text:
        return []  # a default deny: the fix is an entry zonewall writes, not a removal
    header = next(
        (ln.strip() for ln in reversed(lines[: n - 1]) if ln.strip() and not ln[:1].isspace()), ""
    )
    if not header.startswith("ip access-list "):
        return []
    m = _SEQ.match(lines[n - 1])
    entry = f"no {m.group(1)}" if m else f"no {text}"
    return [header, f" {entry}"]
