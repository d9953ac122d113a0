"""The backend contract between steps: `lower()` returns the model with its diagnostics
(`Lowered`), no model when one is an error, and a backend keeps nothing between calls."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from zonewall.backends import BACKENDS, get_backend
from zonewall.backends.base import Lowered, gateway_view, lower_gateway
from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import Diagnostic, DiagnosticError, Severity
from zonewall.dsl.parser import parse_file, parse_text
from zonewall.ir import CompiledPolicy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

POLICY = """
service dns = udp/53
class a { vlan 10 subnet 10.1.0.0/24 }
class b { vlan 20 subnet 10.1.1.0/25 }
allow a -> b : dns
gateway sw { platform cisco-ios uplink "Port-channel1" serves a, b }
"""


def compiled(text: str) -> CompiledPolicy:
    result = compile_policy(parse_text(text, "t.zw").policy)
    assert result.compiled is not None, result.diagnostics
    return result.compiled


def example(name: str) -> CompiledPolicy:
    result = compile_policy(parse_file(str(EXAMPLES / name)).policy)
    assert result.compiled is not None
    return result.compiled


@pytest.mark.parametrize("platform", sorted(BACKENDS))
def test_a_backend_keeps_no_state_between_gateways(platform: str) -> None:
    policy = example("multi-gateway.zw")
    names = [g.name for g in policy.gateways]
    backend = get_backend(platform)
    first = {n: backend.lower(policy, gateway_view(policy, n)) for n in names}
    again = {n: backend.lower(policy, gateway_view(policy, n)) for n in reversed(names)}
    assert first == again
    assert vars(backend) == {}  # nothing cached on the object for a later call to find


def test_an_error_leaves_no_model_and_unwrap_raises_it() -> None:
    policy = compiled(POLICY.replace("allow a -> b : dns", "allow a -> b"))
    result = lower_gateway(get_backend("cisco-ios"), policy, gateway_view(policy, "sw"))
    assert result.model is None and [d.code for d in result.diagnostics] == ["E402"]
    with pytest.raises(DiagnosticError) as err:
        result.unwrap()
    assert [d.code for d in err.value.diagnostics] == ["E402"]


def test_lower_gateway_keeps_warnings_with_the_model() -> None:
    policy = compiled(POLICY)
    result = lower_gateway(get_backend("cisco-ios"), policy, gateway_view(policy, "sw"))
    assert result.diagnostics == () and result.unwrap().path.name == "sw.ios"
    warning = Diagnostic(Severity.WARNING, "W101", "a warning")
    assert Lowered("model", (warning,)).unwrap() == "model"


def test_a_model_with_an_error_is_a_bug() -> None:
    with pytest.raises(ValueError):
        Lowered("model", (Diagnostic(Severity.ERROR, "E401", "cannot"),))


def test_the_shared_errors_come_first_and_the_lowering_still_reports() -> None:
    """E223 (traffic through this gateway to another gateway itself) and the lowering's E402
    are reported together, shared checks first, as one build shows them."""
    text = POLICY.replace("allow a -> b : dns", "allow a -> b") + (
        "class c { vlan 30 subnet 10.2.0.0/24 }\n"
        'gateway fw { platform iptables uplink "eth0" serves c }\n'
        "allow a -> gateway:fw : dns\n"
    )
    policy = compiled(text)
    result = lower_gateway(get_backend("cisco-ios"), policy, gateway_view(policy, "sw"))
    assert result.model is None
    assert [d.code for d in result.diagnostics] == ["E223", "E402"]


def test_the_platform_check_guards_lower() -> None:
    """The backend's own check failing means `lower` is not asked at all."""
    policy = example("multi-gateway.zw")
    view = gateway_view(policy, "dc_fw")
    bad = dataclasses.replace(view, plan=dataclasses.replace(view.plan, uplink="x" * 16))
    result = lower_gateway(get_backend("nftables"), policy, bad)
    assert result.model is None and [d.code for d in result.diagnostics] == ["E401"]
