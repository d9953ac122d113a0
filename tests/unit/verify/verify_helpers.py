"""Shared helpers for the `zonewall.verify` tests: build policies, fetch outputs, edit text.

Imported as `verify_helpers` (pytest puts this directory on `sys.path`; no `__init__.py`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from zonewall.build import Output, render_outputs
from zonewall.ir import CompiledPolicy
from zonewall.report import run_check
from zonewall.verify import Difference, validate

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.zw"))


@cache
def built(path: str) -> tuple[CompiledPolicy, tuple[Output, ...]]:
    """A policy file checked and rendered in memory (it must be clean)."""
    report = run_check(path)
    assert report.compiled is not None, path
    outputs, diags = render_outputs(report)
    assert not any(d.is_error for d in diags), diags
    return report.compiled, tuple(outputs)


def output(path: str | Path, gateway: str, kind: str = "config") -> Output:
    _, outputs = built(str(path))
    return next(o for o in outputs if o.gateway == gateway and o.kind == kind)


def gateway_configs(path: str | Path) -> list[Output]:
    _, outputs = built(str(path))
    return [o for o in outputs if o.kind == "config"]


def check(path: str | Path, gateway: str, text: str | None = None) -> list[Difference]:
    """Validate a gateway's config (its generated text, or `text` instead)."""
    compiled, _ = built(str(path))
    out = output(path, gateway)
    return validate(
        compiled,
        gateway,
        out.text if text is None else text,
        str(out.platform),
        filename=str(out.path),
    )


def edit(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, by `new`."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def write_policy(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / f"{name}.zw"
    path.write_text(source, encoding="utf-8")
    return str(path)


def lines_of(diffs: list[Difference]) -> set[str]:
    """The text of every deciding config line named by `diffs`."""
    return {r.text.strip() for d in diffs for r in d.rules}
