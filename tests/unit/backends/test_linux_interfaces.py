"""Linux gateways' interface scripts: the model (names, VLANs, plan addresses), a note when the
interface names do not give the parent, free text kept in comments, and the script's
run-twice behaviour against a stand-in `ip` (the real kernel: tests/kernel/)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from zonewall.backends.linux_interfaces import interface_configs, interface_notes
from zonewall.backends.vlan_plan import plan_rows
from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import Diagnostic
from zonewall.dsl.parser import parse_text
from zonewall.ir import CompiledPolicy

POLICY = """
service https = tcp/443
class pump   {{ vlan 110 subnet 10.20.16.0/22 description "{desc}" }}
class server {{ vlan 210 subnet 10.20.40.0/28, 10.20.41.0/30 }}
class link   {{ vlan 30 subnet 10.20.50.0/31 }}
class host   {{ vlan 40 subnet 10.20.60.7/32 }}
class cam    {{ vlan 50 subnet 10.20.70.0/24 }}
allow pump -> server : https
allow link, host -> server : https
allow cam -> server : https
gateway fw {{ platform {platform} interface "{template}" uplink "eth0"
              serves pump, server, link, host }}
gateway sw {{ platform cisco-ios uplink "Gi1/0/48" serves cam }}
"""


def compiled(
    template: str = "bond0.{vlan}", desc: str = "Infusion pumps", platform: str = "iptables"
) -> CompiledPolicy:
    text = POLICY.format(template=template, desc=desc, platform=platform)
    result = compile_policy(parse_text(text, "p.zw").policy)
    assert result.compiled is not None, result.diagnostics
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.compiled


@pytest.mark.parametrize("platform", ["iptables", "nftables"])
def test_one_vlan_subinterface_per_class_with_the_plan_addresses(platform: str) -> None:
    files = interface_configs(compiled(platform=platform))
    assert [m.path.name for m, _ in files] == ["fw-interfaces.sh"]  # not the cisco-ios sw
    model = files[0][0]
    assert (model.gateway, model.platform, model.parents) == ("fw", platform, ("bond0",))
    got = [(i.cls, i.name, i.parent, i.vlan, i.addresses) for i in model.interfaces]
    assert got == [
        ("link", "bond0.30", "bond0", 30, ("10.20.50.0/31",)),
        ("host", "bond0.40", "bond0", 40, ("10.20.60.7/32",)),
        ("pump", "bond0.110", "bond0", 110, ("10.20.16.1/22",)),
        ("server", "bond0.210", "bond0", 210, ("10.20.40.1/28", "10.20.41.1/30")),
    ]


def test_addresses_are_the_vlan_plans_gateway_addresses() -> None:
    policy = compiled()
    rows = {r.cls: r for r in plan_rows(policy)}
    model = interface_configs(policy)[0][0]
    for i in model.interfaces:
        assert i.addresses[0] == f"{rows[i.cls].gateway_ip}/{rows[i.cls].subnets[0].split('/')[1]}"
        assert len(i.addresses) == len(rows[i.cls].subnets)


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("vlan{vlan}", "vlan30"),
        ("vl{vlan}", "vl30"),
        ("eth1.{name}", "eth1.link"),
        ("eth1.1{vlan}", "eth1.130"),
        ("{vlan}.eth1", "30.eth1"),
        ("eth1@x.{vlan}", "eth1@x.30"),
    ],
    ids=["default", "no-parent", "name-not-vlan", "other-number", "reversed", "at-sign"],
)
def test_names_that_do_not_give_the_parent_get_no_script_and_a_note(
    template: str, name: str
) -> None:
    policy = compiled(template)
    assert interface_configs(policy) == []  # nothing guessed, nothing written
    [note] = interface_notes(policy)
    assert f"interface '{name}' of class 'link'" in note
    assert 'interface "eth1.{vlan}"' in note and "fw-interfaces.sh" in note


HOSTILE = [
    "x\u2028sysctl -w net.ipv4.ip_forward=0",
    "a $(reboot) `id` ; rm -rf / #",
    "caf\u00e9 \u0085 next line",
]


@pytest.mark.parametrize("desc", HOSTILE, ids=range(len(HOSTILE)))
def test_descriptions_stay_inside_one_comment(desc: str) -> None:
    clean = interface_configs(compiled(desc="plain"))[0][1]
    text = interface_configs(compiled(desc=desc))[0][1]
    assert len(text.splitlines()) == len(clean.splitlines())
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert code == [line for line in clean.splitlines() if not line.lstrip().startswith("#")]
    comment = next(line for line in text.splitlines() if line.startswith("# class pump"))
    # inside a `#` comment shell text is inert, so it is kept as written (one line)
    assert " ".join(desc.split()) in " ".join(comment.split())


def test_rendering_is_byte_identical_and_ends_with_forwarding() -> None:
    a = interface_configs(compiled())[0][1]
    assert a == interface_configs(compiled())[0][1]
    lines = a.splitlines()
    assert lines[0] == "#!/bin/sh" and lines[-1] == "sysctl -q -w net.ipv4.ip_forward=1"
    # every check comes before the first change
    first_change = min(i for i, s in enumerate(lines) if s.startswith(("ip ", "zw_vlan ")))
    assert max(i for i, s in enumerate(lines) if s.startswith("zw_check ")) < first_change


# -- the script against a stand-in `ip` ----------------------------------------------------

FAKE_IP = r"""
import json, sys
state_path, args = sys.argv[1], sys.argv[2:]
st = json.load(open(state_path))
def save():
    json.dump(st, open(state_path, "w"))
def dev(a):
    return a[a.index("dev") + 1]
links = st["links"]
if args[:2] == ["-d", "-o"] and args[2:4] == ["link", "show"]:
    n = dev(args); l = links.get(n)
    if l is None: sys.exit(1)
    if l.get("vlan") is None:
        print(f"3: {n}: <BROADCAST,MULTICAST> mtu 1500 qdisc noop\\    veth"); sys.exit(0)
    print(f"7: {n}@{l['parent']}: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state UP"
          f"\\    link/ether 5a:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff promiscuity 0 \\    "
          f"vlan protocol 802.1Q id {l['vlan']} <REORDER_HDR> addrgenmode eui64")
elif args[:2] == ["link", "show"]:
    sys.exit(0 if dev(args) in links else 1)
elif args[:2] == ["link", "add"]:
    p, n = args[args.index("link", 1) + 1], args[args.index("name") + 1]
    i = args[args.index("id") + 1]
    if n in links or p not in links: sys.exit(2)
    links[n] = {"parent": p, "vlan": int(i), "up": False}; st["addrs"][n] = []; save()
elif args[:3] == ["link", "set", "dev"]:
    links[args[3]]["up"] = True; save()
elif args[:2] == ["address", "replace"]:
    a = st["addrs"].setdefault(dev(args), [])
    if args[2] not in a: a.append(args[2])
    save()
else:
    sys.exit(f"unexpected: {args}")
"""


def run_script(tmp_path: Path, text: str, state: dict) -> tuple[int, dict]:  # type: ignore[type-arg]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "fake_ip.py").write_text(FAKE_IP)
    state_path = tmp_path / "state.json"
    if not state_path.exists():
        state_path.write_text(json.dumps(state))
    for tool, body in (
        ("ip", f'exec {sys.executable} {tmp_path}/fake_ip.py {state_path} "$@"'),
        ("sysctl", f'echo "$@" >> {tmp_path}/sysctl.log'),
    ):
        path = bin_dir / tool
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "fw-interfaces.sh"
    script.write_text(text)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin")
    proc = subprocess.run(
        ["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return proc.returncode, json.loads(state_path.read_text())


def test_script_applied_twice_gives_exactly_the_plan(tmp_path: Path) -> None:
    text = interface_configs(compiled())[0][1]
    start = {"links": {"bond0": {"up": False}}, "addrs": {}}
    code, first = run_script(tmp_path, text, start)
    assert code == 0
    code, second = run_script(tmp_path, text, start)
    assert code == 0 and second == first
    assert {n: (v.get("parent"), v.get("vlan"), v["up"]) for n, v in second["links"].items()} == {
        "bond0": (None, None, True),
        "bond0.30": ("bond0", 30, True),
        "bond0.40": ("bond0", 40, True),
        "bond0.110": ("bond0", 110, True),
        "bond0.210": ("bond0", 210, True),
    }
    assert second["addrs"]["bond0.210"] == ["10.20.40.1/28", "10.20.41.1/30"]
    sysctl = (tmp_path / "sysctl.log").read_text().splitlines()
    assert sysctl == ["-q -w net.ipv4.ip_forward=1"] * 2


@pytest.mark.parametrize(
    "start",
    [
        {"links": {}, "addrs": {}},
        {
            "links": {
                "bond0": {"up": False},
                "bond0.110": {"parent": "bond0", "vlan": 111, "up": True},
            },
            "addrs": {},
        },
        {
            "links": {
                "bond0": {"up": False},
                "eth9": {"up": False},
                "bond0.110": {"parent": "eth9", "vlan": 110, "up": True},
            },
            "addrs": {},
        },
        {"links": {"bond0": {"up": False}, "bond0.110": {"up": False}}, "addrs": {}},
    ],
    ids=["no-parent", "wrong-vlan-id", "wrong-parent", "not-a-vlan"],
)
def test_script_changes_nothing_when_something_does_not_match(tmp_path: Path, start: dict) -> None:  # type: ignore[type-arg]
    code, after = run_script(tmp_path, interface_configs(compiled())[0][1], start)
    assert code == 1
    assert after == start
    assert not (tmp_path / "sysctl.log").exists()
