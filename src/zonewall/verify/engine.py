"""First-match evaluation of a parsed `Ruleset` over sets of service keys, made fast.

What a ruleset means is stated plainly in `reference.py`: for one *cell* (ingress and egress
interface, source and destination address group) and one *context* (conntrack state, a source
port standing for its class, TCP ACK/RST flag) every rule either matches all packets of a
service key or none, so a chain walk can carry the undecided keys as a `PacketSet`: ACCEPT and
DROP take their keys out, RETURN hands them back, LOG goes on, a jump evaluates its target on
the matching keys and resumes with what the target did not decide, a goto hands the target's
undecided keys straight to this chain's caller, and a base chain's policy (an ACL's implicit
deny) decides what is left.  `Evaluator` computes exactly that (`_walk`), with accelerations
layered around it, each of which can only skip work, never change a verdict:

* static facts per chain, found once (`_ChainFacts`, `_dims`: what a chain and the chains it
  reaches test), so a chain that tests no egress or destination is one memo look-up per row;
* rules filtered per ingress, source and context (`_filter`) and indexed per dimension
  (`index.py`), so a walk tests only the rules that can match;
* walks memoised on the parts of the cell a chain actually tests, so the pair chains of a zone
  layout are evaluated once, not once per address pair;
* `accepted_many`: one walk for a whole row of destinations, carried in groups that the rules
  so far treated alike (`_walk_many`).

`tests/property/test_engine_reference.py` holds `accepted` and `accepted_many` to
`reference.accepted` on random rulesets.  `explain` repeats a walk while recording which rule
decided which keys, and `trace` is a plain per-packet interpreter, written separately, that the
comparison uses to re-check one concrete packet of every difference it reports.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from netaddr import IPAddress

from zonewall.packets import PORT_SPAN, PacketSet

from .index import AddrIndex, NameIndex
from .replies import port_cuts, reply_flows, reply_keys
from .rules import EMPTY, EVERYTHING, AddrMatch, Chain, NameMatch, Rule, RuleRef, Ruleset

__all__ = ["Cell", "Context", "Ctx", "Evaluator", "Piece"]


class Context(NamedTuple):
    """What a packet carries besides addresses and its service key."""

    state: str | None  # conntrack state (NEW, ESTABLISHED, ...); None on a stateless ruleset
    sport: int  # source port (standing for its class of source ports)
    ack: bool  # TCP ACK or RST set


# Every context is a `Context` (the short name reads better in signatures).
Ctx = Context
MAX_DEPTH = 64
MIN_INDEXED = 12  # chains with fewer rules are scanned, not indexed


@dataclass(frozen=True, slots=True)
class Cell:
    """Where a packet is: interfaces, and source/destination (group id, address)."""

    iif: str
    oif: str | None
    sid: int
    src: int
    did: int
    dst: int


@dataclass(frozen=True, slots=True)
class Piece:
    """Keys one rule (or a chain policy) decided: `verdict` is ACCEPT or DROP."""

    packets: PacketSet
    verdict: str
    ref: RuleRef
    path: tuple[RuleRef, ...] = ()  # the jumps (and gotos) that led to `ref`


class Evaluator:
    """Set-based first-match evaluation of one `Ruleset` (see the module docstring)."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.chains = ruleset.chains
        # what each chain's own rules test, and what it and the chains it reaches test
        self._direct: dict[str, frozenset[str]] = {
            name: _dims_of(chain.rules) for name, chain in self.chains.items()
        }
        self._dims: dict[str, frozenset[str]] = {}
        for name in self.chains:
            self._closure_dims(name, ())
        self._facts: dict[str, _ChainFacts] = {}
        self._filtered_cache: dict[tuple[object, ...], _Filtered] = {}
        self._indexes: dict[str, dict[str, NameIndex | AddrIndex | None]] = {}
        self._source_cache: dict[tuple[str, str | None, int | None], tuple[int, ...]] = {}
        self._sport_cache: dict[tuple[str, int], frozenset[tuple[int, int, bool]]] = {}
        self._split_cache: dict[tuple[str, str | None, int | None], _ContextSplit] = {}
        self._ingress_cache: dict[str, list[tuple[str, list[int], AddrIndex]]] = {}
        self._reach_cache: dict[str, list[str]] = {}
        self._row_chain_cache: dict[tuple[str, int], list[tuple[str, frozenset[int]]]] = {}
        self._sporty_cache: dict[tuple[str, str | None, int | None], tuple[int, ...]] = {}
        self._sporty_sets: dict[tuple[str, str | None, int | None], frozenset[int]] = {}
        self._memo: dict[tuple[object, ...], tuple[PacketSet, PacketSet]] = {}
        self._dep_cache: dict[tuple[object, ...], bool] = {}
        self._global_cuts = sorted(ruleset.sport_cuts())
        self._last_ranges: tuple[Cell | None, frozenset[tuple[int, int, bool]]] = (
            None,
            frozenset(),
        )

    # -- static analysis -----------------------------------------------------------------------
    def _terminates(self, name: str | None) -> bool:
        """True when user chain `name` decides every packet that enters it: it has an
        unconditional ACCEPT or DROP with no RETURN or GOTO before it (chains it jumps to come
        back into it).  A jump to it with no other condition then ends its caller's walk too
        (zonewall's entry chain jumping to `zw-main`)."""
        if name is None:
            return False
        for rule in self.chains[name].rules:
            if rule.action in ("RETURN", "GOTO"):
                return False
            if (
                rule.action in ("ACCEPT", "DROP")
                and rule.iif is None
                and rule.oif is None
                and rule.src is None
                and rule.dst is None
                and rule.keys == EVERYTHING
                and rule.sports is None
                and rule.states is None
                and not rule.ack
            ):
                return True
        return False

    def _closure_dims(self, name: str, stack: tuple[str, ...]) -> frozenset[str]:
        if name in self._dims:
            return self._dims[name]
        if name in stack or len(stack) > MAX_DEPTH:
            raise ValueError(f"chain loop through {' -> '.join((*stack, name))}")
        dims = set(self._direct[name])
        for rule in self.chains[name].rules:
            if rule.target is not None:
                dims.update(self._closure_dims(rule.target, (*stack, name)))
        self._dims[name] = frozenset(dims)
        return self._dims[name]

    def _filtered(self, name: str, cell: Cell, ctx: Ctx) -> tuple[tuple[Rule, ...], bool]:
        """Rules of `name` that can match in this cell's ingress/source and context, and
        whether any of them (or a chain it reaches) still tests egress or destination."""
        got = self._filter(name, cell, ctx)
        return got.rules, got.dep and self._depends(name, cell, ctx)

    def _depends(self, name: str, cell: Cell, ctx: Ctx) -> bool:
        """Whether a kept rule of `name` tests egress or destination, or jumps to a chain
        that, for this cell and context, still does (not just any rule of that chain): a
        jump to a chain that decides everything before its destination tests is not."""
        dims = self._dims[name]
        dkey = (name, ctx, cell.iif if "iif" in dims else None, cell.sid if "src" in dims else None)
        hit = self._dep_cache.get(dkey)
        if hit is None:
            got = self._filter(name, cell, ctx)
            rules = self.chains[name].rules
            hit = self._dep_cache[dkey] = got.dep and any(
                rules[p].oif is not None
                or rules[p].dst is not None
                or self._depends(str(rules[p].target), cell, ctx)
                for p in self._chain_facts(name).dst_dependent.intersection(got.positions)
            )
        return hit

    def _filter(self, name: str, cell: Cell, ctx: Ctx) -> _Filtered:
        direct = self._direct[name]
        iif = cell.iif if "iif" in direct else None
        sid = cell.sid if "src" in direct else None
        fkey = (name, ctx, iif, sid)
        hit = self._filtered_cache.get(fkey)
        if hit is not None:
            return hit
        chain_rules = self.chains[name].rules
        split = self._context_split(name, cell, iif, sid)
        state, sport, ack = ctx
        # Rule.matches_context, inlined: this runs for every context of every row.  Rules
        # naming single source ports are looked up by port instead of tested one by one.
        kept = [
            p
            for p, r in (*split.generic, *split.by_port.get(sport, ()), *split.ranged)
            if (r.states is None or (state is not None and state in r.states))
            and (ack or not r.ack)
            and (r.sports is None or any(lo <= sport <= hi for lo, hi in r.sports))
        ]
        positions = tuple(sorted({*split.free, *kept})) if kept else split.free
        # A rule that decides every key, whatever the egress and destination, ends the walk:
        # the rules after it can never match (e.g. an ESTABLISHED accept in a stateful base
        # chain), and must not make the chain look destination-dependent.
        enders = self._chain_facts(name).decides_all
        if not enders.isdisjoint(positions):
            end = min(enders.intersection(positions))
            positions = tuple(p for p in positions if p <= end)
        rules = tuple(chain_rules[p] for p in positions)
        dep = not self._chain_facts(name).dst_dependent.isdisjoint(positions)
        made = self._filtered_cache[fkey] = _Filtered(rules, frozenset(positions), dep)
        return made

    def _context_split(
        self, name: str, cell: Cell, iif: str | None, sid: int | None
    ) -> _ContextSplit:
        """The rules of `name` matching the cell's ingress and source, split by what they
        test of the context (see `_ContextSplit`)."""
        akey = (name, iif, sid)
        hit = self._split_cache.get(akey)
        if hit is None:
            free = self._chain_facts(name).context_free
            chain_rules = self.chains[name].rules
            hit = self._split_cache[akey] = _ContextSplit((), [], {}, [])
            free_positions: list[int] = []
            for p in self._source_positions(name, cell, iif, sid):
                r = chain_rules[p]
                if p in free:
                    free_positions.append(p)
                elif r.sports is None:
                    hit.generic.append((p, r))
                elif all(lo == hi for lo, hi in r.sports):
                    for port, _ in r.sports:
                        hit.by_port.setdefault(port, []).append((p, r))
                else:
                    hit.ranged.append((p, r))
            hit.free = tuple(free_positions)
        return hit

    def _source_positions(
        self, name: str, cell: Cell, iif: str | None, sid: int | None
    ) -> tuple[int, ...]:
        """Positions of the rules of `name` matching the cell's ingress and source, whatever
        the context (`iif`/`sid`: the cell's, or None when the chain does not test them)."""
        akey = (name, iif, sid)
        hit = self._source_cache.get(akey)
        if hit is None:
            chain_rules = self.chains[name].rules
            cand = self._candidates(name, cell, ("iif", "src"))
            hit = self._source_cache[akey] = tuple(
                p
                for p in (range(len(chain_rules)) if cand is None else cand)
                if ((r := chain_rules[p]).iif is None or r.iif.matches(cell.iif))
                and (r.src is None or r.src.matches(cell.src))
            )
        return hit

    def _rules_for(self, name: str, cell: Cell, ctx: Ctx) -> Sequence[Rule]:
        """The filtered rules of `name` that may also match this cell's egress and destination,
        in order (a superset: callers still test `_dst_matches`)."""
        return self._for_destination(name, cell, self._filter(name, cell, ctx))

    def _for_destination(self, name: str, cell: Cell, got: _Filtered) -> Sequence[Rule]:
        """`_rules_for` of the filtered rules `got` of `name` for this cell."""
        if not got.dep:
            return got.rules
        cand = self._candidates(name, cell, ("oif", "dst"))
        if cand is None or len(cand) >= len(got.rules):
            return got.rules
        chain_rules = self.chains[name].rules
        return [chain_rules[p] for p in cand if p in got.positions]

    def _candidates(self, name: str, cell: Cell, dims: tuple[str, ...]) -> tuple[int, ...] | None:
        """Positions of the rules of `name` that may match `cell` on every one of `dims` (the
        shortest of the per-dimension candidate lists), or None: no rule tests them, or the
        chain is too short to be worth an index (callers then test every rule)."""
        indexes = self._indexes.get(name)
        if indexes is None:
            rules = self.chains[name].rules
            indexes = self._indexes[name] = (
                _chain_indexes(self.chains[name])
                if len(rules) >= MIN_INDEXED
                else dict.fromkeys(("iif", "oif", "src", "dst"))
            )
        best: tuple[int, ...] | None = None
        for dim in dims:
            index = indexes[dim]
            if index is None:
                continue
            if isinstance(index, NameIndex):
                cand = index.candidates(cell.iif if dim == "iif" else cell.oif)
            else:
                cand = index.candidates(cell.src if dim == "src" else cell.dst)
            if best is None or len(cand) < len(best):
                best = cand
        return best

    def _chain_facts(self, name: str) -> _ChainFacts:
        """What the rules of `name` test (see `_ChainFacts`), found in one pass over them."""
        found = self._facts.get(name)
        if found is not None:
            return found
        context_free: list[int] = []
        decides_all: list[int] = []
        sporty: list[int] = []
        src_testing: list[int] = []
        dst_testing: list[int] = []
        dst_dependent: list[int] = []
        jumps: list[int] = []
        for p, r in enumerate(self.chains[name].rules):
            free = r.states is None and not r.ack and r.sports is None
            if free:
                context_free.append(p)
            tests_dst = r.oif is not None or r.dst is not None
            if (
                not tests_dst
                and r.keys == EVERYTHING
                and (
                    r.action in ("ACCEPT", "DROP")
                    or (r.action == "JUMP" and self._terminates(r.target))
                )
            ):
                decides_all.append(p)
            if r.target is not None:
                jumps.append(p)
            if r.sports is not None or r.target is not None:
                sporty.append(p)
            if r.src is not None:
                src_testing.append(p)
            if tests_dst:
                dst_testing.append(p)
            if tests_dst or (
                r.target is not None and not self._dims[r.target].isdisjoint(("oif", "dst"))
            ):
                dst_dependent.append(p)
        found = self._facts[name] = _ChainFacts(
            frozenset(context_free),
            frozenset(decides_all),
            frozenset(decides_all).intersection(context_free),
            frozenset(sporty),
            frozenset(src_testing),
            frozenset(dst_testing),
            frozenset(dst_dependent),
            frozenset(jumps),
        )
        return found

    # -- set-based evaluation ------------------------------------------------------------------
    def accepted(self, cell: Cell, ctx: Ctx) -> PacketSet:
        """Service keys accepted for packets of this cell and context."""
        alive = EVERYTHING
        for name in self.ruleset.entries(cell.iif):
            acc, _ = self._walk(name, cell, ctx, 0)
            alive = _and(alive, acc)
            if not alive:
                break
        return alive

    @property
    def source_ports_untested(self) -> bool:
        """True when no rule tests the source port: one source-port class for every cell."""
        return len(self._global_cuts) == 1

    def accepted_many(self, cells: Sequence[Cell], ctx: Ctx) -> list[PacketSet]:
        """`accepted(cell, ctx)` for each of `cells`, which share one ingress and source
        (group): the chains are walked once for all of them (`_walk_many`)."""
        if not cells:
            return []
        order = sorted(range(len(cells)), key=lambda i: cells[i].dst)
        targets = _Targets(cells, [cells[i].dst for i in order], order)
        alive = [EVERYTHING] * len(cells)
        for name in self.ruleset.entries(cells[0].iif):
            for group, (acc, _) in self._walk_many(name, targets, set(range(len(cells))), ctx, 0):
                for i in group:
                    alive[i] = _and(alive[i], acc)
        return alive

    def _walk_many(
        self, name: str, targets: _Targets, live: set[int], ctx: Ctx, depth: int
    ) -> list[tuple[set[int], tuple[PacketSet, PacketSet]]]:
        """`_walk` of chain `name` for each of the `live` targets (positions in
        `targets.cells`), as groups of targets with the same (accepted, undecided) keys.

        The targets travel in groups that every rule so far treated alike: a rule that tests
        neither egress nor destination is applied once per group, one that does splits each
        group into the targets it matches (found through their sorted addresses) and the
        rest, and a jump splits a group by what the target chain did to its parts.  So the
        dispatch chains of a zone layout cost their rules once per row, not once per cell."""
        cells = targets.cells
        first = cells[next(iter(live))]
        dims = self._dims[name]
        if "oif" not in dims and "dst" not in dims:  # every target alike: one walk
            return [(live, self._walk(name, first, ctx, depth))]
        rules, dep = self._filtered(name, first, ctx)
        if not dep:  # every target alike here too: one (memoised) walk
            return [(live, self._walk(name, first, ctx, depth))]
        if depth > MAX_DEPTH:
            raise ValueError(f"chain nesting deeper than {MAX_DEPTH} at '{name}'")
        active = [_Walking(live, EVERYTHING, [], [])]  # groups with undecided keys left
        done: list[_Walking] = []  # groups every key of which is decided
        for rule in rules:
            if rule.action == "CONTINUE":
                continue
            hit: list[_Walking] = active
            missed: list[_Walking] = []
            if rule.oif is not None or rule.dst is not None:
                oif = rule.oif
                matched = {
                    t
                    for t in targets.matching(rule.dst)
                    if oif is None or oif.matches(cells[t].oif)
                }
                hit = []
                for g in active:
                    inside = g.targets & matched
                    if len(inside) == len(g.targets):
                        hit.append(g)
                    elif not inside:
                        missed.append(g)
                    else:  # the matched targets leave the group
                        g.targets -= inside
                        missed.append(g)
                        hit.append(_Walking(inside, g.rest, list(g.acc), list(g.undecided)))
            active = missed
            for g in hit:
                m = _and(g.rest, rule.keys)
                if not m:
                    active.append(g)
                    continue
                left = _minus(g.rest, m)
                if rule.action in ("JUMP", "GOTO"):
                    assert rule.target is not None
                    sub = self._walk_many(rule.target, targets, g.targets, ctx, depth + 1)
                    for part, (sub_acc, sub_und) in self._split_by(g, sub):
                        part.acc.append(_and(sub_acc, m))
                        if rule.action == "JUMP":
                            part.rest = _or(left, _and(sub_und, m))
                        else:
                            part.undecided.append(_and(sub_und, m))
                            part.rest = left
                        (active if part.rest else done).append(part)
                    continue
                if rule.action == "ACCEPT":
                    g.acc.append(m)
                elif rule.action == "RETURN":
                    g.undecided.append(m)
                g.rest = left  # DROP: only taken out
                (active if left else done).append(g)
            if not active:
                break
        chain = self.chains[name]
        return [
            (
                g.targets,
                _apply_policy(
                    chain,
                    PacketSet.union_all(g.acc),
                    PacketSet.union_all([*g.undecided, g.rest]),
                ),
            )
            for g in (*done, *active)
        ]

    @staticmethod
    def _split_by(
        g: _Walking, sub: list[tuple[set[int], tuple[PacketSet, PacketSet]]]
    ) -> list[tuple[_Walking, tuple[PacketSet, PacketSet]]]:
        """Group `g` split along the groups of a jump's result: one part per result group
        (the last keeps `g` itself), each with that result."""
        out: list[tuple[_Walking, tuple[PacketSet, PacketSet]]] = []
        for i, (members, result) in enumerate(sub):
            if i == len(sub) - 1:
                g.targets = members
                out.append((g, result))
            else:
                out.append((_Walking(members, g.rest, list(g.acc), list(g.undecided)), result))
        return out

    def new_permitted(
        self, ingress: str, egress: str | None, src: int | str, dst: int | str
    ) -> PacketSet:
        """Service keys whose NEW packets (TCP without ACK) from `src` to `dst`, entering on
        `ingress` and leaving on `egress`, are accepted whatever their source port."""
        cell = _address_cell(ingress, egress, src, dst)
        state = "NEW" if self.ruleset.stateful else None
        out = EVERYTHING
        for lo in self.sport_cuts(cell):
            out = _and(out, self.accepted(cell, Context(state, lo, False)))
        return out

    def reply_permitted(
        self, ingress: str, egress: str | None, src: int | str, dst: int | str, flows: PacketSet
    ) -> PacketSet:
        """Of `flows` (service keys of flows `dst -> src`), those whose every reply packet
        from `src` to `dst` entering on `ingress` is accepted: conntrack ESTABLISHED packets
        on a stateful ruleset; on a stateless one TCP with ACK/RST from the service port, UDP
        from the service port, ICMP echo-reply for echo (docs/language.md, 6.3)."""
        cell = _address_cell(ingress, egress, src, dst)
        stateless = not self.ruleset.stateful
        state = None if stateless else "ESTABLISHED"
        cuts = sorted(set(self.sport_cuts(cell)) | port_cuts(flows))
        blocked: list[PacketSet] = []
        for lo, hi in zip(cuts, [c - 1 for c in cuts[1:]] + [PORT_SPAN - 1], strict=True):
            needed = reply_keys(flows, lo, True, stateless)
            missing = needed - self.accepted(cell, Context(state, lo, True))
            if missing:
                blocked.append(reply_flows(missing, flows, lo, hi, stateless))
        return flows - PacketSet.union_all(blocked)

    def row_constant(self, cell: Cell, ctx: Ctx) -> bool:
        """True when the verdicts for this ingress/source/context do not depend on egress or
        destination (so one destination stands for all)."""
        for name in self.ruleset.entries(cell.iif):
            _, dep = self._filtered(name, cell, ctx)
            if dep:
                return False
        return True

    def _walk(self, name: str, cell: Cell, ctx: Ctx, depth: int) -> tuple[PacketSet, PacketSet]:
        """(accepted, undecided) keys of chain `name` for this cell and context."""
        dims = self._dims[name]
        row_key = (
            name,
            ctx,
            cell.iif if "iif" in dims else None,
            cell.sid if "src" in dims else None,
        )
        got = None
        if "oif" not in dims and "dst" not in dims:
            # nothing the chain reaches tests egress or destination: no filtering needed to
            # know the memo key (the pair chains of a zone layout, met once per row)
            mkey: tuple[object, ...] = (*row_key, None)
            dep = False
        else:
            got = self._filter(name, cell, ctx)
            dep = got.dep and self._depends(name, cell, ctx)
            mkey = (*row_key, (cell.oif, cell.did) if dep else None)
        hit = self._memo.get(mkey)
        if hit is not None:
            return hit
        if depth > MAX_DEPTH:
            raise ValueError(f"chain nesting deeper than {MAX_DEPTH} at '{name}'")
        rules: Sequence[Rule]
        if got is not None:
            rules = self._for_destination(name, cell, got) if dep else got.rules
        elif not dims:
            # the chain and those it reaches test nothing of the cell: its rules are only
            # tested against the context, here (a pair chain is walked once, so indexing or
            # caching its rules would cost more than it saves)
            state, sport, ack = ctx
            rules = [
                r
                for r in self.chains[name].rules
                if (r.states is None or (state is not None and state in r.states))
                and (ack or not r.ack)
                and (r.sports is None or any(lo <= sport <= hi for lo, hi in r.sports))
            ]
        else:
            rules = self._filter(name, cell, ctx).rules
        # Accepted and undecided keys are disjoint pieces, united once at the end.
        rest, acc, undecided = EVERYTHING, [], []
        for rule in rules:
            if dep and not (
                (rule.oif is None or rule.oif.matches(cell.oif))
                and (rule.dst is None or rule.dst.matches(cell.dst))
            ):
                continue
            m = _and(rest, rule.keys)
            if not m or rule.action == "CONTINUE":
                continue
            rest = _minus(rest, m)
            if rule.action == "ACCEPT":
                acc.append(m)
            elif rule.action == "RETURN":
                undecided.append(m)
            elif rule.action in ("JUMP", "GOTO"):
                assert rule.target is not None
                sub_acc, sub_und = self._walk(rule.target, cell, ctx, depth + 1)
                acc.append(_and(sub_acc, m))
                if rule.action == "JUMP":
                    rest = _or(rest, _and(sub_und, m))
                else:
                    undecided.append(_and(sub_und, m))
            if not rest:
                break
        undecided.append(rest)
        result = _apply_policy(
            self.chains[name], PacketSet.union_all(acc), PacketSet.union_all(undecided)
        )
        self._memo[mkey] = result
        return result

    # -- which rule decided --------------------------------------------------------------------
    def explain(self, cell: Cell, ctx: Ctx) -> list[Piece]:
        """Every rule (or policy) that decided some keys in this cell and context, with the
        jumps that led to it."""
        pieces: list[Piece] = []
        alive = EVERYTHING
        for name in self.ruleset.entries(cell.iif):
            decided = self._explain(name, cell, ctx, EVERYTHING, (), 0)[0]
            acc = PacketSet.union_all(p.packets for p in decided if p.verdict == "ACCEPT")
            pieces.extend(
                Piece(p.packets & alive, p.verdict, p.ref, p.path)
                for p in decided
                if p.packets & alive
            )
            alive = alive & acc
        return pieces

    def _explain(
        self,
        name: str,
        cell: Cell,
        ctx: Ctx,
        mask: PacketSet,
        path: tuple[RuleRef, ...],
        depth: int,
    ) -> tuple[list[Piece], PacketSet]:
        """(decided pieces, undecided keys) of chain `name` restricted to `mask`."""
        chain = self.chains[name]
        rest, undecided = mask, EMPTY
        decided: list[Piece] = []
        for rule in self._rules_for(name, cell, ctx):
            if not _dst_matches(rule, cell):
                continue
            m = rest & rule.keys
            if not m or rule.action == "CONTINUE":
                continue
            rest = rest - m
            if rule.action in ("ACCEPT", "DROP"):
                decided.append(Piece(m, rule.action, rule.ref, path))
            elif rule.action == "RETURN":
                undecided = undecided | m
            else:
                assert rule.target is not None and depth <= MAX_DEPTH
                sub, sub_und = self._explain(
                    rule.target, cell, ctx, m, (*path, rule.ref), depth + 1
                )
                decided.extend(sub)
                if rule.action == "JUMP":
                    rest = rest | sub_und
                else:
                    undecided = undecided | sub_und
        undecided = undecided | rest
        if undecided and chain.policy is not None:
            ref = chain.policy_ref or RuleRef(self.ruleset.file, None, f"policy of {name}")
            decided.append(Piece(undecided, chain.policy, ref, path))
            undecided = EMPTY
        return decided, undecided

    # -- one packet, plainly ---------------------------------------------------------------------
    def trace(self, cell: Cell, ctx: Ctx, key: int) -> tuple[bool, RuleRef | None]:
        """Verdict for one packet, by a straightforward per-packet walk of the full rules."""
        last: RuleRef | None = None
        for name in self.ruleset.entries(cell.iif):
            verdict, ref = self._trace_chain(name, cell, ctx, key, 0)
            chain = self.chains[name]
            if verdict is None:
                verdict = chain.policy == "ACCEPT"
                ref = chain.policy_ref
            if not verdict:
                return False, ref
            last = ref
        return True, last

    def _trace_chain(
        self, name: str, cell: Cell, ctx: Ctx, key: int, depth: int
    ) -> tuple[bool | None, RuleRef | None]:
        if depth > MAX_DEPTH:
            raise ValueError(f"chain nesting deeper than {MAX_DEPTH} at '{name}'")
        for rule in self.chains[name].rules:
            if not (_packet_matches(rule, cell, key) and rule.matches_context(*ctx)):
                continue
            if rule.action == "ACCEPT":
                return True, rule.ref
            if rule.action == "DROP":
                return False, rule.ref
            if rule.action == "RETURN":
                return None, rule.ref
            if rule.action in ("JUMP", "GOTO"):
                assert rule.target is not None
                verdict, ref = self._trace_chain(rule.target, cell, ctx, key, depth + 1)
                if verdict is not None or rule.action == "GOTO":
                    return verdict, ref
        return None, None

    # -- source signatures --------------------------------------------------------------------
    def src_signature(self, ingress: str, src: int) -> tuple[tuple[int, ...], ...]:
        """Which source-testing rules match address `src`, in every chain a packet entering on
        `ingress` can reach.  Two sources with the same signature on one ingress meet the same
        rules everywhere, whatever the destination and context."""
        sig: list[tuple[int, ...]] = []
        for name, positions, index in self._ingress_src_chains(ingress):
            chain_rules = self.chains[name].rules
            sig.append(
                tuple(
                    positions[i]
                    for i in index.candidates(src)
                    if _src_match(chain_rules[positions[i]], src)
                )
            )
        return tuple(sig)

    def source_tests(self, ingress: str) -> list[AddrMatch]:
        """The source matches of every rule `src_signature` looks at on `ingress`: a source
        address none of them matches has the empty signature."""
        out: list[AddrMatch] = []
        for name, positions, _ in self._ingress_src_chains(ingress):
            rules = self.chains[name].rules
            out.extend(m for p in positions if (m := rules[p].src) is not None)
        return out

    def _ingress_src_chains(self, ingress: str) -> list[tuple[str, list[int], AddrIndex]]:
        """The chains a packet entering on `ingress` can reach that have rules testing the
        source (and matching the ingress), with those rules' positions and an index over
        them."""
        hit = self._ingress_cache.get(ingress)
        if hit is None:
            hit = []
            for name in self._reachable(ingress):
                rules = self.chains[name].rules
                positions = self._on_ingress(name, ingress, self._chain_facts(name).src_testing)
                if positions:
                    hit.append((name, positions, AddrIndex([rules[p].src for p in positions])))
            self._ingress_cache[ingress] = hit
        return hit

    def _reachable(self, ingress: str) -> list[str]:
        """Every chain a packet entering on `ingress` can reach from the ingress's entry
        chains (through jumps and gotos whose rule can match that ingress), in walk order."""
        hit = self._reach_cache.get(ingress)
        if hit is None:
            hit = []
            seen: set[str] = set()
            todo = list(reversed(self.ruleset.entries(ingress)))
            while todo:
                name = todo.pop()
                if name in seen:
                    continue
                seen.add(name)
                hit.append(name)
                rules = self.chains[name].rules
                jumps = self._on_ingress(name, ingress, self._chain_facts(name).jumps)
                todo.extend(str(rules[p].target) for p in reversed(jumps))
            self._reach_cache[ingress] = hit
        return hit

    def _on_ingress(self, name: str, ingress: str, among: frozenset[int]) -> list[int]:
        """Of the positions `among`, in order, the rules of `name` that can match a packet
        entering on `ingress` (found through the chain's ingress index when it has one)."""
        rules = self.chains[name].rules
        cand = self._candidates(name, Cell(ingress, None, 0, 0, 0, 0), ("iif",))
        ordered = sorted(among) if cand is None else [p for p in cand if p in among]
        return [p for p in ordered if (iif := rules[p].iif) is None or iif.matches(ingress)]

    # -- destination signatures ---------------------------------------------------------------
    def dst_signature(self, cell: Cell) -> tuple[tuple[int, ...], ...]:
        """Which egress/destination-testing rules match this cell, in every chain a packet
        from its ingress and source can reach (whatever the context).  Two cells of one
        ingress and source with the same signature meet the same rules everywhere, so every
        verdict (and every source-port cut) is the same for them."""
        sig: list[tuple[int, ...]] = []
        for name, among in self._row_chains(cell):
            cand = self._candidates(name, cell, ("oif", "dst"))
            chain_rules = self.chains[name].rules
            sig.append(
                tuple(
                    p
                    for p in (sorted(among) if cand is None else cand)
                    if p in among and _dst_matches(chain_rules[p], cell)
                )
            )
        return tuple(sig)

    def destination_tests(self, cell: Cell) -> list[tuple[NameMatch | None, AddrMatch | None]]:
        """(egress match, destination match) of every rule `dst_signature` looks at for the
        cell's ingress and source: a destination (and its egress) none of them matches has
        the empty signature."""
        out: list[tuple[NameMatch | None, AddrMatch | None]] = []
        for name, among in self._row_chains(cell):
            rules = self.chains[name].rules
            out.extend((rules[p].oif, rules[p].dst) for p in sorted(among))
        return out

    def _row_chains(self, cell: Cell) -> list[tuple[str, frozenset[int]]]:
        """Chains reachable from the ingress's entry chains through rules matching the cell's
        ingress and source (a superset: context and destination ignored), each with the
        positions of those rules that test egress or destination (chains with none left out:
        they treat every destination alike)."""
        rkey = (cell.iif, cell.sid)
        hit = self._row_chain_cache.get(rkey)
        if hit is not None:
            return hit
        out: list[tuple[str, frozenset[int]]] = []
        seen: set[str] = set()
        todo = list(reversed(self.ruleset.entries(cell.iif)))
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            direct = self._direct[name]
            positions = self._source_positions(
                name,
                cell,
                cell.iif if "iif" in direct else None,
                cell.sid if "src" in direct else None,
            )
            positions = self._until_final(name, positions)
            testing = self._chain_facts(name).dst_testing.intersection(positions)
            if testing:
                out.append((name, testing))
            chain_rules = self.chains[name].rules
            todo.extend(t for p in reversed(positions) if (t := chain_rules[p].target) is not None)
        self._row_chain_cache[rkey] = out
        return out

    def _until_final(self, name: str, positions: tuple[int, ...]) -> tuple[int, ...]:
        """`positions` up to the first that decides every key in every context, whatever the
        egress and destination (the rules after it never see a packet of the row: zonewall's
        entry chain after `-i <class interface> -j zw-main`)."""
        final = self._chain_facts(name).final
        if final.isdisjoint(positions):
            return positions
        end = min(final.intersection(positions))
        return tuple(p for p in positions if p <= end)

    def _sporty_positions(
        self, akey: tuple[str, str | None, int | None], cell: Cell
    ) -> tuple[int, ...]:
        """Of `_source_positions` for `akey` (chain, ingress, source), the rules that name
        source ports or jump to another chain."""
        hit = self._sporty_cache.get(akey)
        if hit is None:
            name = akey[0]
            sporty = self._chain_facts(name).sporty
            hit = self._sporty_cache[akey] = tuple(
                p for p in self._source_positions(name, cell, akey[1], akey[2]) if p in sporty
            )
        return hit

    # -- source-port classes ---------------------------------------------------------------------
    def sport_cuts(self, cell: Cell, any_dst: bool = False) -> list[int]:
        """Starts of the source-port classes the rules that can match this cell distinguish
        (with `any_dst`, whatever its egress and destination)."""
        if len(self._global_cuts) == 1:
            return self._global_cuts
        cuts = {0}
        for lo, hi, _ in self.sport_ranges(cell, any_dst):
            cuts.update((lo, hi + 1) if hi < PORT_SPAN - 1 else (lo,))
        return sorted(cuts)

    def sport_ranges(self, cell: Cell, any_dst: bool = False) -> frozenset[tuple[int, int, bool]]:
        """The source-port ranges named by the rules that can match this cell (with `any_dst`,
        whatever its egress and destination), each with whether its rule matches only TCP
        with ACK or RST.  Two source ports inside the same of these ranges meet the same
        rules."""
        if len(self._global_cuts) == 1:
            return frozenset()
        ckey = (cell.iif, cell.sid)
        if any_dst and ckey in self._sport_cache:
            return self._sport_cache[ckey]
        if not any_dst and self._last_ranges[0] == cell:
            return self._last_ranges[1]
        ranges: set[tuple[int, int, bool]] = set()
        seen: set[str] = set()
        todo = list(self.ruleset.entries(cell.iif))
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            direct = self._direct[name]
            chain_rules = self.chains[name].rules
            akey = (
                name,
                cell.iif if "iif" in direct else None,
                cell.sid if "src" in direct else None,
            )
            # Only rules naming source ports or jumping somewhere matter here.
            positions: Sequence[int] = self._sporty_positions(akey, cell)
            if not any_dst and positions:
                cand = self._candidates(name, cell, ("oif", "dst"))
                if cand is not None and len(cand) < len(positions):
                    among = self._sporty_sets.get(akey)
                    if among is None:
                        among = self._sporty_sets[akey] = frozenset(positions)
                    positions = [p for p in cand if p in among]
            for p in positions:
                rule = chain_rules[p]
                if not any_dst and not _dst_matches(rule, cell):
                    continue
                ranges.update((lo, hi, bool(rule.ack)) for lo, hi in rule.sports or ())
                if rule.target is not None:
                    todo.append(rule.target)
        found = frozenset(ranges)
        if any_dst:
            self._sport_cache[ckey] = found
        else:
            self._last_ranges = (cell, found)  # asked again at once by the comparison
        return found


class _Targets:
    """The cells of `Evaluator.accepted_many`, with their destinations sorted."""

    def __init__(self, cells: Sequence[Cell], dsts: list[int], order: list[int]) -> None:
        self.cells = cells
        self._dsts = dsts  # sorted destination addresses
        self._order = order  # the cell of each

    def matching(self, m: AddrMatch | None) -> Iterable[int]:
        """Positions of the cells whose destination `m` matches (all for None or a negated
        match: the caller tests those)."""
        if m is None or m.negate:
            return [t for t in range(len(self.cells)) if m is None or m.matches(self.cells[t].dst)]
        out: list[int] = []
        for lo, hi in m.intervals:
            out.extend(
                self._order[
                    bisect.bisect_left(self._dsts, lo) : bisect.bisect_right(self._dsts, hi)
                ]
            )
        return out


class _ChainFacts(NamedTuple):
    """Positions of the rules of one chain that: test no state, source port or ACK flag
    (`context_free`); accept or drop every key whatever the egress and destination
    (`decides_all`), and both (`final`: the rules after one never see a packet that reaches
    it); name source ports or jump (`sporty`); test the source (`src_testing`); test
    egress or destination themselves (`dst_testing`); do, or jump to a chain that does
    (`dst_dependent`); jump or go to another chain (`jumps`)."""

    context_free: frozenset[int]
    decides_all: frozenset[int]
    final: frozenset[int]
    sporty: frozenset[int]
    src_testing: frozenset[int]
    dst_testing: frozenset[int]
    dst_dependent: frozenset[int]
    jumps: frozenset[int]


@dataclass(slots=True)
class _Walking:
    """Targets of `Evaluator._walk_many` that the rules so far treated alike: their keys not
    yet decided (`rest`), and the pieces accepted and handed back (RETURN) so far."""

    targets: set[int]
    rest: PacketSet
    acc: list[PacketSet]
    undecided: list[PacketSet]


@dataclass(slots=True)
class _ContextSplit:
    """Rules of a chain matching one ingress and source: positions of those testing no
    context (`free`), and (position, rule) of those that do: without source ports
    (`generic`), by each single source port they name (`by_port`), with port ranges
    (`ranged`)."""

    free: tuple[int, ...]
    generic: list[tuple[int, Rule]]
    by_port: dict[int, list[tuple[int, Rule]]]
    ranged: list[tuple[int, Rule]]


@dataclass(frozen=True, slots=True)
class _Filtered:
    rules: tuple[Rule, ...]
    positions: frozenset[int]
    dep: bool


def _chain_indexes(chain: Chain) -> dict[str, NameIndex | AddrIndex | None]:
    """Per dimension, a candidate index over the chain's rules (None: no rule tests it)."""
    rules = chain.rules
    out: dict[str, NameIndex | AddrIndex | None] = {}
    for dim in ("iif", "oif"):
        names = [getattr(r, dim) for r in rules]
        out[dim] = NameIndex(names) if any(m is not None for m in names) else None
    for dim in ("src", "dst"):
        addrs = [getattr(r, dim) for r in rules]
        out[dim] = AddrIndex(addrs) if any(m is not None for m in addrs) else None
    return out


def _address_cell(ingress: str, egress: str | None, src: int | str, dst: int | str) -> Cell:
    """A cell for concrete addresses (each address is its own group: memo keys stay exact)."""
    s = src if isinstance(src, int) else int(IPAddress(src, 4))
    d = dst if isinstance(dst, int) else int(IPAddress(dst, 4))
    return Cell(ingress, egress, -1 - s, s, -1 - d, d)


def _and(a: PacketSet, b: PacketSet) -> PacketSet:
    if a is EVERYTHING or not b:
        return b
    if b is EVERYTHING or not a:
        return a
    return a & b


def _or(a: PacketSet, b: PacketSet) -> PacketSet:
    if not a:
        return b
    if not b:
        return a
    return a | b


def _minus(a: PacketSet, b: PacketSet) -> PacketSet:
    if not b or not a:
        return a
    if b is EVERYTHING or a is b:
        return EMPTY
    return a - b


def _dims_of(rules: Iterable[Rule]) -> frozenset[str]:
    """The dimensions (iif, oif, src, dst) some of `rules` test."""
    dims: set[str] = set()
    for r in rules:
        if r.iif is not None:
            dims.add("iif")
        if r.oif is not None:
            dims.add("oif")
        if r.src is not None:
            dims.add("src")
        if r.dst is not None:
            dims.add("dst")
    return frozenset(dims)


def _dst_matches(rule: Rule, cell: Cell) -> bool:
    return (rule.oif is None or rule.oif.matches(cell.oif)) and (
        rule.dst is None or rule.dst.matches(cell.dst)
    )


def _src_match(rule: Rule, src: int) -> bool:
    return rule.src is not None and rule.src.matches(src)


def _source_matches(rule: Rule, cell: Cell) -> bool:
    return (rule.iif is None or rule.iif.matches(cell.iif)) and (
        rule.src is None or rule.src.matches(cell.src)
    )


def _address_matches(rule: Rule, cell: Cell) -> bool:
    return _source_matches(rule, cell) and _dst_matches(rule, cell)


def _packet_matches(rule: Rule, cell: Cell, key: int) -> bool:
    return _address_matches(rule, cell) and key in rule.keys


def _apply_policy(
    chain: Chain, acc: PacketSet, undecided: PacketSet
) -> tuple[PacketSet, PacketSet]:
    if chain.policy == "ACCEPT":
        return _or(acc, undecided), EMPTY
    if chain.policy == "DROP":
        return acc, EMPTY
    return acc, undecided
