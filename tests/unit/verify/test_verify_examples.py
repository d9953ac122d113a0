"""Every example's generated configs enforce exactly its policy, on every gateway.

This is translation validation of the backends by the independent evaluators: for each
`examples/*.zw`, each gateway's config is parsed from its text and compared, over every
ingress interface, address group and service key, with the enforcement model.
"""

from __future__ import annotations

import pytest
from verify_helpers import EXAMPLES, built, check, gateway_configs, output

from zonewall.verify import validate

CASES = [(p, o.gateway) for p in EXAMPLES for o in gateway_configs(p)]


def test_examples_have_gateways() -> None:
    assert {p.name for p, _ in CASES} == {p.name for p in EXAMPLES}
    platforms = {str(o.platform) for p in EXAMPLES for o in gateway_configs(p)}
    assert platforms == {"iptables", "nftables", "cisco-ios"}


@pytest.mark.parametrize(("path", "gateway"), CASES, ids=[f"{p.stem}-{g}" for p, g in CASES])
def test_generated_config_has_no_difference(path: object, gateway: str) -> None:
    diffs = check(str(path), gateway)
    assert diffs == [], "\n".join(d.describe() for d in diffs)


IOS_CASES = [(p, g) for p, g in CASES if output(p, g).platform == "cisco-ios"]


@pytest.mark.parametrize(
    ("path", "gateway"), IOS_CASES, ids=[f"{p.stem}-{g}" for p, g in IOS_CASES]
)
def test_ios_acls_with_switch_config_have_no_difference(path: object, gateway: str) -> None:
    """The ACL file and the switch file (SVIs, helpers, bindings again) read as one config."""
    compiled, _ = built(str(path))
    text = output(str(path), gateway).text + output(str(path), gateway, "switch-config").text
    diffs = validate(compiled, gateway, text, "cisco-ios")
    assert diffs == [], "\n".join(d.describe() for d in diffs)


def test_switch_config_alone_binds_undefined_acls() -> None:
    """Pushed alone, the switch file binds ACLs that do not exist: IOS then permits all."""
    path = next(p for p, _ in IOS_CASES if p.stem == "multi-gateway")
    compiled, _ = built(str(path))
    diffs = validate(
        compiled, "med_sw", output(str(path), "med_sw", "switch-config").text, "cisco-ios"
    )
    assert {d.kind for d in diffs} == {"permits-too-much"}
    assert all(
        "ACL undefined: permits everything" in r.text
        for d in diffs
        for r in d.rules
        if d.ingress.startswith("Vlan") and d.condition[:4] != "IPv6"
    )
    # the IPv6 filter it binds is undefined too: all IPv6 passes, on every SVI
    v6 = [d for d in diffs if d.condition[:4] == "IPv6"]
    assert {d.ingress for d in v6} >= {d.ingress for d in diffs if d.ingress.startswith("Vlan")}
    assert all(
        "IPv6 ACL undefined: permits all IPv6" in r.text
        for d in v6
        for r in d.rules
        if d.ingress.startswith("Vlan")
    )
