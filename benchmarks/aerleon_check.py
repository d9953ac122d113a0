"""Do Aerleon's Cisco ACL and the zonewall policy permit the same flows?  Checked by evaluators.

    python benchmarks/aerleon_check.py ESTATE.zw AERLEON.acl

The ACE comparison of issue #5 counts lines of two outputs; it only means something if both
permit the same flows.  zonewall's configs are proven equal to the policy by translation
validation on every build.  This script holds Aerleon's Cisco ACL (`aclgen`'s `estate.acl` for
the estate `generate.py` wrote) to the same policy with zonewall's own IOS evaluator
(`zonewall.verify`, which shares no code with either generator):

* the ACL is read fail-closed by `zonewall.verify`'s IOS parser, after dropping aclgen's
  framing (`!` comments, `no ip access-list`, `exit`) and binding it inbound to one interface;
* every endpoint of the compiled policy (each class, each external atom) is probed at the first
  and last address of each of its prefixes, every source probe against every destination probe
  of another endpoint;
* for each pair, the service keys the ACL accepts for a new packet (TCP without ACK, any source
  port) must be exactly the keys of the policy's effective flow between the two endpoints.

Pairs inside one class are left out: zonewall drops them (that traffic is not routed), Aerleon
emits terms for them.  Aerleon's ACL is one filter for the whole estate; zonewall splits the
same flows over the gateways, so the address pairs, not the interfaces, are what is compared.
Exit status 0 when every pair agrees, 1 otherwise (the first disagreements are printed).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from zonewall.packets import ICMP, PORT_SPAN, PacketSet
from zonewall.report import run_check
from zonewall.verify import Cell, Evaluator, parse_config

IFACE = "Vlan1"
VOID = PacketSet.ports(ICMP, 256, PORT_SPAN - 1)  # ICMP "types" above 255 are no packet


@dataclass(frozen=True)
class Result:
    pairs: int  # (source probe, destination probe) pairs compared
    mismatches: list[str]  # the first disagreements, described

    @property
    def identical(self) -> bool:
        return not self.mismatches


def bindable(acl_text: str) -> str:
    """aclgen's Cisco output as the IOS verifier reads it, bound inbound to one interface."""
    kept = [
        line
        for line in acl_text.splitlines()
        if line.strip() and not line.startswith(("!", "no ip access-list", "exit"))
    ]
    names = [line.split()[-1] for line in kept if line.startswith("ip access-list extended ")]
    if len(names) != 1:
        raise ValueError(f"expected one extended ACL in aclgen's output, found {len(names)}")
    return "\n".join([*kept, f"interface {IFACE}", f" ip access-group {names[0]} in", ""])


def check(estate: Path, acl_text: str, limit: int = 10) -> Result:
    report = run_check(str(estate))
    compiled = report.compiled
    if compiled is None:
        raise ValueError(f"{estate} does not compile")
    ev = Evaluator(parse_config("cisco-ios", bindable(acl_text), "aerleon.acl"))
    flows = {(f.src, f.dst): f.packets for f in compiled.flows}
    probes = sorted(
        {
            (e.id, e.name, a)
            for e in compiled.endpoints
            for p in e.prefixes
            for a in (int(p.first), int(p.last))
        }
    )
    empty = PacketSet()
    pairs = 0
    mismatches: list[str] = []
    for sid, sname, s in probes:
        targets = [(did, dname, d) for did, dname, d in probes if did != sid]
        cells = [Cell(IFACE, None, -1 - s, s, -1 - d, d) for _, _, d in targets]
        if ev.source_ports_untested:  # one walk for every destination
            got = ev.accepted_many(cells, (None, 0, False))
        else:
            got = [ev.new_permitted(IFACE, None, s, d) for _, _, d in targets]
        pairs += len(targets)
        for (did, dname, _), cell, keys in zip(targets, cells, got, strict=True):
            want = flows.get((sid, did), empty)
            if keys - VOID != want - VOID and len(mismatches) < limit:
                mismatches.append(
                    f"{sname} -> {dname} ({_addr(cell.src)} -> {_addr(cell.dst)}): Aerleon "
                    f"permits {(keys - VOID).describe() or 'nothing'}, the policy "
                    f"{(want - VOID).describe() or 'nothing'}"
                )
    return Result(pairs, mismatches)


def _addr(a: int) -> str:
    return ".".join(str((a >> shift) & 255) for shift in (24, 16, 8, 0))


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("estate", type=Path, help="the zonewall policy generate.py wrote")
    ap.add_argument("acl", type=Path, help="aclgen's Cisco output for the same estate")
    args = ap.parse_args()
    result = check(args.estate, args.acl.read_text(encoding="utf-8"))
    print(
        f"{result.pairs} address pairs compared: "
        + ("Aerleon's ACL permits exactly the policy's flows" if result.identical else "DIFFERENT")
    )
    for line in result.mismatches:
        print("  " + line)
    return 0 if result.identical else 1


if __name__ == "__main__":
    sys.exit(main())
