"""Property tests: effective flows and assertions against an independent brute-force oracle.

The oracle (`Oracle`) evaluates the language semantics (docs/language.md, 4-9) directly on the
structured `PolicySpec`, never through `zonewall.compiler`:

* Address space is sampled at every boundary of every prefix the policy writes (first, last,
  first-1, last+1 and the middle of each class subnet, external address and except) plus a
  few fixed addresses.  Each sample gets a *signature*: the class that holds it, or the set of
  externals that hold it (addresses minus excepts minus every class subnet), or nothing.  All
  addresses with one signature are equivalent under the semantics, and every region the
  compiler could cut the space into starts at one of the sampled boundaries.
* Packets are sampled from `SAMPLE_PACKETS`: one per equivalence class of the generated
  services (every named port, plus one stand-in for all other ports, ICMP types, protocols).
* A packet from signature a to signature b is permitted iff some allow's source selects a
  member of a, its destination a member of b and its services hold the packet, and no deny
  does the same; same-class pairs and external-to-external pairs are never flows.  A permitted
  packet is plaintext iff some matching allow opens it through a `plaintext` service (an allow
  without services counts as plaintext, as the compiler documents).
* The flow graph has one node per class and external name, with an edge m1 -> m2 whenever some
  address of m1 may initiate some packet to some address of m2; `unreachable` is a BFS on it
  in which only classes outside `without` are intermediate hops.

Properties: (1) flows, their plaintext part and their opening allows match the oracle;
(2) `unreachable` matches BFS and its counterexample is the smallest shortest path; (3) adding a
deny or removing an allow never enlarges a flow; (4) statement order and layout never matter;
(5) a service can be replaced by an alias written differently; (6) the other assertion kinds
match the oracle, with counterexamples naming the allow that opens the offending flow;
(7) the dead / redundant / no-effect warnings match the oracle.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork
from strategies import (
    SAMPLE_PACKETS,
    AssertSpec,
    ClassSpec,
    ExternalSpec,
    PolicySpec,
    RuleSpec,
    Sel,
    ServiceSpec,
    policies,
    rules_for,
)

from zonewall.compiler.pipeline import compile_policy
from zonewall.dsl.parser import parse_text
from zonewall.ir import AssertionResult, CompiledPolicy, Endpoint
from zonewall.packets import PacketSet, key

# Generating a policy draws a few hundred choices; that is what these tests are about.
SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ALL_KEYS = frozenset(key(proto, port) for proto, port in SAMPLE_PACKETS)
ADDRESS_MAX = (1 << 32) - 1

Sig = tuple[str, frozenset[str]]  # ("class", {name}) or ("external", {names}); never empty


# ---------------------------------------------------------------------------------------------
# Compiling through zonewall
# ---------------------------------------------------------------------------------------------


def compile_spec(spec: PolicySpec) -> CompiledPolicy:
    parsed = parse_text(spec.text(), "t.zw")
    assert not parsed.diagnostics, parsed.diagnostics
    result = compile_policy(parsed.policy)
    # Only assertion failures (E3xx) are allowed: everything else would be a generator bug.
    errors = [d for d in result.diagnostics if d.is_error and not d.code.startswith("E3")]
    assert not errors, [(d.code, d.message) for d in errors]
    assert result.compiled is not None
    return result.compiled


def endpoint_key(ep: Endpoint) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """Identifies an endpoint across two compilations: by name, externals and prefixes."""
    return ep.kind, ep.name, tuple(str(p) for p in ep.prefixes), ep.externals


def flow_table(
    compiled: CompiledPolicy,
) -> dict[tuple[object, object], tuple[PacketSet, PacketSet]]:
    eps = compiled.endpoints
    return {
        (endpoint_key(eps[f.src]), endpoint_key(eps[f.dst])): (f.packets, f.plaintext)
        for f in compiled.flows
    }


def statuses(compiled: CompiledPolicy) -> list[str]:
    return [a.status for a in compiled.assertions]


# ---------------------------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------------------------


def _intervals(cidrs: Iterable[str]) -> list[tuple[int, int]]:
    return [(n.first, n.last) for n in (IPNetwork(c) for c in cidrs)]


def _inside(addr: int, intervals: Iterable[tuple[int, int]]) -> bool:
    return any(lo <= addr <= hi for lo, hi in intervals)


def _item_packets(item: str) -> frozenset[int] | None:
    """Sample keys of a literal service item, or None when `item` names a service."""
    if item == "ip":
        return ALL_KEYS
    protos = {"tcp": 6, "udp": 17, "icmp": 1}
    word, _, arg = item.partition("/")
    if word not in protos:
        return None
    proto = protos[word]
    if not arg:
        return frozenset(key(p, port) for p, port in SAMPLE_PACKETS if p == proto)
    if proto == 1:
        icmp_type = {"echo-request": 8, "echo-reply": 0}.get(arg)
        return frozenset({key(1, icmp_type if icmp_type is not None else int(arg))})
    lo, _, hi = arg.partition("-")
    first, last = int(lo), int(hi or lo)
    return frozenset(
        key(p, port) for p, port in SAMPLE_PACKETS if p == proto and first <= port <= last
    )


class Oracle:
    def __init__(self, spec: PolicySpec) -> None:
        self.spec = spec
        self.classes = {c.name: _intervals(c.subnets) for c in spec.classes}
        self.class_space = [iv for ivs in self.classes.values() for iv in ivs]
        self.externals = {
            e.name: (_intervals(e.addresses), _intervals(e.excepts)) for e in spec.externals
        }
        self.services: dict[str, tuple[frozenset[int], frozenset[int]]] = {}
        for svc in spec.services:
            self._service(svc.name)
        # Sample addresses and their signatures.
        self.samples: dict[int, Sig | None] = {a: self.signature(a) for a in self._addresses()}
        self.sigs: list[Sig] = sorted(
            {s for s in self.samples.values() if s is not None}, key=lambda s: (s[0], sorted(s[1]))
        )
        self.rules = [
            (r.action, spec.members(r.src), spec.members(r.dst), *self.rule_packets(r))
            for r in spec.rules
        ]
        self.flows: dict[tuple[Sig, Sig], tuple[frozenset[int], frozenset[int]]] = {}
        for a in self.sigs:
            for b in self.sigs:
                self.flows[a, b] = self._flow(a, b, self.rules)
        self.graph: dict[str, set[str]] = {n: set() for n in self.names()}
        for (a, b), (packets, _) in self.flows.items():
            if packets:
                for m1 in a[1]:
                    self.graph[m1] |= b[1]

    # -- construction ----------------------------------------------------------------------
    def _service(self, name: str) -> tuple[frozenset[int], frozenset[int]]:
        if name not in self.services:
            svc = next(s for s in self.spec.services if s.name == name)
            packets: set[int] = set()
            plain: set[int] = set()
            for item in svc.items:
                lit = _item_packets(item)
                if lit is None:
                    sub_packets, sub_plain = self._service(item)
                    packets |= sub_packets
                    plain |= sub_plain
                else:
                    packets |= lit
            self.services[name] = (
                frozenset(packets),
                frozenset(packets) if svc.plaintext else frozenset(plain),
            )
        return self.services[name]

    def rule_packets(self, rule: RuleSpec | AssertSpec) -> tuple[frozenset[int], frozenset[int]]:
        if rule.services is None:
            return ALL_KEYS, ALL_KEYS
        packets = frozenset().union(*(self.services[s][0] for s in rule.services))
        plain = frozenset().union(*(self.services[s][1] for s in rule.services))
        return packets, plain

    def _addresses(self) -> set[int]:
        cidrs = [c for cls in self.spec.classes for c in cls.subnets]
        cidrs += [c for e in self.spec.externals for c in (*e.addresses, *e.excepts)]
        out = {
            0,
            ADDRESS_MAX,
            int(IPNetwork("8.8.8.8").first),
            int(IPNetwork("10.0.0.1").first),
            int(IPNetwork("203.0.113.200").first),
        }
        for lo, hi in _intervals(cidrs):
            out |= {lo, hi, lo - 1, hi + 1, (lo + hi) // 2}
        return {a for a in out if 0 <= a <= ADDRESS_MAX}

    def signature(self, addr: int) -> Sig | None:
        for name, ivs in self.classes.items():
            if _inside(addr, ivs):
                return "class", frozenset({name})
        exts = frozenset(
            name
            for name, (addrs, excepts) in self.externals.items()
            if _inside(addr, addrs) and not _inside(addr, excepts)
        )
        return ("external", exts) if exts else None

    def _flow(
        self,
        a: Sig,
        b: Sig,
        rules: list[tuple[str, frozenset[str], frozenset[str], frozenset[int], frozenset[int]]],
    ) -> tuple[frozenset[int], frozenset[int]]:
        if a == b or (a[0] == b[0] == "external"):
            return frozenset(), frozenset()
        allowed: set[int] = set()
        plain: set[int] = set()
        denied: set[int] = set()
        for action, src, dst, packets, plaintext in rules:
            if a[1] & src and b[1] & dst:
                if action == "allow":
                    allowed |= packets
                    plain |= plaintext
                else:
                    denied |= packets
        effective = frozenset(allowed - denied)
        return effective, effective & plain

    # -- queries ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        return [*self.spec.class_names, *self.spec.external_names]

    def is_class(self, name: str) -> bool:
        return name in self.classes

    def pairs(
        self, src: frozenset[str] | None, dst: frozenset[str]
    ) -> Iterator[tuple[Sig, Sig, frozenset[int], frozenset[int]]]:
        """Signature pairs from `src` (None: anything) to `dst`, with their flow."""
        for a in self.sigs:
            if src is not None and not a[1] & src:
                continue
            for b in self.sigs:
                if b[1] & dst:
                    yield a, b, *self.flows[a, b]

    def distances(self, start: str, without: frozenset[str]) -> dict[str, int]:
        """BFS from `start`; classes outside `without` are the only nodes expanded further."""
        dist = {start: 0}
        queue = deque([start])
        while queue:
            v = queue.popleft()
            if v != start and not (self.is_class(v) and v not in without):
                continue
            for u in sorted(self.graph[v]):
                if u not in dist:
                    dist[u] = dist[v] + 1
                    queue.append(u)
        return dist

    def shortest_paths(
        self, src: frozenset[str], dst: frozenset[str], without: frozenset[str]
    ) -> list[list[str]]:
        """Every shortest path from a member of src to a different member of dst."""
        best: int | None = None
        for s in src:
            d = self.distances(s, without)
            for t in dst:
                if t != s and t in d and (best is None or d[t] < best):
                    best = d[t]
        if best is None:
            return []
        out: list[list[str]] = []

        def walk(path: list[str]) -> None:
            v = path[-1]
            if len(path) == best + 1:
                if v in dst and v != path[0]:
                    out.append(list(path))
                return
            if len(path) > 1 and not (self.is_class(v) and v not in without):
                return
            for u in self.graph[v]:
                if u not in path:
                    walk(path + [u])

        for s in src:
            walk([s])
        return out

    def holds(self, a: AssertSpec) -> bool:
        spec = self.spec
        src = spec.members(a.src) if a.src is not None else None
        dst = spec.members(a.dst)
        if a.kind == "unreachable":
            assert src is not None
            without = spec.members(a.without) if a.without else frozenset()
            return not self.shortest_paths(src, dst, without)
        scope = self.rule_packets(a)[0]
        if a.kind == "denied":
            return not any(packets & scope for _, _, packets, _ in self.pairs(src, dst))
        if a.kind == "limited":
            return not any(packets - scope for _, _, packets, _ in self.pairs(src, dst))
        if a.kind == "only":
            assert src is not None
            return not any(
                packets and not sa[1] & src for sa, _, packets, _ in self.pairs(None, dst)
            )
        if a.kind == "encrypted":
            return not any(plain for _, _, _, plain in self.pairs(src, dst))
        assert a.kind == "allowed" and src is not None
        for m1 in src:
            for m2 in dst:
                if m1 == m2:
                    continue
                for sa in self.sigs:
                    for sb in self.sigs:
                        if m1 in sa[1] and m2 in sb[1] and not scope <= self.flows[sa, sb][0]:
                            return False
        return True

    def status(self, a: AssertSpec) -> str:
        if self.holds(a):
            return "pass"
        return "accepted" if a.accepted is not None else "fail"

    def openers(self, a: Sig, b: Sig) -> tuple[int, ...]:
        """The allows that open some of the effective flow a -> b, by statement index."""
        effective = self.flows[a, b][0]
        return tuple(i for i in range(len(self.rules)) if self.opens(i, a, b, effective))

    def witnesses(
        self, src: str, dst: str
    ) -> Iterator[tuple[Sig, Sig, frozenset[int], frozenset[int]]]:
        """Signature pairs standing for the member pair src -> dst, with their flow."""
        return (
            (a, b, *self.flows[a, b])
            for a in self.sigs
            if src in a[1]
            for b in self.sigs
            if dst in b[1]
        )

    def opens(
        self, rule: int | None, a: Sig, b: Sig, packets: frozenset[int], plaintext: bool = False
    ) -> bool:
        """Whether allow number `rule` covers a -> b and opens some of `packets`."""
        if rule is None:
            return False
        action, src, dst, rule_packets, rule_plain = self.rules[rule]
        return (
            action == "allow"
            and bool(a[1] & src)
            and bool(b[1] & dst)
            and bool((rule_plain if plaintext else rule_packets) & packets)
        )


def written_services(services: tuple[str, ...] | None) -> tuple[str, ...]:
    return ("ip",) if services is None else tuple(dict.fromkeys(services))


def check_counterexample(oracle: Oracle, a: AssertSpec, got: AssertionResult) -> None:
    """A failing assertion's counterexample names real members and the allow that opens the
    offending flow (docs/language.md, 9): a path for `unreachable`, one flow for the others."""
    spec = oracle.spec
    hops = got.counterexample
    assert hops, a.text()
    src = spec.members(a.src) if a.src is not None else None
    dst = spec.members(a.dst)
    scope = oracle.rule_packets(a)[0]
    if a.kind == "unreachable":
        for h in hops:
            assert any(
                oracle.opens(h.rule, sa, sb, packets)
                for sa, sb, packets, _ in oracle.witnesses(h.src, h.dst)
            ), (a.text(), h)
            assert h.rule is not None
            assert h.services == written_services(spec.rules[h.rule].services), (a.text(), h)
        return
    assert len(hops) == 1, (a.text(), hops)
    h = hops[0]
    assert h.dst in dst, (a.text(), h)
    if a.kind == "allowed":
        assert src is not None and h.src in src and h.src != h.dst and h.rule is None
        assert h.services == tuple(dict.fromkeys(a.services or ())), (a.text(), h)
        assert any(not scope <= packets for _, _, packets, _ in oracle.witnesses(h.src, h.dst))
        return
    if a.kind == "only":
        assert src is not None and h.src not in src, (a.text(), h)
        found = any(
            not sa[1] & src and oracle.opens(h.rule, sa, sb, packets)
            for sa, sb, packets, _ in oracle.witnesses(h.src, h.dst)
        )
    else:
        assert src is None or h.src in src, (a.text(), h)

        def offending(packets: frozenset[int], plain: frozenset[int]) -> frozenset[int]:
            if a.kind == "denied":
                return packets & scope
            return packets - scope if a.kind == "limited" else plain

        found = any(
            oracle.opens(h.rule, sa, sb, offending(packets, plain), plaintext=a.kind == "encrypted")
            for sa, sb, packets, plain in oracle.witnesses(h.src, h.dst)
        )
    assert found, (a.text(), h)
    assert h.rule is not None
    assert h.services == written_services(spec.rules[h.rule].services), (a.text(), h)


def endpoint_of(compiled: CompiledPolicy, addr: int) -> Endpoint | None:
    found = [ep for ep in compiled.endpoints if any(p.first <= addr <= p.last for p in ep.prefixes)]
    assert len(found) <= 1, f"address {addr} is in several endpoints: {found}"
    return found[0] if found else None


def sig_matches(sig: Sig | None, ep: Endpoint | None) -> bool:
    if sig is None or ep is None:
        return sig is None and ep is None
    if sig[0] == "class":
        return ep.kind == "class" and {ep.name} == sig[1]
    return ep.kind == "external" and set(ep.externals) == sig[1]


# ---------------------------------------------------------------------------------------------
# Explicit examples (regressions and corner cases)
# ---------------------------------------------------------------------------------------------

_WEB = ClassSpec("web", ("10.0.1.0/24",), 101)
_DB = ClassSpec("db", ("10.0.2.0/25",), 102, ("medical",))
_HTTPS = ServiceSpec("https", ("tcp/443",))
_DNS = ServiceSpec("dns", ("udp/53", "https"), plaintext=True)

# internet overlaps vendor; a rule toward internet reaches vendor's addresses too.
EX_OVERLAP = PolicySpec(
    (_WEB, _DB),
    (
        ExternalSpec("internet", ("0.0.0.0/0",), ("203.0.113.128/25",)),
        ExternalSpec("vendor", ("203.0.113.0/24",)),
    ),
    (_HTTPS, _DNS),
    (
        RuleSpec("allow", Sel(("web",)), Sel(("internet",)), ("https",)),
        RuleSpec("deny", Sel(("internal",)), Sel(("vendor",)), ("dns",)),
        RuleSpec("allow", Sel(("any",)), Sel(("tag:medical",)), ("dns",)),
        RuleSpec("allow", Sel(("vendor",)), Sel(("web",)), ("https",)),
    ),
    (
        AssertSpec("denied", Sel(("web",)), Sel(("vendor",))),
        AssertSpec("unreachable", Sel(("vendor",)), Sel(("web",))),
        AssertSpec("allowed", Sel(("web",)), Sel(("internet",)), ("https",)),
        AssertSpec("only", Sel(("external", "web")), Sel(("db",))),
        AssertSpec("only", Sel(("internal", "internet")), Sel(("web",))),
        AssertSpec("only", Sel(("internal",)), Sel(("web",))),
        AssertSpec("encrypted", None, Sel(("db",))),
    ),
)


# A chain web -> pacs -> db, with internet on both sides of web and pacs: `without` cuts the
# chain, and externals are never intermediate hops (pacs -> internet -> web is no path).
_PACS = ClassSpec("pacs", ("10.0.3.5/32", "10.0.3.64/27"), 103, (), "high")
EX_CHAIN = PolicySpec(
    (_WEB, _DB, _PACS),
    (ExternalSpec("internet", ("0.0.0.0/0",)),),
    (_HTTPS, _DNS),
    (
        RuleSpec("allow", Sel(("web",)), Sel(("pacs",)), ("https",)),
        RuleSpec("allow", Sel(("pacs",)), Sel(("db",)), ("dns",)),
        RuleSpec("allow", Sel(("internet",)), Sel(("web",)), ("https",)),
        RuleSpec("allow", Sel(("pacs",)), Sel(("internet",))),
        RuleSpec("deny", Sel(("pacs",)), Sel(("internet",)), ("https",)),
    ),
    (
        AssertSpec("unreachable", Sel(("web",)), Sel(("db",)), without=Sel(("pacs",))),
        AssertSpec("unreachable", Sel(("web",)), Sel(("db",))),
        AssertSpec("unreachable", Sel(("web", "db")), Sel(("db", "web"))),
        AssertSpec("unreachable", Sel(("internet",)), Sel(("db",)), without=Sel(("web",))),
        AssertSpec("unreachable", Sel(("internet",)), Sel(("db",)), accepted="known risk"),
        AssertSpec("unreachable", Sel(("pacs",)), Sel(("web",))),
        AssertSpec("limited", Sel(("pacs",)), Sel(("external",)), ("dns",)),
        AssertSpec("encrypted", Sel(("pacs",)), Sel(("internal",))),
    ),
)


# ---------------------------------------------------------------------------------------------
# 1. Flows agree with the oracle on every sampled address pair and packet
# ---------------------------------------------------------------------------------------------


@SLOW_OK
@given(policies(max_assertions=0))
@example(EX_OVERLAP)
@example(EX_CHAIN)
def test_flows_match_oracle(spec: PolicySpec) -> None:
    compiled = compile_spec(spec)
    oracle = Oracle(spec)
    sig_endpoint: dict[Sig, set[int]] = {}
    hit: set[int] = set()
    for addr, sig in oracle.samples.items():
        ep = endpoint_of(compiled, addr)
        assert sig_matches(sig, ep), (str(IPNetwork(addr)), sig, ep)
        if ep is not None and sig is not None:
            hit.add(ep.id)
            sig_endpoint.setdefault(sig, set()).add(ep.id)
    # Every endpoint starts at a sampled boundary, so every flow below is checked.
    assert hit == {ep.id for ep in compiled.endpoints}
    flows = {(f.src, f.dst): f for f in compiled.flows}
    for a, eps_a in sig_endpoint.items():
        for b, eps_b in sig_endpoint.items():
            want_packets, want_plain = oracle.flows[a, b]
            for s in eps_a:
                for d in eps_b:
                    f = flows.get((s, d))
                    assert (f.rules if f else ()) == oracle.openers(a, b), (a, b)
                    got_packets = f.packets if f else PacketSet()
                    got_plain = f.plaintext if f else PacketSet()
                    for k in ALL_KEYS:
                        assert (k in got_packets) == (k in want_packets), (a, b, divmod(k, 65536))
                        assert (k in got_plain) == (k in want_plain), (a, b, divmod(k, 65536))


# ---------------------------------------------------------------------------------------------
# 2. `unreachable` agrees with BFS on the oracle's graph; counterexamples are shortest paths
# ---------------------------------------------------------------------------------------------


@SLOW_OK
@given(policies(kinds=("unreachable",), min_assertions=1, max_assertions=4))
@example(EX_OVERLAP)
@example(EX_CHAIN)
def test_unreachable_matches_bfs(spec: PolicySpec) -> None:
    compiled = compile_spec(spec)
    oracle = Oracle(spec)
    for a, got in zip(spec.assertions, compiled.assertions, strict=True):
        if a.kind != "unreachable":
            continue
        assert got.status == oracle.status(a), a.text()
        if got.status == "pass":
            continue
        assert a.src is not None
        without = spec.members(a.without) if a.without else frozenset()
        paths = oracle.shortest_paths(spec.members(a.src), spec.members(a.dst), without)
        hops = got.counterexample or ()
        path = [hops[0].src, *(h.dst for h in hops)] if hops else []
        assert all(x.dst == y.src for x, y in zip(hops, hops[1:], strict=False)), hops
        # The shortest path, ties broken by the smallest sequence of node names.
        assert path == min(paths), (a.text(), path, paths)
        check_counterexample(oracle, a, got)


# ---------------------------------------------------------------------------------------------
# 3. Adding a deny or removing an allow never enlarges the flows
# ---------------------------------------------------------------------------------------------

_RESTRICTIVE = ("unreachable", "denied", "only", "limited", "encrypted")


@SLOW_OK
@given(policies(), st.data())
def test_fewer_permissions_never_enlarge_flows(spec: PolicySpec, data: st.DataObject) -> None:
    allows = [i for i, r in enumerate(spec.rules) if r.action == "allow"]
    if data.draw(st.booleans(), label="add deny"):
        deny = data.draw(rules_for(spec, "deny"), label="deny")
        where = data.draw(st.integers(0, len(spec.rules)), label="at")
        rules = spec.rules[:where] + (deny,) + spec.rules[where:]
    else:
        drop = data.draw(st.sampled_from(allows), label="removed allow")
        rules = spec.rules[:drop] + spec.rules[drop + 1 :]
    smaller = spec.with_(rules=rules)
    before, after = compile_spec(spec), compile_spec(smaller)
    assert after.endpoints == before.endpoints
    old, new = flow_table(before), flow_table(after)
    for pair, (packets, plain) in new.items():
        assert pair in old, pair
        assert packets.issubset(old[pair][0]), pair
        assert plain.issubset(old[pair][1]), pair
    # So assertions can only get better, except `allowed`, which can only get worse.
    for a, s0, s1 in zip(spec.assertions, statuses(before), statuses(after), strict=True):
        if a.kind in _RESTRICTIVE and s0 == "pass":
            assert s1 == "pass", a.text()
        if a.kind == "allowed" and s0 != "pass":
            assert s1 != "pass", a.text()


# ---------------------------------------------------------------------------------------------
# 4. Statement order never matters
# ---------------------------------------------------------------------------------------------


def _hop_path(compiled: CompiledPolicy) -> list[tuple[str, str, list[tuple[str, str]]]]:
    return sorted(
        (
            a.text,
            a.status,
            [(h.src, h.dst) for h in a.counterexample or ()]
            if a.kind.value == "unreachable"
            else [],
        )
        for a in compiled.assertions
    )


@SLOW_OK
@given(policies(shuffled=True))
def test_statement_order_does_not_matter(spec: PolicySpec) -> None:
    natural, shuffled = compile_spec(spec.with_()), compile_spec(spec)
    assert shuffled.endpoints == natural.endpoints
    assert flow_table(shuffled) == flow_table(natural)
    assert _hop_path(shuffled) == _hop_path(natural)


# ---------------------------------------------------------------------------------------------
# 5. Services that match the same packets are interchangeable
# ---------------------------------------------------------------------------------------------


def _equivalent_items(items: tuple[str, ...], data: st.DataObject) -> tuple[str, ...]:
    """The same packets written differently: ranges split, ICMP names as numbers, reordered,
    an item repeated."""
    out: list[str] = []
    for item in items:
        word, _, arg = item.partition("/")
        lo, dash, hi = arg.partition("-")
        if dash and lo.isdigit() and int(hi) > int(lo):
            cut = data.draw(st.integers(int(lo), int(hi) - 1), label="split")
            out += [f"{word}/{lo}-{cut}", f"{word}/{cut + 1}-{hi}"]
        elif item == "icmp/echo-request":
            out.append("icmp/8")
        elif item == "icmp/8":
            out.append("icmp/echo-request")
        else:
            out.append(item)
    out.append(data.draw(st.sampled_from(out), label="repeated"))
    return tuple(data.draw(st.permutations(out), label="order"))


def _rename(refs: tuple[str, ...] | None, old: str, new: str) -> tuple[str, ...] | None:
    return None if refs is None else tuple(new if r == old else r for r in refs)


@SLOW_OK
@given(policies(), st.data())
def test_service_aliases_are_interchangeable(spec: PolicySpec, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(spec.services), label="aliased service")
    alias = ServiceSpec(
        f"alias-{target.name}", _equivalent_items(target.items, data), target.plaintext
    )
    in_services = data.draw(st.booleans(), label="also inside other services")
    services = tuple(
        dataclasses.replace(s, items=_rename(s.items, target.name, alias.name) or ())
        if in_services
        else s
        for s in spec.services
    ) + (alias,)
    rules = tuple(
        dataclasses.replace(r, services=_rename(r.services, target.name, alias.name))
        for r in spec.rules
    )
    assertions = tuple(
        dataclasses.replace(a, services=_rename(a.services, target.name, alias.name))
        for a in spec.assertions
    )
    aliased = spec.with_(services=services, rules=rules, assertions=assertions)
    before, after = compile_spec(spec), compile_spec(aliased)
    assert after.endpoints == before.endpoints
    assert flow_table(after) == flow_table(before)
    assert statuses(after) == statuses(before)


# ---------------------------------------------------------------------------------------------
# 6. `denied`, `allowed`, `only`, `limited` and `encrypted` agree with the oracle
# ---------------------------------------------------------------------------------------------


@SLOW_OK
@given(
    policies(
        kinds=("denied", "allowed", "only", "limited", "encrypted"),
        min_assertions=1,
        max_assertions=6,
    )
)
@example(EX_OVERLAP)
@example(EX_CHAIN)
def test_direct_assertions_match_oracle(spec: PolicySpec) -> None:
    compiled = compile_spec(spec)
    oracle = Oracle(spec)
    for a, got in zip(spec.assertions, compiled.assertions, strict=True):
        if a.kind == "unreachable":
            continue
        assert got.status == oracle.status(a), (a.text(), got.message)
        if got.status == "pass":
            assert got.counterexample is None, a.text()
        else:
            check_counterexample(oracle, a, got)


# ---------------------------------------------------------------------------------------------
# 7. Dead, redundant and no-effect rules (W101, W102, W108) agree with the oracle
# ---------------------------------------------------------------------------------------------


def expected_lints(oracle: Oracle) -> dict[str, set[int]]:
    """Rule indices per warning code, from the oracle's sampled flows.

    no effect: the rule covers no pair that can be a flow (same class, external to external);
    dead: an allow whose packets the denies remove on every pair it covers;
    redundant: an allow, not dead, whose packets on every pair are opened by other allows;
    deciding from the last statement to the first, so of two allows covering each other the
    later one is reported (flows.py documents this tie-break).
    """
    rules = oracle.rules
    covered: dict[int, list[tuple[Sig, Sig]]] = {
        i: [
            (a, b)
            for a in oracle.sigs
            for b in oracle.sigs
            if a != b and not a[0] == b[0] == "external" and a[1] & src and b[1] & dst
        ]
        for i, (_, src, dst, _, _) in enumerate(rules)
    }
    allows = [i for i, r in enumerate(rules) if r[0] == "allow" and covered[i]]

    def opened(i: int, a: Sig, b: Sig) -> bool:
        _, src, dst, _, _ = rules[i]
        return bool(a[1] & src and b[1] & dst)

    def denied(a: Sig, b: Sig) -> frozenset[int]:
        return frozenset().union(
            *(r[3] for i, r in enumerate(rules) if r[0] == "deny" and opened(i, a, b))
        )

    dead = {i for i in allows if all(rules[i][3] <= denied(a, b) for a, b in covered[i])}
    removed: set[int] = set()
    for i in sorted(set(allows) - dead, reverse=True):
        if all(
            rules[i][3]
            <= frozenset().union(
                *(rules[j][3] for j in allows if j != i and j not in removed and opened(j, a, b))
            )
            for a, b in covered[i]
        ):
            removed.add(i)
    return {"W101": dead, "W102": removed, "W108": {i for i in range(len(rules)) if not covered[i]}}


@SLOW_OK
@given(policies(max_assertions=0))
def test_rule_lints_match_oracle(spec: PolicySpec) -> None:
    parsed = parse_text(spec.text(), "t.zw")
    result = compile_policy(parsed.policy)
    first_rule_line = len(spec.statements()) - len(spec.rules) - len(spec.assertions) + 1
    got: dict[str, set[int]] = {"W101": set(), "W102": set(), "W108": set()}
    for d in result.diagnostics:
        if d.code in got:
            assert d.span is not None
            got[d.code].add(d.span.line - first_rule_line)
    assert got == expected_lints(Oracle(spec))
