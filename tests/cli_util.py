"""Running `zonewall` in tests: in this interpreter (fast), or as a subprocess (the real
entry point: its exit status and its streams).

Imported as `cli_util` (the `tests/` folder is on `sys.path` through its `conftest.py`, as
for `kernel_util`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`zonewall.cli.main` in this interpreter: exit status (an argparse exit's too), stdout,
    stderr.  No traceback may reach stderr."""
    from zonewall.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def zonewall(
    *args: str, cwd: Path = ROOT, stdin: str | None = None, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m zonewall ARGS` from this checkout's `src/`, in `cwd`, with `env` added to
    the environment (never ZONEWALL_DEBUG, which would print tracebacks); output as UTF-8."""
    environ = dict(os.environ, **env)
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), environ.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    environ.pop("ZONEWALL_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "zonewall", *args],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )
