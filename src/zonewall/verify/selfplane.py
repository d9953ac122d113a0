"""Traffic to the gateway itself: a config's input plane against the policy's gateway flows.

The expectation comes from the IR alone (`CompiledPolicy.gateway_flows`, the flows the policy
opens with `gateway:NAME`), written independently of the backends, with the same ingress model
as forwarding (docs/language.md, section 8.1):

* entering on a served class's interface, a packet from that class may start exactly the
  class's flow to this gateway; any other source there is spoofed (nothing);
* entering on the uplink, a source in a class served by another gateway or in an external
  atom may start exactly its flow to this gateway; a class served here is spoofed (nothing);
  an address in no class and no external gets nothing;
* DHCP: a served class that may reach a DHCP server in some class (udp/67) sends its
  clients' broadcasts (from 0.0.0.0 or the class, to 255.255.255.255) to a relay on the box,
  so udp/67 from those sources on its interface is expected too, as IOS takes them in for
  `ip helper-address`.

The config side is the parsed ruleset's `input_entry` chains (iptables INPUT, nft input
hooks), evaluated with the same engine as forwarding.  NEW packets must be accepted exactly
(from every source port: blocked keys are those some source port loses, too-much keys those
some source port gains); ESTABLISHED packets of permitted flows must be accepted.  The box's
own addresses are not in the policy, so the expectation holds toward every destination
address: a config that tests destinations in its input chains is compared on every
destination it tells apart.  A parser that leaves `input_entry` empty does not model the
plane, and nothing is checked.

A switch (cisco-ios, `acl_self_plane`) has no input chain: its inbound ACLs decide what reaches
its own addresses (the SVI addresses) too.  `split_own` gives this comparison the rules that
can meet a packet to an own address, up to where every own address is decided, and the
forwarding comparison the others; per ingress, own addresses that no rule tells apart
(`own_alike`) are compared once.  Both are exact: a test holds them to the long way (the whole
ruleset, every own address on its own) on wrong own-plane entries.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

from zonewall.ir import CompiledPolicy
from zonewall.packets import PacketSet

from .addresses import Group, address_groups
from .engine import Cell, Context, Ctx, Evaluator
from .model import DHCP_SERVER_KEY, GatewayModel
from .rules import EMPTY, EVERYTHING, AddrMatch, Chain, Rule, RuleRef, Ruleset

__all__ = ["SelfFinding", "acl_self_plane", "own_alike", "self_plane", "split_own"]

DHCP = PacketSet(((DHCP_SERVER_KEY, DHCP_SERVER_KEY),))  # udp/67


@dataclass(frozen=True, slots=True)
class SelfFinding:
    """One way the input plane departs from the policy, for one ingress and source group."""

    kind: str  # permits-too-much | blocks-needed
    ingress: str
    src: str
    src_owner: str
    dst: str  # "any address of the box", or a destination group the config tells apart
    packets: PacketSet
    condition: str
    rules: tuple[RuleRef, ...]
    example: str


def self_plane(
    compiled: CompiledPolicy, gateway: str, ruleset: Ruleset, model: GatewayModel | None = None
) -> list[SelfFinding]:
    """Every difference between the ruleset's input plane and the policy's flows to the
    gateway itself (empty when the parser does not model the plane).  Only the chains the
    input plane reaches cut the address groups (no other rule is evaluated here); `model`:
    the gateway's, when the caller has it."""
    if not ruleset.input_entry:
        return []
    model = model if model is not None else GatewayModel(compiled, gateway)
    reach = _reachable(ruleset, ruleset.input_entry)
    plane = dataclasses.replace(
        ruleset,
        chains={n: c for n, c in ruleset.chains.items() if n in reach},
        default_entry=ruleset.input_entry,
        entry={},
    )
    ev = Evaluator(plane)
    groups = address_groups(model, plane.address_intervals())
    return _plane(model, ev, groups, _expected(compiled, model), None)


def _reachable(ruleset: Ruleset, entries: tuple[str, ...]) -> set[str]:
    """The chains `entries` name and every chain their rules jump or go to, transitively
    (a name no chain has is left to the evaluator, which reports it as before)."""
    out: set[str] = set()
    todo = [n for n in entries if n in ruleset.chains]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        todo.extend(
            r.target
            for r in ruleset.chains[name].rules
            if r.target is not None and r.target in ruleset.chains
        )
    return out


def acl_self_plane(
    compiled: CompiledPolicy,
    gateway: str,
    ruleset: Ruleset,
    own: tuple[int, ...],
    model: GatewayModel | None = None,
) -> list[SelfFinding]:
    """The same for a switch (cisco-ios), whose inbound ACLs also decide what reaches its own
    addresses `own`: per ingress, source and own address, every packet shape (stateless:
    every source port, with and without ACK) must be accepted exactly for the gateway flows.
    Own addresses an ingress treats alike (`own_alike`) are compared once, through the first
    of them.  DHCP broadcasts go to 255.255.255.255, not to an own address: the forwarding
    comparison holds them.  `ruleset` may be the switch's whole ruleset or only the rules
    that may match a packet to an own address (`split_own`: the same findings, sooner);
    `model`: the gateway's, when the caller has it."""
    model = model if model is not None else GatewayModel(compiled, gateway)
    ev = Evaluator(ruleset)
    groups = address_groups(model, ruleset.address_intervals() | {(a, a) for a in own})
    mine = [g for g in groups if g.rep == g.rep_last and g.rep in set(own)]
    return _plane(model, ev, groups, _expected(compiled, model, dhcp=False), mine)


def split_own(ruleset: Ruleset, own: tuple[int, ...]) -> tuple[Ruleset, Ruleset]:
    """The ruleset as two: (the rules that may match a packet to one of the own addresses
    `own`, the rules that may match a packet to any other address), each chain keeping its
    order and policy.

    A rule whose destinations are all own addresses (`permit tcp 10.1.2.0 0.0.0.255 host
    10.1.2.1 eq 22`, `deny ip any object-group <own addresses> log`) never meets a forwarded
    packet, and a rule none of whose destinations is an own address never meets a packet to
    the switch: leaving them out changes no verdict of the cells each comparison checks (the
    forwarding comparison leaves the own addresses out of its destinations).  Without the
    first kind, a source that every forwarding entry drops is again one verdict toward every
    destination (one comparison for its row), as before the switch filtered its own plane.
    The rules of a chain after every own address has met a rule deciding all its packets
    never meet a packet to the switch either (`_until_closed`)."""
    mine = sorted(set(own))
    # per distinct destination match (rules share them): (may meet an own address, may meet
    # another address)
    seen: dict[int, tuple[bool, bool]] = {}

    def meets(m: AddrMatch | None) -> tuple[bool, bool]:
        if m is None or m.negate:
            return True, True
        got = seen.get(id(m))
        if got is None:
            inside = [
                bisect.bisect_right(mine, hi) - bisect.bisect_left(mine, lo)
                for lo, hi in m.intervals
            ]
            got = seen[id(m)] = (
                any(inside),
                any(n < hi - lo + 1 for n, (lo, hi) in zip(inside, m.intervals, strict=True)),
            )
        return got

    to_box: dict[str, Chain] = {}
    forwarded: dict[str, Chain] = {}
    for name, c in ruleset.chains.items():
        flags = [meets(r.dst) for r in c.rules]
        kept = tuple(r for r, f in zip(c.rules, flags, strict=True) if f[1])
        forwarded[name] = c if len(kept) == len(c.rules) else _chain(c, kept)
        to_box[name] = _chain(c, _until_closed(c.rules, flags, mine))
    return (
        dataclasses.replace(ruleset, chains=to_box),
        dataclasses.replace(ruleset, chains=forwarded),
    )


def _chain(c: Chain, rules: tuple[Rule, ...]) -> Chain:
    return c if len(rules) == len(c.rules) else Chain(c.name, rules, c.policy, c.policy_ref)


def _until_closed(
    rules: tuple[Rule, ...], flags: list[tuple[bool, bool]], own: list[int]
) -> tuple[Rule, ...]:
    """The rules that may meet a packet to an own address (`flags[i][0]`), up to the one
    after which every own address has met a rule deciding all its packets on any interface
    (`deny ip any object-group <own addresses> log`): a packet to the switch never reaches a
    later rule of the chain, since ACCEPT and DROP end its walk wherever the chain is."""
    open_ = set(own)
    out: list[Rule] = []
    for r, (to_own, _) in zip(rules, flags, strict=True):
        if not to_own:
            continue
        out.append(r)
        if r.iif is None and r.oif is None and _decides_all(r):
            if r.dst is None:
                break
            if not r.dst.negate:
                open_.difference_update(
                    a
                    for lo, hi in r.dst.intervals
                    for a in own[bisect.bisect_left(own, lo) : bisect.bisect_right(own, hi)]
                )
                if not open_:
                    break
    return tuple(out)


def own_alike(ruleset: Ruleset, ingress: str, own: list[Group]) -> list[Group]:
    """Of the own addresses `own` (single-address groups), one per class of those a packet
    entering on `ingress` cannot tell apart, in the order of `own`.

    Two own addresses are alike when, in every entry chain of the ingress, the same rules can
    match them (ingress, egress and destination), up to the first rule that decides every
    packet toward them whatever the source and context (`deny ip any host A log`, or an
    object group of every own address): the rules after it are never reached, so for every
    source and context a first-match walk meets the same rules for both and decides alike.
    The switch's ACLs close every own address near their top, so the forwarding entries that
    tell the SVI subnets apart do not split them.  A chain that jumps, goes to or returns
    (none in IOS) is not analysed: every own address is then a class of its own."""
    if len(own) < 2:
        return list(own)
    reps = sorted((g.rep, i) for i, g in enumerate(own))
    addrs = [a for a, _ in reps]
    sig: list[list[tuple[int, int]]] = [[] for _ in own]
    for c, name in enumerate(ruleset.entries(ingress)):
        rules = ruleset.chains[name].rules
        if any(r.target is not None or r.action == "RETURN" for r in rules):
            return list(own)
        live = set(range(len(own)))
        for p, r in enumerate(rules):
            if not live:
                break
            if (r.iif is not None and not r.iif.matches(ingress)) or (
                r.oif is not None and not r.oif.matches(None)
            ):
                continue
            if r.dst is None or r.dst.negate:
                hit = [i for i in sorted(live) if r.dst is None or r.dst.matches(own[i].rep)]
            else:
                hit = []
                for lo, hi in r.dst.intervals:
                    start, stop = bisect.bisect_left(addrs, lo), bisect.bisect_right(addrs, hi)
                    hit.extend(i for _, i in reps[start:stop] if i in live)
            for i in hit:
                sig[i].append((c, p))
            if _decides_all(r):
                live.difference_update(hit)
    first: dict[tuple[tuple[int, int], ...], Group] = {}
    for i, g in enumerate(own):
        first.setdefault(tuple(sig[i]), g)
    return list(first.values())


def _decides_all(r: Rule) -> bool:
    """True when a rule that matches a destination decides every packet toward it, from any
    source, in any context (the rules after it never see one)."""
    return (
        r.action in ("ACCEPT", "DROP")
        and r.src is None
        and r.keys == EVERYTHING
        and r.sports is None
        and r.states is None
        and not r.ack
    )


def _plane(
    model: GatewayModel,
    ev: Evaluator,
    groups: list[Group],
    expected: dict[tuple[str, int | str | None], PacketSet],
    own: list[Group] | None,
) -> list[SelfFinding]:
    """The comparison of both: toward every address (`own` None) or those of `own`."""
    reps = sorted((g.rep, g.id) for g in groups)
    by_key: dict[int | str | None, list[int]] = {}
    for g in groups:
        by_key.setdefault(_key(g), []).append(g.id)
    special = {g.id for g in groups if g.special}
    wanted: dict[str, list[int | str | None]] = {}
    for ingress, key in expected:
        wanted.setdefault(ingress, []).append(key)
    out: list[SelfFinding] = []
    for ingress in model.interfaces:
        here = None if own is None else own_alike(ev.ruleset, ingress, own)
        notable = set(special)
        for key in wanted.get(ingress, ()):
            notable.update(by_key.get(key, ()))
        for m in ev.source_tests(ingress):
            for lo, hi in m.intervals if not m.negate else ((0, 1 << 32),):
                start = bisect.bisect_left(reps, (lo, -1))
                stop = bisect.bisect_right(reps, (hi, len(groups)))
                notable.update(i for _, i in reps[start:stop])
        # Every other source meets no source-testing rule and expects nothing: the first of
        # them stands for all.  Sources alike for the config and the policy share one row.
        rest = next((g for g in groups if g.id not in notable), None)
        rows: dict[tuple[object, ...], list[SelfFinding]] = {}
        for g in [groups[i] for i in sorted(notable)] + ([rest] if rest else []):
            want = expected.get((ingress, _key(g)), EMPTY)
            rkey = (ev.src_signature(ingress, g.rep), want)
            if rkey not in rows:
                rows[rkey] = _row(ev, groups, ingress, g, want, model.name, here)
            alike = [x for x in groups if x.id not in notable] if g is rest else [g]
            for each in alike if rows[rkey] else ():
                out.extend(_as_source(f, each) for f in rows[rkey])
    return out


def _as_source(f: SelfFinding, g: Group) -> SelfFinding:
    src = g.describe()
    if src == f.src:
        return f
    owner = g.endpoint.name if g.endpoint is not None else "no class or external"
    return dataclasses.replace(
        f, src=src, src_owner=owner, example=f.example.replace(f" from {f.src} ", f" from {src} ")
    )


def _key(g: Group) -> int | str | None:
    """A source group's key in `_expected`: its endpoint id, "zero" for 0.0.0.0."""
    if g.special == "zero":
        return "zero"
    return g.endpoint.id if g.endpoint is not None else None


def _expected(
    compiled: CompiledPolicy, model: GatewayModel, dhcp: bool = True
) -> dict[tuple[str, int | str | None], PacketSet]:
    """(ingress, source key) -> what NEW packets to the box must be accepted.

    Besides the gateway flows: the DHCP broadcasts of a served class that may reach a DHCP
    server (udp/67, from 0.0.0.0 or the class, on its interface) go to a relay on the box,
    as an IOS SVI's `ip helper-address` takes them in (`GatewayModel.dhcp_relay`)."""
    served = {c.name: c for c in model.served}
    out: dict[tuple[str, int | str | None], PacketSet] = {}
    for f in compiled.gateway_flows:
        if f.gateway != model.name:
            continue
        ep = compiled.endpoints[f.src]
        cls = served.get(ep.name) if ep.kind == "class" else None
        ingress = cls.interface if cls is not None else model.uplink
        if ingress is not None:
            out[(ingress, f.src)] = f.packets
    for ingress in model.interfaces if dhcp else ():
        relay = model.dhcp_relay(ingress)
        sources: list[int | str] = [*relay, "zero"] if relay else []
        for who in sources:
            out[(ingress, who)] = out.get((ingress, who), EMPTY) | DHCP
    return out


def _row(
    ev: Evaluator,
    groups: list[Group],
    ingress: str,
    g: Group,
    want: PacketSet,
    gateway: str,
    own: list[Group] | None,
) -> list[SelfFinding]:
    """The findings of one ingress and source, toward the destinations the config tells apart
    (one representative when its input chains test no destination), or toward each of
    `own` (one per class of own addresses alike, `own_alike`) that it tells apart."""
    plain = next((d for d in groups if not d.special), groups[0])
    first = _cell(ingress, g, plain)
    dsts = [plain]
    if own is not None:
        dsts = own
        if not own:
            return []
    elif ev.destination_tests(first):
        dsts = list(groups)
    out: list[SelfFinding] = []
    done: set[tuple[object, ...]] = set()
    for d in dsts:
        cell = _cell(ingress, g, d)
        sig = ev.dst_signature(cell) if len(dsts) > 1 else ()
        if sig in done:
            continue
        done.add(sig)
        where = "any address of the box" if len(dsts) == 1 and own is None else d.describe()
        out.extend(_cell_findings(ev, cell, g, want, where, gateway))
    return out


def _cell(ingress: str, g: Group, d: Group) -> Cell:
    return Cell(ingress, None, g.id, g.rep, d.id, d.rep)


def _cell_findings(
    ev: Evaluator, cell: Cell, g: Group, want: PacketSet, where: str, gateway: str
) -> list[SelfFinding]:
    stateful = ev.ruleset.stateful
    state = "NEW" if stateful else None
    new_all, new_any = EVERYTHING, EMPTY
    # the first context each kind shows in: where its deciding rules are looked up
    too_ctx = Context(state, 0, False)
    block_ctx = Context(state, 0, False)
    for lo in ev.sport_cuts(cell):
        for ack in (False,) if stateful else (False, True):  # stateless: ACK tested too
            ctx = Context(state, lo, ack)
            got = ev.accepted(cell, ctx)
            if got - want and not new_any - want:
                too_ctx = ctx
            if want - got and not want - new_all:
                block_ctx = ctx
            new_all, new_any = new_all & got, new_any | got
    out: list[SelfFinding] = []
    owner = g.endpoint.name if g.endpoint is not None else "no class or external"
    checks: list[tuple[str, PacketSet, Ctx, str]] = [
        ("permits-too-much", new_any - want, too_ctx, f"to the gateway '{gateway}' itself"),
        ("blocks-needed", want - new_all, block_ctx, f"to the gateway '{gateway}' itself"),
    ]
    if stateful and want:
        est = ev.accepted(cell, Context("ESTABLISHED", 0, False))
        checks.append(
            (
                "blocks-needed",
                want - est,
                Context("ESTABLISHED", 0, False),
                f"to the gateway '{gateway}' itself, ESTABLISHED",
            )
        )
    for kind, packets, ctx, condition in checks:
        if not packets:
            continue
        rules = tuple(p.ref for p in ev.explain(cell, ctx) if p.packets & packets)
        shape = "" if stateful else f" (source port {ctx[1]}{', ACK' if ctx[2] else ''})"
        example = (
            f"{packets.describe().split(', ')[0]} from {g.describe()}{shape} entering "
            f"{cell.iif} to {where}"
        )
        out.append(
            SelfFinding(
                kind, cell.iif, g.describe(), owner, where, packets, condition, rules, example
            )
        )
    return out
