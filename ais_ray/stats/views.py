"""The tables of `ais-ray show performance` (AIStore `ais performance`), from node_status samples.

Pure: `{tid: node_status}` in, `(headers, rows)` out. First column TARGET, then one column per
metric that is non-zero on some target (errors last), a `STATUS` column when some target is
not online, and a total row. `counters` shows the cumulative values; `throughput` and
`latency` the change between two samples `secs` apart; `capacity` one row per mountpath;
`disk` one row per disk.
"""

from __future__ import annotations

from typing import Any

from ais_ray.core.durations import format_duration
from ais_ray.core.sizes import format_size
from ais_ray.stats.counters import COUNTERS

VIEWS = ("counters", "throughput", "latency", "capacity", "disk")
_NAMES = {"del": "DELETE", "lst": "LIST", "getblob": "GET-BLOB", "dl": "DOWNLOAD"}

Statuses = dict[str, dict[str, Any]]
Table = tuple[list[str], list[list[str]]]


def _ops() -> list[str]:
    """Every declared op, errors last (the order of the columns)."""
    return [op for op in COUNTERS if not op.startswith("err.")] + [op for op in COUNTERS if op.startswith("err.")]


def col_name(op: str) -> str:
    err = op.startswith("err.")
    base = op[4:] if err else op
    name = _NAMES.get(base, base.upper().replace(".", "-"))
    return ("ERR-" + name) if err else name


def values(status: dict[str, Any]) -> dict[str, int]:
    """A node_status tracker as `{name: int}`."""
    out = {}
    for k, v in (status.get("tracker") or {}).items():
        try:
            out[k] = int(v["v"] if isinstance(v, dict) else v)
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _with_status(statuses: Statuses, headers: list[str], rows: list[list[str]]) -> Table:
    if any(s.get("status", "online") != "online" for s in statuses.values()):
        headers = [*headers, "STATUS"]
        for row, tid in zip(rows, sorted(statuses)):
            row.append(str(statuses[tid].get("status", "")))
    return headers, rows


def _table(statuses: Statuses, cols: list[tuple[str, Any]], per: dict[str, dict[str, float]], total: bool = True) -> Table:
    """`cols`: (header, formatter) for metric keys; keep those non-zero on some target."""
    keep = [(h, fmt) for h, fmt in cols if any(per[t].get(h) for t in per)]
    tids = sorted(statuses)
    rows = [[tid, *(fmt(per[tid].get(h, 0)) for h, fmt in keep)] for tid in tids]
    headers, rows = _with_status(statuses, ["TARGET", *(h for h, _ in keep)], rows)
    if total and len(tids) > 1 and keep:
        rows.append(["TOTAL", *(fmt(sum(per[t].get(h, 0) for t in tids)) for h, fmt in keep)]
                    + ([""] if "STATUS" in headers else []))
    return headers, rows


def _size(v: float) -> str:
    return format_size(int(v))


def counters_table(statuses: Statuses) -> Table:
    cols, per = [], {}
    for op in _ops():
        cols += [(f"{col_name(op)}(n)", str), (f"{col_name(op)}(size)", _size)]
    for tid, st in statuses.items():
        v = values(st)
        per[tid] = {}
        for op in _ops():
            per[tid][f"{col_name(op)}(n)"] = v.get(op + ".n", 0)
            per[tid][f"{col_name(op)}(size)"] = v.get(op + ".size", 0)
    return _table(statuses, cols, per)


def throughput_table(prev: Statuses, cur: Statuses, secs: float) -> Table:
    """Events and bytes/s between two samples."""
    cols, per = [], {}
    for op in _ops():
        cols += [(f"{col_name(op)}(n)", lambda x: str(int(x))), (f"{col_name(op)}(bw)", lambda x: format_size(int(x)) + "/s")]
    for tid in cur:
        a, b = values(prev.get(tid, {})), values(cur[tid])
        per[tid] = {}
        for op in _ops():
            per[tid][f"{col_name(op)}(n)"] = max(0, b.get(op + ".n", 0) - a.get(op + ".n", 0))
            per[tid][f"{col_name(op)}(bw)"] = max(0, b.get(op + ".size", 0) - a.get(op + ".size", 0)) / max(secs, 1e-9)
    return _table(cur, cols, per)


def latency_table(prev: Statuses, cur: Statuses) -> Table:
    """Average latency of the events between two samples (`x.ns.total` / `x.n`)."""
    cols, per = [], {}
    lat_ops = [op for op in _ops() if not op.startswith("err.")]
    for op in lat_ops:
        cols.append((f"{col_name(op)}(t)", lambda ns: format_duration(round(ns) / 1e9)))
    for tid in cur:
        a, b = values(prev.get(tid, {})), values(cur[tid])
        per[tid] = {}
        for op in lat_ops:
            n = b.get(op + ".n", 0) - a.get(op + ".n", 0)
            ns = b.get(op + ".ns.total", 0) - a.get(op + ".ns.total", 0)
            per[tid][f"{col_name(op)}(t)"] = ns / n if n > 0 and ns > 0 else 0
    return _table(cur, cols, per, total=False)


def capacity_table(statuses: Statuses) -> Table:
    rows = []
    for tid in sorted(statuses):
        mps = (statuses[tid].get("capacity") or {}).get("mountpaths") or {}
        for path, m in sorted(mps.items()):
            used, avail = int(m.get("used", 0)), int(m.get("avail", 0))
            rows.append([tid, path, ",".join(m.get("disks") or []) or "-", format_size(used), format_size(avail),
                         f"{m.get('pct_used', 0)}%"])
    return ["TARGET", "MOUNTPATH", "DISK", "USED", "AVAIL", "USED(%)"], rows


def disk_table(statuses: Statuses) -> Table:
    rows = []
    for tid in sorted(statuses):
        v = values(statuses[tid])
        for dev in sorted({k.split(".")[1] for k in v if k.startswith("disk.")}):
            d = {k[len(f"disk.{dev}."):]: x for k, x in v.items() if k.startswith(f"disk.{dev}.")}
            rows.append([tid, dev, format_size(d.get("read.bps", 0)) + "/s", format_size(d.get("write.bps", 0)) + "/s",
                         format_size(d.get("avg.rsize", 0)), format_size(d.get("avg.wsize", 0)), f"{d.get('util', 0)}%"])
    return ["TARGET", "DISK", "READ", "WRITE", "AVG RSIZE", "AVG WSIZE", "UTIL(%)"], rows
