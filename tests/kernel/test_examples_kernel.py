"""Every iptables and nftables file the examples produce, committed into a real kernel.

Each file is loaded twice into a fresh network namespace: iptables and ip6tables files by the
exact command of their `load with:` header line (a real commit, which catches what `--test`
misses on the nf_tables backend), nft files with `nft -c -f` and then `nft -f`.
iptables-save must report back every rule zonewall wrote, once, plus FORWARD's one jump.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.kernel.netlab import lab, require_root_tools
from tests.kernel_util import load_command

from zonewall.backends import get_backend
from zonewall.backends.base import gateway_view
from zonewall.report import run_check

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.zw"))


def platform_outputs(path: Path, platform: str) -> dict[str, str]:
    """Rendered files of every gateway of `platform` in the policy at `path`."""
    report = run_check(str(path))
    assert report.compiled is not None, report.diagnostics
    out: dict[str, str] = {}
    backend = get_backend(platform)
    for plan in report.compiled.gateways:
        if plan.platform == platform:
            model = backend.lower(
                report.compiled, gateway_view(report.compiled, plan.name)
            ).unwrap()
            out.update({str(k): v for k, v in backend.render(model).items()})
    return out


def cases(platform: str) -> list[tuple[Path, str]]:
    return [(p, name) for p in EXAMPLES for name in platform_outputs(p, platform)]


@pytest.mark.parametrize(
    ("example", "name"), cases("iptables"), ids=lambda v: v.name if isinstance(v, Path) else v
)
def test_iptables_file_commits_in_kernel(example: Path, name: str, tmp_path: Path) -> None:
    family = "ip6tables" if name.endswith(".rules6") else "iptables"
    require_root_tools(f"{family}-restore", f"{family}-save", family, "sh")
    text = platform_outputs(example, "iptables")[name]
    # and FORWARD's jump, and INPUT's (IPv4 only: IPv6 INPUT is left alone for ND)
    expected = len(re.findall(r"^-A ", text, re.M)) + (1 if family == "ip6tables" else 2)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with lab() as the_lab:
        ns = the_lab.ns("r")
        for _ in range(2):  # loading the same file again replaces zonewall's chains
            the_lab.exec(ns, "sh", "-c", load_command(text, str(path)))
            saved = the_lab.exec(ns, f"{family}-save").stdout
            assert len(re.findall(r"^-A ", saved, re.M)) == expected, name


@pytest.mark.parametrize(
    ("example", "name"), cases("nftables"), ids=lambda v: v.name if isinstance(v, Path) else v
)
def test_nftables_file_loads_in_kernel(example: Path, name: str, tmp_path: Path) -> None:
    require_root_tools("nft")
    text = platform_outputs(example, "nftables")[name]
    path = tmp_path / name
    path.write_text(text)
    with lab() as the_lab:
        ns = the_lab.ns("r")
        the_lab.exec(ns, "nft", "-c", "-f", str(path))
        for _ in range(2):  # reload-safe: the file replaces only its own table
            the_lab.exec(ns, "nft", "-f", str(path))
        listing = json.loads(the_lab.exec(ns, "nft", "-j", "list", "ruleset").stdout)
        rules = [x for x in listing["nftables"] if "rule" in x]
        assert rules, "the ruleset is empty after loading"
        assert len({x["table"]["name"] for x in listing["nftables"] if "table" in x}) == 1


def test_examples_cover_both_linux_platforms() -> None:
    assert cases("iptables") and cases("nftables")
