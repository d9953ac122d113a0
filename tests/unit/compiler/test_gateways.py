"""Gateways: exactly one per class, uplinks where needed, interface names per platform."""

from __future__ import annotations

from collections.abc import Callable

import pytest

CLASSES = """
service s = tcp/1
class a { vlan 10 subnet 10.0.0.0/24 tags m }
class b { vlan 4000 subnet 10.0.1.0/24 }
class verylongclassname { vlan 12 subnet 10.0.2.0/24 }
allow a -> b : s
allow b -> verylongclassname : s
allow verylongclassname -> tag:m : s
"""


def test_class_served_by_no_gateway_is_e209_with_every_serves_line(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway g1 { platform iptables uplink "e0"\n  serves a }\n'
        'gateway g2 { platform iptables uplink "e0"\n  serves tag:m, b }\n',
        gateway=False,
    )
    diag = out.only("E209")
    assert diag.message == (
        "class 'verylongclassname' is served by no gateway; add it to one gateway's 'serves'"
    )
    assert diag.span is not None and diag.span.line == 5
    assert [(n, s.line, s.col) for n, s in diag.notes if s] == [
        ("'g1' serves a", 10, 3),
        ("'g2' serves tag:m, b", 12, 3),
    ]


def test_class_served_by_two_gateways_is_e210_with_both_serves_lines(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway g1 { platform iptables uplink "e0" serves internal }\n'
        'gateway g2 { platform cisco-ios uplink "Gi0/1" serves tag:m }\n',
        gateway=False,
    )
    diag = out.only("E210")
    assert diag.message == ("class 'a' is served by 2 gateways: 'g1', 'g2'; it must be exactly one")
    assert [(n, s.line) for n, s in diag.notes if s] == [
        ("served by 'g1' here", 9),
        ("served by 'g2' here", 10),
    ]


@pytest.mark.parametrize(
    ("extra", "gateways", "message"),
    [
        (
            "external x { address 1.0.0.0/8 }",
            "gateway g { platform iptables serves internal }",
            "gateway 'g' needs an 'uplink' because the policy has externals",
        ),
        (
            "",
            (
                "gateway g { platform iptables serves tag:m }\n"
                'gateway h { platform iptables uplink "eth0" serves internal except tag:m }'
            ),
            "gateway 'g' needs an 'uplink' because the policy has more than one gateway",
        ),
    ],
    ids=["externals", "two-gateways"],
)
def test_uplink_required_is_e214(zw: Callable, extra: str, gateways: str, message: str) -> None:
    out = zw(CLASSES + extra + "\n" + gateways + "\n", gateway=False)
    assert out.only("E214").message == message


def test_uplink_not_required_with_one_gateway_and_no_externals(zw: Callable) -> None:
    out = zw(CLASSES + "gateway g { platform iptables serves internal }\n", gateway=False)
    assert [d for d in out.diagnostics if d.is_error] == []
    assert out.compiled.gateways[0].uplink is None


@pytest.mark.parametrize(
    ("gateway", "message"),
    [
        (
            "gateway g { serves internal }",
            "gateway 'g' has no 'platform'; use one of iptables, nftables, cisco-ios",
        ),
        (
            "gateway g { platform iptabels serves internal }",
            (
                "unknown platform 'iptabels'; did you mean 'iptables'? (platforms: iptables, nftables, "
                "cisco-ios)"
            ),
        ),
        (
            "gateway g { platform iptables }",
            "gateway 'g' has no 'serves'; say which classes it routes, e.g. 'serves tag:medical'",
        ),
    ],
    ids=["no-platform", "unknown-platform", "no-serves"],
)
def test_gateway_settings_are_e214(zw: Callable, gateway: str, message: str) -> None:
    out = zw(CLASSES + gateway + "\n", gateway=False)
    assert message in [d.message for d in out.all("E214")]


def test_gateway_serving_an_external_is_e216(zw: Callable) -> None:
    out = zw(
        CLASSES + "external x { address 1.0.0.0/8 }\n"
        'gateway g { platform iptables uplink "eth0" serves any }\n',
        gateway=False,
    )
    diag = out.only("E216")
    assert diag.message == (
        "gateway 'g' serves external 'x'; a gateway serves classes "
        "(externals are reached through its uplink)"
    )
    assert diag.span is not None
    line = out.text.splitlines()[diag.span.line - 1]
    assert line[diag.span.col - 1 : diag.span.end_col - 1] == "serves any"


@pytest.mark.parametrize(
    ("platform", "template", "expected"),
    [
        ("iptables", None, {"a": "vlan10", "b": "vlan4000", "verylongclassname": "vlan12"}),
        ("nftables", None, {"a": "vlan10", "b": "vlan4000", "verylongclassname": "vlan12"}),
        ("cisco-ios", None, {"a": "Vlan10", "b": "Vlan4000", "verylongclassname": "Vlan12"}),
        (
            "iptables",
            "eth1.{vlan}",
            {"a": "eth1.10", "b": "eth1.4000", "verylongclassname": "eth1.12"},
        ),
        (
            "iptables",
            "ethernet12.{vlan}",
            {"a": "ethernet12.10", "b": "ethernet12.4000", "verylongclassname": "ethernet12.12"},
        ),
        (
            "cisco-ios",
            "GigabitEthernet1/0/1.{vlan}",
            {
                "a": "GigabitEthernet1/0/1.10",
                "b": "GigabitEthernet1/0/1.4000",
                "verylongclassname": "GigabitEthernet1/0/1.12",
            },
        ),
        (
            "cisco-ios",
            "Vlan-{name}",
            {"a": "Vlan-a", "b": "Vlan-b", "verylongclassname": "Vlan-verylongclassname"},
        ),
    ],
    ids=[
        "iptables-default",
        "nftables-default",
        "cisco-default",
        "linux-template",
        "linux-exactly-15",
        "cisco-template",
        "cisco-name-placeholder",
    ],
)
def test_interface_names(
    zw: Callable, platform: str, template: str | None, expected: dict[str, str]
) -> None:
    iface = f' interface "{template}"' if template else ""
    out = zw(
        CLASSES + f"gateway g {{ platform {platform}{iface} serves internal }}\n", gateway=False
    )
    assert {c.name: c.interface for c in out.compiled.classes} == expected
    assert {c.gateway for c in out.compiled.classes} == {"g"}


@pytest.mark.parametrize(
    ("platform", "attrs", "message"),
    [
        (
            "iptables",
            'interface "e.{name}"',
            (
                "interface name 'e.verylongclassname' for class 'verylongclassname' on gateway 'g' is "
                "19 characters; Linux allows at most 15"
            ),
        ),
        (
            "nftables",
            'interface "ethernet123.{vlan}"',
            (
                "interface name 'ethernet123.4000' for class 'b' on gateway 'g' is 16 characters; Linux "
                "allows at most 15"
            ),
        ),
        (
            "nftables",
            'uplink "thisisaverylonguplink"',
            (
                "interface name 'thisisaverylonguplink' on gateway 'g' is 21 characters; Linux allows at "
                "most 15"
            ),
        ),
        (
            "iptables",
            'interface "eth {vlan}"',
            (
                "interface name 'eth 10' for class 'a' on gateway 'g' is not a valid Linux interface "
                "name"
            ),
        ),
        (
            "iptables",
            'uplink "eth0:1"',
            "interface name 'eth0:1' on gateway 'g' is not a valid Linux interface name",
        ),
        (
            "nftables",
            'uplink "-j"',
            "interface name '-j' on gateway 'g' is not a valid Linux interface name",
        ),
        (
            "iptables",
            'interface "--help{vlan}"',
            (
                "interface name '--help10' for class 'a' on gateway 'g' is not a valid Linux "
                "interface name"
            ),
        ),
        (
            "cisco-ios",
            'interface "Vlan {vlan}"',
            (
                "interface name 'Vlan 10' for class 'a' on gateway 'g' is not a valid Cisco IOS "
                "interface name"
            ),
        ),
        (
            "iptables",
            'interface "eth{foo}"',
            "interface template 'eth{foo}' uses '{foo}'; only {vlan} and {name} expand",
        ),
        (
            "iptables",
            'interface "eth0"',
            (
                "class 'b' and class 'a' would share interface 'eth0' on gateway 'g'; put {vlan} or "
                "{name} in the interface template"
            ),
        ),
        (
            "iptables",
            'uplink "vlan10"',
            (
                "class 'a' and the uplink would share interface 'vlan10' on gateway 'g'; put {vlan} or "
                "{name} in the interface template"
            ),
        ),
    ],
    ids=[
        "linux-name-too-long",
        "linux-16-chars",
        "linux-uplink-too-long",
        "linux-space",
        "linux-alias-label",
        "linux-option-like",
        "linux-option-like-class",
        "cisco-space",
        "unknown-placeholder",
        "shared-interface",
        "uplink-collision",
    ],
)
def test_invalid_interface_names_are_e215(
    zw: Callable, platform: str, attrs: str, message: str
) -> None:
    out = zw(
        CLASSES + f"gateway g {{ platform {platform} {attrs} serves internal }}\n", gateway=False
    )
    assert any(m.startswith(message) for m in [d.message for d in out.all("E215")])
    assert out.result is not None and out.result.compiled is None


def test_long_names_are_fine_on_cisco(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway g { platform cisco-ios interface "{name}-{vlan}" '
        'uplink "TenGigabitEthernet1/1/1" serves internal }\n',
        gateway=False,
    )
    assert out.cls("verylongclassname").interface == "verylongclassname-12"


def test_gateway_plans_list_served_classes(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway z { platform cisco-ios uplink "Gi1" serves tag:m }\n'
        'gateway g { platform iptables uplink "eth0" serves internal except tag:m }\n',
        gateway=False,
    )
    plans = [(p.name, p.platform, p.classes, p.uplink) for p in out.compiled.gateways]
    assert plans == [
        ("g", "iptables", ("b", "verylongclassname"), "eth0"),
        ("z", "cisco-ios", ("a",), "Gi1"),
    ]


# ---------------------------------------------------------------------------------------------
# W113: stateless platforms, and `stateless-replies accepted "reason"`
# ---------------------------------------------------------------------------------------------


def test_stateless_platforms_are_those_whose_backend_lacks_connection_tracking() -> None:
    from zonewall.backends import get_backend
    from zonewall.backends.base import Feature
    from zonewall.compiler.gateways import PLATFORMS, STATELESS

    assert STATELESS == {p for p in PLATFORMS if Feature.STATEFUL not in get_backend(p).supports}


def test_check_warns_w113_once_per_cisco_gateway(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway g1 { platform iptables uplink "e0" serves a }\n'
        'gateway g2 { platform cisco-ios uplink "Gi0/1" serves b, verylongclassname }\n',
        gateway=False,
    )
    diag = out.only("W113")
    assert diag.message.startswith("gateway 'g2' (cisco-ios) is stateless: replies are permitted")
    assert (
        'acknowledge it in the gateway with `stateless-replies accepted "reason"`' in diag.message
    )
    assert diag.span is not None and diag.span.line == 10
    assert [g.stateless_accepted for g in out.compiled.gateways] == [None, None]


def test_an_acknowledged_w113_is_not_a_warning_and_keeps_its_reason(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway g2 { platform cisco-ios stateless-replies accepted "reviewed" '
        "serves internal }\nassert denied b -> a\n",
        gateway=False,
    )
    assert out.all("W113") == [] and not out.diagnostics
    (plan,) = out.compiled.gateways
    assert plan.stateless_accepted == "reviewed"


def test_stateless_replies_on_a_stateful_platform_is_e218(zw: Callable) -> None:
    out = zw(
        CLASSES + 'gateway g1 { platform nftables\n  stateless-replies accepted "x"\n'
        "  serves internal }\n",
        gateway=False,
    )
    diag = out.only("E218")
    assert diag.message.startswith(
        "'stateless-replies' is not valid for platform 'nftables' "
        "of gateway 'g1': it tracks connections"
    )
    assert diag.span is not None and (diag.span.line, diag.span.col) == (10, 3)
