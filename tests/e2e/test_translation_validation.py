"""`build` proves every config before writing it: a backend bug stops the build.

Each test breaks one backend on purpose (monkeypatched render) and checks that `build` reports
E404 naming the difference and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from zonewall.backends.cisco_ios import CiscoIosBackend
from zonewall.backends.iptables import IptablesBackend
from zonewall.backends.nftables import NftablesBackend
from zonewall.build import build

ROOT = Path(__file__).resolve().parents[2]


def break_render(monkeypatch: pytest.MonkeyPatch, cls: type,
                 edit: Callable[[str], str]) -> None:
    real = cls.render

    def broken(self, model):  # type: ignore[no-untyped-def]
        return {k: edit(v) for k, v in real(self, model).items()}

    monkeypatch.setattr(cls, "render", broken)


def assert_refused(tmp_path: Path, example: str, *needles: str) -> str:
    out = tmp_path / "out"
    result = build(str(ROOT / "examples" / example), str(out))
    assert not result.written
    assert not out.exists()
    errors = [d for d in result.diagnostics if d.code == "E404"]
    assert errors, [d.message for d in result.diagnostics]
    text = " ".join(d.message + " " + " ".join(n for n, _ in d.notes) for d in errors)
    for needle in needles:
        assert needle in text, text
    return text


def test_clean_build_passes_validation(tmp_path: Path) -> None:
    for example in ("hospital.zw", "multi-gateway.zw", "deny-beats-allow.zw"):
        assert build(str(ROOT / "examples" / example), str(tmp_path / example)).written


def test_an_accept_all_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inserted ahead of the dispatch (appended after the final DROP it would be unreachable,
    # and the validator rightly finds no difference then).
    break_render(monkeypatch, IptablesBackend,
                 lambda t: t.replace("-A FORWARD ", "-A FORWARD -j ACCEPT\n-A FORWARD ", 1))
    assert_refused(tmp_path, "hospital.zw", "core_fw.rules", "permits-too-much")


def test_a_widened_port_range_is_refused(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    break_render(monkeypatch, IptablesBackend,
                 lambda t: t.replace("--dport 443 ", "--dport 443:444 "))
    assert_refused(tmp_path, "multi-gateway.zw", "edge_fw.rules", "permits-too-much")


def test_a_dropped_established_line_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    break_render(monkeypatch, CiscoIosBackend,
                 lambda t: re.sub(r"(?m)^.* established\n", "", t, count=1))
    assert_refused(tmp_path, "hospital.zw", "dist_sw1.ios", "reply-blocked")


def test_a_missing_nft_rule_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    break_render(monkeypatch, NftablesBackend,
                 lambda t: re.sub(r"(?m)^.*ct state new.*accept.*\n", "", t, count=1))
    assert_refused(tmp_path, "multi-gateway.zw", "dc_fw.nft", "blocks-needed")
