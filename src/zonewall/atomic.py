"""Writing generated text to a file atomically: a reader never sees half a file.

Used for build outputs and for the documents `matrix` and `graph` write.  (`zonewall fmt` has
its own writer in `fmt.py`: it rewrites a user's file in place, so it keeps the file's
permissions and writes through symlinks.)"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file.

    Raises:
        OSError: the file or its folder cannot be written.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
