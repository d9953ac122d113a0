"""firewalld's rule words in a device's `nft list ruleset` (`verify.nft_firewalld`), on small
texts: what each evaluates to for IPv4 and IPv6, and what is refused.  The end-to-end cases
(firewalld's real tables beside the hospital's build) are in tests/e2e/test_audit_firewalld.py."""

from __future__ import annotations

import pytest

from zonewall.packets import PacketSet
from zonewall.verify import ConfigParseError
from zonewall.verify.iptables_tables import Device
from zonewall.verify.nftables import parse_nftables, parse_nftables_ipv6

SERVED = frozenset({"eth1"})
ROUTES = (
    ("eth0", ((0, 0x09FFFFFF), (0x0B000000, 0xFFFFFFFF))),
    ("eth1", ((0x0A000000, 0x0AFFFFFF),)),
)


def device() -> Device:
    return Device(frozenset({"eth0", "eth1"}), SERVED, routes=ROUTES)


def ruleset(*rules: str, hook: str = "forward") -> str:
    body = "".join(f"\t\t{r}\n" for r in rules)
    return (
        "table inet firewalld {\n\tchain c {\n"
        f"\t\ttype filter hook {hook} priority filter + 10; policy accept;\n{body}\t}}\n}}\n"
    )


NEVER = PacketSet()


@pytest.mark.parametrize(
    "rule",
    [
        "meta nfproto ipv6 fib saddr . mark . iif oif missing drop",
        "icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept",
        "ip6 daddr { ::/96, ::ffff:0.0.0.0/96, 2002::/24 } reject with icmpv6 addr-unreachable",
        "ip6 daddr fe80::/64 udp dport 546 accept",
        "ct status dnat accept",
    ],
    ids=["rpfilter6", "icmpv6", "ip6-reject", "ip6-accept", "ct-status-dnat"],
)
def test_ipv6_only_matches_and_ct_status_dnat_never_match_ipv4(rule: str) -> None:
    rs = parse_nftables(ruleset(rule), "f.nft", device=device())
    (got,) = rs.chains["inet firewalld c"].rules
    assert got.keys == NEVER and got.ref.line == 4


def test_a_jump_that_never_matches_keeps_its_target_twice() -> None:
    # firewalld 2.3's StrictForwardPorts; a source-bound zone's IPv6 dispatch (twice: memoised)
    rules = (
        "ct status dnat jump d",
        "ip6 saddr fd00::/8 goto d",
        "ip6 saddr fd00::/8 goto d",
        "reject with icmpx type admin-prohibited",  # firewalld 0.8 prints `type`
    )
    text = ruleset(*rules).replace("}\n}\n", "}\n\tchain d {\n\t\taccept\n\t}\n}\n")
    rs = parse_nftables(text, "f.nft", device=device())
    *jumps, reject = rs.chains["inet firewalld c"].rules
    assert [(r.target, r.keys) for r in jumps] == [("inet firewalld d", NEVER)] * 3
    assert reject.action == "DROP"


def test_for_ipv6_a_drop_is_left_out_and_an_accept_keeps_its_other_matches() -> None:
    rs = parse_nftables_ipv6(
        ruleset(
            "meta nfproto ipv6 fib saddr . mark . iif oif missing drop",
            "ip6 daddr { ::/96, 2002::/24 } reject with icmpv6 addr-unreachable",
            "ip6 daddr fe80::/64 udp dport 546 accept",
            "meta nfproto ipv6 tcp dport 22 accept",
        ),
        "f.nft",
        device=device(),
    )
    dropped, rejected, accepted, exact = rs.chains["inet firewalld c"].rules
    assert dropped.keys == NEVER and rejected.keys == NEVER
    assert accepted.action == "ACCEPT" and accepted.keys == PacketSet.ports(17, 546, 546)
    assert exact.action == "ACCEPT" and exact.keys == PacketSet.ports(6, 22, 22)
    with pytest.raises(ConfigParseError, match="modelled only in a rule that accepts"):
        parse_nftables_ipv6(ruleset("ip6 saddr ::1 jump c2", "x"), "f.nft", device=device())


def test_ct_status_dnat_beside_a_dnat_is_refused_at_its_line() -> None:
    text = ruleset("ct status dnat accept") + (
        "table ip nat {\n\tchain p {\n\t\ttype nat hook prerouting priority dstnat; "
        "policy accept;\n\t\ttcp dport 8080 dnat to 10.0.0.2:80\n\t}\n}\n"
    )
    with pytest.raises(ConfigParseError, match="line 10 DNATs") as exc:
        parse_nftables(text, "f.nft", device=device())
    assert exc.value.line == 4
    # `redirect` as an ICMP type is no redirect statement
    fine = ruleset("ct status dnat accept", "icmp type redirect drop")
    assert parse_nftables(fine, "f.nft", device=device())


def test_an_ipv4_reverse_path_filter_drops_by_the_policys_routes() -> None:
    rs = parse_nftables(ruleset("fib saddr . iif oif missing drop"), "f.nft", device=device())
    (jump,) = rs.chains["inet firewalld c"].rules
    assert jump.action == "JUMP"
    keep, *drops = rs.chains[jump.target or ""].rules
    assert keep.action == "RETURN"  # 0.0.0.0 to a broadcast: the kernel answers the iif
    by_iface = {next(iter(r.iif.names)): r.src for r in drops if r.iif is not None}
    eth1 = by_iface["eth1"]
    assert eth1 is not None and eth1.negate and eth1.intervals == ((0x0A000000, 0x0AFFFFFF),)
    assert by_iface["eth0"] is not None and not by_iface["eth0"].matches(0x0B000001)
    assert by_iface["eth0"].matches(0x0A000001)  # a served class's source on the uplink
    # loose, with an uplink (a default route): drops nothing
    loose = parse_nftables(ruleset("fib saddr oif missing drop"), "f.nft", device=device())
    (jump,) = loose.chains["inet firewalld c"].rules
    assert [r.action for r in loose.chains[jump.target or ""].rules] == ["RETURN"]
    with pytest.raises(ConfigParseError, match="only the reverse-path filter"):
        parse_nftables(ruleset("fib saddr . oif oif missing drop"), "f.nft", device=device())


def test_firewalld_statements_that_go_on() -> None:
    rs = parse_nftables(
        ruleset(
            'udp dport 137 ct helper set "helper-netbios-ns-udp"',
            "reject with icmpx admin-prohibited",
        ),
        "f.nft",
        device=device(),
    )
    helper, reject = rs.chains["inet firewalld c"].rules
    assert helper.action == "CONTINUE" and helper.keys == PacketSet.ports(17, 137, 137)
    assert reject.action == "DROP" and reject.keys != NEVER


def test_a_reject_with_icmpv6_rejects_ipv6_only_and_with_icmp_ipv4_only() -> None:
    text = ruleset(
        "tcp dport 22 reject with icmpv6 admin-prohibited", "reject with icmp port-unreachable"
    )
    v6, v4 = parse_nftables(text, "f.nft", device=device()).chains["inet firewalld c"].rules
    assert v6.keys == NEVER and v4.action == "DROP" and v4.keys != NEVER
    v6, v4 = parse_nftables_ipv6(text, "f.nft", device=device()).chains["inet firewalld c"].rules
    assert v6.action == "DROP" and v6.keys == PacketSet.ports(6, 22, 22) and v4.keys == NEVER
