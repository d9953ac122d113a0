"""Hostile text in a policy never becomes config: no extra rule and no extra line, anywhere.

`why` strings and class descriptions reach comments, remarks and the VLAN plan.  A policy whose
strings hold newlines' look-alikes, quotes, `!`, `#`, `;`, braces, an iptables rule and
non-ASCII text must build to files with exactly as many lines as the same policy with plain
strings, and every iptables file must still hold exactly the same rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zonewall.build import build

POLICY = """
service https = tcp/443
service dns = udp/53
class ws  {{ vlan 10 subnet 10.1.0.0/24 description "{desc}" }}
class srv {{ vlan 20 subnet 10.1.1.0/24 description "{desc}" }}
class dev {{ vlan 30 subnet 10.1.2.0/24 description "{desc}" tags medical }}
external internet {{ address 0.0.0.0/0 }}
allow ws -> srv : https "{why}" log
allow ws -> dev : https "{why}"
allow dev -> srv : dns "{why}"
allow srv -> internet : https "{why}"
gateway fw {{ platform iptables interface "eth1.{{vlan}}" uplink "eth0" serves ws, srv }}
gateway nf {{ platform nftables uplink "eth0" interface "nf{{vlan}}" serves dev }}
"""

HOSTILE = [
    '\\" -j ACCEPT -A FORWARD -j ACCEPT',
    "! end interface Vlan1 ; permit ip any any #",
    "}} ; flush ruleset ; table inet x {{",
    "caf\u00e9 \u2028 \u0085 \u00a0 r\u00e9seau \U0001f489",
    "'single' \\\\ back\\\\slash %s {{vlan}} $(reboot) `id`",
    "x" * 400,
]


def built(tmp_path: Path, why: str, desc: str, name: str) -> dict[str, str]:
    src = tmp_path / f"{name}.zw"
    src.write_text(POLICY.format(why=why, desc=desc), encoding="utf-8")
    out = tmp_path / f"out-{name}"
    result = build(str(src), str(out))
    assert result.written, [d.message for d in result.diagnostics]
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(out.iterdir())
        if p.name != "manifest.json"
    }


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_add_no_line_and_no_rule(tmp_path: Path, text: str) -> None:
    clean = built(tmp_path, "plain reason", "plain description", "clean")
    hostile = built(tmp_path, text, text, "hostile")
    assert sorted(clean) == sorted(hostile)
    for name in clean:
        assert len(hostile[name].split("\n")) == len(clean[name].split("\n")), name
        for line in hostile[name].split("\n"):
            assert "\r" not in line and "\u2028" not in line and "\x85" not in line, name
    assert "fw-interfaces.sh" in clean  # descriptions reach its comments
    for name in (n for n in clean if n.endswith("-interfaces.sh")):

        def code(text: str) -> list[str]:
            return [line for line in text.split("\n") if not line.lstrip().startswith("#")]

        assert code(hostile[name]) == code(clean[name])
    for name in (n for n in clean if n.endswith(".rules")):

        def rules(text: str) -> list[str]:
            # a comment is a quoted string in which \" and \\ are escapes (iptables-restore)
            return [
                re.sub(r'--comment "(?:[^"\\]|\\.)*"', "", line)
                for line in text.split("\n")
                if line.startswith("-A ")
            ]

        assert rules(hostile[name]) == rules(clean[name])
