"""Cisco IOS vty lines: standard ACLs, `line vty` blocks, and who may open a session.

A management session (ssh, telnet) to the switch lands on a vty line whichever interface
it enters, so who may open one is decided by the lines' `access-class NAME in` (a standard
ACL: first match on the source address, implicit deny) and `transport input` (which
protocols a line takes).  Parsed fail-closed, as the rest of `ios`:

* `ip access-list standard NAME`, entries `[SEQ] permit|deny any|host A|A WILDCARD [log]`
  and `remark`; a numbered one (1-99, 1300-1999) reads the same, the one-line `access-list N`
  form is not modelled.
* `line vty N [M]` blocks: `access-class NAME in [vrf-also]`, `transport input ssh|telnet|all|none`
  (several words allowed), and lines that cannot change who connects (`exec-timeout`,
  `login ...`, `logging synchronous`, `session-timeout`, `transport output ...`,
  `privilege level N`, `length N`).  Anything else is a `ConfigParseError`.

Semantics, per vty line 0-15 (the lines zonewall binds; a block's commands apply to every
line in its range, later blocks win): a line without `access-class`, or whose ACL is
undefined or empty, takes any source; without `transport input`, any protocol (releases
differ in the default, so the widest is assumed).  A source may open a session of a protocol
when some line takes both.  `vty_findings` compares that with the policy: exactly the sources
whose flow to the gateway holds tcp/22 may use ssh, tcp/23 telnet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from zonewall.ir import CompiledPolicy
from zonewall.packets import TCP, PacketSet

from .addresses import address_groups
from .model import GatewayModel
from .rules import AddrMatch, Chain, Fail, Rule, RuleRef

__all__ = ["VTY_LINES", "StdAcl", "VtyConfig", "VtyFinding", "VtyLine", "vty_findings"]

# Reads `any`, `host A` or `A WILDCARD` off the front of a word list: the match and the rest.
AddressReader = Callable[[list[str]], tuple[AddrMatch | None, list[str]]]

VTY_LINES = range(16)  # line vty 0 15
PROTOCOLS = {"ssh": PacketSet.ports(TCP, 22, 22), "telnet": PacketSet.ports(TCP, 23, 23)}
ANY_VTY = PROTOCOLS["ssh"] | PROTOCOLS["telnet"]
_IGNORED = (
    "exec-timeout",
    "login",
    "logging synchronous",
    "session-timeout",
    "transport output",
    "privilege level",
    "length",
)


@dataclass(frozen=True, slots=True)
class VtyLine:
    """What one vty line takes: the access-class (None: any source) and the protocols."""

    number: int
    acl: str | None
    acl_ref: RuleRef
    transport: PacketSet
    transport_ref: RuleRef


@dataclass(frozen=True, slots=True)
class VtyFinding:
    kind: str  # permits-too-much | blocks-needed
    src: str
    src_owner: str
    packets: PacketSet
    rules: tuple[RuleRef, ...]
    example: str


@dataclass
class StdAcl:
    name: str
    line: int
    entries: dict[int, Rule] = field(default_factory=dict)


@dataclass
class _Settings:
    acl: tuple[str, RuleRef] | None = None
    transport: tuple[PacketSet, RuleRef] | None = None


class VtyConfig:
    """Standard ACLs and vty lines, while a config is read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.std: dict[str, StdAcl] = {}
        self.lines: dict[int, _Settings] = {n: _Settings() for n in VTY_LINES}

    def open_std(self, words: list[str], n: int, fail: Fail) -> StdAcl:
        # IOS-XE prints a numbered standard ACL (1-99, 1300-1999) in this form too
        numbered = (
            len(words) == 4
            and words[3].isdigit()
            and (1 <= int(words[3]) <= 99 or 1300 <= int(words[3]) <= 1999)
        )
        if len(words) != 4 or not (words[3][0].isalpha() or numbered):
            raise fail(
                "expected 'ip access-list standard NAME' (numbered ACLs are not "
                "modelled but for 1-99 and 1300-1999)"
            )
        return self.std.setdefault(words[3], StdAcl(words[3], n))

    def std_line(
        self, acl: StdAcl, words: list[str], ref: RuleRef, fail: Fail, address: AddressReader
    ) -> None:
        seq = None
        if words[0].isdigit():
            seq, words = int(words[0]), words[1:]
        if not words:
            raise fail("empty entry")
        if words[0] == "remark":
            return
        if words[0] not in ("permit", "deny"):
            raise fail(f"'{words[0]}' is not modelled in a standard ACL")
        src, rest = address(words[1:])
        if rest not in ([], ["log"]):
            raise fail(f"'{' '.join(rest)}' is not modelled in a standard ACL entry")
        seq = seq if seq is not None else max(acl.entries, default=0) + 10
        if seq in acl.entries:
            raise fail(f"duplicate sequence number {seq}")
        acl.entries[seq] = Rule(ref, "ACCEPT" if words[0] == "permit" else "DROP", src=src)

    def open_lines(self, words: list[str], fail: Fail) -> range:
        nums = words[2:]
        if (
            words[:2] != ["line", "vty"]
            or not 1 <= len(nums) <= 2
            or not all(w.isdigit() for w in nums)
        ):
            raise fail("expected 'line vty N [M]'")
        first, last = int(nums[0]), int(nums[-1])
        if first > last:
            raise fail("empty vty range")
        return range(first, last + 1)

    def line_command(
        self, lines: range, words: list[str], stripped: str, ref: RuleRef, fail: Fail
    ) -> None:
        if words[0] == "access-class":
            # `vrf-also` widens the class to sessions from VRF interfaces: the same filter
            if words[2:] not in (["in"], ["in", "vrf-also"]):
                raise fail("only 'access-class NAME in [vrf-also]' is modelled")
            for n in lines:
                self._at(n).acl = (words[1], ref)
        elif words[:2] == ["transport", "input"] and len(words) > 2:
            keys = PacketSet()
            for w in words[2:]:
                if w in PROTOCOLS:
                    keys = keys | PROTOCOLS[w]
                elif w == "all":
                    keys = keys | ANY_VTY
                elif w != "none" or len(words) != 3:
                    raise fail(f"transport '{w}' is not modelled")
            for n in lines:
                self._at(n).transport = (keys, ref)
        elif not any(stripped == p or stripped.startswith(p + " ") for p in _IGNORED):
            raise fail("vty line command is not modelled")

    def _at(self, n: int) -> _Settings:
        return self.lines.setdefault(n, _Settings())

    def chains(self) -> dict[str, Chain]:
        """Each standard ACL as a chain ("std NAME"), entries in sequence order."""
        return {
            f"std {a.name}": Chain(
                f"std {a.name}",
                tuple(a.entries[s] for s in sorted(a.entries)),
                "DROP",
                RuleRef(self.file, a.line, f"implicit deny at the end of ACL {a.name}"),
            )
            for a in self.std.values()
        }

    def result(self) -> tuple[VtyLine, ...]:
        out = []
        for n in sorted(self.lines):
            s = self.lines[n]
            acl, acl_ref = (
                s.acl
                if s.acl is not None
                else (None, RuleRef(self.file, None, "a vty line without access-class: any source"))
            )
            if acl is not None and not (acl in self.std and self.std[acl].entries):
                why = "undefined" if acl not in self.std else "empty"
                acl_ref = RuleRef(
                    acl_ref.file, acl_ref.line, f"{acl_ref.text.strip()}  (ACL {why}: any source)"
                )
                acl = None
            keys, t_ref = (
                s.transport
                if s.transport is not None
                else (
                    ANY_VTY,
                    RuleRef(self.file, None, "a vty line without transport input: ssh and telnet"),
                )
            )
            out.append(VtyLine(n, acl, acl_ref, keys, t_ref))
        return tuple(out)


def _decide(chain: Chain, addr: int) -> tuple[bool, RuleRef]:
    for rule in chain.rules:
        if rule.src is None or rule.src.matches(addr):
            return rule.action == "ACCEPT", rule.ref
    assert chain.policy_ref is not None
    return False, chain.policy_ref


def _takes(
    lines: tuple[VtyLine, ...], chains: dict[str, Chain], addr: int
) -> tuple[PacketSet, dict[tuple[bool, int], list[RuleRef]]]:
    """The vty services a source may open, and the deciding lines' refs per (taken, key)."""
    got = PacketSet()
    why: dict[tuple[bool, int], list[RuleRef]] = {}
    for line in lines:
        ok, ref = (
            (True, line.acl_ref) if line.acl is None else _decide(chains[f"std {line.acl}"], addr)
        )
        keys = line.transport if ok else PacketSet()
        got = got | keys
        for k in (ANY_VTY.first_key(), ANY_VTY.first_key() + 1):
            taken = k in keys
            refs = why.setdefault((taken, k), [])
            # taken: the ACL entry and the transport; else whichever of them refused it
            deciding = (
                (ref, line.transport_ref) if taken else ((line.transport_ref,) if ok else (ref,))
            )
            refs.extend(r for r in deciding if r not in refs)
    return got, why


def vty_findings(
    compiled: CompiledPolicy,
    gateway: str,
    chains: dict[str, Chain],
    lines: tuple[VtyLine, ...],
    model: GatewayModel | None = None,
) -> list[VtyFinding]:
    """Sources whose vty sessions differ from the policy's ssh (tcp/22) and telnet (tcp/23)
    flows to the gateway, one finding per kind and source group.  Only the standard ACLs
    the lines bind decide (`_takes`), so only their entries cut the source groups;
    `model`: the gateway's, when the caller has it."""
    model = model if model is not None else GatewayModel(compiled, gateway)
    bound = {f"std {line.acl}" for line in lines if line.acl is not None}
    intervals = {
        iv
        for name in sorted(bound & set(chains))
        for r in chains[name].rules
        if r.src is not None
        for iv in r.src.intervals
    }
    want_of = {f.src: f.packets & ANY_VTY for f in compiled.gateway_flows if f.gateway == gateway}
    out: list[VtyFinding] = []
    for g in address_groups(model, intervals):
        want = want_of.get(g.endpoint.id, PacketSet()) if g.endpoint is not None else PacketSet()
        got, why = _takes(lines, chains, g.rep)
        owner = model.label(g.endpoint)
        for kind, packets in (("permits-too-much", got - want), ("blocks-needed", want - got)):
            if not packets:
                continue
            key = packets.first_key()
            name = "ssh" if key % 65536 == 22 else "telnet"
            example = (
                f"{name} session (tcp/{key % 65536}) from {g.describe()} to any "
                "address of the switch"
            )
            refs = tuple(why.get((kind == "permits-too-much", key), ()))
            out.append(VtyFinding(kind, g.describe(), owner, packets, refs, example))
    return out
