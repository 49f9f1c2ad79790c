"""The download jobs of one target: start, status, abort, remove, and resume after a restart."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ais_ray.backends.base import ListPage
from ais_ray.backends.pager import names as listed_names
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.dload import DlSpec, TargetDlStatus
from ais_ray.core.smap import Smap
from ais_ray.actors.target_listings import SharedListings
from ais_ray.actors.target_xact import ResumeOnce, TargetXacts
from ais_ray.jobs.download import DownloadRunner, FailedShare, TargetHooks
from ais_ray.jobs.prune import local_names, missing

log = logging.getLogger(__name__)


class TargetDownloads(ResumeOnce):
    """The `download` kind on a target: its shares live in the target's one registry (`TargetXacts`)."""

    def __init__(self, tid: str, mountpaths: dict[str, Any], state_dirs: list[str], smap: Callable[[], Smap | None],
                 xacts: TargetXacts, listings: SharedListings) -> None:
        self.tid = tid
        self.mps = mountpaths
        self.state_dirs = state_dirs
        self._smap = smap
        self.xacts = xacts
        self.listings = listings  # a backend job's listing, listed once for all targets

    def _hooks(self) -> TargetHooks:
        smap = self._smap()
        assert smap is not None and self.tid in smap.targets, "target not in the cluster map yet"
        return TargetHooks(self.tid, self._smap, self.mps, self.state_dirs, self._list_remote, self._sync_bucket)

    def _entry(self, job_id: str) -> DownloadRunner | FailedShare | None:
        x = self.xacts.get(job_id)
        return x if isinstance(x, (DownloadRunner, FailedShare)) else None

    def _resume(self) -> None:
        """Pick up jobs persisted before a restart (once the Smap is known).

        A share whose saved state cannot be resumed (any exception) becomes a `FailedShare`: the
        job reports it as an error.
        """
        runners, failed = DownloadRunner.load_all(self._hooks())
        for job_id, reason in failed.items():
            self.xacts.add(FailedShare(job_id, self.tid, reason))
        for runner in runners:
            if self._entry(runner.xid) is not None:
                continue
            self.xacts.add(runner)
            if not runner.done:
                log.info("resuming download %s at item %d", runner.xid, runner.prog.next_idx)
                try:
                    runner.start()
                except Exception as exc:
                    log.exception("resuming download %s", runner.xid)
                    self.xacts.add(FailedShare(runner.xid, self.tid, f"cannot resume: {type(exc).__name__}: {exc}"))

    async def start(self, spec: DlSpec) -> None:
        self.resume()
        if self._entry(spec.id) is not None:
            return  # a retried broadcast
        self.xacts.admit("download")
        runner = DownloadRunner(self._hooks(), spec)
        self.xacts.add(runner)
        await runner.save()
        runner.start()
        self.xacts.follow_if_moving(runner)  # a target that joins during the rebalance

    async def status(self, job_id: str, only_active: bool) -> TargetDlStatus:
        self.resume()
        share = self._entry(job_id)
        if share is None:  # e.g. a target that joined after the job started: no share
            return TargetDlStatus(all_dispatched=True, end_time=time.time())
        return await share.status(only_active)

    async def abort(self, job_id: str) -> None:
        share = self._entry(job_id)
        if share is not None:
            await share.abort()

    async def remove(self, job_id: str) -> None:
        share = self._entry(job_id)
        if share is not None:
            self.xacts.pop(job_id)
            await share.abort()
        self.listings.forget(job_id)
        for d in self.state_dirs:
            _unlink(os.path.join(d, f"{job_id}.json"))
        await asyncio.gather(*(h.dl_forget.remote(job_id) for h in self.mps.values()), return_exceptions=True)

    # ---- hooks ----------------------------------------------------------------------------------
    @staticmethod
    def _src(spec: DlSpec) -> RemoteRef:
        assert spec.src is not None
        return RemoteRef(spec.src, spec.src.name)

    async def _list_remote(self, spec: DlSpec, token: str) -> ListPage:
        """A page of a backend job's listing: every target walks the same listing, listed once
        for all of them (`actors/target_listings.py`)."""
        return await self.listings.fetch(spec.id, self._src(spec), spec.prefix)(token)

    async def _sync_bucket(self, spec: DlSpec) -> None:
        """Delete this target's objects under the prefix that the remote bucket no longer has.

        A merge of two sorted streams (our listing and the remote's), so memory stays flat.
        """
        assert spec.src is not None
        smap = self._smap()
        assert smap is not None
        remote_names = listed_names(self.listings.own(self._src(spec), spec.prefix))  # a fresh listing of its own, after the download
        doomed: dict[str, list[str]] = {}
        me = smap.targets[self.tid]
        async for name in missing(local_names(self.mps, spec.bck, spec.prefix), remote_names):
            if name.endswith(spec.suffix):
                doomed.setdefault(me.mountpath_for(spec.bck.uname(name)).path, []).append(name)
        for mp, names in doomed.items():
            n = await self.mps[mp].delete_objects.remote(spec.bck, names)
            log.info("sync %s: deleted %d objects gone from %s", spec.id, n, spec.src)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
