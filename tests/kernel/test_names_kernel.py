"""The numbers iptables itself loads for the protocol and ICMP-type names the verifier reads.

Each name is loaded as a rule into a throw-away network namespace; iptables prints ICMP types
back as numbers (`iptables -S`), and `iptables -C -p NUMBER` finds a rule loaded with
`-p NAME` exactly when the two are the same protocol.  The front end's ICMP names (the ones a
policy writes after `icmp/`) are checked the same way.
"""

from __future__ import annotations

import re

import pytest

from tests.kernel_util import netns, require_tool
from zonewall.packets import ICMP_TYPES
from zonewall.verify.names import IANA_PROTOCOLS, IPTABLES_ICMP

pytestmark = pytest.mark.kernel


def _loaded_icmp_types(names: list[str]) -> list[int]:
    require_tool("iptables")
    with netns() as ns:
        for name in names:
            ns.run("iptables", "-A", "FORWARD", "-p", "icmp", "--icmp-type", name, "-j", "ACCEPT")
        listing = ns.run("iptables", "-S", "FORWARD").stdout
    return [int(n) for n in re.findall(r"--icmp-type (\d+) ", listing)]


def test_iptables_loads_each_verifier_icmp_name_as_its_number() -> None:
    names = sorted(IPTABLES_ICMP)
    assert _loaded_icmp_types(names) == [IPTABLES_ICMP[n] for n in names]


def test_iptables_loads_each_front_end_icmp_name_as_its_number() -> None:
    names = sorted(ICMP_TYPES)
    assert _loaded_icmp_types(names) == [ICMP_TYPES[n] for n in names]


def test_iptables_reads_each_protocol_name_as_its_number() -> None:
    require_tool("iptables")
    wrong = []
    with netns() as ns:
        for name, number in sorted(IANA_PROTOCOLS.items()):
            ns.run("iptables", "-A", "FORWARD", "-p", name, "-j", "ACCEPT")
            same = ns.run(
                "iptables", "-C", "FORWARD", "-p", str(number), "-j", "ACCEPT", check=False
            )
            if same.returncode != 0:
                wrong.append(name)
            ns.run("iptables", "-F", "FORWARD")
    assert wrong == []
