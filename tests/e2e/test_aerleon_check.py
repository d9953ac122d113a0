"""`benchmarks/aerleon_check.py`: an ACL in aclgen's Cisco format against a policy's flows.

Aerleon is not needed: the ACLs below are written by hand in the shape aclgen prints (header
comments, `no ip access-list`, remarks, `exit`).  The check must find them equal when they
permit exactly the policy's flows, and name the pair when one permit is missing or extra.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CHECK = Path(__file__).resolve().parents[2] / "benchmarks" / "aerleon_check.py"

POLICY = """\
pool vlans 100-199
service https = tcp/443
service dns = udp/53
class ws { subnet 10.1.0.0/24 }
class srv { subnet 10.2.0.0/25 }
external resolver { address 192.0.2.53/32 }
allow ws -> srv : https
allow srv -> resolver : dns
gateway gw { platform iptables uplink "eth0" serves ws, srv }
"""

ACL = """\
! $Id:$
no ip access-list extended estate
ip access-list extended estate
 remark a00001-tcp
 permit tcp 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.127 eq 443
 remark a00002-udp
 permit udp 10.2.0.0 0.0.0.127 host 192.0.2.53 eq 53

exit
"""


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zonewall_bench_aerleon_check", CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def estate(tmp_path: Path) -> Path:
    path = tmp_path / "estate.zw"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_an_acl_permitting_exactly_the_flows_is_identical(estate: Path) -> None:
    result = load().check(estate, ACL)
    assert result.identical, result.mismatches
    assert result.pairs > 0


def test_a_missing_permit_is_named(estate: Path) -> None:
    result = load().check(
        estate, ACL.replace(" permit udp 10.2.0.0 0.0.0.127 host 192.0.2.53 eq 53\n", "")
    )
    assert not result.identical
    assert result.mismatches[0].startswith("srv -> resolver")
    assert "the policy udp/53" in result.mismatches[0]


def test_an_extra_permit_is_named(estate: Path) -> None:
    wider = ACL.replace("eq 443", "range 443 444")
    result = load().check(estate, wider)
    assert not result.identical
    assert "ws -> srv" in result.mismatches[0] and "tcp/443-444" in result.mismatches[0]


def test_output_without_one_acl_is_refused(estate: Path) -> None:
    with pytest.raises(ValueError, match="one extended ACL"):
        load().check(estate, "! nothing here\n")
