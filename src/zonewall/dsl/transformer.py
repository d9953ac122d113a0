"""Lark tree -> policy-layer IR for one file.

The transformer turns each statement into its frozen IR node with a `Span`.  Local checks that
need only the token itself (name charset and length, port ranges, CIDR syntax, VLAN numbers
being numbers, string escapes) are `checks.TokenChecks`, shared with the fast parser, and
reported as diagnostics; everything that needs the whole policy (unknown names, overlaps,
allocation) is the compiler's job.  Only the reference path (syntax errors, `fmt`) imports
this module, and with it lark.
"""

from __future__ import annotations

from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta
from netaddr import IPNetwork

from zonewall.diagnostics import DiagnosticSink, Span
from zonewall.dsl.checks import (
    FileResult,
    Include,
    PoolSubnets,
    PoolVlans,
    TokenChecks,
)
from zonewall.ir import (
    AssertKind,
    AssertStmt,
    ClassDef,
    ExternalDef,
    GatewayDef,
    PolicyHeader,
    RelayHelper,
    RuleStmt,
    Selector,
    SelTerm,
    ServiceDef,
    ServiceItem,
    ServiceRef,
)


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
    def t_gateway(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("gateway", self.check.name(str(items[0]), self.span(items[0]),
                                                  "gateway name"),
                       meta_span(self.file, meta))

    @v_args(meta=True)
    def t_gateways(self, meta: Meta, items: list[Token]) -> SelTerm:
        return SelTerm("gateways", "", meta_span(self.file, meta))

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
    def stateless_replies(self, meta: Meta, items: list[Any]) -> tuple[str, Any, Span]:
        return "stateless-replies", items[0][1], meta_span(self.file, meta)

    def relay_helper(self, items: list[Token]) -> RelayHelper:
        tok = items[0]
        return self.check.relay_helper(str(tok), self.span(tok), tok.type == "CIDR")

    @v_args(meta=True)
    def dhcp_relay(self, meta: Meta, items: list[Any]) -> tuple[str, Any, Span]:
        *helpers, source = items
        span = meta_span(self.file, meta)
        return ("dhcp-relay",
                self.check.dhcp_relay(helpers, str(source), self.span(source), span), span)

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
