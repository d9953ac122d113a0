"""Address and VLAN plan: fixed subnets and VLANs are checked, the rest allocated from pools."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
from netaddr import IPNetwork

from zonewall.compiler.allocate import prefix_for_hosts


@pytest.mark.parametrize(
    ("hosts", "prefix"),
    [
        (1, 30),
        (2, 29),
        (5, 29),
        (6, 28),
        (13, 28),
        (14, 27),
        (30, 26),
        (61, 26),
        (62, 25),
        (253, 24),
        (254, 23),
        (3000, 20),
        (2**31, 0),
    ],
    ids=lambda v: str(v),
)
def test_smallest_prefix_holding_hosts_plus_three(hosts: int, prefix: int) -> None:
    assert prefix_for_hosts(hosts) == prefix
    size = 1 << (32 - prefix)
    assert size >= hosts + 3
    assert prefix == 32 or size // 2 < hosts + 3 or prefix == 30


PLAN = """
pool subnets 10.0.0.0/23
pool vlans 1000-1010
service s = tcp/1
class zeta  { hosts 1 }
class alpha { hosts 5 }
class big   { hosts 100 }
class mid   { hosts 29 }
class fixed { vlan 1000 subnet 10.0.0.128/27 }
class f2    { vlan 1001 subnet 10.0.0.0/30 }
allow internal -> internal : s
"""


def test_allocation_plan(zw: Callable) -> None:
    out = zw(PLAN)
    plan = {c.name: ([str(p) for p in c.prefixes], c.vlan) for c in out.compiled.classes}
    # Subnets: largest first (big /25, mid /27, alpha /29, zeta /30), each at the lowest free
    # aligned block around the fixed 10.0.0.0/30 and 10.0.0.128/27.
    # VLANs: lowest free of 1000-1010 in name order, skipping the taken 1000/1001 and the
    # reserved 1002-1005
    assert plan == {
        "alpha": (["10.0.0.8/29"], 1006),
        "big": (["10.0.1.0/25"], 1007),
        "f2": (["10.0.0.0/30"], 1001),
        "fixed": (["10.0.0.128/27"], 1000),
        "mid": (["10.0.0.32/27"], 1008),
        "zeta": (["10.0.0.4/30"], 1009),
    }
    flags = {c.name: (c.allocated_subnet, c.allocated_vlan) for c in out.compiled.classes}
    assert flags["big"] == (True, True)
    assert flags["fixed"] == (False, False)


def test_allocation_is_deterministic_and_independent_of_declaration_order(zw: Callable) -> None:
    lines = PLAN.strip().splitlines()
    head, classes, tail = lines[:3], lines[3:9], lines[9:]
    plans = set()
    rng = random.Random(7)
    for _ in range(6):
        rng.shuffle(classes)
        out = zw("\n".join(head + classes + tail) + "\n")
        plans.add(
            tuple((c.name, tuple(map(str, c.prefixes)), c.vlan) for c in out.compiled.classes)
        )
    assert len(plans) == 1


def test_largest_request_is_served_first_then_by_name(zw: Callable) -> None:
    out = zw("""
        pool subnets 10.0.0.0/24
        pool vlans 100-199
        service s = tcp/1
        class a_small { hosts 1 }
        class z_large { hosts 100 }
        class m_mid_b { hosts 20 }
        class m_mid_a { hosts 20 }
        allow internal -> internal : s
    """)
    assert out.subnet("z_large") == ["10.0.0.0/25"]
    assert out.subnet("m_mid_a") == ["10.0.0.128/27"]
    assert out.subnet("m_mid_b") == ["10.0.0.160/27"]
    assert out.subnet("a_small") == ["10.0.0.192/30"]


def test_allocation_never_overlaps_fixed_subnets(zw: Callable) -> None:
    classes = "\n".join(f"class h{i} {{ hosts {n} }}" for i, n in enumerate([1, 5, 20, 60, 9]))
    out = zw(
        """
        pool subnets 10.0.0.0/24
        pool vlans 100-199
        service s = tcp/1
        class f1 { vlan 10 subnet 10.0.0.0/26 }
        class f2 { vlan 11 subnet 10.0.0.72/29, 10.0.0.200/32 }
"""
        + classes
        + "\nallow internal -> internal : s\n"
    )
    prefixes = [(c.name, p) for c in out.compiled.classes for p in c.prefixes]
    for (n1, p1), (n2, p2) in itertools.combinations(prefixes, 2):
        assert p1.last < p2.first or p2.last < p1.first, (n1, p1, n2, p2)
    for name in ("h0", "h1", "h2", "h3", "h4"):
        (p,) = out.cls(name).prefixes
        assert p in IPNetwork("10.0.0.0/24")
        assert p.prefixlen == prefix_for_hosts([1, 5, 20, 60, 9][int(name[1])])


def test_first_pool_with_room_is_used(zw: Callable) -> None:
    out = zw("""
        pool subnets 10.0.0.0/25, 10.1.0.0/16
        pool vlans 100-101, 200-300
        service s = tcp/1
        class a { hosts 124 }
        class b { hosts 125 }
        class c { hosts 5 }
        allow internal -> internal : s
    """)
    assert {n: (out.subnet(n), out.cls(n).vlan) for n in "abc"} == {
        "a": (["10.0.0.0/25"], 100),
        "b": (["10.1.0.0/25"], 101),
        "c": (["10.1.0.128/29"], 200),
    }


def test_fixed_vlans_are_skipped_by_the_pool(zw: Callable) -> None:
    out = zw("""
        pool subnets 10.0.0.0/16
        pool vlans 100-105
        service s = tcp/1
        class a { hosts 1 }
        class b { hosts 1 }
        class c { hosts 1 }
        class x { hosts 1  vlan 100 }
        class y { hosts 1  vlan 102 }
        allow internal -> internal : s
    """)
    assert [out.cls(n).vlan for n in "abcxy"] == [101, 103, 104, 100, 102]


@pytest.mark.parametrize(
    "pools",
    ["10.0.0.0/24, 10.0.0.0/24", "10.0.0.0/24\npool subnets 10.0.0.0/23"],
    ids=["same-pool-twice", "second-pool-contains-first"],
)
def test_overlapping_pools_never_give_overlapping_subnets(zw: Callable, pools: str) -> None:
    out = zw(f"""
        pool subnets {pools}
        pool vlans 100-199
        service s = tcp/1
        class a {{ hosts 200 }}
        class b {{ hosts 200 }}
        allow a -> b : s
    """)
    if out.result is not None and out.result.compiled is not None:
        (pa,), (pb,) = out.cls("a").prefixes, out.cls("b").prefixes
        assert pa.last < pb.first or pb.last < pa.first, (pa, pb)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (
            "10.40.32.0/24",
            "10.40.32.128/25",
            "subnet 10.40.32.128/25 of class 'b' overlaps 10.40.32.0/24 of class 'a'",
        ),
        (
            "10.40.32.128/25",
            "10.40.32.0/24",
            "subnet 10.40.32.128/25 of class 'a' overlaps 10.40.32.0/24 of class 'b'",
        ),
        (
            "10.0.0.0/24",
            "10.0.0.0/24",
            ("subnet 10.0.0.0/24 of class 'b' overlaps 10.0.0.0/24 of class 'a'"),
        ),
        (
            "10.1.0.0/24, 10.0.0.0/8",
            "10.2.0.0/24",
            "subnet 10.2.0.0/24 of class 'b' overlaps 10.0.0.0/8 of class 'a'",
        ),
    ],
    ids=["second-inside-first", "first-inside-second", "identical", "one-of-several"],
)
def test_overlapping_subnets_are_e205_showing_both_places(
    zw: Callable, a: str, b: str, message: str
) -> None:
    out = zw(f"class a {{\n  vlan 10\n  subnet {a}\n}}\nclass b {{ vlan 11  subnet {b} }}\n")
    diag = out.only("E205")
    assert diag.message.startswith(message)
    assert diag.message.endswith("; a host must belong to exactly one class")
    places = {(diag.span.line, diag.span.col)} if diag.span else set()
    places |= {(s.line, s.col) for _, s in diag.notes if s is not None}
    assert places == {(3, 3), (5, 20)}  # the 'subnet' attribute of each class


def test_subnets_of_one_class_may_overlap_each_other(zw: Callable) -> None:
    out = zw(
        "service s = tcp/1\nclass a { vlan 10 subnet 10.0.0.0/24, 10.0.0.0/25 }\n"
        "class b { vlan 11 subnet 10.0.1.0/24 }\nallow a -> b : s\n"
        "assert denied b -> a\n"
    )
    assert out.codes == []
    assert out.subnet("a") == ["10.0.0.0/24"]


def test_duplicate_vlan_is_e206_with_the_first_use(zw: Callable) -> None:
    out = zw("class a { vlan 10 subnet 10.0.0.0/24 }\nclass b { subnet 10.0.1.0/24 vlan 10 }\n")
    diag = out.only("E206")
    assert diag.message == "VLAN 10 of class 'b' is already used by class 'a'"
    assert diag.span is not None and (diag.span.line, diag.span.col) == (2, 30)
    assert [(n, s.line, s.col) for n, s in diag.notes if s] == [("first used here", 1, 11)]


@pytest.mark.parametrize(
    ("vlan", "reason"),
    [
        (1, "is reserved: VLAN 1 is the default VLAN"),
        (1002, "is reserved: 1002-1005 are reserved for FDDI and Token Ring"),
        (1005, "is reserved"),
        (0, "is outside 2-4094"),
        (4095, "is outside 2-4094"),
        (4294967296, "is outside 2-4094"),
    ],
    ids=lambda v: str(v)[:12],
)
def test_reserved_or_out_of_range_vlan_is_e207(zw: Callable, vlan: int, reason: str) -> None:
    out = zw(f"class a {{ vlan {vlan} subnet 10.0.0.0/24 }}\n")
    diag = out.only("E207")
    assert diag.message.startswith(f"VLAN {vlan} of class 'a' {reason}")
    assert diag.span is not None and diag.span.col == 11


@pytest.mark.parametrize("vlan", [2, 1001, 1006, 4094], ids=str)
def test_boundary_vlans_are_fine(zw: Callable, vlan: int) -> None:
    assert "E207" not in zw(f"class a {{ vlan {vlan} subnet 10.0.0.0/24 }}\n").codes


@pytest.mark.parametrize("pool", ["1-10", "4000-4095", "0-0"], ids=str)
def test_vlan_pool_outside_the_range_is_e207(zw: Callable, pool: str) -> None:
    out = zw(f"pool vlans {pool}\nclass a {{ vlan 10 subnet 10.0.0.0/24 }}\n")
    assert out.only("E207").message == f"VLAN pool {pool} reaches outside 2-4094"


@pytest.mark.parametrize(
    ("pools", "classes", "message"),
    [
        (
            "",
            "class a { hosts 10 }",
            (
                "class 'a' gives 'hosts' but the policy has no 'pool subnets' to allocate from; add one "
                "or give 'subnet'"
            ),
        ),
        (
            "pool subnets 10.0.0.0/24",
            "class a { hosts 254 }",
            (
                "class 'a' needs a /23 for 254 hosts and no pool has a free block that large; enlarge "
                "'pool subnets'"
            ),
        ),
        (
            "pool subnets 10.0.0.0/24",
            ("class a { hosts 100 }\nclass b { hosts 100 }\nclass c { hosts 100 }"),
            (
                "class 'c' needs a /25 for 100 hosts and no pool has a free block that large; enlarge "
                "'pool subnets'"
            ),
        ),
        (
            "pool subnets 10.0.0.0/24",
            (
                "class f { vlan 99 subnet 10.0.0.64/26 }\n"
                "class a { hosts 100 }\nclass b { hosts 100 }"
            ),
            (
                "class 'b' needs a /25 for 100 hosts and no pool has a free block that large; enlarge "
                "'pool subnets'"
            ),
        ),
    ],
    ids=["no-pool", "too-big", "pool-exhausted", "fixed-subnet-takes-the-room"],
)
def test_hosts_no_pool_can_fit_is_e208(
    zw: Callable, pools: str, classes: str, message: str
) -> None:
    out = zw(f"{pools}\npool vlans 100-199\n{classes}\n")
    diag = out.only("E208")
    assert diag.message == message
    assert diag.span is not None
    assert out.text.splitlines()[diag.span.line - 1][diag.span.col - 1 :].startswith("hosts")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("vlan 10", "class 'a' needs exactly one of 'subnet' or 'hosts'"),
        (
            "vlan 10 hosts 3 subnet 10.0.0.0/24",
            "class 'a' needs exactly one of 'subnet' or 'hosts' (it has both)",
        ),
    ],
    ids=["neither", "both"],
)
def test_subnet_xor_hosts_is_e212(zw: Callable, body: str, message: str) -> None:
    out = zw(f"pool subnets 10.0.0.0/8\nclass a {{ {body} }}\n")
    assert out.only("E212").message == message


@pytest.mark.parametrize(
    ("pools", "message"),
    [
        (
            "",
            (
                "class 'b' has no 'vlan' and the VLAN pools are not defined; add 'pool vlans N-M' or "
                "give 'vlan N'"
            ),
        ),
        (
            "pool vlans 100",
            (
                "class 'b' has no 'vlan' and the VLAN pools are exhausted; add "
                "'pool vlans N-M' or give 'vlan N'"
            ),
        ),
        (
            "pool vlans 1002-1005",
            (
                "class 'a' has no 'vlan' and the VLAN pools are exhausted; add "
                "'pool vlans N-M' or give 'vlan N'"
            ),
        ),
    ],
    ids=["no-pool", "exhausted", "only-reserved-ids"],
)
def test_no_vlan_for_a_class_is_e217(zw: Callable, pools: str, message: str) -> None:
    out = zw(f"{pools}\nclass a {{ subnet 10.0.0.0/24 }}\nclass b {{ subnet 10.0.1.0/24 }}\n")
    assert message in [d.message for d in out.all("E217")]
