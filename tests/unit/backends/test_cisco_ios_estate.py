"""Cisco IOS output on a generated estate stays byte for byte what it was (issue #5).

`data/estate-40x400.zw` is `python benchmarks/generate.py --classes 40 --allows 400
--asserts 5`: 40 classes, random TCP/UDP allows between classes, tags and externals, and two
cisco-ios gateways.  The digests below are of the text the backend rendered for it before the
integer-address rewrite (commit 5df4059), without and with `object-groups`, pinned again when
names took the content-digest suffix and the IPv6 filter was added: with the header, the IPv6
lines and the name suffixes taken out, the texts were the same as before, line for line;
and again when the Cisco header stopped carrying the policy file's sha256 (one header line).
The examples' goldens (tests/e2e/expected/) cover the language's corners; this case covers
volume: hundreds of groups, widened externals, numbered object groups.  A digest cannot show a
diff: on a failure, render the gateway with both versions and diff the texts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from zonewall.backends.base import gateway_view
from zonewall.backends.cisco_ios import CiscoIosBackend
from zonewall.compiler.pipeline import compile_policy
from zonewall.dsl.parser import parse_text

ESTATE = Path(__file__).parent / "data" / "estate-40x400.zw"
DIGESTS = {
    (False, "gw1"): "78c453c6e713747bcdee76850f7649002d4b25f879b57927d15113bbafcdafc8",
    (False, "gw3"): "00c39c4369697883adbfa9c626c2f7e3ced9efcf4d7733fecce5f7c8d471bce8",
    (True, "gw1"): "6c68a36b4d9c39bbc2fa79710fdcc9b26a73161bd2e668afda31629d87897bea",
    (True, "gw3"): "0058f0f279e1eb535758da6bcfaec98435dc0e74adc28451f63e05ba7531a05c",
}


@pytest.mark.parametrize(("object_groups", "gateway"), sorted(DIGESTS),
                         ids=[f"{'og' if og else 'plain'}-{gw}" for og, gw in sorted(DIGESTS)])
def test_generated_estate_renders_as_before(object_groups: bool, gateway: str) -> None:
    text = ESTATE.read_text()
    if object_groups:
        text = text.replace("platform cisco-ios ", "platform cisco-ios object-groups ")
    compiled = compile_policy(parse_text(text, "estate.zw").policy).compiled
    assert compiled is not None
    backend, view = CiscoIosBackend(), gateway_view(compiled, gateway)
    assert backend.check(compiled, view) == []
    (out,) = backend.render(backend.lower(compiled, view)).values()
    assert hashlib.sha256(out.encode()).hexdigest() == DIGESTS[(object_groups, gateway)]
