"""Hypothesis strategies: small random zonewall policies as `.zw` text plus a structured model.

`policies()` draws a `PolicySpec`: a plain description of the policy (classes with fixed
subnets and VLANs, overlapping externals, services over a small port universe, allows, denies
and assertions).  `PolicySpec.text()` renders it as `.zw` source: one statement per line in
natural order, or (drawn with `shuffled=True`) in any order and layout (`;`, comments, blank
lines, statements spread over lines).  The tests evaluate the language semantics directly on
the spec (their oracle never imports `zonewall.compiler`), so the spec carries everything an
oracle needs: member names, tags, criticality levels, service items as written, selectors as
terms.

Generated policies are valid by construction: names are unique and never reserved words,
subnets never overlap, every selector (and every `without`) selects something, service
references are acyclic, and every external keeps some addresses outside the class subnets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

__all__ = [
    "ASSERT_KINDS",
    "AssertSpec",
    "ClassSpec",
    "ExternalSpec",
    "PolicySpec",
    "RuleSpec",
    "SAMPLE_PACKETS",
    "Sel",
    "ServiceSpec",
    "assertions_for",
    "policies",
    "rules_for",
    "selectors_for",
]

# ---------------------------------------------------------------------------------------------
# The universe the generator draws from
# ---------------------------------------------------------------------------------------------

CLASS_NAMES = ("web", "db", "pump-server", "pacs", "guest_wifi", "ws1", "lab", "core-dns")
TAGS = ("medical", "iot", "infra")
LEVELS = ("low", "medium", "high", "critical")
SERVICE_NAMES = ("https", "ssh", "dns", "web-svc", "hl7", "ntp", "admin_x", "mgmt")
GATEWAY = 'gateway gw { platform iptables uplink "eth0" serves internal }'

# name -> (address choices, except choices).  They overlap on purpose: internet holds every
# other one, vendor-b sits inside vendor, campus and partner cover some class subnets.
EXTERNAL_MENU: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]] = {
    "internet": (
        (("0.0.0.0/0",),),
        ((), ("10.0.0.0/8",), ("203.0.113.128/25",), ("203.0.113.0/24", "198.51.100.0/24")),
    ),
    "vendor": ((("203.0.113.0/24",),), ((), ("203.0.113.64/26",))),
    "vendor-b": (
        (("203.0.113.0/25",), ("203.0.113.96/27",), ("203.0.113.96/27", "198.51.100.0/25")),
        ((), ("203.0.113.100/30",)),
    ),
    "partner": (
        (("198.51.100.0/24",), ("198.51.100.0/24", "10.0.3.0/24")),
        ((), ("198.51.100.128/25",)),
    ),
    "campus": ((("10.0.0.0/16",),), ((), ("10.0.8.0/21",))),
    "cloud": (  # the same addresses as vendor, or overlapping addresses of its own
        (("203.0.113.0/24",), ("203.0.113.0/25", "203.0.113.0/24")),
        ((), ("203.0.113.0/26",)),
    ),
    "dmz": (  # partly class space (slot 1 always holds a class, slot 6 sometimes)
        (("10.0.6.0/23",), ("10.0.1.0/24", "10.0.7.0/24")),
        ((), ("10.0.7.128/25",)),
    ),
    "top": ((("255.255.255.0/24",),), ((), ("255.255.255.255/32",))),  # the last addresses
}

TCP, UDP, ICMP, GRE = 6, 17, 1, 47
PORTS = (22, 53, 80, 443, *range(1000, 1011))
OTHER_PORT = 9999  # stands for every TCP/UDP port no generated service names
ICMP_TYPES = {"echo-request": 8, "echo-reply": 0}
OTHER_ICMP = 3  # stands for every ICMP type no generated service names

# (proto, port) samples: one per equivalence class of the generated services, so deciding a
# property on every sample decides it on every packet.
SAMPLE_PACKETS: tuple[tuple[int, int], ...] = (
    *((TCP, p) for p in (*PORTS, OTHER_PORT)),
    *((UDP, p) for p in (*PORTS, OTHER_PORT)),
    (ICMP, 8),
    (ICMP, 0),
    (ICMP, OTHER_ICMP),
    (GRE, 0),
)

ASSERT_KINDS = ("unreachable", "denied", "allowed", "only", "limited", "encrypted")


# ---------------------------------------------------------------------------------------------
# The structured description
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSpec:
    name: str
    subnets: tuple[str, ...]
    vlan: int
    tags: tuple[str, ...] = ()
    criticality: str | None = None  # None: not written (the default, medium)

    @property
    def level(self) -> str:
        return self.criticality or "medium"

    def text(self) -> str:
        body = [f"vlan {self.vlan}", "subnet " + ", ".join(self.subnets)]
        if self.tags:
            body.append("tags " + ", ".join(self.tags))
        if self.criticality:
            body.append(f"criticality {self.criticality}")
        return f"class {self.name} {{ " + "  ".join(body) + " }"


@dataclass(frozen=True)
class ExternalSpec:
    name: str
    addresses: tuple[str, ...]
    excepts: tuple[str, ...] = ()

    def text(self) -> str:
        exc = " except " + ", ".join(self.excepts) if self.excepts else ""
        return f"external {self.name} {{ address " + ", ".join(self.addresses) + exc + " }"


@dataclass(frozen=True)
class ServiceSpec:
    """`items` are as written: `tcp/443`, `udp/1000-1004`, `icmp/echo-request`, `icmp`, or
    the name of another service."""

    name: str
    items: tuple[str, ...]
    plaintext: bool = False

    def text(self) -> str:
        return (
            f"service {self.name} = "
            + ", ".join(self.items)
            + (" plaintext" if self.plaintext else "")
        )


@dataclass(frozen=True)
class Sel:
    """A selector as terms: `web`, `tag:medical`, `criticality:high`, `internal`, `external`,
    `any`; the members are those of `include` minus those of `exclude`."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def text(self) -> str:
        inc = ", ".join(self.include)
        return inc + (" except " + ", ".join(self.exclude) if self.exclude else "")


@dataclass(frozen=True)
class RuleSpec:
    action: str  # allow | deny
    src: Sel
    dst: Sel
    services: tuple[str, ...] | None = None  # None: no `: SERVICES` (all traffic)
    why: str | None = None
    log: bool = False

    def text(self) -> str:
        out = f"{self.action} {self.src.text()} -> {self.dst.text()}"
        if self.services is not None:
            out += " : " + ", ".join(self.services)
        if self.why is not None:
            out += f' "{self.why}"'
        if self.log:
            out += " log"
        return out


@dataclass(frozen=True)
class AssertSpec:
    kind: str  # one of ASSERT_KINDS
    src: Sel | None  # None only for `encrypted -> B`
    dst: Sel
    services: tuple[str, ...] | None = None
    without: Sel | None = None
    accepted: str | None = None

    def text(self) -> str:
        src = f"{self.src.text()} " if self.src is not None else ""
        out = f"assert {self.kind} {src}-> {self.dst.text()}"
        if self.services is not None:
            out += " : " + ", ".join(self.services)
        if self.without is not None:
            out += f" without {self.without.text()}"
        if self.accepted is not None:
            out += f' accepted "{self.accepted}"'
        return out


@dataclass(frozen=True)
class PolicySpec:
    classes: tuple[ClassSpec, ...]
    externals: tuple[ExternalSpec, ...]
    services: tuple[ServiceSpec, ...]
    rules: tuple[RuleSpec, ...]
    assertions: tuple[AssertSpec, ...] = ()
    # A permutation of range(len(statements())), or None for the natural order.
    order: tuple[int, ...] | None = field(default=None, compare=False)
    # Per statement (in natural order), a layout: what ends it (`;`, a comment, blank lines)
    # and whether it is spread over several lines.  None: one statement per line.
    layout: tuple[tuple[str, bool], ...] | None = field(default=None, compare=False)

    def statements(self) -> list[str]:
        """Top-level statements in natural order (services, classes, externals, gateway,
        rules, assertions)."""
        return [
            *(s.text() for s in self.services),
            *(c.text() for c in self.classes),
            *(e.text() for e in self.externals),
            GATEWAY,
            *(r.text() for r in self.rules),
            *(a.text() for a in self.assertions),
        ]

    def text(self) -> str:
        stmts = self.statements()
        if self.layout is not None:
            stmts = [
                _lay_out(stmt, end, spread)
                for stmt, (end, spread) in zip(stmts, self.layout, strict=True)
            ]
        order = self.order if self.order is not None else range(len(stmts))
        return "".join(stmts[i] + "\n" for i in order)

    def with_(self, **changes: object) -> PolicySpec:
        """A changed copy in natural order and layout (statement counts may change)."""
        return replace(self, order=None, layout=None, **changes)  # type: ignore[arg-type]

    # -- helpers for oracles and strategies ----------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def external_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.externals)

    def members(self, sel: Sel) -> frozenset[str]:
        """Members of a selector, straight from the language (docs/language.md, section 4)."""
        return self.term_members(sel.include) - self.term_members(sel.exclude)

    def term_members(self, terms: Sequence[str]) -> frozenset[str]:
        out: set[str] = set()
        for term in terms:
            if term == "any":
                out |= set(self.class_names) | set(self.external_names)
            elif term == "internal":
                out |= set(self.class_names)
            elif term == "external":
                out |= set(self.external_names)
            elif term.startswith("tag:"):
                out |= {c.name for c in self.classes if term[4:] in c.tags}
            elif term.startswith("criticality:"):
                out |= {c.name for c in self.classes if c.level == term[12:]}
            else:
                out.add(term)
        return frozenset(out)

    def selector_terms(self) -> tuple[str, ...]:
        """Every selector term that selects something in this policy."""
        terms = [*self.class_names, *self.external_names, "internal", "any"]
        if self.externals:
            terms.append("external")
        terms += sorted({f"tag:{t}" for c in self.classes for t in c.tags})
        terms += sorted({f"criticality:{c.level}" for c in self.classes})
        return tuple(terms)


# What may end a statement: nothing, the optional `;`, a comment, blank lines.
STATEMENT_ENDS = ("", ";", " ;", '  # a comment -> with: "quotes"', "\n\n# a comment line\n")


def _lay_out(stmt: str, end: str, spread: bool) -> str:
    if spread:  # these never occur inside the strings the generator writes
        for token in (" -> ", " : ", "{ ", " = "):
            stmt = stmt.replace(token, "\n    " + token.strip() + "\n  ")
    return stmt + end


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

# Generation cost is dominated by building and validating strategy objects, so the helpers
# below draw through a few cached strategies: `_pick` is `sampled_from` (shrinking toward the
# first element) and `_picks` is `lists(sampled_from(...), unique=True)`.


@functools.cache
def _below(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def _pick(draw: st.DrawFn, seq: Sequence[T]) -> T:
    return seq[draw(_below(len(seq)))]


def _chance(draw: st.DrawFn, one_in: int) -> bool:
    return draw(_below(one_in)) == 0


def _picks(draw: st.DrawFn, seq: Sequence[T], lo: int, hi: int) -> tuple[T, ...]:
    """Between lo and hi distinct elements of seq (fewer if seq is shorter)."""
    pool = list(seq)
    count = min(lo + draw(_below(hi - lo + 1)), len(pool))
    return tuple(pool.pop(draw(_below(len(pool)))) for _ in range(count))


_LITERAL_ITEMS = ("icmp/echo-request", "icmp/8", "icmp/echo-reply", "icmp", "tcp", "udp", "ip")


def _service_item(draw: st.DrawFn) -> str:
    """A literal service item over the small port universe."""
    kind = draw(_below(3))
    if kind == 0:
        return f"{_pick(draw, ('tcp', 'udp'))}/{_pick(draw, PORTS)}"
    if kind == 1:
        lo = 1000 + draw(_below(11))
        return f"{_pick(draw, ('tcp', 'udp'))}/{lo}-{lo + draw(_below(1011 - lo))}"
    return _pick(draw, _LITERAL_ITEMS)


def _classes(draw: st.DrawFn) -> tuple[ClassSpec, ...]:
    out = []
    for k, name in enumerate(_picks(draw, CLASS_NAMES, 2, 6)):
        slot = k + 1  # class k lives in 10.0.{k+1}.0/24, so subnets never overlap
        shapes = (
            (f"10.0.{slot}.0/24",),
            (f"10.0.{slot}.0/25",),
            (f"10.0.{slot}.0/26", f"10.0.{slot}.128/26"),  # two pieces with a gap
            (f"10.0.{slot}.128/25", f"10.0.{slot}.0/25"),  # adjacent pieces: one /24
            (f"10.0.{slot}.5/32", f"10.0.{slot}.64/27"),  # a single host and a block
        )
        level = _pick(draw, (None, *LEVELS))
        out.append(
            ClassSpec(name, _pick(draw, shapes), 100 + slot, _picks(draw, TAGS, 0, 2), level)
        )
    return tuple(out)


def _externals(draw: st.DrawFn) -> tuple[ExternalSpec, ...]:
    out = []
    for name in _picks(draw, tuple(EXTERNAL_MENU), 0, 3):
        addresses, excepts = EXTERNAL_MENU[name]
        out.append(ExternalSpec(name, _pick(draw, addresses), _pick(draw, excepts)))
    return tuple(out)


def _services(draw: st.DrawFn) -> tuple[ServiceSpec, ...]:
    names = _picks(draw, SERVICE_NAMES, 2, 4)
    out: list[ServiceSpec] = []
    for i, name in enumerate(names):
        items = [_service_item(draw) for _ in range(1 + draw(_below(3)))]
        if i and draw(st.booleans()):  # refer to an earlier service: acyclic by construction
            items.insert(draw(_below(len(items) + 1)), _pick(draw, names[:i]))
        out.append(ServiceSpec(name, tuple(items), _chance(draw, 4)))
    return tuple(out)


def _selector(draw: st.DrawFn, spec: PolicySpec, terms: Sequence[str]) -> Sel:
    include = _picks(draw, terms, 1, 2)
    exclude = _picks(draw, terms, 1, 2) if _chance(draw, 4) else ()
    sel = Sel(include, exclude)
    return sel if spec.members(sel) else Sel(include)


def _service_list(draw: st.DrawFn, spec: PolicySpec) -> tuple[str, ...]:
    return _picks(draw, tuple(s.name for s in spec.services), 1, 2)


def _rule(draw: st.DrawFn, spec: PolicySpec, terms: Sequence[str], action: str) -> RuleSpec:
    services = None if _chance(draw, 3) else _service_list(draw, spec)
    why = "why: #not a comment" if _chance(draw, 2) else None
    log = action == "allow" and _chance(draw, 5)
    return RuleSpec(
        action, _selector(draw, spec, terms), _selector(draw, spec, terms), services, why, log
    )


def _assertion(
    draw: st.DrawFn, spec: PolicySpec, terms: Sequence[str], kinds: Sequence[str]
) -> AssertSpec:
    kind = _pick(draw, kinds)
    src: Sel | None = _selector(draw, spec, terms)
    dst = _selector(draw, spec, terms)
    services: tuple[str, ...] | None = None
    without = None
    if kind in ("allowed", "limited") or (kind == "denied" and _chance(draw, 2)):
        services = _service_list(draw, spec)
    if kind == "unreachable" and _chance(draw, 2):
        # Often one class: a hub whose removal may cut exactly the path that matters.
        without = (
            Sel((_pick(draw, spec.class_names),))
            if _chance(draw, 2)
            else _selector(draw, spec, terms)
        )
    if kind == "encrypted" and _chance(draw, 2):
        src = None
    if kind == "only" and _chance(draw, 2):
        # Every class, perhaps with some externals: only flows from the other externals (or
        # from nowhere) decide it, which random selectors rarely isolate.
        src = Sel(("internal", *_picks(draw, spec.external_names, 0, 1)))
    accepted = "known risk" if _chance(draw, 10) else None
    return AssertSpec(kind, src, dst, services, without, accepted)


@st.composite
def selectors_for(draw: st.DrawFn, spec: PolicySpec) -> Sel:
    """A selector over `spec` that selects something (an `except` that would empty it is
    dropped)."""
    return _selector(draw, spec, spec.selector_terms())


@st.composite
def rules_for(draw: st.DrawFn, spec: PolicySpec, action: str) -> RuleSpec:
    """An allow or deny over the names of `spec`."""
    return _rule(draw, spec, spec.selector_terms(), action)


@st.composite
def assertions_for(
    draw: st.DrawFn, spec: PolicySpec, kinds: Sequence[str] = ASSERT_KINDS
) -> AssertSpec:
    """An assertion of one of `kinds` over the names and services of `spec`."""
    return _assertion(draw, spec, spec.selector_terms(), tuple(kinds))


@st.composite
def policies(
    draw: st.DrawFn,
    kinds: Sequence[str] = ASSERT_KINDS,
    min_assertions: int = 0,
    max_assertions: int = 4,
    shuffled: bool = False,
) -> PolicySpec:
    """A small valid policy; `kinds` are the assertion kinds to draw from; `shuffled` also
    draws a statement order and a layout."""
    spec = PolicySpec(_classes(draw), _externals(draw), _services(draw), ())
    terms = spec.selector_terms()
    allows = [_rule(draw, spec, terms, "allow") for _ in range(1 + draw(_below(10)))]
    denies = [_rule(draw, spec, terms, "deny") for _ in range(draw(_below(5)))]
    rules = tuple(allows)
    for deny in denies:  # interleaved with the allows
        where = draw(_below(len(rules) + 1))
        rules = rules[:where] + (deny,) + rules[where:]
    assertions: tuple[AssertSpec, ...] = ()
    if max_assertions and kinds:
        count = min_assertions + draw(_below(max_assertions - min_assertions + 1))
        assertions = tuple(_assertion(draw, spec, terms, tuple(kinds)) for _ in range(count))
    spec = replace(spec, rules=rules, assertions=assertions)
    if shuffled:  # and laid out differently
        count = len(spec.statements())
        order = _picks(draw, range(count), count, count)
        layout = tuple((_pick(draw, STATEMENT_ENDS), _chance(draw, 2)) for _ in range(count))
        spec = replace(spec, order=order, layout=layout)
    return spec
