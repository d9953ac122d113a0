"""Compile inline policy text for the review (diff, explain) unit tests."""

from __future__ import annotations

import textwrap

from zonewall.compiler.pipeline import compile_policy
from zonewall.diagnostics import render_all
from zonewall.dsl.parser import parse_text
from zonewall.ir import CompiledPolicy

FILE = "p.zw"

BASE = """
service https = tcp/443
service http  = tcp/80 plaintext
service ssh   = tcp/22
service dns   = udp/53, tcp/53
class a { vlan 10 subnet 10.0.0.0/24 }
class b { vlan 11 subnet 10.0.1.0/24 }
class c { vlan 12 subnet 10.0.2.0/24 }
external internet { address 0.0.0.0/0 }
external vendor   { address 203.0.113.0/24 }
gateway gw { platform iptables uplink "eth0" serves internal }
"""


def compiled(text: str, base: str = BASE) -> tuple[CompiledPolicy, dict[str, str]]:
    """Compile BASE plus `text`; fails the test on any error other than a failed assertion."""
    src = textwrap.dedent(base) + textwrap.dedent(text)
    parsed = parse_text(src, FILE)
    result = compile_policy(parsed.policy)
    assert result.compiled is not None, render_all(result.diagnostics, parsed.sources)
    return result.compiled, parsed.sources
