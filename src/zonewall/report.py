"""`check` as a library call: `run_check(path)` parses, compiles and proves a policy and never
raises for anything wrong with the policy: every problem is a diagnostic in the returned
`CheckReport`.  Its renderings (text for people, JSON for CI, SARIF, JUnit) are in `present/`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Severity,
    Span,
    sort_diagnostics,
)
from zonewall.dsl.parser import parse_file
from zonewall.ir import AssertionResult, CompiledPolicy
from zonewall.text import file_name

__all__ = [
    "Acknowledged",
    "CheckReport",
    "acknowledged",
    "run_check",
]


@dataclass
class CheckReport:
    path: str
    diagnostics: list[Diagnostic]
    assertions: Sequence[AssertionResult] = ()
    sources: dict[str, str] = field(default_factory=dict)
    compiled: CompiledPolicy | None = None

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.WARNING)

    def ok(self, warnings_as_errors: bool = False) -> bool:
        if self.compiled is None or self.errors:
            return False
        return not (warnings_as_errors and self.warnings)


def run_check(
    path: str, read: Callable[[str], bytes] | None = None, include_path: Sequence[str] = ()
) -> CheckReport:
    """Check a policy; `read` reads files from elsewhere than the file system, `include_path`
    allows includes from more folders (see `parse_file`)."""
    try:
        parsed = parse_file(path, read, include_path)
    except DiagnosticError as err:
        path = file_name(path)
        diags = [
            d
            if d.span is not None
            else Diagnostic(d.severity, d.code, d.message, Span(path, 1, 1, 1, 2), d.notes, d.label)
            for d in err.diagnostics
        ]
        return CheckReport(path, diags, (), dict(getattr(err, "sources", {})))
    path = file_name(path)  # the report names the file as text, as its spans do
    if any(d.is_error for d in parsed.diagnostics):
        return CheckReport(path, sort_diagnostics(parsed.diagnostics), (), parsed.sources)
    result = compile_policy(parsed.policy)
    diags = sort_diagnostics(parsed.diagnostics + result.diagnostics)
    compiled = result.compiled
    return CheckReport(
        path, diags, compiled.assertions if compiled else (), parsed.sources, compiled
    )


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A warning the policy acknowledges with a reason (today: W113 per gateway)."""

    code: str
    gateway: str
    reason: str
    span: Span | None

    @property
    def text(self) -> str:
        return f"{self.code} stateless replies on gateway '{self.gateway}': {self.reason}"


def acknowledged(report: CheckReport) -> list[Acknowledged]:
    """Each `stateless-replies accepted "reason"` that stands, in gateway order."""
    if report.compiled is None:
        return []
    defs = {g.name: g for g in report.compiled.policy.gateways}
    return [
        Acknowledged(
            "W113",
            g.name,
            g.stateless_accepted,
            defs[g.name].attr_span("stateless-replies") if g.name in defs else None,
        )
        for g in report.compiled.gateways
        if g.stateless_accepted is not None
    ]
