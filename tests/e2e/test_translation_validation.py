"""`build` proves every config before writing it: a backend bug stops the build.

Each test breaks one backend on purpose (monkeypatched render) and checks that `build` reports
E404 naming the difference and writes nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from zonewall.backends.cisco_ios.backend import CiscoIosBackend
from zonewall.backends.iptables import IptablesBackend
from zonewall.backends.nftables import NftablesBackend
from zonewall.build import build

ROOT = Path(__file__).resolve().parents[2]


def break_render(monkeypatch: pytest.MonkeyPatch, cls: type, edit: Callable[[str], str]) -> None:
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
    break_render(
        monkeypatch,
        IptablesBackend,
        lambda t: t.replace("-A zw-main ", "-A zw-main -j ACCEPT\n-A zw-main ", 1),
    )
    assert_refused(tmp_path, "hospital.zw", "core_fw.rules", "permits-too-much")


def test_a_chain_that_returns_what_it_should_drop_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RETURN hands the packet back to FORWARD, whose rules after zonewall's jump are the box's
    # and are assumed to accept anything.
    break_render(
        monkeypatch,
        IptablesBackend,
        lambda t: t.replace("-A zw-main -j DROP", "-A zw-main -j RETURN"),
    )
    assert_refused(
        tmp_path,
        "hospital.zw",
        "core_fw.rules",
        "permits-too-much",
        "FORWARD after the jump to zw-forward",
    )


def test_a_missing_egress_scope_rule_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without "-o eth1.100 -j zw-main", a packet entering on an interface zonewall does not
    # serve reaches a served class untouched.
    break_render(
        monkeypatch,
        IptablesBackend,
        lambda t: t.replace("-A zw-forward -o eth1.100 -j zw-main\n", ""),
    )
    assert_refused(tmp_path, "hospital.zw", "core_fw.rules", "permits-too-much", "entering (other)")


def test_an_open_ipv6_companion_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    break_render(
        monkeypatch,
        IptablesBackend,
        lambda t: t.replace("-A zw-forward -i eth0 -j zw-ipv6-closed\n", ""),
    )
    assert_refused(tmp_path, "hospital.zw", "core_fw.rules6", "permits-too-much", "entering eth0")


def test_an_ipv6_companion_that_accepts_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_render(
        monkeypatch,
        IptablesBackend,
        lambda t: t.replace("-A zw-ipv6-closed -j DROP", "-A zw-ipv6-closed -j ACCEPT"),
    )
    assert_refused(tmp_path, "hospital.zw", "core_fw.rules6", "-A zw-ipv6-closed -j ACCEPT")


def test_an_ipv6_companion_with_unmodelled_matches_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_render(
        monkeypatch,
        IptablesBackend,
        lambda t: t.replace(
            "-A zw-ipv6-closed -j DROP",
            "-A zw-ipv6-closed -p tcp -j ACCEPT\n-A zw-ipv6-closed -j DROP",
        ),
    )
    out = tmp_path / "out"
    result = build(str(ROOT / "examples" / "hospital.zw"), str(out))
    assert not result.written and not out.exists()
    (err,) = [d for d in result.diagnostics if d.code == "E405"]
    assert "core_fw.rules6" in err.message and "protocol or port match" in err.message


def test_a_widened_port_range_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    break_render(
        monkeypatch, IptablesBackend, lambda t: t.replace("--dport 443 ", "--dport 443:444 ")
    )
    assert_refused(tmp_path, "multi-gateway.zw", "edge_fw.rules", "permits-too-much")


def test_a_dropped_established_line_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_render(
        monkeypatch, CiscoIosBackend, lambda t: re.sub(r"(?m)^.* established\n", "", t, count=1)
    )
    assert_refused(tmp_path, "hospital.zw", "dist_sw1.ios", "reply-blocked")


def test_a_missing_nft_rule_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    break_render(
        monkeypatch,
        NftablesBackend,
        lambda t: re.sub(r"(?m)^.*ct state new.*accept.*\n", "", t, count=1),
    )
    assert_refused(tmp_path, "multi-gateway.zw", "dc_fw.nft", "blocks-needed")


# -- the same proofs in parallel worker processes (large builds) -------------------------------


def test_parallel_validation_gives_the_same_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zonewall import build as zbuild
    from zonewall.report import run_check

    report = run_check(str(ROOT / "examples" / "multi-gateway.zw"))
    monkeypatch.setattr(zbuild, "PARALLEL_MIN_KEYS", 1 << 60)
    serial = zbuild.render_outputs(report)
    pids = tmp_path / "pids"
    real = zbuild.translation_problem

    def recorded(*args):  # type: ignore[no-untyped-def]
        with open(pids, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(zbuild, "translation_problem", recorded)
    monkeypatch.setattr(zbuild, "PARALLEL_MIN_KEYS", 0)
    monkeypatch.setattr(zbuild.os, "cpu_count", lambda: 2)
    parallel = zbuild.render_outputs(report)
    assert [(o.path, o.text) for o in parallel[0]] == [(o.path, o.text) for o in serial[0]]
    assert parallel[1] == serial[1]
    assert len(serial[0]) > 3  # every gateway's config and the VLAN plan
    workers = set(pids.read_text(encoding="utf-8").split())
    assert workers and str(os.getpid()) not in workers  # built and validated in forked workers


def test_parallel_validation_still_refuses_a_broken_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zonewall import build as zbuild

    monkeypatch.setattr(zbuild, "PARALLEL_MIN_KEYS", 0)
    monkeypatch.setattr(zbuild.os, "cpu_count", lambda: 2)
    break_render(
        monkeypatch, IptablesBackend, lambda t: t.replace("--dport 443 ", "--dport 443:444 ")
    )
    assert_refused(tmp_path, "multi-gateway.zw", "edge_fw.rules", "permits-too-much")
