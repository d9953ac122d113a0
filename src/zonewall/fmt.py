"""`fmt` as a library call: read one policy file, format it, diff it, write it back atomically.

Only the file given is read and written; its `include`s are printed as they are and never
followed (format them by naming them too).  A file that cannot be read, is not UTF-8 or has a
syntax error gives diagnostics and is never written.  The layout itself is
`zonewall.dsl.printer`'s.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from dataclasses import dataclass, field

from zonewall.diagnostics import Diagnostic, DiagnosticError, Severity, Span
from zonewall.dsl.parser import decode_source, read_source
from zonewall.dsl.printer import format_policy

__all__ = ["FmtResult", "format_file", "unified_diff", "write_atomic"]


@dataclass(frozen=True)
class FmtResult:
    """One file: its bytes and text as read, and its formatted text (None on any error)."""

    path: str
    data: bytes = b""
    original: str = ""
    formatted: str | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """The file's bytes differ from the formatted text (CRLF and a BOM count too)."""
        return self.formatted is not None and self.formatted.encode("utf-8") != self.data


def format_file(path: str) -> FmtResult:
    """Read and format one policy file; never raises for a problem with the file."""
    try:
        data = read_source(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return FmtResult(
            path,
            diagnostics=(
                Diagnostic(
                    Severity.ERROR,
                    "E105",
                    f"cannot read policy file '{path}': {reason}",
                    Span(path, 1, 1, 1, 2),
                ),
            ),
        )
    try:
        text = decode_source(path, data)
    except DiagnosticError as err:
        return FmtResult(path, data, diagnostics=tuple(err.diagnostics))
    try:
        formatted = format_policy(text, path)
    except DiagnosticError as err:
        return FmtResult(path, data, text, None, tuple(err.diagnostics), {path: text})
    return FmtResult(path, data, text, formatted, (), {path: text})


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff from `before` to `after`, both named `path` (for `patch -p0`)."""
    out: list[str] = []
    for line in difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), path, path
    ):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomic(path: str, text: str) -> None:
    """Replace the file at `path` (a symlink's target) with `text`, all or nothing.

    The text goes to a temporary file in the same folder, which is flushed to disk, given the
    original file's permissions and renamed over it, so a reader never sees half a policy.

    Raises:
        OSError: the folder is not writable, the disk is full, ...
    """
    target = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, tmp = tempfile.mkstemp(
        dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
