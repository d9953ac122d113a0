"""The IOS evaluator on object groups: every member form, every fail-closed error, translation
validation of object-group output on every example, and mutations of group members."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from netaddr import IPAddress
from verify_helpers import EXAMPLES, built, check, edit, output, write_policy

from zonewall.packets import ICMP, TCP, UDP, PacketSet
from zonewall.verify import Cell, ConfigParseError, Evaluator, Ruleset, parse_ios

ROOT = Path(__file__).resolve().parents[3]


def accepted(
    rs: Ruleset, src: str, dst: str, sport: int = 1024, ack: bool = False, iif: str = "Vlan10"
) -> PacketSet:
    s, d = int(IPAddress(src)), int(IPAddress(dst))
    return Evaluator(rs).accepted(Cell(iif, None, s, s, d, d), (None, sport, ack))


GROUPS = """\
object-group network INNER
 description nested
 host 10.9.0.1
!
object-group network NETS
 10.0.1.0 255.255.255.0
 10.0.2.0 /25
 range 10.0.3.5 10.0.3.6
 group-object INNER
object-group service INNER-SVC
 icmp echo
 47
object-group service SVC
 tcp eq 443
 udp range 5000 5001
 tcp-udp eq 53
 tcp source eq 104
 udp source range 1 2 eq 9
 icmp
 group-object INNER-SVC
object-group service ALL
 ip
ip access-list extended T
 10 permit object-group SVC host 10.0.0.1 object-group NETS
 20 permit tcp any object-group INNER eq 22 log
 30 permit object-group ALL host 10.0.0.2 object-group INNER log
interface Vlan10
 ip access-group T in
"""

SVC = (
    PacketSet.ports(TCP, 443, 443)
    | PacketSet.ports(UDP, 5000, 5001)
    | PacketSet.ports(TCP, 53, 53)
    | PacketSet.ports(UDP, 53, 53)
    | PacketSet.protocol(ICMP)
    | PacketSet.protocol(47)
)


@pytest.mark.parametrize(
    ("dst", "inside"),
    [
        ("10.0.1.255", True),
        ("10.0.0.255", False),
        ("10.0.2.127", True),
        ("10.0.2.128", False),
        ("10.0.3.5", True),
        ("10.0.3.6", True),
        ("10.0.3.7", False),
        ("10.9.0.1", True),
        ("10.9.0.2", False),
    ],
    ids=[
        "mask",
        "below-mask",
        "slash",
        "above-slash",
        "range-lo",
        "range-hi",
        "above-range",
        "nested-host",
        "beside-host",
    ],
)
def test_network_members(dst: str, inside: bool) -> None:
    rs = parse_ios(GROUPS, "g.ios")
    also = PacketSet.ports(TCP, 22, 22) if dst == "10.9.0.1" else PacketSet()  # entry 20
    assert accepted(rs, "10.0.0.1", dst) == (SVC if inside else PacketSet()) | also


def test_service_members() -> None:
    rs = parse_ios(GROUPS, "g.ios")
    # tcp source eq 104: every TCP destination port, from source port 104 only
    assert accepted(rs, "10.0.0.1", "10.0.1.1", sport=104) == SVC | PacketSet.protocol(TCP)
    # udp source range 1 2 eq 9
    assert accepted(rs, "10.0.0.1", "10.0.1.1", sport=2) == SVC | PacketSet.ports(UDP, 9, 9)
    assert accepted(rs, "10.0.0.1", "10.0.1.1", sport=3) == SVC
    # a network group in an ordinary entry, and an `ip` service member
    assert accepted(rs, "10.5.5.5", "10.9.0.1") == PacketSet.ports(TCP, 22, 22)
    assert accepted(rs, "10.0.0.2", "10.9.0.1") == PacketSet.everything()


def test_one_rule_per_source_port_list_of_the_members_on_the_entry_line() -> None:
    rs = parse_ios(GROUPS, "g.ios")
    rules = rs.chains["acl T"].rules
    # SVC flattened (icmp echo and 47 from the nested group), then its members merged: those
    # without source ports, "source eq 104", "source range 1 2"
    assert len(rules) == 3 + 1 + 1
    assert {r.ref.line for r in rules[:3]} == {24}
    assert [r.sports for r in rules[:3]] == [None, ((104, 104),), ((1, 2),)]


def test_show_running_config_style_without_bangs() -> None:
    text = GROUPS.replace("!\n", "")
    assert accepted(parse_ios(text, "g.ios"), "10.0.0.1", "10.0.3.5") == SVC


BAD = [
    ("undefined-group", " 10 permit ip object-group NOPE any", "not defined"),
    ("undefined-service", " 10 permit object-group NOPE any any", "not defined"),
    ("wrong-kind", " 10 permit object-group NETS any any", "not a service group"),
    ("net-as-svc", " 10 permit ip object-group SVC1 any", "not a network group"),
    ("empty", " 10 permit ip object-group EMPTY any", "is empty"),
    ("established", " 10 permit object-group SVC1 any any established", "not modelled"),
    ("ports-after-group", " 10 permit object-group SVC1 any any eq 80", "not modelled"),
]
PRELUDE = """\
object-group network NETS
 10.0.0.0 255.0.0.0
object-group network EMPTY
 description nothing
object-group service SVC1
 tcp eq 80
ip access-list extended T
"""


@pytest.mark.parametrize(
    ("entry", "message"), [(e, m) for _, e, m in BAD], ids=[i for i, _, _ in BAD]
)
def test_bad_references_fail_closed(entry: str, message: str) -> None:
    with pytest.raises(ConfigParseError) as err:
        parse_ios(PRELUDE + entry + "\n", "b.ios")
    assert message in err.value.message
    assert err.value.line == 8


MEMBERS = [
    ("wildcard", "network", " 10.0.0.0 0.0.0.255", "wildcard mask where a subnet mask"),
    ("noncontiguous", "network", " 10.0.0.0 255.0.255.0", "non-contiguous"),
    ("host-bits", "network", " 10.0.0.1 255.255.255.0", "bits set under"),
    ("bad-slash", "network", " 10.0.0.0 /33", "bad subnet mask"),
    ("range-reversed", "network", " range 10.0.0.9 10.0.0.1", "empty address range"),
    ("host-two", "network", " host 10.0.0.1 10.0.0.2", "bad 'host' member"),
    ("any-member", "network", " any", "expected host A"),
    ("self-loop", "network", " group-object G", "includes itself"),
    ("later-group", "network", " group-object LATER", "not defined before"),
    ("svc-in-net", "network", " group-object S0", "not a network group"),
    ("svc-extra", "service", " tcp eq 80 established", "not modelled in a service member"),
    ("svc-icmp-code", "service", " icmp 3 1", "ICMP codes"),
    ("svc-ports-on-icmp", "service", " icmp eq 80", "not modelled"),
    ("svc-name-differs", "service", " tcp-udp eq syslog", "not modelled"),
    ("svc-name-tcp-udp", "service", " tcp-udp eq cmd", "not modelled"),
    ("svc-protocol", "service", " fancy", "protocol 'fancy'"),
    ("svc-self", "service", " group-object G", "includes itself"),
]


@pytest.mark.parametrize(
    ("kind", "member", "message"), [m[1:] for m in MEMBERS], ids=[m[0] for m in MEMBERS]
)
def test_bad_members_fail_closed(kind: str, member: str, message: str) -> None:
    text = f"object-group service S0\n tcp eq 1\nobject-group {kind} G\n{member}\n"
    text += "object-group network LATER\n host 10.0.0.1\n"
    with pytest.raises(ConfigParseError) as err:
        parse_ios(text, "m.ios")
    assert message in err.value.message, err.value.message
    assert err.value.line == 4


def test_group_defined_twice_and_other_kinds_fail_closed() -> None:
    with pytest.raises(ConfigParseError, match="defined twice"):
        parse_ios("object-group network A\n host 10.0.0.1\nobject-group network A\n", "t")
    with pytest.raises(ConfigParseError, match="not modelled"):
        parse_ios("object-group protocol P\n tcp\n", "t")
    with pytest.raises(ConfigParseError, match="not modelled"):
        parse_ios("object-group network ipv4 N\n", "t")


def test_tcp_udp_names_that_agree_are_read() -> None:
    text = (
        "object-group service S\n tcp-udp eq domain\nip access-list extended T\n"
        " permit object-group S any any\ninterface Vlan10\n ip access-group T in\n"
    )
    assert accepted(parse_ios(text, "t"), "1.1.1.1", "2.2.2.2") == (
        PacketSet.ports(TCP, 53, 53) | PacketSet.ports(UDP, 53, 53)
    )


# -- translation validation of object-group output on every example --------------------------
PLATFORM = re.compile(r"(?m)^(\s*)platform (iptables|nftables|cisco-ios)\b")


def og_policy(tmp_path: Path, example: Path) -> str:
    """The example with every gateway a cisco-ios switch with object groups, without its
    statements about traffic to the gateways themselves (cisco-ios cannot filter that yet:
    E401 at each of them)."""
    text = example.read_text(encoding="utf-8")
    text = "".join(line for line in text.splitlines(keepends=True) if "gateway:" not in line)
    if "object-groups" not in text:
        text = PLATFORM.sub(r"\1platform cisco-ios\n\1object-groups", text)
    assert not re.search(r"(?m)^include ", text)  # would be relative to the example's folder
    return write_policy(tmp_path, example.stem, text)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_object_group_output_of_every_example_has_no_difference(
    tmp_path: Path, example: Path
) -> None:
    path = og_policy(tmp_path, example)
    _, outputs = built(path)
    configs = [o for o in outputs if o.kind == "config"]
    assert configs and all(str(o.platform) == "cisco-ios" for o in configs)
    assert all("object-group " in o.text for o in configs)
    for o in configs:
        diffs = check(path, o.gateway)
        assert diffs == [], "\n".join(d.describe() for d in diffs)


# -- mutations: a widened or narrowed group member is caught ----------------------------------
OG_EXAMPLE = ROOT / "examples" / "object-groups.zw"


def _group(text: str, kind: str, member: str) -> tuple[str, str]:
    """The first group of `kind` holding a member that matches `member`: (its whole block,
    the member line)."""
    for m in re.finditer(rf"(?m)^object-group {kind} (\S+)\n((?: .*\n)+)", text):
        for line in m.group(2).splitlines():
            if re.fullmatch(member, line.strip()):
                return m.group(0), line
    raise AssertionError(f"no {kind} group member {member}")


def _mutate(text: str, block: str, line: str, new: str) -> str:
    return edit(text, block, edit(block, f"{line}\n", new))


def test_widened_network_member_is_caught() -> None:
    text = output(OG_EXAMPLE, "annex_sw").text
    block, line = _group(text, "network", r"10\.70\.\d+\.\d+ 255\.255\.255\.\d+")
    addr = line.split()[0]
    wider = _mutate(text, block, line, f" {addr.rsplit('.', 2)[0]}.0.0 255.255.0.0\n")
    diffs = check(OG_EXAMPLE, "annex_sw", wider)
    assert "permits-too-much" in {d.kind for d in diffs}, block


def test_narrowed_network_member_is_caught() -> None:
    text = output(OG_EXAMPLE, "annex_sw").text
    # a member of the internet group (used by permits), narrowed to one host
    block, line = _group(text, "network", r"\d+\.0\.0\.0 255\.0\.0\.0")
    narrower = _mutate(text, block, line, f" host {line.split()[0]}\n")
    assert "blocks-needed" in {d.kind for d in check(OG_EXAMPLE, "annex_sw", narrower)}


def test_widened_and_narrowed_service_members_are_caught() -> None:
    text = output(OG_EXAMPLE, "annex_sw").text
    block, line = _group(text, "service", r"tcp eq \d+")
    port = int(line.split()[-1])
    wider = _mutate(text, block, line, f" tcp range {port} {port + 1}\n")
    assert "permits-too-much" in {d.kind for d in check(OG_EXAMPLE, "annex_sw", wider)}
    narrower = _mutate(text, block, line, "")
    assert "blocks-needed" in {d.kind for d in check(OG_EXAMPLE, "annex_sw", narrower)}


def test_a_dropped_group_definition_is_a_parse_error() -> None:
    text = output(OG_EXAMPLE, "annex_sw").text
    block, _ = _group(text, "service", r"tcp eq \d+")
    with pytest.raises(ConfigParseError, match="not defined"):
        parse_ios(edit(text, block, ""), "annex_sw.ios")


def test_example_uses_fewer_entries_than_without_groups(tmp_path: Path) -> None:
    plain = write_policy(
        tmp_path, "plain", OG_EXAMPLE.read_text(encoding="utf-8").replace("  object-groups\n", "")
    )
    count = re.compile(r"(?m)^ \d+ (?:permit|deny) ")
    with_groups = len(count.findall(output(OG_EXAMPLE, "annex_sw").text))
    without = len(count.findall(output(plain, "annex_sw").text))
    assert with_groups < without
