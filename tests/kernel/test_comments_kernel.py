"""Comments as the real tools read them back: iptables and nft, in a scratch namespace.

Every text below goes through the backend's escaper (`src/zonewall/text.py`), is loaded with
`iptables-restore` / `nft -f`, and is read back with `iptables-save` / `nft list ruleset`.
What comes back must be the text as written (or, past the byte limit, its visibly cut
beginning, whole UTF-8 characters only), and the verifier's parsers must read the saved
text back to the same comment.  A whole build of a policy with such texts is loaded too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.kernel_util import netns, require_tool

from zonewall.backends.iptables import COMMENT_MAX as IPT_MAX
from zonewall.backends.nftables import COMMENT_MAX as NFT_MAX
from zonewall.text import iptables_comment, nft_comment
from zonewall.build import build
from zonewall.verify.iptables import parse_iptables, split_words
from zonewall.verify.nftables import parse_nftables

pytestmark = pytest.mark.kernel

# Texts the tools must give back exactly as written.
EXACT = [
    "nurses' desk",
    "caf\u00e9 \u00e0 r\u00e9seau \u20ac \u00fcn\u00efc\u00f6d\u00e9 \U0001f489 \u2713",
    "# not a comment ; not a separator { } | $(reboot) `id` %s !bang",
    "back\\slash \\ and C:\\path\\",
    "two  spaces,  kept",
    "=cmd|' /C calc'!A0 -lead +plus @at",
]
# iptables can quote a double quote; nft cannot (it becomes ').
QUOTES = 'say "hello" \\" to \\\\ them'
LONG = "\u00e9" * 200  # 400 bytes of two-byte characters: cut at a character boundary


def _ipt_file(comments: list[str]) -> str:
    lines = ["*filter", ":FORWARD DROP [0:0]"]
    lines += [
        f'-A FORWARD -s 10.0.0.{n}/32 -m comment --comment "{c}" -j ACCEPT'
        for n, c in enumerate(comments, 1)
    ]
    return "\n".join([*lines, "COMMIT", ""])


def _saved_comments(saved: str) -> list[str]:
    out = []
    for line in saved.splitlines():
        if line.startswith("-A ") and "--comment" in line:
            words = split_words(line)
            out.append(words[words.index("--comment") + 1])
    return out


def test_iptables_gives_comments_back_as_written(tmp_path: Path) -> None:
    require_tool("iptables-restore")
    texts = [*EXACT, QUOTES, LONG]
    written = [iptables_comment(t, IPT_MAX) for t in texts]
    path = tmp_path / "comments.rules"
    path.write_text(_ipt_file(written), encoding="utf-8")
    with netns() as ns:
        ns.run("iptables-restore", "--test", str(path))
        ns.run("iptables-restore", str(path))
        saved = ns.run("iptables-save", "-t", "filter").stdout  # strict UTF-8: no cut character
    back = _saved_comments(saved)
    assert back[: len(EXACT) + 1] == [*EXACT, QUOTES]
    assert back[-1] == "\u00e9" * 125 + " ..." and len(back[-1].encode()) <= IPT_MAX
    parse_iptables(saved, "saved")  # the verifier reads iptables-save's escapes (\')


def test_nft_gives_comments_back_as_written(tmp_path: Path) -> None:
    require_tool("nft")
    texts = [*EXACT, QUOTES, LONG]
    written = [nft_comment(t, NFT_MAX) for t in texts]
    rules = "\n".join(
        f'        ip saddr 10.0.0.{n} counter accept comment "{c}"'
        for n, c in enumerate(written, 1)
    )
    path = tmp_path / "comments.nft"
    path.write_text(
        "table inet zwcomments {\n    chain c {\n" + rules + "\n    }\n}\n", encoding="utf-8"
    )
    with netns() as ns:
        ns.run("nft", "-c", "-f", str(path))
        ns.run("nft", "-f", str(path))
        listed = ns.run("nft", "list", "table", "inet", "zwcomments").stdout
    back = re.findall(r'comment "([^"\n]*)"', listed)
    assert back[: len(EXACT)] == EXACT
    assert back[len(EXACT)] == QUOTES.replace('"', "'")
    assert back[-1] == "\u00e9" * 62 + " ..." and len(back[-1].encode()) <= NFT_MAX


POLICY = """
service https = tcp/443
class ws  { vlan 10 subnet 10.1.0.0/24 description "WHY" }
class srv { vlan 20 subnet 10.1.1.0/24 description "WHY" }
allow ws -> srv : https "WHY" log
allow srv -> ws : https "WHY"
gateway fw { platform iptables uplink "eth0" serves ws }
gateway nf { platform nftables uplink "eth0" serves srv }
"""
WHY = 'nurses\' desk \\"Station 3\\" caf\u00e9 # ; { } \\\\ =cmd'  # as the DSL spells it


def test_built_files_load_and_keep_the_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("iptables-restore")
    require_tool("nft")
    # a short relative path: comments start with `file:line`, and nft cuts at 128 bytes
    monkeypatch.chdir(tmp_path)
    Path("p.zw").write_text(POLICY.replace("WHY", WHY), encoding="utf-8")
    result = build("p.zw", str(tmp_path / "out"))
    assert result.written, [d.message for d in result.diagnostics]
    as_written = 'nurses\' desk "Station 3" caf\u00e9 # ; { } \\ =cmd'
    with netns() as ns:
        ns.run("iptables-restore", str(tmp_path / "out" / "fw.rules"))
        saved = ns.run("iptables-save", "-t", "filter").stdout
        ns.run("nft", "-f", str(tmp_path / "out" / "nf.nft"))
        listed = ns.run("nft", "list", "table", "inet", "zonewall").stdout
    assert any(c.endswith(f"allow ws->srv {as_written}") for c in _saved_comments(saved))
    assert f'allow srv->ws {as_written.replace(chr(34), chr(39))}"' in listed
    parse_iptables(saved, "saved")
    parse_nftables(listed, "listed")
