"""The copy jobs of one target: start a share, save it, resume it after the target restarts.

A share's record (the spec, the source's remote side, and once it ended its final snapshot) is
kept on every mountpath as `.ais.cp/<xid>.json` through the node's replicas (`fs/replicas.py`;
`seq` says which copy is newest, as for download shares). A restarted target re-runs every share
that had not ended: a copy is idempotent — a destination that already holds the source's bytes is
skipped and counted as done (`jobs/copy.py`) — so re-running is resuming, and the counts end
where an uninterrupted run ends. A share that ended (done, failed, aborted) comes back as its
saved snapshot, so the job stays queryable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from ais_ray.actors.target_listings import SharedListings
from ais_ray.actors.target_xact import ResumeOnce, SnapXact, TargetXacts
from ais_ray.backends.pager import Fetch
from ais_ray.backends.pager import names as listed_names
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket, parse_bck_uname
from ais_ray.core.smap import Smap
from ais_ray.core.xact import XactSnap, XactStats
from ais_ray.fs.replicas import load_newest, save_everywhere
from ais_ray.jobs.copy import CopyHooks, CopySpec, run_copy
from ais_ray.jobs.ec_cover import LostCover
from ais_ray.jobs.prune import local_names
from ais_ray.jobs.selection import Share

log = logging.getLogger(__name__)
STATE_DIR = ".ais.cp"
PRUNE_KEY = "/prune"  # `sync`'s listing after the copy: shared under the copy's id + this
KEEP_ENDED = 200  # ended shares' records kept per target (the newest)

TargetHandle = Callable[[str], Any]  # tid -> that target's actor handle


class TargetCopies(ResumeOnce):
    """The `copy-bck` / `copy-listrange` kinds on a target; their shares live in the one registry."""

    def __init__(self, tid: str, mountpaths: dict[str, Any], smap: Callable[[], Smap | None], xacts: TargetXacts,
                 target: TargetHandle, listings: SharedListings, *, fsync: bool = True) -> None:
        self.tid = tid
        self.mps = mountpaths
        self._smap = smap
        self.xacts = xacts
        self._target = target
        self.listings = listings  # a remote source's listing under a prefix, listed once for all targets
        self._fsync = fsync
        for p in mountpaths:
            os.makedirs(os.path.join(p, STATE_DIR), exist_ok=True)

    async def start(self, xid: str, spec: CopySpec, ref: RemoteRef | None, joining: bool = False) -> None:
        """This target's share of a copy: saved first, then run. A second start of an id is a no-op.
        `joining`: the share of a running job on a target that just joined (admitted while the
        join's rebalance runs, which a new copy is not)."""
        self.resume()
        if self.xacts.get(xid) is not None:
            return
        if not joining:
            self.xacts.admit(spec.kind)
        rec = {"xid": xid, "spec": spec.to_wire(), "start": time.time(), "seq": 0,
               "ref": None if ref is None else {"bck": ref.bck.uname(""), "name": ref.name}}
        await asyncio.to_thread(self._save, rec)
        self._run(rec, spec, ref)

    def _resume(self) -> None:
        """Once the Smap is known after a (re)start: re-run the shares that had not ended."""
        for rec in self._load_all():
            xid = rec.get("xid", "")
            try:
                spec = CopySpec.from_wire(rec["spec"])
                if rec.get("ended"):
                    self.xacts.add(SnapXact(_ended_snap(rec, spec)))
                    continue
                ref = rec.get("ref")
                remote = None if ref is None else RemoteRef(parse_bck_uname(ref["bck"]), ref["name"])
                log.info("resuming copy %s (%s)", xid, spec.ctlmsg)
                self._run(rec, spec, remote)
            except Exception as exc:  # a damaged record, or refused now: the share shows the error
                log.exception("cannot resume copy %s", xid)
                snap = XactSnap(xid, rec.get("spec", {}).get("kind", "copy-bck"), start=rec.get("start", 0.0),
                                end=time.time(), err=f"cannot resume: {type(exc).__name__}: {exc}")
                snap.stats.errors = 1
                self.xacts.add(SnapXact(snap))

    # ---- running ---------------------------------------------------------------------------------
    def _run(self, rec: dict[str, Any], spec: CopySpec, ref: RemoteRef | None) -> None:
        hooks = self._hooks(rec["xid"], spec.src, ref)

        async def work(snap: XactSnap) -> None:
            err, aborted = "", False
            if rec.pop("ended", None) is not None:  # walking once more after a rebalance: running again
                await asyncio.to_thread(self._save, rec)
            try:
                await run_copy(spec, hooks, snap)
            except asyncio.CancelledError:
                err, aborted = "aborted", True
                raise
            except AisError as exc:
                err = exc.message
                raise
            except Exception as exc:
                err = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                st = snap.stats
                rec["ended"] = {"end": time.time(), "err": err, "aborted": aborted, "objs": st.objs,
                                "bytes": st.bytes, "errors": st.errors, "workers": snap.workers, "extra": snap.extra}
                await asyncio.to_thread(self._save, rec)

        self.xacts.start(XactSnap(rec["xid"], spec.kind, spec.dst, start=rec["start"]), work, admitted=True,
                         mark=False)  # its record is its mark

    def _hooks(self, xid: str, src: Bucket, ref: RemoteRef | None) -> CopyHooks:
        def list_for(prefix: str) -> Fetch:
            assert ref is not None
            return self.listings.fetch(xid, ref, prefix)

        def src_names(prefix: str) -> AsyncIterator[str]:
            if ref is not None:  # `sync`'s prune, after the copy: a fresh listing (a key of its own)
                return listed_names(self.listings.fetch(xid + PRUNE_KEY, ref, prefix))
            return self._cluster_names(src, prefix)

        share = Share(self.tid, self._smap, self.mps)
        cover = LostCover(self.tid, self._smap, self._target, self.mps) if ref is None else None
        return CopyHooks(share, self.mps, list_for if ref is not None else None, src_names,
                         cover.objects if cover is not None else None)

    def _cluster_names(self, bck: Bucket, prefix: str) -> AsyncIterator[str]:
        """Every name an ais bucket has under `prefix` in the whole cluster, sorted (pages merged over targets)."""
        smap = self._smap()
        assert smap is not None
        targets = {tid: self._target(tid) for tid in smap.targets}
        return local_names(targets, bck, prefix, name_of=lambda t: t[1].name)

    # ---- records ---------------------------------------------------------------------------------
    def _dirs(self) -> list[str]:
        return [os.path.join(p, STATE_DIR) for p in self.mps]

    def _save(self, rec: dict[str, Any]) -> None:
        rec["seq"] = int(rec.get("seq", 0)) + 1
        save_everywhere(self._dirs(), f"{rec['xid']}.json", json.dumps(rec).encode(), fsync=self._fsync)

    def _load_all(self) -> list[dict[str, Any]]:
        """Every saved share (newest copy of each), the oldest ended ones beyond KEEP_ENDED removed."""
        names: set[str] = set()
        for d in self._dirs():
            try:
                names.update(n for n in os.listdir(d) if n.endswith(".json"))
            except OSError:
                continue
        recs = [r for n in sorted(names)
                if (r := load_newest(self._dirs(), n, json.loads, lambda d: int(d.get("seq", 0)))) is not None]
        ended = sorted((r for r in recs if r.get("ended")), key=lambda r: r["ended"].get("end", 0), reverse=True)
        for r in ended[KEEP_ENDED:]:
            for d in self._dirs():
                try:
                    os.unlink(os.path.join(d, f"{r['xid']}.json"))
                except OSError:
                    pass
        return [r for r in recs if not r.get("ended")] + ended[:KEEP_ENDED]


def _ended_snap(rec: dict[str, Any], spec: CopySpec) -> XactSnap:
    e = rec["ended"]
    return XactSnap(rec["xid"], spec.kind, spec.dst, start=rec.get("start", 0.0), end=e["end"],
                    aborted=e.get("aborted", False), err=e.get("err", ""), workers=e.get("workers", 0),
                    stats=XactStats(objs=e.get("objs", 0), bytes=e.get("bytes", 0), errors=e.get("errors", 0)),
                    extra=dict(e.get("extra", {})), src_bck=spec.src, dst_bck=spec.dst)
