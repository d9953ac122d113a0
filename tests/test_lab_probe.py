"""The lab's probe programs (`zonewall.lab_probe`) as the lab runs them, `python -m`, here on
the loopback interface (no namespace, no root): a server answers, an agent sees who did."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

PROBE = [sys.executable, "-m", "zonewall.lab_probe"]


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_an_agent_sees_what_a_server_answers() -> None:
    tcp, udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    specs = [["tcp", "127.0.0.1", tcp], ["udp", "127.0.0.1", udp]]
    server = subprocess.Popen(
        [*PROBE, "server", json.dumps(specs)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        closed = free_port(socket.SOCK_STREAM)
        probes = [
            ["tcp", "127.0.0.1", "127.0.0.1", tcp],
            ["udp", "127.0.0.1", "127.0.0.1", udp],
            ["tcp", "127.0.0.1", "127.0.0.1", closed],
        ]
        out = subprocess.run(
            [*PROBE, "agent", "2"],
            input=json.dumps(probes),
            text=True,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        assert json.loads(out) == [True, True, False]
    finally:
        server.kill()
        server.wait()
        assert server.stdout is not None
        server.stdout.close()


def test_a_wrong_command_line_is_a_usage_error() -> None:
    proc = subprocess.run([*PROBE, "listen"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "usage: python -m zonewall.lab_probe" in proc.stderr
