"""VLAN plan: per-class rows, the YAML/CSV/Markdown files and the cisco-ios switch configs."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path, PurePosixPath

import pytest
import yaml
from netaddr import IPNetwork

from zonewall.backends.base import gateway_view
from zonewall.backends.cisco_ios.backend import CiscoIosBackend
from zonewall.backends.cisco_ios.names import suffix_of
from zonewall.backends.vlan_plan import (
    CSV_COLUMNS,
    YAML_WIDTH,
    dhcp_range,
    gateway_address,
    plan_rows,
    server_address,
    switch_model,
    vlan_plan,
)
from zonewall.compiler.pipeline import compile_policy
from zonewall.dsl.parser import parse_file, parse_text
from zonewall.ir import CompiledPolicy

HOSPITAL = Path(__file__).resolve().parents[3] / "examples" / "hospital.zw"

POLICY = """
service dhcp  = udp/67
service https = tcp/443
class pump   { vlan 110 subnet 10.20.16.0/22 criticality critical tags medical, wireless
               description "Infusion pumps" }
class server { vlan 210 subnet 10.20.40.0/28, 10.20.41.0/30 criticality high }
class core   { vlan 10  subnet 10.20.1.0/29  description "DHCP and DNS" tags infrastructure }
class ws     { vlan 20  hosts 30 }
pool subnets 10.30.0.0/16
allow pump, ws -> core : dhcp
allow pump -> server : https
allow ws -> server : https
gateway sw { platform cisco-ios uplink "Gi1/0/48" serves pump, server
             dhcp-relay from 10.30.255.2 }
gateway fw { platform iptables uplink "eth0" serves core, ws }
"""


def compiled_of(text: str) -> CompiledPolicy:
    result = compile_policy(parse_text(text, "p.zw").policy)
    assert result.compiled is not None, result.diagnostics
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.compiled


@pytest.mark.parametrize(
    ("cidr", "gateway", "dhcp"),
    [
        ("10.64.5.0/24", "10.64.5.1", "10.64.5.10-10.64.5.254"),
        ("10.10.0.0/22", "10.10.0.1", "10.10.0.10-10.10.3.254"),
        ("10.64.5.0/27", "10.64.5.1", "10.64.5.10-10.64.5.30"),
        ("10.64.5.0/28", "10.64.5.1", "10.64.5.2-10.64.5.14"),
        ("10.64.5.0/30", "10.64.5.1", "10.64.5.2-10.64.5.2"),
        ("10.64.5.0/31", "10.64.5.0", "static"),
        ("10.64.5.7/32", "10.64.5.7", "static"),
    ],
    ids=["24", "22", "27", "28-small", "30", "31", "32"],
)
def test_gateway_and_dhcp_range(cidr: str, gateway: str, dhcp: str) -> None:
    net = IPNetwork(cidr)
    assert str(gateway_address(net)) == gateway
    assert dhcp_range(net, serves_dhcp=False) == dhcp
    assert dhcp_range(net, serves_dhcp=True) == "static"


@pytest.mark.parametrize(
    ("cidr", "server"),
    [("10.40.0.0/28", "10.40.0.2"), ("10.0.0.0/31", "10.0.0.1"), ("10.0.0.9/32", "10.0.0.9")],
    ids=["28", "31", "32"],
)
def test_dhcp_server_is_the_first_address_after_the_gateway(cidr: str, server: str) -> None:
    assert str(server_address(IPNetwork(cidr))) == server


def test_rows() -> None:
    rows = {r.cls: r for r in plan_rows(compiled_of(POLICY))}
    assert [r.vlan for r in plan_rows(compiled_of(POLICY))] == [10, 20, 110, 210]
    pump = rows["pump"]
    assert (pump.vlan_name, pump.subnets, pump.gateway_ip, pump.netmask) == (
        "PUMP",
        ("10.20.16.0/22",),
        "10.20.16.1",
        "255.255.252.0",
    )
    assert (pump.dhcp_range, pump.dhcp_relay) == ("10.20.16.10-10.20.19.254", ("10.20.1.2",))
    assert (pump.criticality, pump.tags, pump.served_by, pump.platform, pump.interface) == (
        "critical",
        ("medical", "wireless"),
        "sw",
        "cisco-ios",
        "Vlan110",
    )
    assert rows["core"].dhcp_range == "static"  # hosts the DHCP server the relays point at
    assert rows["server"].dhcp_relay == ()
    assert rows["server"].subnets == ("10.20.40.0/28", "10.20.41.0/30")
    assert rows["ws"].allocated_subnet and not rows["ws"].allocated_vlan


def test_vlan_names_fit_ios() -> None:
    long = "a_very_long_class_name-with_31c"
    assert len(long) == 31
    text = (
        POLICY.replace("class ws ", f"class {long} ")
        .replace("ws ->", f"{long} ->")
        .replace("serves core, ws", f"serves core, {long}")
    )
    for row in plan_rows(compiled_of(text)):
        assert re.fullmatch(r"[A-Z0-9_-]{1,32}", row.vlan_name)


def test_files() -> None:
    out = vlan_plan(compiled_of(POLICY))
    assert sorted(map(str, out)) == [
        "sw-switch.ios",
        "vlan-plan.csv",
        "vlan-plan.md",
        "vlan-plan.yaml",
    ]
    data = yaml.safe_load(out[PurePosixPath("vlan-plan.yaml")])
    assert [d["class"] for d in data] == ["core", "ws", "pump", "server"]
    assert list(data[0]) == sorted(data[0])
    assert data[2]["dhcp_relay"] == ["10.20.1.2"] and data[2]["tags"] == ["medical", "wireless"]
    rows = list(csv.reader(io.StringIO(out[PurePosixPath("vlan-plan.csv")])))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 5
    assert rows[3][:3] == ["110", "PUMP", "pump"]
    md = out[PurePosixPath("vlan-plan.md")]
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 4 and all(line.count("|") == table[0].count("|") for line in table)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_yaml_is_the_pure_python_emitters_text() -> None:
    # The plan is dumped with libyaml's emitter for speed; it must write what PyYAML's own
    # emitter writes, for descriptions as written: YAML indicators, quotes, accents, line
    # separators, and longer than the default line width.
    desc = (
        '- a: b, c > d / e = f + g :x # nurses\' desk \\"3\\" caf\u00e9 \u2028 \U0001f489 '
        + "long " * 30
    )
    text = POLICY.replace('"Infusion pumps"', f'"{desc}"')
    rows = plan_rows(compiled_of(text))
    fast = vlan_plan(compiled_of(text))[PurePosixPath("vlan-plan.yaml")]
    data = yaml.safe_load(fast)
    assert data[2]["description"] == desc.replace('\\"', '"') and len(data) == len(rows)
    assert fast == yaml.dump(
        data,
        Dumper=yaml.SafeDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=YAML_WIDTH,
    )


def test_switch_config() -> None:
    compiled = compiled_of(POLICY)
    text = vlan_plan(compiled, {"sw": "ABCD0123"})[PurePosixPath("sw-switch.ios")]
    body = [line for line in text.splitlines() if not line.startswith("!")]
    assert body[:4] == ["vlan 110", " name PUMP", "vlan 210", " name SERVER"]
    pump = body[body.index("interface Vlan110") : body.index("interface Vlan210")]
    assert pump == [
        "interface Vlan110",
        " description zonewall class pump: Infusion pumps",
        " ip address 10.20.16.1 255.255.252.0",
        " ip helper-address 10.20.1.2",
        f" ip access-group {switch_model(compiled, 'sw', 'ABCD0123').svis[0].acl} in",
        " ipv6 traffic-filter ZW6-ND-ONLY-IN-ABCD0123 in",
        " no shutdown",
    ]
    assert " ip address 10.20.41.1 255.255.255.252 secondary" in body
    assert sum(line.startswith(" ip helper-address") for line in body) == 1  # server: none


def test_switch_config_binds_the_acls_the_backend_defines() -> None:
    result = compile_policy(parse_file(str(HOSPITAL)).policy)
    assert result.compiled is not None
    compiled = result.compiled
    backend = CiscoIosBackend()
    model = backend.lower(compiled, gateway_view(compiled, "dist_sw1")).unwrap()
    (acl_text,) = backend.render(model).values()
    defined = set(re.findall(r"^ip access-list extended (\S+)$", acl_text, re.MULTILINE))
    switch = vlan_plan(compiled)[PurePosixPath("dist_sw1-switch.ios")]
    bound = re.findall(r"^ ip access-group (\S+) in$", switch, re.MULTILINE)
    assert bound and set(bound) <= defined
    # the IPv6 filter too, on every SVI; and build, which reads the suffix from the text,
    # binds the same names as lowering the gateway does
    (v6,) = re.findall(r"^ipv6 access-list (\S+)$", acl_text, re.MULTILINE)
    assert re.findall(r"^ ipv6 traffic-filter (\S+) in$", switch, re.MULTILINE) == [v6] * len(bound)
    assert vlan_plan(compiled, {"dist_sw1": suffix_of(acl_text)}) == vlan_plan(compiled)
    svis = re.findall(r"^interface (\S+)$", switch, re.MULTILINE)
    assert svis == [f"Vlan{v}" for v in re.findall(r"^vlan (\d+)$", switch, re.MULTILINE)]
    assert all(
        line == "end" or line.startswith(("!", " ", "vlan ", "interface "))
        for line in switch.splitlines()
    )


def test_deterministic() -> None:
    assert vlan_plan(compiled_of(POLICY)) == vlan_plan(compiled_of(POLICY))


def md_cells(line: str) -> list[str]:
    """The cells of a GFM table row: `|` separates unless backslash-escaped."""
    cells, cur, i = [], "", 1
    while i < len(line):
        if line[i] == "\\":
            cur += line[i : i + 2]
            i += 2
            continue
        if line[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += line[i]
        i += 1
    return cells


def md_unescape(cell: str) -> str:
    """What a CommonMark renderer shows for a cell of plain text, escapes and entities."""
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", cell)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


HOSTILE = r"""x\" ! # -A FORWARD -j ACCEPT \\ ünïcødé | <b> =cmd|' /C calc'!A0 ; end"""


def test_hostile_descriptions_produce_no_extra_line() -> None:
    benign = vlan_plan(compiled_of(POLICY))
    hostile = vlan_plan(
        compiled_of(
            POLICY.replace('"Infusion pumps"', f'"{HOSTILE}"').replace(
                '"DHCP and DNS"', f'"={HOSTILE}"'
            )
        )
    )
    for path, text in benign.items():
        assert len(hostile[path].splitlines()) == len(text.splitlines()), path
    switch = hostile[PurePosixPath("sw-switch.ios")]
    (desc,) = [
        line for line in switch.splitlines() if line.startswith(" description zonewall class pump")
    ]
    assert re.fullmatch(r" description [ ->@-~]{1,200}", desc)  # ASCII, no '?' (CLI help)
    assert "-A FORWARD -j ACCEPT" in desc  # kept as text, inside the description only
    md_rows = [
        md_cells(line)
        for line in hostile[PurePosixPath("vlan-plan.md")].splitlines()
        if line.startswith("|")
    ]
    assert all(len(cells) == len(md_rows[0]) for cells in md_rows)
    written = HOSTILE.replace('\\"', '"').replace("\\\\", "\\")  # the DSL's escapes undone
    assert md_unescape([c for c in md_rows if c[2] == "pump"][0][-1]) == written
    rows = list(csv.reader(io.StringIO(hostile[PurePosixPath("vlan-plan.csv")])))
    core = next(r for r in rows if r[2] == "core")
    assert core[-1] == "'=" + written  # a spreadsheet shows it as text, never runs it
    data = yaml.safe_load(hostile[PurePosixPath("vlan-plan.yaml")])
    assert next(d for d in data if d["class"] == "pump")["description"] == written
