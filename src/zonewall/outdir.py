"""The write phase of `build`: switch the output folder from the old build to the new one.

POSIX has no way to replace several files at once, so `manifest.json` is the commit record.
Whenever it exists, every file it lists is exactly the file it describes (its sha256), and
whenever `SHA256SUMS` exists, `sha256sum -c SHA256SUMS` passes.  The steps:

1. Lock the folder (`flock` on it, so two builds never interleave), and refuse, before
   anything changes, an output name taken by a symlink, FIFO, device or directory.
2. Remove zonewall's own leftovers: temporary files of an interrupted build (regular files
   matching `TEMP_PATTERN`, never through a link).
3. Write every new file to an exclusive temporary file and fsync it.  A failure here (disk
   full) removes the temporaries and leaves the old build as it was.
4. Withdraw the old commit record: remove `SHA256SUMS`, rename `manifest.json` to
   `.manifest.json.previous` (so a build killed from here on still knows what the old build
   wrote), fsync the folder.
5. Rename each new file over its name; remove the files the old manifest listed that this
   build no longer produces (plain names only, regular files only, never through a link).
6. fsync the folder, rename `SHA256SUMS`, then `manifest.json` into place, fsync again, and
   remove `.manifest.json.previous`.

A build killed at any point leaves the folder either with the old manifest and the old files,
or with no manifest (an interrupted build: deploy nothing from it, build again), or with the
new manifest and the new files.  See README, "What a deployer can rely on".
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import stat

from zonewall.atomic import (
    TEMP_PATTERN,
    UnsafePathError,
    check_replaceable,
    open_folder,
    remove_temp,
    rename_in,
    write_temp,
)

__all__ = ["MANIFEST", "MAX_MANIFEST_BYTES", "SUMS", "previous_outputs", "write_outputs"]

MANIFEST = "manifest.json"
PREVIOUS = ".manifest.json.previous"  # the withdrawn record, while a build switches
SUMS = "SHA256SUMS"
# An earlier manifest larger than this is not read (the build goes on as if there were none).
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# A name zonewall writes: one plain file name, no dot first, nothing a shell or sha256sum
# would quote.
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
# `.NAME.tmp-PID`: temporary names of earlier zonewall versions, removed for names it writes.
_OLD_TEMP = re.compile(r"\.(?P<name>[^/]+)\.tmp-[0-9]+")


class InterruptedWrite(OSError):
    """The switch failed after the old manifest was withdrawn: the folder holds no build."""


def write_outputs(outdir: str, files: list[tuple[str, bytes]], manifest_text: str) -> None:
    """Replace the build in `outdir` by `files` and their manifest, as a whole (see above).

    Raises:
        UnsafePathError: the folder or an output name is a link, FIFO, device, ...
        InterruptedWrite: a rename failed midway; the folder has no manifest.
        OSError: the folder cannot be made, locked or written (nothing was changed).
    """
    names = [name for name, _ in files]
    for name in names:
        if not _PLAIN.fullmatch(name) or name in (MANIFEST, SUMS):
            raise ValueError(f"output name {name!r} is not a plain file name")  # a bug
    dir_fd = open_folder(outdir, create=True)
    try:
        _lock(dir_fd, outdir)
        for name in [*names, SUMS, MANIFEST, PREVIOUS]:
            check_replaceable(dir_fd, name, os.path.join(outdir, name))
        previous = previous_outputs(dir_fd, MANIFEST) | previous_outputs(dir_fd, PREVIOUS)
        _remove_leftovers(dir_fd, set(names) | previous | {SUMS, MANIFEST})
        sums = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files)
        )
        staged: dict[str, str] = {}
        try:
            for name, data in [*files, (SUMS, sums.encode()), (MANIFEST, manifest_text.encode())]:
                staged[name] = write_temp(dir_fd, name, data)
            _switch(dir_fd, outdir, staged, sorted(previous - set(names)))
        finally:
            for tmp in staged.values():
                remove_temp(dir_fd, tmp)
    finally:
        os.close(dir_fd)  # also releases the lock


def _lock(dir_fd: int, outdir: str) -> None:
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OSError(errno.EBUSY, "another zonewall build is writing there", outdir) from None


def _switch(dir_fd: int, outdir: str, staged: dict[str, str], stale: list[str]) -> None:
    """Steps 4-6: withdraw the old record, put the files in place, commit the new record.

    Each rename done is dropped from `staged`, so the caller removes only what is left.
    """
    if check_replaceable(dir_fd, SUMS, os.path.join(outdir, SUMS)):
        os.unlink(SUMS, dir_fd=dir_fd)
    if check_replaceable(dir_fd, MANIFEST, os.path.join(outdir, MANIFEST)):
        rename_in(dir_fd, MANIFEST, PREVIOUS)
    os.fsync(dir_fd)
    try:
        for name in [n for n in staged if n not in (SUMS, MANIFEST)]:
            rename_in(dir_fd, staged.pop(name), name)
        for name in stale:
            if _is_regular(dir_fd, name):
                os.unlink(name, dir_fd=dir_fd)
        os.fsync(dir_fd)
        for record in (SUMS, MANIFEST):
            rename_in(dir_fd, staged.pop(record), record)
        os.fsync(dir_fd)
        if _is_regular(dir_fd, PREVIOUS):
            os.unlink(PREVIOUS, dir_fd=dir_fd)
    except OSError as exc:
        raise InterruptedWrite(
            exc.errno or errno.EIO,
            f"{exc.strerror or exc} while replacing the files; '{outdir}' now holds no "
            "manifest.json, so it is not a complete build: fix the cause and build again",
            outdir,
        ) from None


def previous_outputs(dir_fd: int, record: str = MANIFEST) -> set[str]:
    """The plain names an earlier manifest (`record`) lists (empty when it cannot be read).

    The manifest is opened without following a link and without blocking, must be a regular
    file, and is read only up to `MAX_MANIFEST_BYTES`; a name with `/`, a leading dot or
    anything but a plain file name is ignored, so a forged manifest cannot point outside.
    """
    try:
        fd = os.open(
            record, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        return set()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return set()
        data = os.read(fd, MAX_MANIFEST_BYTES + 1)
    except OSError:
        return set()
    finally:
        os.close(fd)
    if len(data) > MAX_MANIFEST_BYTES:
        return set()
    try:
        entries = json.loads(data.decode("utf-8"))["outputs"]
        listed = {str(entry["path"]) for entry in entries}
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()
    return {name for name in listed if _PLAIN.fullmatch(name) and name not in (MANIFEST, SUMS)}


def _remove_leftovers(dir_fd: int, ours: set[str]) -> None:
    """Remove temporary files an interrupted build left (regular files only)."""
    for entry in sorted(os.listdir(dir_fd)):
        new = TEMP_PATTERN.fullmatch(entry)
        old = _OLD_TEMP.fullmatch(entry)
        if (new is not None or (old is not None and old["name"] in ours)) and _is_regular(
            dir_fd, entry
        ):
            os.unlink(entry, dir_fd=dir_fd)


def _is_regular(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(name, dir_fd=dir_fd).st_mode)
    except FileNotFoundError:
        return False


def describe(exc: OSError, outdir: str) -> str:
    """The E403 message for a failed write."""
    if isinstance(exc, (UnsafePathError, InterruptedWrite)):
        return f"cannot write to '{outdir}': {exc.strerror}"
    where = exc.filename if isinstance(exc.filename, str) and exc.filename != outdir else None
    reason = exc.strerror or str(exc)
    return (
        f"cannot write to '{outdir}': {where}: {reason}"
        if where
        else f"cannot write to '{outdir}': {reason}"
    )
