"""The verifier's protocol and ICMP-type names, pinned entry by entry against outside sources.

The verifier reads protocol and ICMP names with its own tables (`zonewall.verify.names`, the
IOS keywords in `zonewall.verify.ios`), never with the front end's (`zonewall.packets`): a
wrong number shared by both would make a config prove equal to a policy it does not enforce.
So each table is checked here against what the real tools accept: the system's protocol
database (netbase, which iptables and nft resolve `-p NAME` / `meta l4proto NAME` through),
`nft describe`, and `iptables -p icmp -h` (the numbers iptables loads for each ICMP name are
checked in a network namespace in `tests/kernel/test_names_kernel.py`).  The front end's
table is pinned against the same sources, so a wrong number there is a test failure too.
"""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from tests.kernel_util import require_tool, unavailable
from zonewall.packets import ICMP_TYPES, PROTO_NAMES
from zonewall.verify.ios_ace import IOS_ICMP, IOS_PROTOCOLS
from zonewall.verify.ios6 import ICMP6_TYPES
from zonewall.verify.names import IANA_PROTOCOLS, IPTABLES_ICMP, NFT_ICMP, PROTOCOL_LABELS


def _system_protocol(name: str) -> int:
    try:
        return socket.getprotobyname(name)
    except OSError:
        if not _has_protocol_database():
            unavailable("no protocol database (/etc/protocols, package netbase)")
        raise


def _has_protocol_database() -> bool:
    try:
        return socket.getprotobyname("tcp") == 6
    except OSError:
        return False


def _tool_output(*args: str) -> str:
    path = require_tool(args[0])
    proc = subprocess.run(
        (path, *args[1:]), capture_output=True, text=True, timeout=60, check=False
    )
    return proc.stdout + proc.stderr


def _nft_symbols(*what: str) -> dict[str, int]:
    text = _tool_output("nft", "describe", *what)
    found = dict(re.findall(r"^\s+(\S+)\s+(\d+)\s*$", text, flags=re.MULTILINE))
    assert found, text
    return {name: int(number) for name, number in found.items()}


# -- IP protocols -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "number"), sorted(IANA_PROTOCOLS.items()))
def test_each_protocol_name_is_the_systems(name: str, number: int) -> None:
    assert _system_protocol(name) == number


def test_protocol_names_are_the_ones_nft_knows() -> None:
    symbols = _nft_symbols("meta", "l4proto")
    assert symbols.pop("ip") == 0  # protocol 0: nft's name, not a -p name for iptables
    assert symbols == IANA_PROTOCOLS


def test_protocol_labels_name_the_protocols_by_their_numbers() -> None:
    assert PROTOCOL_LABELS == {1: "icmp", 6: "tcp", 17: "udp"}
    assert all(_system_protocol(name) == n for n, name in PROTOCOL_LABELS.items())


# Cisco IOS protocol keywords and the netbase name of the same protocol (IOS has its own
# spellings: `ahp` is AH, `ipinip` is IP-in-IP (4), `nos` is KA9Q NOS IP-in-IP (94), `pcp`
# is IP payload compression).
IOS_TO_NETBASE = {
    "tcp": "tcp",
    "udp": "udp",
    "icmp": "icmp",
    "igmp": "igmp",
    "ipinip": "ipencap",
    "gre": "gre",
    "esp": "esp",
    "ahp": "ah",
    "eigrp": "eigrp",
    "ospf": "ospf",
    "nos": "ipip",
    "pim": "pim",
    "pcp": "ipcomp",
    "sctp": "sctp",
}


@pytest.mark.parametrize("keyword", sorted(IOS_PROTOCOLS))
def test_each_ios_protocol_keyword_is_the_systems_protocol(keyword: str) -> None:
    assert keyword in IOS_TO_NETBASE, f"pin IOS protocol '{keyword}' in IOS_TO_NETBASE"
    assert IOS_PROTOCOLS[keyword] == _system_protocol(IOS_TO_NETBASE[keyword])


def test_front_end_protocol_names_are_the_systems() -> None:
    assert all(_system_protocol(name) == n for n, name in PROTO_NAMES.items())


# -- ICMP types -------------------------------------------------------------------------------


def test_iptables_icmp_names_are_the_ones_iptables_lists() -> None:
    text = _tool_output("iptables", "-p", "icmp", "-h")
    listing = text.split("Valid ICMP Types:", 1)[1]
    names: set[str] = set()
    for line in listing.splitlines():
        if not line or line[0].isspace() or line == "any":
            continue  # indented names fix a code as well; "any" is every type
        m = re.fullmatch(r"(\S+)(?: \((\S+)\))?", line)
        if m is None:
            break  # the end of the list
        names.update(n for n in m.groups() if n)
    assert names == set(IPTABLES_ICMP)


def test_nft_icmp_names_are_the_ones_nft_describes() -> None:
    assert _nft_symbols("icmp", "type") == NFT_ICMP


def test_iptables_aliases_are_the_types_they_alias() -> None:
    aliases = {"pong": "echo-reply", "ping": "echo-request", "ttl-exceeded": "time-exceeded"}
    assert {a: IPTABLES_ICMP[a] for a in aliases} == {
        a: IPTABLES_ICMP[n] for a, n in aliases.items()
    }


def test_iptables_and_nft_agree_on_every_name_both_know() -> None:
    shared = set(IPTABLES_ICMP) & set(NFT_ICMP)
    assert len(shared) == 13
    assert {n: IPTABLES_ICMP[n] for n in shared} == {n: NFT_ICMP[n] for n in shared}


@pytest.mark.parametrize(("name", "number"), sorted(ICMP_TYPES.items()))
def test_each_front_end_icmp_name_is_the_number_the_tools_use(name: str, number: int) -> None:
    # The front end writes `icmp/NAME` from a policy as this number: it must be the type
    # iptables and nft mean by the same name (both verifier tables are pinned to the tools).
    assert number == IPTABLES_ICMP[name] == NFT_ICMP[name]


# Cisco IOS keywords for a whole ICMP type, and the same type's name in nft (which the tests
# above pin to nft itself) or, for types nft does not name, the IANA "ICMP Type Numbers"
# registry entry: 6 Alternate Host Address, 30 Traceroute, 31 Datagram Conversion Error,
# 32 Mobile Host Redirect.
IOS_TO_NFT: dict[str, str | int] = {
    "echo-reply": "echo-reply",
    "unreachable": "destination-unreachable",
    "source-quench": "source-quench",
    "redirect": "redirect",
    "alternate-address": 6,
    "echo": "echo-request",
    "router-advertisement": "router-advertisement",
    "router-solicitation": "router-solicitation",
    "time-exceeded": "time-exceeded",
    "parameter-problem": "parameter-problem",
    "timestamp-request": "timestamp-request",
    "timestamp-reply": "timestamp-reply",
    "information-request": "info-request",
    "information-reply": "info-reply",
    "mask-request": "address-mask-request",
    "mask-reply": "address-mask-reply",
    "traceroute": 30,
    "conversion-error": 31,
    "mobile-redirect": 32,
}


@pytest.mark.parametrize("keyword", sorted(IOS_ICMP))
def test_each_ios_icmp_keyword_is_its_type(keyword: str) -> None:
    assert keyword in IOS_TO_NFT, f"pin IOS ICMP type '{keyword}' in IOS_TO_NFT"
    same = IOS_TO_NFT[keyword]
    assert IOS_ICMP[keyword] == (NFT_ICMP[same] if isinstance(same, str) else same)


# Cisco IOS ICMPv6 keywords (IPv6 ACLs, `ios6`) and the same type's name in nft.
IOS6_TO_NFT = {
    "unreachable": "destination-unreachable",
    "packet-too-big": "packet-too-big",
    "time-exceeded": "time-exceeded",
    "parameter-problem": "parameter-problem",
    "echo-request": "echo-request",
    "echo-reply": "echo-reply",
    "mld-query": "mld-listener-query",
    "mld-report": "mld-listener-report",
    "mld-reduction": "mld-listener-reduction",
    "router-solicitation": "nd-router-solicit",
    "router-advertisement": "nd-router-advert",
    "nd-ns": "nd-neighbor-solicit",
    "nd-na": "nd-neighbor-advert",
    "redirect": "nd-redirect",
}


def test_each_ios_icmpv6_keyword_is_the_type_nft_names() -> None:
    symbols = _nft_symbols("icmpv6", "type")
    assert set(ICMP6_TYPES) == set(IOS6_TO_NFT)
    assert {k: ICMP6_TYPES[k] for k in IOS6_TO_NFT} == {
        k: symbols[n] for k, n in IOS6_TO_NFT.items()
    }
