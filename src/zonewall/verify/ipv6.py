"""The IPv6 companion of an iptables gateway (`ip6tables-restore --noflush` text), read back:
it must forward no IPv6 packet at all that enters on a served class's interface or the uplink,
or leaves on a served class's interface (the policy is IPv4, so IPv6 is closed there).

The text is parsed by the iptables parser (`iptables.parse_iptables`, fail closed; an IPv6
address is not modelled there and fails too) and must then use nothing but what closing needs,
else it is a `ConfigParseError`: rules match only on exact, non-negated `-i` / `-o` names (plus
`-m limit` on LOG and `-m comment`), with targets ACCEPT, DROP, REJECT, LOG, RETURN or a user
chain.  Every packet of an interface pair then meets the same rules, so the only dimensions
are the ingress and the egress interface.  The ingress is enumerated (every name a rule tests,
one no rule tests); the egress is carried through the chains as a set of names (finite, or
"every name but these"), so a ruleset with a thousand interfaces is still one walk per ingress.

FORWARD is modelled as for zonewall's IPv4 file: its jump to `zw-forward` first, then the
box's own rules, assumed to accept anything; a full `ip6tables-save` is evaluated as written.

`nft_ipv6_leaks` proves the same of an nftables gateway, whose `inet` table must drop IPv6 in
its forward chain: the ruleset as IPv6 packets see it (`nftables.parse_nftables_ipv6`: rules
matching IPv4 fields never match) is evaluated with the `engine` for every ingress and egress
interface class and every conntrack state that can start a connection (NEW, INVALID,
UNTRACKED); ESTABLISHED and RELATED packets can only belong to a connection whose first packet
was accepted, so they are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from zonewall.ir import CompiledPolicy

from .differences import Difference
from .engine import Cell, Context, Evaluator
from .iptables import parse_iptables
from .model import GatewayModel
from .rules import EVERYTHING, Chain, ConfigParseError, NameMatch, Rule, RuleRef, Ruleset

__all__ = [
    "IPV6_COMPANION",
    "Leak",
    "Names",
    "ipv6_differences",
    "ipv6_leaks",
    "nft_ipv6_differences",
    "nft_ipv6_leaks",
]

IPV6_COMPANION = "ip6tables"  # the IPv6 companion of an iptables gateway: forwards no IPv6
STARTING_STATES = ("NEW", "INVALID", "UNTRACKED")

OTHER = "(other)"  # an interface no rule names
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Names:
    """A set of interface names: `names`, or (`cofinite`) every name but `names`."""

    names: frozenset[str]
    cofinite: bool = False

    def __bool__(self) -> bool:
        return self.cofinite or bool(self.names)

    def complement(self) -> Names:
        return Names(self.names, not self.cofinite)

    def __and__(self, other: Names) -> Names:
        if not self.cofinite and not other.cofinite:
            return Names(self.names & other.names)
        if self.cofinite and other.cofinite:
            return Names(self.names | other.names, True)
        finite, co = (self, other) if other.cofinite else (other, self)
        return Names(finite.names - co.names)

    def __or__(self, other: Names) -> Names:
        return (self.complement() & other.complement()).complement()

    def __sub__(self, other: Names) -> Names:
        return self & other.complement()

    def example(self, avoid: frozenset[str]) -> str:
        if not self.cofinite:
            return min(self.names)
        return OTHER if OTHER not in self.names | avoid else f"{OTHER}-{len(self.names)}"


ALL = Names(frozenset(), True)
NONE = Names(frozenset())


@dataclass(frozen=True, slots=True)
class Leak:
    """IPv6 packets forwarded: entering on `ingress`, leaving on `egress` (one of them:
    `where`), accepted by `rules`."""

    ingress: str
    egress: Names
    where: str
    rules: tuple[RuleRef, ...]


def ipv6_leaks(model: GatewayModel, text: str, file: str) -> list[Leak]:
    """Every way the IPv6 companion forwards IPv6 on zonewall's interfaces (entering on a
    served class's interface or the uplink, or leaving on a served class's interface).

    Raises:
        ConfigParseError: the text holds anything closing IPv6 does not need.
    """
    ruleset = parse_iptables(text, file)
    _check_restricted(ruleset)
    zonewall = frozenset(model.interfaces)
    served = zonewall - {model.uplink}
    out = []
    for ingress, accepted, refs in _accepted(ruleset, zonewall):
        egress = accepted if ingress in zonewall else accepted & Names(served)
        if egress:
            out.append(Leak(ingress, egress, egress.example(zonewall), refs))
    return out


def _check_restricted(ruleset: Ruleset) -> None:
    for chain in ruleset.chains.values():
        for rule in chain.rules:
            if rule.ref.line is None:
                continue  # the modelled FORWARD jump
            problem = _unsupported(rule)
            if problem is not None:
                raise ConfigParseError(
                    rule.ref.file,
                    rule.ref.line,
                    rule.ref.text,
                    f"not modelled in the IPv6 companion: {problem}",
                )


def _unsupported(rule: Rule) -> str | None:
    if rule.src is not None or rule.dst is not None:
        return "an address match"
    if rule.keys != EVERYTHING or rule.sports is not None or rule.ack:
        return "a protocol or port match"
    if rule.states is not None:
        return "a conntrack state match"
    for m in (rule.iif, rule.oif):
        if m is not None and (m.negate or m.prefixes or len(m.names) != 1):
            return "an interface match other than one exact name"
    return None


def _accepted(
    ruleset: Ruleset, zonewall: frozenset[str]
) -> list[tuple[str, Names, tuple[RuleRef, ...]]]:
    """What FORWARD accepts, per ingress: every name a rule tests with -i, plus one none
    tests (it stands for all the others), plus the policy's interfaces."""
    tested: set[str] = set()
    for chain in ruleset.chains.values():
        for rule in chain.rules:
            if rule.iif is not None:
                tested.update(rule.iif.names)
    ingresses = sorted(tested | zonewall | {OTHER})
    out = []
    for ingress in ingresses:
        refs: list[RuleRef] = []
        accepted = NONE
        for name in ruleset.entries(ingress):
            got, _ = _walk(ruleset, ruleset.chains[name], ingress, ALL, refs, 0)
            accepted = accepted | got
        if accepted:
            out.append((ingress, accepted, tuple(refs)))
    return out


def _walk(
    ruleset: Ruleset, chain: Chain, ingress: str, rest: Names, refs: list[RuleRef], depth: int
) -> tuple[Names, Names]:
    """(egress names accepted, egress names that fall off the end or return)."""
    if depth > MAX_DEPTH:
        raise ConfigParseError(ruleset.file, None, chain.name, "chains nest too deep (a loop?)")
    accepted, returned = NONE, NONE
    for rule in chain.rules:
        if not rest:
            break
        if rule.iif is not None and not rule.iif.matches(ingress):
            continue
        hit = rest & _names(rule.oif)
        if not hit:
            continue
        if rule.action == "ACCEPT":
            accepted, rest = accepted | hit, rest - hit
            refs.append(rule.ref)
        elif rule.action == "DROP":
            rest = rest - hit
        elif rule.action == "RETURN":
            returned, rest = returned | hit, rest - hit
        elif rule.action in ("JUMP", "GOTO"):
            assert rule.target is not None
            got, back = _walk(ruleset, ruleset.chains[rule.target], ingress, hit, refs, depth + 1)
            accepted = accepted | got
            if rule.action == "JUMP":
                rest = (rest - hit) | back
            else:
                returned, rest = returned | back, rest - hit
    rest = rest | returned
    if chain.policy == "ACCEPT" and rest:
        if chain.policy_ref is not None:
            refs.append(chain.policy_ref)
        return accepted | rest, NONE
    if chain.policy == "DROP":
        return accepted, NONE
    return accepted, rest


def _names(m: NameMatch | None) -> Names:
    return ALL if m is None else Names(m.names)


def nft_ipv6_leaks(model: GatewayModel, ruleset: Ruleset) -> list[Leak]:
    """Every way an nft ruleset (as IPv6 sees it) forwards a connection-starting IPv6 packet
    on zonewall's interfaces (see the module docstring)."""
    ev = Evaluator(ruleset)
    zonewall = frozenset(model.interfaces)
    served = zonewall - {model.uplink}
    exact: set[str] = set()
    prefixes: set[str] = set()
    for chain in ruleset.chains.values():
        for rule in chain.rules:
            for m in (rule.iif, rule.oif):
                if m is not None:
                    exact.update(m.names)
                    prefixes.update(m.prefixes)
    names = sorted(exact | zonewall | {OTHER} | {p + OTHER for p in prefixes})
    cuts = sorted(ruleset.sport_cuts())
    out = []
    for ingress in names:
        egresses = names if ingress in zonewall else sorted(served)
        refs: list[RuleRef] = []
        leaked: set[str] = set()
        for ctx in (Context(state, sport, False) for state in STARTING_STATES for sport in cuts):
            first = Cell(ingress, egresses[0], 0, 0, 0, 0) if egresses else None
            one = first is not None and ev.row_constant(first, ctx)
            for egress in egresses[:1] if one else egresses:
                cell = Cell(ingress, egress, 0, 0, 0, 0)
                if ev.accepted(cell, ctx):
                    hit = egresses if one else [egress]
                    leaked.update(hit)
                    refs.extend(
                        p.ref
                        for p in ev.explain(cell, ctx)
                        if p.verdict == "ACCEPT" and p.ref not in refs
                    )
        if leaked:
            egress_set = Names(frozenset(leaked))
            out.append(Leak(ingress, egress_set, egress_set.example(zonewall), tuple(refs)))
    return out


def ipv6_differences(
    compiled: CompiledPolicy, gateway: str, text: str, file: str
) -> list[Difference]:
    """The IPv6 companion file of an iptables gateway: each leak as a permits-too-much."""
    model = GatewayModel(compiled, gateway)
    return _leak_differences(model, IPV6_COMPANION, ipv6_leaks(model, text, file))


def nft_ipv6_differences(
    compiled: CompiledPolicy, gateway: str, ruleset: Ruleset
) -> list[Difference]:
    """The IPv6 half of an nft inet table (parsed by `parse_nftables_ipv6`): each leak."""
    model = GatewayModel(compiled, gateway)
    return _leak_differences(model, "nftables", nft_ipv6_leaks(model, ruleset))


def _leak_differences(model: GatewayModel, platform: str, leaks: list[Leak]) -> list[Difference]:
    return [
        Difference(
            gateway=model.name,
            platform=platform,
            kind="permits-too-much",
            ingress=leak.ingress,
            src="any IPv6 address",
            src_owner="IPv6 (closed)",
            dst=f"leaving on {leak.where}",
            dst_owner="IPv6 (closed)",
            packets=EVERYTHING,
            condition="",
            rules=leak.rules,
            example=f"an IPv6 packet entering {leak.ingress} and leaving on {leak.where}",
        )
        for leak in leaks
    ]
