"""`zonewall matrix`: the zone-by-zone table of permitted services (a conduit inventory).

Rows are sources, columns destinations: classes by name, then external zones (see
`zonewall.present.conduits`).  A cell lists the services the source may initiate to the
destination; below the table every conduit is listed with the allow statements that open it,
their file:line and their ``why`` text, which is what an IEC 62443-3-2 review (ZCR 3 and 6)
asks for.

Formats: ``text`` (a grid when it fits in ``width`` columns, then the conduit list; a grid too
wide to read is left out and only the list is printed), ``csv`` (one row per conduit, for
spreadsheets), ``markdown`` and ``html`` (zones, grid and conduits).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from zonewall._version import __version__
from zonewall.present.conduits import Conduit, Conduits, Zone
from zonewall.present.graph_render import CRITICALITY_COLOURS, EXTERNAL_COLOUR
from zonewall.present.jinja import render_template
from zonewall.text import csv_cell, terminal_text

__all__ = ["MATRIX_FORMATS", "MatrixGrid", "grid", "matrix_context", "render_matrix"]

MATRIX_FORMATS = ("text", "csv", "markdown", "html")
SAME_ZONE = "-"  # a class to itself: intra-class traffic is not routed, never a flow


@dataclass(frozen=True, slots=True)
class MatrixGrid:
    """The table as strings: ``cells[i][j]`` is what zone i may initiate to zone j."""

    zones: tuple[Zone, ...]
    cells: tuple[tuple[str, ...], ...]


def grid(c: Conduits) -> MatrixGrid:
    index = {z.key: i for i, z in enumerate(c.zones)}
    rows = [["" for _ in c.zones] for _ in c.zones]
    for i in range(len(c.zones)):
        rows[i][i] = SAME_ZONE
    for conduit in c.conduits:
        rows[index[conduit.src]][index[conduit.dst]] = conduit.label
    return MatrixGrid(c.zones, tuple(tuple(r) for r in rows))


def zone_title(z: Zone) -> str:
    if z.kind == "class":
        return f"{z.key} (class, {z.criticality})"
    return f"{z.key} (external: {', '.join(z.prefixes)}, {z.description})"


def _text_grid(g: MatrixGrid, width: int) -> list[str] | None:
    """The grid as aligned text, or None when it is wider than ``width``."""
    head = ["source \\ destination", *(z.key for z in g.zones)]
    rows = [head] + [[z.key, *(cell or "." for cell in g.cells[i])] for i, z in enumerate(g.zones)]
    widths = [max(len(r[col]) for r in rows) for col in range(len(head))]
    if sum(widths) + 2 * (len(widths) - 1) > width:
        return None
    return [
        ("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))).rstrip() for r in rows
    ]


def _compact_grid(g: MatrixGrid, width: int) -> list[str] | None:
    """The grid with numbered columns and a short code per distinct cell (its services, in
    a legend below), for when the full grid is too wide; None when even that does not fit in
    ``width``."""
    labels = sorted({cell for row in g.cells for cell in row if cell and cell != SAME_ZONE})
    codes = {label: _letters(i) for i, label in enumerate(labels)}
    head = ["", *(str(i + 1) for i in range(len(g.zones)))]
    rows = [head]
    for i, z in enumerate(g.zones):
        cells = [
            SAME_ZONE if cell == SAME_ZONE else codes[cell] if cell else "." for cell in g.cells[i]
        ]
        rows.append([f"{i + 1} {z.key}", *cells])
    widths = [max(len(r[col]) for r in rows) for col in range(len(head))]
    if sum(widths) + (len(widths) - 1) > width:
        return None
    lines = [
        (
            " ".join(
                cell.rjust(w) if col else cell.ljust(w)
                for col, (cell, w) in enumerate(zip(r, widths, strict=True))
            )
        ).rstrip()
        for r in rows
    ]
    lines.append("")
    lines += _wrapped("columns:", [f"{i + 1} {z.key}" for i, z in enumerate(g.zones)], ",", width)
    lines += _wrapped("cells:", [f"{code} = {label}" for label, code in codes.items()], ";", width)
    return lines


def _wrapped(head: str, items: list[str], sep: str, width: int) -> list[str]:
    """`head item, item, ...` in lines of at most `width` (an item is never split)."""
    lines, line = [], head
    for n, item in enumerate(items):
        piece = item + (sep if n < len(items) - 1 else "")
        if len(line) + 1 + len(piece) > width and line.strip():
            lines.append(line)
            line = "  " + piece
        else:
            line += " " + piece
    lines.append(line)
    return lines


def _letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a short code per cell."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def _text_conduit(c: Conduit, zones: dict[str, Zone]) -> list[str]:
    mark = "  [plaintext]" if c.plaintext else ""
    lines = [f"  {c.src} -> {c.dst}: {c.label}{mark}"]
    for s in c.statements:
        why = f'  "{s.why}"' if s.why else "  (no why)"
        lines.append(f"      {s.where}  {s.action} {', '.join(s.services)}{why}")
    return lines


def render_text(c: Conduits, width: int = 120, source: str = "") -> str:
    g = grid(c)
    zones = {z.key: z for z in c.zones}
    title = c.title or source or "policy"
    lines = [f"Permitted services, source (row) -> destination (column): {title}", ""]
    table = _text_grid(g, width)
    compact = _compact_grid(g, width) if table is None else None
    if table is not None:
        lines += table + ["", "'.' no flow, '-' same class (not routed)", ""]
    elif compact is not None:
        lines += compact + [
            "'.' no flow, '-' same class (not routed); the full grid is wider "
            f"than {width} columns",
            "",
        ]
    else:
        lines += [
            f"(the {len(c.zones)} x {len(c.zones)} grid is wider than {width} columns, "
            "even with numbered columns: conduits are listed per pair; --format html or "
            "markdown shows the grid)",
            "",
        ]
    lines.append(f"Conduits ({len(c.conduits)}), with the allow statements that open them:")
    current = None
    for conduit in c.conduits:
        if conduit.src != current:
            current = conduit.src
            lines.append(zone_title(zones[current]))
        lines += _text_conduit(conduit, zones)
    if not c.conduits:
        lines.append("  (none: nothing is permitted)")
    # the title, descriptions, `why` texts and file names are the user's: each line is shown
    # with its control characters escaped (no legitimate line of the matrix has one)
    return "".join(terminal_text(line) + "\n" for line in lines)


CSV_HEADER = (
    "source",
    "source_kind",
    "source_criticality",
    "destination",
    "destination_kind",
    "destination_criticality",
    "services",
    "packets",
    "plaintext",
    "statements",
    "why",
)


def render_csv(c: Conduits) -> str:
    zones = {z.key: z for z in c.zones}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for conduit in c.conduits:
        s, d = zones[conduit.src], zones[conduit.dst]
        # every cell through csv_cell: a `why` or an included file's name is free text (one
        # line; never a spreadsheet formula, OWASP's rule, as in vlan-plan.csv)
        writer.writerow(
            tuple(
                map(
                    csv_cell,
                    (
                        s.key,
                        s.kind,
                        s.criticality or "",
                        d.key,
                        d.kind,
                        d.criticality or "",
                        conduit.label,
                        conduit.packets.describe(),
                        "yes" if conduit.plaintext else "no",
                        "; ".join(f"{st.action} {st.where}" for st in conduit.statements),
                        " | ".join(f"{st.where}: {st.why}" for st in conduit.statements if st.why),
                    ),
                )
            )
        )
    return out.getvalue()


def matrix_context(c: Conduits, source: str) -> dict[str, Any]:
    """What the HTML templates of the matrix need: its own page (`matrix --format html`) and
    the matrix section of the HTML report (`html_report`)."""
    lookup: dict[tuple[str, str], Conduit] = {(x.src, x.dst): x for x in c.conduits}
    return {
        "c": c,
        "grid": grid(c),
        "lookup": lookup,
        "source": source,
        "version": __version__,
        "colours": CRITICALITY_COLOURS,
        "external_colour": EXTERNAL_COLOUR,
    }


def render_matrix(c: Conduits, fmt: str, width: int = 120, source: str = "") -> str:
    """The matrix in one of `MATRIX_FORMATS`.

    Args:
        c: the zones and conduits.
        fmt: text, csv, markdown or html.
        width: the widest text grid printed; wider grids are left out of ``text``.
        source: the policy file, named in markdown and html headers.

    Returns:
        The rendered document.
    """
    if fmt == "text":
        return render_text(c, width, source)
    if fmt == "csv":
        return render_csv(c)
    if fmt == "markdown":
        return render_template("matrix.md.j2", {"c": c, "grid": grid(c), "source": source})
    if fmt == "html":
        return render_template("matrix-page.html.j2", matrix_context(c, source))
    raise ValueError(f"unknown matrix format {fmt!r}")
