"""Resource bombs: small or odd inputs that took gigabytes or never finished (issue #12 item 5).

    python benchmarks/bombs.py                      # every case, full size
    python benchmarks/bombs.py --cases title-60mb,tags-4000x20   # some of them
    python benchmarks/bombs.py --smoke              # every case, tiny (what the test suite runs)
    python benchmarks/bombs.py --write DIR          # only write the policies into DIR

Each case writes one policy and runs one zonewall command on it in a fresh process
(`python -m zonewall ...`), and records the exit status, wall time, peak RSS (from `wait4`,
interpreter start-up included), the size of stderr and the first line of stderr.  Results go
to a Markdown table on stdout.  A case fails (exit 1 of this script) when the command raised a
traceback, exited other than as the case expects, or went over the 1 GiB RSS budget that
`check` must keep for any policy up to the 64 MiB file cap.

Cases (full sizes; `--smoke` runs each tiny, where the limits are not reached):

* `title-60mb`: a policy title of 60 MB (under the 64 MiB file cap).
* `description-10mb-escapes`: a class description of 10 MB, a third of it `\\\\` escapes.
* `bad-escapes-one-line`: 10,000 unknown escapes (`\\q`) on one 20 KB line: stderr stays
  small (3 diagnostics of one code per line, long lines cut around the caret).
* `long-name-60mb`: a 60 MB class name (`a-a-a-...`): E104.
* `comments-60mb`: 30 million comment lines.
* `tags-1000x20`: 1,000 classes in 20 tags, 20 rules `allow tag:tI -> tag:tJ`, one iptables
  gateway: `build` writes and proves 206,000 rules.
* `tags-4000x20`: the same with 4,000 classes (3.2 million rules): `build` refuses (E401, the
  rule budget of one gateway).
* `allows-1m`: 1,000,000 one-line allows over 1,000 classes: `check` refuses (E109, the
  statement limit).
* `allows-at-limit`: just under the statement limit: `check`.
* `title-60mb-astral`: the 60 MB title with one emoji in it (Python then holds every string
  holding it at 4 bytes a character).
* `title-cap-astral`: the same, the file just under the 64 MiB cap.
* `description-cap-astral-escapes`: a description filling the file to the cap, a third of it
  `\\\\` escapes, with one emoji.
* `comment-line-60mb`: one comment line of 60 MB.
* `long-line-60mb`: one line of 60 MB of blanks ending in a bad character (E102).
* `unknown-names-one-line`: one allow listing 990,000 names of 31 characters that name nothing
  (E201; the line holds 2 million tokens).
* `errors-every-line`: just under the statement limit, allows naming two unknown classes each
  (two E201 on every line).
* `errors-every-line-astral`: the same and a comment with an emoji filling the file to the
  64 MiB cap (Python holds the whole text 4 bytes a character).
* `dense-errors-astral`: as many diagnostics as the token limit allows (4 kept on each of
  199,880 lines), and an emoji comment to the cap.
* `braces-60mb`: `class a {` and then 60 million `{` (E101).
* `semicolons-60mb`: 60 million `;` after a statement (E101 at the second).
* `tiny-statements`: just under the statement limit, `service sN = tcp/P` each.
* `includes-5000`: 5,000 included files of 12 KB each (60 MB in all).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
GIB = 1 << 30


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path, int], None]  # (path, size)
    size: int  # full run
    smoke: int  # --smoke
    command: str  # check | build
    exits: tuple[int, ...]  # acceptable exit statuses (full run)
    smoke_exits: tuple[int, ...]
    note: str


def _lines(path: Path, parts: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for part in parts:
            fh.write(part)


def _repeat(text: str, count: int) -> Iterator[str]:
    """`text * count` in pieces of about 1 MB: this process stays small, so the peak RSS a
    child reports is the child's own (a forked child starts with its parent's resident set)."""
    per = max(1, (1 << 20) // len(text))
    for start in range(0, count, per):
        yield text * min(per, count - start)


def _classes(n: int, tags: int = 0) -> Iterator[str]:
    yield "pool subnets 10.0.0.0/8\npool vlans 2-4094\nservice https = tcp/443\n"
    for i in range(n):
        tag = f" tags t{i % tags}" if tags else ""
        yield f"class c{i} {{ hosts 4{tag} }}\n"
    yield (
        'gateway fw { platform iptables interface "eth1.{vlan}" uplink "eth0" serves internal }\n'
    )


# One class and the gateway serving it: a policy that checks clean but for what a case adds.
_CLASS = "class a { hosts 4 }\n"
_REST = (
    "pool subnets 10.0.0.0/8\npool vlans 2-4094\n"
    'gateway fw { platform iptables interface "eth1.{vlan}" uplink "eth0" serves a }\n'
)


def title(path: Path, n: int) -> None:
    _lines(path, chain(['policy "'], _repeat("t", n), ['" { owner "o" }\n', _CLASS, _REST]))


def escapes(path: Path, n: int) -> None:
    _lines(
        path, chain(['class a { hosts 4 description "'], _repeat("\\\\x", n // 3), ['" }\n', _REST])
    )


def bad_escapes(path: Path, n: int) -> None:
    _lines(path, iter(['class a { hosts 4 description "', "\\q" * n, '" }\n', _REST]))


def long_name(path: Path, n: int) -> None:
    _lines(path, chain(["class "], _repeat("a-", n // 2), ["a { hosts 4 }\n", _REST]))


def comments(path: Path, n: int) -> None:
    _lines(path, chain(_repeat("#\n", n // 2), [_CLASS, _REST]))


def tags(path: Path, n: int) -> None:
    rules = (f"allow tag:t{i} -> tag:t{(i + 1) % 20} : https\n" for i in range(20))
    _lines(path, chain(_classes(n, 20), rules))


def allows(path: Path, n: int) -> None:
    rules = (f"allow c{i % 1000} -> c{(i * 7 + 1) % 1000} : https\n" for i in range(n))
    _lines(path, chain(_classes(1000), rules))


def title_astral(path: Path, n: int) -> None:
    """A title of `n` ASCII bytes and one emoji: Python holds the whole text 4 bytes a
    character (one character outside the BMP widens every string it is in)."""
    _lines(
        path,
        chain(['policy "\U0001f489'], _repeat("t", n), ['" { owner "o" }\n', _CLASS, _REST]),
    )


def escapes_astral(path: Path, n: int) -> None:
    """A description of `n` bytes, a third of them `\\\\` escapes, and one emoji."""
    _lines(
        path,
        chain(
            ['class a { hosts 4 description "\U0001f489'],
            _repeat("\\\\x", (n - 4) // 3),
            ['" }\n', _REST],
        ),
    )


def comment_line(path: Path, n: int) -> None:
    _lines(path, chain(["#"], _repeat("c", n), ["\n", _CLASS, _REST]))


def long_line_error(path: Path, n: int) -> None:
    """One line of `n` blanks between two statements, a bad character at its end (E102):
    the diagnostic prints the line cut around the caret."""
    _lines(path, chain([_CLASS.rstrip("\n")], _repeat(" ", n), [" ?\n", _REST]))


def unknown_names_one_line(path: Path, n: int) -> None:
    """One allow whose source lists `n` names of 31 characters that name nothing (E201 each,
    3 kept for the line)."""
    names = (f"{'u' * 24}{i:07d}, " for i in range(n))
    _lines(path, chain([_CLASS, _REST, "service https = tcp/443\nallow "], names, ["a -> a\n"]))


def errors_every_line(path: Path, n: int) -> None:
    """`n` allows, each naming two classes that do not exist: two E201 on every line."""
    rules = (f"allow x{i} -> y{i} : https\n" for i in range(n))
    _lines(path, chain([_CLASS, _REST, "service https = tcp/443\n"], rules))


def errors_every_line_astral(path: Path, n: int) -> None:
    """`errors_every_line`, then a comment with an emoji filling the file to the cap (at
    full size): every line's text is held 4 bytes a character."""
    errors_every_line(path, n)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("# \U0001f489")
        for piece in _repeat("c", min(CAP - path.stat().st_size - 16, 300 * n)):
            fh.write(piece)
        fh.write("\n")


def dense_errors_astral(path: Path, n: int) -> None:
    """`n` allows of 3 unknown sources, an unknown destination and an unknown service, then
    an emoji comment filling the file to the cap (at full size): 4 diagnostics kept a line
    (3 E201 with "and 1 more", the service's), 800,000 at the token limit."""
    rules = (f"allow x{i}, y{i}, z{i} -> w{i} : s{i}\n" for i in range(n))
    _lines(path, chain([_CLASS, _REST], rules))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("# \U0001f489")
        for piece in _repeat("c", min(CAP - path.stat().st_size - 16, 300 * n)):
            fh.write(piece)
        fh.write("\n")


def braces(path: Path, n: int) -> None:
    _lines(path, chain(["class a {"], _repeat("{", n), ["\n", _REST]))


def semicolons(path: Path, n: int) -> None:
    _lines(path, chain([_CLASS, _REST], _repeat(";", n), ["\n"]))


def tiny_statements(path: Path, n: int) -> None:
    """`n` of the smallest statements the language has, `service sN = tcp/P`."""
    rules = (f"service s{i} = tcp/{i % 65535 + 1}\n" for i in range(n))
    _lines(path, chain([_CLASS, _REST], rules))


def includes(path: Path, n: int) -> None:
    """`n` included files of 12 KB each (60 MB in all at 5,000: under the cap, which counts the
    includes together with the root)."""
    folder = path.parent / f"{path.stem}.d"
    folder.mkdir(exist_ok=True)
    body = "# " + "x" * 12_000 + "\n"
    for i in range(n):
        (folder / f"i{i}.zw").write_text(f"{body}service s{i} = tcp/{i + 1}\n")
    incs = (f'include "{folder.name}/i{i}.zw"\n' for i in range(n))
    _lines(path, chain([_CLASS, _REST], incs))


def _limit() -> int:
    sys.path.insert(0, str(SRC))
    from zonewall.dsl.parser import MAX_STATEMENTS

    return MAX_STATEMENTS


MB = 1_000_000
CAP = 64 << 20  # the size limit of a policy and its includes
CASES = [
    Case("title-60mb", title, 60 * MB, 1000, "check", (0,), (0,), "string literal"),
    Case(
        "description-10mb-escapes",
        escapes,
        10 * MB,
        1000,
        "check",
        (0,),
        (0,),
        "string, 1/3 escapes",
    ),
    Case("bad-escapes-one-line", bad_escapes, 10_000, 100, "check", (1,), (1,), "E106 on one line"),
    Case("long-name-60mb", long_name, 60 * MB, 1000, "check", (1,), (1,), "name (E104)"),
    Case("comments-60mb", comments, 60 * MB, 1000, "check", (0,), (0,), "comment lines"),
    Case("tags-1000x20", tags, 1000, 40, "build", (0,), (0,), "classes, tag pairs, iptables"),
    Case("tags-4000x20", tags, 4000, 40, "build", (1,), (0,), "classes, tag pairs, iptables"),
    Case("allows-1m", allows, 1_000_000, 100, "check", (1,), (0,), "allows (E109)"),
    Case("allows-at-limit", allows, _limit() - 1004, 100, "check", (0,), (0,), "allows"),
    Case("title-60mb-astral", title_astral, 60 * MB, 1000, "check", (0,), (0,), "string + emoji"),
    Case(
        "title-cap-astral",
        title_astral,
        CAP - 400,
        1000,
        "check",
        (0,),
        (0,),
        "string + emoji, file at the cap",
    ),
    Case(
        "description-cap-astral-escapes",
        escapes_astral,
        CAP - 400,
        1000,
        "check",
        (0,),
        (0,),
        "string, 1/3 escapes, emoji, at the cap",
    ),
    Case("comment-line-60mb", comment_line, 60 * MB, 1000, "check", (0,), (0,), "one comment"),
    Case("long-line-60mb", long_line_error, 60 * MB, 1000, "check", (1,), (1,), "blanks (E102)"),
    Case(
        "unknown-names-one-line",
        unknown_names_one_line,
        990_000,
        100,
        "check",
        (1,),
        (1,),
        "31-char names (E201)",
    ),
    Case(
        "errors-every-line",
        errors_every_line,
        _limit() - 10,
        100,
        "check",
        (1,),
        (1,),
        "allows of 2 unknown names",
    ),
    Case(
        "errors-every-line-astral",
        errors_every_line_astral,
        _limit() - 10,
        100,
        "check",
        (1,),
        (1,),
        "allows of 2 unknown names, an emoji comment to the cap",
    ),
    Case(
        "dense-errors-astral",
        dense_errors_astral,
        199_880,
        100,
        "check",
        (1,),
        (1,),
        "allows of 5 unknown names, an emoji comment to the cap",
    ),
    Case("braces-60mb", braces, 60 * MB, 1000, "check", (1,), (1,), "`{` (E101)"),
    Case("semicolons-60mb", semicolons, 60 * MB, 1000, "check", (1,), (1,), "`;` (E101)"),
    Case("tiny-statements", tiny_statements, _limit() - 10, 100, "check", (0,), (0,), "services"),
    Case("includes-5000", includes, 5000, 10, "check", (0,), (0,), "included files of 12 KB"),
]


def run(case: Case, folder: Path, smoke: bool) -> dict[str, object]:
    policy = folder / f"{case.name}.zw"
    case.write(policy, case.smoke if smoke else case.size)
    argv = [sys.executable, "-m", "zonewall", case.command, str(policy)]
    if case.command == "build":
        argv += ["-o", str(folder / f"{case.name}.out")]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    start = time.perf_counter()
    with open(folder / "stderr", "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    stderr = (folder / "stderr").read_bytes()
    first = stderr.split(b"\n", 1)[0].decode("utf-8", "replace")
    rss = usage.ru_maxrss * 1024
    exits = case.smoke_exits if smoke else case.exits
    ok = code in exits and b"Traceback" not in stderr and rss < GIB
    size = case.smoke if smoke else case.size
    return {
        "case": case.name,
        "note": f"{size:,} {case.note}",
        "bytes": policy.stat().st_size,
        "command": case.command,
        "exit": code,
        "wall": wall,
        "rss": rss,
        "stderr": len(stderr),
        "first": first[:100],
        "ok": ok,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (seconds in all)")
    ap.add_argument("--write", metavar="DIR", help="only write the policies into DIR")
    args = ap.parse_args()
    chosen = [c for c in CASES if not args.cases or c.name in args.cases.split(",")]
    if args.write:
        for case in chosen:
            case.write(
                Path(args.write) / f"{case.name}.zw", case.smoke if args.smoke else case.size
            )
        return 0
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    print("| case | input | command | exit | wall | peak RSS | stderr | first line of stderr |")
    print("|---|---|---|---|---|---|---|---|")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="zw-bombs-") as tmp:
        for case in chosen:
            r = run(case, Path(tmp), args.smoke)
            failed += not r["ok"]
            print(
                f"| {r['case']}{'' if r['ok'] else ' **FAILED**'} | {r['note']}, "
                f"{int(r['bytes']) / 1e6:.1f} MB | {r['command']} | {r['exit']} | "  # type: ignore[call-overload]
                f"{r['wall']:.1f} s | {int(r['rss']) >> 20} MiB | "  # type: ignore[call-overload]
                f"{int(r['stderr']):,} B | `{r['first']}` |",
                flush=True,
            )  # type: ignore[call-overload]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
