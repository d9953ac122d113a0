"""A tiny network-namespace lab for kernel tests: one router namespace, one host per segment.

Used to load generated rulesets into a real kernel and probe them with real sockets.  Needs
root (`ip netns`).  Every namespace is deleted on exit, failures included.  Addresses used are
the test policies' own, inside namespaces this process creates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

REQUIRE_ENV = "ZONEWALL_REQUIRE_KERNEL"


def kernel_unavailable(reason: str) -> None:
    """Skip, or fail when CI demands kernel tests (ZONEWALL_REQUIRE_KERNEL=1)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"kernel test cannot run but {REQUIRE_ENV}=1: {reason}")
    pytest.skip(reason)


def kernel_lacks(feature: str, stderr: str) -> None:
    """Skip when the running kernel was built without `feature`, even in CI: that is a fact of
    the kernel, not a missing tool or permission, and no package can add it.  Only an explicit
    "Unknown device type" answer counts; any other failure is a test failure."""
    if "Unknown device type" not in stderr:
        raise AssertionError(f"probing {feature} failed: {stderr.strip()}")
    pytest.skip(
        f"this kernel has no {feature} (it answered: {stderr.strip()}); "
        "the unit tests run the script against a stand-in 'ip'"
    )


def require_root_tools(*tools: str) -> None:
    if os.geteuid() != 0:
        kernel_unavailable("needs root for network namespaces")
    for tool in ("ip", *tools):
        if shutil.which(tool) is None:
            kernel_unavailable(
                f"'{tool}' is not installed (apt-get install iptables nftables iproute2)"
            )


def run(
    *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


@dataclass
class Lab:
    tag: str
    namespaces: list[str] = field(default_factory=list)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, name: str) -> str:
        full = f"zw{self.tag}{name}"[:15]
        run("ip", "netns", "add", full)
        self.namespaces.append(full)
        run("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def link(self, ns_a: str, if_a: str, addr_a: str, ns_b: str, if_b: str, addr_b: str) -> None:
        tmp_a, tmp_b = f"v{uuid.uuid4().hex[:10]}", f"v{uuid.uuid4().hex[:10]}"
        run("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        run("ip", "link", "set", tmp_a, "netns", ns_a)
        run("ip", "link", "set", tmp_b, "netns", ns_b)
        for ns, tmp, name, addr in ((ns_a, tmp_a, if_a, addr_a), (ns_b, tmp_b, if_b, addr_b)):
            run("ip", "-n", ns, "link", "set", tmp, "name", name)
            run("ip", "-n", ns, "addr", "add", addr, "dev", name)
            run("ip", "-n", ns, "link", "set", name, "up")

    def exec(
        self, ns: str, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", ns, *args, check=check, input=input)

    def serve(self, ns: str, proto: str, addr: str, ports: list[int]) -> None:
        """Listeners that answer every TCP connection / UDP datagram on the given ports."""
        code = textwrap.dedent(f"""
            import socket, selectors
            sel = selectors.DefaultSelector()
            for port in {ports!r}:
                kind = socket.SOCK_STREAM if {proto!r} == "tcp" else socket.SOCK_DGRAM
                s = socket.socket(socket.AF_INET, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(({addr!r}, port))
                if kind == socket.SOCK_STREAM:
                    s.listen(16)
                sel.register(s, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    s = key.fileobj
                    if s.type == socket.SOCK_STREAM:
                        c, _ = s.accept(); c.sendall(b"ok"); c.close()
                    else:
                        data, peer = s.recvfrom(64); s.sendto(b"ok", peer)
        """)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.servers.append(proc)

    def probe(self, ns: str, proto: str, dst: str, port: int, src: str | None = None) -> bool:
        """True when a connection (TCP) or a request/answer (UDP) gets through."""
        code = textwrap.dedent(f"""
            import socket, sys
            kind = socket.SOCK_STREAM if {proto!r} == "tcp" else socket.SOCK_DGRAM
            s = socket.socket(socket.AF_INET, kind)
            s.settimeout(0.7)
            if {src!r}:
                s.bind(({src!r}, 0))
            try:
                if kind == socket.SOCK_STREAM:
                    s.connect(({dst!r}, {port})); ok = s.recv(2) == b"ok"
                else:
                    s.sendto(b"hi", ({dst!r}, {port})); ok = s.recvfrom(8)[0] == b"ok"
            except OSError:
                ok = False
            sys.exit(0 if ok else 1)
        """)
        return self.exec(ns, sys.executable, "-c", code, check=False).returncode == 0

    def close(self) -> None:
        for proc in self.servers:
            proc.kill()
            proc.wait()
        for ns in self.namespaces:
            run("ip", "netns", "del", ns, check=False)


@contextmanager
def lab() -> Iterator[Lab]:
    the_lab = Lab(uuid.uuid4().hex[:6])
    try:
        yield the_lab
    finally:
        the_lab.close()


def wait_for_servers() -> None:
    time.sleep(0.4)
