"""What a parsed `Ruleset` does to packets, plainly: the semantics a reviewer checks by reading.

A packet entering on an interface traverses that interface's entry chains in order
(`Ruleset.entries`) and passes only if every one of them accepts it.  Within a chain the rules
are tried first to last; the first that matches the packet decides: ACCEPT and DROP end the
walk, RETURN goes back to the calling chain, CONTINUE (LOG, counters) goes on to the next rule,
JUMP walks the target chain and comes back to the next rule when the target falls off its end
or returns, and GOTO hands the target's leftovers straight to this chain's caller.  What falls
off the end of a base chain gets its policy (an ACL's implicit deny).

For one *cell* (ingress and egress interface, source and destination address) and one
*context* (conntrack state, source port, TCP ACK/RST flag) a rule matches either every packet
of a service key or none, so the walk below carries the undecided service keys as one
`PacketSet` instead of one packet at a time: that is the only abstraction it makes.  It tests
every rule of every chain it enters, with no index, no memo and no shortcut.

`engine.Evaluator` computes the same sets fast (rules filtered and indexed per cell, walks
memoised per the parts of a cell a chain tests, destinations walked in groups), and
`Evaluator.trace` decides one packet at a time; `tests/property/test_engine_reference.py`
holds both to this module on random rulesets.
"""

from __future__ import annotations

from zonewall.packets import PacketSet

from .engine import MAX_DEPTH, Cell, Ctx
from .rules import EMPTY, EVERYTHING, Rule, Ruleset

__all__ = ["accepted", "walk"]


def accepted(ruleset: Ruleset, cell: Cell, ctx: Ctx) -> PacketSet:
    """The service keys whose packets of this cell and context every entry chain accepts."""
    alive = EVERYTHING
    for name in ruleset.entries(cell.iif):
        acc, _ = walk(ruleset, name, cell, ctx)
        alive = alive & acc
    return alive


def walk(
    ruleset: Ruleset, name: str, cell: Cell, ctx: Ctx, depth: int = 0
) -> tuple[PacketSet, PacketSet]:
    """(accepted, undecided) service keys of chain `name` for this cell and context: the
    undecided keys fall off its end or RETURN (a chain with a policy leaves none)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"chain nesting deeper than {MAX_DEPTH} at '{name}'")
    chain = ruleset.chains[name]
    rest, acc, undecided = EVERYTHING, EMPTY, EMPTY
    for rule in chain.rules:
        if not _matches(rule, cell, ctx):
            continue
        m = rest & rule.keys
        if not m or rule.action == "CONTINUE":
            continue
        rest = rest - m  # these keys are decided here (or by the target chain)
        if rule.action == "ACCEPT":
            acc = acc | m
        elif rule.action == "RETURN":
            undecided = undecided | m
        elif rule.action in ("JUMP", "GOTO"):
            assert rule.target is not None
            sub_acc, sub_und = walk(ruleset, rule.target, cell, ctx, depth + 1)
            acc = acc | (sub_acc & m)
            if rule.action == "JUMP":  # what the target leaves goes on to the next rule
                rest = rest | (sub_und & m)
            else:  # GOTO: ... back to this chain's caller
                undecided = undecided | (sub_und & m)
        # DROP: the keys are only taken out
    undecided = undecided | rest
    if chain.policy == "ACCEPT":
        return acc | undecided, EMPTY
    if chain.policy == "DROP":
        return acc, EMPTY
    return acc, undecided


def _matches(rule: Rule, cell: Cell, ctx: Ctx) -> bool:
    """Whether the rule matches the cell's interfaces and addresses and the context (its
    service keys aside)."""
    return (
        (rule.iif is None or rule.iif.matches(cell.iif))
        and (rule.oif is None or rule.oif.matches(cell.oif))
        and (rule.src is None or rule.src.matches(cell.src))
        and (rule.dst is None or rule.dst.matches(cell.dst))
        and rule.matches_context(*ctx)
    )
