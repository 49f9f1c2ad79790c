"""The tables and goal lines of `bench_blob.py`.

Goal (issue 5): each blob-download job within 10 % of workers × per-connection rate, that
product capped at the machine's own limit, and faster than every peer at its default settings.
The limit is measured in the same run: the fastest row of any tool on the same source, unpaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blobpeers import MIB
from common import markdown_table

if TYPE_CHECKING:
    from bench_blob import Cell, Row

GOAL_RATIO = 0.9


def mib_s(row: Row) -> float:
    return row.median.mib_s if row.median else 0.0


def limits(cells: list[Cell]) -> dict[str, tuple[float, str]]:
    """source -> (fastest unpaced MiB/s of any row, that row's label)."""
    out: dict[str, tuple[float, str]] = {}
    for c in cells:
        if not c.link.rate and not c.link.delay:
            best = max(c.rows, key=mib_s, default=None)
            if best is not None and mib_s(best):
                out[c.source] = (mib_s(best), best.spec.label)
    return out


def model(row: Row, cell: Cell) -> float:
    """streams × per-connection rate, MiB/s (0: unpaced or unknown)."""
    return row.spec.streams * cell.link.rate / MIB if cell.link.rate and row.spec.streams else 0.0


def best_peer(cell: Cell, *, defaults_only: bool = False) -> Row | None:
    peers = [r for r in cell.rows if r.spec.kind == "peer" and mib_s(r) and (r.spec.default or not defaults_only)]
    return max(peers, key=mib_s, default=None)


def render_cell(cell: Cell, scale: float) -> str:
    """`scale`: big / small object size, for the wall time of rows measured on the small one (†)."""
    top = best_peer(cell)
    rows = []
    for r in cell.rows:
        m = r.median
        runs = ", ".join(f"{x.mib_s:,.0f}" if x.ok else "✗" for x in r.runs)
        if m is None:
            note = next((x.note for x in r.runs if x.note), "no run")
            rows.append([r.spec.label, r.spec.streams or "—", "—", "—", "—", "—", "—", note[:100]])
            continue
        exp = model(r, cell)
        rss = f"{m.rss / MIB:,.0f}" + (f" (+{m.growth / MIB:,.0f})" if r.spec.kind != "peer" else "")
        wall = f"{m.seconds * scale:.1f}†" if r.spec.small and scale != 1 else f"{m.seconds:.2f}"
        rows.append([r.spec.label, r.spec.streams or "—", f"{m.mib_s:,.1f}", wall,
                     f"{m.mib_s / exp:.2f}×" if exp else "—", f"{m.mib_s / mib_s(top):.2f}×" if top else "—",
                     rss, runs])
    head = ["tool", "streams", "MiB/s", "wall s", "× streams × rate", "× best peer", "peak RSS MiB", "runs, MiB/s"]
    loads = [x.load1 for r in cell.rows for x in r.runs if x.load1]
    load = f"1-min load average during the cell: {min(loads):.1f}–{max(loads):.1f}." if loads else ""
    return f"#### {cell.title}\n\n{markdown_table(head, rows)}\n\n{load}\n"


def goal_lines(cell: Cell, limit: tuple[float, str] | None) -> str:
    jobs = [r for r in cell.rows if r.spec.kind == "job" and "default chunk" not in r.spec.label]
    blob = [r for r in cell.rows if r.spec.kind in ("job", "hdr") and mib_s(r)]
    parts, met = [], bool(jobs)
    for r in jobs:
        target = model(r, cell)
        capped = limit is not None and limit[0] < target
        if capped:
            target = limit[0]  # type: ignore[index]
        ratio = mib_s(r) / target if target else 0.0
        met = met and ratio >= GOAL_RATIO
        parts.append(f"{r.spec.streams} workers {mib_s(r):,.0f} of {target:,.0f}{' (limit)' if capped else ''} "
                     f"= {ratio:.2f}")
    lim = f"machine limit {limit[0]:,.0f} MiB/s ({limit[1]}, unpaced)" if limit else "machine limit not measured"
    out = [f"Goal 1, each job ≥ {GOAL_RATIO:.0%} of min(workers × rate, {lim}): **{'met' if met else 'NOT met'}** — "
           + "; ".join(parts) + "."]
    top_blob = max(blob, key=mib_s, default=None)
    dflt, tuned = best_peer(cell, defaults_only=True), best_peer(cell)
    if top_blob is None or dflt is None:
        out.append("Goal 2, faster than every peer at its defaults: not measured (a row is missing).")
    else:
        ok = mib_s(top_blob) > mib_s(dflt)
        extra = ""
        if tuned is not None and tuned is not dflt:
            extra = (f" Against the tuned {tuned.spec.label} ({mib_s(tuned):,.0f}): "
                     f"{mib_s(top_blob) / mib_s(tuned):.2f}×.")
        out.append(f"Goal 2, faster than every peer at its defaults: **{'met' if ok else 'NOT met'}** — "
                   f"best ais-ray row {top_blob.spec.label} {mib_s(top_blob):,.0f} MiB/s vs the best default peer "
                   f"{dflt.spec.label} {mib_s(dflt):,.0f} ({mib_s(top_blob) / mib_s(dflt):.2f}×).{extra}")
    return "\n\n".join(out) + "\n"


def render(cells: list[Cell], size: int, small: int, idle: dict[str, int]) -> str:
    lims = limits(cells)
    out = []
    for cell in cells:
        out.append(render_cell(cell, size / small))
        if cell.link.rate:
            out.append(goal_lines(cell, lims.get(cell.source)))
    if any(r.spec.small for c in cells for r in c.rows) and size != small:
        out.append(f"†: one paced stream, measured on a {small // MIB} MiB object (the rate is exact, so its MiB/s is the "
                   f"{size // MIB:,} MiB object's); the wall time shown is scaled to {size // MIB:,} MiB.\n")
    if idle:
        out.append(f"Object: {size // MIB:,} MiB. Peak RSS of an ais-ray row is the owning mountpath process's (growth "
                   f"during the row in parentheses); the 2 targets + 4 mountpaths held {sum(idle.values()) / MIB:,.0f} "
                   f"MiB together when idle.\n")
    return "\n".join(out)
