"""Small policies beyond the examples: one gateway without uplink, every protocol minus a
port (iptables matches it by negation in a sub-chain), other IP protocols, port ranges."""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_helpers import check, edit, lines_of, output, write_policy

from zonewall.packets import TCP, PacketSet

POLICY = """\
pool subnets 10.9.0.0/16
pool vlans 100-199
service dns = udp/53, tcp/53
class a {{ subnet 10.9.1.0/24 }}
class b {{ subnet 10.9.2.0/24 }}
class c {{ subnet 10.9.3.0/25 }}
allow a -> b : dns, icmp/echo-request, tcp/1000-2000
{extra}
gateway g {{ platform {platform} serves internal }}
"""
LINUX_EXTRA = "allow b -> c\ndeny b -> c : tcp/22\nallow c -> a : proto/47"
IOS_EXTRA = "allow b -> c : tcp/22-24, udp/5000\nallow c -> a : icmp/echo-request"


def policy(tmp_path: Path, platform: str) -> str:
    extra = IOS_EXTRA if platform == "cisco-ios" else LINUX_EXTRA
    return write_policy(tmp_path, platform, POLICY.format(platform=platform, extra=extra))


@pytest.mark.parametrize("platform", ["iptables", "nftables", "cisco-ios"])
def test_gateway_without_uplink_has_no_difference(tmp_path: Path, platform: str) -> None:
    path = policy(tmp_path, platform)
    diffs = check(path, "g")
    assert diffs == [], "\n".join(d.describe() for d in diffs)


def test_negation_sub_chain_without_its_return_permits_the_denied_port(tmp_path: Path) -> None:
    path = policy(tmp_path, "iptables")
    text = output(path, "g").text
    ret = next(line for line in text.splitlines() if "--dport 22 -j RETURN" in line)
    diffs = check(path, "g", edit(text, ret + "\n", ""))
    assert [(d.kind, d.packets) for d in diffs] == [
        ("permits-too-much", PacketSet.ports(TCP, 22, 22))
    ]
    assert "b (served here)" in diffs[0].src_owner and "class c" in diffs[0].dst_owner
    accept = next(
        line
        for line in text.splitlines()
        if line.startswith("-A zw-n-") and line.endswith("-j ACCEPT")
    )
    assert lines_of(diffs) == {accept}


def test_nft_every_protocol_but_one_port(tmp_path: Path) -> None:
    path = policy(tmp_path, "nftables")
    text = output(path, "g").text
    old = "tcp dport { 0-21, 23-65535 }"
    diffs = check(path, "g", edit(text, old, "tcp dport { 0-20, 23-65535 }"))
    assert [(d.kind, d.packets) for d in diffs] == [("blocks-needed", PacketSet.ports(TCP, 21, 21))]
