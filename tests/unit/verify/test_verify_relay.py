"""DHCP relayed across another gateway (`dhcp-relay`): the server's gateway permits exactly the
relayed exchange (udp/67 from the relay's source to the server's class, and its answers), the
proof covers it, and a removed, widened or reply-less relay permit is caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_helpers import check, edit, output, write_policy

from zonewall.packets import UDP, PacketSet

POLICY = """
pool subnets 10.40.0.0/16
pool vlans 100-199
service dhcp = udp/67
class pump   {{ subnet 10.40.0.0/28 }}
class server {{ subnet 10.40.0.16/28 }}
allow pump -> server : dhcp  "DHCP"
gateway sw {{
  platform cisco-ios
  stateless-replies accepted "test"
  uplink "Te1/1"
  serves pump
  dhcp-relay to server from 10.41.255.2
}}
gateway fw {{
  platform {platform}
  {stateless}
  interface "eth1.{{vlan}}"
  uplink "eth0"
  serves server
}}
"""
DHCP = PacketSet.ports(UDP, 67, 67)


def policy(tmp_path: Path, platform: str) -> str:
    stateless = 'stateless-replies accepted "test"' if platform == "cisco-ios" else ""
    if platform == "cisco-ios-og":
        platform, stateless = "cisco-ios", 'stateless-replies accepted "test"\n  object-groups'
    if platform == "cisco-ios":
        source = POLICY.replace('interface "eth1.{{vlan}}"', "")
    else:
        source = POLICY
    return write_policy(tmp_path, platform, source.format(platform=platform, stateless=stateless))


@pytest.mark.parametrize("platform", ["iptables", "nftables", "cisco-ios", "cisco-ios-og"])
def test_the_relayed_exchange_is_proven(tmp_path: Path, platform: str) -> None:
    path = policy(tmp_path, platform)
    assert check(path, "fw") == []
    assert check(path, "sw") == []
    assert "10.41.255.2" in output(path, "fw").text


# (platform, the relay's permit as the backend writes it, a widened one)
PERMITS = {
    "iptables": (
        "-A zw-p-sw.relay-server -p udp -m udp --dport 67 -m conntrack --ctstate NEW",
        "-A zw-p-sw.relay-server -p udp -m udp --dport 67:68 -m conntrack --ctstate NEW",
    ),
    "nftables": (
        "udp dport 67 ct state new counter accept",
        "udp dport 67-68 ct state new counter accept",
    ),
    "cisco-ios": (
        "permit udp host 10.41.255.2 10.40.0.16 0.0.0.15 eq 67",
        "permit udp host 10.41.255.2 10.40.0.16 0.0.0.15 range 67 68",
    ),
}


@pytest.mark.parametrize("platform", sorted(PERMITS))
def test_a_removed_relay_permit_blocks_what_is_needed(tmp_path: Path, platform: str) -> None:
    path = policy(tmp_path, platform)
    text = output(path, "fw").text
    line = next(x for x in text.splitlines() if PERMITS[platform][0] in x)
    diffs = check(path, "fw", edit(text, line + "\n", ""))
    assert [(d.kind, d.src, d.packets) for d in diffs] == [
        ("blocks-needed", "10.41.255.2", DHCP)
    ], [d.describe() for d in diffs]
    assert "the DHCP relay of gateway sw" in diffs[0].src_owner


@pytest.mark.parametrize("platform", sorted(PERMITS))
def test_a_widened_relay_permit_permits_too_much(tmp_path: Path, platform: str) -> None:
    path = policy(tmp_path, platform)
    text = output(path, "fw").text
    old, new = PERMITS[platform]
    diffs = check(path, "fw", edit(text, old, new))
    assert diffs and {d.kind for d in diffs} == {"permits-too-much"}, [d.describe() for d in diffs]
    assert all(d.src == "10.41.255.2" for d in diffs)


def test_a_relay_source_widened_to_a_prefix_is_caught(tmp_path: Path) -> None:
    path = policy(tmp_path, "iptables")
    text = output(path, "fw").text
    diffs = check(path, "fw", edit(text, "-s 10.41.255.2/32", "-s 10.41.255.0/30"))
    assert diffs and {d.kind for d in diffs} == {"permits-too-much"}
    assert {d.src_owner for d in diffs} == {"no class or external"}


def test_the_servers_answer_is_required_on_a_stateless_gateway(tmp_path: Path) -> None:
    path = policy(tmp_path, "cisco-ios")
    text = output(path, "fw").text
    line = next(
        x for x in text.splitlines() if "permit udp 10.40.0.16 0.0.0.15 eq 67 host 10.41.255.2" in x
    )
    diffs = check(path, "fw", edit(text, line + "\n", ""))
    # the SVI address cuts the server class into source groups: one finding per group
    assert {d.kind for d in diffs} == {"reply-blocked"}, [d.describe() for d in diffs]


def test_without_the_relay_the_server_gateway_permits_nothing_from_its_source(
    tmp_path: Path,
) -> None:
    """A relay's permit left in a config after the declaration is gone is too much."""
    path = policy(tmp_path, "iptables")
    text = output(path, "fw").text
    bare = write_policy(
        tmp_path,
        "bare",
        Path(path)
        .read_text()
        .replace("  dhcp-relay to server from 10.41.255.2\n", "")
        .replace("  serves pump\n", "  serves pump\n")
        .replace('allow pump -> server : dhcp  "DHCP"', "allow pump -> server : tcp/443"),
    )
    diffs = check(bare, "fw", text.replace(path, bare))
    assert any(d.kind == "permits-too-much" and d.src == "10.41.255.2" for d in diffs)
