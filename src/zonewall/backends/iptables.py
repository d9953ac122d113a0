"""iptables backend: one `iptables-restore` file per gateway (IPv4, table `filter`).

Target: iptables 1.8 (nf_tables or legacy backend), loaded atomically with
`iptables-restore FILE`.  Semantics: each chain is first-match; a built-in chain's policy
applies when no rule decides; user chains return to their caller when they fall off the end,
so every chain zonewall writes ends with an explicit log + DROP.  Limits honoured here: chain
names <= 28 characters, `--log-prefix` <= 29 bytes, `--comment` <= 255 bytes (cut visibly, text
otherwise as written: `backends/text.py`), multiport <= 15 ports (a range counts two),
interface names <= 15 characters.

Layout (after Shorewall): FORWARD accepts ESTABLISHED,RELATED first and drops INVALID, then
dispatches on the ingress interface plus the source subnet to one chain per served class
(`zo-<class>`), which dispatches on egress interface plus destination to one chain per class
pair (`zp-<src>-<dst>`) holding the NEW-state flow rules.  Traffic entering on the uplink goes
to `zw-uplink`: sources in a class served here are spoofed and dropped, sources in classes
served by other gateways were filtered there and pass, external sources dispatch to
`zi-<atom>` and then to pair chains.  INPUT and OUTPUT (traffic to and from the gateway
itself) are left ACCEPT: the policy language does not describe management access.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from zonewall import __version__
from zonewall.backends.base import (
    Backend,
    Feature,
    GatewayView,
    Permit,
    make_env,
    policy_lines,
    protocol_blocks,
    rule_ref,
    short_name,
)
from zonewall.backends.text import comment_line, iptables_comment, log_prefix
from zonewall.ir import CompiledPolicy, Endpoint
from zonewall.packets import ICMP, PROTO_NAMES, TCP, UDP, PacketSet, key

__all__ = ["IptablesBackend", "IptChain", "IptModel", "IptRule"]

CHAIN_MAX = 28
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
    path: PurePosixPath
    header: tuple[str, ...]
    forward: tuple[IptRule, ...]
    chains: tuple[IptChain, ...]


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
    supports = frozenset({Feature.STATEFUL, Feature.PORT_RANGES, Feature.ICMP_TYPES,
                          Feature.ANY_PROTOCOL, Feature.LOGGING})
    suffix = ".rules"

    def lower(self, policy: CompiledPolicy, view: GatewayView) -> IptModel:
        names = _ChainNames(view)
        forward = [
            IptRule(("-m conntrack --ctstate ESTABLISHED,RELATED",), "ACCEPT"),
            IptRule(("-m conntrack --ctstate INVALID",), "DROP"),
        ]
        chains: list[IptChain] = []
        for cls, permits in view.outbound:
            out_chain = names.chain("zo", cls.name)
            for prefix in cls.prefixes:
                forward.append(IptRule((f"-i {cls.interface}", f"-s {prefix}"), out_chain,
                                       iptables_comment(f"from class {cls.name}", COMMENT_MAX)))
            chains.extend(self._dispatch(out_chain, cls.name, permits, view, names))
        if view.plan.uplink is not None:
            forward.append(IptRule((f"-i {view.plan.uplink}",), "zw-uplink"))
            chains.extend(self._uplink(view, names))
        forward.extend(_drop_tail("zw-forward"))
        return IptModel(
            path=PurePosixPath(f"{view.plan.name}{self.suffix}"),
            header=self._header(policy, view),
            forward=tuple(forward),
            chains=tuple(chains),
        )

    def _header(self, policy: CompiledPolicy, view: GatewayView) -> tuple[str, ...]:
        return (
            f"zonewall {__version__}  backend: iptables (iptables-restore, IPv4 filter table)"
            "  -- DO NOT EDIT",
            *policy_lines(policy),
            f"gateway: {view.plan.name}  uplink: {comment_line(view.plan.uplink or '-', 64)}",
            "load with: iptables-restore < FILE   (check first: iptables -V, nf_tables or legacy)",
            "needs: net.ipv4.ip_forward=1; INPUT/OUTPUT are left ACCEPT (not described by the "
            "policy)",
        )

    def _dispatch(self, chain: str, src_label: str, permits: Iterable[Permit],
                  view: GatewayView, names: _ChainNames) -> list[IptChain]:
        """One chain dispatching by egress and destination to pair chains, plus those."""
        by_dst: dict[int, list[Permit]] = {}
        for p in permits:
            by_dst.setdefault(p.dst.id, []).append(p)
        dispatch: list[IptRule] = []
        pairs: list[IptChain] = []
        for dst_id in sorted(by_dst):
            dst = view.endpoints[dst_id]
            local = view.local(dst)
            egress = local.interface if local is not None else view.plan.uplink
            assert egress is not None, "a destination beyond the uplink needs an uplink"
            pair = names.chain("zp", src_label, names.label(dst))
            for prefix in dst.prefixes:
                dispatch.append(IptRule((f"-o {egress}", f"-d {prefix}"), pair))
            rules, subchains = self._flow_rules(pair, by_dst[dst_id], names)
            pairs.append(IptChain(pair, rules))
            pairs.extend(subchains)
        return [IptChain(chain, tuple(dispatch) + _drop_tail(chain)), *pairs]

    def _flow_rules(self, chain: str, permits: list[Permit],
                    names: _ChainNames) -> tuple[tuple[IptRule, ...], list[IptChain]]:
        """The pair chain's rules, plus sub-chains for permits matched by negation."""
        rules: list[IptRule] = []
        subchains: list[IptChain] = []
        for n, p in enumerate(permits):
            why = f" {p.rule.why}" if p.rule.why else ""
            comment = iptables_comment(
                f"{rule_ref(p.rule)} allow {p.src.name}->{p.dst.name}{why}", COMMENT_MAX)
            negated, match_list = _permit_matches(p.packets)
            if negated:
                # "-p 0" means every protocol, so a set holding protocol 0 is matched as
                # "everything but its complement": RETURN on the complement, then accept.
                sub = names.chain("zn", chain, str(n))
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
            rules.append(IptRule((f"-s {prefix}",), "zw-spoofed",
                                 "source is a class served here: spoofed"))
        for prefix in view.transit:
            rules.append(IptRule((f"-s {prefix}",), "ACCEPT",
                                 "class served by another gateway: filtered there"))
        chains: list[IptChain] = []
        for atom, permits in view.inbound:
            chain = names.chain("zi", names.label(atom))
            for prefix in atom.prefixes:
                rules.append(IptRule((f"-s {prefix}",), chain,
                                     iptables_comment(f"from external {atom.name}", COMMENT_MAX)))
            chains.extend(self._dispatch(chain, names.label(atom), permits, view, names))
        spoofed = IptChain("zw-spoofed", _drop_tail("zw-spoofed"))
        return [IptChain("zw-uplink", tuple(rules) + _drop_tail("zw-uplink")), spoofed, *chains]

    def render(self, model: IptModel) -> dict[PurePosixPath, str]:
        text = make_env().get_template("iptables/rules.j2").render(model=model)
        return {model.path: text}

    def rule_count(self, model: IptModel) -> int:
        return len(model.forward) + sum(len(c.rules) for c in model.chains)


class _ChainNames:
    """Unique, valid chain names; atoms are labelled by the externals they belong to."""

    def __init__(self, view: GatewayView) -> None:
        self.used: dict[str, tuple[str, ...]] = {}

    def label(self, ep: Endpoint) -> str:
        return ep.name if ep.kind == "class" else "+".join(ep.externals)

    def chain(self, *parts: str) -> str:
        name = short_name(parts, CHAIN_MAX)
        owner = self.used.setdefault(name, parts)
        if owner != parts:  # two long names shortened alike: fall back to the full hash
            name = short_name((*parts, "x"), CHAIN_MAX)
            self.used[name] = parts
        return name
