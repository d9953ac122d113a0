"""`zonewall learn`: a draft policy from observed traffic.

The classes come from a policy (`--policy`: its pools, services, classes, externals and
gateways are copied as written; its allows, denies and assertions are not) or from a class
list (`--classes CSV`, see `inventory`: each class gets the subnets and addresses listed for
it; an `internet` external for public space and one placeholder Linux gateway are added).
The flows are read by `engine` (a reply record is turned around, see `ports`), and for every
pair of nodes and every service seen between them the draft has one

    allow SRC -> DST : SERVICE  "learned: N flow(s), P packet(s), FIRST .. LAST"

The service is named by the policy's own smallest service that holds the port, else by the
built-in table of well-known medical and IT services (`ports.WELL_KNOWN`, defined in the draft
as used), else written as `tcp/PORT`.  A service seen in fewer than `min_flows` flows is a
comment for review, not an allow.  Traffic inside one class, between two externals and with
unknown addresses is not learned (unknown /24s are listed as comments).  Suggested assertions
follow: a `limited` footprint per class that starts traffic, and `only` for each critical
class that receives some; they hold by construction.

The draft is compiled before it is returned: it must have no error and must permit every
learned flow, and an allow that `check` reports as wholly covered by others (W102) is dropped.
A draft that fails this is a bug in zonewall (`LearnBug`), never the user's problem.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netaddr import IPNetwork, cidr_merge

from zonewall.compiler.special import SPECIAL_RANGES
from zonewall.diagnostics import Diagnostic, Severity, Span, source_lines
from zonewall.dsl.printer import format_policy
from zonewall.ir import CompiledPolicy, Criticality, ServiceRef
from zonewall.report import CheckReport, run_check
from zonewall.traffic.engine import NodeTable, Observed, ObservedFlow, unknown_net
from zonewall.traffic.inventory import Device, InventoryError
from zonewall.traffic.ports import WELL_KNOWN, WellKnown

__all__ = ["Base", "Draft", "LearnBug", "base_from_classes", "base_from_policy", "learn"]

PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp"}


class LearnBug(Exception):
    """The draft does not compile clean or does not permit what was learned: a zonewall bug."""

    def __init__(self, message: str, codes: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.codes = codes


# A gateway's `dhcp-relay` needs DHCP allows the traffic may not show (no lease renewed in
# the capture): then the draft leaves the declaration out, with a comment.
RELAY_CODES = frozenset({"E220", "E221", "E222"})


@dataclass(frozen=True)
class Base:
    """What the draft is built on: the compiled classes and the definitions to copy."""

    compiled: CompiledPolicy
    header: tuple[str, ...]  # comment lines and statements before the definitions
    services: Mapping[str, str]  # name -> definition text (copied only when used)
    service_deps: Mapping[str, tuple[str, ...]]
    classes: tuple[str, ...]
    externals: Mapping[str, str]  # name -> definition text (copied only when used)
    gateways: tuple[tuple[str, str], ...]  # as written, and without its `dhcp-relay`
    reserved: frozenset[str] = field(default_factory=frozenset)  # names the draft may not take


@dataclass(frozen=True)
class Draft:
    text: str  # in `fmt` layout
    allows: int
    review: int  # (pair, service) groups under the threshold
    report: CheckReport  # the draft's own check


def _span_text(lines: Sequence[str], span: Span) -> str:
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]
    picked = [lines[span.line - 1][span.col - 1 :]]
    picked += lines[span.line : span.end_line - 1]
    picked.append(lines[span.end_line - 1][: span.end_col - 1])
    return "\n".join(picked)


def base_from_policy(report: CheckReport) -> Base:
    """The definitions of a compiled policy, as written."""
    c = report.compiled
    assert c is not None
    lines = {f: source_lines(t) for f, t in report.sources.items()}

    def text(span: Span | None) -> str:
        assert span is not None and span.file in lines
        return _span_text(lines[span.file], span)

    p = c.policy
    header = []
    if p.header is not None and p.header.span is not None:
        header.append(text(p.header.span))
    if p.subnet_pools:
        header.append("pool subnets " + ", ".join(str(n) for n, _ in p.subnet_pools))
    if p.vlan_pools:
        header.append(
            "pool vlans "
            + ", ".join(f"{lo}-{hi}" if hi != lo else str(lo) for lo, hi, _ in p.vlan_pools)
        )
    services = {s.name: text(s.span) for s in p.services}
    deps = {s.name: tuple(i.name for i in s.items if isinstance(i, ServiceRef)) for s in p.services}
    names = (
        {k.name for k in p.classes}
        | {e.name for e in p.externals}
        | {g.name for g in p.gateways}
        | set(services)
    )
    gateways = []
    for g in p.gateways:
        written = text(g.span)
        if g.dhcp_relay is None:
            gateways.append((written, written))
            continue
        relay = text(g.dhcp_relay.span)
        gateways.append(
            (
                written,
                f"# no learned DHCP needs {g.name}'s {relay}\n" + written.replace(relay, "", 1),
            )
        )
    return Base(
        c,
        tuple(header),
        services,
        deps,
        tuple(text(k.span) for k in p.classes),
        {e.name: text(e.span) for e in p.externals},
        tuple(gateways),
        frozenset(names),
    )


def classes_text(devices: Sequence[Device]) -> str:
    """A policy of the classes a class list names: their subnets (addresses merged), the
    internet (public space) and a placeholder gateway."""
    nets: dict[str, list[IPNetwork]] = {}
    crit: dict[str, Criticality] = {}
    for d in devices:
        nets.setdefault(d.cls, []).append(d.address)
        if d.criticality:
            level = Criticality[d.criticality.upper()]
            crit[d.cls] = max(crit.get(d.cls, level), level)
    internet, gateway = (_free(base, nets) for base in ("internet", "fw"))
    out = ["pool vlans 100-3999", ""]
    for name in sorted(nets):
        subnets = ", ".join(str(n) for n in cidr_merge(nets[name]))
        attr = f"  criticality {crit[name].label}" if name in crit else ""
        out.append(f"class {name} {{ subnet {subnets}{attr} }}")
    special = ", ".join(prefix for prefix, _ in SPECIAL_RANGES)
    out += [
        "",
        f"external {internet} {{ address 0.0.0.0/0 except {special} }}",
        "",
        "# a placeholder: name your gateway, its platform and interfaces",
        f'gateway {gateway} {{ platform iptables  serves internal  interface "eth1.{{vlan}}"'
        '  uplink "eth0" }',
    ]
    return "\n".join(out) + "\n"


def _free(name: str, taken: Mapping[str, object]) -> str:
    """`name`, or `name_2`, `name_3`, ... when a class of the list has it."""
    n, found = 1, name
    while found in taken:
        n += 1
        found = f"{name}_{n}"
    return found


def base_from_classes(devices: Sequence[Device], text: str) -> Base:
    """The classes a class list names (`classes_text`), compiled.

    Raises:
        InventoryError: two classes claim overlapping addresses (at the later row).
    """
    reach: Device | None = None  # of the rows sorted by address, the one reaching furthest
    for d in sorted(devices, key=lambda d: (d.address.first, d.span.line)):
        if reach is not None and d.address.first <= reach.address.last and reach.cls != d.cls:
            later, other = (d, reach) if d.span.line > reach.span.line else (reach, d)
            raise InventoryError(
                Diagnostic(
                    Severity.ERROR,
                    "E112",
                    f"{later.label} of class '{later.cls}' overlaps "
                    f"{other.label} of class '{other.cls}' (line {other.span.line}): an address "
                    "belongs to one class",
                    later.cls_span or later.span,
                ),
                text,
            )
        if reach is None or d.address.last > reach.address.last:
            reach = d
    policy = classes_text(devices)
    base = base_from_policy(_compile(policy, "classes.zw"))
    return Base(
        base.compiled,
        ("pool vlans 100-3999",),
        {},
        {},
        base.classes,
        base.externals,
        base.gateways,
        base.reserved,
    )


# ---------------------------------------------------------------------------------------------
# naming what was seen
# ---------------------------------------------------------------------------------------------


@dataclass
class _Seen:
    flows: int = 0
    packets: int = 0
    first: float | None = None
    last: float | None = None
    keys: set[int] = field(default_factory=set)

    def merge(self, other: _Seen) -> None:
        self.flows += other.flows
        self.packets += other.packets
        for t in (other.first, other.last):
            if t is not None:
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)
        self.keys |= other.keys

    def add(self, o: ObservedFlow) -> None:
        self.flows += o.flows
        self.packets += o.packets
        if o.first is not None:
            self.first = o.first if self.first is None else min(self.first, o.first)
        if o.last is not None:
            self.last = o.last if self.last is None else max(self.last, o.last)
        self.keys.add(o.key)


def _literal(key: int) -> str:
    proto, port = key >> 16, key & 0xFFFF
    if proto in PROTO_NAMES:
        return f"{PROTO_NAMES[proto]}/{port}"
    return f"proto/{proto}"


class _Namer:
    def __init__(self, base: Base) -> None:
        c = base.compiled
        self.policy = sorted(
            ((s.packets, s.name) for s in c.services if s.packets),
            key=lambda ps: (sum(hi - lo + 1 for lo, hi in ps[0].intervals), ps[1]),
        )
        self.reserved = base.reserved
        self.builtin: dict[int, WellKnown] = {}
        for w in WELL_KNOWN:
            if w.name not in base.reserved:
                for proto, port in w.items:
                    self.builtin.setdefault(proto << 16 | port, w)
        self.used_builtin: dict[str, WellKnown] = {}
        self.used_policy: set[str] = set()

    def name(self, key: int) -> str:
        for packets, name in self.policy:
            if key in packets:
                self.used_policy.add(name)
                return name
        w = self.builtin.get(key)
        if w is not None:
            self.used_builtin[w.name] = w
            return w.name
        return _literal(key)


def _date(t: float | None) -> str:
    if t is None:
        return "no time"
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _why(s: _Seen) -> str:
    return (
        f"learned: {s.flows:,} flow(s), {s.packets:,} packet(s), {_date(s.first)} .. "
        f"{_date(s.last)}"
    )


# ---------------------------------------------------------------------------------------------
# the draft
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Allow:
    src: str
    dst: str
    service: str
    seen: _Seen = field(compare=False)

    def text(self) -> str:
        return f'allow {self.src} -> {self.dst} : {self.service}  "{_why(self.seen)}"'


def learn(
    base: Base,
    observed: Observed,
    files: Sequence[str],
    min_flows: int = 1,
    out_name: str = "learned.zw",
) -> Draft:
    """The draft policy for the observed traffic.

    Raises:
        LearnBug: the draft does not compile clean or does not permit what was learned.
    """
    c = base.compiled
    nodes = NodeTable(c)
    namer = _Namer(base)
    groups: dict[tuple[int, int, str], _Seen] = {}
    unknown: dict[str, int] = {}
    for o in observed.flows:
        if o.src < 0 or o.dst < 0:
            for k in (o.src, o.dst):
                if k < 0:
                    unknown[unknown_net(k)] = unknown.get(unknown_net(k), 0) + o.flows
            continue
        if o.src == o.dst or (c.endpoints[o.src].kind == c.endpoints[o.dst].kind == "external"):
            continue
        groups.setdefault((o.src, o.dst, namer.name(o.key)), _Seen()).add(o)
    # one allow per (source name, destination name, service): two atoms of external space
    # may carry the same name (`cloud` inside and outside `vendor`)
    merged: dict[tuple[str, str, str], _Seen] = {}
    for (s, d, svc), seen in groups.items():
        into = merged.setdefault((c.endpoints[s].name, c.endpoints[d].name, svc), _Seen())
        into.merge(seen)
    allows: list[_Allow] = []
    review: list[_Allow] = []
    for (src, dst, svc), seen in sorted(merged.items()):
        (allows if seen.flows >= min_flows else review).append(_Allow(src, dst, svc, seen))
    relay = True
    try:
        pruned = _drop_redundant(base, namer, allows, out_name, relay)
    except LearnBug as bug:
        if not bug.codes & RELAY_CODES:
            raise
        relay = False
        pruned = _drop_redundant(base, namer, allows, out_name, relay)
    try:
        return _finish(
            base,
            namer,
            pruned,
            review,
            unknown,
            observed,
            files,
            min_flows,
            relay,
            out_name,
            nodes,
            groups,
        )
    except LearnBug:
        if pruned == allows:
            raise
        # allows that cover each other were all dropped: keep them all (check warns W102)
        return _finish(
            base,
            namer,
            allows,
            review,
            unknown,
            observed,
            files,
            min_flows,
            relay,
            out_name,
            nodes,
            groups,
        )


def _finish(
    base: Base,
    namer: _Namer,
    allows: list[_Allow],
    review: list[_Allow],
    unknown: Mapping[str, int],
    observed: Observed,
    files: Sequence[str],
    min_flows: int,
    relay: bool,
    out_name: str,
    nodes: NodeTable,
    groups: Mapping[tuple[int, int, str], _Seen],
) -> Draft:
    text = _assemble(base, namer, allows, review, unknown, observed, files, min_flows, relay)
    formatted = format_policy(text, out_name)
    report = _compile(formatted, out_name)
    _verify(report, nodes, groups, min_flows)
    return Draft(formatted, len(allows), len(review), report)


def _compile(text: str, name: str) -> CheckReport:
    data = text.encode("utf-8")

    def read(path: str) -> bytes:
        if path != name:
            raise OSError(2, "a learned draft includes nothing")
        return data

    report = run_check(name, read)
    errors = [d for d in report.diagnostics if d.is_error]
    if report.compiled is None or errors:
        first = errors[0].message if errors else "it does not compile"
        raise LearnBug(f"the learned draft has errors: {first}", frozenset(d.code for d in errors))
    return report


def _drop_redundant(
    base: Base, namer: _Namer, allows: list[_Allow], name: str, relay: bool
) -> list[_Allow]:
    """Drop allows that `check` finds wholly covered by the others (W102), e.g. `a -> vendor :
    https` beside `a -> internet : https` when the vendor is inside the internet."""
    text = _assemble(base, namer, allows, [], {}, None, (), 1, relay)
    report = _compile(text, name)
    if not allows:
        return allows
    first = 1 + text.split("\n").index(allows[0].text())
    redundant = {
        d.span.line - first
        for d in report.diagnostics
        if d.code == "W102" and d.span is not None and d.span.line >= first
    }
    return [a for i, a in enumerate(allows) if i not in redundant] if redundant else allows


def _verify(
    report: CheckReport,
    nodes: NodeTable,
    groups: Mapping[tuple[int, int, str], _Seen],
    min_flows: int,
) -> None:
    """Every learned flow is permitted by the draft (addresses mapped through its nodes)."""
    c = report.compiled
    assert c is not None
    draft_nodes = NodeTable(c)
    flows = {(f.src, f.dst): f.packets for f in c.flows}
    first = {ep: lo for lo, _, ep in reversed(nodes.intervals)}
    for (s, d, _), seen in groups.items():
        if seen.flows < min_flows:
            continue
        ds, dd = draft_nodes.node_of(first[s]), draft_nodes.node_of(first[d])
        packets = flows.get((ds, dd)) if ds is not None and dd is not None else None
        if packets is None or any(k not in packets for k in seen.keys):
            raise LearnBug(
                f"the learned draft does not permit {nodes.label(s)} -> {nodes.label(d)}"
            )


def _assemble(
    base: Base,
    namer: _Namer,
    allows: Sequence[_Allow],
    review: Sequence[_Allow],
    unknown: Mapping[str, int],
    observed: Observed | None,
    files: Sequence[str],
    min_flows: int,
    relay: bool,
) -> str:
    c = base.compiled
    out = [
        "# A draft policy learned from observed traffic by `zonewall learn`.",
        "# Review every allow before enforcing it: traffic that was seen is not traffic that",
        "# is needed, and traffic that was not seen (a monthly job) is missing.",
    ]
    if observed is not None:
        for f in observed.files:
            out.append(f"# flows: {f.path} ({f.format}, {f.records:,} record(s), {f.bad:,} bad)")
    out += ["", *base.header, ""]
    used = _services_used(base, namer, allows)
    for name in sorted(used):
        out.append(base.services[name])
    for w in sorted(namer.used_builtin.values(), key=lambda w: w.name):
        if any(a.service == w.name for a in allows):
            items = ", ".join(f"{PROTO_NAMES[p]}/{n}" for p, n in w.items)
            out.append(
                f"service {w.name} = {items}{' plaintext' if w.plaintext else ''}  # {w.what}"
            )
    out += ["", *base.classes, ""]
    wanted = {a.dst for a in allows} | {a.src for a in allows}
    externals = {n: t for n, t in base.externals.items() if n in wanted}
    out += [*externals.values(), "", *(g[0] if relay else g[1] for g in base.gateways), ""]
    out += [a.text() for a in allows]
    if review:
        out += ["", f"# seen in fewer than {min_flows} flow(s): review, then uncomment or drop"]
        out += ["# " + a.text() for a in review]
    out += _silent(c, allows)
    if unknown:
        out += ["", "# addresses in no class and no external (not learned): give them a class"]
        out += [f"#   {net}: {n:,} flow(s)" for net, n in sorted(unknown.items())]
    out += _assertions(c, allows, review)
    return "\n".join(out) + "\n"


def _services_used(base: Base, namer: _Namer, allows: Sequence[_Allow]) -> set[str]:
    todo = [a.service for a in allows if a.service in base.services]
    used: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in used:
            used.add(name)
            todo.extend(base.service_deps.get(name, ()))
    return used


def _silent(c: CompiledPolicy, allows: Sequence[_Allow]) -> list[str]:
    named = {a.src for a in allows} | {a.dst for a in allows}
    quiet = [k.name for k in c.classes if k.name not in named]
    if not quiet:
        return []
    return [
        "",
        "# classes in no learned flow (check warns W105 until they have one):",
        *(f"#   {name}" for name in quiet),
    ]


def _assertions(c: CompiledPolicy, allows: Sequence[_Allow], review: Sequence[_Allow]) -> list[str]:
    if not allows:
        return []
    classes = {k.name: k for k in c.classes}
    out = [
        "",
        "# suggested assertions: they hold for the traffic seen; keep those that must",
        "# stay true whatever the policy becomes",
    ]
    by_src: dict[str, list[str]] = {}
    for a in allows:
        if a.src in classes and a.service not in by_src.setdefault(a.src, []):
            by_src[a.src].append(a.service)
    for src in sorted(by_src):
        out.append(f"assert limited {src} -> any : {', '.join(sorted(by_src[src]))}")
    into: dict[str, set[str]] = {}
    for a in allows:
        if a.dst in classes and classes[a.dst].criticality is Criticality.CRITICAL:
            into.setdefault(a.dst, set()).add(a.src)
    for dst in sorted(into):
        out.append(f"assert only {', '.join(sorted(into[dst]))} -> {dst}")
    return out
