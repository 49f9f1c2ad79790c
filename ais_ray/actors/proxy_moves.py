"""Bucket rename (`move-bck`: the SDK's `Bucket.rename`, CLI `bucket mv`): a copy that ends
with the source gone, all or nothing.

1. One BMD version creates the new name with the source's properties and marks both buckets
   as taking part (`BucketProps.moving`). From then on both are read-only to clients: the data
   servers refuse their writes (ErrBusy) and every mountpath refuses new content into the
   source at the commit itself (`fs/write.py`); a commit that found the source open has landed
   before the mountpath acknowledges the BMD (`MountpathStore.drain_commits`), and the copy
   starts only after every target acknowledged it. So the walk sees everything the source will
   ever hold.
2. Every target copies its share, as `copy-bck` does (`jobs/copy.py`, kind `move-bck`).
3. The proxy waits for every share (`_finish_move`). All done without an error: one BMD version
   drops the source and opens the new name, then the targets remove the source's files. A share
   that failed or was aborted (a rebalance aborts a rename, as in AIStore): rolled back — the new
   name goes, the source opens again, unchanged. Until then the job reads as running, so whoever
   waits for it (SDK `Job.wait`, `ais-ray wait`) finds the source gone when it ends.

A restarted proxy picks the renames in progress up from the BMD (`_resume_moves`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ais_ray.actors.proxy_xact import gather
from ais_ray.core.bmd import BMD, Moving
from ais_ray.core.copy import TcbMsg
from ais_ray.core.errors import ErrBusy
from ais_ray.core.names import Bucket
from ais_ray.core.xact import XactSnap
from ais_ray.core.xid import gen_uuid
from ais_ray.jobs.copy import CopySpec

log = logging.getLogger(__name__)
KIND = "move-bck"
POLL = 0.5  # how often the proxy looks at a rename's shares
READ_ONLY = ("summary-bck", "list")  # kinds that may run on a bucket while it is renamed


class ProxyMoves:
    """Mixin of `_ProxyActor` (which provides bmd, smap, _lock, _commit, _targets, target, xact_query, downloads)."""

    bmd: BMD
    smap: Any
    _lock: asyncio.Lock
    downloads: Any
    _moves: dict[str, asyncio.Task[None]]
    _move_aborts: set[str]
    _rolled_back: dict[str, str]

    def _init_moves(self) -> None:
        self._moves = {}  # xid -> its finisher (`_finish_move`), while it runs
        self._move_aborts = set()  # renames a user aborted: rolled back even if every share had ended
        self._rolled_back = {}  # xid -> why, for the job's snapshots (since this proxy started)

    async def move_start(self, src: Bucket, dst: Bucket) -> str:
        """Rename `src` to `dst`; the job's id.

        Raises:
            ErrBckNotFound: no `src`. ErrBckAlreadyExists: `dst` exists. ErrUnsupported: not ais
            buckets (or `src` has a backend). ErrBusy: `src` is being renamed, or a job writes into it.
        """
        self.bmd.with_move(src, dst, "")  # the checks, before asking the targets anything
        await self._check_idle(src)
        xid = gen_uuid()
        async with self._lock:
            bmd = self.bmd.with_move(src, dst, xid)
            await self._commit(bmd=bmd)  # type: ignore[attr-defined]
        m = bmd.must_get(src).moving
        assert m is not None
        try:
            # every target (and so each of its mountpaths) holds this BMD before any share walks: a
            # target the commit's push missed would take writes into the source after its walk
            await gather(self._targets(), "update_meta", None, bmd, strict=True)  # type: ignore[attr-defined]
            spec = CopySpec(src, dst, TcbMsg(), kind=KIND)
            await gather(self._targets(), "copy_start", xid, spec, None, strict=True)  # type: ignore[attr-defined]
        except BaseException:
            await self._end_move(m, done=False)
            raise
        self._remember_xact(xid, "copy_start", xid, spec, None)  # type: ignore[attr-defined]
        self._watch_move(m)
        return xid

    async def _check_idle(self, bck: Bucket) -> None:
        """A job on `bck` would see it close under it (a write refused) or go (a copy from it
        finding its objects gone, skipped as deleted): ErrBusy instead."""
        for job_id, e in self.downloads.jobs.items():
            if e.spec.bck == bck and e.final is None and not e.aborted:
                raise ErrBusy("bucket", str(bck), f"download {job_id} is running on it")
        parts = await self.xact_query("", "", None, True)  # type: ignore[attr-defined]
        for snap in (s for part in parts.values() for s in part):
            if snap.kind not in READ_ONLY and bck in (snap.bck, snap.src_bck, snap.dst_bck):
                raise ErrBusy("bucket", str(bck), f"{snap.kind}[{snap.id}] is running on it")

    def _watch_move(self, m: Moving) -> None:
        if m.xid not in self._moves:
            self._moves[m.xid] = asyncio.get_running_loop().create_task(self._finish_move(m))

    def _resume_moves(self) -> None:
        """After a (re)start: every rename the BMD says is in progress gets its finisher back."""
        for m in self.bmd.moves():
            self._watch_move(m)

    async def _finish_move(self, m: Moving) -> None:
        try:
            while True:
                await asyncio.sleep(POLL)
                if (done := await self._move_outcome(m)) is not None:
                    break
            if m.xid in self._move_aborts:
                done = False
                self._rolled_back[m.xid] = "aborted"
            elif not done:
                self._rolled_back.setdefault(m.xid, "failed")
            await self._end_move(m, done=done)
            log.info("move-bck[%s] %s=>%s: %s", m.xid, m.src, m.dst, "done" if done else "rolled back")
        except Exception:
            log.exception("move-bck[%s]: finishing", m.xid)  # the BMD still has it: the next start resumes
        finally:
            self._moves.pop(m.xid, None)

    async def _move_outcome(self, m: Moving) -> bool | None:
        """True: every target's share ended without an error; False: one failed, was aborted, or
        a target has no share; None: still running (or a target did not answer: it may be restarting)."""
        tids = list(self.smap.targets)
        parts = await gather(self._targets(), "xact_snaps", m.xid, "", None, False, strict=False)  # type: ignore[attr-defined]
        if any(t not in parts for t in tids):
            return None
        snaps: list[XactSnap] = [s for t in tids for s in parts[t]]
        if any(s.running for s in snaps):
            return None
        if any(not parts[t] for t in tids):
            log.error("move-bck[%s]: targets %s have no share", m.xid, [t for t in tids if not parts[t]])
            self._rolled_back[m.xid] = f"targets {[t for t in tids if not parts[t]]} have no share"
            return False
        return not any(s.aborted or s.err or s.stats.errors for s in snaps)

    async def _end_move(self, m: Moving, *, done: bool) -> None:
        """One BMD version ends the rename (`BMD.with_move_ended`), then the targets remove the files
        of the bucket that went."""
        async with self._lock:
            await self._commit(bmd=self.bmd.with_move_ended(m, done=done))  # type: ignore[attr-defined]
        gone = m.src if done else m.dst
        errs = await asyncio.gather(*(self.target(t).destroy_bucket.remote(gone) for t in self.smap.targets),  # type: ignore[attr-defined]
                                    return_exceptions=True)
        for e in errs:
            if isinstance(e, BaseException):
                log.warning("move-bck[%s]: removing %s: %r", m.xid, gone, e)

    def _moving_snaps(self, parts: dict[str, list[XactSnap]]) -> dict[str, list[XactSnap]]:
        """A rename whose shares ended reads as running until the proxy has ended it, and as
        aborted once rolled back (its shares may all have ended well: an abort just after). The BMD
        says which renames have not ended (a restarted proxy's finisher may not be back yet)."""
        active = {m.xid for m in self.bmd.moves()}
        for part in parts.values():
            for s in part:
                if s.id in active:
                    s.end = 0.0
                elif s.id in self._rolled_back and not s.err:
                    s.aborted = s.aborted or self._rolled_back[s.id] == "aborted"
                    s.err = f"{self._rolled_back[s.id]}: rolled back, {s.src_bck} unchanged"
        return parts

    def _abort_moves(self, xid: str, kind: str) -> None:
        """`xact_abort`: a matching rename not ended yet is rolled back."""
        for m in self.bmd.moves():
            if (not xid or m.xid == xid) and (not kind or kind == KIND):
                self._move_aborts.add(m.xid)

    def check_writable(self, bck: Bucket) -> None:
        """A job or change that writes into `bck`: ErrBusy while it takes part in a rename."""
        props = self.bmd.get(bck)
        if props is not None:
            props.check_writable(bck)

