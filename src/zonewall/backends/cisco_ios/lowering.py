"""Every decision of the Cisco IOS backend for one gateway: its ACLs, entry by entry.

`Lowering` reads one gateway's `GatewayView` and writes the ACLs in order (the layout and the
reply rules are the package docstring's), with names still carrying the `PLACEHOLDER` suffix,
and collects what IOS cannot express (E401, E402) in `errors`; the backend turns that into
`Lowered`.  A variant lowering (`object_groups.OgLowering`) subclasses it and overrides the
public hooks: `class_acl` and `uplink_acl` (the two ACL kinds), `own_texts` and
`source_texts` (how addresses of the self-plane entries are written), `object_groups` and
`header_notes`; it builds on the public helpers (`replies_toward`, `dhcp_block`,
`self_blocks`, `finish`, `cannot_reply`, `cannot_match`, ...) and the `Need`, `Ace` and
`Block` values below.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

from netaddr import IPNetwork

from zonewall.backends.base import GatewayView, Permit, rule_ref, slices
from zonewall.backends.cidrs import (
    ALL,
    Cidr,
    Spans,
    cidr_of,
    cidrs,
    cidrs_of,
    dotted,
    intersect,
    merge,
    overlaps,
    spans,
    subtract,
    touching,
    union,
    wildcard,
)
from zonewall.backends.cisco_ios.model import IosAce, IosAcl, IosBlock, IosObjectGroup
from zonewall.backends.cisco_ios.names import PLACEHOLDER, acl_name, uplink_acl_name
from zonewall.backends.cisco_ios.selfplane import own_addresses, vty_model
from zonewall.backends.cisco_ios.specs import Spec, forward_shapes, reply_shapes
from zonewall.diagnostics import Diagnostic, Severity
from zonewall.ir import CompiledPolicy, Endpoint, Flow, ResolvedClass, ResolvedRule
from zonewall.packets import UDP, PacketSet
from zonewall.text import ios_text

__all__ = ["REMARK_MAX", "Ace", "Block", "Lowering", "Need", "address", "widen"]

# The IOS keyword of the reply to each ICMP request type that has one besides echo.
_ICMP_REPLY_NAMES = {13: "timestamp-reply", 15: "information-reply", 17: "mask-reply"}
REMARK_MAX = 100
DHCP_SERVER_PORT, DHCP_CLIENT_PORT = 67, 68
ANY: Cidr = (0, 0)


def address(net: IPNetwork) -> str:
    """IOS wants a wildcard mask: "permit ip 10.0.0.0 0.0.0.255 any"."""
    return wildcard(cidr_of(net))


def widen(prefixes: Sequence[IPNetwork], spare: Sequence[IPNetwork]) -> list[IPNetwork]:
    """The fewest CIDRs covering `prefixes` plus only `spare` space (0/0 minus classes: any)."""
    got = _widen(cidrs_of(prefixes), spans(cidrs_of(spare)))
    return [IPNetwork(f"{dotted(f)}/{p}") for f, p in got]


def _widen(prefixes: Sequence[Cidr], spare: Spans) -> list[Cidr]:
    """`widen` on integers: the merged CIDRs of prefixes + spare that hold some prefix."""
    return touching(union(spans(prefixes), spare), sorted(f for f, _ in prefixes))


class Need(NamedTuple):
    """A flow part this ACL must permit: started by `local` ('init') or answered ('reply')."""

    kind: str
    rule: ResolvedRule
    packets: PacketSet
    local: ResolvedClass
    peer: Endpoint


class Lowering:
    """Every decision for one gateway: the ACLs in order (`acls`, `vty`), and what cannot be
    expressed (`errors`).  Made once per gateway and read, never reused for another."""

    def __init__(self, policy: CompiledPolicy, view: GatewayView, ace_budget: int) -> None:
        self.policy, self.view, self.ace_budget = policy, view, ace_budget
        self._ints: dict[int, tuple[tuple[IPNetwork, ...], tuple[Cidr, ...]]] = {}
        self._peers: dict[tuple[int, ...], tuple[Cidr, ...]] = {}  # endpoint ids -> merged
        self._text: dict[int, tuple[Sequence[Cidr], tuple[str, ...]]] = {}
        self._slices: dict[
            tuple[tuple[int, ...], tuple[tuple[int, int], ...]],
            list[tuple[ResolvedRule, PacketSet]],
        ] = {}
        self.classes = spans(c for cls in policy.classes for c in self.ints(cls.prefixes))
        self.errors: list[Diagnostic] = []
        self._reported: set[tuple[str, int]] = set()
        self._rules = {r.index: r for r in policy.rules}
        self._flows_toward: dict[str, list[Flow]] = {}  # class name -> flows into it
        for flow in policy.flows:
            dst = policy.endpoints[flow.dst]
            if dst.kind == "class":
                self._flows_toward.setdefault(dst.name, []).append(flow)
        self.own = own_addresses(view)
        self.vty, vty_errors = vty_model(view, PLACEHOLDER)
        self.errors.extend(vty_errors)
        self.acls = [self.class_acl(cls, permits) for cls, permits in view.outbound]
        if view.plan.uplink is not None:
            self.acls.append(self.uplink_acl(view.plan.uplink))
        for acl in self.acls:
            if len(acl.aces) > ace_budget:
                self.errors.append(
                    Diagnostic(
                        Severity.ERROR,
                        "E401",
                        f"ACL '{acl.name}' on gateway '{view.plan.name}' "
                        f"needs {len(acl.aces)} entries, more than the budget of "
                        f"{ace_budget}; merge subnets or narrow the services",
                        view.plan.span,
                    )
                )

    def ints(self, prefixes: tuple[IPNetwork, ...]) -> tuple[Cidr, ...]:
        """An IR prefix tuple as integers, converted once per gateway (the IR tuples are
        immutable and live as long as the lowering, so their identity is a safe key)."""
        hit = self._ints.get(id(prefixes))
        if hit is None:
            hit = self._ints[id(prefixes)] = (prefixes, cidrs_of(prefixes))
        return hit[1]

    def _texts(self, cs: Sequence[Cidr]) -> tuple[str, ...]:
        """Entry addresses of a CIDR list, once per list object (most are cached lists)."""
        hit = self._text.get(id(cs))
        if hit is None:
            hit = self._text[id(cs)] = (cs, tuple(map(wildcard, cs)))
        return hit[1]

    def merged(self, eps: Sequence[Endpoint]) -> tuple[Cidr, ...]:
        """The merged addresses of some endpoints, once per set of endpoints."""
        key = (eps[0].id,) if len(eps) == 1 else tuple(sorted({e.id for e in eps}))
        hit = self._peers.get(key)
        if hit is None:
            hit = self._peers[key] = merge(
                c for i in key for c in self.ints(self.view.endpoints[i].prefixes)
            )
        return hit

    @staticmethod
    def forward(packets: PacketSet) -> tuple[tuple[Spec, ...], tuple[int, ...]]:
        return forward_shapes(packets.intervals)

    @staticmethod
    def reply(packets: PacketSet) -> tuple[tuple[Spec, ...], tuple[str, ...]]:
        return reply_shapes(packets.intervals)

    def header_notes(self, suffix: str) -> tuple[str, ...]:
        """Lines the file header adds for this kind of lowering (object groups: counts)."""
        return ()

    def object_groups(self) -> tuple[IosObjectGroup, ...]:
        return ()

    # -- what each ACL must permit ------------------------------------------------------------
    def replies_toward(self, cls: ResolvedClass) -> list[Need]:
        """Flows from any source toward `cls`: `cls` answers them through its own ACL."""
        eps = self.policy.endpoints
        out: list[Need] = []
        for flow in self._flows_toward.get(cls.name, ()):
            key = (flow.rules, flow.packets.intervals)  # flows with equal allows split alike
            parts = self._slices.get(key)
            if parts is None:
                parts = self._slices[key] = slices(flow, self._rules)
            src = eps[flow.src]
            out.extend(Need("reply", rule, part, cls, src) for rule, part in parts)
        # DHCP relayed to `cls` by another gateway: the server answers the relay's source
        out.extend(
            Need("reply", p.rule, p.packets, cls, p.src)
            for p in self.view.relayed
            if p.dst.name == cls.name
        )
        return out

    def class_acl(self, cls: ResolvedClass, permits: Iterable[Permit]) -> IosAcl:
        needs = [Need("init", p.rule, p.packets, cls, p.dst) for p in permits]
        needs += self.replies_toward(cls)
        blocks = self.dhcp_block(cls, needs)
        blocks += self.self_blocks(self.to_self(cls), lambda p: self.ints(cls.prefixes))
        blocks += [
            self._permit(g, g.peers)
            for g in self._groups([n for n in needs if n.peer.kind == "class"], False)
        ]
        blocks += self._relayed([n for n in needs if n.peer.kind == "relay"], False)
        blocks += self._external(
            self._groups([n for n in needs if n.peer.kind == "external"], False),
            (),
            self.ints(cls.prefixes),
        )
        return self.finish(acl_name(cls.name, PLACEHOLDER), cls.interface, blocks)

    def uplink_acl(self, uplink: str) -> IosAcl:
        view = self.view
        blocks = [
            self._block(
                "spoofed: the source is a class served here",
                (Spec("ip"),),
                self.ints(view.served_prefixes),
                [ANY],
                "deny",
                log=True,
            ),
            *self.self_blocks(self.to_self(None), lambda p: self.merged([p.src])),
            self._block(
                "classes of other gateways: filtered at their own gateway, they pass",
                (Spec("ip"),),
                self.ints(view.transit),
                [ANY],
                "permit",
            ),
        ]
        needs = self.uplink_needs()
        blocks += self._relayed([n for n in needs if n.peer.kind == "relay"], True)
        # every class address is decided by the two blocks above
        blocks += self._external(
            self._groups([n for n in needs if n.peer.kind != "relay"], True), self.classes, None
        )
        return self.finish(
            uplink_acl_name([c.name for c in view.served], PLACEHOLDER), uplink, blocks
        )

    def uplink_needs(self) -> list[Need]:
        """What the uplink ACL must let in: flows from outside toward the served classes, and
        the replies to the classes' flows toward externals (and relays)."""
        view = self.view
        needs = [
            Need("init", p.rule, p.packets, view.class_by_endpoint[p.dst.id], p.src)
            for _, permits in view.inbound
            for p in permits
        ]
        needs += [
            Need("reply", p.rule, p.packets, cls, p.dst)
            for cls, permits in view.outbound
            for p in permits
            if p.dst.kind != "class"
        ]
        return needs

    def _relayed(self, needs: list[Need], peer_speaks: bool) -> list[Block]:
        """DHCP relayed by another gateway (`dhcp-relay`): exact entries for the relay's one
        address, ahead of the external section, so that section's shared denies and `any`
        entries may cover that address too (first match: the relay is decided here)."""
        return [self._permit(g, g.peers) for g in self._groups(needs, peer_speaks)]

    def dhcp_block(self, cls: ResolvedClass, needs: list[Need]) -> list[Block]:
        """DHCP client broadcasts reach `ip helper-address` only through the inbound ACL."""
        if not any(
            n.kind == "init"
            and n.peer.kind == "class"
            and UDP * 65536 + DHCP_SERVER_PORT in n.packets
            for n in needs
        ):
            return []
        spec = Spec("udp", f"eq {DHCP_SERVER_PORT}")
        aces = tuple(
            Ace(
                "permit",
                spec,
                wildcard(s),
                f"eq {DHCP_CLIENT_PORT}",
                "host 255.255.255.255",
                spec.port,
            )
            for s in ((0, 32), *self.ints(cls.prefixes))
        )
        return [
            Block(
                ios_text(
                    f"{cls.name}: DHCP client broadcasts, relayed by ip helper-address", REMARK_MAX
                ),
                aces,
            )
        ]

    # -- traffic to the switch itself (`selfplane`) ----------------------------------------------
    def to_self(self, cls: ResolvedClass | None) -> list[Permit]:
        """The permits to this gateway whose packets enter on `cls`'s interface (None: on the
        uplink: classes of other gateways and externals)."""
        name = cls.name if cls is not None else None
        out: list[Permit] = []
        for src, permits in self.view.to_self:
            local = self.view.local(src)
            if (local.name if local is not None else None) == name:
                out.extend(permits)
        return out

    def self_blocks(
        self, permits: list[Permit], sources: Callable[[Permit], Sequence[Cidr]]
    ) -> list[Block]:
        """The policy's flows to the switch's own addresses, then a deny of everything else
        toward them: first in the ACL, so no forwarding entry admits traffic to the switch."""
        own = self.own_texts()
        if not own:
            return []
        blocks = []
        for p in permits:
            specs, bad = self.forward(p.packets)
            if bad:
                self._cannot_match_rule(p.rule, bad)
            why = f": {p.rule.why}" if p.rule.why else ""
            blocks.append(
                Block(
                    ios_text(
                        f"{rule_ref(p.rule)} allow {p.src.name}->{p.dst.name}{why}", REMARK_MAX
                    ),
                    (),
                    _Product(
                        "permit",
                        specs,
                        self.source_texts(sources(p), p.src.name),
                        own,
                        False,
                        False,
                    ),
                )
            )
        blocks.append(
            Block(
                ios_text(
                    f"the switch's own addresses: nothing else reaches "
                    f"gateway:{self.view.plan.name}",
                    REMARK_MAX,
                ),
                (),
                _Product("deny", (Spec("ip"),), ("any",), own, False, True),
            )
        )
        return blocks

    def own_texts(self) -> tuple[str, ...]:
        """ACE destinations of the switch's own addresses (one per address)."""
        return self._texts(self.own)

    def source_texts(self, cidrs_: Sequence[Cidr], label: str) -> tuple[str, ...]:
        """ACE sources of a flow to the switch (one per CIDR)."""
        return self._texts(cidrs_)

    # -- groups: one remark block per (kind, statement, local class, packets) -----------------
    def _groups(self, needs: list[Need], peer_speaks: bool) -> list[_Group]:
        by_key: dict[tuple[bool, int, str, tuple[tuple[int, int], ...]], list[Need]] = {}
        for n in needs:
            by_key.setdefault(
                (n.kind != "init", n.rule.index, n.local.name, n.packets.intervals), []
            ).append(n)
        return [self._group(by_key[k], peer_speaks) for k in sorted(by_key)]

    def _group(self, needs: list[Need], peer_speaks: bool) -> _Group:
        need = needs[0]
        reply = need.kind == "reply"
        if reply:
            specs, bad = self.reply(need.packets)
            if bad:
                self.cannot_reply(need, bad)
        else:
            specs, bad_protos = self.forward(need.packets)
            if bad_protos:
                self.cannot_match(need, bad_protos)
        names = (
            need.peer.name if len(needs) == 1 else ", ".join(sorted({n.peer.name for n in needs}))
        )
        # class ACL: the class starts (init) or answers (reply); uplink: the peer does
        local_starts = (not reply) != peer_speaks
        flow = f"{need.local.name}->{names}" if local_starts else f"{names}->{need.local.name}"
        why = f": {need.rule.why}" if need.rule.why else ""
        head = f"{rule_ref(need.rule)} {'replies to' if reply else 'allow'} {flow}"
        peers = self.merged([n.peer for n in needs])
        return _Group(
            head + why,
            f"not these addresses, {head}",
            specs,
            reply,
            peer_speaks,
            self.ints(need.local.prefixes),
            peers,
        )

    def _permit(
        self, g: _Group, peers: Sequence[Cidr], action: str = "permit", remark: str | None = None
    ) -> Block:
        speaker, listener = (peers, g.local) if g.peer_speaks else (g.local, peers)
        return self._block(
            remark or g.remark, g.specs, speaker, listener, action, port_on_src=g.reply
        )

    def _external(
        self, groups: list[_Group], decided: Spans, local: tuple[Cidr, ...] | None
    ) -> list[Block]:
        """Entries toward (or from) external atoms, written with the fewest entries.

        An atom such as `0.0.0.0/0 minus every class` takes many CIDRs.  Space no group of
        this section uses (`free`) may be absorbed into a wider CIDR when one shared deny of
        the absorbed space comes first (level 1); a group may also be written toward `any`
        after a deny of the rest, with its own services (level 2), unless that deny would
        shadow a later level-2 group.  `decided`: space earlier entries already decided.
        """
        free = subtract(ALL, spans(p for g in groups for p in g.peers))
        plans = [_Plan(g, 0, g.peers, ()) for g in groups]
        carves: list[tuple[Spans, Spans, set[str]]] = []
        for i, g in enumerate(groups):
            w1 = _widen(g.peers, free)
            peers = spans(g.peers)
            rest_spans = subtract(subtract(ALL, peers), free)
            rest = cidrs(rest_spans)
            options = [(len(g.peers), plans[i]), (len(w1), _Plan(g, 1, tuple(w1), ()))]
            protos = {s.protocol for s in g.specs}
            if not any(
                overlaps(k, peers)
                and overlaps(ls, spans(g.local))
                and ("ip" in ps | protos or ps & protos)
                for k, ls, ps in carves
            ):
                options.append((1 + len(rest), _Plan(g, 2, (ANY,), rest)))
            plans[i] = min(options, key=lambda o: (o[0], o[1].level))[1]
            if plans[i].level == 2:
                carves.append((rest_spans, spans(g.local), protos))
        absorbed = intersect(
            spans(p for pl in plans if pl.level for p in pl.peers), subtract(free, decided)
        )
        cut = cidrs(absorbed)
        srcs, dsts = (local, cut) if local is not None else (cut, (ANY,))
        # count both ways first: a peer list can be thousands of CIDRs, written only once
        wide_size = len(srcs) * len(dsts) + sum(
            len(pl.group.specs) * len(pl.group.local) * (len(pl.peers) + len(pl.carve))
            for pl in plans
        )
        if wide_size >= sum(len(g.specs) * len(g.local) * len(g.peers) for g in groups):
            return [self._permit(g, g.peers) for g in groups]
        shared: list[Block] = []
        if absorbed:
            shared.append(
                self._block(
                    "nothing else toward the widened external entries below",
                    (Spec("ip"),),
                    srcs,
                    dsts,
                    "deny",
                )
            )
        ordered = sorted(plans, key=lambda pl: pl.level == 2)
        return shared + [b for pl in ordered for b in self._plan_blocks(pl)]

    def _plan_blocks(self, pl: _Plan) -> list[Block]:
        out = []
        if pl.carve:
            out.append(self._permit(pl.group, pl.carve, "deny", pl.group.carve_remark))
        out.append(self._permit(pl.group, pl.peers))
        return out

    def _block(
        self,
        remark: str,
        specs: Sequence[Spec],
        srcs: Sequence[Cidr],
        dsts: Sequence[Cidr],
        action: str,
        port_on_src: bool = False,
        log: bool = False,
    ) -> Block:
        product = _Product(
            action,
            specs if isinstance(specs, tuple) else tuple(specs),
            self._texts(srcs),
            self._texts(dsts),
            port_on_src,
            log,
        )
        return Block(ios_text(remark, REMARK_MAX), (), product)

    def finish(self, name: str, interface: str, blocks: list[Block]) -> IosAcl:
        blocks = [b for b in blocks if b.size]
        blocks.append(Block("default deny", (Ace("deny", Spec("ip"), "any", "", "any", "", True),)))
        seqs = itertools.count(10, 10)
        return IosAcl(
            name, interface, tuple(IosBlock(b.remark, tuple(_numbered(b, seqs))) for b in blocks)
        )

    # -- what cannot be expressed ---------------------------------------------------------------
    def cannot_reply(self, need: Need, bad: Sequence[str]) -> None:
        if ("E402", need.rule.index) in self._reported:
            return
        self._reported.add(("E402", need.rule.index))
        head = (
            f"gateway '{self.view.plan.name}' (cisco-ios, stateless) cannot permit the "
            f"replies of {', '.join(bad)} for this allow (e.g. between '{need.peer.name}' "
            f"and '{need.local.name}'): "
        )
        icmp = [_ICMP_REPLY_NAMES[int(b[5:])] for b in bad if b.startswith("icmp/")]
        if icmp:
            # IOS names these replies, but an ACL cannot tie one to a request: permitting
            # them would widen the policy beyond the replies the language defines (and W113
            # acknowledges), so the request cannot be honoured here (fail closed).
            why = (
                f"IOS can match {' and '.join(repr(n) for n in icmp)}, but an ACL cannot "
                "tie a reply to a request, and a stateless gateway permits only the replies "
                "the language defines (TCP established, UDP from the service port, ICMP "
                "echo-reply); remove the ICMP type from the allow (ping is "
                "icmp/echo-request) or serve these classes from a stateful gateway "
                "(platform iptables or nftables)"
            )
        else:
            why = (
                "only TCP, UDP and ICMP echo have a stateless reply; name tcp/udp services "
                "or icmp/echo-request in the allow"
            )
        self.errors.append(Diagnostic(Severity.ERROR, "E402", head + why, need.rule.span))

    def cannot_match(self, need: Need, protos: Sequence[int]) -> None:
        self._cannot_match_rule(need.rule, protos)

    def _cannot_match_rule(self, rule: ResolvedRule, protos: Sequence[int]) -> None:
        if ("E401", rule.index) in self._reported:
            return
        self._reported.add(("E401", rule.index))
        self.errors.append(
            Diagnostic(
                Severity.ERROR,
                "E401",
                f"gateway '{self.view.plan.name}' (cisco-ios) cannot match "
                + ", ".join(f"IP protocol {p}" for p in protos)
                + " on its own; remove it from this allow",
                rule.span,
            )
        )


class Ace(NamedTuple):
    """An entry before its sequence number (a tuple: lowering makes tens of thousands)."""

    action: str
    spec: Spec
    src: str
    src_port: str
    dst: str
    dst_port: str
    log: bool = False


class _Product(NamedTuple):
    """Entries for every service x source x destination, made only as `finish` numbers them
    (a lowering writes tens of thousands: none is kept twice)."""

    action: str
    specs: tuple[Spec, ...]
    srcs: tuple[str, ...]
    dsts: tuple[str, ...]
    port_on_src: bool
    log: bool

    @property
    def size(self) -> int:
        return len(self.specs) * len(self.srcs) * len(self.dsts)

    def numbered(self, seqs: Iterator[int]) -> Iterator[IosAce]:
        action, log = self.action, self.log
        for s in self.specs:
            protocol, option = s.protocol, s.option
            src_port, dst_port = (s.port, "") if self.port_on_src else ("", s.port)
            for src in self.srcs:
                for dst in self.dsts:
                    yield IosAce(
                        next(seqs), action, protocol, src, src_port, dst, dst_port, option, log
                    )


def _numbered(block: Block, seqs: Iterator[int]) -> Iterator[IosAce]:
    if block.product is not None:
        return block.product.numbered(seqs)
    return (
        IosAce(
            next(seqs),
            a.action,
            a.spec.protocol,
            a.src,
            a.src_port,
            a.dst,
            a.dst_port,
            a.spec.option,
            a.log,
        )
        for a in block.aces
    )


class Block(NamedTuple):
    """A remark and its entries: listed, or every combination of a product."""

    remark: str
    aces: tuple[Ace, ...]
    product: _Product | None = None

    @property
    def size(self) -> int:
        return len(self.aces) if self.product is None else self.product.size


class _Group(NamedTuple):
    """Entries of one remark block before addresses are chosen: local side and peers."""

    remark: str
    carve_remark: str
    specs: tuple[Spec, ...]
    reply: bool  # ports on the source side
    peer_speaks: bool  # peers are the sources (uplink) or the destinations (class ACL)
    local: tuple[Cidr, ...]
    peers: tuple[Cidr, ...]


class _Plan(NamedTuple):
    """How a group's peers are written: 0 as they are, 1 absorbing free space, 2 as `any`."""

    group: _Group
    level: int
    peers: tuple[Cidr, ...]
    carve: tuple[Cidr, ...]  # level 2: denied first, with the group's own services
