"""Cisco IOS output on a generated estate stays byte for byte what it was (issue #5).

`data/estate-40x400.zw` is `python benchmarks/generate.py --classes 40 --allows 400
--asserts 5`: 40 classes, random TCP/UDP allows between classes, tags and externals, and two
cisco-ios gateways.  The digests below are of the text the backend rendered for it before the
integer-address rewrite (commit 5df4059), without and with `object-groups`, pinned again when
names took the content-digest suffix and the IPv6 filter was added: with the header, the IPv6
lines and the name suffixes taken out, the texts were the same as before, line for line;
and again when the Cisco header stopped carrying the policy file's sha256 (one header line),
and when each ACL got the switch's own-address entries and the file its vty lines (issue #11:
the other lines stayed the same, object groups numbered one later after the own-address group).
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
    (False, "gw1"): "4211025d18d4867046db89cb0405de911371b873954b3242c790a4f9c5ecbc4f",
    (False, "gw3"): "1ca71ce95f1efb1940f1d53900d3c98665602881362f99a8825c691293b75759",
    (True, "gw1"): "3e5839d27893ad112c3e7a979af98ea677c5a99c5c4b009b8d3ff799ab60f21a",
    (True, "gw3"): "67bd8722d18e3eafd48bf8eb6678ba1d9a8cfc7af09a7109bf4329046a8d2e89",
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
