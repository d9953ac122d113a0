"""Cisco IOS output on a generated estate stays byte for byte what it was (issue #5).

`data/estate-40x400.zw` is `python benchmarks/generate.py --classes 40 --allows 400
--asserts 5`: 40 classes, random TCP/UDP allows between classes, tags and externals, and two
cisco-ios gateways.  The digests below are of the text the backend rendered for it before the
integer-address rewrite (commit 5df4059), without and with `object-groups`, pinned again when
names took the content-digest suffix and the IPv6 filter was added: with the header, the IPv6
lines and the name suffixes taken out, the texts were the same as before, line for line;
and again when the Cisco header stopped carrying the policy file's sha256 (one header line),
and when each ACL got the switch's own-address entries and the file its vty lines (issue #11:
the other lines stayed the same but for the header, object groups numbered one later after
the own-address group).
The examples' goldens (tests/e2e/expected/) cover the language's corners; this case covers
volume: hundreds of groups, widened externals, numbered object groups.  A digest cannot show a
diff: on a failure, render the gateway with both versions and diff the texts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from zonewall.backends.base import gateway_view
from zonewall.backends.cisco_ios.backend import CiscoIosBackend
from zonewall.compiler.pipeline import compile_policy
from zonewall.dsl.parser import parse_text

ESTATE = Path(__file__).parent / "data" / "estate-40x400.zw"
DIGESTS = {
    (False, "gw1"): "5fe9892a74046274059ac790ecd5fd62a94019a53cce01fa90adefc9726c7aa3",
    (False, "gw3"): "bd8f5b3691de3504e18b3aa315769d36fad8973da69496208ff034d7e63b7097",
    (True, "gw1"): "6f64a25912830e258c74f33da2f29f8ee8798586ab249de9178df4bbf03e6165",
    (True, "gw3"): "4503bde2b4d068e3e8e758f4a4a4b5f1aa0c560b63239511cfb6ca999dd7c544",
}


@pytest.mark.parametrize(
    ("object_groups", "gateway"),
    sorted(DIGESTS),
    ids=[f"{'og' if og else 'plain'}-{gw}" for og, gw in sorted(DIGESTS)],
)
def test_generated_estate_renders_as_before(object_groups: bool, gateway: str) -> None:
    text = ESTATE.read_text()
    if object_groups:
        text = text.replace("platform cisco-ios ", "platform cisco-ios object-groups ")
    compiled = compile_policy(parse_text(text, "estate.zw").policy).compiled
    assert compiled is not None
    backend, view = CiscoIosBackend(), gateway_view(compiled, gateway)
    assert backend.check(compiled, view) == []
    (out,) = backend.render(backend.lower(compiled, view).unwrap()).values()
    assert hashlib.sha256(out.encode()).hexdigest() == DIGESTS[(object_groups, gateway)]
