"""Shared helpers for kernel tests: tools, a throw-away network namespace, skip-or-fail.

Kernel tests load generated rulesets into a real kernel, always inside a fresh network
namespace that is removed afterwards, so the machine's own firewall is never touched.

* As root: `ip netns add zwk<random>`, commands run with `ip netns exec`, and the namespace is
  deleted in a `finally`.
* Otherwise: an unprivileged user and network namespace (`unshare -rn`) kept alive by a `sleep`
  this module starts; commands enter it with `nsenter -U -n --preserve-credentials`, and the
  `sleep` is killed (by its pid) at the end, which frees the namespace.

When the tools or the permission are missing, `unavailable()` skips the test, unless
`ZONEWALL_REQUIRE_KERNEL=1` is set (CI), in which case it fails.

Usage::

    require_tool("nft")
    with netns() as ns:
        ns.run("nft", "-c", "-f", path)      # raises AssertionError on a non-zero exit
        proc = ns.run("nft", "list", "ruleset", check=False)
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import pytest

__all__ = ["REQUIRE_ENV", "Netns", "load_command", "netns", "require_tool", "run", "unavailable"]

REQUIRE_ENV = "ZONEWALL_REQUIRE_KERNEL"
TIMEOUT = 60


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when kernel tests are required (ZONEWALL_REQUIRE_KERNEL=1)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"kernel test cannot run, but {REQUIRE_ENV}=1: {reason}")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of an executable, or skip/fail when it is not installed."""
    path = shutil.which(name) or next(
        (p for d in ("/usr/sbin", "/sbin") if os.access(p := os.path.join(d, name), os.X_OK)), None
    )
    if path is None:
        unavailable(f"'{name}' is not installed")
    return path


def run(
    args: Sequence[str], *, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; with `check`, a non-zero exit is an AssertionError."""
    proc = subprocess.run(
        list(args), capture_output=True, text=True, input=input, timeout=TIMEOUT, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}"
        )
    return proc


def load_command(text: str, path: str) -> str:
    """The `load with:` line of a generated iptables/ip6tables file's header, exactly as an
    operator runs it, with the file name replaced by `path` (a shell command line)."""
    line = next(ln for ln in text.splitlines() if ln.startswith("# load with: "))
    command = line.removeprefix("# load with: ")
    name = command.split(" < ", 1)[1].split()[0]
    return command.replace(f" < {name} ", f" < {shlex.quote(path)} ", 1)


@dataclass(frozen=True)
class Netns:
    """A network namespace; `run` executes a command inside it."""

    name: str
    prefix: tuple[str, ...]  # the command that enters the namespace

    def run(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run((*self.prefix, *args), check=check, input=input)


@contextmanager
def netns() -> Iterator[Netns]:
    """A fresh, empty network namespace, removed on exit (failures included)."""
    if os.geteuid() == 0:
        with _root_netns() as ns:
            yield ns
    else:
        with _user_netns() as ns:
            yield ns


@contextmanager
def _root_netns() -> Iterator[Netns]:
    ip = require_tool("ip")
    name = f"zwk{uuid.uuid4().hex[:12]}"
    made = run((ip, "netns", "add", name), check=False)
    if made.returncode != 0:
        unavailable(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        yield Netns(name, (ip, "netns", "exec", name))
    finally:
        run((ip, "netns", "delete", name), check=False)


@contextmanager
def _user_netns() -> Iterator[Netns]:
    unshare, nsenter = require_tool("unshare"), require_tool("nsenter")
    probe = run((unshare, "-rn", "true"), check=False)
    if probe.returncode != 0:
        unavailable(f"unprivileged namespaces are not available: {probe.stderr.strip()}")
    holder = subprocess.Popen(
        [unshare, "-rn", "sleep", "3600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_own_netns(holder)
        yield Netns(
            f"pid{holder.pid}",
            (nsenter, "--preserve-credentials", "-U", "-n", "-t", str(holder.pid)),
        )
    finally:
        holder.kill()
        holder.wait()


def _wait_for_own_netns(holder: subprocess.Popen[bytes]) -> None:
    """Wait until the holder has left our namespace: entering it earlier would enter ours."""
    mine = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if holder.poll() is not None:
            unavailable("unshare -rn exited early")
        try:
            if os.readlink(f"/proc/{holder.pid}/ns/net") != mine:
                return
        except OSError:
            pass
        time.sleep(0.01)
    unavailable("unshare -rn did not create a namespace in time")
