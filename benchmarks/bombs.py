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


def _limit() -> int:
    sys.path.insert(0, str(SRC))
    from zonewall.dsl.parser import MAX_STATEMENTS

    return MAX_STATEMENTS


MB = 1_000_000
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
