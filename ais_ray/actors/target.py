"""Target actor: one storage node. Owns its mountpath actors, answers for them, runs jobs.

Detached, named `ais-target-<tid>`, pinned to its node by the custom resource
`ais_target_<tid>`, restarted by Ray after a crash (`max_restarts=-1`): `__init__` re-attaches
to the (detached) mountpath actors, whose data survives on disk, and brings its own URL
back up on the same port when it can.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import os
from typing import Any

import ray
from aiohttp import web

from ais_ray.actors.dataserver import OBJ_ROUTE, bind_socket, bucket_obj_from_request, error_middleware, stats_middleware
from ais_ray.actors.ioloop import IoLoop
from ais_ray.actors.mountpath import MountpathActor
from ais_ray.actors.target_copy import TargetCopies
from ais_ray.actors.target_listings import SharedListings
from ais_ray.actors.target_dl import TargetDownloads
from ais_ray.fs.fspaths import ATTACH, Fspaths
from ais_ray.actors.target_reads import LocalReads
from ais_ray.actors.target_stats import TargetStats
from ais_ray.actors.target_xact import LostShares, Marks, TargetXacts, pass_no
from ais_ray.auth.gate import redirect_location
from ais_ray.backends.base import ListPage
from ais_ray.backends.pager import Fetch
from ais_ray.core import headers as H
from ais_ray.core import hrw, lom, nodelog
from ais_ray.core.bmd import BMD, RemoteRef
from ais_ray.core.dload import DlSpec, TargetDlStatus
from ais_ray.core.errors import AisError, ErrBadRequest
from ais_ray.core.names import Bucket
from ais_ray.core.promote import KIND as PROMOTE
from ais_ray.core.promote import PromoteArgs, promote_root
from ais_ray.core.nodes import NAMESPACE, PROXY_NAME, target_resource
from ais_ray.core.redundancy import ECConf
from ais_ray.core.selection import Selection
from ais_ray.core.smap import MP_DETACHED, MP_ENABLED, MountpathInfo, Smap, Snode
from ais_ray.core.xact import XactSnap
from ais_ray.core.xid import gen_uuid
from ais_ray.fs.replicas import load_newest, save_everywhere
from ais_ray.fs.walk import LsEntry
from ais_ray.jobs.archive import KIND as ARCHIVE
from ais_ray.jobs.archive import ArchiveSpec
from ais_ray.jobs.copy import CopySpec
from ais_ray.jobs.ec_encode import KIND as EC_ENCODE
from ais_ray.jobs.ec_encode import run_ec_encode
from ais_ray.jobs.evict import run_evict
from ais_ray.jobs.mirror import KIND as MIRROR_KIND
from ais_ray.jobs.mirror import run_make_copies
from ais_ray.jobs.prefetch import PrefetchHooks, PrefetchSpec, run_prefetch
from ais_ray.jobs.rebalance import REBALANCE, RESILVER, run_moves, settle
from ais_ray.jobs.promote import run_promote
from ais_ray.jobs.promote import scan as promote_scan
from ais_ray.jobs.prune import local_names
from ais_ray.jobs.selection import Share, select
from ais_ray.jobs.summary import KIND as SUMMARY
from ais_ray.jobs.summary import run_summary
from ais_ray.stats.counters import Labeled
from ais_ray.stats.prom import CONTENT_TYPE as PROM_CONTENT_TYPE
from ais_ray.stats.status import NODE_STATUS_WHAT

log = logging.getLogger(__name__)
CONTROL_TIMEOUT = 30.0
DL_STATE_DIR = ".ais.dl"
PORT_FILE = ".ais.tport"
BLOB_PROGRESS_EVERY = 0.5
ARCHIVE_PROGRESS_EVERY = 1.0


def target_actor_name(tid: str) -> str:
    return f"ais-target-{tid}"


def mountpath_actor_name(tid: str, path: str) -> str:
    return f"ais-mp-{tid}-{hrw.digest(os.path.abspath(path)):016x}"


def actor_options(name: str, resource: str) -> dict[str, Any]:
    """Options every long-lived ais-ray actor shares: detached, named, restarted forever, pinned."""
    return {"name": name, "namespace": NAMESPACE, "lifetime": "detached", "get_if_exists": True,
            "max_restarts": -1, "max_task_retries": -1, "num_cpus": 0, "resources": {resource: 0.001},
            "max_concurrency": 1000}


class _TargetActor:
    def __init__(self, tid: str, mountpaths: list[str], host: str, fsync: bool = True, log_dir: str = "") -> None:
        nodelog.setup(tid, log_dir)  # this target's log, its mountpath workers' too (core/nodelog.py)
        self.tid = tid
        self.host = host
        self.fsync = fsync
        self.log_dir = log_dir
        self.fspaths = Fspaths([os.path.abspath(p) for p in mountpaths], fsync=fsync)
        paths = self.fspaths.live()
        self.mps = {p: self._mountpath_actor(p) for p in paths}
        self.detached: dict[str, Any] = {}  # workers of detached mountpaths (idle; reused by a re-attach)
        self.mp_infos: tuple[MountpathInfo, ...] = ()
        self.io = IoLoop(f"io:target:{tid}")
        self.stats = TargetStats(tid, paths)  # node_status, /metrics (actors/target_stats.py)
        self.reads = LocalReads(self.stats.counters)  # plain GETs on the target's URL (SDK direct=True)
        self.redirector = _Redirector(self)
        saved = load_newest(paths, PORT_FILE, int) or 0  # a copy on every mountpath: no disk is special
        self.url = self.io.run_sync(self.redirector.start(host, saved))
        save_everywhere(paths, PORT_FILE, self.url.rsplit(":", 1)[1].encode(), fsync=fsync)
        self.smap = load_newest(paths, lom.SMAP_FILE, lambda b: Smap.from_wire(json.loads(b)), lambda s: s.version)
        # the one registry of this target's jobs, downloads included
        marks = Marks(lambda: list(self.mps), fsync=fsync)  # what a restart finds it was running
        self.xacts = TargetXacts(lambda xid, bcks: settle(self.mps, xid, bcks), self._stop_batches, marks)
        self.lost = LostShares(tid, lambda: self.smap, self.xacts, marks, self._restart_shares)
        self._handles: dict[str, Any] = {}
        # a job's remote listing that every target walks (backend download, prefetch or copy of a prefix): once for all
        self.listings = SharedListings(tid, lambda: self.smap, self._target_handle, self.stats.counters)
        self.downloads = TargetDownloads(tid, self.mps, [os.path.join(p, DL_STATE_DIR) for p in paths],
                                         lambda: self.smap, self.xacts, self.listings)
        self.copies = TargetCopies(tid, self.mps, lambda: self.smap, self.xacts, self._target_handle, self.listings,
                                   fsync=fsync)

    def _mountpath_actor(self, path: str) -> Any:
        os.makedirs(path, exist_ok=True)  # on a real cluster the directories are this node's, made here
        opts = actor_options(mountpath_actor_name(self.tid, path), target_resource(self.tid))
        return MountpathActor.options(**opts).remote(self.tid, path, self.host, self.fsync, self.log_dir)

    async def snode(self) -> Snode:
        """This target as the Smap describes it; waits until every mountpath serves."""
        infos = await asyncio.wait_for(asyncio.gather(*(h.info.remote() for h in self.mps.values())), CONTROL_TIMEOUT)
        self.mp_infos = tuple(MountpathInfo(i["path"], i["url"], self.fspaths.states.get(i["path"], MP_ENABLED))
                              for i in infos)
        self._resume_shares()  # after a restart: the proxy's keepalive lands here within seconds
        if self.reads.bmd is None:
            self.reads.bmd = await self.stored_bmd()
        return Snode(self.tid, "target", self.url, 0, self.mp_infos)

    def _resume_shares(self) -> None:
        """Once in the map after a (re)start: the shares this target saved (downloads, copies) run
        again; then those it only marked are asked of the proxy (`LostShares`)."""
        self.downloads.resume()
        self.copies.resume()
        self.lost.resume()

    async def info(self) -> dict[str, Any]:
        infos = await asyncio.gather(*(h.info.remote() for h in self.mps.values()))
        return {"tid": self.tid, "url": self.url, "pid": os.getpid(), "mountpaths": list(infos),
                "smap_version": self.smap.version if self.smap is not None else 0}

    def _me(self) -> Snode:
        tsi = self.smap.targets.get(self.tid) if self.smap is not None else None
        return tsi or Snode(self.tid, "target", self.url, 0, self.mp_infos)

    async def node_status(self) -> dict[str, Any]:
        """AIStore's `GET /v1/daemon?what=node_status` of this target."""
        return await self.stats.node_status(self.mps, self._me(), self.smap)

    async def node_log(self, severity: str = "", offset: int = 0, all_logs: bool = False) -> bytes:
        """AIStore's `what=log` of this target: its current log, or with `all_logs` a TAR.GZ of them all."""
        return await asyncio.to_thread(nodelog.answer, self.log_dir, self.tid, severity, offset, all_logs)

    async def metrics(self) -> bytes:
        """This target's counters in the Prometheus text format (`GET /metrics`)."""
        return await self.stats.metrics(self.mps, self.smap)

    async def reset_stats(self, errors_only: bool = False) -> None:
        await self.stats.reset(self.mps, errors_only)

    async def update_meta(self, smap: Smap | None, bmd: BMD | None) -> None:
        await asyncio.gather(*(h.update_meta.remote(smap, bmd) for h in self.mps.values()))
        if bmd is not None and (self.reads.bmd is None or bmd.version >= self.reads.bmd.version):
            self.reads.bmd = bmd  # after the mountpaths: a read here never runs ahead of them
        if smap is not None and (self.smap is None or self.smap.accepts(smap)):
            self.smap = smap

    async def current_smap(self) -> Smap | None:
        """The newest cluster map this target has accepted (jobs read `self.smap`, never a copy)."""
        return self.smap

    # ---- xactions ---------------------------------------------------------------------------------
    async def add_counts(self, counts: Labeled) -> None:
        """Reads another process served as this target's (the S3 gateway's, `target_reads.ServedFor`)."""
        self.stats.counters.add_labeled(counts)

    async def xact_snaps(self, xid: str = "", kind: str = "", bck: Bucket | None = None,
                         only_running: bool = False) -> list[XactSnap]:
        """Snapshots of this target's xactions (every kind, downloads included)."""
        self._resume_shares()
        return self.xacts.snaps(xid=xid, kind=kind, bck=bck, only_running=only_running)

    async def prefetch_start(self, xid: str, spec: PrefetchSpec, ref: RemoteRef, joining: bool = False) -> None:
        def list_for(prefix: str) -> Fetch:
            return self.listings.fetch(xid, ref, prefix)

        hooks = PrefetchHooks(self._share(), self.mps, list_for, self._prefetch_blob)
        self.xacts.start(XactSnap(xid, "prefetch-listrange", spec.bck), lambda snap: run_prefetch(spec, hooks, snap),
                         admitted=joining)

    async def copy_start(self, xid: str, spec: CopySpec, ref: RemoteRef | None, joining: bool = False) -> None:
        """This target's share of a copy-bck / copy-listrange (`actors/target_copy.py`)."""
        await self.copies.start(xid, spec, ref, joining)

    async def _restart_shares(self, xids: list[str]) -> list[str]:
        """Start again this target's shares of `xids` (lost in a restart); the ids started. A
        resilver is this target's own job: started again here, under its id (as an AIStore target
        resumes an interrupted resilver), whether or not the proxy remembers it — a detached
        mountpath keeps its objects until one ends. The others are asked of the proxy."""
        started = []
        lost = [x for x in (self.xacts.get(i) for i in xids) if x is not None and x.kind == RESILVER]
        for x in sorted(lost, key=lambda x: x.snap().start)[-1:]:  # the newest: it preempted the others
            try:
                await self.reb_start(x.xid, RESILVER)
                started.append(x.xid)
            except Exception as exc:
                log.error("starting again resilver %s: %r", x.xid, exc)
        rest = [i for i in xids if i not in started and i not in {x.xid for x in lost}]
        if rest:
            proxy = await asyncio.to_thread(ray.get_actor, PROXY_NAME, NAMESPACE)
            started += await proxy.restart_shares.remote(self.tid, rest)
        return started

    def _target_handle(self, tid: str) -> Any:
        """A target's actor handle (this one's too: a cluster-wide listing asks every target)."""
        h = self._handles.get(tid)
        if h is None:
            h = self._handles[tid] = ray.get_actor(target_actor_name(tid), namespace=NAMESPACE)
        return h

    async def mirror_start(self, xid: str, bck: Bucket, n: int, joining: bool = False) -> None:
        """This target's share of make-n-copies (`jobs/mirror.py`)."""
        self.xacts.start(XactSnap(xid, MIRROR_KIND, bck), lambda snap: run_make_copies(bck, n, self.mps, snap),
                         admitted=joining)

    async def ec_encode_start(self, xid: str, bck: Bucket, conf: ECConf, recover: bool, joining: bool = False) -> None:
        """This target's share of an `ec-encode` (`jobs/ec_encode.py`)."""
        self.xacts.start(XactSnap(xid, EC_ENCODE, bck), lambda snap: run_ec_encode(bck, conf, recover, self.mps, snap),
                         admitted=joining)

    def _share(self) -> Share:
        return Share(self.tid, lambda: self.smap, self.mps)

    async def promote_scan(self, args: PromoteArgs) -> tuple[int, str]:
        """What this target sees at a promote's source: (files, digest of their paths) (`jobs/promote.py`)."""
        return await promote_scan(args, promote_root())

    async def promote_start(self, xid: str, bck: Bucket, args: PromoteArgs, fshare: bool,
                            joining: bool = False) -> None:
        """This target's share of a `promote` job (`fshare`: every target sees the same files)."""
        self.xacts.start(XactSnap(xid, PROMOTE, bck),
                         lambda snap: run_promote(bck, args, promote_root(), fshare, self._share(), self.mps, snap),
                         admitted=joining)

    async def promote_now(self, bck: Bucket, args: PromoteArgs) -> tuple[int, int, str]:
        """A few files promoted before the answer, no job (AIStore: at most 16 and no file share):
        (objects, errors, the error)."""
        snap = XactSnap(gen_uuid(), PROMOTE, bck)
        await run_promote(bck, args, promote_root(), False, self._share(), self.mps, snap)
        return snap.stats.objs, snap.stats.errors, snap.err

    async def blob_start(self, xid: str, bck: Bucket, name: str, chunk: int, workers: int, latest: bool,
                         joining: bool = False) -> None:
        """A `blob-download` job for one object this target owns, on the HRW mountpath (`joining`:
        started again after this target restarted)."""
        h = await self._owner_mountpath(bck, name)
        self.xacts.start(XactSnap(xid, "blob-download", bck, workers=max(workers, 0)),
                         lambda snap: self._blob_work(h, snap, bck, name, chunk, workers, latest, ""), admitted=joining)

    async def archive_start(self, xid: str, spec: ArchiveSpec, ref: RemoteRef | None, joining: bool = False) -> None:
        """An `archive` job: this target owns the shard; its HRW mountpath writes it (`jobs/archive.py`)."""
        h = await self._owner_mountpath(spec.dst, spec.name)
        snap = XactSnap(xid, ARCHIVE, spec.dst, src_bck=spec.src, dst_bck=spec.dst)
        self.xacts.start(snap, lambda s: self._archive_work(h, s, spec, ref), admitted=joining)

    async def _archive_work(self, h: Any, snap: XactSnap, spec: ArchiveSpec, ref: RemoteRef | None) -> None:
        names = await self._archive_names(snap.id, spec, ref)
        job = asyncio.ensure_future(h.archive_job.remote(snap.id, spec, names))
        try:
            while not job.done():
                await asyncio.wait({job}, timeout=ARCHIVE_PROGRESS_EVERY)
                if not job.done():
                    snap.stats.objs, snap.stats.bytes = await h.archive_progress.remote(snap.id)
            objs, nbytes, errs, first = await job
        except asyncio.CancelledError:
            await h.archive_abort.remote(snap.id)
            raise
        snap.stats.objs, snap.stats.bytes, snap.stats.errors = objs, nbytes, errs
        if errs:  # `coer`: the shard was written without them (AIStore's Snap.Err)
            snap.err = f"left out {errs} object(s) that could not be read, the first: {first[0]}"

    async def _archive_names(self, xid: str, spec: ArchiveSpec, ref: RemoteRef | None) -> list[str]:
        """The selection's names: as given, a template's, or a prefix's — listed at the remote (a
        bucket with a remote side), else what the cluster holds (every target's pages merged)."""
        if not spec.sel.is_listing or ref is not None:
            def list_for(prefix: str) -> Fetch:
                assert ref is not None
                return self.listings.fetch(xid, ref, prefix)

            return [n async for chunk in select(spec.sel, list_for) for n in chunk]
        smap = self.smap
        assert smap is not None
        targets = {tid: self._target_handle(tid) for tid in smap.targets}
        return [n async for n in local_names(targets, spec.src, spec.sel.prefix, name_of=lambda t: t[1].name)]

    async def _owner_mountpath(self, bck: Bucket, name: str) -> Any:
        me = Snode(self.tid, "target", self.url, 0, self.mp_infos or (await self.snode()).mountpaths)
        return self.mps[me.mountpath_for(bck.uname(name)).path]

    async def _blob_work(self, h: Any, snap: XactSnap, bck: Bucket, name: str, chunk: int, workers: int,
                         latest: bool, counter: str) -> tuple[str, int]:
        """Run one blob download on mountpath `h`, its progress in `snap`: ("ok"|"skipped", size).
        After a rebalance (`pass_no`) there is nothing to fetch: the registry moves it to its owner."""
        if pass_no(snap):
            size = int(snap.extra.get("size", 0))
            snap.stats.objs = snap.stats.in_objs = 1
            snap.stats.bytes = snap.stats.in_bytes = size
            return "skipped", size
        job = asyncio.ensure_future(h.blob_job.remote(bck, name, chunk or None, workers or None, latest, snap.id,
                                                      counter))
        try:
            while not job.done():
                await asyncio.wait({job}, timeout=BLOB_PROGRESS_EVERY)
                if not job.done():
                    snap.stats.bytes = (await h.blob_progress.remote(bck, name))[0]
            status, size = await job
        except asyncio.CancelledError:
            await h.blob_abort.remote(bck, name)
            raise
        snap.stats.bytes = snap.extra["size"] = size
        if status != "skipped":
            snap.stats.objs = snap.stats.in_objs = 1
            snap.stats.in_bytes = size
        return status, size

    async def _prefetch_blob(self, bck: Bucket, name: str, latest: bool) -> tuple[str, int]:
        """A prefetch's object over its blob threshold: its own `blob-download` job, as AIStore runs
        each blob child of a prefetch (`show job blob-download` lists it); waits for it."""
        h = await self._owner_mountpath(bck, name)
        snap = XactSnap(gen_uuid(), "blob-download", bck)
        done: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()

        async def work(s: XactSnap) -> None:
            if pass_no(s):  # after a rebalance: the prefetch walks again itself; this moves the object (settle)
                return
            try:
                done.set_result(await self._blob_work(h, s, bck, name, 0, 0, latest, "prefetch.blob"))
            except BaseException as exc:
                done.set_exception(exc)
                raise

        self.xacts.start(snap, work)
        return await done

    async def reb_start(self, xid: str, kind: str = REBALANCE, follow: tuple[str, ...] = ()) -> list[str]:
        """This target's share of a rebalance (or its resilver, `jobs/rebalance.py`). A running one
        of the same kind under another id is aborted first: a newer Smap preempts the older. The
        jobs that follow the Smap — running here, or named in `follow` by the proxy — walk once
        more after it (`TargetXacts.follow`); returns their ids."""
        for other, x in self.xacts.of_kind(kind).items():
            if other != xid and x.snap().running:
                log.info("%s %s preempted by %s", kind, other, xid)
                await self.xacts.abort(xid=other)
        x = self.xacts.get(xid)
        if x is not None and not x.snap().running:
            self.xacts.pop(xid)  # the same id again (a proxy restarted): run it again
        peers = [t for t in (self.smap.targets if self.smap is not None and kind == REBALANCE else ()) if t != self.tid]

        async def others_walked() -> bool:
            async def one(tid: str) -> bool:
                try:
                    h = ray.get_actor(target_actor_name(tid), namespace=NAMESPACE)
                    return bool(await asyncio.wait_for(h.reb_walked.remote(xid), CONTROL_TIMEOUT))
                except (ValueError, asyncio.TimeoutError, ray.exceptions.RayError):
                    return True  # gone: sends nothing more
            return all(await asyncio.gather(*(one(t) for t in peers)))

        async def work(snap: XactSnap) -> None:
            await run_moves(kind, dict(self.mps), snap, others_walked)
            if kind == RESILVER:  # what was being detached is empty now
                await self.mountpath_forget()

        self.xacts.start(XactSnap(xid, kind), work)
        return self.xacts.follow(follow)

    async def reb_walked(self, xid: str) -> bool:
        """Whether this target has sent all it had to for rebalance `xid` (or does not run it)."""
        x = self.xacts.get(xid)
        return x is None or not x.snap().running or bool(x.snap().extra.get("walked"))

    # ---- mountpaths -------------------------------------------------------------------------------
    async def mountpath_change(self, action: str, path: str) -> Snode:
        """Attach / enable / disable / detach a mountpath (`fs/fspaths.py`); this target
        as the Smap will describe it. A detached mountpath keeps serving (and is walked by the
        resilver that moves its objects away) until `mountpath_forget`."""
        path = os.path.abspath(path) if path else path
        if action == ATTACH and path not in self.mps and path not in self.detached and not os.path.isdir(path):
            # a typo would become an empty mountpath on the root disk (AIStore: `fs.NewMountpath` stats it)
            raise ErrBadRequest(f'cannot attach mountpath "{path}" to {self.tid}: no such directory on its node '
                                f'(make or mount it first)')
        state = self.fspaths.change(action, path, known=path in self.mps)
        if action == ATTACH and path not in self.mps:
            h = self.detached.pop(path, None) or self._mountpath_actor(path)
            await asyncio.wait_for(h.info.remote(), CONTROL_TIMEOUT)
            await h.update_meta.remote(self.smap, await self.stored_bmd())
            self.mps[path] = h
            self.xacts.attached(path)  # a few small files
        self.fspaths.save(path, state)
        return await self.snode()

    async def mountpath_forget(self) -> Snode:
        """Drop the workers of detached mountpaths (their objects have moved away)."""
        gone = [p for p in self.mps if self.fspaths.states.get(p) == MP_DETACHED]
        for path in gone:
            self.detached[path] = self.mps.pop(path)
        self.fspaths.forgotten(gone)
        return await self.snode()

    async def wipe_user_data(self) -> None:
        """Delete every object on this target's mountpaths (decommission with `rm_user_data`)."""
        await asyncio.gather(*(h.wipe.remote() for h in self.mps.values()))

    async def xact_abort(self, xid: str = "", kind: str = "") -> None:
        await self.xacts.abort(xid=xid, kind=kind)

    async def _stop_batches(self, xid: str) -> None:
        """An aborted job's items already with the mountpaths: not started, they are not done."""
        outs = await asyncio.gather(*(h.stop_batches.remote(xid) for h in self.mps.values()), return_exceptions=True)
        for mp, out in zip(self.mps, outs):
            if isinstance(out, BaseException):  # a mountpath gone: its batches went with it
                log.warning("t[%s]: stopping %s's batches on %s: %s", self.tid, xid, mp, out)

    # ---- download jobs ---------------------------------------------------------------------------
    async def dl_start(self, spec: DlSpec) -> None:
        await self.downloads.start(spec)

    async def dl_status(self, job_id: str, only_active: bool) -> TargetDlStatus:
        return await self.downloads.status(job_id, only_active)

    async def dl_abort(self, job_id: str) -> None:
        await self.downloads.abort(job_id)

    async def dl_remove(self, job_id: str) -> None:
        await self.downloads.remove(job_id)

    async def remote_page(self, key: str, src: RemoteRef, prefix: str, token: str) -> ListPage:
        """A page of job `key`'s remote listing, for the job's other targets: this one, its lister,
        lists each page once (`actors/target_listings.py`)."""
        return await self.listings.page(key, src, prefix, token)

    async def stored_bmd(self) -> BMD | None:
        """The newest BMD copy on this target's mountpaths."""
        bmds = await asyncio.gather(*(h.stored_bmd.remote() for h in self.mps.values()))
        return max(bmds, key=lambda b: b.version, default=None)

    async def list_page(self, bck: Bucket, prefix: str, start_after: str, limit: int, with_attrs: bool,
                        flags: int = 0) -> list[tuple[str, LsEntry]]:
        """Up to `limit` entries after `start_after`, merged over mountpaths, with their location."""
        try:
            pages = await asyncio.gather(*(h.list_page.remote(bck, prefix, start_after, limit, with_attrs, flags)
                                           for h in self.mps.values()))
        except Exception:
            self.stats.counters.add("err.lst", label=str(bck))
            raise
        self.stats.counters.add("lst", label=str(bck))
        tagged = [[(e.name, f"t[{self.tid}]:mp[{p}]", e) for e in page] for p, page in zip(self.mps, pages)]
        out: list[tuple[str, LsEntry]] = []
        for name, loc, e in heapq.merge(*tagged, key=lambda x: x[0]):
            if out and out[-1][1].name == name:
                continue  # a directory (NO_RECURSION) on every mountpath is one entry: `limit` distinct names
            out.append((loc, e))
            if len(out) >= limit:
                break
        return out

    async def present(self, bck: Bucket, names: list[str]) -> dict[str, tuple[str, LsEntry]]:
        """Which of `names` (owned by this target) are cached, with their location."""
        me = Snode(self.tid, "target", self.url, 0, self.mp_infos or (await self.snode()).mountpaths)
        by_mp: dict[str, list[str]] = {}
        for name in names:
            by_mp.setdefault(me.mountpath_for(bck.uname(name)).path, []).append(name)
        found = await asyncio.gather(*(self.mps[mp].present.remote(bck, ns) for mp, ns in by_mp.items()))
        return {n: (f"t[{self.tid}]:mp[{mp}]", e) for mp, part in zip(by_mp, found) for n, e in part.items()}

    async def summary_start(self, xid: str, bck: Bucket, prefix: str, ref: RemoteRef | None, lister: str) -> None:
        """This target's part of a bucket summary; the `lister` target also counts the remote."""
        remote = self.listings.own(ref, prefix) if ref and lister == self.tid else None  # counted (`remote.lst`)
        self.xacts.start(XactSnap(xid, SUMMARY, bck), lambda snap: run_summary(bck, prefix, self.mps, remote, snap))

    async def evict(self, bck: Bucket, names: list[str] | None) -> None:
        await asyncio.gather(*(h.evict.remote(bck, names) for h in self.mps.values()))

    async def evict_listrange(self, xid: str, bck: Bucket, sel: Selection, delete: bool = False) -> None:
        """This target's share of an evict (or, `delete`, a delete) list-range, as a job of the
        registry; returns when done."""
        share = self._share()
        kind = "delete-listrange" if delete else "evict-listrange"
        snap = await self.xacts.run(XactSnap(xid, kind, bck),
                                    lambda snap: run_evict(bck, sel, share, self.mps, snap, delete=delete))
        if snap.err:
            raise AisError(f"t[{self.tid}]: {snap.err}")

    async def destroy_bucket(self, bck: Bucket) -> None:
        await asyncio.gather(*(h.destroy_bucket.remote(bck) for h in self.mps.values()))

    async def pids(self) -> dict[str, int]:
        mp = await asyncio.gather(*(h.pid.remote() for h in self.mps.values()))
        return {"target": os.getpid(), **{p: pid for p, pid in zip(self.mps, mp)}}

    async def shutdown_mountpaths(self) -> None:
        hs = [*self.mps.values(), *self.detached.values()]
        try:  # the access times GETs noted (fs/atime.py) reach the disk before the workers go
            await asyncio.wait_for(asyncio.gather(*(h.flush_atimes.remote() for h in hs), return_exceptions=True), 10)
        except asyncio.TimeoutError:
            log.warning("access times not flushed within 10s at shutdown")
        await asyncio.to_thread(self.reads.flush)
        for h in hs:
            ray.kill(h, no_restart=True)


class _Redirector:
    """The target's own URL (Smap `direct_url`): answers a plain GET itself (`target_reads.py`),
    307s every other object request to its mountpath.

    This is where the SDK's client-side HRW (`get_reader(direct=True)`) lands.
    """

    def __init__(self, target: _TargetActor) -> None:
        self.t = target
        self.app = web.Application(middlewares=[stats_middleware(target.stats.counters),
                                                error_middleware(f"t[{target.tid}]")])
        for method in ("GET", "PUT", "HEAD", "DELETE"):
            self.app.router.add_route(method, OBJ_ROUTE, self.redirect)
        self.app.router.add_get("/v1/health", self.health)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/v1/daemon", self.daemon)

    async def start(self, host: str, port: int) -> str:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = bind_socket(host, port)
        await web.SockSite(runner, sock).start()
        return f"http://{host}:{sock.getsockname()[1]}"

    async def health(self, req: web.Request) -> web.Response:
        return web.Response(status=200 if self.t.mp_infos else 503)

    async def metrics(self, req: web.Request) -> web.Response:
        return web.Response(body=await self.t.metrics(), headers={"Content-Type": PROM_CONTENT_TYPE})

    async def daemon(self, req: web.Request) -> web.Response:
        what = req.query.get("what", "node_status")
        if what not in NODE_STATUS_WHAT:
            raise ErrBadRequest(f'invalid "what" query for a target: "{what}" (expecting {", ".join(NODE_STATUS_WHAT)})')
        return web.json_response(await self.t.node_status())

    async def redirect(self, req: web.Request) -> web.Response:
        bck, name = bucket_obj_from_request(req)
        if not self.t.mp_infos:
            await self.t.snode()
        node = Snode(self.t.tid, "target", self.t.url, 0, self.t.mp_infos)
        mp = node.mountpath_for(bck.uname(name))
        if req.method == "GET":
            resp = await self.t.reads.serve(req, bck, name, mp.path, self.t.tid)
            if resp is not None:
                return resp
        raw, _, query = req.raw_path.partition("?")
        raise web.HTTPTemporaryRedirect(redirect_location(mp.url, req.method, raw, query, req.get("claims"),
                                                          req.query.get(H.Q_GRANT), bck))


TargetActor = ray.remote(_TargetActor)
