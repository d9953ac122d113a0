"""Translation validation: a gateway's config text against the enforcement model, exactly.

`validate` parses the config (fail closed), builds the address groups of `addresses` (every
endpoint prefix and every config address interval cut the space; atoms alike in endpoint and
config membership share a group), and for every ingress interface of the gateway (each served
class's interface and the uplink), every source group and every destination group compares
the service keys the config accepts with those the model expects, as `PacketSet`s (set
difference both ways).  The service-key dimension is never enumerated: each comparison is on
interval sets, which is exact over every protocol and port.  What the keys cannot express is
enumerated as *contexts*: source-port classes (cut at every source port a matching rule or an
expected reply names), the TCP ACK/RST flag (IOS `established`) and the conntrack state.

* Stateful platforms (iptables, nftables): NEW packets must be accepted exactly for the
  model's flows; ESTABLISHED packets of permitted flows and of their replies must be accepted
  (accepting more ESTABLISHED packets is harmless: they belong to admitted connections).
* Stateless (cisco-ios): every packet shape is checked.  A packet from `s` to `d` entering on
  an interface is expected to pass when it starts or continues a flow `s -> d` (any source
  port, any flags) or is a reply of a flow `d -> s` as the language defines replies: TCP with
  ACK/RST from the service port, UDP from the service port, ICMP echo-reply for echo.
  255.255.255.255 is never forwarded, but an inbound ACL decides its local delivery: it is
  held to what the policy permits toward its endpoint, plus the DHCP client broadcasts (udp
  68 -> 255.255.255.255:67, from 0.0.0.0 or the class) that the interface of a class which
  may reach a DHCP server must take in for `ip helper-address`.

IPv6 (cisco-ios): the policy has none, so every ingress must drop IPv6 but neighbour discovery
(`ios6`); other IPv6 passing is `permits-too-much`, ND dropped `blocks-needed` ("IPv6 ...").

On stateful platforms (iptables, nftables) packets entering on an interface the policy does not
describe are checked too: none may start anything toward a served class (leaving on its
interface).  Where else they go is not the policy's business (the box's own rules decide), so
those cells are not compared.  Such interfaces are stood for by one name no rule tests,
`(other)`, plus, for every wildcard the rules test (`eth+`), a name it matches, and every
other name a rule tests as ingress (`docker0`).

When the model and the config both treat every destination alike for a source (spoofed or
transit sources), one comparison covers the whole row and is reported with destination None.
Each `Difference` names the deciding config lines, and one concrete packet of it is re-checked
by the plain per-packet interpreter (`Evaluator.trace`); a disagreement is an internal error.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

from zonewall.intervals import normalise
from zonewall.ir import CompiledPolicy
from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet, key

from .addresses import Group, addr_text, address_groups
from .differences import KINDS, Difference, summarize
from .engine import Cell, Context, Evaluator
from .ios import IosRuleset, parse_ios
from .ios6 import V6Finding
from .ios_vty import vty_findings
from .iptables import parse_iptables
from .iptables_tables import Device, parse_iptables_device
from .ipv6 import IPV6_COMPANION, ipv6_differences, nft_ipv6_differences
from .model import GatewayModel
from .names import PROTOCOL_LABELS
from .nftables import parse_nftables, parse_nftables_ipv6
from .replies import port_cuts, reply_flows, reply_keys
from .rules import EMPTY, EVERYTHING, AddrMatch, RuleRef, Ruleset, check_chain_loops
from .selfplane import SelfFinding, acl_self_plane, self_plane, split_own

__all__ = ["KINDS", "PARSERS", "Difference", "Jobs", "parse_config", "summarize", "validate"]

# Runs a comparison's jobs (each returns differences) and gives back their results in the jobs'
# order.  The jobs are independent: they may run in any order, in other processes
# (`parallel.forked`).  The default runs them one after the other, here.
Job = Callable[[], list[Difference]]
Jobs = Callable[[list[Job]], list[list[Difference]]]


def one_by_one(jobs: list[Job]) -> list[list[Difference]]:
    return [job() for job in jobs]


PARSERS: dict[str, Callable[[str, str], Ruleset]] = {
    "iptables": parse_iptables,
    "nftables": parse_nftables,
    "cisco-ios": parse_ios,
}
VOID = PacketSet.ports(ICMP, 256, PORT_SPAN - 1)  # ICMP "types" above 255 are no packet
DHCP = PacketSet.ports(UDP, 67, 67)
DHCP_CLIENT_PORT = 68
DHCP_CLIENT = PacketSet.ports(UDP, DHCP_CLIENT_PORT, DHCP_CLIENT_PORT)  # cuts source ports
ICMP_TYPES_ALL = PacketSet.ports(ICMP, 0, 255)
OTHER = "(other)"  # an interface the policy does not describe (no rule names it)


def parse_config(platform: str, text: str, filename: str) -> Ruleset:
    """Parse config text of `platform` (iptables, nftables, cisco-ios), failing closed."""
    if platform not in PARSERS:
        raise ValueError(f"no verifier for platform '{platform}' (have: {', '.join(PARSERS)})")
    ruleset = PARSERS[platform](text, filename)
    check_chain_loops(ruleset)
    return ruleset


def validate(
    compiled: CompiledPolicy,
    gateway_name: str,
    config_text: str,
    platform: str,
    *,
    filename: str | None = None,
    device: Device | None = None,
    jobs: Jobs | None = None,
) -> list[Difference]:
    """Every difference between a gateway's config and the policy's enforcement model.

    Args:
        compiled: the compiled policy (the IR); the only source of the expectation.
        gateway_name: the gateway whose config this is.
        config_text: the config as text (generated, or read back from a device).
        platform: "iptables", "nftables", "cisco-ios" or "ip6tables" (the IPv6 companion).
        filename: the name used in rule references (default `<gateway>`).
        device: the text is a device's whole output (`audit`): iptables and nftables read
            every table, skipping (and counting in `device.skipped`) what cannot change
            forwarding on `device.audited` (`iptables_tables`, `nftables`).
        jobs: what runs the comparison's jobs (the rows of each ingress interface, the
            gateway's own plane), e.g. on several CPUs (`parallel.forked`); the differences
            are the same whatever runs them.

    Returns:
        The differences, sorted; empty when the config enforces exactly the policy.

    Raises:
        ConfigParseError: the text holds a line or construct the verifier does not model.
        ValueError: unknown gateway or platform.
    """
    if platform == IPV6_COMPANION:
        return ipv6_differences(
            compiled, gateway_name, config_text, filename or f"<{gateway_name}>"
        )
    file = filename or f"<{gateway_name}>"
    if device is not None and platform == "iptables":
        ruleset = parse_iptables_device(config_text, file, device)
        check_chain_loops(ruleset)
    elif device is not None and platform == "nftables":
        ruleset = parse_nftables(config_text, file, device=device)
        check_chain_loops(ruleset)
    else:
        ruleset = parse_config(platform, config_text, file)
    # The gateway's own plane is one job beside the rows (the first: it is the largest).
    if isinstance(ruleset, IosRuleset):
        model = GatewayModel(compiled, gateway_name)
        own = own_addresses(model, ruleset)
        # each comparison meets only the rules that can match its destinations (`split_own`)
        to_box, forwarded = split_own(ruleset, own)

        def plane() -> list[Difference]:
            findings = acl_self_plane(compiled, gateway_name, to_box, own, model)
            return _plane_differences(gateway_name, platform, findings)

        def vty() -> list[Difference]:
            return vty_differences(compiled, gateway_name, ruleset, model)

        # forwarding, then the vty lines, then the own plane (the order before the split)
        diffs = _Validator(compiled, gateway_name, forwarded, own, model).run(jobs, vty, plane)
    else:
        model = GatewayModel(compiled, gateway_name)
        linux = ruleset

        def plane() -> list[Difference]:
            findings = self_plane(compiled, gateway_name, linux, model)
            return _plane_differences(gateway_name, platform, findings)

        diffs = _Validator(compiled, gateway_name, ruleset, model=model).run(jobs, plane)
    if platform == "nftables":  # its inet table must drop IPv6 too
        again = None if device is None else replace(device, skipped=Counter())  # counted
        diffs += nft_ipv6_differences(
            compiled, gateway_name, parse_nftables_ipv6(config_text, file, device=again)
        )
    return diffs


def _plane_differences(
    gateway_name: str, platform: str, findings: list[SelfFinding]
) -> list[Difference]:
    return [
        Difference(
            gateway_name,
            platform,
            f.kind,
            f.ingress,
            f.src,
            f.src_owner,
            f.dst,
            f"gateway:{gateway_name}",
            f.packets,
            f.condition,
            f.rules,
            f.example,
        )
        for f in findings
    ]


@dataclass(frozen=True, slots=True)
class _Found:
    kind: str
    packets: PacketSet  # the keys in this context (reply-blocked: reply-side keys)
    flow_keys: PacketSet  # reply-blocked only: the flows concerned
    ctx: Context
    sport_hi: int


class _ByRep:
    """Items sorted by representative address: `reps[i]` is the address of item `ids[i]`."""

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        self.reps = [rep for rep, _ in pairs]
        self.ids = [i for _, i in pairs]


class _DstIndex(NamedTuple):
    """A row's destinations indexed (positions in `dsts`)."""

    dsts: list[tuple[Group, str]]
    by_rep: _ByRep  # by representative address
    of_ep: dict[int, list[int]]  # by endpoint id
    by_route: dict[str, list[int]]  # by the interface the model routes them out of
    special: list[int]  # the special addresses (broadcast, zero, ...)


class _Finding(NamedTuple):
    """What differs toward one destination of a row."""

    dst: tuple[Group, str]
    found: list[_Found]
    any_dst: bool  # it stands for every destination
    dhcp: bool  # a DHCP cell (a relayed broadcast)


def own_addresses(model: GatewayModel, ruleset: IosRuleset) -> tuple[int, ...]:
    """A switch's own addresses: its SVI addresses by the VLAN plan's convention, and every
    `ip address` the config gives a served class's interface."""
    served = set(model.interfaces) - {model.uplink}
    read = {a for iface, addrs in ruleset.addresses.items() if iface in served for a in addrs}
    return tuple(sorted(set(model.svi_addresses()) | read))


def vty_differences(
    compiled: CompiledPolicy, gateway: str, ruleset: IosRuleset, model: GatewayModel | None = None
) -> list[Difference]:
    """Who may open a vty session against the ssh/telnet flows to the gateway (`ios_vty`)."""
    return [
        Difference(
            gateway,
            ruleset.platform,
            f.kind,
            "line vty",
            f.src,
            f.src_owner,
            None,
            f"gateway:{gateway}",
            f.packets,
            "vty session (management on any interface of the switch)",
            f.rules,
            f.example,
        )
        for f in vty_findings(compiled, gateway, dict(ruleset.chains), ruleset.vty, model)
    ]


class _Validator:
    def __init__(
        self,
        compiled: CompiledPolicy,
        gateway: str,
        ruleset: Ruleset,
        own: tuple[int, ...] = (),
        model: GatewayModel | None = None,
    ) -> None:
        self.model = model if model is not None else GatewayModel(compiled, gateway)
        self.ruleset = ruleset
        self.ev = Evaluator(ruleset)
        self.stateless = not ruleset.stateful
        # The switch's own addresses (cisco-ios) are destinations of their own: traffic to
        # them is the gateway plane (`selfplane`), carved out of the forwarding comparison.
        self.own = frozenset(own)
        self.groups = address_groups(
            self.model, ruleset.address_intervals() | {(a, a) for a in own}
        )
        self.diffs: list[Difference] = []
        self._ctx_cache: dict[tuple[tuple[int, ...], str | None], list[tuple[Context, int]]] = {}
        self._established_all: dict[tuple[str, int], bool] = {}
        self._by_rep = _ByRep(sorted((g.rep, g.id) for g in self.groups))
        self._groups_of: dict[int, list[int]] = {}
        for g in self.groups:
            if g.endpoint is not None:
                self._groups_of.setdefault(g.endpoint.id, []).append(g.id)
        self._dst_index: _DstIndex | None = None

    def run(self, jobs: Jobs | None = None, *also: Job) -> list[Difference]:
        """The differences of the forwarding comparison, sorted, then those of `also` (more
        jobs run beside it: the gateway's own plane), in order.  Each ingress interface's
        rows are one job: the rows of an ingress share their memo (`done`), so a job
        computes exactly what the whole comparison computes for that ingress."""
        model = self.model
        dsts = [
            (g, r)
            for g in self.groups
            if (r := model.route(g.endpoint)) is not None
            and not (g.rep == g.rep_last and g.rep in self.own)
        ]
        served = set(model.interfaces) - {model.uplink}
        toward_served = [d for d in dsts if d[1] in served]
        ingresses = [(i, dsts) for i in model.interfaces]
        if self.ruleset.stateful and toward_served:
            ingresses.extend((i, toward_served) for i in self._other_interfaces())
        rows: list[Job] = [partial(self._ingress, ingress, dsts) for ingress, dsts in ingresses]
        results = (jobs or one_by_one)([*also, *rows])
        self.diffs = [d for found in results[len(also) :] for d in found]
        if isinstance(self.ruleset, IosRuleset):
            self.diffs += map(self._v6, self.ruleset.ipv6_findings(model.interfaces))
        ordered = sorted(
            self.diffs,
            key=lambda d: (d.ingress, KINDS.index(d.kind), d.src, d.dst or "", d.condition),
        )
        return ordered + [d for found in results[: len(also)] for d in found]

    def _ingress(self, ingress: str, dsts: list[tuple[Group, str]]) -> list[Difference]:
        """The differences of every row (source) entering on `ingress`, in order."""
        model = self.model
        self.diffs = []
        relay = model.dhcp_relay(ingress) if self.stateless else frozenset()
        # Sources the model expects the same of and the config's rules cannot tell apart
        # (the same source-testing rules match them everywhere) behave alike toward every
        # destination: one row is computed and its findings replayed for the others.
        done: dict[tuple[object, ...], list[_Finding]] = {}
        notable = self._notable_sources(ingress)
        # Every other source has the default behaviour and the empty signature: the first
        # of them stands for all (their findings are replayed only when there are any).
        rest = next((g for g in self.groups if g.id not in notable), None)
        for sg in [self.groups[i] for i in sorted(notable)] + ([rest] if rest else []):
            dhcp = bool(relay) and (
                sg.special == "zero" or (sg.endpoint is not None and sg.endpoint.id in relay)
            )
            rkey = (
                model.behaviour(ingress, sg.endpoint),
                self.ev.src_signature(ingress, sg.rep),
                dhcp,
            )
            findings = done.get(rkey)
            if findings is None:
                findings = done[rkey] = self._row(ingress, sg, dsts, dhcp)
            alike = [g for g in self.groups if g.id not in notable] if sg is rest else [sg]
            for each in alike if findings else ():
                for dst, found, any_dst, cell_dhcp in findings:
                    self._report_cell(
                        _cell(ingress, each, dst), each, dst, found, any_dst, cell_dhcp
                    )
        return self.diffs

    def _v6(self, f: V6Finding) -> Difference:
        return Difference(
            self.model.name,
            self.ruleset.platform,
            f.kind,
            f.ingress,
            f.src,
            "IPv6",
            f.dst,
            "any" if f.dst is None else "IPv6",
            f.packets,
            "IPv6 (not in the policy: closed but neighbour discovery; ICMPv6 is proto/58)",
            f.rules,
            f.example,
        )

    def _other_interfaces(self) -> list[str]:
        """Names standing for every interface the policy does not describe (see the module
        docstring): one that no rule tests, and one matching each wildcard rules test."""
        prefixes: set[str] = set()
        exact: set[str] = set()
        for chain in self.ruleset.chains.values():
            for rule in chain.rules:
                if rule.iif is not None:
                    prefixes.update(rule.iif.prefixes)
                    exact.update(rule.iif.names)
        known = set(self.model.interfaces)
        # an interface a rule names (docker0) is one of them too: its rules may accept
        names = [f"{p}{OTHER}" for p in sorted(prefixes)] + sorted(exact - known)
        return [n for n in dict.fromkeys([OTHER, *names]) if n not in known]

    def _notable_sources(self, ingress: str) -> set[int]:
        """Ids of the source groups on `ingress` that may differ from a source in no endpoint
        matched by no source-testing rule: special addresses, endpoints the model has a
        behaviour for, and groups some source-testing rule of the ingress matches."""
        out = {g.id for g in self.groups if g.special}
        for eid in self.model.acting_sources(ingress):
            out.update(self._groups_of.get(eid, ()))
        for m in self.ev.source_tests(ingress):
            out.update(self._matching(m, self._by_rep))
        return out

    def _row(
        self, ingress: str, sg: Group, dsts: list[tuple[Group, str]], dhcp: bool
    ) -> list[_Finding]:
        """Compare one source's row (every destination); what differs, not yet reported."""
        model = self.model
        row = model.row(ingress, sg.endpoint)
        if row is not None and not dhcp and dsts and self._row_constant(ingress, sg, dsts[0]):
            whole = self._found(_cell(ingress, sg, dsts[0]), row.new, row.replies, any_dst=True)
            return [_Finding(dsts[0], whole, True, False)] if whole else []
        # Destinations the config's rules cannot tell apart (the same rules match them, in
        # every chain the row can reach) and the model expects the same of are one
        # comparison: the verdicts are a function of that signature.  Destinations no
        # destination-testing rule of the row matches, in no peer endpoint of the source and
        # not special, all have the empty signature and the same expectation: the first of
        # them stands for all.
        memo: dict[tuple[object, ...], list[_Found]] = {}
        notable = self._notable_destinations(ingress, sg, dsts)
        rest = next((i for i in range(len(dsts)) if i not in notable), None)
        suspects = self._suspects(
            ingress, sg, dsts, [*sorted(notable), *(() if rest is None else (rest,))], dhcp
        )
        rest_found = (
            []
            if rest is None or rest not in suspects
            else self._cell_found(ingress, sg, dsts[rest], dhcp, memo)
        )
        out: list[_Finding] = []
        for i in range(len(dsts)) if rest_found else sorted(notable & suspects):
            dst = dsts[i]
            found = self._cell_found(ingress, sg, dst, dhcp, memo) if i in notable else rest_found
            if found:
                out.append(_Finding(dst, found, False, dhcp and dst[0].special == "broadcast"))
        return out

    def _suspects(
        self, ingress: str, sg: Group, dsts: list[tuple[Group, str]], which: list[int], dhcp: bool
    ) -> set[int]:
        """Of the positions `which` in `dsts`, those whose cells may differ from the model
        (all of them unless the quick check applies).  On a stateful ruleset whose rules test
        no source port, with the row accepting every ESTABLISHED packet, a cell can only
        differ in its one NEW context: one walk for the whole row (`accepted_many`) gives
        each cell's accepted keys, and only cells where they are not exactly the permitted
        keys get the full comparison (which reports them)."""
        if self.stateless or dhcp or not which or not self.ev.source_ports_untested:
            return set(which)
        cells = [_cell(ingress, sg, dsts[i]) for i in which]
        if not self._accepts_all_established(cells[0]):
            return set(which)
        got = self.ev.accepted_many(cells, Context("NEW", 0, False))
        model = self.model
        return {
            i
            for i, keys in zip(which, got, strict=True)
            if keys != model.permitted(ingress, sg.endpoint, dsts[i][0].endpoint)
        }

    def _cell_found(
        self,
        ingress: str,
        sg: Group,
        dst: tuple[Group, str],
        dhcp: bool,
        memo: dict[tuple[object, ...], list[_Found]],
    ) -> list[_Found]:
        model = self.model
        kf = model.permitted(ingress, sg.endpoint, dst[0].endpoint)
        kr = model.reply_flows(ingress, sg.endpoint, dst[0].endpoint)
        cell_dhcp = dhcp and dst[0].special == "broadcast"
        cell = _cell(ingress, sg, dst)
        key = (self.ev.dst_signature(cell), kf, kr, cell_dhcp)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self._found(cell, kf, kr, dhcp=cell_dhcp)
        return found

    def _notable_destinations(
        self, ingress: str, sg: Group, dsts: list[tuple[Group, str]]
    ) -> set[int]:
        """Positions in `dsts` of the destinations of this row that may differ from the
        others: special addresses, the source's peer endpoints (`GatewayModel.peers`), and
        those some destination-testing rule of the row matches (egress and address)."""
        index = self._dst_index
        if index is None or index.dsts is not dsts:
            index = self._dst_index = self._index_destinations(dsts)
        _, by_rep, of_ep, by_route, special = index
        out = set(special)
        for eid in self.model.peers(sg.endpoint):
            out.update(of_ep.get(eid, ()))
        for oif, addr in self.ev.destination_tests(_cell(ingress, sg, dsts[0])):
            if addr is not None:
                hits: Iterable[int] = self._matching(addr, by_rep)
            elif oif is not None and not oif.negate:
                hits = (
                    i for route, members in by_route.items() if oif.matches(route) for i in members
                )
            else:
                hits = range(len(dsts))
            if oif is None:
                out.update(hits)
            else:
                out.update(i for i in hits if oif.matches(dsts[i][1]))
        return out

    @staticmethod
    def _index_destinations(dsts: list[tuple[Group, str]]) -> _DstIndex:
        by_rep = _ByRep(sorted((g.rep, i) for i, (g, _) in enumerate(dsts)))
        of_ep: dict[int, list[int]] = {}
        by_route: dict[str, list[int]] = {}
        for i, (g, route) in enumerate(dsts):
            if g.endpoint is not None:
                of_ep.setdefault(g.endpoint.id, []).append(i)
            by_route.setdefault(route, []).append(i)
        special = [i for i, (g, _) in enumerate(dsts) if g.special]
        return _DstIndex(dsts, by_rep, of_ep, by_route, special)

    @staticmethod
    def _matching(m: AddrMatch, by_rep: _ByRep) -> Iterable[int]:
        """Ids (positions) of the items of `by_rep` whose representative address `m` matches
        (a superset for a negated match: all of them)."""
        if m.negate:
            return by_rep.ids
        out: list[int] = []
        for lo, hi in m.intervals:
            start = bisect.bisect_left(by_rep.reps, lo)
            stop = bisect.bisect_right(by_rep.reps, hi)
            out.extend(by_rep.ids[start:stop])
        return out

    # -- contexts --------------------------------------------------------------------------------
    def _contexts(
        self, cell: Cell, kr: PacketSet, state: str | None, any_dst: bool = False
    ) -> list[tuple[Context, int]]:
        """(context, last source port of its class) to check, in order.  With `any_dst` the
        classes are those of every rule the source can meet, whatever the destination."""
        base = self.ev.sport_cuts(cell, any_dst)
        ckey = (tuple(base), state)  # the cuts decide the contexts, whatever the cell
        if not kr and ckey in self._ctx_cache:
            return self._ctx_cache[ckey]
        ordered = sorted(set(base) | port_cuts(kr)) if kr else list(base)
        his = [c - 1 for c in ordered[1:]] + [PORT_SPAN - 1]
        acks = (False, True) if self.stateless else (False,)
        out = [
            (Context(state, lo, ack), hi)
            for lo, hi in zip(ordered, his, strict=True)
            for ack in acks
        ]
        if not kr:
            self._ctx_cache[ckey] = out
        return out

    def _row_constant(self, ingress: str, sg: Group, dst: tuple[Group, str]) -> bool:
        cell = _cell(ingress, sg, dst)
        states: tuple[str | None, ...] = (None,) if self.stateless else ("NEW", "ESTABLISHED")
        return all(
            self.ev.row_constant(cell, ctx)
            for state in states
            for ctx, _ in self._contexts(cell, EMPTY, state, any_dst=True)
        )

    def _accepts_all_established(self, cell: Cell) -> bool:
        """True when every ESTABLISHED packet from the cell's source entering on its ingress
        is accepted, whatever the destination and source port: then no reply or continuing
        packet can be blocked and the ESTABLISHED contexts need no comparison (accepting
        more ESTABLISHED packets is harmless, see the module docstring)."""
        rkey = (cell.iif, cell.sid)
        hit = self._established_all.get(rkey)
        if hit is None:
            hit = self._established_all[rkey] = all(
                self.ev.row_constant(cell, ctx) and self.ev.accepted(cell, ctx) == EVERYTHING
                for ctx, _ in self._contexts(cell, EMPTY, "ESTABLISHED", any_dst=True)
            )
        return hit

    # -- one cell --------------------------------------------------------------------------------
    def _found(
        self, cell: Cell, kf: PacketSet, kr: PacketSet, any_dst: bool = False, dhcp: bool = False
    ) -> list[_Found]:
        """What the config does differently from the model in one cell, per context.  `dhcp`:
        a stateless SVI must also take in its clients' DHCP broadcasts (udp from port 68 to
        255.255.255.255:67) for `ip helper-address`.

        One context of each class the rules and the model treat alike is checked first; only
        when one of them differs is every context checked, in order, for the report."""
        for every in (False, True):
            found: list[_Found] = []
            for ctx, hi, allowed, need, flows, check_extra in self._checks(
                cell, kf, kr, any_dst, dhcp, every
            ):
                self._compare(cell, ctx, hi, allowed, need, flows, found, check_extra)
            if not found:
                break
        return found

    def _checks(
        self, cell: Cell, kf: PacketSet, kr: PacketSet, any_dst: bool, dhcp: bool, every: bool
    ) -> Iterator[tuple[Context, int, PacketSet, PacketSet, PacketSet, bool]]:
        """(context, last source port of its class, keys expected accepted, keys of flows
        needed, reply flows, whether extra keys are a difference) for each context to compare;
        with `every` False one context per class of `_context_classes`."""
        if self.stateless:
            cuts = kr | DHCP_CLIENT if dhcp else kr
            for ctx, hi in self._some_contexts(cell, cuts, kr, None, any_dst, dhcp, every):
                need = kf | DHCP if dhcp and ctx.sport == hi == DHCP_CLIENT_PORT else kf
                allowed = need | reply_keys(kr, ctx.sport, ctx.ack, stateless=True)
                yield ctx, hi, allowed, need, kr, True
        else:
            for ctx, hi in self._some_contexts(cell, EMPTY, EMPTY, "NEW", any_dst, False, every):
                yield ctx, hi, kf, kf, EMPTY, True
            if (kf or kr) and not self._accepts_all_established(cell):
                for ctx, hi in self._some_contexts(
                    cell, kr, kr, "ESTABLISHED", any_dst, False, every
                ):
                    allowed = kf | reply_keys(kr, ctx.sport, True, stateless=False)
                    yield ctx, hi, allowed, kf, kr, False

    def _some_contexts(
        self,
        cell: Cell,
        cuts: PacketSet,
        kr: PacketSet,
        state: str | None,
        any_dst: bool,
        dhcp: bool,
        every: bool,
    ) -> list[tuple[Context, int]]:
        """Every context of `_contexts` (`every`), or the first of each class of contexts
        that meet the same rules and of which the model expects the same: they have the same
        ACK flag, their source ports lie in the same source-port ranges of the rules that can
        match the cell with that flag, they answer the same reply flows (UDP from that port in
        `kr`; TCP too when stateful or with ACK: a stateless TCP reply needs it), and are alike
        for DHCP (`dhcp`: the DHCP client port is a class of its own)."""
        contexts = self._contexts(cell, cuts, state, any_dst)
        if every or len(contexts) <= 2:
            return contexts
        ranges = self.ev.sport_ranges(cell, any_dst)
        # Rules that need ACK or RST cannot match without it: ranges per flag.
        singles = [
            {lo for lo, hi, acked in ranges if lo == hi and (ack or not acked)}
            for ack in (False, True)
        ]
        wide = [
            [(lo, hi) for lo, hi, acked in ranges if lo < hi and (ack or not acked)]
            for ack in (False, True)
        ]
        classes: dict[tuple[object, ...], tuple[Context, int]] = {}
        for ctx, hi in contexts:
            lo, ack = ctx.sport, ctx.ack
            sig = (
                ack,
                lo if lo in singles[ack] else -1,
                tuple(r for r in wide[ack] if r[0] <= lo <= r[1]),
                (ack or not self.stateless) and key(TCP, lo) in kr,
                key(UDP, lo) in kr,
                dhcp and lo == hi == DHCP_CLIENT_PORT,
            )
            classes.setdefault(sig, (ctx, hi))
        return list(classes.values())

    def _report_cell(
        self,
        cell: Cell,
        sg: Group,
        dst: tuple[Group, str],
        found: list[_Found],
        any_dst: bool,
        dhcp: bool,
    ) -> None:
        note = (
            "limited broadcast: local delivery" + (", DHCP relay" if dhcp else "")
            if dst[0].special == "broadcast"
            else ""
        )
        self._report(cell, sg, dst[0], any_dst, found, note)

    def _compare(
        self,
        cell: Cell,
        ctx: Context,
        hi: int,
        allowed: PacketSet,
        kf: PacketSet,
        kr: PacketSet,
        found: list[_Found],
        check_extra: bool,
    ) -> None:
        got = self.ev.accepted(cell, ctx)
        self._compare_sets(cell, ctx, hi, got, allowed, kf, kr, found, check_extra)

    def _compare_sets(
        self,
        cell: Cell,
        ctx: Context,
        hi: int,
        got: PacketSet,
        allowed: PacketSet,
        kf: PacketSet,
        kr: PacketSet,
        found: list[_Found],
        check_extra: bool,
    ) -> None:
        if got == allowed:
            return
        if check_extra and (extra := got - allowed) and (extra := extra - VOID):
            found.append(_Found("permits-too-much", extra, EMPTY, ctx, hi))
        missing = allowed - got
        if not missing or not (missing := missing - VOID):
            return
        if blocked := missing & kf:
            found.append(_Found("blocks-needed", blocked, EMPTY, ctx, hi))
        if replies := missing - kf:
            flows = reply_flows(replies, kr, ctx.sport, hi, self.stateless)
            found.append(_Found("reply-blocked", replies, flows, ctx, hi))

    # -- reporting -------------------------------------------------------------------------------
    def _report(
        self, cell: Cell, sg: Group, dg: Group, any_dst: bool, found: list[_Found], note: str = ""
    ) -> None:
        model = self.model
        by_kind: dict[str, list[_Found]] = {}
        for f in found:
            by_kind.setdefault(f.kind, []).append(f)
        for kind, items in by_kind.items():
            groups: list[tuple[PacketSet, list[_Found]]] = []
            if kind == "reply-blocked":
                groups.append((PacketSet.union_all(f.flow_keys for f in items), items))
            else:
                for f in items:
                    same = next((g for g in groups if g[0] == f.packets), None)
                    if same is None:
                        groups.append((f.packets, [f]))
                    else:
                        same[1].append(f)
            for packets, members in groups:
                first = members[0]
                rules, path, example = self._blame(cell, first)
                flows = ""
                if kind == "reply-blocked":
                    flows = f"replies to {_owner_name(dg)} -> {_owner_name(sg)}"
                condition = _condition(members, self.stateless, kind)
                if note:
                    condition = f"{note}; {condition}" if condition else note
                if ICMP_TYPES_ALL.issubset(packets):
                    packets = packets | VOID  # whole ICMP reads as "icmp", not "icmp/0-255"
                self.diffs.append(
                    Difference(
                        gateway=model.name,
                        platform=self.ruleset.platform,
                        kind=kind,
                        ingress=cell.iif,
                        src=sg.describe(),
                        src_owner=model.label(sg.endpoint),
                        dst=None if any_dst else dg.describe(),
                        dst_owner="any" if any_dst else model.label(dg.endpoint),
                        packets=packets,
                        condition=condition,
                        rules=rules,
                        example=example,
                        flows=flows,
                        path=path,
                    )
                )

    def _blame(self, cell: Cell, f: _Found) -> tuple[tuple[RuleRef, ...], tuple[RuleRef, ...], str]:
        verdict = "ACCEPT" if f.kind == "permits-too-much" else "DROP"
        refs: list[RuleRef] = []
        path: list[RuleRef] = []
        for piece in self.ev.explain(cell, f.ctx):
            if piece.verdict == verdict and piece.packets & f.packets:
                refs.extend(r for r in (piece.ref,) if r not in refs)
                path.extend(r for r in piece.path if r not in path)
        k = f.packets.first_key()
        accepted, _ = self.ev.trace(cell, f.ctx, k)
        if accepted != (f.kind == "permits-too-much"):
            raise AssertionError(f"set and per-packet evaluation disagree on key {k} in {cell}")
        refs.sort(key=lambda r: (r.line is None, r.line or 0))
        return tuple(refs), tuple(path), _example(cell, f.ctx, k, self.stateless)


def _cell(ingress: str, sg: Group, dst: tuple[Group, str]) -> Cell:
    return Cell(ingress, dst[1], sg.id, sg.rep, dst[0].id, dst[0].rep)


def _owner_name(g: Group) -> str:
    ep = g.endpoint
    return ep.name if ep is not None else addr_text(g.rep)


def _condition(members: list[_Found], stateless: bool, kind: str) -> str:
    if kind == "reply-blocked":
        return ""
    sports = normalise((f.ctx.sport, f.sport_hi) for f in members)
    acks = {f.ctx.ack for f in members}
    states = {f.ctx.state for f in members}
    parts = []
    if "ESTABLISHED" in states:
        parts.append("ct state established" if states == {"ESTABLISHED"} else "any ct state")
    if sports != ((0, PORT_SPAN - 1),):
        parts.append(
            "source port " + ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in sports)
        )
    if stateless and acks == {True}:
        parts.append("TCP with ACK or RST")
    elif stateless and acks == {False}:
        parts.append("TCP without ACK or RST")
    return "; ".join(parts)


def _example(cell: Cell, ctx: Context, k: int, stateless: bool) -> str:
    proto, port = divmod(k, PORT_SPAN)
    name = PROTOCOL_LABELS.get(proto, f"proto {proto}")
    src, dst = addr_text(cell.src), addr_text(cell.dst)
    if proto in (TCP, UDP):
        text = f"{name} {src}:{ctx.sport} -> {dst}:{port}"
        if proto == TCP and stateless:
            text += " ACK" if ctx.ack else " SYN"
    elif proto == ICMP:
        text = f"icmp type {port} {src} -> {dst}"
    else:
        text = f"{name} {src} -> {dst}"
    if ctx.state is not None:
        text += f" (ct state {ctx.state.lower()})"
    return text
