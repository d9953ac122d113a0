"""zonewall: network segmentation policy-as-code for hospital networks.

Public API: `parse` a `.zw` file into the policy IR, `compile_policy` it into flows and
assertion results, and report problems as `Diagnostic` values.

The names are loaded when first used (a module `__getattr__`), so importing a ground-floor
module such as `zonewall.packets` loads neither the parser nor the compiler.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zonewall._version import __version__

if TYPE_CHECKING:
    from zonewall.compiler.pipeline import CompileResult, compile_policy
    from zonewall.diagnostics import (
        Diagnostic,
        DiagnosticError,
        Severity,
        Span,
        render_diagnostic,
    )
    from zonewall.dsl.parser import ParseResult, parse_file, parse_text

    parse = parse_file

# Each public name and where it is defined (`parse` is `parse_file`).
PUBLIC: dict[str, tuple[str, str]] = {
    "CompileResult": ("zonewall.compiler.pipeline", "CompileResult"),
    "compile_policy": ("zonewall.compiler.pipeline", "compile_policy"),
    "Diagnostic": ("zonewall.diagnostics", "Diagnostic"),
    "DiagnosticError": ("zonewall.diagnostics", "DiagnosticError"),
    "Severity": ("zonewall.diagnostics", "Severity"),
    "Span": ("zonewall.diagnostics", "Span"),
    "render_diagnostic": ("zonewall.diagnostics", "render_diagnostic"),
    "ParseResult": ("zonewall.dsl.parser", "ParseResult"),
    "parse": ("zonewall.dsl.parser", "parse_file"),
    "parse_file": ("zonewall.dsl.parser", "parse_file"),
    "parse_text": ("zonewall.dsl.parser", "parse_text"),
}

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


def __getattr__(name: str) -> Any:
    if name not in PUBLIC:
        raise AttributeError(f"module 'zonewall' has no attribute '{name}'")
    module, attr = PUBLIC[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value
