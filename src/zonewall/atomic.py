"""Writing generated files without ever touching a file outside the folder they belong in.

Used by `build` (through `zonewall.outdir`) and for the documents `matrix -o` and `graph -o`
write.  (`zonewall fmt` has its own writer in `fmt.py`: it rewrites a user's file in place, so
it keeps the file's permissions and writes through a symlink the user named.)

The threat is a folder that someone else can write to (a shared CI workspace, /tmp): they can
plant symlinks, FIFOs or devices at the names zonewall writes, or at the temporary names it
would use.  So:

- the folder is opened once (`O_DIRECTORY | O_NOFOLLOW`) and every later call is relative to
  that descriptor (`dir_fd`), so a path is never resolved again through a link;
- temporary files get an unpredictable name and are created with `O_CREAT | O_EXCL |
  O_NOFOLLOW`: a planted link or file at that name makes the open fail, it is never followed;
- an existing file at an output name must be a regular file (`lstat`): a symlink, FIFO,
  device or directory there is refused, never followed, opened or replaced;
- the folder itself must not be a symlink, and a symlink among the folders above it must be
  owned by root or by the user running zonewall (the rule of Linux `fs.protected_symlinks`),
  so a link another user planted is never followed.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Iterable

__all__ = [
    "TEMP_PATTERN",
    "UnsafePathError",
    "check_replaceable",
    "kind_of",
    "open_folder",
    "remove_temp",
    "rename_in",
    "temp_name",
    "write_atomic",
    "write_atomic_chunks",
    "write_temp",
]

# `.NAME.zw-<16 hex digits>.tmp`: zonewall's temporary files, which a later build removes.
TEMP_PATTERN = re.compile(r"\.(?P<name>[^/]+)\.zw-[0-9a-f]{16}\.tmp")
_KIND = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class UnsafePathError(OSError):
    """A path zonewall refuses to write through; `strerror` says why, `filename` is the path."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.EPERM, reason, path)


def kind_of(mode: int) -> str:
    """`a FIFO`, `a symbolic link`, ... for an `lstat` mode that is not a regular file."""
    return _KIND.get(stat.S_IFMT(mode), "not a regular file")


def _check_ancestors(path: str) -> None:
    """Refuse a symlink among the folders of `path` unless root or the user owns it."""
    absolute = os.path.abspath(path)
    parts = absolute.split(os.sep)[1:]
    current = os.sep
    for part in parts:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return  # made below by us, or an error that makedirs and lstat report
        if stat.S_ISLNK(st.st_mode) and st.st_uid not in (0, os.geteuid()):
            raise UnsafePathError(
                path,
                f"'{current}' is a symbolic link owned by another user "
                f"(uid {st.st_uid}); zonewall does not follow it",
            )


def open_folder(path: str, create: bool = False) -> int:
    """A descriptor of the folder `path` (made first when `create`), never through a link.

    Raises:
        UnsafePathError: `path` is a symlink, not a folder, or reached through another
            user's symlink.
        OSError: the folder cannot be made or opened.
    """
    _check_ancestors(path)
    if create:
        os.makedirs(path, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        target = f" (to '{os.readlink(path)}')" if stat.S_ISLNK(st.st_mode) else ""
        raise UnsafePathError(
            path,
            f"'{path}' is {kind_of(st.st_mode)}{target}, not a folder; "
            "zonewall writes only into a real folder",
        )
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def check_replaceable(dir_fd: int, name: str, shown: str) -> bool:
    """Whether `name` exists in the folder; when it does, it must be a regular file.

    Raises:
        UnsafePathError: `name` is a symlink, FIFO, device, directory or socket.
    """
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(
            shown,
            f"'{shown}' is {kind_of(st.st_mode)}, not a regular file; "
            "zonewall replaces only regular files: remove it first",
        )
    return True


def temp_name(name: str) -> str:
    """An unpredictable temporary name for `name`, matching `TEMP_PATTERN`."""
    return f".{name}.zw-{secrets.token_hex(8)}.tmp"


def write_temp(dir_fd: int, name: str, data: bytes | Iterable[bytes]) -> str:
    """Write `data` (bytes, or pieces of bytes written as they come) to a new, exclusive
    temporary file beside `name`, on disk; its name.  Nothing is left behind when writing, or
    producing a piece, fails.

    The mode is 0o666 minus the umask, as for any new file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        tmp = temp_name(name)
        try:
            fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
        except FileExistsError:
            continue  # a planted file at a random name: take another name
        break
    else:
        raise OSError(errno.EEXIST, "no free temporary name", name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in (data,) if isinstance(data, bytes) else data:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        remove_temp(dir_fd, tmp)
        raise
    return tmp


def remove_temp(dir_fd: int, tmp: str) -> None:
    """Remove a temporary file of ours if it is still there (never through a link)."""
    try:
        os.unlink(tmp, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def rename_in(dir_fd: int, src: str, dst: str) -> None:
    """Rename within the folder: replaces the directory entry `dst`, never a link's target."""
    os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that a reader never sees half a file.

    `path` must be a regular file or not exist; its folder must be a real folder.

    Raises:
        UnsafePathError: `path` or its folder is a symlink, FIFO, device, ...
        OSError: the file or its folder cannot be written.
    """
    write_atomic_chunks(path, (text,))


def write_atomic_chunks(path: str, chunks: Iterable[str]) -> None:
    """`write_atomic` of a document given in pieces, each written as it comes (a large
    report is never held whole); `path` is replaced only once every piece is on disk.

    Raises:
        UnsafePathError: `path` or its folder is a symlink, FIFO, device, ...
        OSError: the file or its folder cannot be written.
    """
    folder, name = os.path.split(path)
    if not name:
        raise UnsafePathError(path, f"'{path}' names a folder, not a file")
    dir_fd = open_folder(folder or ".")
    try:
        check_replaceable(dir_fd, name, path)
        tmp = write_temp(dir_fd, name, (chunk.encode("utf-8") for chunk in chunks))
        try:
            rename_in(dir_fd, tmp, name)
        except BaseException:
            remove_temp(dir_fd, tmp)
            raise
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
