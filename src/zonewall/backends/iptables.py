"""iptables backend: per gateway, an `iptables-restore --noflush` file (IPv4, table `filter`)
that changes only zonewall's own chains, and an `ip6tables-restore --noflush` companion that
closes IPv6 forwarding on zonewall's interfaces.

Target: iptables 1.8 (nf_tables or legacy backend).  Semantics: each chain is first-match; a
built-in chain's policy applies when no rule decides; user chains return to their caller when
they fall off the end.  With `--noflush`, iptables-restore flushes only the chains the file
declares and commits the table in one transaction, so zonewall's chains switch atomically and
the box's own chains (INPUT, OUTPUT, FORWARD's policy and its other rules, other user chains,
other tables) are left as they are.  Limits honoured here: chain names <= 28 characters,
`--log-prefix` <= 29 bytes, `--comment` <= 255 bytes (cut visibly, text otherwise as written:
`src/zonewall/text.py`), multiport <= 15 ports (a range counts two), interface names <= 15
characters.

Every chain zonewall writes is named `zw-...`.  The box reaches them through one rule,
`-A FORWARD -j zw-forward`, which the file cannot add itself without duplicating it on every
reload (and a `-D` of a missing rule aborts the whole commit), so the header's load line
ensures it after the restore: `iptables -C FORWARD -j zw-forward || iptables -I FORWARD 1 -j
zw-forward` (as kube-proxy and docker do).  `zw-forward` sends to `zw-main` every packet that
enters on a served class's interface or the uplink, or leaves on a served class's interface;
any other packet (between interfaces zonewall does not serve) RETURNs to the box's own FORWARD
rules.  `zw-main` decides every packet it sees and ends with log + DROP, so what it does not
permit never reaches the rules after the jump.

Layout of `zw-main` (after Shorewall): accept ESTABLISHED,RELATED, drop INVALID, then dispatch
on the ingress interface plus the source subnet to one chain per served class (`zw-o-<class>`),
which dispatches on egress interface plus destination to one chain per class pair
(`zw-p-<src>-<dst>`) holding the NEW-state flow rules.  Traffic entering on the uplink goes to
`zw-uplink`: sources in a class served here are spoofed and dropped, sources in classes served
by other gateways were filtered there and pass, external sources dispatch to `zw-i-<atom>` and
then to pair chains.  INPUT and OUTPUT (traffic to and from the gateway itself) are not
touched: the policy language does not describe management access.

Chains of an earlier build that this build no longer declares (a removed class) stay in the
kernel but are unreachable: only zonewall's chains jump to them, and those are all rewritten.

The IPv6 companion (`<gateway>.rules6`): the policy is IPv4, so IPv6 is closed.  Its own
`zw-forward` (reached the same way through ip6tables) log-drops every forwarded IPv6 packet that
enters on a served class's interface or the uplink or leaves on a served class's interface;
INPUT and OUTPUT are not touched, so Neighbour Discovery with the box keeps working.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

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
    short_name,
    uplink_source,
)
from zonewall.backends.chains import LINUX_FEATURES, destinations
from zonewall.ir import CompiledPolicy, Endpoint, ResolvedClass
from zonewall.packets import ICMP, PROTO_NAMES, TCP, UDP, PacketSet, key
from zonewall.text import comment_line, iptables_comment, log_prefix

__all__ = ["IptablesBackend", "IptChain", "IptModel", "IptRule"]

CHAIN_MAX = 28
PREFIX = "zw-"  # every chain zonewall writes, and only those, starts with it
ENTRY = "zw-forward"  # the chain FORWARD jumps to (in iptables and ip6tables)
MAIN = "zw-main"  # decides every packet on zonewall's interfaces
CLOSED = "zw-ipv6-closed"  # the IPv6 companion's log + drop
INPUT_ENTRY = "zw-input"  # the chain INPUT jumps to (iptables only: IPv6 INPUT is untouched)
SELF = "zw-self"  # decides every packet to the box entering on zonewall's interfaces
DHCP_KEY = key(UDP, 67)  # a DHCP server's port
COMMENT_MAX = 255
MULTIPORT_UNITS = 15
LOG_LIMIT = ("-m limit --limit 5/min --limit-burst 10",)


@dataclass(frozen=True, slots=True)
class IptRule:
    matches: tuple[str, ...]
    target: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class IptChain:
    name: str
    rules: tuple[IptRule, ...]


@dataclass(frozen=True, slots=True)
class IptModel:
    """Both files of a gateway: `forward` is the rules of the entry chain `zw-forward`,
    `chains` every other chain (`zw-main` first); `*6` the same for the IPv6 companion."""

    path: PurePosixPath
    header: tuple[str, ...]
    forward: tuple[IptRule, ...]
    chains: tuple[IptChain, ...]
    path6: PurePosixPath
    header6: tuple[str, ...]
    forward6: tuple[IptRule, ...]
    chains6: tuple[IptChain, ...]


def _drop_tail(chain: str) -> tuple[IptRule, ...]:
    prefix = log_prefix(chain, 28) + " "
    return (IptRule(LOG_LIMIT, f'LOG --log-prefix "{prefix}"'), _DROP)


_DROP = IptRule((), "DROP")  # immutable, so every chain shares one


def port_chunks(intervals: Iterable[tuple[int, int]]) -> list[list[str]]:
    """Port intervals as multiport chunks of at most 15 units (a range counts two)."""
    chunks: list[list[str]] = [[]]
    units = 0
    for lo, hi in intervals:
        item, cost = (str(lo), 1) if lo == hi else (f"{lo}:{hi}", 2)
        if units + cost > MULTIPORT_UNITS:
            chunks.append([])
            units = 0
        chunks[-1].append(item)
        units += cost
    return [c for c in chunks if c]


def packet_matches(packets: PacketSet) -> list[tuple[str, ...]]:
    """iptables match arguments covering exactly `packets`, one tuple per rule.

    Must not be given a set holding IP protocol 0 (unless it is every protocol): iptables
    reads "-p 0" as "any protocol".  `_flow_rules` handles those sets by negation.
    """
    out: list[tuple[str, ...]] = []
    blocks = protocol_blocks(packets)
    if len(blocks) == 256 and all(not ivs for _, ivs in blocks):
        return [()]  # every protocol: no -p at all
    for proto, ivs in blocks:
        assert proto != 0, "'-p 0' would match every protocol"
        name = PROTO_NAMES.get(proto, str(proto))
        if not ivs:
            out.append((f"-p {name}",))
        elif proto in (TCP, UDP):
            for chunk in port_chunks(ivs):
                if len(chunk) == 1:
                    out.append((f"-p {name}", f"-m {name} --dport {chunk[0]}"))
                else:
                    out.append((f"-p {name}", f"-m multiport --dports {','.join(chunk)}"))
        elif proto == ICMP:
            for lo, hi in ivs:
                for icmp_type in range(lo, min(hi, 255) + 1):
                    out.append(("-p icmp", f"-m icmp --icmp-type {icmp_type}"))
    return out


def needs_negation(packets: PacketSet) -> bool:
    """True when the set holds IP protocol 0 but not everything: match its complement."""
    return packets != PacketSet.everything() and key(0, 0) in packets


@functools.lru_cache(maxsize=4096)
def _permit_matches(packets: PacketSet) -> tuple[bool, tuple[tuple[str, ...], ...]]:
    """(matched by negation?, the match tuples: of the complement when by negation), once per
    packet set: a large policy has tens of thousands of permits but only about as many
    distinct packet sets as services."""
    if needs_negation(packets):
        return True, tuple(packet_matches(PacketSet.everything() - packets))
    return False, tuple(packet_matches(packets))


class IptablesBackend(Backend):
    name = "iptables"
    supports = LINUX_FEATURES
    suffix = ".rules"
    suffix6 = ".rules6"

    def lower(self, policy: CompiledPolicy, view: GatewayView) -> Lowered[IptModel]:
        names = _ChainNames(view)
        main = [
            IptRule(("-m conntrack --ctstate ESTABLISHED,RELATED",), "ACCEPT"),
            IptRule(("-m conntrack --ctstate INVALID",), "DROP"),
        ]
        chains: list[IptChain] = []
        for cls, permits in view.outbound:
            out_chain = names.chain("o", cls.name)
            for prefix in cls.prefixes:
                main.append(
                    IptRule(
                        (f"-i {cls.interface}", f"-s {prefix}"),
                        out_chain,
                        iptables_comment(f"from class {cls.name}", COMMENT_MAX),
                    )
                )
            chains.extend(self._dispatch(out_chain, cls.name, permits, view, names))
        if view.plan.uplink is not None:
            main.append(IptRule((f"-i {view.plan.uplink}",), "zw-uplink"))
            chains.extend(self._uplink(view, names))
        main.extend(_drop_tail(MAIN))
        chains.extend(self._input(view, names))
        path = PurePosixPath(f"{view.plan.name}{self.suffix}")
        path6 = PurePosixPath(f"{view.plan.name}{self.suffix6}")
        closed = (IptRule(LOG_LIMIT, f'LOG --log-prefix "{CLOSED} "'), _DROP)
        return Lowered(
            IptModel(
                path=path,
                header=self._header(policy, view, path, 4),
                forward=_scope(view, MAIN),
                chains=(IptChain(MAIN, tuple(main)), *chains),
                path6=path6,
                header6=self._header(policy, view, path6, 6),
                forward6=_scope(view, CLOSED),
                chains6=(IptChain(CLOSED, closed),),
            )
        )

    def _header(
        self, policy: CompiledPolicy, view: GatewayView, path: PurePosixPath, family: int
    ) -> tuple[str, ...]:
        tool = "iptables" if family == 4 else "ip6tables"
        # IPv4: FORWARD's and INPUT's jumps into zonewall; IPv6: FORWARD's only (INPUT is left
        # alone so that Neighbour Discovery with the box keeps working)
        jumps = [("FORWARD", ENTRY)] + ([("INPUT", INPUT_ENTRY)] if family == 4 else [])
        jumped = " and ".join(f"{b}'s jump to {e}" for b, e in jumps)
        what = (
            "IPv4 filter table"
            if family == 4
            else "IPv6 filter table: closes IPv6 forwarding on zonewall's interfaces"
        )
        if family == 4:
            scope = (
                f"scope: {ENTRY} decides every packet entering on a served class's "
                "interface or the uplink, or leaving on a served class's interface, and "
                "drops what the policy does not permit; other packets RETURN to the "
                f"box's own FORWARD rules. {INPUT_ENTRY} decides every packet to the box "
                "itself entering on those interfaces: it accepts only the policy's "
                "'gateway:' flows (manage the box through them or another interface); "
                "packets to it on other interfaces RETURN to the box's own INPUT rules"
            )
            needs = (
                f"needs: net.ipv4.ip_forward=1; load {path.stem}{self.suffix6} too "
                "(IPv6 closed); OUTPUT and the policies of FORWARD and INPUT are not "
                "touched"
            )
        else:
            scope = (
                f"scope: {ENTRY} log-drops every forwarded IPv6 packet entering on a "
                "served class's interface or the uplink, or leaving on a served class's "
                "interface; other packets RETURN to the box's own FORWARD rules"
            )
            needs = (
                "needs: nothing; INPUT and OUTPUT are not touched, so Neighbour "
                "Discovery with the box keeps working"
            )
        return (
            f"zonewall {__version__}  backend: iptables ({tool}-restore --noflush, {what}, "
            "zonewall's chains only)  -- DO NOT EDIT",
            *policy_lines(policy),
            f"gateway: {view.plan.name}  uplink: {comment_line(view.plan.uplink or '-', 64)}",
            f"load with: {tool}-restore -w --noflush < {path} && "
            + " && ".join(
                f"{{ {tool} -w -C {builtin} -j {entry} 2>/dev/null || {tool} -w -I "
                f"{builtin} 1 -j {entry}; }}"
                for builtin, entry in jumps
            ),
            f"(check first: {tool} -V, nf_tables or legacy; the rest adds {jumped} once, a "
            "reload keeps it)",
            scope,
            f"proven assuming {jumped} {'come' if len(jumps) > 1 else 'comes'} first: the "
            "rules after it are the box's, and the proof holds whatever they do",
            f"chains named {PREFIX}* that this file does not declare are left from an earlier "
            "build and unreachable (see README to delete them)",
            needs,
        )

    def _dispatch(
        self,
        chain: str,
        src_label: str,
        permits: Iterable[Permit],
        view: GatewayView,
        names: _ChainNames,
    ) -> list[IptChain]:
        """One chain dispatching by egress and destination to pair chains, plus those (the
        layout is `chains.destinations`)."""
        dispatch: list[IptRule] = []
        pairs: list[IptChain] = []
        for dst in destinations(permits, view):
            pair = names.chain("p", src_label, names.label(dst.endpoint))
            for prefix in dst.endpoint.prefixes:
                dispatch.append(IptRule((f"-o {dst.egress}", f"-d {prefix}"), pair))
            rules, subchains = self._flow_rules(pair, list(dst.permits), names)
            pairs.append(IptChain(pair, rules))
            pairs.extend(subchains)
        return [IptChain(chain, tuple(dispatch) + _drop_tail(chain)), *pairs]

    def _flow_rules(
        self, chain: str, permits: list[Permit], names: _ChainNames
    ) -> tuple[tuple[IptRule, ...], list[IptChain]]:
        """The pair chain's rules, plus sub-chains for permits matched by negation."""
        rules: list[IptRule] = []
        subchains: list[IptChain] = []
        for n, p in enumerate(permits):
            why = f" {p.rule.why}" if p.rule.why else ""
            comment = iptables_comment(
                f"{rule_ref(p.rule)} allow {p.src.name}->{p.dst.name}{why}", COMMENT_MAX
            )
            negated, match_list = _permit_matches(p.packets)
            if negated:
                # "-p 0" means every protocol, so a set holding protocol 0 is matched as
                # "everything but its complement": RETURN on the complement, then accept.
                sub = names.chain("n", chain, str(n))
                sub_rules = [IptRule(m, "RETURN") for m in match_list]
                sub_rules.extend(self._accept(p, (), comment))
                subchains.append(IptChain(sub, tuple(sub_rules)))
                rules.append(IptRule((), sub, comment))
                continue
            for matches in match_list:
                rules.extend(self._accept(p, matches, comment))
        return tuple(rules) + _drop_tail(chain), subchains

    def _accept(self, p: Permit, matches: tuple[str, ...], comment: str) -> list[IptRule]:
        full = matches + ("-m conntrack --ctstate NEW",)
        out = []
        if p.rule.log:
            prefix = log_prefix(f"zw-allow {p.rule.index}", 28) + " "
            out.append(IptRule(full + LOG_LIMIT, f'LOG --log-prefix "{prefix}"', comment))
        out.append(IptRule(full, "ACCEPT", comment))
        return out

    def _uplink(self, view: GatewayView, names: _ChainNames) -> list[IptChain]:
        rules: list[IptRule] = []
        for prefix in view.served_prefixes:
            rules.append(
                IptRule((f"-s {prefix}",), "zw-spoofed", "source is a class served here: spoofed")
            )
        for prefix in view.transit:
            rules.append(
                IptRule(
                    (f"-s {prefix}",), "ACCEPT", "class served by another gateway: filtered there"
                )
            )
        chains: list[IptChain] = []
        for atom, permits in view.inbound:
            chain = names.chain("i", names.label(atom))
            for prefix in atom.prefixes:
                rules.append(
                    IptRule(
                        (f"-s {prefix}",),
                        chain,
                        iptables_comment(f"from {uplink_source(atom)}", COMMENT_MAX),
                    )
                )
            chains.extend(self._dispatch(chain, names.label(atom), permits, view, names))
        spoofed = IptChain("zw-spoofed", _drop_tail("zw-spoofed"))
        return [IptChain("zw-uplink", tuple(rules) + _drop_tail("zw-uplink")), spoofed, *chains]

    def _input(self, view: GatewayView, names: _ChainNames) -> list[IptChain]:
        """Traffic to the box itself: `zw-input` (INPUT's first rule jumps to it) sends what
        enters on zonewall's interfaces to `zw-self`, which accepts replies and exactly the
        policy's flows to this gateway (`gateway:NAME`), each from its source's interface
        (the class's own, or the uplink for classes served elsewhere and externals), and
        log-drops the rest.  Other interfaces (lo, a management port) fall off `zw-input`
        and return to the box's own INPUT rules."""
        entry = [IptRule((f"-i {name}",), SELF) for name in _ingress(view)]
        rules = [
            IptRule(("-m conntrack --ctstate ESTABLISHED,RELATED",), "ACCEPT"),
            IptRule(("-m conntrack --ctstate INVALID",), "DROP"),
        ]
        for cls in _dhcp_clients(view):
            for prefix in ("0.0.0.0/32", *map(str, cls.prefixes)):
                rules.append(
                    IptRule(
                        (
                            f"-i {cls.interface}",
                            f"-s {prefix}",
                            "-p udp",
                            "-m udp --dport 67",
                            "-m conntrack --ctstate NEW",
                        ),
                        "ACCEPT",
                        iptables_comment(
                            f"DHCP from {cls.name} to a relay on the box: {cls.name} "
                            "may reach a DHCP server",
                            COMMENT_MAX,
                        ),
                    )
                )
        chains: list[IptChain] = []
        for src, permits in view.to_self:
            local = view.local(src)
            ingress = local.interface if local is not None else view.plan.uplink
            if ingress is None:  # no uplink: nothing from beyond this gateway reaches it
                continue
            chain = names.chain("s", names.label(src))
            for prefix in src.prefixes:
                rules.append(
                    IptRule(
                        (f"-i {ingress}", f"-s {prefix}"),
                        chain,
                        iptables_comment(f"to the gateway itself from {src.name}", COMMENT_MAX),
                    )
                )
            flow_rules, subchains = self._flow_rules(chain, list(permits), names)
            chains.append(IptChain(chain, flow_rules))
            chains.extend(subchains)
        return [
            IptChain(INPUT_ENTRY, tuple(entry)),
            IptChain(SELF, tuple(rules) + _drop_tail(SELF)),
            *chains,
        ]

    def render(self, model: IptModel) -> dict[PurePosixPath, str]:
        template = make_env().get_template("iptables/rules.j2")
        return {
            model.path: template.render(
                header=model.header, entry=ENTRY, forward=model.forward, chains=model.chains
            ),
            model.path6: template.render(
                header=model.header6, entry=ENTRY, forward=model.forward6, chains=model.chains6
            ),
        }

    def rule_count(self, model: IptModel) -> int:
        return len(model.forward) + sum(len(c.rules) for c in model.chains)

    def output_kind(self, path: PurePosixPath) -> str:
        return "ipv6-companion" if path.suffix == self.suffix6 else "config"

    def output_rule_count(self, model: IptModel, path: PurePosixPath) -> int:
        if path == model.path6:
            return len(model.forward6) + sum(len(c.rules) for c in model.chains6)
        return self.rule_count(model)


def _scope(view: GatewayView, target: str) -> tuple[IptRule, ...]:
    """The entry chain: packets entering on a served class's interface or the uplink, or
    leaving on a served class's interface, go to `target`; the rest falls off the end and
    returns to FORWARD (the box's own rules)."""
    served = sorted({cls.interface for cls in view.served})
    rules = [IptRule((f"-i {name}",), target) for name in _ingress(view)]
    rules.extend(IptRule((f"-o {name}",), target) for name in served)
    return tuple(rules)


def _dhcp_clients(view: GatewayView) -> list[ResolvedClass]:
    """Served classes that may reach a DHCP server in some class (udp/67): their clients'
    broadcasts (from 0.0.0.0, to 255.255.255.255) must reach a DHCP relay on the box, as
    `ip helper-address` takes them in on IOS; the relayed exchange is the box's own (OUTPUT,
    and its replies ESTABLISHED)."""
    return [
        cls
        for cls, permits in view.outbound
        if any(p.dst.kind == "class" and DHCP_KEY in p.packets for p in permits)
    ]


def _ingress(view: GatewayView) -> list[str]:
    """The interfaces zonewall filters what enters on: served classes' and the uplink."""
    served = sorted({cls.interface for cls in view.served})
    uplink = view.plan.uplink
    return served + ([uplink] if uplink is not None and uplink not in served else [])


class _ChainNames:
    """Unique, valid chain names; atoms are labelled by the externals they belong to."""

    def __init__(self, view: GatewayView) -> None:
        self.used: dict[str, tuple[str, ...]] = {}

    def label(self, ep: Endpoint) -> str:
        return "+".join(ep.externals) if ep.kind == "external" else ep.name

    def chain(self, *parts: str) -> str:
        """`zw-<kind>-<names>`: the kind (one letter) keeps it apart from the fixed names."""
        room = CHAIN_MAX - len(PREFIX)
        name = PREFIX + short_name(parts, room)
        owner = self.used.setdefault(name, parts)
        if owner != parts:  # two long names shortened alike: fall back to the full hash
            name = PREFIX + short_name((*parts, "x"), room)
            self.used[name] = parts
        return name
