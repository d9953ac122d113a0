"""Golden texts of the verifier's findings: what a reviewer reads for a hand-edited config.

Each case edits one generated config the way a person or another tool might (a nested address
list, a source-port range from 0, a protocol or ICMP name, a removed or widened rule), then
writes every `Difference.describe()` line and the `summarize()` lines to
`messages/<case>.txt`.  A change to how findings are worded, which packets they name, the
example packet or the deciding lines shows up as a diff here; `pytest --update-golden`
rewrites the files (review the diff).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from verify_helpers import ROOT, check, edit, output

from zonewall.verify import summarize

GOLDEN = Path(__file__).resolve().parent / "messages"
DBA = ROOT / "examples" / "deny-beats-allow.zw"
MULTI = ROOT / "examples" / "multi-gateway.zw"
PACS = "-A zw-p-ct_mr-pacs -p tcp -m tcp --dport 2762 "

# (case, policy, gateway, text to find, what to put before it, replacement of it)
CASES = [
    (
        "iptables-nested-list",
        DBA,
        "fw",
        PACS,
        "-A zw-p-ct_mr-pacs -d 10.40.0.33/32,10.40.0.64/27,10.40.0.72/29 -p tcp -j ACCEPT\n",
        None,
    ),
    (
        "iptables-sport-from-0",
        DBA,
        "fw",
        PACS,
        "-A zw-p-ct_mr-pacs -p tcp --sport 0:1023 -j DROP\n-A zw-p-ct_mr-pacs -p tcp -j ACCEPT\n",
        None,
    ),
    (
        "iptables-multiport-sports",
        DBA,
        "fw",
        PACS,
        "-A zw-p-ct_mr-pacs -p tcp -m multiport --sports 1:1023,60000:65535 -j ACCEPT\n",
        None,
    ),
    (
        "iptables-icmp-name",
        DBA,
        "fw",
        PACS,
        "-A zw-p-ct_mr-pacs -p icmp -m icmp --icmp-type source-quench -j ACCEPT\n",
        None,
    ),
    ("iptables-protocol-name", DBA, "fw", PACS, "-A zw-p-ct_mr-pacs -p ddp -j ACCEPT\n", None),
    ("iptables-rule-narrowed", DBA, "fw", PACS, "", PACS.replace("2762", "2763")),
    (
        "nft-port-widened",
        MULTI,
        "dc_fw",
        "tcp dport 2762 ct state new",
        "",
        "tcp dport 2762-2770 ct state new",
    ),
    (
        "nft-named-protocol-set",
        MULTI,
        "dc_fw",
        "        tcp dport 2762 ct state new",
        "        meta l4proto { encap, idrp } accept\n",
        None,
    ),
]


def findings(policy: Path, gateway: str, find: str, before: str, instead: str | None) -> str:
    text = output(policy, gateway).text
    text = edit(text, find, before + (find if instead is None else instead))
    diffs = check(policy, gateway, text)
    lines = [d.describe() for d in diffs] + ["--- summary"] + summarize(diffs)
    return "\n".join(lines).replace(str(ROOT), "<root>") + "\n"


@pytest.mark.parametrize(
    ("case", "policy", "gateway", "find", "before", "instead"), CASES, ids=[c[0] for c in CASES]
)
def test_finding_texts(
    request: pytest.FixtureRequest,
    case: str,
    policy: Path,
    gateway: str,
    find: str,
    before: str,
    instead: str | None,
) -> None:
    got = findings(policy, gateway, find, before, instead)
    golden = GOLDEN / f"{case}.txt"
    if request.config.getoption("--update-golden"):
        golden.write_text(got, encoding="utf-8")
        return
    if not golden.exists():
        pytest.fail(f"{golden.name} is missing; run pytest --update-golden")
    want = golden.read_text(encoding="utf-8")
    assert got == want, "".join(
        difflib.unified_diff(want.splitlines(True), got.splitlines(True), "expected", "got")
    )
