"""The `show job` table, as AIStore's CLI prints it (`cmd/cli/teb/templates.go`).

`NODE  ID  KIND  BUCKET  OBJECTS  BYTES  START  END  STATE`, one row per target's snapshot;
copy jobs show `SRC BUCKET  DST BUCKET` instead of BUCKET; bucket-less jobs (no snapshot with a bucket) drop the BUCKET column; a `Total:` row when more
than one job is listed. STATE is one of AIStore's strings: `Aborted by user`, `Aborted: "<err>"`,
`Finished`, `Finished with errors: "<err>"`, `Idle`, `Running` (`Running with errors: "<err>"`).
"""

from __future__ import annotations

from typing import Any

from ais_ray.core.names import Bucket, Namespace, Provider
from ais_ray.core.sizes import format_size

USER_ABORT = "aborted"  # the err a user's `stop` leaves (actors/target_xact.py)


def state_of(s: dict[str, Any]) -> str:
    err = s.get("err") or ""
    if s.get("aborted"):
        return "Aborted by user" if err in ("", USER_ABORT) else f'Aborted: "{err}"'
    if s.get("end-time") and not s["end-time"].startswith("0001"):
        return f'Finished with errors: "{err}"' if err else "Finished"
    if s.get("is_idle"):
        return "Idle"
    return f'Running with errors: "{err}"' if err else "Running"


def _when(ts: str) -> str:
    return "-" if not ts or ts.startswith("0001") else ts[11:19]


def _bck(b: dict[str, Any] | None) -> str:
    """A snapshot's bucket as the CLI writes buckets (`s3://b`, `ais://@uuid#ns/b`)."""
    if not b or not b.get("name"):
        return "-"
    ns = b.get("namespace") or {}
    return str(Bucket(b["name"], Provider.parse(b.get("provider", "ais")), Namespace(ns.get("uuid", ""), ns.get("name", ""))))


def _buckets(s: dict[str, Any], copies: bool) -> list[str]:
    if copies:  # copy/transform jobs: SRC BUCKET, DST BUCKET
        return [_bck(s.get("src-bck")), _bck(s.get("dst-bck") or s.get("bck"))]
    return [_bck(s.get("bck"))]


def job_table(parts: dict[str, list[dict[str, Any]] | None]) -> tuple[list[str], list[list[str]]]:
    snaps = [(tid, s) for tid, ss in sorted(parts.items()) for s in ss or []]
    copies = any("src-bck" in s for _, s in snaps)
    bck_cols = ["SRC BUCKET", "DST BUCKET"] if copies else (["BUCKET"] if any(s.get("bck") for _, s in snaps) else [])
    headers = ["NODE", "ID", "KIND", *bck_cols, "OBJECTS", "BYTES", "START", "END", "STATE"]
    rows, objs, size = [], 0, 0
    for tid, s in snaps:
        st = s.get("stats") or {}
        n, b = int(st.get("loc-objs", 0)), int(st.get("loc-bytes", 0))
        objs, size = objs + n, size + b
        rows.append([tid, s["id"], s["kind"], *(_buckets(s, copies) if bck_cols else []), str(n), format_size(b),
                     _when(s.get("start-time", "")), _when(s.get("end-time", "")), state_of(s)])
    if len({s["id"] for _, s in snaps}) > 1:  # one job's rows are read (and summed) by scripts as they are
        rows.append(["Total:", "", "", *([""] * len(bck_cols)), str(objs), format_size(size), "", "", ""])
    return headers, rows
