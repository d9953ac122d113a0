"""Parser for Cisco IOS / IOS-XE text: named extended IPv4 ACLs and their inbound bindings.

Accepted input is what zonewall writes (the ACL file, the switch file, or both concatenated)
and the same commands as `show running-config` prints them.  Modelled exactly:

* `ip access-list extended NAME`, then indented entries `[SEQ] remark ...` and
  `[SEQ] permit|deny PROTO SRC [PORTS] DST [PORTS] [established] [ICMP-TYPE] [log|log-input]`
  with PROTO `ip`, `tcp`, `udp`, `icmp`, a name (gre, esp, ...) or 1-255; SRC/DST `any`,
  `host A` or `A WILDCARD` (contiguous wildcards only; bits under the wildcard are ignored,
  as IOS does); PORTS `eq P [P...]`, `neq P`, `gt P`, `lt P`, `range P Q` with numbers or the
  IOS names of TCP/UDP ports; ICMP types by number or by the IOS names of whole types.
  Entries without a number get the last number + 10; entries run in number order.
* `object-group network NAME` with members `host A`, `A.B.C.D M.M.M.M` (a subnet mask: a
  wildcard or non-contiguous mask, or host bits under the mask, is an error), `A.B.C.D /nn`,
  `range A B`, `group-object NAME` and `description ...`; `object-group service NAME` with
  members `tcp|udp|tcp-udp [source OP P] [OP P]` (OP as for ACL entries), `icmp [TYPE]`, `ip`,
  a protocol name or number 1-255, `group-object NAME` and `description ...`.  A group is
  defined once, before anything references it; `group-object` names a group of the same kind.
  ACL entries may then read `permit|deny object-group SVC SRC DST [log]` and use
  `object-group NAME` for SRC or DST in any entry.  An entry with a service group becomes one
  rule per distinct source-port list of its (flattened) service members, the members' keys
  united, all on the entry's line: they are consecutive and share the action and addresses,
  so first match over them is the entry's match.  Undefined, empty or
  self-including groups, and `established` or port operators with a service group, are errors.
* `ipv6 access-list NAME` blocks and `ipv6 traffic-filter NAME in` (module `ios6`): IPv6 is
  not in the policy, so it is checked to be closed (neighbour discovery only) on every
  interface the gateway filters; the result is an `IosRuleset`, whose `ipv6` holds each
  bound interface's IPv6 rules.
* `interface NAME` blocks: `ip access-group NAME in` is what filters.  The other lines
  recognised there cannot change what is permitted and are ignored: `description`,
  `ip helper-address A` (DHCP relay of broadcasts the ACL has
  already admitted), `no shutdown`.  `vlan N` blocks may hold `name X` only.  `!` lines, blank
  lines and `end` are ignored.
* `ip access-list standard NAME` and `line vty N [M]` blocks (module `ios_vty`): who may
  open a management session; `ip address A M [secondary]` in an interface block is read as
  one of the switch's own addresses (traffic to them is compared as the gateway plane).

Extended ACLs numbered 100-199 and 2000-2699 (standard: 1-99, 1300-1999) read as named
ones (`ip access-list extended 101`, as IOS-XE prints them).  Everything else (outbound
ACLs, other object-group kinds, other numbers, the one-line `access-list N` form,
`shutdown`, any other command) is a `ConfigParseError`.  A whole `show running-config` goes
through `ios_running` first (for `zonewall audit`), which keeps what this parser models and
matters.  The entry grammar and object groups are parsed in `ios_ace`.  Semantics: an
inbound ACL is first
match with an implicit deny; an interface with no ACL bound, or bound to an ACL that is
undefined or has no entries, permits everything, as on IOS.  ACLs are stateless: the
comparison checks the reply packets (`established`, UDP from the service port, echo-reply)
explicitly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .ios6 import Acl6, PortReader, V6Acls, V6Finding, V6Rule, acl6_line, v6_findings
from .ios_ace import (
    IOS_PORTS,
    AceParser,
    ObjectGroup,
    group_line,
    ip_address,
)
from .ios_vty import StdAcl, VtyConfig, VtyLine
from .rules import (
    EVERYTHING,
    AddrMatch,
    Chain,
    ConfigParseError,
    Fail,
    Rule,
    RuleRef,
    Ruleset,
)

__all__ = ["IOS_PORTS", "IosRuleset", "parse_ios"]

IGNORED_INTERFACE = ("description", "ip helper-address", "no shutdown")
SEQ_MAX = 2147483647


@dataclass(frozen=True, slots=True)
class IosRuleset(Ruleset):
    """An IOS ruleset: the IPv4 chains, plus each interface's inbound IPv6 filter (rules in
    order, implicit ones included); an interface not in `ipv6` passes all IPv6.  Also the
    vty lines (who may open a session, `ios_vty`; standard ACLs are the chains "std NAME")
    and each interface's `ip address` addresses (the switch's own)."""

    ipv6: dict[str, tuple[V6Rule, ...]] = field(default_factory=dict)
    ipv6_open: RuleRef | None = None  # the verdict of an interface with no IPv6 filter
    vty: tuple[VtyLine, ...] = ()
    addresses: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def ipv6_findings(self, interfaces: Iterable[str]) -> list[V6Finding]:
        """Where IPv6 entering these interfaces is not closed but neighbour discovery."""
        assert self.ipv6_open is not None
        open_rules = (V6Rule(self.ipv6_open, "ACCEPT", None, None, EVERYTHING),)
        return [f for i in interfaces for f in v6_findings(i, self.ipv6.get(i, open_rules))]


@dataclass
class _Acl:
    name: str
    line: int
    entries: dict[int, tuple[Rule, ...]] = field(default_factory=dict)


def parse_ios(text: str, file: str = "<ios>") -> IosRuleset:
    """Parse IOS text into a `Ruleset` whose entry for an interface is its inbound ACL."""
    acls: dict[str, _Acl] = {}
    groups: dict[str, ObjectGroup] = {}
    bindings: dict[str, tuple[str, int, str]] = {}
    addresses: dict[str, list[int]] = {}
    v6 = V6Acls()
    vty = VtyConfig(file)
    block: tuple[str, object] | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            if stripped.startswith("!"):
                if block is not None and block[0] == "group":
                    assert isinstance(block[1], ObjectGroup)
                    block[1].done = True
                block = None
            continue

        def fail(msg: str, n: int = n, raw: str = raw) -> ConfigParseError:
            return ConfigParseError(file, n, raw, msg)

        if not line[0].isspace():
            if block is not None and block[0] == "group":
                assert isinstance(block[1], ObjectGroup)
                block[1].done = True
            words = stripped.split()
            if words[:2] == ["ipv6", "access-list"]:
                if len(words) != 3 or not words[2][0].isalpha():
                    raise fail("expected 'ipv6 access-list NAME'")
                block = "acl6", v6.open(words[2], n)
                continue
            if words[:3] == ["ip", "access-list", "standard"]:
                block = "std", vty.open_std(words, n, fail)
                continue
            if words[:2] == ["line", "vty"]:
                block = "vty", vty.open_lines(words, fail)
                continue
            block = _top_level(words, acls, groups, fail, n)
            continue
        if block is None:
            raise fail("indented line outside an ACL, interface or vlan block")
        words = stripped.split()
        kind, obj = block
        if kind == "acl":
            assert isinstance(obj, _Acl)
            _acl_line(obj, words, RuleRef(file, n, raw), fail, groups)
        elif kind == "group":
            assert isinstance(obj, ObjectGroup)
            group_line(obj, words, groups, fail)
        elif kind == "acl6":
            assert isinstance(obj, Acl6)
            acl6_line(obj, words, RuleRef(file, n, raw), fail, _port_reader(fail, groups))
        elif kind == "std":
            assert isinstance(obj, StdAcl)
            vty.std_line(obj, words, RuleRef(file, n, raw), fail, _std_address(fail, groups))
        elif kind == "vty":
            assert isinstance(obj, range)
            vty.line_command(obj, words, stripped, RuleRef(file, n, raw), fail)
        elif kind == "interface":
            assert isinstance(obj, str)
            if words[:2] == ["ipv6", "traffic-filter"]:
                v6.bind(obj, words, n, raw, fail)
            elif words[:2] == ["ip", "address"]:
                addresses.setdefault(obj, []).append(_interface_address(words, fail))
            else:
                _interface_line(obj, words, stripped, bindings, fail, n, raw)
        elif words[0] != "name" or len(words) != 2:
            raise fail("only 'name' is modelled in a vlan block")
    ruleset = _ruleset(acls, bindings, file, v6)
    return dataclasses.replace(
        ruleset,
        chains={**ruleset.chains, **vty.chains()},
        vty=vty.result(),
        addresses={i: tuple(a) for i, a in addresses.items()},
    )


def _std_address(
    fail: Fail, groups: dict[str, ObjectGroup]
) -> Callable[[list[str]], tuple[AddrMatch | None, list[str]]]:
    """The source of a standard ACL entry (`any`, `host A`, `A WILDCARD`) and what follows."""

    def read(words: list[str]) -> tuple[AddrMatch | None, list[str]]:
        if words and words[0] == "object-group":
            raise fail("object groups are not modelled in a standard ACL")
        parser = AceParser(words, None, fail, groups)
        return parser.address(), words[parser.i :]

    return read


def _interface_address(words: list[str], fail: Fail) -> int:
    """`ip address A M [secondary]`: the interface's own address A."""
    addr = ip_address(words[2]) if len(words) in (4, 5) else None
    if addr is None or ip_address(words[3]) is None or words[4:] not in ([], ["secondary"]):
        raise fail("expected 'ip address A.B.C.D M.M.M.M [secondary]'")
    return addr


def _port_reader(fail: Fail, groups: dict[str, ObjectGroup]) -> PortReader:
    """Port operators of IPv6 entries, read as in IPv4 entries."""

    def read(words: list[str], i: int, proto: int) -> tuple[tuple[tuple[int, int], ...], int]:
        parser = AceParser(words, None, fail, groups)
        parser.i = i
        return parser.ports(proto), parser.i

    return read


def _top_level(
    words: list[str], acls: dict[str, _Acl], groups: dict[str, ObjectGroup], fail: Fail, n: int
) -> tuple[str, object] | None:
    if words == ["end"]:
        return None
    if words[0] == "object-group" and len(words) == 3 and words[1] in ("network", "service"):
        if words[2] in groups:
            raise fail(f"object group '{words[2]}' is defined twice")
        group = groups[words[2]] = ObjectGroup(words[1], words[2])
        return "group", group
    if words[:3] == ["ip", "access-list", "extended"] and len(words) == 4:
        name = words[3]
        if not name[0].isalpha() and not _numbered_extended(name):
            raise fail(
                "numbered ACLs are not modelled (but for extended ones, 100-199 and 2000-2699)"
            )
        return "acl", acls.setdefault(name, _Acl(name, n))
    if words[0] == "interface" and len(words) == 2:
        return "interface", words[1]
    if words[0] == "vlan" and len(words) == 2 and words[1].isdigit():
        return "vlan", words[1]
    raise fail("command is not modelled")


def _numbered_extended(name: str) -> bool:
    """IOS-XE prints an extended ACL numbered 100-199 or 2000-2699 as `ip access-list
    extended 101`, with the entries of a named one."""
    return name.isdigit() and (100 <= int(name) <= 199 or 2000 <= int(name) <= 2699)


def _interface_line(
    iface: str,
    words: list[str],
    stripped: str,
    bindings: dict[str, tuple[str, int, str]],
    fail: Fail,
    n: int,
    raw: str,
) -> None:
    if words[:2] == ["ip", "access-group"]:
        if len(words) != 4 or words[3] != "in":
            raise fail("only 'ip access-group NAME in' is modelled")
        bindings[iface] = (words[2], n, raw)
        return
    for prefix in IGNORED_INTERFACE:
        if stripped == prefix or stripped.startswith(prefix + " "):
            if prefix == "no shutdown" and stripped != prefix:
                break
            return
    raise fail("interface command is not modelled")


def _acl_line(
    acl: _Acl, words: list[str], ref: RuleRef, fail: Fail, groups: dict[str, ObjectGroup]
) -> None:
    seq = None
    if words[0].isdigit():
        seq = int(words[0])
        words = words[1:]
        if not 1 <= seq <= SEQ_MAX:
            raise fail("sequence number out of range")
    if not words:
        raise fail("empty entry")
    if words[0] == "remark":
        return
    if words[0] not in ("permit", "deny"):
        raise fail(f"'{words[0]}' is not modelled in an ACL")
    if seq is None:
        seq = max(acl.entries, default=0) + 10
    if seq in acl.entries:
        raise fail(f"duplicate sequence number {seq}")
    acl.entries[seq] = AceParser(words, ref, fail, groups).parse()


def _ruleset(
    acls: dict[str, _Acl], bindings: dict[str, tuple[str, int, str]], file: str, v6: V6Acls
) -> IosRuleset:
    chains: dict[str, Chain] = {}
    entry: dict[str, tuple[str, ...]] = {}
    for name, acl in acls.items():
        rules = tuple(r for s in sorted(acl.entries) for r in acl.entries[s])
        ref = RuleRef(file, acl.line, f"implicit deny at the end of ACL {name}")
        chains["acl " + name] = Chain("acl " + name, rules, "DROP", ref)
    for iface, (name, n, raw) in bindings.items():
        if name in acls and acls[name].entries:
            entry[iface] = ("acl " + name,)
            continue
        why = "undefined" if name not in acls else "empty"
        chain = f"open {iface}"
        chains[chain] = Chain(
            chain, (), "ACCEPT", RuleRef(file, n, f"{raw.strip()}  (ACL {why}: permits everything)")
        )
        entry[iface] = (chain,)
    chains["open"] = Chain(
        "open", (), "ACCEPT", RuleRef(file, None, "no inbound ACL bound: permits everything")
    )
    return IosRuleset(
        "cisco-ios",
        file,
        chains,
        default_entry=("open",),
        entry=entry,
        stateful=False,
        ipv6=v6.filters(file),
        ipv6_open=RuleRef(file, None, "no ipv6 traffic-filter bound: permits all IPv6"),
    )
