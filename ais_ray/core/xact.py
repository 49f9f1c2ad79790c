"""Xactions ("jobs" to users): the kind table, per-target snapshots, the cluster-wide status.

The kind table (Go `xact/api_table.go`) says, per kind: its scope (one node or the cluster), how
the SDK waits for it (`Job.wait`: every snap idle, one node's snap ended, or `what=status`), and
how it lives with a rebalance (refuses to start while one runs; is aborted when one starts).
A new job kind is one module in `jobs/` plus one row here.

Wire shapes follow Go `core/xaction_wire.go` (Snap) and `nl/listener.go` (Status), as the
SDK's `Job.status()`, `get_details()` and `wait()` read them (shared/ref/ais-wire.md §1.6).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ais_ray.core.errors import AisError, ErrBadRequest
from ais_ray.core.names import Bucket

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"


class Scope(enum.Enum):
    NODE = "node"  # runs on one target (blob-download of one object, resilver of one node's disks)
    CLUSTER = "cluster"  # every target runs its share


class Wait(enum.Enum):
    """How the SDK's `Job.wait` decides a job is done (ais-wire.md §1.6 "Wait logic")."""

    IDLE = "idle"  # every target's snap `is_idle` on two polls (SDK `IDLE_KINDS`)
    SINGLE_NODE = "single-node"  # any snap ended or aborted (`wait_single_node`)
    STATUS = "status"  # `what=status` until `end_time != 0`


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    scope: Scope = Scope.CLUSTER
    wait: Wait = Wait.STATUS
    conflict_reb: bool = False  # refuses to start while a rebalance/resilver runs (Go ConflictRebRes)
    abort_by_reb: bool = False  # aborted when a rebalance starts (Go AbortByReb)
    # ais-ray keeps it going across a rebalance (issue 11 part 6): every share places each name by
    # the target's current Smap, a target that joins gets its share (`actors/proxy_nodes.py`), and
    # every share walks once more when the rebalance has ended (`TargetXacts.follow`)
    follows_smap: bool = False
    display: str = ""  # the CLI's name when it differs

    @property
    def rebalancing(self) -> bool:
        return self.name in REB_KINDS


REB_KINDS = frozenset({"rebalance", "resilver"})
_CP = {"conflict_reb": True, "abort_by_reb": True}
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("download", wait=Wait.IDLE, abort_by_reb=True, follows_smap=True),
    Kind("blob-download", Scope.NODE, Wait.SINGLE_NODE, abort_by_reb=True, follows_smap=True),
    Kind("prefetch-listrange", display="prefetch", follows_smap=True),
    Kind("evict-listrange", display="evict"),
    Kind("delete-listrange", display="delete"),
    Kind("evict-remote-bck"),
    Kind("summary-bck", display="summary"),
    Kind("list", wait=Wait.IDLE),
    Kind("copy-bck", display="copy-bucket", follows_smap=True, **_CP),
    Kind("copy-listrange", wait=Wait.IDLE, display="copy-objects", follows_smap=True, **_CP),
    Kind("etl-bck", display="etl-bucket", **_CP),
    Kind("etl-listrange", wait=Wait.IDLE, display="etl-objects", **_CP),
    Kind("etl-inline", abort_by_reb=True),
    Kind("move-bck", display="rename-bucket", **_CP),
    Kind("make-n-copies", conflict_reb=True),
    Kind("put-copies", wait=Wait.IDLE),
    Kind("archive", wait=Wait.IDLE),
    Kind("get-batch", wait=Wait.IDLE, abort_by_reb=True),
    Kind("ec-encode", display="ec-bucket", **_CP),
    Kind("ec-get", wait=Wait.IDLE),
    Kind("ec-put", wait=Wait.IDLE),
    Kind("ec-resp", wait=Wait.IDLE),
    Kind("create-inventory", abort_by_reb=True),
    Kind("rechunk", abort_by_reb=True),
    Kind("dsort", abort_by_reb=True),
    Kind("promote"),
    Kind("lru"),
    Kind("cleanup-store"),
    Kind("rebalance"),
    Kind("resilver", Scope.NODE, Wait.SINGLE_NODE),
)}
# kinds whose wait is "every target idle" rather than "ended" (SDK `IDLE_KINDS`)
IDLE_KINDS = frozenset(k.name for k in KINDS.values() if k.wait is Wait.IDLE)


class ErrUnknownKind(ErrBadRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f'unknown job kind "{name}"')


class ErrXactBusy(AisError):
    """A kind that cannot run beside a running one (Go `ErrBusy`/limited coexistence): 400 as AIStore answers."""

    status = 400


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ErrUnknownKind(name) from None


def kind_named(word: str) -> str:
    """The kind a user means by `word`: its name or its display name (`copy-bucket`); "" if none."""
    if word in KINDS:
        return word
    return next((k.name for k in KINDS.values() if k.display == word), "")


def conflict(new: str, running: Iterable[str]) -> str:
    """The running kind that keeps `new` from starting, or "" (only rebalance/resilver block others)."""
    k = kind_of(new)
    if not k.conflict_reb:
        return ""
    return next((r for r in running if r in REB_KINDS), "")


def aborted_by(new: str, running: str) -> bool:
    """Does starting `new` abort a running job of kind `running`? (a rebalance aborts AbortByReb kinds)"""
    return new == "rebalance" and kind_of(running).abort_by_reb


def reb_aborts(new: str, running: str) -> bool:
    """Whether a target aborts its running `running` job when `new` starts: as Go (`aborted_by`),
    except for the kinds that follow the Smap (download, prefetch, blob-download, copy-bck,
    copy-listrange), which keep going and walk once more after the rebalance."""
    return aborted_by(new, running) and not kind_of(running).follows_smap


@dataclass
class XactStats:
    objs: int = 0  # objects done
    bytes: int = 0
    in_objs: int = 0  # read from a remote (rebalance: received from other targets)
    in_bytes: int = 0
    out_objs: int = 0  # sent to other nodes (rebalance, resilver)
    out_bytes: int = 0
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
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific results (e.g. summary sizes), not on the wire
    src_bck: Bucket | None = None  # copies: source and destination (Go Snap `SrcBck`/`DstBck`)
    dst_bck: Bucket | None = None
    failure: AisError | None = None  # the error itself, for callers that answer with its status

    @property
    def running(self) -> bool:
        return not self.end

    def to_wire(self) -> dict[str, Any]:
        s = self.stats
        out: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "start-time": _rfc3339(self.start),
            "end-time": _rfc3339(self.end) if self.end else ZERO_TIME,
            "stats": {"loc-objs": str(s.objs), "loc-bytes": str(s.bytes), "out-objs": str(s.out_objs), "out-bytes": str(s.out_bytes),
                      "in-objs": str(s.in_objs), "in-bytes": str(s.in_bytes)},
            "aborted": self.aborted, "is_idle": not self.running, "abort-err": self.err if self.aborted else "",
            "err": self.err, "glob.id": str(self.workers << 10),
        }
        for key, b in (("bck", self.bck), ("src-bck", self.src_bck), ("dst-bck", self.dst_bck)):
            if b is not None:
                out[key] = {"name": b.name, "provider": b.provider.value,
                            "namespace": {"uuid": b.ns.uuid, "name": b.ns.name}}
        return out


def _named(snap: XactSnap) -> str:
    """AIStore's way of naming a job in its log: `copy-bck[xid] ais://a => ais://b`."""
    src, dst = snap.src_bck or snap.bck, snap.dst_bck
    where = f"{src} => {dst}" if src is not None and dst is not None and dst != src else str(src or dst or "")
    return f"{snap.kind}[{snap.id}]" + (f" {where}" if where else "")


def log_started(snap: XactSnap) -> None:
    """A share's start in its node's log (core/nodelog.py)."""
    log.info("%s started", _named(snap))


def log_ended(snap: XactSnap) -> None:
    """A share's end in its node's log: failed, or with errors, as a warning (the ERROR log too)."""
    st = snap.stats
    how = "aborted" if snap.aborted else (f"failed: {snap.err}" if snap.err else "done")
    (log.warning if (snap.err or st.errors) and not snap.aborted else log.info)(
        "%s %s: %d objects, %d bytes, %d errors in %.1fs", _named(snap), how, st.objs, st.bytes, st.errors,
        max(0.0, (snap.end or snap.start) - snap.start) if snap.start else 0.0)


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
