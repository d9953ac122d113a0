"""Reading a policy as it was at a git revision, for `zonewall diff --git REV FILE`.

The root file and every file it includes are read from the revision (`git cat-file blob
COMMIT:PATH`, the plumbing form of `git show REV:PATH`), each path taken relative to the
repository that holds the root file in the working tree.  Include paths resolve exactly as for
files on disk (relative to the including file), so the old and the new side of a diff are read
by the same loader.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable

__all__ = ["GitError", "git_reader"]

GIT_TIMEOUT = 60
SYMLINK_MODE = "120000"  # a tree entry's mode for a symbolic link


class GitError(Exception):
    """The revision cannot be read at all (no git, not a repository, unknown revision)."""


def _git(args: list[str], cwd: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False, timeout=GIT_TIMEOUT
        )
    except FileNotFoundError as exc:
        if exc.filename == "git":
            raise GitError("git is not installed (needed for --git)") from None
        raise GitError(f"cannot run git in '{cwd}': {exc.strerror}") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"cannot run git in '{cwd}': {exc}") from None


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no reason given"


def git_reader(rev: str, root_file: str) -> Callable[[str], bytes]:
    """A `read(path)` for `parse_file` that reads files as of `rev`.

    Raises:
        GitError: git is missing, the root file's folder is not in a git work tree, or `rev`
            does not name a commit.
    """
    folder = os.path.dirname(os.path.abspath(root_file))
    if not os.path.isdir(folder):
        raise GitError(f"folder '{os.path.dirname(root_file) or '.'}' does not exist")
    top_proc = _git(["rev-parse", "--show-toplevel"], folder)
    if top_proc.returncode != 0:
        raise GitError(f"'{os.path.dirname(root_file) or '.'}' is not inside a git repository")
    top = os.path.realpath(top_proc.stdout.decode("utf-8", "replace").strip())
    if not rev or rev.startswith("-"):
        raise GitError(f"'{rev}' is not a git revision")
    commit_proc = _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], top
    )
    if commit_proc.returncode != 0:
        raise GitError(f"'{rev}' is not a revision of the repository at '{top}'")
    commit = commit_proc.stdout.decode("ascii", "replace").strip()

    def read(path: str) -> bytes:
        absolute = os.path.abspath(path)
        real = os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))
        rel = os.path.relpath(real, top)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise OSError(errno.ENOENT, f"outside the git repository at '{top}'")
        git_path = rel.replace(os.sep, "/")
        entry = _git(
            ["--literal-pathspecs", "ls-tree", "-z", "--full-tree", commit, "--", git_path], top
        )
        # "<mode> <type> <object>\t<path>", or nothing when the revision has no such path
        mode, kind, oid = (
            entry.stdout.partition(b"\t")[0].decode("ascii", "replace").split(" ") + ["", "", ""]
        )[:3]
        if entry.returncode != 0 or not oid:
            reason = f" ({_first_line(entry.stderr)})" if entry.returncode != 0 else ""
            raise FileNotFoundError(errno.ENOENT, f"not in revision '{rev}'{reason}")
        if mode == SYMLINK_MODE:
            # git stores a link as a blob holding the target's path, which is no policy text
            raise OSError(
                errno.EINVAL,
                f"a symbolic link in revision '{rev}' (git keeps "
                "only the path it points to, not a policy); name the file it "
                "points to instead",
            )
        if kind != "blob":
            raise OSError(errno.EINVAL, f"not a file in revision '{rev}' (a {kind})")
        proc = _git(["cat-file", "blob", oid], top)
        if proc.returncode != 0:
            raise FileNotFoundError(
                errno.ENOENT, f"not in revision '{rev}' ({_first_line(proc.stderr)})"
            )
        return proc.stdout

    return read
