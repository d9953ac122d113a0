"""Cisco IOS object-group ACLs (OGACL): the lowering of a gateway that sets `object-groups`.

`object-groups` is a zonewall extension of the language, valid on cisco-ios gateways only (a
per-target capability, docs/language.md section 8.4; Catalyst 4500 from IOS XE 3.7.1E, IOS 12.4(20)T
era routers; check the target's release).  The ACLs keep their layout, binding and semantics
(`cisco_ios` package docstring); what changes is how entries are written:

* `object-group network NAME` holds an address set, members `host A` or `A.B.C.D M.M.M.M`
  (a subnet mask, not the ACE's wildcard: "10.10.0.0 255.255.252.0").  A set that is exactly
  one class is named after it (`ZWN-<CLASS>-<suffix>`); any other set is numbered in order of
  first use (`ZWN-<n>-<suffix>`).  `object-group service ZWS-<n>-<suffix>` holds a service set,
  members `tcp eq 104`, `udp range 1 2`, `icmp echo`, `47`.  Every name ends in the ACL suffix
  (the gateway's content digest, `names`), so a version with new entries builds its
  groups beside the applied ones, as its ACLs (make-before-break), and no group in use is
  ever edited.
* Flows: one entry per (source set, destination set, service set) block whose every source
  talks to every destination with exactly that service set:
  `permit object-group SVC object-group SRC object-group DST` (a single service is written
  inline: `permit tcp object-group SRC object-group DST eq 443`).  In a class ACL that is one
  entry per distinct service set among the class's destinations.
* Replies stay one entry per reply shape, since a service group's ports are destination ports
  and whether `established` may follow an object-group service entry is not documented for
  every release: `permit tcp object-group SRV eq 104 object-group CLIENTS established`, the
  addresses grouped.  One entry per distinct reply shape and answerer/initiator block.

Every ACL entry here only permits (the uplink's spoof deny and transit pass come first, as
without groups), so grouping by exact sets is exact: each entry permits exactly the product of
its members, and each product lies inside the policy.  The ACE budget (E401) counts configured
entries; the header reports each ACL's expanded count (sources x destinations x services
members per entry), because object groups do not reduce TCAM usage: the switch expands them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from netaddr import IPNetwork

from zonewall.backends.base import GatewayView, Permit
from zonewall.backends.cidrs import Cidr, cidr_of, merge, netmask, wildcard
from zonewall.backends.cisco_ios.lowering import REMARK_MAX, Ace, Block, Lowering, Need
from zonewall.backends.cisco_ios.model import IosAcl, IosObjectGroup
from zonewall.backends.cisco_ios.names import (
    PLACEHOLDER,
    acl_name,
    uplink_acl_name,
    with_suffix,
)
from zonewall.backends.cisco_ios.specs import Spec
from zonewall.ir import CompiledPolicy, ResolvedClass
from zonewall.packets import PacketSet
from zonewall.text import ios_text

__all__ = ["OgLowering", "network_member", "service_member"]

Key = tuple[Cidr, ...]  # an endpoint's address set (disjoint from every other endpoint's)


def network_member(net: IPNetwork) -> str:
    """An `object-group network` member: "host A" or "A.B.C.D M.M.M.M" (a netmask)."""
    return netmask(cidr_of(net))


def service_member(spec: Spec) -> str:
    """An `object-group service` member: "tcp eq 443", "icmp echo", "47"."""
    return " ".join(w for w in (spec.protocol, spec.port, spec.option) if w)


class _Entry(NamedTuple):
    """One grouped entry before names: sources, destinations, service(s), reply or not."""

    srcs: tuple[Key, ...]
    dsts: tuple[Key, ...]
    specs: tuple[Spec, ...]
    reply: bool


class _Registry:
    """Object groups of one gateway file, deduplicated by content, named deterministically."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.networks: dict[Key, IosObjectGroup] = {}
        self.numbered = 0
        self.services: dict[tuple[Spec, ...], IosObjectGroup] = {}
        self._addresses: dict[tuple[Key, ...], tuple[str, int]] = {}

    def network(
        self, keys: Sequence[Key], labels: dict[Key, str], classes: dict[Key, str]
    ) -> tuple[str, int]:
        """The ACE address for the union of `keys` and its member count (once per `keys`: a
        group, once made, is what its addresses always map to)."""
        hit = self._addresses.get(tuple(keys))
        if hit is None:
            hit = self._addresses[tuple(keys)] = self._network(keys, labels, classes)
        return hit

    def _network(
        self, keys: Sequence[Key], labels: dict[Key, str], classes: dict[Key, str]
    ) -> tuple[str, int]:
        nets = merge(c for k in keys for c in k)
        if len(nets) == 1:  # one CIDR needs no group: "10.0.0.0 0.0.0.255", "any"
            return wildcard(nets[0]), 1
        group = self.networks.get(nets)
        if group is None:
            single = classes.get(keys[0]) if len(keys) == 1 else None
            if single is None:
                self.numbered += 1
            label = single or str(self.numbered)
            name = f"ZWN-{label.upper()}-{self.suffix}"
            what = ", ".join(sorted({labels[k] for k in keys}))
            group = IosObjectGroup(
                "network", name, ios_text(what, REMARK_MAX), tuple(netmask(n) for n in nets)
            )
            self.networks[nets] = group
        return f"object-group {group.name}", len(group.members)

    def service(self, specs: tuple[Spec, ...]) -> str:
        group = self.services.get(specs)
        if group is None:
            name = f"ZWS-{len(self.services) + 1}-{self.suffix}"
            group = IosObjectGroup("service", name, "", tuple(service_member(s) for s in specs))
            self.services[specs] = group
        return group.name

    def groups(self) -> tuple[IosObjectGroup, ...]:
        return (*self.networks.values(), *self.services.values())


class OgLowering(Lowering):
    """`Lowering` with flow and reply entries written over object groups."""

    def __init__(self, policy: CompiledPolicy, view: GatewayView, ace_budget: int) -> None:
        self.registry = _Registry(PLACEHOLDER)
        self._labels: dict[Key, str] = {}
        self._classes: dict[Key, str] = {}
        self._sizes: dict[str, int] = {}  # ACE address or service text -> expanded members
        super().__init__(policy, view, ace_budget)
        self.groups = self.registry.groups()
        self.expanded = {acl.name: self._expanded(acl) for acl in self.acls}

    def header_notes(self, suffix: str) -> tuple[str, ...]:
        return (
            (
                "object-groups: IOS object-group ACLs (OGACL), which the target release must "
                "support; paste the object-group blocks first"
            ),
            (
                "  and remove the old groups after the old ACLs: no object-group network|service "
                "ZW...-<old suffix>"
            ),
            (
                f"ACE budget ({self.ace_budget} per ACL) counts configured entries; object "
                "groups do not reduce TCAM usage: the switch"
            ),
            "expands each entry into sources x destinations x services. Entries per ACL:",
            *(
                f"  {with_suffix(acl.name, suffix)}: {len(acl.aces)} configured, "
                f"{self.expanded[acl.name]} expanded"
                for acl in self.acls
            ),
        )

    def object_groups(self) -> tuple[IosObjectGroup, ...]:
        return self.groups

    # -- the two ACL kinds ------------------------------------------------------------------------
    def class_acl(self, cls: ResolvedClass, permits: Iterable[Permit]) -> IosAcl:
        needs = [Need("init", p.rule, p.packets, cls, p.dst) for p in permits]
        needs += self.replies_toward(cls)
        blocks = self.dhcp_block(cls, needs)
        blocks += self.self_blocks(self.to_self(cls), lambda p: self.ints(cls.prefixes))
        blocks += self._og_blocks(needs, peer_speaks=False)
        return self.finish(acl_name(cls.name, PLACEHOLDER), cls.interface, blocks)

    def uplink_acl(self, uplink: str) -> IosAcl:
        view = self.view
        spoofed = self._og_net(self.ints(view.served_prefixes), "classes served here")
        transit = self._og_net(self.ints(view.transit), "classes of other gateways")
        blocks = [
            Block(
                "spoofed: the source is a class served here",
                tuple(Ace("deny", Spec("ip"), s, "", "any", "", True) for s in spoofed),
            ),
            *self.self_blocks(self.to_self(None), lambda p: self.merged([p.src])),
            Block(
                "classes of other gateways: filtered at their own gateway, they pass",
                tuple(Ace("permit", Spec("ip"), t, "", "any", "") for t in transit),
            ),
        ]
        needs = self.uplink_needs()
        blocks += self._og_blocks(needs, peer_speaks=True)
        return self.finish(
            uplink_acl_name([c.name for c in view.served], PLACEHOLDER), uplink, blocks
        )

    def own_texts(self) -> tuple[str, ...]:
        """The switch's own addresses as one network group (or inline when just one)."""
        return tuple(self._og_net(self.own, f"gateway:{self.view.plan.name} own addresses"))

    def source_texts(self, cidrs_: Sequence[Cidr], label: str) -> tuple[str, ...]:
        return tuple(self._og_net(tuple(cidrs_), label))

    def _og_net(self, key: Key, label: str) -> list[str]:
        """The ACE address for a merged prefix list: none, inline (one CIDR), or a group."""
        if len(key) <= 1:
            return [wildcard(p) for p in key]
        self._labels.setdefault(key, label)
        text, size = self.registry.network([key], self._labels, self._classes)
        self._sizes[text] = size
        return [text]

    # -- flows and replies over groups ----------------------------------------------------------
    def _og_blocks(self, needs: list[Need], peer_speaks: bool) -> list[Block]:
        """Entries for `needs`: flows first, then replies, each as few as stays exact."""
        pairs: dict[tuple[bool, Key, Key], PacketSet] = {}
        for n in needs:
            local, peer = self.ints(n.local.prefixes), self.ints(n.peer.prefixes)
            self._classes[local] = self._labels[local] = n.local.name
            if n.peer.kind == "class":
                self._classes[peer] = self._labels[peer] = n.peer.name
            else:  # an external atom: the externals sharing it, "internet+pacs_vendor"
                self._labels[peer] = "+".join(n.peer.externals or (n.peer.name,))
            src, dst = (peer, local) if peer_speaks else (local, peer)
            reply = n.kind == "reply"
            self._check_specs(n)
            key = (reply, src, dst)
            pairs[key] = pairs[key] | n.packets if key in pairs else n.packets
        flows = self._forward_entries({(s, d): p for (r, s, d), p in pairs.items() if not r})
        replies = self._reply_entries({(s, d): p for (r, s, d), p in pairs.items() if r})
        return [
            Block(
                "flows, grouped: each entry's groups are described above",
                tuple(self._entry_ace(e) for e in flows),
            ),
            Block(
                "replies (stateless), grouped by service port",
                tuple(self._entry_ace(e) for e in replies),
            ),
        ]

    def _check_specs(self, n: Need) -> None:
        """What IOS cannot express, reported at the allow as without groups (E401, E402)."""
        if n.kind == "reply":
            bad = self.reply(n.packets)[1]
            if bad:
                self.cannot_reply(n, bad)
        else:
            protos = self.forward(n.packets)[1]
            if protos:
                self.cannot_match(n, protos)

    def _forward_entries(self, pairs: dict[tuple[Key, Key], PacketSet]) -> list[_Entry]:
        """Blocks by service set (peers sharing one set) or by service (services sharing one
        set of peers), whichever gives fewer entries."""
        by_pair = {pair: self.forward(p)[0] for pair, p in pairs.items()}
        by_set, by_service = _bicliques(by_pair), _by_service(by_pair)
        best = by_service if len(by_service) < len(by_set) else by_set
        return [_Entry(s, d, specs, False) for s, d, specs in best]

    def _reply_entries(self, pairs: dict[tuple[Key, Key], PacketSet]) -> list[_Entry]:
        by_spec: dict[tuple[Spec, ...], dict[tuple[Key, Key], tuple[Spec, ...]]] = {}
        for pair, packets in pairs.items():
            for spec in self.reply(packets)[0]:
                by_spec.setdefault((spec,), {})[pair] = (spec,)
        return [
            _Entry(s, d, specs, True)
            for one in sorted(by_spec, key=_spec_key)
            for s, d, specs in _bicliques(by_spec[one])
        ]

    def _entry_ace(self, e: _Entry) -> Ace:
        src, src_n = self.registry.network(e.srcs, self._labels, self._classes)
        dst, dst_n = self.registry.network(e.dsts, self._labels, self._classes)
        self._sizes[src], self._sizes[dst] = src_n, dst_n
        if len(e.specs) == 1:
            spec = e.specs[0]
        else:
            spec = Spec(f"object-group {self.registry.service(e.specs)}")
            self._sizes[spec.protocol] = len(e.specs)
        port_src, port_dst = (spec.port, "") if e.reply else ("", spec.port)
        return Ace("permit", spec, src, port_src, dst, port_dst)

    def _expanded(self, acl: IosAcl) -> int:
        """TCAM entries the switch makes of `acl`: the product of each entry's members."""
        return sum(
            self._sizes.get(a.src, 1) * self._sizes.get(a.dst, 1) * self._sizes.get(a.protocol, 1)
            for a in acl.aces
        )


@functools.lru_cache(maxsize=1 << 16)
def _spec_key(specs: tuple[Spec, ...]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Protocol, then ports as numbers ("eq 53" before "eq 443"), then the option."""
    return tuple((s.protocol, tuple(int(w) for w in s.port.split()[1:]), s.option) for s in specs)


Biclique = tuple[tuple[Key, ...], tuple[Key, ...], tuple[Spec, ...]]


def _by_service(by_pair: dict[tuple[Key, Key], tuple[Spec, ...]]) -> list[Biclique]:
    """Blocks of services used by exactly the same pairs (a service group), each pair set cut
    into source x destination blocks.  Exact: a pair gets a service only from a block whose
    pair set holds it, i.e. only services of its own."""
    pairs_of: dict[Spec, set[tuple[Key, Key]]] = {}
    for pair, specs in by_pair.items():
        for spec in specs:
            pairs_of.setdefault(spec, set()).add(pair)
    services: dict[frozenset[tuple[Key, Key]], list[Spec]] = {}
    for spec, spec_pairs in pairs_of.items():
        services.setdefault(frozenset(spec_pairs), []).append(spec)
    out: list[Biclique] = []
    for pair_set, members in services.items():
        group = tuple(sorted(members, key=lambda s: _spec_key((s,))))
        out += [(s, d, group) for s, d, _ in _bicliques(dict.fromkeys(pair_set, ()))]
    return sorted(out, key=lambda t: (t[0], t[1], _spec_key(t[2])))


def _bicliques(by_pair: dict[tuple[Key, Key], tuple[Spec, ...]]) -> list[Biclique]:
    """Blocks (sources, destinations, services) covering exactly the pairs, each pair once.

    Rows by source: sources whose destinations with one service set are the same set share a
    block; the same by destination; the orientation with fewer blocks wins (sources first on
    a tie), so the result depends only on the pairs.
    """

    def blocks(flip: bool) -> list[Biclique]:
        rows: dict[tuple[Key, tuple[Spec, ...]], list[Key]] = {}
        for (s, d), specs in by_pair.items():
            a, b = (d, s) if flip else (s, d)
            rows.setdefault((a, specs), []).append(b)
        cols: dict[tuple[tuple[Key, ...], tuple[Spec, ...]], list[Key]] = {}
        for (a, specs), bs in rows.items():
            cols.setdefault((tuple(sorted(bs)), specs), []).append(a)
        out: list[Biclique] = []
        for (b_keys, specs), as_ in cols.items():
            a_keys = tuple(sorted(as_))
            out.append((b_keys, a_keys, specs) if flip else (a_keys, b_keys, specs))
        return sorted(out, key=lambda t: (t[0], t[1], _spec_key(t[2])))

    by_src, by_dst = blocks(False), blocks(True)
    return by_dst if len(by_dst) < len(by_src) else by_src
