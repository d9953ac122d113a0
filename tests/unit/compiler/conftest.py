"""Helpers for compiler unit tests: compile policy text and look at the result by name."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from zonewall.compiler.pipeline import CompileResult, compile_policy
from zonewall.diagnostics import Diagnostic, DiagnosticError, render_all
from zonewall.dsl.parser import parse_text
from zonewall.ir import AssertionResult, CompiledPolicy, ResolvedClass
from zonewall.packets import PacketSet

FILE = "p.zw"

# One gateway serving every class, with an uplink so that externals are allowed.
GATEWAY = 'gateway gw { platform iptables uplink "eth0" serves internal }\n'


@dataclass
class Outcome:
    """A compiled policy text: diagnostics, and the compiled policy when there is one."""

    text: str
    diagnostics: list[Diagnostic]
    result: CompileResult | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def compiled(self) -> CompiledPolicy:
        assert self.result is not None and self.result.compiled is not None, self.rendered
        return self.result.compiled

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    @property
    def rendered(self) -> str:
        return render_all(self.diagnostics, self.sources)

    def only(self, code: str) -> Diagnostic:
        found = [d for d in self.diagnostics if d.code == code]
        assert len(found) == 1, self.rendered
        return found[0]

    def all(self, code: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.code == code]

    def cls(self, name: str) -> ResolvedClass:
        return next(c for c in self.compiled.classes if c.name == name)

    def subnet(self, name: str) -> list[str]:
        return [str(p) for p in self.cls(name).prefixes]

    def assertion(self, text: str) -> AssertionResult:
        return next(a for a in self.compiled.assertions if a.text == text)

    def flows(self) -> dict[tuple[str, str], PacketSet]:
        """Effective flows keyed by endpoint names (classes; external atoms by label)."""
        eps = {e.id: e.name for e in self.compiled.endpoints}
        return {(eps[f.src], eps[f.dst]): f.packets for f in self.compiled.flows}


def compile_text(text: str, *, gateway: bool = True) -> Outcome:
    src = textwrap.dedent(text) + (GATEWAY if gateway else "")
    try:
        parsed = parse_text(src, FILE)
    except DiagnosticError as err:
        return Outcome(src, list(err.diagnostics), None, {FILE: src})
    if any(d.is_error for d in parsed.diagnostics):
        return Outcome(src, parsed.diagnostics, None, parsed.sources)
    result = compile_policy(parsed.policy)
    return Outcome(src, parsed.diagnostics + result.diagnostics, result, parsed.sources)


@pytest.fixture
def zw() -> Callable[..., Outcome]:
    return compile_text
