"""nftables backend: one `nft -f` file per gateway holding one `table inet zonewall`.

Target: nftables >= 0.9.1 (`priority filter`), Linux >= 4.14 (names up to 255 bytes; zonewall
keeps them to 64).  The file replaces the table atomically and is safe to load again:
`table inet zonewall` (create if missing), `delete table inet zonewall`, then the full
definition, all in one transaction; other tables (other tools' rules) are not touched.

Semantics: rules in a chain are first-match; `jump` evaluates the target chain and comes back
when it falls off its end; a base chain's `policy` applies when no rule decides.  Every chain
zonewall writes still ends with a rate-limited `log` and a `drop`, so nothing depends on that.
The `forward` hook filters forwarding; the `input` hook (`zw_input`, policy accept) sends IPv4
entering on zonewall's interfaces to `zw_self`, which permits exactly the policy's flows to the
gateway itself (`gateway:NAME`); output, IPv6 input (Neighbour Discovery) and other interfaces
stay as the host's other rules leave them.  The policy is IPv4, so IPv6 traffic never matches
a forwarding dispatch rule and is dropped in forwarding (fail closed).

The layout and the packets it permits are those of the iptables backend: `zw_forward` accepts
established/related and drops invalid, then dispatches on ingress interface plus source set to
one chain per served class (`zo_<class>`), which dispatches on egress interface plus destination
set to one chain per pair (`zp_<src>__<dst>`) holding the `ct state new` flow rules.  The
uplink goes to `zw_uplink`: sources in a class served here are spoofed (`zw_spoofed`), sources
in classes served elsewhere pass (`zw_transit`), external sources dispatch to `zi_<atom>`.
Address groups are named interval sets with `cidr_merge`d elements: `zc_<class>` per class,
`zx_<atom>` per external atom, plus `zw_served` and `zw_transit`.

Pitfalls honoured: names are `[a-z0-9_]`, at most 64 bytes and
always carry a `z?_` prefix, so never an nft keyword such as `log` or `ip` (NFT-01); sets have
`flags interval` and disjoint elements (NFT-02); addresses come only from the IR, never from
free text that nft would resolve through DNS (NFT-03); comments are at most 128 bytes, as written
but for `"` (written `'`: nft has no escape in a string), log prefixes at most 29 bytes in a
narrow charset (NFT-07).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from netaddr import IPNetwork, cidr_merge

from zonewall._version import __version__
from zonewall.backends.base import (
    Backend,
    GatewayView,
    Lowered,
    Permit,
    make_env,
    policy_lines,
    protocol_blocks,
    rule_ref,
    uplink_source,
)
from zonewall.backends.chains import LINUX_FEATURES, destinations
from zonewall.diagnostics import Diagnostic, Severity
from zonewall.ir import CompiledPolicy, Endpoint, ResolvedClass
from zonewall.packets import ICMP, PROTO_NAMES, TCP, UDP, PacketSet, key
from zonewall.text import comment_line, log_prefix, nft_comment

__all__ = ["NftChain", "NftL4", "NftModel", "NftRule", "NftSet", "NftablesBackend"]

TABLE = "zonewall"
NAME_MAX = 64
COMMENT_MAX = 128  # nft: "comment too long, 128 characters maximum allowed" (bytes, verified)
LOG_PREFIX_MAX = 29  # shared with iptables (--log-prefix), trailing space included
ICMP_TYPE_MAX = 255
NAME_RE = re.compile(r"z[a-z]_[a-z0-9_]+\Z")
IFNAME_RE = re.compile(r"[A-Za-z0-9_.@:+-]{1,15}\Z")  # Linux IFNAMSIZ; nft: "max length 16"
_PORT_FIELD = {TCP: "tcp dport", UDP: "udp dport", ICMP: "icmp type"}
DHCP_KEY = key(UDP, 67)  # a DHCP server's port


@dataclass(frozen=True, slots=True)
class NftSet:
    """A named `ipv4_addr` interval set."""

    name: str
    elements: tuple[str, ...]  # cidr_merge'd, so disjoint and sorted
    note: str  # what the set holds, written as a `#` line above it


@dataclass(frozen=True, slots=True)
class NftL4:
    """The layer-4 match of a rule: `field value` or `field { value, ... }`."""

    field: str  # "tcp dport", "udp dport", "icmp type" or "meta l4proto"
    values: tuple[str, ...]  # "443", "5100-5109"; protocols as "tcp" or "47" or "7-255"


@dataclass(frozen=True, slots=True)
class NftRule:
    """One rule; `None` fields are absent.  Rendered in the order of the fields."""

    iifname: str | None = None
    oifname: str | None = None
    saddr: str | None = None  # a set name
    daddr: str | None = None  # a set name
    l4: NftL4 | None = None
    ct_state: str | None = None  # "new", "established,related", "invalid"
    counter: bool = False
    log_prefix: str | None = None  # a rate-limited `log` statement
    verdict: str | None = None  # "accept", "drop", "jump <chain>"; None only on log rules
    comment: str | None = None
    nfproto: str | None = None  # "ipv4": the rule matches IPv4 only (rendered first)


@dataclass(frozen=True, slots=True)
class NftChain:
    name: str
    rules: tuple[NftRule, ...]
    hook: str | None = None  # base chains only
    policy: str | None = None


@dataclass(frozen=True, slots=True)
class NftModel:
    path: PurePosixPath
    header: tuple[str, ...]
    table: str
    sets: tuple[NftSet, ...]
    chains: tuple[NftChain, ...]  # the base chain first, then in dispatch order


def drop_tail(chain: str) -> tuple[NftRule, NftRule]:
    """The end of every chain: a rate-limited log naming the chain, then drop."""
    prefix = log_prefix(chain, LOG_PREFIX_MAX - 1) + " "
    return NftRule(log_prefix=prefix), _DROP


_DROP = NftRule(counter=True, verdict="drop")  # immutable, so every chain shares one


def _ranges(values: Iterable[tuple[int, int]]) -> tuple[str, ...]:
    return tuple(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in values)


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] + 1 == n:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def unexpressible(packets: PacketSet) -> list[int]:
    """Protocols whose part of `packets` is a port range nft has no field for here."""
    return [proto for proto, ivs in protocol_blocks(packets) if ivs and proto not in _PORT_FIELD]


def l4_matches(packets: PacketSet) -> list[NftL4 | None]:
    """Layer-4 matches covering exactly `packets`, one per rule; `None` means every packet.

    Whole protocols share one `meta l4proto` rule; TCP and UDP ports and ICMP types get one
    rule each.  ICMP keys above 255 are no packet at all and are left out.
    """
    blocks = protocol_blocks(packets)
    whole = [proto for proto, ivs in blocks if not ivs]
    if len(whole) == 256:
        return [None]
    out: list[NftL4 | None] = []
    if whole:
        runs = _runs(whole)
        if len(runs) == 1 and runs[0][0] == runs[0][1] and runs[0][0] in PROTO_NAMES:
            out.append(NftL4("meta l4proto", (PROTO_NAMES[runs[0][0]],)))
        else:
            out.append(NftL4("meta l4proto", _ranges(runs)))
    for proto, ivs in blocks:
        if not ivs:
            continue
        if proto not in _PORT_FIELD:  # check() reports these; never drop a rule silently
            raise ValueError(f"nftables cannot match ports of protocol {proto}")
        if proto == ICMP:
            ivs = [(lo, min(hi, ICMP_TYPE_MAX)) for lo, hi in ivs if lo <= ICMP_TYPE_MAX]
        if ivs:
            out.append(NftL4(_PORT_FIELD[proto], _ranges(ivs)))
    return out


@functools.lru_cache(maxsize=4096)
def _l4_cached(packets: PacketSet) -> tuple[NftL4 | None, ...]:
    """`l4_matches`, once per packet set: a large policy has tens of thousands of permits but
    only about as many distinct packet sets as services."""
    return tuple(l4_matches(packets))


class NftablesBackend(Backend):
    name = "nftables"
    supports = LINUX_FEATURES
    suffix = ".nft"

    def check(self, policy: CompiledPolicy, view: GatewayView) -> list[Diagnostic]:
        """IP protocol 0 is fine here (`meta l4proto 0`); only port ranges of protocols other
        than TCP, UDP and ICMP cannot be written (the language cannot produce them), and
        interface names must be Linux names (the compiler checks them for Linux platforms)."""
        out = []
        uplink = [view.plan.uplink] if view.plan.uplink is not None else []
        for ifname in [c.interface for c in view.served] + uplink:
            if not IFNAME_RE.match(ifname):
                out.append(
                    Diagnostic(
                        Severity.ERROR,
                        "E401",
                        f"{self.name} cannot match interface '{ifname}' on "
                        f"gateway '{view.plan.name}': Linux names are at most 15 characters of "
                        "letters, digits and _.@:+-",
                        view.plan.span,
                    )
                )
        for _, permits in view.outbound + view.inbound + view.to_self:
            for p in permits:
                for proto in unexpressible(p.packets):
                    out.append(
                        Diagnostic(
                            Severity.ERROR,
                            "E401",
                            f"{self.name} cannot match ports of IP protocol "
                            f"{proto} for rule '{p.src.name} -> {p.dst.name}'; allow the whole "
                            f"protocol (proto/{proto}) instead",
                            p.rule.span,
                        )
                    )
        return out

    def lower(self, policy: CompiledPolicy, view: GatewayView) -> Lowered[NftModel]:
        names = _Names()
        sets = _Sets(view, names)
        forward = [
            NftRule(ct_state="established,related", verdict="accept"),
            NftRule(ct_state="invalid", verdict="drop"),
        ]
        chains: list[NftChain] = []
        for cls, permits in view.outbound:
            out_chain = names.get("zo", cls.name)
            forward.append(
                NftRule(
                    iifname=cls.interface,
                    saddr=sets.of_class(cls),
                    verdict=f"jump {out_chain}",
                    comment=nft_comment(f"from class {cls.name}", COMMENT_MAX),
                )
            )
            chains.extend(
                self._dispatch(out_chain, (cls.name, cls.name), permits, view, names, sets)
            )
        if view.plan.uplink is not None:
            forward.append(NftRule(iifname=view.plan.uplink, verdict="jump zw_uplink"))
            chains.extend(self._uplink(view, names, sets))
        forward.extend(drop_tail("zw_forward"))
        base = NftChain("zw_forward", tuple(forward), hook="forward", policy="drop")
        chains.extend(self._input(view, names, sets))
        return Lowered(
            NftModel(
                path=PurePosixPath(f"{view.plan.name}{self.suffix}"),
                header=self._header(policy, view),
                table=TABLE,
                sets=sets.all(),
                chains=(base, *chains),
            )
        )

    def _input(self, view: GatewayView, names: _Names, sets: _Sets) -> list[NftChain]:
        """Traffic to the box itself: the base chain `zw_input` (hook input, policy accept)
        sends IPv4 entering on zonewall's interfaces to `zw_self`, which accepts replies and
        exactly the policy's flows to this gateway (`gateway:NAME`), each from its source's
        interface, plus DHCP broadcasts for a relay on the box (as the iptables backend), and
        log-drops the rest.  IPv6 (Neighbour Discovery) and other interfaces are left to the
        box's other rules."""
        served = sorted({cls.interface for cls in view.served})
        ingress = served + ([view.plan.uplink] if view.plan.uplink not in (None, *served) else [])
        entry = [NftRule(nfproto="ipv4", iifname=name, verdict="jump zw_self") for name in ingress]
        rules = [
            NftRule(ct_state="established,related", verdict="accept"),
            NftRule(ct_state="invalid", verdict="drop"),
        ]
        dhcp = NftL4("udp dport", ("67",))
        for cls in [
            c
            for c, permits in view.outbound
            if any(p.dst.kind == "class" and DHCP_KEY in p.packets for p in permits)
        ]:
            comment = nft_comment(
                f"DHCP from {cls.name} to a relay on the box: {cls.name} may reach a DHCP server",
                COMMENT_MAX,
            )
            zero = sets.named("zw_zero", [IPNetwork("0.0.0.0/32")], "DHCP clients' source")
            for saddr in (zero, sets.of_class(cls)):
                rules.append(
                    NftRule(
                        iifname=cls.interface,
                        saddr=saddr,
                        l4=dhcp,
                        ct_state="new",
                        counter=True,
                        verdict="accept",
                        comment=comment,
                    )
                )
        chains: list[NftChain] = []
        for src, permits in view.to_self:
            local = view.local(src)
            iface = local.interface if local is not None else view.plan.uplink
            if iface is None:  # no uplink: nothing from beyond this gateway reaches it
                continue
            chain = names.get("zs", src.name, ident=_ident(src))
            rules.append(
                NftRule(
                    iifname=iface,
                    saddr=sets.of(src),
                    verdict=f"jump {chain}",
                    comment=nft_comment(f"to the gateway itself from {src.name}", COMMENT_MAX),
                )
            )
            chains.append(NftChain(chain, self._flow_rules(chain, list(permits))))
        return [
            NftChain("zw_input", tuple(entry), hook="input", policy="accept"),
            NftChain("zw_self", (*rules, *drop_tail("zw_self"))),
            *chains,
        ]

    def _header(self, policy: CompiledPolicy, view: GatewayView) -> tuple[str, ...]:
        return (
            (
                f"zonewall {__version__}  backend: nftables (nft -f, table inet {TABLE}, IPv4)"
                "  -- DO NOT EDIT"
            ),
            *policy_lines(policy),
            f"gateway: {view.plan.name}  uplink: {view.plan.uplink or '-'}",
            (
                "load with: nft -f FILE   (check first: nft -c -f FILE); a reload replaces only "
                f"table inet {TABLE}"
            ),
            (
                "needs: net.ipv4.ip_forward=1; IPv6 forwarding is dropped; zw_input (hook input) "
                "filters IPv4 to the box itself entering on zonewall's interfaces: only the "
                "policy's 'gateway:' flows pass (manage the box through them or another "
                "interface); IPv6 input (Neighbour Discovery), other interfaces and output are "
                "left to the box's other rules"
            ),
        )

    def _dispatch(
        self,
        chain: str,
        src: tuple[str, object],
        permits: Iterable[Permit],
        view: GatewayView,
        names: _Names,
        sets: _Sets,
    ) -> list[NftChain]:
        """One chain dispatching by egress and destination to pair chains, plus those.

        `src` is the source's (label, identity): labels of external atoms can repeat.  The
        layout is `chains.destinations`.
        """
        dispatch: list[NftRule] = []
        pairs: list[NftChain] = []
        for dst in destinations(permits, view):
            ep = dst.endpoint
            pair = names.get("zp", src[0], ep.name, ident=(src[1], _ident(ep)))
            dispatch.append(NftRule(oifname=dst.egress, daddr=sets.of(ep), verdict=f"jump {pair}"))
            pairs.append(NftChain(pair, self._flow_rules(pair, list(dst.permits))))
        return [NftChain(chain, (*dispatch, *drop_tail(chain))), *pairs]

    def _flow_rules(self, chain: str, permits: list[Permit]) -> tuple[NftRule, ...]:
        rules: list[NftRule] = []
        for p in permits:
            why = f" {p.rule.why}" if p.rule.why else ""
            comment = nft_comment(
                f"{rule_ref(p.rule)} allow {p.src.name}->{p.dst.name}{why}", COMMENT_MAX
            )
            for l4 in _l4_cached(p.packets):
                if p.rule.log:
                    prefix = log_prefix(f"zw_allow {p.rule.index}", LOG_PREFIX_MAX - 1) + " "
                    rules.append(NftRule(l4=l4, ct_state="new", log_prefix=prefix, comment=comment))
                rules.append(
                    NftRule(l4=l4, ct_state="new", counter=True, verdict="accept", comment=comment)
                )
        return (*rules, *drop_tail(chain))

    def _uplink(self, view: GatewayView, names: _Names, sets: _Sets) -> list[NftChain]:
        rules = [
            NftRule(
                saddr=sets.named(
                    "zw_served", view.served_prefixes, "every class served by this gateway"
                ),
                verdict="jump zw_spoofed",
                comment="source is a class served here: spoofed",
            )
        ]
        if view.transit:
            rules.append(
                NftRule(
                    saddr=sets.named(
                        "zw_transit", view.transit, "classes served by other gateways"
                    ),
                    counter=True,
                    verdict="accept",
                    comment="class served by another gateway: filtered there",
                )
            )
        chains: list[NftChain] = []
        for atom, permits in view.inbound:
            chain = names.get("zi", atom.name, ident=_ident(atom))
            rules.append(
                NftRule(
                    saddr=sets.of(atom),
                    verdict=f"jump {chain}",
                    comment=nft_comment(f"from {uplink_source(atom)}", COMMENT_MAX),
                )
            )
            chains.extend(
                self._dispatch(chain, (atom.name, _ident(atom)), permits, view, names, sets)
            )
        uplink = NftChain("zw_uplink", (*rules, *drop_tail("zw_uplink")))
        spoofed = NftChain("zw_spoofed", drop_tail("zw_spoofed"))
        return [uplink, spoofed, *chains]

    def render(self, model: NftModel) -> dict[PurePosixPath, str]:
        text = make_env().get_template("nftables/ruleset.j2").render(model=model)
        return {model.path: text}

    def rule_count(self, model: NftModel) -> int:
        return sum(len(c.rules) for c in model.chains)


@functools.lru_cache(maxsize=65536)
def _name_part(part: str) -> str:
    """A policy name as an nft identifier part: lower case, `[a-z0-9_]`."""
    return _NOT_NAME.sub("_", part.lower())


_NOT_NAME = re.compile(r"[^a-z0-9_]")


def _ident(ep: Endpoint) -> object:
    """What makes an endpoint unique: a class's name, an external atom's set of externals
    (its `name`, the most specific external holding it, can be shared by two atoms)."""
    if ep.kind == "relay":  # never equal to a class's name or an atom's externals
        return ("relay", ep.name)
    return ep.externals if ep.kind == "external" else ep.name


class _Names:
    """Unique nft identifiers: `<prefix>_<part>__<part>`, `[a-z0-9_]`, at most NAME_MAX.

    Policy names may hold `-`, which becomes `_`, and two external atoms may have one label;
    when that (or shortening) makes two different things alike, the later one gets a hash of
    its identity, so names stay unique and deterministic.
    """

    def __init__(self) -> None:
        self.owner: dict[str, tuple[str, object]] = {}

    def get(self, prefix: str, *parts: str, ident: object = None) -> str:
        key = (prefix, parts if ident is None else ident)
        name = prefix + "_" + "__".join(map(_name_part, parts))
        if len(name) > NAME_MAX or self.owner.setdefault(name, key) != key:
            digest = hashlib.sha256(repr(key).encode()).hexdigest()[:8]
            name = name[: NAME_MAX - len(digest) - 1] + "_" + digest
            if self.owner.setdefault(name, key) != key:
                raise AssertionError(f"nft name collision on {name!r}")
        assert NAME_RE.match(name), name
        return name


class _Sets:
    """The named sets, one per endpoint used, created on first reference."""

    def __init__(self, view: GatewayView, names: _Names) -> None:
        self.view = view
        self.names = names
        self.by_key: dict[object, NftSet] = {}

    def of_class(self, cls: ResolvedClass) -> str:
        known = self.by_key.get(("class", cls.name))
        if known is not None:  # named and registered the first time
            return known.name
        what = f"class {cls.name}" + (f": {cls.description}" if cls.description else "")
        return self._add(("class", cls.name), self.names.get("zc", cls.name), cls.prefixes, what)

    def of(self, ep: Endpoint) -> str:
        if ep.kind == "class":
            return self.of_class(self.view.class_by_endpoint[ep.id])
        known = self.by_key.get(("atom", ep.id))
        if known is not None:
            return known.name
        what = (
            "external addresses of " + ", ".join(ep.externals)
            if ep.kind == "external"
            else uplink_source(ep)
        )
        return self._add(
            ("atom", ep.id), self.names.get("zx", ep.name, ident=_ident(ep)), ep.prefixes, what
        )

    def named(self, name: str, prefixes: Iterable[IPNetwork], what: str) -> str:
        return self._add(name, name, prefixes, what)

    def _add(self, key: object, name: str, prefixes: Iterable[IPNetwork], what: str) -> str:
        if key not in self.by_key:
            elements = tuple(str(p) for p in cidr_merge(list(prefixes)))
            self.by_key[key] = NftSet(name, elements, comment_line(what, COMMENT_MAX))
        return self.by_key[key].name

    def all(self) -> tuple[NftSet, ...]:
        return tuple(sorted(self.by_key.values(), key=lambda s: s.name))
