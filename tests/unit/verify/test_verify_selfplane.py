"""Traffic to the gateway itself: the input plane (iptables INPUT -> zw-input, nft input hooks)
proven against the policy's gateway flows, and wrong configs caught."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from verify_helpers import built, check, edit, lines_of, output, write_policy

from zonewall.packets import TCP, UDP, PacketSet
from zonewall.verify import Difference, GatewayModel, Group, parse_ios, selfplane
from zonewall.verify.compare import own_addresses
from zonewall.verify.rules import AddrMatch, Chain, Rule, RuleRef, Ruleset

POLICY = """
pool subnets 10.0.0.0/16
pool vlans 100-199
service ssh   = tcp/22
service https = tcp/443
service snmp  = udp/161
service dhcp  = udp/67 plaintext
class admin { subnet 10.0.0.0/28 }
class guest { subnet 10.0.0.16/28 }
class infra { subnet 10.0.0.32/28 }
class siem  { subnet 10.0.1.0/28 }
external internet { address 0.0.0.0/0 except 10.0.0.0/8 }
external vendor   { address 203.0.113.0/24 }
external mgmt     { address 10.9.0.0/24 }
gateway fw { platform iptables  interface "eth1.{vlan}"  uplink "eth0"  serves admin, guest, infra }
gateway nf { platform nftables  interface "eth2.{vlan}"  uplink "eth0"  serves siem }
allow admin -> gateway:fw : ssh, https   "management"
allow mgmt -> gateways : ssh, https       "out-of-band management"
allow siem -> gateway:nf : snmp           "monitoring"
allow vendor -> gateway:fw : https        "vendor portal"
allow guest -> infra : dhcp               "DHCP server"
allow guest -> internet : https
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_policy(tmp_path_factory.mktemp("selfplane"), "selfplane", POLICY)


def to_box(diffs: list[Difference]) -> list[Difference]:
    return [d for d in diffs if d.dst_owner.startswith("gateway:")]


def kinds(diffs: list[Difference]) -> set[tuple[str, str, str]]:
    return {(d.kind, d.ingress, d.src_owner) for d in diffs}


@pytest.mark.parametrize("gateway", ["fw", "nf"])
def test_generated_input_planes_have_no_difference(policy: str, gateway: str) -> None:
    assert check(policy, gateway) == []


def test_iptables_input_plane_layout(policy: str) -> None:
    text = output(policy, "fw").text
    assert "-A zw-input -i eth0 -j zw-self" in text
    assert (
        '-A zw-self -i eth1.100 -s 10.0.0.0/28 -m comment --comment "to the gateway itself'
        ' from admin" -j zw-s-admin'
    ) in text
    # mgmt is an external: it reaches fw through the uplink
    assert "-A zw-self -i eth0 -s 10.9.0.0/24" in text
    assert (
        "{ iptables -w -C INPUT -j zw-input 2>/dev/null || iptables -w -I INPUT 1 -j "
        "zw-input; }" in text
    )
    assert "INPUT" not in output(policy, "fw", "ipv6-companion").text.split("*filter")[1]


def test_a_widened_input_rule_is_too_much(policy: str) -> None:
    text = output(policy, "fw").text
    old = "-A zw-self -m conntrack --ctstate INVALID -j DROP\n"
    diffs = to_box(
        check(policy, "fw", edit(text, old, old + "-A zw-self -p tcp --dport 22 -j ACCEPT\n"))
    )
    assert diffs and {d.kind for d in diffs} == {"permits-too-much"}
    assert ("permits-too-much", "eth1.101", "guest") in kinds(diffs)
    assert {d.packets for d in diffs} == {PacketSet.ports(TCP, 22, 22)}
    assert lines_of(diffs) == {"-A zw-self -p tcp --dport 22 -j ACCEPT"}


def test_a_missing_permit_blocks_management(policy: str) -> None:
    text = output(policy, "fw").text
    line = next(ln for ln in text.splitlines() if ln.startswith("-A zw-s-admin -p tcp"))
    diffs = to_box(check(policy, "fw", edit(text, line + "\n", "")))
    assert kinds(diffs) == {("blocks-needed", "eth1.100", "admin")}
    assert diffs[0].packets == PacketSet.ports(TCP, 22, 22) | PacketSet.ports(TCP, 443, 443)


def test_a_permit_on_the_wrong_interface_is_spoofable_and_blocks(policy: str) -> None:
    text = output(policy, "fw").text
    old = "-A zw-self -i eth1.100 -s 10.0.0.0/28"
    diffs = to_box(check(policy, "fw", edit(text, old, "-A zw-self -i eth0 -s 10.0.0.0/28")))
    assert ("permits-too-much", "eth0", "admin") in kinds(diffs)
    assert ("blocks-needed", "eth1.100", "admin") in kinds(diffs)


def test_replies_must_be_accepted(policy: str) -> None:
    text = output(policy, "fw").text
    diffs = to_box(
        check(
            policy,
            "fw",
            edit(text, "-A zw-self -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n", ""),
        )
    )
    assert diffs and all(d.kind == "blocks-needed" and "ESTABLISHED" in d.condition for d in diffs)


def test_a_file_without_zw_input_leaves_the_box_open(policy: str) -> None:
    text = output(policy, "fw").text
    kept = "".join(ln + "\n" for ln in text.splitlines() if "zw-input" not in ln)
    diffs = to_box(check(policy, "fw", kept))
    assert ("permits-too-much", "eth1.101", "guest") in kinds(diffs)
    assert any("INPUT (not touched by this file)" in r.text for d in diffs for r in d.rules)


def test_iptables_save_input_as_written(policy: str) -> None:
    # a device whose INPUT drops everything by policy: management and DHCP are blocked
    text = output(policy, "fw").text
    body = text[text.index("*filter\n") + len("*filter\n") :]
    decls = "".join(ln + "\n" for ln in body.splitlines() if ln.startswith(":"))
    rules = "".join(ln + "\n" for ln in body.splitlines() if ln.startswith("-A "))
    saved = (
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        + decls
        + "-A FORWARD -j zw-forward\n"
        + rules
        + "COMMIT\n"
    )
    diffs = to_box(check(policy, "fw", saved))
    assert ("blocks-needed", "eth1.100", "admin") in kinds(diffs)
    assert ("blocks-needed", "eth1.101", "guest") in kinds(diffs)  # its DHCP broadcasts
    assert all(d.kind == "blocks-needed" for d in diffs)
    fixed = saved.replace(
        "-A FORWARD -j zw-forward\n", "-A INPUT -j zw-input\n-A FORWARD -j zw-forward\n"
    )
    assert check(policy, "fw", fixed) == []


def test_dhcp_broadcasts_reach_a_relay_only_for_classes_that_may_reach_a_server(
    policy: str,
) -> None:
    text = output(policy, "fw").text
    assert "-A zw-self -i eth1.101 -s 0.0.0.0/32 -p udp -m udp --dport 67" in text
    assert "-i eth1.100 -s 0.0.0.0/32" not in text  # admin may reach no DHCP server
    line = next(
        ln for ln in text.splitlines() if ln.startswith("-A zw-self -i eth1.101 -s 0.0.0.0/32")
    )
    diffs = to_box(check(policy, "fw", edit(text, line + "\n", "")))
    assert [(d.kind, d.ingress, d.src, d.packets) for d in diffs] == [
        ("blocks-needed", "eth1.101", "0.0.0.0", PacketSet.ports(UDP, 67, 67))
    ]


def test_nft_input_plane_mutations(policy: str) -> None:
    text = output(policy, "nf").text
    assert 'meta nfproto ipv4 iifname "eth0" jump zw_self' in text
    no_dispatch = edit(text, '        meta nfproto ipv4 iifname "eth0" jump zw_self\n', "")
    diffs = to_box(check(policy, "nf", no_dispatch))
    assert diffs and {(d.kind, d.ingress) for d in diffs} == {("permits-too-much", "eth0")}
    widened = edit(text, "jump zs_mgmt comment", "accept comment")
    diffs = to_box(check(policy, "nf", widened))
    assert {(d.kind, d.ingress, d.src_owner) for d in diffs} == {
        ("permits-too-much", "eth0", "mgmt")
    }


def test_nft_only_ipv4_is_modelled_for_nfproto(policy: str) -> None:
    from zonewall.verify import ConfigParseError

    text = output(policy, "nf").text
    with pytest.raises(ConfigParseError, match="only 'meta nfproto ipv4' is modelled"):
        check(
            policy,
            "nf",
            text.replace('meta nfproto ipv4 iifname "eth0"', 'meta nfproto ipv6 iifname "eth0"', 1),
        )


def test_a_policy_with_no_gateway_flow_closes_the_box(tmp_path: Path) -> None:
    text = POLICY.split("allow admin -> gateway:fw")[0] + "allow guest -> internet : https\n"
    path = write_policy(tmp_path, "closed", text)
    rules = output(path, "fw").text
    assert "-A zw-self -i" not in rules  # no permit to the box at all
    assert check(path, "fw") == [] and check(path, "nf") == []


def test_build_notes_a_box_nothing_may_reach(policy: str, tmp_path: Path) -> None:
    from zonewall.build import closed_box_notes
    from zonewall.report import run_check

    reached = run_check(policy).compiled
    assert reached is not None and closed_box_notes(reached) == []
    text = POLICY.replace('allow siem -> gateway:nf : snmp           "monitoring"\n', "")
    text = text.replace(
        'allow mgmt -> gateways : ssh, https       "out-of-band management"\n',
        'allow mgmt -> gateway:fw : ssh           "out-of-band management"\n',
    )
    nf_closed = run_check(write_policy(tmp_path, "nf_closed", text)).compiled
    assert nf_closed is not None
    [note] = closed_box_notes(nf_closed)
    assert note.startswith("gateway 'nf' (nftables): no allow reaches the box itself")
    assert "`allow <class> -> gateway:nf : ssh`" in note


# -- the switch's own plane (cisco-ios): own addresses alike, and each comparison's rules -------
SWITCH = """
pool subnets 10.5.0.0/16
pool vlans 100-199
service ssh   = tcp/22
service https = tcp/443
service dhcp  = udp/67 plaintext
class admin { subnet 10.5.0.0/28 }
class guest { subnet 10.5.0.16/28 }
class web   { subnet 10.5.1.0/28, 10.5.1.64/28 }
class infra { subnet 10.5.2.0/28 }
external internet { address 0.0.0.0/0 except 10.0.0.0/8 }
gateway sw { platform cisco-ios  OG uplink "TenGigabitEthernet1/1/1"  serves admin, guest, web }
gateway fw { platform iptables  interface "eth1.{vlan}"  uplink "eth0"  serves infra }
allow admin -> gateway:sw : ssh            "management"
allow admin -> web : https
allow guest -> web : https
allow guest -> infra : dhcp
allow web -> internet : https
allow internet -> web : https
"""


@pytest.fixture(scope="module", params=["", "object-groups"])
def switch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    source = SWITCH.replace("OG", request.param)
    return write_policy(tmp_path_factory.mktemp("switch"), "switch", source)


def _brute(path: str, text: str) -> set[tuple[str, str, str, PacketSet, str]]:
    """The own plane the long way: the whole ruleset, every own address on its own (sources
    by owner: the whole ruleset cuts finer source groups)."""
    compiled, _ = built(path)
    ruleset = parse_ios(text, "sw.ios")
    own = own_addresses(GatewayModel(compiled, "sw"), ruleset)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selfplane, "own_alike", lambda _rs, _i, mine: list(mine))
        found = selfplane.acl_self_plane(compiled, "sw", ruleset, own)
    return {(f.kind, f.ingress, f.src_owner, f.packets, f.condition) for f in found}


def _fast(diffs: list[Difference]) -> set[tuple[str, str, str, PacketSet, str]]:
    return {
        (d.kind, d.ingress, d.src_owner, d.packets, d.condition)
        for d in diffs
        if d.dst_owner == "gateway:sw" and d.ingress != "line vty"
    }


def _own_block(text: str) -> tuple[str, str]:
    """The first ACL's own-address entries (one `deny ... log` line or one per address) and
    the line that follows them."""
    own = r" remark the switch's own addresses[^\n]*\n"
    m = re.search(own + r"((?: \d+ deny ip any [^\n]* log\n)+)( [^\n]*\n)", text)
    assert m is not None
    return m[1], m[2]


def first(text: str, old: str, new: str) -> str:
    """Replace the first occurrence of `old` (in the first ACL: they all have it)."""
    assert old in text
    return text.replace(old, new, 1)


def test_switch_own_plane_is_exact_and_matches_the_long_way(switch: str) -> None:
    text = output(switch, "sw").text
    assert check(switch, "sw") == []
    assert _brute(switch, text) == set()
    block, after = _own_block(text)
    first_own = re.search(r"host (10\.5\.\d+\.\d+)", text)
    assert first_own is not None
    svi = first_own[1]
    last = int(block.splitlines()[-1].split()[0])  # the last deny's sequence number
    mutations = {
        # the own-address entries of one ACL gone: its forwarding entries reach the switch
        "no own deny": first(text, block, ""),
        # a permit to one SVI before the deny, and the same after it (never reached)
        "permit before": first(text, block, f" 1 permit tcp any host {svi} eq 443\n" + block),
        "permit after": first(
            text, block + after, block + f" {last + 1} permit tcp any host {svi} eq 443\n" + after
        ),
        # the deny turned into a permit: everything to the switch from that ingress
        "deny to permit": first(
            text, block, block.replace(" deny ", " permit ").replace(" log", "")
        ),
    }
    for name, mutated in mutations.items():
        diffs = check(switch, "sw", mutated)
        fast, brute = _fast(diffs), _brute(switch, mutated)
        assert fast == brute, name
        if name == "permit after":
            assert not fast
        else:
            assert fast and all(d[0] == "permits-too-much" for d in fast), name
    before = [
        d for d in check(switch, "sw", mutations["permit before"]) if d.dst_owner == "gateway:sw"
    ]
    assert {d.dst for d in before} == {svi}
    assert {d.packets for d in before} == {PacketSet.ports(TCP, 443, 443)}


def test_an_own_address_left_out_of_the_group_is_found(tmp_path: Path) -> None:
    """object-groups: an SVI missing from the own-address group is not alike the others:
    the entries toward its class reach it, and the difference names it."""
    path = write_policy(tmp_path, "og", SWITCH.replace("OG", "object-groups"))
    text = output(path, "sw").text
    group = re.search(
        r"object-group network (\S+)\n description gateway:sw own addresses\n((?: host [^\n]*\n)+)",
        text,
    )
    assert group is not None
    hosts = group[2].splitlines()
    web = next(h for h in hosts if h.startswith(" host 10.5.1."))
    mutated = edit(text, group[2], "".join(h + "\n" for h in hosts if h != web))
    diffs = [d for d in check(path, "sw", mutated) if d.dst_owner == "gateway:sw"]
    assert diffs and {d.dst for d in diffs} == {web.split()[-1]}
    # the web entries reach it, and admin's ssh (permitted toward the group) no longer does
    assert {d.kind for d in diffs} == {"permits-too-much", "blocks-needed"}
    blocked = [d for d in diffs if d.kind == "blocks-needed"]
    assert {(d.src_owner, d.packets) for d in blocked} == {("admin", PacketSet.ports(TCP, 22, 22))}
    assert _fast(diffs) == _brute(path, mutated)


def test_split_own_keeps_each_side_its_rules() -> None:
    own = (10, 20, 30)
    m = AddrMatch.of
    ref = RuleRef("t", 1, "r")
    rules = (
        Rule(ref, "ACCEPT", dst=m([(20, 20)]), src=m([(1, 5)])),  # own only: to the box
        Rule(ref, "ACCEPT", dst=m([(0, 100)]), src=m([(1, 5)])),  # both
        Rule(ref, "DROP", dst=m([(10, 10), (20, 20), (30, 30)])),  # own only, decides them all
        Rule(ref, "ACCEPT", dst=m([(5, 50)])),  # both, but after every own address is decided
        Rule(ref, "ACCEPT", dst=m([(40, 50)])),  # forwarded only
        Rule(ref, "DROP", dst=m([(20, 20)], negate=True)),  # both (negated)
    )
    ruleset = Ruleset("t", "t", {"c": Chain("c", rules, "DROP")}, ("c",))
    to_box, forwarded = selfplane.split_own(ruleset, own)
    assert to_box.chains["c"].rules == rules[:3]
    assert forwarded.chains["c"].rules == (rules[1], rules[3], rules[4], rules[5])
    assert to_box.chains["c"].policy == forwarded.chains["c"].policy == "DROP"


def test_own_alike_groups_addresses_no_rule_tells_apart() -> None:
    ref = RuleRef("t", 1, "r")
    m = AddrMatch.of
    rules = (
        Rule(ref, "ACCEPT", src=m([(1, 1)]), dst=m([(20, 20)])),  # names 20 only
        Rule(ref, "DROP", dst=m([(10, 10), (20, 20), (30, 30), (40, 40)])),  # decides all
        Rule(ref, "ACCEPT", dst=m([(30, 30)])),  # never reached for an own address
    )
    ruleset = Ruleset("t", "t", {"c": Chain("c", rules, "DROP")}, ("c",))
    own = [Group(i, a, a, None, "", 1) for i, a in enumerate((10, 20, 30, 40))]
    assert [g.rep for g in selfplane.own_alike(ruleset, "eth0", own)] == [10, 20]
    # a chain that jumps is not analysed: every address on its own
    jumps = Ruleset(
        "t",
        "t",
        {"c": Chain("c", (Rule(ref, "JUMP", target="d"), *rules), "DROP"), "d": Chain("d", ())},
        ("c",),
    )
    assert [g.rep for g in selfplane.own_alike(jumps, "eth0", own)] == [10, 20, 30, 40]
