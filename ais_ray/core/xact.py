"""Xactions ("jobs" to users): per-target snapshots and the cluster-wide status made of them.

Wire shapes follow Go `core/xaction_wire.go` (Snap) and `nl/listener.go` (Status), as the
SDK's `Job.status()`, `get_details()` and `wait()` read them (shared/ref/ais-wire.md §1.6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ais_ray.core.names import Bucket

ZERO_TIME = "0001-01-01T00:00:00Z"
# kinds whose wait is "every target idle" rather than "ended" (SDK `IDLE_KINDS`)
IDLE_KINDS = frozenset({"download", "copy-listrange", "etl-listrange", "put-copies", "archive", "list", "get-batch"})


@dataclass
class XactStats:
    objs: int = 0  # objects done
    bytes: int = 0
    in_objs: int = 0  # read from a remote
    in_bytes: int = 0
    errors: int = 0


@dataclass
class XactSnap:
    """One target's view of one xaction."""

    id: str
    kind: str
    bck: Bucket | None = None
    start: float = 0.0
    end: float = 0.0  # 0: running
    aborted: bool = False
    err: str = ""
    workers: int = 0
    stats: XactStats = field(default_factory=XactStats)

    @property
    def running(self) -> bool:
        return not self.end

    def to_wire(self) -> dict[str, Any]:
        s = self.stats
        out: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "start-time": _rfc3339(self.start),
            "end-time": _rfc3339(self.end) if self.end else ZERO_TIME,
            "stats": {"loc-objs": str(s.objs), "loc-bytes": str(s.bytes), "out-objs": "0", "out-bytes": "0",
                      "in-objs": str(s.in_objs), "in-bytes": str(s.in_bytes)},
            "aborted": self.aborted, "is_idle": not self.running, "abort-err": self.err if self.aborted else "",
            "err": self.err, "glob.id": str(self.workers << 10),
        }
        if self.bck is not None:
            out["bck"] = {"name": self.bck.name, "provider": self.bck.provider.value,
                          "namespace": {"uuid": self.bck.ns.uuid, "name": self.bck.ns.name}}
        return out


def _rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def status(xid: str, kind: str, snaps: Sequence[XactSnap]) -> dict[str, Any]:
    """Go `nl.Status`: ended when every target's part ended; `end_time` in unix ns (0: running)."""
    ended = bool(snaps) and all(not s.running for s in snaps)
    errs = [s.err for s in snaps if s.err]
    return {"uuid": xid, "kind": kind or (snaps[0].kind if snaps else ""), "err": errs[0] if errs else "",
            "end_time": int(max(s.end for s in snaps) * 1e9) if ended else 0,
            "aborted": any(s.aborted for s in snaps), "is_idle": ended}


def matches(snap: XactSnap, *, xid: str = "", kind: str = "", bck: Bucket | None = None, only_running: bool = False) -> bool:
    return ((not xid or snap.id == xid) and (not kind or snap.kind == kind) and (bck is None or snap.bck == bck)
            and (not only_running or snap.running))
