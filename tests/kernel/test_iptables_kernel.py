"""The iptables output probed in a real kernel.

A small policy is built into a lab (router namespace + one host per class and one outside)
and probed with real TCP and UDP sockets: exactly the flows the policy permits get through,
replies included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.kernel.netlab import lab, require_root_tools, run, wait_for_servers
from tests.kernel.test_examples_kernel import platform_outputs
from tests.kernel_util import load_command

pytestmark = pytest.mark.kernel


def iptables_outputs(path: Path) -> dict[str, str]:
    return platform_outputs(path, "iptables")


LAB_POLICY = """
service web  = tcp/80
service tls  = tcp/443
service dns  = udp/53
class a { vlan 10 subnet 10.1.1.0/24 }
class b { vlan 20 subnet 10.1.2.0/24 }
class c { vlan 30 subnet 10.1.3.0/24 }
external ext { address 198.51.100.0/24 }
external internet { address 0.0.0.0/0 }
allow a -> b : web        "a reaches b's web server"
allow c -> internet : web # 0.0.0.0/0 minus every class: reaches ext, never b
allow a -> ext : dns
allow ext -> b : tls
allow b -> c : tls
allow a -> any : tls
deny  a -> c              # wins over the allow above, wherever it is written
allow c -> a              # every protocol ...
deny  c -> a : tcp/81     # ... but this port: matched by negation (iptables "-p 0" is "all")
gateway fw { platform iptables uplink "eth0" serves internal }
"""

# (from host, proto, to address, port) -> permitted?  Written from the policy by hand: an
# oracle that shares no code with the compiler.
EXPECTED = {
    ("a", "tcp", "10.1.2.10", 80): True,
    ("a", "tcp", "10.1.2.10", 81): False,
    ("a", "tcp", "10.1.2.10", 443): True,
    ("b", "tcp", "10.1.1.10", 80): False,
    ("a", "udp", "198.51.100.10", 53): True,
    ("a", "tcp", "198.51.100.10", 443): True,
    ("a", "udp", "198.51.100.10", 54): False,
    ("x", "tcp", "10.1.2.10", 443): True,
    ("x", "tcp", "10.1.2.10", 80): False,
    ("x", "tcp", "10.1.1.10", 443): False,
    ("b", "tcp", "10.1.3.10", 443): True,
    ("a", "tcp", "10.1.3.10", 443): False,
    ("c", "tcp", "10.1.2.10", 443): False,
    ("b", "udp", "198.51.100.10", 53): False,
    ("c", "tcp", "10.1.2.10", 80): False,
    ("c", "tcp", "198.51.100.10", 80): True,
    ("c", "tcp", "10.1.1.10", 82): True,
    ("c", "tcp", "10.1.1.10", 81): False,
    ("a", "tcp", "10.1.3.10", 82): False,
}


def test_lab_probes_match_policy(tmp_path: Path) -> None:
    require_root_tools("iptables-restore")
    policy = tmp_path / "lab.zw"
    policy.write_text(LAB_POLICY)
    text = iptables_outputs(policy)["fw.rules"]
    rules = tmp_path / "fw.rules"
    rules.write_text(text, encoding="utf-8")
    hosts = {
        "a": ("vlan10", "10.1.1"),
        "b": ("vlan20", "10.1.2"),
        "c": ("vlan30", "10.1.3"),
        "x": ("eth0", "198.51.100"),
    }
    with lab() as the_lab:
        router = the_lab.ns("r")
        ns = {}
        for host, (ifname, net) in hosts.items():
            ns[host] = the_lab.ns(host)
            the_lab.link(router, ifname, f"{net}.1/24", ns[host], "eth0", f"{net}.10/24")
            the_lab.exec(ns[host], "ip", "route", "add", "default", "via", f"{net}.1")
        the_lab.exec(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        the_lab.exec(router, "sh", "-c", load_command(text, str(rules)))
        the_lab.serve(ns["b"], "tcp", "10.1.2.10", [80, 81, 443])
        the_lab.serve(ns["a"], "tcp", "10.1.1.10", [80, 81, 82])
        the_lab.serve(ns["c"], "tcp", "10.1.3.10", [82])
        the_lab.serve(ns["c"], "tcp", "10.1.3.10", [443])
        the_lab.serve(ns["x"], "udp", "198.51.100.10", [53, 54])
        the_lab.serve(ns["x"], "tcp", "198.51.100.10", [80, 443])
        wait_for_servers()
        got = {
            probe: the_lab.probe(ns[probe[0]], probe[1], probe[2], probe[3]) for probe in EXPECTED
        }
    wrong = {p: v for p, v in got.items() if v != EXPECTED[p]}
    assert not wrong, f"probes that disagree with the policy (probe: got): {wrong}"


def test_kernel_tools_present() -> None:
    """CI installs the tools; a missing one must fail there, not skip silently."""
    require_root_tools("iptables-restore", "nft")
    assert run("iptables-restore", "--version").returncode == 0
