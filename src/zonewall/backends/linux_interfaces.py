"""Interface configuration for Linux gateways: `<gateway>-interfaces.sh`, an iproute2 script.

The Cisco gateways get their VLANs and SVIs from `vlan_plan` (`<gateway>-switch.ios`); this
module gives each `platform iptables` / `platform nftables` gateway the matching Linux side: one
802.1Q subinterface per served class, named as the gateway's `interface` template expands it,
carrying the VLAN plan's gateway address(es), link up, and `net.ipv4.ip_forward=1`.

Format: one POSIX `sh` script of iproute2 commands per gateway, rather than systemd-networkd
units, because one file per gateway is what a reviewer reads next to `<gateway>.rules` and what a
deployer copies and runs; networkd would need a `.netdev` and a `.network` per class plus a
change to the parent's own `.network` file, which zonewall does not own.  The script is safe to
run twice:
- it first checks every parent and every existing subinterface and changes nothing when one does
  not match (a subinterface of that name that is not 802.1Q VLAN `id` on that parent is an
  error to resolve by hand, never deleted);
- `ip link add` runs only for a missing subinterface, `ip address replace` and `ip link set up`
  are idempotent, and forwarding is switched on last.
Addresses not in the plan and subinterfaces of classes no longer served are left alone (they
may be the deployer's, e.g. a VRRP address); the uplink is left to the deployer entirely.  The
script is not persistent: run it at boot, after the ruleset is loaded.

Names: the parent and the VLAN ID are read from the expanded interface name, which must be
`PARENT.VLAN` with VLAN the class's VLAN ID (the kernel's own naming, from the template
`"eth1.{vlan}"`).  Any other name (the default `vlan{vlan}`, `vl{vlan}`) does not say which
trunk the VLAN rides on, so instead of guessing, no file is written for that gateway, and the
build summary says so in a note with what to write (a note, not a warning: the ruleset is
complete without the script, and `--warnings-as-errors` must not fail on a naming choice).

Addresses follow the VLAN plan (`vlan_plan.plan_rows`, `vlan_plan.gateway_address`): the first
usable address of each subnet, the first subnet's being the plan's `gateway_ip`.  Free text
(class descriptions, policy file names) reaches the script only inside `#` comments, through
`_comment` (one line, a narrow charset), so it cannot end the comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from netaddr import IPNetwork

from zonewall._version import __version__
from zonewall.backends.base import make_env, policy_lines
from zonewall.backends.vlan_plan import PlanRow, gateway_address, plan_rows
from zonewall.ir import CompiledPolicy, GatewayPlan
from zonewall.text import comment_line

__all__ = [
    "LINUX_PLATFORMS",
    "LinuxIfConfig",
    "LinuxVlanIf",
    "interface_configs",
    "interface_model",
    "render_interface_config",
]

LINUX_PLATFORMS = ("iptables", "nftables")
COMMENT_MAX = 200
# A name iproute2 takes as one plain argument: no leading "-" (an option), no "@" or ":"
# (`ip link` prints "name@parent:"; the kernel refuses ":" in names).


@dataclass(frozen=True, slots=True)
class LinuxVlanIf:
    cls: str
    name: str  # e.g. "eth1.210"
    parent: str  # "eth1"
    vlan: int  # 210
    addresses: tuple[str, ...]  # "10.60.3.161/28", the plan's gateway_ip first
    comment: str  # through _comment


@dataclass(frozen=True, slots=True)
class LinuxIfConfig:
    path: PurePosixPath
    gateway: str
    platform: str
    header: tuple[str, ...]
    parents: tuple[str, ...]  # sorted, each once
    interfaces: tuple[LinuxVlanIf, ...]  # by VLAN, as in the plan


def _comment(text: str) -> str:
    """The one way free text enters the script: a `#` comment of one line."""
    return comment_line(text, COMMENT_MAX)


def _addresses(row: PlanRow) -> tuple[str, ...]:
    nets = [IPNetwork(s) for s in row.subnets]
    out = tuple(f"{gateway_address(n)}/{n.prefixlen}" for n in nets)
    assert out[0].split("/")[0] == row.gateway_ip, (row.cls, out, row.gateway_ip)
    return out


_PLAIN_IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}\Z")


def vlan_parent(ifname: str, vlan: int) -> str | None:
    """The parent of a VLAN subinterface named `PARENT.VLAN` for this VLAN, else None."""
    parent, dot, vid = ifname.rpartition(".")
    if not dot or vid != str(vlan) or not _PLAIN_IFNAME.match(ifname):
        return None
    return parent if _PLAIN_IFNAME.match(parent) else None


def interface_model(
    policy: CompiledPolicy, plan: GatewayPlan, rows: tuple[PlanRow, ...]
) -> LinuxIfConfig:
    """The subinterfaces of one Linux gateway whose interface names give their parent
    (`missing_parent` is None).

    Args:
        policy: the compiled policy.
        plan: a gateway whose platform is in `LINUX_PLATFORMS`.
        rows: `plan_rows(policy)`.

    Returns:
        The model to render.
    """
    descriptions = {c.name: c.description for c in policy.classes}
    interfaces = []
    for row in rows:
        if row.served_by != plan.name:
            continue
        parent = vlan_parent(row.interface, row.vlan)
        if parent is None:
            raise AssertionError(f"{row.interface}: no parent (see missing_parent)")
        what = f"class {row.cls}" + (f": {descriptions[row.cls]}" if descriptions[row.cls] else "")
        interfaces.append(
            LinuxVlanIf(row.cls, row.interface, parent, row.vlan, _addresses(row), _comment(what))
        )
    header = (
        f"zonewall {__version__}  backend: linux interface config (iproute2)  -- DO NOT EDIT",
        *policy_lines(policy),
        f"gateway: {plan.name} ({plan.platform})",
        f"run as root: sh {plan.name}-interfaces.sh, after loading {_ruleset(plan)}",
        "(the ruleset names these interfaces and loads before they exist; forwarding goes on last)",
        "safe to run again: every parent and existing subinterface is checked before any change",
        "not persistent: run it at boot; addresses and interfaces not listed here are left alone",
        f"the uplink ({plan.uplink or 'none'}) is left to you",
        "gateway address: first usable address of each subnet, as in vlan-plan",
    )
    return LinuxIfConfig(
        path=PurePosixPath(f"{plan.name}-interfaces.sh"),
        gateway=plan.name,
        platform=plan.platform,
        header=header,
        parents=tuple(sorted({i.parent for i in interfaces})),
        interfaces=tuple(interfaces),
    )


def _ruleset(plan: GatewayPlan) -> str:
    return f"{plan.name}.rules" if plan.platform == "iptables" else f"{plan.name}.nft"


def render_interface_config(model: LinuxIfConfig) -> str:
    return make_env().get_template("linux_interfaces/interfaces.sh.j2").render(model=model)


def interface_configs(policy: CompiledPolicy) -> list[tuple[LinuxIfConfig, str]]:
    """Every Linux gateway's script (model and text); a gateway whose interface names do not
    give their parent gets none (see `interface_notes`)."""
    rows = plan_rows(policy)
    files: list[tuple[LinuxIfConfig, str]] = []
    for plan in policy.gateways:
        if plan.platform in LINUX_PLATFORMS and missing_parent(policy, plan) is None:
            model = interface_model(policy, plan, rows)
            files.append((model, render_interface_config(model)))
    return files


def missing_parent(policy: CompiledPolicy, plan: GatewayPlan) -> str | None:
    """Why a Linux gateway gets no script (a class whose interface name does not give the
    parent its VLAN rides on; nothing is guessed), or None when it gets one."""
    for c in sorted(
        (c for c in policy.classes if c.gateway == plan.name), key=lambda c: (c.vlan, c.name)
    ):
        if vlan_parent(c.interface, c.vlan) is None:
            return (
                f"no {plan.name}-interfaces.sh: interface '{c.interface}' of class "
                f"'{c.name}' does not name the parent interface its VLAN {c.vlan} rides "
                'on; name interfaces "PARENT.{vlan}" in the gateway (e.g. interface '
                '"eth1.{vlan}") to get the script, or create the interfaces yourself'
            )
    return None


def interface_notes(policy: CompiledPolicy) -> list[str]:
    """One line per Linux gateway left without a script.  A note, not a warning: the script
    is a convenience (the ruleset is complete without it), and a warning would fail every
    `--warnings-as-errors` pipeline whose interfaces are named some other way."""
    notes = (
        missing_parent(policy, plan) for plan in policy.gateways if plan.platform in LINUX_PLATFORMS
    )
    return [n for n in notes if n is not None]
