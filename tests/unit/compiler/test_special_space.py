"""W114: an external that covers private or special address space no class owns."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zonewall.diagnostics import Severity

SPECIAL = (
    "0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, "
    "192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/4, 240.0.0.0/4"
)
BASE = """
pool subnets 10.40.0.0/16
service https = tcp/443
class a { vlan 10 hosts 20 }
allow a -> external : https
"""


def w114(out: object) -> list[str]:
    return [d.message for d in out.diagnostics if d.code == "W114"]  # type: ignore[attr-defined]


def test_internet_as_everything_is_warned_with_the_fix(zw: Callable) -> None:
    out = zw(BASE + "external internet { address 0.0.0.0/0 }\n")
    d = out.only("W114")
    assert d.severity is Severity.WARNING
    assert (d.span.line, d.span.col) == (6, 1)  # the external statement
    assert f"`address 0.0.0.0/0 except {SPECIAL}`" in d.message
    notes = [n for n, _ in d.notes]
    assert (
        "10.0.0.0/8 is private (RFC 1918); 16,777,184 of its addresses are left in "
        "'internet'" in notes
    )  # less the /27 class a holds
    pool = next((n, s) for n, s in d.notes if n.startswith("10.40.0.0/16"))
    assert pool[0] == (
        "10.40.0.0/16 is this policy's own 'pool subnets'; 65,504 of its "
        "addresses are left in 'internet'"
    )
    assert pool[1] is not None and pool[1].line == 2  # points at the pool statement
    assert out.compiled is not None  # a warning: compilation goes on


def test_excepting_the_special_space_silences_it(zw: Callable) -> None:
    out = zw(BASE + f"external internet {{ address 0.0.0.0/0 except {SPECIAL} }}\n")
    assert w114(out) == []
    # and the pool's unallocated space is no longer internet
    ext = next(e for e in out.compiled.externals if e.name == "internet")
    assert not any(p.first <= 0x0A28_FF00 <= p.last for p in ext.prefixes)


def test_partial_except_is_extended_in_the_suggested_fix(zw: Callable) -> None:
    out = zw(BASE + "external internet { address 0.0.0.0/0 except 10.0.0.0/8, 127.0.0.0/8 }\n")
    (message,) = w114(out)
    assert f"`address 0.0.0.0/0 except {SPECIAL}`" in message  # merged in address order


@pytest.mark.parametrize(
    "addresses",
    [
        "10.50.0.0/16",  # a partner site over VPN, written on purpose
        "172.16.0.0/12",  # the whole block
        "192.168.10.0/24, 100.64.1.0/24",
        "203.0.113.0/24",  # public (documentation) space: nothing special
        "10.40.200.0/24",  # inside the policy's own pool: written on purpose
    ],
    ids=["vpn-partner", "whole-block", "two-blocks", "public", "inside-pool"],
)
def test_an_external_written_inside_private_space_is_deliberate(
    zw: Callable, addresses: str
) -> None:
    assert w114(zw(BASE + f"external partner {{ address {addresses} }}\n")) == []


def test_a_wide_private_external_that_swallows_the_pool_is_warned(zw: Callable) -> None:
    (message,) = w114(zw(BASE + "external corp_wan { address 10.0.0.0/8 }\n"))
    assert "external 'corp_wan'" in message
    assert "`address 10.0.0.0/8 except 10.40.0.0/16`" in message


def test_a_range_named_by_another_external_is_acknowledged(zw: Callable) -> None:
    others = ", ".join(b for b in SPECIAL.split(", ") if b != "100.64.0.0/10")
    text = (
        BASE + f"external internet {{ address 0.0.0.0/0 except {others} }}\n"
        "external carrier_nat { address 100.64.0.0/10 }\n"
    )
    assert w114(zw(text)) == []
    # without the named external, the same internet is warned about 100.64.0.0/10 only
    (message,) = w114(zw(BASE + f"external internet {{ address 0.0.0.0/0 except {others} }}\n"))
    assert f"except {SPECIAL}`" in message


def test_classes_owning_a_whole_block_leave_nothing_to_warn(zw: Callable) -> None:
    others = ", ".join(b for b in SPECIAL.split(", ") if b != "169.254.0.0/16")
    text = (
        BASE + "class ll { vlan 11 subnet 169.254.0.0/16 }\n"
        f"external internet {{ address 0.0.0.0/0 except {others} }}\n"
    )
    assert w114(zw(text)) == []


def test_warning_is_deterministic_and_once_per_external(zw: Callable) -> None:
    text = BASE + "external internet { address 0.0.0.0/0 }\nexternal other { address 0.0.0.0/1 }\n"
    first, second = zw(text), zw(text)
    assert w114(first) == w114(second)
    assert [d.span.line for d in first.all("W114")] == [6, 7]
