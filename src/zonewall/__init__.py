"""zonewall: network segmentation policy-as-code for hospital networks.

Public API: `parse` a `.zw` file into the policy IR, `compile_policy` it into flows and
assertion results, and report problems as `Diagnostic` values.
"""

from __future__ import annotations

from zonewall.compiler.pipeline import CompileResult, compile_policy
from zonewall.diagnostics import Diagnostic, DiagnosticError, Severity, Span, render_diagnostic
from zonewall.dsl.parser import ParseResult, parse_file, parse_text

__version__ = "0.1.0"

parse = parse_file

__all__ = [
    "CompileResult",
    "Diagnostic",
    "DiagnosticError",
    "ParseResult",
    "Severity",
    "Span",
    "__version__",
    "compile_policy",
    "parse",
    "parse_file",
    "parse_text",
    "render_diagnostic",
]
