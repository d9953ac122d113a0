"""VLAN / IP plan: one row per class, as YAML, CSV and Markdown, plus a switch config per
cisco-ios gateway (`vlan N` / `name`, and one SVI per served class).

Conventions (also stated in every output that uses them):
- the gateway address is the first usable address of the class's first subnet (`net[1]`; the
  first address of a /31 or /32), and further subnets get theirs as `secondary` addresses;
- the DHCP range runs from the 10th usable address (the 2nd when the subnet has fewer than 20
  usable addresses) to the last usable one; it is `static` for a /31 or /32 and for a class
  that hosts a DHCP server (the destination of a permitted udp/67 flow), whose addresses the
  relays point at;
- `ip helper-address` (the `dhcp_relay` column) is set on a class that the policy lets reach a
  class on udp/67, and points at that class's DHCP server, assumed to be the first address after
  the gateway in its first subnet (`net[2]`; the last address of a /31, the address of a /32).
  A gateway that declares `dhcp-relay to ...` relays each class to the helpers it names that
  the class may reach instead (an address written there is used as written).

Descriptions are free text from the policy, carried as written: the YAML through the dumper
(`yaml.safe_load` gives the same string back), the CSV through the csv module with cells
that a spreadsheet would run as a formula prefixed with `'`, the Markdown escaped so it
renders as written, the switch config in ASCII within IOS's limits (`src/zonewall/text.py`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml
from netaddr import IPAddress, IPNetwork

from zonewall._version import __version__
from zonewall.backends.base import gateway_address, make_env, policy_lines
from zonewall.backends.cisco_ios.names import IPV6_ACL, acl_name
from zonewall.ir import CompiledPolicy, DhcpRelay, ResolvedClass
from zonewall.packets import UDP, key
from zonewall.text import csv_cell, ios_text

__all__ = [
    "PlanRow",
    "SwitchModel",
    "SwitchSvi",
    "gateway_address",
    "plan_rows",
    "switch_model",
    "vlan_plan",
]

DHCP_SERVER_PORT = 67
VLAN_NAME_MAX = 32
DESCRIPTION_MAX = 200
YAML_WIDTH = 2**30
CSV_COLUMNS = (
    "vlan_id",
    "vlan_name",
    "class",
    "subnets",
    "gateway_ip",
    "netmask",
    "dhcp_range",
    "dhcp_relay",
    "criticality",
    "tags",
    "served_by",
    "platform",
    "interface",
    "description",
)


@dataclass(frozen=True, slots=True)
class PlanRow:
    cls: str
    vlan: int
    vlan_name: str
    subnets: tuple[str, ...]
    gateway_ip: str
    netmask: str
    dhcp_range: str
    dhcp_relay: tuple[str, ...]
    criticality: str
    tags: tuple[str, ...]
    served_by: str
    platform: str
    interface: str
    description: str  # as written, "" when the policy gives none
    allocated_subnet: bool
    allocated_vlan: bool


@dataclass(frozen=True, slots=True)
class SwitchAddress:
    ip: str
    mask: str
    secondary: bool


@dataclass(frozen=True, slots=True)
class SwitchSvi:
    interface: str
    description: str
    addresses: tuple[SwitchAddress, ...]
    helpers: tuple[str, ...]
    acl: str
    ipv6_acl: str  # `ipv6 traffic-filter NAME in`, as in the gateway's `.ios` file


@dataclass(frozen=True, slots=True)
class SwitchModel:
    path: PurePosixPath
    header: tuple[str, ...]
    vlans: tuple[tuple[int, str], ...]  # (id, name)
    svis: tuple[SwitchSvi, ...]


def vlan_name(cls: ResolvedClass) -> str:
    return re.sub(r"[^A-Z0-9_-]", "_", cls.name.upper())[:VLAN_NAME_MAX]


def server_address(net: IPNetwork) -> IPAddress:
    """Where relays send DHCP for a server class: the first address after the gateway."""
    return net[-1] if net.prefixlen >= 31 else net[2]


def dhcp_range(net: IPNetwork, serves_dhcp: bool) -> str:
    if net.prefixlen >= 31 or serves_dhcp:
        return "static"
    start = net[10] if net.size - 2 >= 20 else net[2]
    return f"{start}-{net[-2]}"


def _dhcp_servers(policy: CompiledPolicy) -> dict[str, list[ResolvedClass]]:
    """Per class, the classes it may reach on udp/67, by name."""
    by_name = {c.name: c for c in policy.classes}
    eps = policy.endpoints
    out: dict[str, list[ResolvedClass]] = {}
    for flow in policy.flows:
        src, dst = eps[flow.src], eps[flow.dst]
        if src.kind == dst.kind == "class" and key(UDP, DHCP_SERVER_PORT) in flow.packets:
            out.setdefault(src.name, []).append(by_name[dst.name])
    return {k: sorted(v, key=lambda c: c.name) for k, v in out.items()}


def plan_rows(policy: CompiledPolicy) -> tuple[PlanRow, ...]:
    """Every class, by VLAN ID."""
    servers = _dhcp_servers(policy)
    server_names = {s.name for v in servers.values() for s in v}
    platform = {g.name: g.platform for g in policy.gateways}
    relays = {g.name: g.relay for g in policy.gateways if g.relay is not None}
    rows = []
    for c in sorted(policy.classes, key=lambda c: (c.vlan, c.name)):
        first = c.prefixes[0]
        rows.append(
            PlanRow(
                cls=c.name,
                vlan=c.vlan,
                vlan_name=vlan_name(c),
                subnets=tuple(str(p) for p in c.prefixes),
                gateway_ip=str(gateway_address(first)),
                netmask=str(first.netmask),
                dhcp_range=dhcp_range(first, c.name in server_names),
                dhcp_relay=_helpers(policy, servers.get(c.name, []), relays.get(c.gateway)),
                criticality=c.criticality.label,
                tags=tuple(c.tags),
                served_by=c.gateway,
                platform=platform.get(c.gateway, ""),
                interface=c.interface,
                description=c.description or "",
                allocated_subnet=c.allocated_subnet,
                allocated_vlan=c.allocated_vlan,
            )
        )
    return tuple(rows)


def _helpers(
    policy: CompiledPolicy, servers: list[ResolvedClass], relay: DhcpRelay | None
) -> tuple[str, ...]:
    """A class's helper addresses: its gateway's declared helpers in the classes it may reach
    on udp/67, in the order written; without a declaration, each such class's server address."""
    if relay is None:
        return tuple(str(server_address(s.prefixes[0])) for s in servers)
    reached = {s.name for s in servers}
    return tuple(address for address, eid in relay.helpers if policy.endpoints[eid].name in reached)


def _yaml(rows: tuple[PlanRow, ...]) -> str:
    data = [
        {
            "class": r.cls,
            "vlan_id": r.vlan,
            "vlan_name": r.vlan_name,
            "subnets": list(r.subnets),
            "gateway_ip": r.gateway_ip,
            "netmask": r.netmask,
            "dhcp_range": r.dhcp_range,
            "dhcp_relay": list(r.dhcp_relay),
            "criticality": r.criticality,
            "tags": list(r.tags),
            "served_by": r.served_by,
            "platform": r.platform,
            "interface": r.interface,
            "description": r.description,
            "allocated_subnet": r.allocated_subnet,
            "allocated_vlan": r.allocated_vlan,
        }
        for r in rows
    ]
    # width: never fold a long description onto a second line (one key, one line)
    return yaml.dump(
        data,
        Dumper=_DUMPER,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=YAML_WIDTH,
    )


# libyaml's emitter where PyYAML has it (5x faster on a 1,000-class plan): the same safe
# representer and resolver, and the same text (a test in
# tests/unit/backends/test_vlan_plan.py).
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _csv(rows: tuple[PlanRow, ...]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [r.vlan]
            + [
                csv_cell(t)
                for t in (
                    r.vlan_name,
                    r.cls,
                    " ".join(r.subnets),
                    r.gateway_ip,
                    r.netmask,
                    r.dhcp_range,
                    " ".join(r.dhcp_relay),
                    r.criticality,
                    " ".join(r.tags),
                    r.served_by,
                    r.platform,
                    r.interface,
                    r.description,
                )
            ]
        )
    return buf.getvalue()


def _conventions() -> tuple[str, ...]:
    return (
        "gateway: first usable address of the first subnet (further subnets: secondary)",
        (
            "dhcp range: 10th usable address (2nd in subnets under 20 usable) to the last usable; "
            "static for /31, /32 and classes that host a DHCP server"
        ),
        (
            "dhcp relay (ip helper-address): the DHCP server class's first address after its "
            "gateway, or the helpers the gateway's dhcp-relay names; replace it if your servers "
            "sit elsewhere"
        ),
    )


def switch_model(policy: CompiledPolicy, gateway: str, suffix: str) -> SwitchModel:
    """The VLANs and SVIs of one cisco-ios gateway, binding the ACLs of `<gateway>.ios`, whose
    names end in `suffix` (that file's, `cisco_ios.names.suffix_of`)."""
    rows = {r.cls: r for r in plan_rows(policy)}
    classes = sorted(
        (c for c in policy.classes if c.gateway == gateway), key=lambda c: (c.vlan, c.name)
    )
    svis = []
    for c in classes:
        addresses = tuple(
            SwitchAddress(str(gateway_address(p)), str(p.netmask), i > 0)
            for i, p in enumerate(c.prefixes)
        )
        what = f"zonewall class {c.name}" + (f": {c.description}" if c.description else "")
        svis.append(
            SwitchSvi(
                c.interface,
                ios_text(what, DESCRIPTION_MAX),
                addresses,
                rows[c.name].dhcp_relay,
                acl_name(c.name, suffix),
                f"{IPV6_ACL}-{suffix}",
            )
        )
    header = (
        f"zonewall {__version__}  backend: cisco-ios switch VLAN/SVI config  -- DO NOT EDIT",
        *policy_lines(policy, ios_text, sha256=False),
        (
            f"gateway: {gateway}  ACL names end in -{suffix}, the suffix of {gateway}.ios (see "
            "its header)"
        ),
        (
            f"push {gateway}.ios first: it defines the ACLs bound below (an ip access-group "
            "naming an undefined ACL permits everything)"
        ),
        *_conventions(),
        *_relay_note(policy, gateway),
    )
    return SwitchModel(
        path=PurePosixPath(f"{gateway}-switch.ios"),
        header=header,
        vlans=tuple((c.vlan, vlan_name(c)) for c in classes),
        svis=tuple(svis),
    )


def _relay_note(policy: CompiledPolicy, gateway: str) -> tuple[str, ...]:
    """The declared relay's source, which the gateways on the path are built to expect."""
    relay = next((g.relay for g in policy.gateways if g.name == gateway), None)
    if relay is None:
        return ()
    gateway_of = {c.name: c.gateway for c in policy.classes}
    path = sorted(
        {
            gateway_of[policy.endpoints[f.dst].name]
            for f in policy.relay_flows
            if f.gateway == gateway
        }
    )
    where = (
        f"; {', '.join(path)} permit{'s' if len(path) == 1 else ''} udp/67 from it to the "
        "servers' classes, and the answers back to it"
        if path
        else ""
    )
    return (
        f"dhcp-relay: relayed DHCP leaves this switch from {relay.source.ip} (its address "
        f"toward the servers, as dhcp-relay declares){where}",
    )


def vlan_plan(
    policy: CompiledPolicy, suffixes: Mapping[str, str] | None = None
) -> dict[PurePosixPath, str]:
    """`vlan-plan.yaml`, `.csv`, `.md`, and `<gateway>-switch.ios` per cisco-ios gateway.

    `suffixes`: the ACL name suffix of each cisco-ios gateway's `.ios` file, by gateway (a
    gateway missing from it gets no switch file); None: lower each gateway to find it.
    """
    rows = plan_rows(policy)
    env = make_env()
    title = policy.policy.header.title if policy.policy.header else ""
    out = {
        PurePosixPath("vlan-plan.yaml"): _yaml(rows),
        PurePosixPath("vlan-plan.csv"): _csv(rows),
        PurePosixPath("vlan-plan.md"): env.get_template("vlan_plan/plan.md.j2").render(
            rows=rows, title=title, version=__version__, conventions=_conventions()
        ),
    }
    if suffixes is None:
        from zonewall.backends.cisco_ios.backend import gateway_suffix  # only when asked

        suffixes = {
            g.name: gateway_suffix(policy, g.name)
            for g in policy.gateways
            if g.platform == "cisco-ios"
        }
    for g in policy.gateways:
        if g.platform == "cisco-ios" and g.name in suffixes:
            model = switch_model(policy, g.name, suffixes[g.name])
            out[model.path] = env.get_template("vlan_plan/switch.ios.j2").render(model=model)
    return out
