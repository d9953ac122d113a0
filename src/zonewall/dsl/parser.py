"""The front end's boundary: `.zw` files in, one `Policy` out, or `DiagnosticError`.

Reads the root file and every file it includes (paths relative to the including file, each file
at most once, cycles reported), parses each with the language's one parser (`dsl/syntax.py`,
which reports syntax errors with `file:line:col` itself), and merges the statements in textual
order.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zonewall.diagnostics import Diagnostic, DiagnosticError, DiagnosticSink, Severity, Span
from zonewall.dsl.checks import Include, PoolSubnets, PoolVlans
from zonewall.dsl.syntax import Budget, Concrete, ParseError, TooLarge, parse, record
from zonewall.ir import (
    AssertStmt,
    ClassDef,
    ExternalDef,
    GatewayDef,
    Policy,
    PolicyHeader,
    RuleStmt,
    ServiceDef,
    SourceFile,
)
from zonewall.text import file_name

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_STATEMENTS",
    "MAX_TOKENS",
    "ParseResult",
    "decode_source",
    "parse_file",
    "parse_statements",
    "parse_text",
    "read_included",
    "read_source",
    "record_statements",
]

# The size limits of one policy, its includes together (E105 for bytes, E109 for the counts).
# Every later stage's time and memory grow with the number of statements and tokens, so these
# bound them: `check` of any policy within them stays under 1 GiB (benchmarks/bombs.py and
# BENCHMARKS.md, "Resource bombs").  The largest estate benchmarked, 1,000 classes and 20,000
# allows, has 21,000 statements and 160,000 tokens.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_STATEMENTS = 250_000
MAX_TOKENS = 2_000_000
# Includes nested deeper than this (a includes b includes c ...) are error E109.
MAX_INCLUDE_DEPTH = 64


@dataclass
class ParseResult:
    policy: Policy
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse_text(text: str, file: str = "<policy>") -> ParseResult:
    """Parse policy text that has no includes (an include is an error)."""
    return _Loader(lambda path: (_ for _ in ()).throw(FileNotFoundError(path))).load_text(
        text, file
    )


def parse_file(
    path: str, read: Callable[[str], bytes] | None = None, include_path: Sequence[str] = ()
) -> ParseResult:
    """Parse a policy file and everything it includes.

    An include must resolve (symlinks resolved) inside the root file's folder or one of the
    `include_path` folders (E111 otherwise), and must be a regular file.

    Args:
        path: the root file, as the user gave it.
        read: how to read a file's bytes (default: from the file system); `zonewall diff
            --git` passes one that reads a git revision.  It raises `OSError` (or
            `ValueError`) when a file cannot be read.
        include_path: further folders includes may read from (`--include-path`).

    Raises:
        DiagnosticError: the file or an include cannot be read, or a file has a syntax error.
    """
    folders = [os.path.dirname(os.path.abspath(path)), *include_path]
    return _Loader(read or read_source, read is None, folders).load_root(path)


def read_source(path: str) -> bytes:
    """A policy file's bytes (the root file, or a file `fmt` formats); `OSError` when it cannot
    be read or is larger than `MAX_FILE_BYTES`."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return data


def read_included(path: str) -> bytes:
    """An included file's bytes: a regular file, opened without blocking (a FIFO, device,
    directory or kernel pseudo-file is refused before anything is read from it)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file ({_kind(st.st_mode)})")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if st.st_size == 0 and data:  # /proc and /sys files say 0 bytes and make up their text
        raise OSError(errno.EINVAL, "not a regular file (a kernel pseudo-file)")
    if len(data) > MAX_FILE_BYTES:
        raise OSError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return data


def _kind(mode: int) -> str:
    kinds = {
        stat.S_IFIFO: "a FIFO",
        stat.S_IFDIR: "a directory",
        stat.S_IFCHR: "a device",
        stat.S_IFBLK: "a device",
        stat.S_IFSOCK: "a socket",
    }
    return kinds.get(stat.S_IFMT(mode), "a special file")


def decode_source(display: str, data: bytes) -> str:
    """The text of a policy file: UTF-8, a leading byte-order mark dropped.

    Raises:
        DiagnosticError: E105 at the first invalid byte when the data is not UTF-8.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DiagnosticError(
            [
                Diagnostic(
                    Severity.ERROR,
                    "E105",
                    f"'{display}' is not UTF-8 text (invalid byte at offset {exc.start}); "
                    "save the policy as UTF-8",
                    Span(display, line, col, line, col + 1),
                )
            ]
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_statements(
    text: str, display: str, sink: DiagnosticSink, budget: Budget | None = None
) -> list[Any]:
    """One file's statements in source order (includes not followed), local problems to `sink`.

    `budget` is what the policy has left of `MAX_TOKENS` and `MAX_STATEMENTS` (those limits
    when not given); reading the text spends it.  On a syntax error, the local problems found
    before it are dropped: the syntax error is the one diagnostic.

    Raises:
        DiagnosticError: the text has a syntax error (E101-E103), or goes over the budget
            (E109).
    """
    local = DiagnosticSink()
    try:
        statements = parse(
            text, display, local, Budget(MAX_TOKENS, MAX_STATEMENTS) if budget is None else budget
        )
    except TooLarge as exc:
        raise _too_large(exc) from None
    except ParseError as err:
        raise DiagnosticError([err.diagnostic]) from None
    sink.items.extend(local.items)
    return statements


def record_statements(text: str, display: str) -> Concrete:
    """One file's concrete token stream and comments, for `zonewall fmt` (its statements too,
    local problems dropped), within `MAX_TOKENS` and `MAX_STATEMENTS`.

    Raises:
        DiagnosticError: the text has a syntax error (E101-E103), or is too large (E109).
    """
    try:
        return record(text, display, DiagnosticSink(), Budget(MAX_TOKENS, MAX_STATEMENTS))
    except TooLarge as exc:
        raise _too_large(exc) from None
    except ParseError as err:
        raise DiagnosticError([err.diagnostic]) from None


def _too_large(exc: TooLarge) -> DiagnosticError:
    limit = MAX_TOKENS if exc.what == "tokens" else MAX_STATEMENTS
    return DiagnosticError(
        [
            Diagnostic(
                Severity.ERROR,
                "E109",
                f"the policy is too large: more than {limit:,} {exc.what} (its included files "
                f"counted too; zonewall reads at most {MAX_STATEMENTS:,} statements and "
                f"{MAX_TOKENS:,} tokens); split the estate into several policies",
                exc.span,
                label=f"{exc.what[:-1]} {limit + 1:,} of the policy",
            )
        ]
    )


class _LoadError(DiagnosticError):
    """A DiagnosticError that also carries the text of every file read so far."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
        super().__init__(diagnostics)
        self.sources = dict(sources)


class _Loader:
    def __init__(
        self, read: Callable[[str], bytes], from_disk: bool = False, folders: Sequence[str] = ()
    ) -> None:
        self.read = read
        # includes on disk are read without blocking, regular files only
        self.read_included = read_included if from_disk else read
        self.folders = [os.path.realpath(f) for f in folders]
        self.shown = file_name(posixpath.relpath(folders[0])) if folders else "."
        # each file's name as text (`file_name`: spans, sources, messages) -> its path on disk
        self.paths: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.files: list[SourceFile] = []
        self.seen: set[str] = set()
        self.sink = DiagnosticSink()
        self.statements: list[Any] = []
        self.budget = Budget(MAX_TOKENS, MAX_STATEMENTS)
        self.bytes_left = MAX_FILE_BYTES

    def load_root(self, path: str) -> ParseResult:
        try:
            self.seen.add(os.path.realpath(path))
            # the bytes are passed on, not kept here: `_load` drops them once decoded
            self._load(path, self._read_or_fail(path, None), stack=[os.path.realpath(path)])
        except DiagnosticError as err:
            raise _LoadError(list(err.diagnostics), self.sources) from None
        return self._result()

    def load_text(self, text: str, file: str) -> ParseResult:
        try:
            self._load(file, text.encode("utf-8"), stack=[file])
        except DiagnosticError as err:
            raise _LoadError(list(err.diagnostics), self.sources) from None
        return self._result()

    def _read_or_fail(self, path: str, span: Span | None) -> bytes:
        try:
            return self.read(path) if span is None else self.read_included(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            code = "E108" if span is not None and isinstance(exc, FileNotFoundError) else "E105"
            where = "included file" if span is not None else "policy file"
            raise DiagnosticError(
                [
                    Diagnostic(
                        Severity.ERROR,
                        code,
                        f"cannot read {where} '{file_name(path)}': {file_name(reason)}",
                        span,
                    )
                ]
            ) from None

    def _load(self, path: str, data: bytes, stack: list[str], span: Span | None = None) -> None:
        display = file_name(path)
        self.paths[display] = path
        self.bytes_left -= len(data)
        if self.bytes_left < 0:
            raise DiagnosticError(
                [
                    Diagnostic(
                        Severity.ERROR,
                        "E105",
                        f"cannot read included file '{display}': the policy "
                        f"and its includes are larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB "
                        "together",
                        span,
                    )
                ]
            )
        digest = hashlib.sha256(data).hexdigest()
        text = decode_source(display, data)
        del data  # up to 64 MiB that the parse does not need
        self.sources[display] = text
        self.files.append(SourceFile(display, digest))
        for stmt in parse_statements(text, display, self.sink, self.budget):
            if isinstance(stmt, Include):
                self._include(display, stmt, stack)
            else:
                self.statements.append(stmt)

    def _include(self, including: str, inc: Include, stack: list[str]) -> None:
        if "\0" in inc.path:
            raise DiagnosticError(
                [
                    Diagnostic(
                        Severity.ERROR, "E111", "include path contains a NUL character", inc.span
                    )
                ]
            )
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise DiagnosticError(
                [
                    Diagnostic(
                        Severity.ERROR,
                        "E109",
                        f"includes are nested more than {MAX_INCLUDE_DEPTH} "
                        "files deep; include this file from one higher up the chain (a file "
                        "included twice is read once)",
                        inc.span,
                    )
                ]
            )
        path = posixpath.normpath(
            posixpath.join(posixpath.dirname(self.paths[including]), inc.path)
        )
        real = os.path.realpath(path)
        self._confine(inc, real)
        if real in stack:
            chain = " -> ".join(
                [file_name(posixpath.basename(p)) for p in stack[stack.index(real) :]]
                + [file_name(posixpath.basename(real))]
            )
            raise DiagnosticError(
                [
                    Diagnostic(
                        Severity.ERROR,
                        "E107",
                        f"include cycle: {chain}",
                        inc.span,
                        label="remove one of these includes",
                    )
                ]
            )
        if real in self.seen:
            return  # each file is read once, however many files include it
        self.seen.add(real)
        self._load(path, self._read_or_fail(path, inc.span), stack + [real], inc.span)

    def _confine(self, inc: Include, real: str) -> None:
        """E111 unless `real` is inside an allowed folder; says nothing about the target."""
        if not self.folders:
            return  # text without a file (`parse_text`): no include can be read at all
        inside = [f for f in self.folders if os.path.commonpath([real, f]) == f]
        if inside and (
            not posixpath.isabs(inc.path) or len(inside) > 1 or inside[0] != self.folders[0]
        ):
            return
        if inside:
            why = "an absolute include path"
        elif posixpath.isabs(inc.path):
            why = "an absolute include path outside the allowed folders"
        else:
            why = "the include leads outside the allowed folders ('..' or a symlink)"
        raise DiagnosticError(
            [
                Diagnostic(
                    Severity.ERROR,
                    "E111",
                    f"{why}: includes are relative to the including file and "
                    f"stay inside '{self.shown}' (the root policy's folder) unless another "
                    "folder is allowed with --include-path",
                    inc.span,
                )
            ]
        )

    def _result(self) -> ParseResult:
        headers: list[PolicyHeader] = []
        kinds: dict[type, list[Any]] = {
            k: [] for k in (ServiceDef, ClassDef, ExternalDef, RuleStmt, GatewayDef, AssertStmt)
        }
        subnet_pools: list[Any] = []
        vlan_pools: list[Any] = []
        for stmt in self.statements:
            if isinstance(stmt, PolicyHeader):
                headers.append(stmt)
            elif isinstance(stmt, PoolSubnets):
                subnet_pools.extend(stmt.prefixes)
            elif isinstance(stmt, PoolVlans):
                vlan_pools.extend(stmt.ranges)
            else:
                kinds[type(stmt)].append(stmt)
        for extra in headers[1:]:
            self.sink.error(
                "E110",
                "the policy header is given more than once",
                extra.span,
                notes=(("first header here", headers[0].span),),
            )
        policy = Policy(
            header=headers[0] if headers else None,
            subnet_pools=tuple(subnet_pools),
            vlan_pools=tuple(vlan_pools),
            services=tuple(kinds[ServiceDef]),
            classes=tuple(kinds[ClassDef]),
            externals=tuple(kinds[ExternalDef]),
            rules=tuple(kinds[RuleStmt]),
            gateways=tuple(kinds[GatewayDef]),
            assertions=tuple(kinds[AssertStmt]),
            files=tuple(self.files),
        )
        return ParseResult(policy, self.sources, list(self.sink.items))
