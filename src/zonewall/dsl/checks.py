"""Token-level checks and statement assembly for the parser (`dsl/syntax.py`).

`TokenChecks` validates what a statement's tokens say (name charset and length, port ranges,
CIDR syntax, VLAN numbers, string escapes), reporting diagnostics with the token's span, and
assembles the IR nodes.  Syntax (which token may come where) is the parser's; meaning that
needs the whole policy (unknown names, overlaps, allocation) is the compiler's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from netaddr import AddrFormatError, IPNetwork

from zonewall.diagnostics import DiagnosticSink, SourceLines, Span, span_text
from zonewall.ir import (
    ClassDef,
    Criticality,
    DhcpRelayDef,
    GatewayDef,
    PolicyHeader,
    RelayHelper,
    ServiceItem,
    ServiceRef,
)
from zonewall.packets import ICMP, ICMP_TYPES, TCP, UDP, PacketSet

MAX_NAME = 31
# Words with a meaning of their own in selectors and services: never usable as names.
RESERVED = frozenset(
    {
        "any",
        "internal",
        "external",
        "tag",
        "criticality",
        "gateway",
        "gateways",
        "ip",
        "icmp",
        "tcp",
        "udp",
        "proto",
    }
)
# Possessive (`*+`): a repeated group otherwise keeps a backtracking record per `-part`.
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*(?:-[a-z0-9_]+)*+\Z")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
# Escapes are taken out of a long string a piece at a time: `re.sub` over the whole string
# keeps a list entry (8 bytes) for each piece between escapes, and a 64 MiB string of
# escapes held 340 MB of list beside the text (issue 12 item 5).
_UNESCAPE_PIECE = 1 << 20


def _unescape(quoted: str) -> str:
    """`"..."` without its quotes, each `\\c` read as `c`."""
    end = len(quoted) - 1
    if end <= _UNESCAPE_PIECE:
        return _ESCAPE.sub(r"\1", quoted[1:end])
    pieces: list[str] = []
    start = 1
    while start < end:
        stop = min(start + _UNESCAPE_PIECE, end)
        piece = quoted[start:stop]
        run = len(piece) - len(piece.rstrip("\\"))  # the backslashes just before `stop`
        if run % 2:  # an odd run: its last backslash escapes the character at `stop`
            stop += 1
            piece = quoted[start:stop]
        pieces.append(_ESCAPE.sub(r"\1", piece))
        start = stop
    return "".join(pieces)


_PROTO_WORDS = {
    "ip": PacketSet.everything(),
    "icmp": PacketSet.protocol(ICMP),
    "tcp": PacketSet.protocol(TCP),
    "udp": PacketSet.protocol(UDP),
}


def _shown(name: str) -> str:
    """A name as a message quotes it: a very long one is cut (the caret shows where it is)."""
    return name if len(name) <= 2 * MAX_NAME else name[: 2 * MAX_NAME] + "..."


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


class TokenChecks:
    """Token-level validation and statement assembly: the parser calls these with a token's
    text and its span."""

    def __init__(self, file: str, text: str, sink: DiagnosticSink) -> None:
        self.file = file
        self.text = text
        self.sink = sink
        self._lines: SourceLines | None = None
        self._good_names: set[str] = set()  # names already found valid (no diagnostic)

    def name(self, value: str, span: Span, what: str = "name") -> str:
        if value in self._good_names:
            return value
        if not _NAME_RE.match(value):
            self.sink.error(
                "E104",
                f"invalid {what} '{_shown(value)}': names are lowercase letters, digits, '_' "
                "and '-', start with a letter and do not end with '-'",
                span,
            )
        elif len(value) > MAX_NAME:
            self.sink.error(
                "E104",
                f"{what} '{_shown(value)}' is {len(value)} characters long; the limit is "
                f"{MAX_NAME} (names become chain, ACL and VLAN names)",
                span,
            )
        else:
            self._good_names.add(value)
        return value.lower()

    def defined_name(self, value: str, span: Span, what: str) -> str:
        value = self.name(value, span, what)
        if value in RESERVED:
            self.sink.error("E104", f"'{value}' is a reserved word and cannot name a {what}", span)
        return value

    def string(self, value: str, span: Span) -> str:
        """A string token's text without its quotes and escapes; an unknown escape is E106 at
        the escape itself (a string is on one line)."""
        if "\\" not in value:
            return value[1:-1]
        for m in _ESCAPE.finditer(value, 1, len(value) - 1):
            if m[1] not in '"\\':
                col = span.col + m.start()
                self.sink.error(
                    "E106",
                    f"unknown escape '\\{m[1]}' in string: only \\\" and \\\\ are allowed",
                    Span(span.file, span.line, col, span.line, col + 2),
                )
        return _unescape(value)

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
            self.sink.error(
                "E106", f"unknown ICMP type '{arg}': use a number 0-255 or one of {names}", span
            )
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
            self.sink.error(
                "E106",
                f"'{value}' is not a port or port range such as "
                f"{proto_word}/443 or {proto_word}/1000-2000",
                span,
            )
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
            self.sink.error(
                "E106", f"unknown criticality '{word}': use low, medium, high or critical", span
            )
            return Criticality.MEDIUM

    def vlan_range(
        self, lo_value: str, lo_span: Span, hi_value: str, hi_span: Span, span: Span
    ) -> tuple[int, int, Span]:
        lo = self.integer(lo_value, lo_span, 0, 1 << 32, "VLAN")
        hi = self.integer(hi_value, hi_span, 0, 1 << 32, "VLAN")
        if lo > hi:
            self.sink.error("E106", f"VLAN range {lo}-{hi} is empty (start above end)", span)
        return lo, hi, span

    def relay_helper(self, value: str, span: Span, is_address: bool) -> RelayHelper:
        """A `dhcp-relay ... to` item: a class name, or one address."""
        if not is_address:
            return RelayHelper(self.name(value, span), None, span)
        return RelayHelper(None, self.one_address(value, span, "a DHCP server"), span)

    def one_address(self, text: str, span: Span, what: str) -> IPNetwork:
        net, _ = self.cidr(text, span)
        if net.prefixlen != 32:
            self.sink.error(
                "E106",
                f"'{text}' is a prefix; {what} is one address (write it without a prefix length)",
                span,
            )
        return net

    def dhcp_relay(
        self, helpers: list[RelayHelper], source: str, source_span: Span, span: Span
    ) -> DhcpRelayDef:
        net = self.one_address(source, source_span, "the relay's source")
        return DhcpRelayDef(tuple(helpers), net, span, source_span)

    # -- statement assembly (after the statement's parts are checked) ----------------------
    def header(
        self, title: str, title_span: Span, owners: list[tuple[str, Span]], span: Span
    ) -> PolicyHeader:
        for extra in owners[1:]:
            self.sink.error("E110", "'owner' is given twice in the policy header", extra[1])
        return PolicyHeader(self.string(title, title_span), owners[0][0] if owners else None, span)

    def _once(
        self, items: list[tuple[str, Any, Span]], block: str
    ) -> tuple[dict[str, Any], tuple[tuple[str, Span], ...]]:
        """A block's attributes by keyword, and each one's span in the order written; a
        repeated attribute is E110 and ignored."""
        attrs: dict[str, Any] = {}
        spans: list[tuple[str, Span]] = []
        for attr, value, attr_span in items:
            if attr in attrs:
                self.sink.error("E110", f"'{attr}' is given twice in {block}", attr_span)
                continue
            attrs[attr] = value
            spans.append((attr, attr_span))
        return attrs, tuple(spans)

    def class_def(
        self, name_value: str, name_span: Span, items: list[tuple[str, Any, Span]], span: Span
    ) -> ClassDef:
        name = self.defined_name(name_value, name_span, "class")
        attrs, spans = self._once(items, f"class '{name}'")
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
            attr_spans=spans,
        )

    def gateway(
        self, name_value: str, name_span: Span, items: list[tuple[str, Any, Span]], span: Span
    ) -> GatewayDef:
        name = self.defined_name(name_value, name_span, "gateway")
        attrs, spans = self._once(items, f"gateway '{name}'")
        return GatewayDef(
            name,
            attrs.get("platform"),
            attrs.get("serves"),
            attrs.get("interface"),
            attrs.get("uplink"),
            span,
            spans,
            object_groups="object-groups" in attrs,
            stateless_accepted=attrs.get("stateless-replies"),
            dhcp_relay=attrs.get("dhcp-relay"),
        )

    def lines(self) -> SourceLines:
        if self._lines is None:
            self._lines = SourceLines(self.text)
        return self._lines

    def source_text(self, span: Span) -> str:
        """The text of a span, comments dropped, whitespace collapsed to single spaces."""
        return span_text(self.lines(), span)
