"""`zonewall lab` output: the pass/fail matrix of the probes and every failing probe.

Pure function of a `zonewall.lab.LabReport`; the CLI prints it.
"""

from __future__ import annotations

from zonewall.lab import LabReport
from zonewall.text import terminal_text

__all__ = ["render_lab"]


def render_lab(report: LabReport) -> str:
    """The pass/fail matrix (rows: source, columns: destination) and every failing probe.

    A cell is '+' when the pair has permitted flows and every probe matched the policy, '.'
    when nothing is permitted and nothing got through, 'X' when any probe disagreed.
    """
    names = sorted({p.src for p in report.probes} | {p.dst for p in report.probes})
    index = {n: i for i, n in enumerate(names)}
    cells: dict[tuple[str, str], str] = {}
    for p in report.probes:
        key = (p.src, p.dst)
        if not p.ok:
            cells[key] = "X"
        elif cells.get(key) != "X" and p.expected:
            cells[key] = "+"
        else:
            cells.setdefault(key, ".")
    width = len(str(len(names)))
    lines = [f"{'':>{width}}  " + " ".join(f"{i:>{width}}" for i in range(len(names)))]
    for n in names:
        row = " ".join(f"{cells.get((n, m), ' '):>{width}}" for m in names)
        lines.append(f"{index[n]:>{width}}  {row}  {n}")
    lines.append(
        "'+' permitted flows got through, '.' nothing permitted and nothing got "
        "through, 'X' a probe disagreed with the policy"
    )
    for p in report.failures:
        verdict = "got through" if p.observed else "was blocked"
        want = "permits" if p.expected else "does not permit"
        lines.append(
            f"FAIL  {p.src} ({p.src_addr}) -> {p.dst} ({p.dst_addr}) {p.service()}: "
            f"{verdict}, but the policy {want} it"
        )
    lines.extend(f"note: {n}" for n in report.notes)
    good = len(report.probes) - len(report.failures)
    six = [p for p in report.probes if p.ipv6]
    leaked = sum(1 for p in six if p.observed)
    lines.append(
        f"lab: {good} of {len(report.probes)} probes match the policy "
        f"({sum(p.expected for p in report.probes)} permitted, "
        f"{sum(not p.expected for p in report.probes)} expected blocked, of which "
        f"{len(six)} IPv6: {leaked} got through)"
    )
    return "".join(terminal_text(line) + "\n" for line in lines)  # notes quote the policy
