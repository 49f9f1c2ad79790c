"""The `show job` table, as AIStore's CLI prints it (`cmd/cli/teb/templates.go`).

`NODE  ID  KIND  BUCKET  OBJECTS  BYTES  START  END  STATE`, one row per target's snapshot;
bucket-less jobs (no snapshot with a bucket) drop the BUCKET column; a `Total:` row when more
than one job is listed. STATE is one of AIStore's strings: `Aborted by user`, `Aborted: "<err>"`,
`Finished`, `Finished with errors: "<err>"`, `Idle`, `Running` (`Running with errors: "<err>"`).
"""

from __future__ import annotations

from typing import Any

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


def _bucket(s: dict[str, Any]) -> str:
    b = s.get("bck") or {}
    return f"{b.get('provider', '')}://{b.get('name', '')}" if b.get("name") else "-"


def job_table(parts: dict[str, list[dict[str, Any]] | None]) -> tuple[list[str], list[list[str]]]:
    snaps = [(tid, s) for tid, ss in sorted(parts.items()) for s in ss or []]
    with_bck = any(_bucket(s) != "-" for _, s in snaps)
    headers = ["NODE", "ID", "KIND", *(["BUCKET"] if with_bck else []), "OBJECTS", "BYTES", "START", "END", "STATE"]
    rows, objs, size = [], 0, 0
    for tid, s in snaps:
        st = s.get("stats") or {}
        n, b = int(st.get("loc-objs", 0)), int(st.get("loc-bytes", 0))
        objs, size = objs + n, size + b
        rows.append([tid, s["id"], s["kind"], *([_bucket(s)] if with_bck else []), str(n), format_size(b),
                     _when(s.get("start-time", "")), _when(s.get("end-time", "")), state_of(s)])
    if len({s["id"] for _, s in snaps}) > 1:  # one job's rows are read (and summed) by scripts as they are
        pad = 1 if with_bck else 0
        rows.append(["Total:", "", "", *([""] * pad), str(objs), format_size(size), "", "", ""])
    return headers, rows
