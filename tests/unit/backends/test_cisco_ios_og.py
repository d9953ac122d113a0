"""Cisco IOS object-group ACLs (`object-groups`): the lowered model's shape, names, budget.

What the entries permit is proven by translation validation (tests/unit/verify/
test_verify_ios_og.py); these tests pin the shape: groups defined once and named
deterministically, netmask members, one flow entry per service set, the budget counting
configured entries, and nothing changed for gateways without the flag.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from netaddr import IPNetwork

from zonewall.backends.base import gateway_view
from zonewall.backends.cisco_ios.backend import CiscoIosBackend
from zonewall.backends.cisco_ios.model import IosModel
from zonewall.backends.cisco_ios.object_groups import network_member
from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import DiagnosticError
from zonewall.dsl.parser import parse_text
from zonewall.ir import CompiledPolicy

ROOT = Path(__file__).resolve().parents[3]
NAME = re.compile(r"^[A-Z][A-Z0-9_-]{0,63}$")  # IOS-01, the project's stricter form

POLICY = """
service https = tcp/443
service dns   = udp/53, tcp/53
service ping  = icmp/echo-request
class a { vlan 10  subnet 10.0.0.0/24 }
class b { vlan 11  subnet 10.0.1.0/24, 10.0.9.0/25 }
class c { vlan 12  subnet 10.0.2.0/24 }
class d { vlan 13  subnet 10.0.3.4/32 }
external internet { address 0.0.0.0/0 }
allow a -> b, c, d : https, dns
allow a -> internet : https
allow b -> d : ping
allow internet -> d : https
gateway sw { platform cisco-ios OG uplink "Te1/1/1" serves internal }
"""


def compiled(text: str) -> CompiledPolicy:
    result = compile_policy(parse_text(text, "og.zw").policy)
    assert result.compiled is not None, result.diagnostics
    return result.compiled


def lower(text: str, budget: int | None = None) -> IosModel:
    backend = CiscoIosBackend()
    if budget is not None:
        backend.ace_budget = budget
    c = compiled(text)
    return backend.lower(c, gateway_view(c, "sw")).unwrap()


def og_model(budget: int | None = None) -> IosModel:
    return lower(POLICY.replace("OG", "object-groups"), budget)


def test_flag_off_writes_no_groups() -> None:
    model = lower(POLICY.replace("OG", ""))
    assert model.object_groups == ()
    assert not any(
        "object-group" in f"{a.protocol} {a.src} {a.dst}" for acl in model.acls for a in acl.aces
    )


def test_one_flow_entry_per_service_set_toward_grouped_destinations() -> None:
    model = og_model()
    acl = next(a for a in model.acls if a.name.startswith("ZW-A-IN-"))
    flows = next(b for b in acl.blocks if b.remark.startswith("flows"))
    # a -> b, c, d on https+dns: one entry; a -> internet on https: one entry
    assert len(flows.aces) == 2
    grouped = next(a for a in flows.aces if a.protocol.startswith("object-group "))
    svc = next(g for g in model.object_groups if g.name == grouped.protocol.split()[1])
    assert svc.kind == "service"
    assert svc.members == ("tcp eq 53", "tcp eq 443", "udp eq 53")
    assert grouped.src == "10.0.0.0 0.0.0.255"  # one CIDR: inline, wildcard mask
    dst = next(g for g in model.object_groups if g.name == grouped.dst.split()[1])
    assert dst.members == (
        "10.0.1.0 255.255.255.0",
        "10.0.2.0 255.255.255.0",
        "host 10.0.3.4",
        "10.0.9.0 255.255.255.128",
    )


def test_replies_keep_ports_and_established_with_grouped_addresses() -> None:
    model = og_model()
    acl = next(a for a in model.acls if a.name.startswith("ZW-D-IN-"))
    replies = next(b for b in acl.blocks if b.remark.startswith("replies"))
    shapes = {(a.protocol, a.src_port, a.option) for a in replies.aces}
    assert shapes == {
        ("tcp", "eq 443", "established"),
        ("tcp", "eq 53", "established"),
        ("udp", "eq 53", ""),
        ("icmp", "", "echo-reply"),
    }
    https = next(a for a in replies.aces if a.src_port == "eq 443")
    group = next(g for g in model.object_groups if g.name == https.dst.split()[1])
    # a and the internet atom (0/0 minus the classes) both opened https to d
    assert "10.0.0.0 255.255.255.0" in group.members and len(group.members) > 2


def test_group_names_are_valid_unique_and_carry_the_content_suffix() -> None:
    model = og_model()
    suffix = model.suffix
    assert re.fullmatch(r"[0-9A-F]{8}", suffix) and model.digest[:8].upper() == suffix
    names = [g.name for g in model.object_groups]
    assert len(names) == len(set(names))
    for name in names:
        assert NAME.match(name) and name.endswith("-" + suffix), name
    for acl in model.acls:
        for ace in acl.aces:
            for word in (ace.protocol, ace.src, ace.dst):
                if word.startswith("object-group "):
                    assert word.split()[1] in names
    assert all(g.members for g in model.object_groups)
    # a version that changes the entries gets new group names (groups in use are never
    # edited); a comment does not
    same = compiled(POLICY.replace("OG", "object-groups") + "# v2\n")
    view = gateway_view(same, same.gateways[0].name)
    assert CiscoIosBackend().lower(same, view).unwrap().suffix == suffix
    other = compiled(POLICY.replace("OG", "object-groups").replace("https, dns", "https"))
    view = gateway_view(other, other.gateways[0].name)
    assert CiscoIosBackend().lower(other, view).unwrap().suffix != suffix


@pytest.mark.parametrize(
    ("net", "member"),
    [
        ("10.0.0.0/22", "10.0.0.0 255.255.252.0"),
        ("10.0.3.4/32", "host 10.0.3.4"),
        ("0.0.0.0/0", "0.0.0.0 0.0.0.0"),
        ("192.0.2.128/25", "192.0.2.128 255.255.255.128"),
    ],
    ids=["slash22", "host", "zero", "slash25"],
)
def test_network_members_use_subnet_masks(net: str, member: str) -> None:
    assert network_member(IPNetwork(net)) == member


def test_header_reports_configured_and_expanded_counts() -> None:
    model = og_model()
    text = "\n".join(model.header)
    assert "object groups do not reduce TCAM usage" in text
    for acl in model.acls:
        line = next(h for h in model.header if h.strip().startswith(acl.name + ":"))
        configured, expanded = map(int, re.findall(r"(\d+) (?:configured|expanded)", line))
        assert configured == len(acl.aces)
        assert expanded >= configured
    uplink = next(a for a in model.acls if "UPLINK" in a.name)
    line = next(h for h in model.header if h.strip().startswith(uplink.name + ":"))
    assert int(re.findall(r"(\d+) expanded", line)[0]) > len(uplink.aces)


def test_budget_counts_configured_entries() -> None:
    model = og_model()
    most = max(len(acl.aces) for acl in model.acls)
    og_model(budget=most)  # exactly at the budget: fine
    with pytest.raises(DiagnosticError) as err:
        og_model(budget=most - 1)
    assert {d.code for d in err.value.diagnostics} == {"E401"}
    # without groups the same policy needs more entries than with them
    plain = lower(POLICY.replace("OG", ""))
    assert sum(len(a.aces) for a in plain.acls) > sum(len(a.aces) for a in model.acls)


def test_unexpressible_replies_are_still_errors() -> None:
    text = POLICY.replace("OG", "object-groups") + "allow a -> c : proto/47\n"
    backend = CiscoIosBackend()
    c = compiled(text)
    assert {d.code for d in backend.lower(c, gateway_view(c, "sw")).diagnostics} == {"E402"}


def test_output_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    policy = tmp_path / "og.zw"
    policy.write_text(POLICY.replace("OG", "object-groups"), encoding="utf-8")
    texts = set()
    for seed in ("0", "1", "12345"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.run(
            [sys.executable, "-m", "zonewall", "build", str(policy), "-o", str(out)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        texts.add((out / "sw.ios").read_text(encoding="utf-8"))
    assert len(texts) == 1
