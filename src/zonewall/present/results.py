"""Assertion results and diagnostics, prepared once for every report format.

`assertion_rows` pairs each `AssertionResult` with its statement (for the ``accepted`` reason)
and words its counterexample; SARIF, JUnit and HTML all read these rows, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from zonewall.diagnostics import CODES, Diagnostic, Severity, Span
from zonewall.ir import AssertionResult, AssertKind, CompiledPolicy, Hop

__all__ = [
    "ASSERTION_CODES",
    "AssertionRow",
    "assertion_rows",
    "hop_text",
    "is_assertion_diagnostic",
]

# The code of each assertion kind's failure, found in the catalogue by its summary, so the two
# never disagree: CODES["E301"] == "assertion 'unreachable' fails".
ASSERTION_CODES: dict[AssertKind, str] = {
    kind: next(
        code for code, summary in CODES.items() if summary == f"assertion '{kind.value}' fails"
    )
    for kind in AssertKind
}
ACCEPTED_CODE = "W109"


def is_assertion_diagnostic(d: Diagnostic) -> bool:
    """A failing (E30x) or accepted (W109) assertion's diagnostic: reported as its assertion."""
    return d.code == ACCEPTED_CODE or d.code in ASSERTION_CODES.values()


def hop_text(hop: Hop) -> str:
    services = ", ".join(hop.services) or "any service"
    where = f" (statement at {hop.span.file}:{hop.span.line})" if hop.span else " (no statement)"
    return f"{hop.src} -> {hop.dst} on {services}{where}"


@dataclass(frozen=True, slots=True)
class AssertionRow:
    result: AssertionResult
    reason: str | None  # the `accepted "..."` text

    @property
    def text(self) -> str:
        return self.result.text

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def span(self) -> Span | None:
        return self.result.span

    @property
    def where(self) -> str:
        s = self.result.span
        return f"{s.file}:{s.line}" if s else ""

    @property
    def code(self) -> str:
        """The rule a non-passing assertion is reported under."""
        return ACCEPTED_CODE if self.status == "accepted" else ASSERTION_CODES[self.result.kind]

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.status == "accepted" else Severity.ERROR

    @property
    def hops(self) -> tuple[Hop, ...]:
        return self.result.counterexample or ()

    def counterexample_lines(self) -> list[str]:
        return [hop_text(h) for h in self.hops]

    def failure_text(self) -> str:
        """One paragraph: what fails and the counterexample, hop by hop."""
        head = f"assertion '{self.text}' fails: {self.result.message}"
        if self.status == "accepted":
            head += f" (accepted risk: {self.reason})"
        lines = [head]
        if self.hops:
            lines.append("counterexample:")
            lines += [f"  {i}. {line}" for i, line in enumerate(self.counterexample_lines(), 1)]
        return "\n".join(lines)


def assertion_rows(compiled: CompiledPolicy | None) -> tuple[AssertionRow, ...]:
    """One row per assertion, in source order (the compiler keeps the statements' order)."""
    if compiled is None:
        return ()
    stmts = compiled.policy.assertions
    rows = []
    for i, result in enumerate(compiled.assertions):
        stmt = stmts[i] if i < len(stmts) and stmts[i].text == result.text else None
        rows.append(AssertionRow(result, stmt.accepted if stmt is not None else None))
    return tuple(rows)
