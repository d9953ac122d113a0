"""Cisco IOS output on a generated estate stays byte for byte what it was (issue #5).

`data/estate-40x400.zw` is `python benchmarks/generate.py --classes 40 --allows 400
--asserts 5`: 40 classes, random TCP/UDP allows between classes, tags and externals, and two
cisco-ios gateways.  The digests below are of the text the backend rendered for it before the
integer-address rewrite (commit 5df4059), without and with `object-groups`.  The examples'
goldens (tests/e2e/expected/) cover the language's corners; this case covers volume: hundreds of
groups, widened externals, numbered object groups.  A digest cannot show a diff: on a failure,
render the gateway with both versions and diff the texts.
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
    (False, "gw1"): "079b2e8675fe159c7a71576296d8e1ff7386bdf1debea55f231523735df184c2",
    (False, "gw3"): "6527f91fb276c087c49603834c80610eb4b5fb5fd29a3c2aad6455cf614bf8f5",
    (True, "gw1"): "78e1b868aaaa95100897f7ece3002809fd29328cc3a4eab364ed650dafbce78c",
    (True, "gw3"): "4f744d63348765d22222ae234ed1343ca0c0677180f025d171ac9bbc5b36d154",
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
