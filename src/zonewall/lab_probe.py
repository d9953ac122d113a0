"""The lab's probe programs, run inside its network namespaces with `python -m`.

`zonewall lab` (`zonewall.lab`) starts them with its own interpreter, so they need nothing but
the standard library and this package being importable there (it is: the same interpreter
and environment):

* `python -m zonewall.lab_probe server SPECS`: listens on every `[proto, address, port]` of
  the JSON list `SPECS` (TCP: accept and answer `ok`; UDP: answer every datagram with `ok`),
  prints `ready` once all are bound, and serves until it is killed;
* `python -m zonewall.lab_probe agent TIMEOUT`: reads a JSON list of `[proto, src, dst,
  port]` probes on stdin, sends them (64 at a time; ICMP as an echo request on a raw
  socket), and prints the JSON list of which got an answer within `TIMEOUT` seconds.

A probe that is refused, times out or fails in any other way counts as blocked.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ["main", "probe", "serve"]

Spec = tuple[str, str, int]  # proto (tcp | udp), address, port
Probe = tuple[str, str, str, int]  # proto (tcp | udp | icmp), source, destination, port


def _family(addr: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _tcp(addr: str, port: int) -> None:
    s = socket.socket(_family(addr))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        conn.sendall(b"ok")
        conn.close()


def _udp(addr: str, port: int) -> None:
    s = socket.socket(_family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        _, peer = s.recvfrom(64)
        s.sendto(b"ok", peer)


def serve(specs: list[Spec]) -> None:
    """Listen on every spec (one daemon thread each), say `ready`, and serve forever."""
    for proto, addr, port in specs:
        threading.Thread(
            target=_tcp if proto == "tcp" else _udp, args=(addr, port), daemon=True
        ).start()
    print("ready", flush=True)
    threading.Event().wait()


def _checksum(data: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(src: str, dst: str, port: int, timeout: float) -> bool:
    """An ICMP echo request from `src`: True when `dst` answers it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind((src, 0))
    s.settimeout(timeout)
    ident = os.getpid() & 0xFFFF ^ port ^ hash(dst) & 0xFFFF
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + b"zw"), ident, 1) + b"zw"
    s.sendto(packet, (dst, 0))
    end = time.time() + timeout
    while time.time() < end:
        data, peer = s.recvfrom(256)
        got = struct.unpack("!H", data[24:26])[0]
        if peer[0] == dst and data[20] == 0 and got == ident:  # an echo reply, ours
            return True
    return False


def probe(p: Probe, timeout: float) -> bool:
    """Whether one probe got its answer (`ok` from a lab server, or an echo reply)."""
    proto, src, dst, port = p
    try:
        if proto == "icmp":
            return _echo(src, dst, port, timeout)
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(_family(dst), kind)
        s.settimeout(timeout)
        s.bind((src, 0))
        if kind == socket.SOCK_STREAM:
            s.connect((dst, port))
            return s.recv(2) == b"ok"
        s.sendto(b"hi", (dst, port))
        return s.recvfrom(8)[0] == b"ok"
    except OSError:
        return False


def main(argv: list[str]) -> int:
    """`server SPECS` or `agent TIMEOUT` (see the module docstring)."""
    if len(argv) == 2 and argv[0] == "server":
        serve([(str(a), str(b), int(c)) for a, b, c in json.loads(argv[1])])
        return 0
    if len(argv) == 2 and argv[0] == "agent":
        timeout = float(argv[1])
        probes = [(str(a), str(b), str(c), int(d)) for a, b, c, d in json.loads(sys.stdin.read())]
        with ThreadPoolExecutor(64) as pool:
            print(json.dumps(list(pool.map(lambda p: probe(p, timeout), probes))))
        return 0
    print("usage: python -m zonewall.lab_probe server SPECS | agent TIMEOUT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
