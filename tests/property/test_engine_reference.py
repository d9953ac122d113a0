"""Property tests: the fast evaluator (`verify/engine.py`) against the plain one
(`verify/reference.py`) and the per-packet interpreter (`Evaluator.trace`).

`Evaluator` filters and indexes rules per cell, memoises walks on the parts of a cell a chain
tests, skips to the memo for chains that test no egress or destination, and walks a row's
destinations in groups (`accepted_many`).  Each of those is a shortcut that must not change a
verdict.  Hypothesis writes random iptables rulesets with user chains (jumps, gotos, RETURN,
LOG, policies), rules testing interfaces (exact, wildcard, negated), addresses, ports,
source ports and conntrack state, and every cell and context of a sample is evaluated three
ways, with one evaluator reused in a shuffled order so that its memos are exercised:

* `Evaluator.accepted` and `Evaluator.accepted_many` equal `reference.accepted`;
* for sampled service keys, `Evaluator.trace` (one packet) agrees with membership.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewall.packets import PORT_SPAN, TCP, UDP, key
from zonewall.verify import Cell, Evaluator, parse_iptables
from zonewall.verify.engine import Context
from zonewall.verify.reference import accepted as reference_accepted

BASE = (10 << 24) | (40 << 16)
INTERFACES = ("eth1", "eth2", "wan0")
IFACE_MATCHES = ("eth1", "eth2", "eth+", "!eth1", "wan0")
STATES = ("NEW", "ESTABLISHED", "NEW,ESTABLISHED")
CHAINS = 4  # FORWARD plus c1..c3; a chain jumps only to later ones (no loops)


def dotted(addr: int) -> str:
    return ".".join(str(addr >> s & 255) for s in (24, 16, 8, 0))


@st.composite
def rule_text(draw: st.DrawFn, chain: int) -> str:
    words: list[str] = []
    for flag in ("-i", "-o"):
        if draw(st.integers(0, 3)) == 0:
            m = draw(st.sampled_from(IFACE_MATCHES))
            words += ["!", flag, m[1:]] if m.startswith("!") else [flag, m]
    for flag in ("-s", "-d"):
        if draw(st.integers(0, 2)) == 0:
            length = draw(st.integers(24, 32))
            start = draw(st.integers(0, 255)) >> (32 - length) << (32 - length)
            words += [flag, f"{dotted(BASE + start)}/{length}"]
    proto = draw(st.sampled_from((None, "tcp", "udp", "icmp")))
    if proto is not None:
        words += ["-p", proto]
    if proto in ("tcp", "udp"):
        if draw(st.booleans()):
            lo = draw(st.integers(0, 40))
            words += ["--dport", f"{lo}:{lo + draw(st.integers(0, 20))}"]
        if draw(st.integers(0, 2)) == 0:
            lo = draw(st.sampled_from((0, 1023, 1024, 2000)))
            words += ["--sport", f"{lo}:{lo + draw(st.integers(0, 3000))}"]
    if draw(st.integers(0, 2)) == 0:
        words += ["-m", "conntrack", "--ctstate", draw(st.sampled_from(STATES))]
    actions = ["ACCEPT", "DROP", "LOG"]
    if chain > 0:
        actions.append("RETURN")
    later = [f"c{i}" for i in range(chain + 1, CHAINS)]
    if later:
        actions += ["jump", "goto"]
    action = draw(st.sampled_from(actions))
    if action in ("jump", "goto"):
        words += ["-j" if action == "jump" else "-g", draw(st.sampled_from(later))]
    else:
        words += ["-j", action]
    return " ".join(words)


@st.composite
def rulesets(draw: st.DrawFn) -> str:
    policy = draw(st.sampled_from(("ACCEPT", "DROP")))
    lines = ["*filter", f":FORWARD {policy} [0:0]"]
    lines += [f":c{i} - [0:0]" for i in range(1, CHAINS)]
    for chain in range(CHAINS):
        name = "FORWARD" if chain == 0 else f"c{chain}"
        for text in draw(st.lists(rule_text(chain), max_size=6)):
            lines.append(f"-A {name} {text}")
    return "\n".join([*lines, "COMMIT", ""])


def addresses(text: str) -> list[int]:
    """Every prefix's first and last address and their neighbours, and one far away."""
    out = {BASE - 1, BASE + 300}
    for word in text.split():
        if word.startswith("10.40."):
            addr, length = word.split("/")
            a, b, c, d = (int(x) for x in addr.split("."))
            first = a << 24 | b << 16 | c << 8 | d
            last = first + (1 << (32 - int(length))) - 1
            out.update((first - 1, first, last, last + 1))
    return sorted(out)


SOURCE_PORTS = (0, 1022, 1023, 1024, 2000, 5000, PORT_SPAN - 1)
KEYS = [key(TCP, p) for p in (0, 10, 25, 60)] + [key(UDP, 12), key(1, 8), key(47, 0)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rulesets(), st.randoms(use_true_random=False))
def test_fast_evaluation_agrees_with_the_reference(text: str, rng: random.Random) -> None:
    ruleset = parse_iptables(text, "t.rules")
    ev = Evaluator(ruleset)
    addrs = addresses(text)
    contexts = [
        Context(state, sport, False) for state in ("NEW", "ESTABLISHED") for sport in SOURCE_PORTS
    ]
    rows = [(iif, src) for iif in INTERFACES for src in addrs]
    rng.shuffle(rows)
    for iif, src in rows[:12]:
        cells = [
            Cell(iif, oif, -1 - src, src, -1 - dst, dst) for oif in INTERFACES for dst in addrs
        ]
        ctx = rng.choice(contexts)
        want = [reference_accepted(ruleset, c, ctx) for c in cells]
        assert ev.accepted_many(cells, ctx) == want, f"accepted_many {iif} {dotted(src)} {ctx}"
        for cell, expected in rng.sample(list(zip(cells, want, strict=True)), 6):
            for other in rng.sample(contexts, 3):
                got = ev.accepted(cell, other)
                assert got == reference_accepted(ruleset, cell, other), f"{cell} {other}"
            assert ev.accepted(cell, ctx) == expected, f"{cell} {ctx}"
            for k in KEYS:
                verdict, _ = ev.trace(cell, ctx, k)
                assert verdict == (k in expected), f"trace {cell} {ctx} key {k}"
