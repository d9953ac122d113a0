"""Lark tree -> policy-layer IR for one file.

The transformer turns each statement into its frozen IR node with a `Span`.  Local checks that
need only the token itself (name charset and length, port ranges, CIDR syntax, VLAN numbers
being numbers, string escapes) are done here and reported as diagnostics; everything that needs
the whole policy (unknown names, overlaps, allocation) is the compiler's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta
from netaddr import AddrFormatError, IPNetwork

from zonewall.diagnostics import DiagnosticSink, Span, source_lines, span_text
from zonewall.ir import (
    AssertKind,
    AssertStmt,
    ClassDef,
    Criticality,
    ExternalDef,
    GatewayDef,
    PolicyHeader,
    RuleStmt,
    Selector,
    SelTerm,
    ServiceDef,
    ServiceItem,
    ServiceRef,
)
from zonewall.packets import ICMP, ICMP_TYPES, TCP, UDP, PacketSet

MAX_NAME = 31
# Words with a meaning of their own in selectors and services: never usable as names.
RESERVED = frozenset({"any", "internal", "external", "tag", "criticality", "ip", "icmp", "tcp",
                      "udp", "proto"})
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*(-[a-z0-9_]+)*\Z")
_PROTO_WORDS = {"ip": PacketSet.everything(), "icmp": PacketSet.protocol(ICMP),
                "tcp": PacketSet.protocol(TCP), "udp": PacketSet.protocol(UDP)}


@dataclass(frozen=True, slots=True)
class Include:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class PoolSubnets:
    prefixes: tuple[tuple[IPNetwork, Span], ...]


@dataclass(frozen=True, slots=True)
class PoolVlans:
    ranges: tuple[tuple[int, int, Span], ...]


@dataclass
class FileResult:
    """What one file contributes, in source order."""

    statements: list[Any] = field(default_factory=list)


def tok_span(file: str, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + len(str(tok))
    return Span(file, line, col, end_line, end_col)


def meta_span(file: str, meta: Meta) -> Span:
    if getattr(meta, "empty", True):
        return Span(file, 1, 1, 1, 2)
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


class TokenChecks:
    """Token-level validation and statement assembly shared by both front ends.

    The lark `PolicyTransformer` and the hand-written fast parser (`fastparse`) both call these,
    with a token's text and its span, so every local diagnostic is produced by the same code.
    """

    def __init__(self, file: str, text: str, sink: DiagnosticSink) -> None:
        self.file = file
        self.text = text
        self.sink = sink
        self._lines: list[str] | None = None
        self._good_names: set[str] = set()  # names already found valid (no diagnostic)

    def name(self, value: str, span: Span, what: str = "name") -> str:
        if value in self._good_names:
            return value
        if not _NAME_RE.match(value):
            self.sink.error(
                "E104",
                f"invalid {what} '{value}': names are lowercase letters, digits, '_' and '-', "
                "start with a letter and do not end with '-'",
                span,
            )
        elif len(value) > MAX_NAME:
            self.sink.error(
                "E104",
                f"{what} '{value}' is {len(value)} characters long; the limit is {MAX_NAME} "
                "(names become chain, ACL and VLAN names)",
                span,
            )
        else:
            self._good_names.add(value)
        return value.lower()

    def defined_name(self, value: str, span: Span, what: str) -> str:
        value = self.name(value, span, what)
        if value in RESERVED:
            self.sink.error("E104", f"'{value}' is a reserved word and cannot name a {what}",
                            span)
        return value

    def string(self, value: str, span: Span) -> str:
        raw = value[1:-1]
        if "\\" not in raw:
            return raw
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\":
                nxt = raw[i + 1]
                if nxt not in '"\\':
                    self.sink.error("E106", f"unknown escape '\\{nxt}' in string: only \\\" and "
                                    "\\\\ are allowed", span)
                out.append(nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    def integer(self, value: str, span: Span, lo: int, hi: int, what: str) -> int:
        if len(value) > 10 or not (lo <= int(value) <= hi):
            self.sink.error("E106", f"{what} {value} is out of range ({lo}-{hi})", span)
            return lo
        return int(value)

    def cidr(self, text: str, span: Span) -> tuple[IPNetwork, Span]:
        try:
            octets = text.split("/")[0].split(".")
            if any(len(o) > 3 or int(o) > 255 for o in octets):
                raise AddrFormatError(text)
            if "/" in text and not 0 <= int(text.split("/")[1][:3]) <= 32:
                raise AddrFormatError(text)
            net = IPNetwork(text if "/" in text else text + "/32")
        except (AddrFormatError, ValueError):
            self.sink.error("E106", f"'{text}' is not a valid IPv4 address or CIDR", span)
            return IPNetwork("0.0.0.0/32"), span
        if net.ip != net.network:
            self.sink.error(
                "E106",
                f"'{text}' has host bits set; write the network address '{net.cidr}'",
                span,
            )
        return net.cidr, span

    def portspec(self, value: str, span: Span) -> PacketSet:
        proto_word, _, arg = value.partition("/")
        if proto_word == "icmp":
            if arg in ICMP_TYPES:
                return PacketSet.ports(ICMP, ICMP_TYPES[arg], ICMP_TYPES[arg])
            if arg.isdigit() and len(arg) <= 3 and int(arg) <= 255:
                return PacketSet.ports(ICMP, int(arg), int(arg))
            names = ", ".join(sorted(ICMP_TYPES))
            self.sink.error("E106", f"unknown ICMP type '{arg}': use a number 0-255 or one of "
                            f"{names}", span)
            return PacketSet.protocol(ICMP)
        if proto_word == "proto":
            if arg.isdigit() and len(arg) <= 3 and int(arg) <= 255:
                return PacketSet.protocol(int(arg))
            self.sink.error("E106", f"protocol number '{arg}' must be 0-255", span)
            return PacketSet.protocol(0)
        proto = TCP if proto_word == "tcp" else UDP
        lo_s, _, hi_s = arg.partition("-")
        hi_s = hi_s or lo_s
        if not (lo_s.isdigit() and hi_s.isdigit()) or "-" in hi_s:
            self.sink.error("E106", f"'{value}' is not a port or port range such as "
                            f"{proto_word}/443 or {proto_word}/1000-2000", span)
            return PacketSet.protocol(proto)
        if len(lo_s) > 5 or len(hi_s) > 5 or int(lo_s) > 65535 or int(hi_s) > 65535:
            self.sink.error("E106", f"port in '{value}' is out of range (0-65535)", span)
            return PacketSet.protocol(proto)
        lo, hi = int(lo_s), int(hi_s)
        if lo > hi:
            self.sink.error("E106", f"port range in '{value}' is empty (start above end)", span)
            return PacketSet.protocol(proto)
        return PacketSet.ports(proto, lo, hi)

    def service_use(self, value: str, span: Span, is_port: bool) -> ServiceItem | ServiceRef:
        """A service item or reference: a PORTSPEC, a protocol word (`icmp`) or a name."""
        if is_port:
            return ServiceItem(value, self.portspec(value, span), span)
        if value in _PROTO_WORDS:
            return ServiceItem(value, _PROTO_WORDS[value], span)
        return ServiceRef(self.name(value, span, "service name"), span)

    def level(self, word: str, span: Span) -> Criticality:
        try:
            if word != word.lower():
                raise KeyError(word)
            return Criticality[word.upper()]
        except KeyError:
            self.sink.error("E106", f"unknown criticality '{word}': use low, medium, high or "
                            "critical", span)
            return Criticality.MEDIUM

    def vlan_range(self, lo_value: str, lo_span: Span, hi_value: str, hi_span: Span,
                   span: Span) -> tuple[int, int, Span]:
        lo = self.integer(lo_value, lo_span, 0, 1 << 32, "VLAN")
        hi = self.integer(hi_value, hi_span, 0, 1 << 32, "VLAN")
        if lo > hi:
            self.sink.error("E106", f"VLAN range {lo}-{hi} is empty (start above end)", span)
        return lo, hi, span

    # -- statement assembly (after the statement's parts are checked, as lark's bottom-up
    #    transformer orders it) -------------------------------------------------------------
    def header(self, title: str, title_span: Span, owners: list[tuple[str, Span]],
               span: Span) -> PolicyHeader:
        for extra in owners[1:]:
            self.sink.error("E110", "'owner' is given twice in the policy header", extra[1])
        return PolicyHeader(self.string(title, title_span), owners[0][0] if owners else None,
                            span)

    def class_def(self, name_value: str, name_span: Span,
                  items: list[tuple[str, Any, Span]], span: Span) -> ClassDef:
        name = self.defined_name(name_value, name_span, "class")
        attrs: dict[str, Any] = {}
        spans: list[tuple[str, Span]] = []
        for attr, value, attr_span in items:
            if attr in attrs:
                self.sink.error("E110", f"'{attr}' is given twice in class '{name}'", attr_span)
                continue
            attrs[attr] = value
            spans.append((attr, attr_span))
        subnets = tuple(net for net, _ in attrs.get("subnet", ()))
        tags = tuple(dict.fromkeys(attrs.get("tags", ())))
        return ClassDef(
            name=name,
            description=attrs.get("description"),
            vlan=attrs.get("vlan"),
            subnets=subnets,
            hosts=attrs.get("hosts"),
            criticality=attrs.get("criticality", Criticality.MEDIUM),
            tags=tags,
            span=span,
            attr_spans=tuple(spans),
        )

    def gateway(self, name_value: str, name_span: Span, items: list[tuple[str, Any, Span]],
                span: Span) -> GatewayDef:
        name = self.defined_name(name_value, name_span, "gateway")
        attrs: dict[str, Any] = {}
        spans: list[tuple[str, Span]] = []
        for attr, value, attr_span in items:
            if attr in attrs:
                self.sink.error("E110", f"'{attr}' is given twice in gateway '{name}'",
                                attr_span)
                continue
            attrs[attr] = value
            spans.append((attr, attr_span))
        return GatewayDef(name, attrs.get("platform"), attrs.get("serves"),
                          attrs.get("interface"), attrs.get("uplink"), span, tuple(spans),
                          object_groups="object-groups" in attrs)

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = source_lines(self.text)
        return self._lines

    def source_text(self, span: Span) -> str:
        """The text of a span, comments dropped, whitespace collapsed to single spaces."""
        return span_text(self.lines(), span)


class PolicyTransformer(Transformer[Token, FileResult]):
    """Builds IR nodes for one file from lark's tree; reports local problems to `sink`."""

    def __init__(self, file: str, text: str, sink: DiagnosticSink) -> None:
        super().__init__()
        self.file = file
        self.check = TokenChecks(file, text, sink)

    def span(self, tok: Token) -> Span:
        return tok_span(self.file, tok)

    # -- statements -------------------------------------------------------------------------
    def start(self, items: list[Any]) -> FileResult:
        return FileResult(list(items))

    @v_args(meta=True)
    def header(self, meta: Meta, items: list[Any]) -> PolicyHeader:
        return self.check.header(str(items[0]), self.span(items[0]), list(items[1:]),
                                 meta_span(self.file, meta))

    @v_args(meta=True)
    def owner(self, meta: Meta, items: list[Token]) -> tuple[str, Span]:
        return self.check.string(str(items[0]), self.span(items[0])), meta_span(self.file, meta)

    @v_args(meta=True)
    def include(self, meta: Meta, items: list[Token]) -> Include:
        return Include(self.check.string(str(items[0]), self.span(items[0])),
                       meta_span(self.file, meta))

    def cidr_list(self, items: list[Token]) -> list[tuple[IPNetwork, Span]]:
        return [self.check.cidr(str(t), self.span(t)) for t in items]

    def pool_subnets(self, items: list[Any]) -> PoolSubnets:
        return PoolSubnets(tuple(items[0]))

    @v_args(meta=True)
    def vlan_range(self, meta: Meta, items: list[Token]) -> tuple[int, int, Span]:
        return self.check.vlan_range(str(items[0]), self.span(items[0]), str(items[-1]),
                                     self.span(items[-1]), meta_span(self.file, meta))

    def pool_vlans(self, items: list[Any]) -> PoolVlans:
        return PoolVlans(tuple(items))

    # services
    def port_item(self, items: list[Token]) -> ServiceItem | ServiceRef:
        return self.check.service_use(str(items[0]), self.span(items[0]), True)

    def name_item(self, items: list[Token]) -> ServiceItem | ServiceRef:
        return self.check.service_use(str(items[0]), self.span(items[0]), False)

    @v_args(meta=True)
    def service(self, meta: Meta, items: list[Any]) -> ServiceDef:
        plaintext = isinstance(items[-1], Token) and items[-1].type == "PLAINTEXT"
        body = items[1:-1] if plaintext else items[1:]
        name = self.check.defined_name(str(items[0]), self.span(items[0]), "service")
        return ServiceDef(name, tuple(body), plaintext, meta_span(self.file, meta))

    # classes
    @v_args(meta=True)
    def description(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return ("description", self.check.string(str(items[0]), self.span(items[0])),
                meta_span(self.file, meta))

    @v_args(meta=True)
    def vlan(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return ("vlan", self.check.integer(str(items[0]), self.span(items[0]), 0, 1 << 32,
                                           "VLAN"), meta_span(self.file, meta))

    @v_args(meta=True)
    def subnet(self, meta: Meta, items: list[Any]) -> tuple[str, Any, Span]:
        return "subnet", tuple(items[0]), meta_span(self.file, meta)

    @v_args(meta=True)
    def hosts(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return ("hosts", self.check.integer(str(items[0]), self.span(items[0]), 1, 1 << 31,
                                            "host count"), meta_span(self.file, meta))

    @v_args(meta=True)
    def criticality(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return ("criticality", self.check.level(str(items[0]), self.span(items[0])),
                meta_span(self.file, meta))

    @v_args(meta=True)
    def tags(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        names = tuple(self.check.defined_name(str(t), self.span(t), "tag") for t in items)
        return "tags", names, meta_span(self.file, meta)

    @v_args(meta=True)
    def class_def(self, meta: Meta, items: list[Any]) -> ClassDef:
        return self.check.class_def(str(items[0]), self.span(items[0]), list(items[1:]),
                                    meta_span(self.file, meta))

    @v_args(meta=True)
    def external(self, meta: Meta, items: list[Any]) -> ExternalDef:
        name = self.check.defined_name(str(items[0]), self.span(items[0]), "external")
        addresses = tuple(n for n, _ in items[1])
        excepts = tuple(n for n, _ in items[3]) if len(items) > 3 else ()
        return ExternalDef(name, addresses, excepts, meta_span(self.file, meta))

    # selectors
    @v_args(meta=True)
    def selector(self, meta: Meta, items: list[Any]) -> Selector:
        exclude = tuple(items[2]) if len(items) > 2 else ()
        return Selector(tuple(items[0]), exclude, meta_span(self.file, meta))

    def sel_terms(self, items: list[SelTerm]) -> list[SelTerm]:
        return list(items)

    def t_name(self, items: list[Token]) -> SelTerm:
        span = self.span(items[0])
        return SelTerm("name", self.check.name(str(items[0]), span), span)

    @v_args(meta=True)
    def t_tag(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("tag", self.check.name(str(items[0]), self.span(items[0]), "tag"),
                       meta_span(self.file, meta))

    @v_args(meta=True)
    def t_crit(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("criticality", self.check.level(str(items[0]), self.span(items[0])).label,
                       meta_span(self.file, meta))

    @v_args(meta=True)
    def t_any(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("any", "", meta_span(self.file, meta))

    @v_args(meta=True)
    def t_internal(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("internal", "", meta_span(self.file, meta))

    @v_args(meta=True)
    def t_external(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("external", "", meta_span(self.file, meta))

    # rules
    def services(self, items: list[Token]) -> tuple[ServiceRef | ServiceItem, ...]:
        """Service names, or literal items (`tcp/81`, `icmp`) written in place of a name."""
        return tuple(self.check.service_use(str(tok), self.span(tok), tok.type == "PORTSPEC")
                     for tok in items)

    @v_args(meta=True)
    def rule(self, meta: Meta, items: list[Any]) -> RuleStmt:
        action = str(items[0])
        services = None
        why = None
        log = False
        for extra in items[3:]:
            if isinstance(extra, tuple):
                services = extra
            elif isinstance(extra, Token) and extra.type == "STRING":
                why = self.check.string(str(extra), self.span(extra))
            elif isinstance(extra, Token) and extra.type == "LOG":
                log = True
        return RuleStmt(action, items[1], items[2], services, why, log,
                        meta_span(self.file, meta))

    # gateways
    @v_args(meta=True)
    def platform(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return "platform", str(items[0]), meta_span(self.file, meta)

    @v_args(meta=True)
    def serves(self, meta: Meta, items: list[Any]) -> tuple[str, Any, Span]:
        return "serves", items[0], meta_span(self.file, meta)

    @v_args(meta=True)
    def interface(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return ("interface", self.check.string(str(items[0]), self.span(items[0])),
                meta_span(self.file, meta))

    @v_args(meta=True)
    def uplink(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return ("uplink", self.check.string(str(items[0]), self.span(items[0])),
                meta_span(self.file, meta))

    @v_args(meta=True)
    def object_groups(self, meta: Meta, items: list[Token]) -> tuple[str, Any, Span]:
        return "object-groups", True, meta_span(self.file, meta)

    @v_args(meta=True)
    def gateway(self, meta: Meta, items: list[Any]) -> GatewayDef:
        return self.check.gateway(str(items[0]), self.span(items[0]), list(items[1:]),
                                  meta_span(self.file, meta))

    # assertions
    def without(self, items: list[Any]) -> tuple[str, Selector]:
        return "without", items[0]

    def accepted(self, items: list[Token]) -> tuple[str, str]:
        return "accepted", self.check.string(str(items[0]), self.span(items[0]))

    def _assert(self, kind: AssertKind, meta: Meta, items: list[Any]) -> Tree[Any]:
        sels = [i for i in items if isinstance(i, Selector)]
        extras = dict(i for i in items if isinstance(i, tuple) and len(i) == 2
                      and isinstance(i[0], str))
        services = next((i for i in items if isinstance(i, tuple)
                         and all(isinstance(r, (ServiceRef, ServiceItem)) for r in i) and i), None)
        src, dst = (sels[0], sels[1]) if len(sels) >= 2 else (None, sels[0])
        return Tree("assert_body", [kind, src, dst, services, extras.get("without"),
                                    meta_span(self.file, meta)])

    @v_args(meta=True)
    def a_unreachable(self, meta: Meta, items: list[Any]) -> Tree[Any]:
        return self._assert(AssertKind.UNREACHABLE, meta, items)

    @v_args(meta=True)
    def a_denied(self, meta: Meta, items: list[Any]) -> Tree[Any]:
        return self._assert(AssertKind.DENIED, meta, items)

    @v_args(meta=True)
    def a_allowed(self, meta: Meta, items: list[Any]) -> Tree[Any]:
        return self._assert(AssertKind.ALLOWED, meta, items)

    @v_args(meta=True)
    def a_only(self, meta: Meta, items: list[Any]) -> Tree[Any]:
        return self._assert(AssertKind.ONLY, meta, items)

    @v_args(meta=True)
    def a_limited(self, meta: Meta, items: list[Any]) -> Tree[Any]:
        return self._assert(AssertKind.LIMITED, meta, items)

    @v_args(meta=True)
    def a_encrypted(self, meta: Meta, items: list[Any]) -> Tree[Any]:
        return self._assert(AssertKind.ENCRYPTED, meta, items)

    @v_args(meta=True)
    def assertion(self, meta: Meta, items: list[Any]) -> AssertStmt:
        kind, src, dst, services, without, body_span = items[0].children
        accepted = items[1][1] if len(items) > 1 else None
        return AssertStmt(kind, src, dst, services, without, accepted,
                          self.check.source_text(body_span), meta_span(self.file, meta))
