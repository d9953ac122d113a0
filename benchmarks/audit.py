"""How long `zonewall audit` takes on large device output (issue 15 item 5).

Builds a seeded estate (`generate.py`), wraps one iptables gateway's file into an
`iptables-save -c` of a box that also runs docker, fail2ban and NAT, and one cisco-ios
gateway's ACLs into a full `show running-config` (an 8-switch stack: 384 access ports,
AAA, crypto, banners, SNMP, the IOS-XE default ACLs), each padded with chains and ports that
are not audited to the target size, then times:

* the command line, `zonewall audit ESTATE --gateway G --config RUNNING`, in a fresh process
  (start-up, policy check and audit; best of `--repeat` runs, wall clock);
* the audit alone, in process (`zonewall.verify.audit_config`, best of `--repeat`).

    python benchmarks/audit.py                       # 400 KB iptables-save, 1 MB running-config
    python benchmarks/audit.py --classes 300 --allows 5000    # a 1.7 MB iptables-save

Not a test: nothing in the suite is timed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from device_outputs import ios_running, iptables_save  # noqa: E402


def pad_iptables(text: str, size: int) -> str:
    """Add a box's own chains for other interfaces (docker networks) until `size` bytes."""
    extra, n = [], 0
    while len(text) + sum(map(len, extra)) < size:
        net = f"br-{n:012x}"
        extra.append(f":DOCKER-NET-{n} - [0:0]\n")
        extra += [
            f"[{k}:{k * 60}] -A DOCKER-NET-{n} -i {net} -o {net} -p tcp -m tcp "
            f"--dport {8000 + k} -j ACCEPT\n"
            for k in range(20)
        ]
        extra.append(f"[0:0] -A FORWARD -i {net} -o {net} -j DOCKER-NET-{n}\n")
        n += 1
    decls = "".join(x for x in extra if x.startswith(":"))
    rules = "".join(x for x in extra if not x.startswith(":"))
    head, _, tail = text.rpartition("COMMIT\n# Completed")
    head = head.replace(":f2b-sshd - [0:0]\n", ":f2b-sshd - [0:0]\n" + decls)
    return head + rules + "COMMIT\n# Completed" + tail


def pad_ios(text: str, size: int) -> str:
    """Add access ports of a switch stack (not audited) until `size` bytes."""
    ports = []
    n = 0
    while len(text) + sum(map(len, ports)) < size:
        sw, port = n // 48 + 2, n % 48 + 1
        ports.append(
            f"interface GigabitEthernet{sw}/0/{port}\n description clinical bay "
            f"{n} wall jack\n switchport access vlan 999\n switchport mode access\n"
            " switchport voice vlan 998\n authentication port-control auto\n"
            " mab\n dot1x pae authenticator\n spanning-tree portfast\n"
            " spanning-tree bpduguard enable\n ip dhcp snooping limit rate 15\n!\n"
        )
        n += 1
    return text.replace(
        "interface GigabitEthernet1/0/48\n", "".join(ports) + "interface GigabitEthernet1/0/48\n", 1
    )


def best(times: int, run: object) -> float:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--allows", type=int, default=1000)
    ap.add_argument("--iptables-kb", type=int, default=400)
    ap.add_argument("--ios-kb", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zonewall-audit-bench-"))
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "generate.py"),
            "--classes",
            str(args.classes),
            "--allows",
            str(args.allows),
            "--platforms",
            "iptables,cisco-ios",
            "--out",
            str(work),
        ],
        check=True,
    )
    policy = work / "estate.zw"
    subprocess.run(
        [sys.executable, "-m", "zonewall", "build", str(policy), "-o", str(work / "out")],
        check=True,
        capture_output=True,
    )
    out = work / "out"
    rules = sorted(out.glob("*.rules"))[0]
    acl = sorted(p for p in out.glob("*.ios") if not p.name.endswith("-switch.ios"))[0]
    switch = acl.with_name(acl.stem + "-switch.ios")
    saved = pad_iptables(iptables_save(rules.read_text()), args.iptables_kb * 1000)
    running = pad_ios(ios_running(acl.read_text(), switch.read_text()), args.ios_kb * 1000)
    cases = [
        (rules.stem, "iptables", saved, work / "saved.rules"),
        (acl.stem, "cisco-ios", running, work / "running.txt"),
    ]
    from zonewall.report import run_check
    from zonewall.verify import audit_config

    compiled = run_check(str(policy), None).compiled
    assert compiled is not None
    print(f"estate: {args.classes} classes, {args.allows} allows; {sys.version.split()[0]}")
    for gateway, platform, text, path in cases:
        path.write_text(text)
        cmd = [
            sys.executable,
            "-m",
            "zonewall",
            "audit",
            str(policy),
            "--gateway",
            gateway,
            "--config",
            str(path),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        cli = best(args.repeat, lambda: subprocess.run(cmd, capture_output=True))
        inproc = best(args.repeat, lambda: audit_config(compiled, gateway, text, platform))
        lines = text.count("\n")
        print(
            f"{platform:9} {gateway:12} {len(text) / 1000:7.0f} KB {lines:7} lines  "
            f"audit alone {inproc:6.2f} s   zonewall audit (CLI) {cli:6.2f} s"
        )


if __name__ == "__main__":
    main()
