"""The comparison's shortcuts against the long way round, on broken configs.

`validate` checks one context (source-port class, ACK flag, conntrack state) of each class
that the rules and the model treat alike, and skips the ESTABLISHED contexts of a stateful
row that accepts every ESTABLISHED packet.  Both are claims of exactness: on any config,
checking every context must report the same differences.  Here every generated config of the
examples is mutated line by line (a line dropped, a port moved, a port range widened, a flag
removed) and both ways must agree difference for difference.
"""

from __future__ import annotations

import random
import re
import zlib

import pytest
from verify_helpers import EXAMPLES, built, gateway_configs

from zonewall.verify import ConfigParseError, parse_config
from zonewall.verify.compare import _Validator

CASES = [(p, o) for p in EXAMPLES for o in gateway_configs(p)]
MUTANTS = 40


def _mutants(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = text.splitlines()
    rules = [
        i
        for i, line in enumerate(lines)
        if re.match(r"\s*(\d+\s+)?(permit|deny)\s|-A |\s+(tcp|udp|ip|meta|iifname|ct) ", line)
    ]
    out = []
    for _ in range(MUTANTS):
        i = rng.choice(rules)
        line = lines[i]
        how = rng.randrange(4)
        if how == 0:
            new = None  # dropped
        elif how == 1 and (m := re.search(r"\b(eq|dport|sport|--dports?|--sports?) (\d+)", line)):
            new = line[: m.start(2)] + str(int(m.group(2)) + 1) + line[m.end(2) :]
        elif how == 2 and (m := re.search(r"\beq (\d+)", line)):
            new = (
                line[: m.start()] + f"range {m.group(1)} {int(m.group(1)) + 300}" + line[m.end() :]
            )
        elif how == 3 and ("established" in line or "ESTABLISHED" in line):
            new = line.replace(" established", "").replace("ESTABLISHED,", "")
        else:
            new = None
        mutated = lines[:i] + ([] if new is None else [new]) + lines[i + 1 :]
        out.append("\n".join(mutated) + "\n")
    return out


@pytest.mark.parametrize(("path", "out"), CASES, ids=[f"{p.stem}-{o.gateway}" for p, o in CASES])
def test_shortcuts_report_what_every_context_reports(
    path: object, out: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled, _ = built(str(path))
    assert out.gateway is not None and out.platform is not None  # type: ignore[attr-defined]
    gateway, platform = out.gateway, out.platform  # type: ignore[attr-defined]
    differing = 0
    every = _Validator._some_contexts
    for n, text in enumerate(_mutants(out.text, zlib.crc32(gateway.encode()))):  # type: ignore[attr-defined]
        try:
            ruleset = parse_config(platform, text, "mutant")
        except ConfigParseError:
            continue
        short = _Validator(compiled, gateway, ruleset).run()
        with monkeypatch.context() as m:
            m.setattr(_Validator, "_accepts_all_established", lambda self, cell: False)
            m.setattr(_Validator, "_some_contexts", lambda self, *a: every(self, *a[:-1], True))
            long = _Validator(compiled, gateway, ruleset).run()
        assert short == long, f"mutant {n} of {gateway}"
        differing += bool(long)
    assert differing, "no mutant differed from the policy: the test proves nothing"
