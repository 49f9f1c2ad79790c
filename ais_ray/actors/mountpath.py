"""Mountpath actor: owns one disk directory of a target, serves its objects, runs its share of jobs.

One process per disk: Python's GIL makes a process a unit of CPU, so N disks get N
processes checksumming and copying in parallel (the Python form of AIStore's per-mountpath
joggers). Created by its target, pinned to the same node by the target's custom resource.
"""

from __future__ import annotations

import asyncio
import json
import logging
import functools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import ray

from ais_ray.actors.dataserver import DataServer
from ais_ray.actors.ioloop import IoLoop
from ais_ray.actors.mpu import remove_stale as remove_stale_uploads
from ais_ray.core import lom, nodelog
from ais_ray.core.blob import blob_source
from ais_ray.core.bmd import BMD, RemoteRef, remote_of
from ais_ray.core.dload import DlItem, TaskInfo
from ais_ray.core.errors import AisError, ErrBadRequest, ErrInvalidName, ErrNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.owt import Owt
from ais_ray.core.redundancy import ECConf
from ais_ray.ec.slices import ECSlices
from ais_ray.core.smap import Smap
from ais_ray.fs import mirror, walk
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.batches import Gates, Outcome
from ais_ray.jobs.blob import remove_stale_chunks
from ais_ray.jobs.dl_source import Sources
from ais_ray.jobs.archive import ArchiveSpec
from ais_ray.jobs.dl_worker import ERROR, OK, DlJobCtx, DlResult, DlWorker
from ais_ray.jobs.prefetch import BLOB
from ais_ray.jobs.rebalance import MoveStats
from ais_ray.stats import Counters

log = logging.getLogger(__name__)
PORT_FILE = ".ais.port"
FETCH_KEY = "/fetch"  # a copy job's remote sources fetched here (`_copy`): the engine's job key is the copy's + this


@dataclass
class NodeMeta:
    """The newest Smap and BMD this node has seen; replaced whole, never mutated."""

    smap: Smap | None = None
    bmd: BMD = field(default_factory=lambda: BMD(uuid=""))
    prev_smap: Smap | None = None  # the map before the last placement change (get-from-neighbor asks there first)

    @classmethod
    def load(cls, store: MountpathStore) -> NodeMeta:
        smap_raw, bmd_raw = store.load_meta(lom.SMAP_FILE), store.load_meta(lom.BMD_FILE)
        meta = cls()
        try:  # damaged copies must not stop the mountpath: the proxy pushes current ones
            meta.smap = Smap.from_wire(json.loads(smap_raw)) if smap_raw else None
        except Exception as exc:
            log.error("%s: ignoring unreadable Smap copy: %r", store.path, exc)
        try:
            dropped: list[str] = []
            meta.bmd = BMD.from_wire(json.loads(bmd_raw), dropped=dropped) if bmd_raw else BMD(uuid="")
            if dropped:
                log.error("%s: BMD copy: dropped unreadable bucket entries %s", store.path, dropped)
        except Exception as exc:
            log.error("%s: ignoring unreadable BMD copy: %r", store.path, exc)
        return meta


@dataclass
class MountpathContext:
    """What the data server and job workers of one mountpath share."""

    tid: str
    store: MountpathStore
    meta: NodeMeta

    @property
    def stats(self) -> Counters:
        """This mountpath's counters (AIStore names, `ais_ray/stats`), kept by its store."""
        return self.store.stats

    @property
    def node_name(self) -> str:
        return f"t[{self.tid}]"

    @property
    def location(self) -> str:
        return f"t[{self.tid}]:mp[{self.store.path}]"

    # ---- placement within the target, as the newest Smap has it (mirror, listing) -------------
    def enabled_paths(self) -> list[str]:
        """This target's enabled mountpaths (just this one before the first Smap arrives)."""
        tsi = self.meta.smap.targets.get(self.tid) if self.meta.smap else None
        paths = [m.path for m in tsi.mountpaths if m.enabled] if tsi else []
        return paths or [self.store.path]

    def hrw_path(self, bck: Bucket) -> Callable[[str], str]:
        """name -> its HRW mountpath on this target."""
        tsi = self.meta.smap.targets.get(self.tid) if self.meta.smap else None
        if tsi is None or not any(m.enabled for m in tsi.mountpaths):
            return lambda name: self.store.path
        return lambda name: tsi.mountpath_for(bck.uname(name)).path

    def writable(self, bck: Bucket) -> None:
        """Raise while `bck` is a rename's source (`BucketProps.moving`): its objects are being
        copied to the new name and it goes when they are; what it took now would be lost. (The
        destination takes the rename's own copies; clients are refused there by the data server.)"""
        props = self.meta.bmd.get(bck)
        if props is not None and props.moving is not None and props.moving.src == bck:
            raise props.moving.refusal(bck)

    def copies_of(self, bck: Bucket) -> int:
        """How many replicas the bucket's objects have on this target (1: not mirrored)."""
        props = self.meta.bmd.get(bck)
        return props.mirror.n if props is not None else 1

    def listed(self, bck: Bucket) -> walk.Keep | None:
        """The walk filter of listing, jobs and rebalance: each mirrored object once, and no EC
        replica this target holds for another one (None: nothing to filter)."""
        enabled = self.enabled_paths()
        mirrored = mirror.listed_here(self.store.path, self.hrw_path(bck), enabled) if len(enabled) >= 2 else None
        props = self.meta.bmd.get(bck)
        ec_copies = ECSlices(self.store).keep(bck) if props is not None and props.ec.enabled else None
        return walk.all_of(mirrored, ec_copies)


class _MountpathActor:
    def __init__(self, tid: str, path: str, host: str, fsync: bool = True, log_dir: str = "") -> None:
        nodelog.setup(tid, log_dir, f"{tid}/{os.path.basename(path.rstrip('/')) or path}")  # the target's log
        store = MountpathStore(path, fsync=fsync)
        removed = store.cleanup_work()
        if removed:
            log.info("%s: removed %d stale work files", path, removed)
        self.ctx = MountpathContext(tid, store, NodeMeta.load(store))
        store.replicas = self.mirror = mirror.Mirror(store, self.ctx.copies_of, self.ctx.enabled_paths)
        self.io = IoLoop(f"io:{path}")
        self.gates = Gates()  # jobs' batches of items (`run_batch`)
        self.server = DataServer(self.ctx)
        store.on_commit = self.server.ec.committed  # every commit of an EC bucket's object is encoded
        store.writable = self.ctx.writable  # a rename's source takes no new content (`fs/write.py::commit`)
        saved = store.load_meta(PORT_FILE)
        self.url = self.io.run_sync(self.server.start(host, int(saved) if saved else 0))
        if n := remove_stale_uploads(self.server.mpu.root):
            log.info("%s: removed %d multipart uploads nobody completed for a day", path, n)
        stale = self.io.run_sync(remove_stale_chunks(store))
        if stale:
            log.info("%s: removed %d stale partial blob downloads", path, stale)
        store.save_meta(PORT_FILE, self.url.rsplit(":", 1)[1].encode())
        self.dl = DlWorker(store, Sources())
        self._meta_lock = asyncio.Lock()  # `update_meta`: one push at a time

    async def info(self) -> dict[str, Any]:
        cap = await asyncio.to_thread(self.ctx.store.capacity)
        return {"path": self.ctx.store.path, "url": self.url, "pid": os.getpid(),
                "total": cap.total, "used": cap.used, "avail": cap.avail, "fs": cap.fs,
                "stats": self.ctx.stats.snapshot(), "counters": self.ctx.stats.labeled()}

    async def flush_atimes(self) -> int:
        """Write the access times GETs noted (`fs/atime.py`) now, e.g. before shutdown."""
        return await asyncio.to_thread(self.ctx.store.atimes.flush)

    async def reset_stats(self, errors_only: bool = False) -> None:
        self.ctx.stats.reset(errors_only)

    async def update_meta(self, smap: Smap | None, bmd: BMD | None) -> None:
        """Persist and adopt newer cluster metadata (older versions are ignored, as in metasync).

        One at a time: the version is compared and the map adopted under one lock. Two pushes in
        flight (the proxy stops waiting for a busy node after a few seconds and sends the next map)
        otherwise both passed the check, and the older one, finishing its write last, replaced
        the newer: the disk kept placing objects by a map already gone until the next change."""
        meta, store = self.ctx.meta, self.ctx.store
        async with self._meta_lock:
            if smap is not None and (meta.smap is None or meta.smap.accepts(smap)):
                await asyncio.to_thread(store.save_meta, lom.SMAP_FILE, json.dumps(smap.to_wire()).encode())
                if meta.smap is not None and not meta.smap.same_placement(smap):
                    meta.prev_smap = meta.smap
                    self.server.mover.extend_gfn()
                meta.smap = smap
            if bmd is not None and (bmd.version > meta.bmd.version or bmd.uuid != meta.bmd.uuid):
                await asyncio.to_thread(store.save_meta, lom.BMD_FILE, json.dumps(bmd.to_wire()).encode())
                closing = {m.src for m in bmd.moves()} - {m.src for m in meta.bmd.moves()}
                meta.bmd = bmd
                if closing:  # a rename starts: a commit that found its source open is in place before we answer
                    await asyncio.to_thread(store.drain_commits)

    async def stored_bmd(self) -> BMD:
        return self.ctx.meta.bmd

    async def list_page(self, bck: Bucket, prefix: str, start_after: str, limit: int, with_attrs: bool,
                        flags: int = 0) -> list[walk.LsEntry]:
        objs_dir = lom.objects_dir(self.ctx.store.path, bck)
        return await asyncio.to_thread(walk.list_page, objs_dir, prefix=prefix, start_after=start_after,
                                       limit=limit, with_attrs=with_attrs, flags=flags, keep=self.ctx.listed(bck))

    async def present(self, bck: Bucket, names: list[str]) -> dict[str, walk.LsEntry]:
        """Which of `names` are stored here (with their metadata)."""
        def look() -> dict[str, walk.LsEntry]:
            out = {}
            for name in names:
                try:
                    attrs = self.ctx.store.load(bck, name)
                except (ErrNotFound, ErrInvalidName):
                    continue
                out[name] = walk.LsEntry(name, attrs.size, attrs)
            return out

        return await asyncio.to_thread(look)

    # ---- a job's items, many to a call (jobs/batches.py) --------------------------------------------
    async def run_batch(self, op: str, key: str, workers: int, args: tuple[Any, ...],
                        items: list[tuple[Any, ...]]) -> list[Outcome]:
        """Job `key`'s work on objects held here, one `op` per item, at most `workers` of that job at
        a time: each item's (value, error, seconds). The ops:
        - "copy": args (src, dst, latest, sync, etl), item (name, dst_name): copy to the destination's
          owner (copy jobs; through the ETL stages `etl` for etl jobs) -> ("ok"|"skipped", size);
        - "prefetch": args (bck, latest, blob_threshold), item (name,) -> ("ok"|"skipped"|BLOB, size);
        - "ec-encode": args (bck, mode, conf), item (name,) -> "ok"|"skipped";
        - "promote": args (bck, root, overwrite, delete_src), item (path, name): the file stored as
          `bck/name` at its owner, the small ones owned here in one group commit
          (`Copies.promote`) -> ("ok"|"skipped", size).
        A batch of a job aborted here (`stop_batches`) runs none of its items.
        """
        if (err := self.gates.stopped(key)) is not None:
            return [(None, err, 0.0) for _ in items]
        if op == "copy":  # the small objects many to a request (actors/copies.py)
            return await self.io.run(self._copy(key, workers, items, *args))
        if op == "promote":  # the small files owned here in one group commit (actors/copies.py)
            return await self.io.run(self.server.copies.promote(self.gates, key, workers, items, *args))
        if op == "prefetch":  # the download engine (`_prefetch`), but for HTTP buckets
            bck, latest, threshold = args
            ref = self._fetchable(bck)
            if ref is not None:
                return await self.io.run(self._prefetch(key, workers, bck, ref, latest, threshold,
                                                        [name for name, in items]))
        ops: dict[str, Callable[..., Awaitable[Any]]] = {"prefetch": self._prefetch_obj, "ec-encode": self._ec_encode_obj}
        fn = ops.get(op)
        if fn is None:
            raise ErrBadRequest(f"no such batch operation: {op!r}")
        return await self.io.run(self.gates.run(key, workers, [functools.partial(fn, *item, *args) for item in items]))

    async def stop_batches(self, key: str) -> None:
        """Job `key` was aborted: its items queued here are not run (each answers "aborted"), in the
        gates and in the download engine; those under way finish, as one object's write does."""
        self.gates.stop(key)
        await self.io.run(self.dl.abort(key))

    def _fetchable(self, bck: Bucket) -> RemoteRef | None:
        """The remote side of `bck` if the download engine can fetch its objects (`_fetch`): not
        an HTTP bucket, whose backend names each object's URL itself."""
        props = self.ctx.meta.bmd.get(bck)
        ref = remote_of(bck, props) if props is not None else None
        return ref if ref is not None and ref.bck.provider is not Provider.HT else None

    async def _fetch(self, key: str, workers: int, bck: Bucket, ref: RemoteRef, latest: bool,
                     names: list[str], blob_over: int = 0) -> list[DlResult]:
        """Bring `names` of remote bucket `bck` here in the download engine (`jobs/dl_worker.py`), as
        cold GETs: one look at what this disk holds for the whole batch, each missing object's GET
        and write the quick way (S3: libcurl and the writer thread, no task per object), one
        `syncfs` for the batch before it returns (a group commit), at most `workers` of job `key`'s
        objects at a time here. A held copy is kept (with `latest`: after a HEAD says it is
        current). Written as cold GETs write (`Owt.COLD_GET`: the remote's version kept, no job)
        and counted as they count (`remote.get{backend}`, `err.remote`). `blob_over` > 0: an object
        of at least that many bytes is left unread once its GET's head is in (result BLOB, its size)."""
        job = DlJobCtx(key, bck, concurrency=workers, owt=Owt.COLD_GET, cached_ok=not latest, blob_over=blob_over)
        results = await self.dl.run(job, [DlItem(i, name, f"{ref.bck}/{name}") for i, name in enumerate(names)],
                                    until_idle=True)
        stats, label = self.ctx.stats, ref.bck.provider.value
        for r in results:
            if r.status == OK:
                stats.add("remote.get", r.size, ns=int((r.end - r.start) * 1e9), label=label)
            elif r.status == ERROR and not isinstance(r.cause, ErrNotFound) and r.error != "aborted":
                stats.add("err.remote", label=label)
        return results

    async def _prefetch(self, key: str, workers: int, bck: Bucket, ref: RemoteRef, latest: bool, threshold: int,
                        names: list[str]) -> list[Outcome]:
        """A prefetch's batch (`_fetch`; each object fetched also counts `prefetch.cold`; one of at
        least `threshold` bytes, when it is > 0, is answered BLOB: the target runs a blob download
        of it). HTTP buckets stay per object (`_prefetch_obj`)."""
        out: list[Outcome] = []
        for r in await self._fetch(key, workers, bck, ref, latest, names, blob_over=threshold):
            if r.status == OK:
                self.ctx.stats.add("prefetch.cold", r.size)
                out.append((("ok", r.size), None, r.end - r.start))
            elif r.status == BLOB:
                out.append(((BLOB, r.size), None, 0.0))
            elif r.status == ERROR:
                out.append((None, r.cause or AisError(r.error), 0.0))
            else:
                out.append((("skipped", r.size), None, 0.0))
        return out

    async def _copy(self, key: str, workers: int, items: list[tuple[str, str]], src: Bucket, dst: Bucket,
                    latest: bool, sync: bool, etl: tuple[str, ...]) -> list[Outcome]:
        """A copy job's batch (`actors/copies.py`). From a remote source, what this disk does not
        hold is brought here first, the whole batch in the download engine (`_fetch`: a copy
        stores what it reads, as the one-by-one copy's cold GET does), so that the small objects
        then go many to a request; an object that could not be fetched is left to the one-by-one
        copy, which reports its error. `latest` / `sync` check each object's remote version
        themselves (`ObjCopier.copy_one`)."""
        ref = self._fetchable(src) if not (latest or sync) else None
        if ref is not None:
            await self._fetch(key + FETCH_KEY, workers, src, ref, False, [name for name, _ in items])
        return await self.server.copies.copy(self.gates, key, workers, items, src, dst, latest, sync, etl)

    async def _ec_encode_obj(self, name: str, bck: Bucket, mode: str, conf: ECConf) -> str:
        return await self.server.ec.ec.encode(bck, name, mode, conf)

    # ---- rebalance / resilver (actors/mover.py) ----------------------------------------------------
    async def reb_walk(self, xid: str, kind: str, only: list[Bucket] | None = None) -> MoveStats:
        """Move this disk's misplaced objects (of `only` those buckets) for rebalance/resilver `xid`."""
        return await self.io.run(self.server.mover.walk(xid, kind, only))

    async def reb_progress(self, xid: str) -> MoveStats:
        return replace(self.server.mover.stats.get(xid) or MoveStats())

    async def reb_abort(self, xid: str) -> None:
        await self.io.run(self.server.mover.abort(xid))

    async def _prefetch_obj(self, name: str, bck: Bucket, latest: bool, blob_threshold: int) -> tuple[str, int]:
        """Bring one remote object here unless cached (and current, with `latest`): ("ok"|"skipped", size)."""
        ref = remote_of(bck, self.ctx.meta.bmd.must_get(bck))
        if ref is None:
            raise ErrBadRequest(f"{bck} has no remote backend: nothing to prefetch")
        cold = self.server.cold
        local = await self._usable_copy(bck, name, ref, latest)
        if local is not None:
            return "skipped", local.size
        if blob_threshold:
            obj = await cold.head(ref, name)
            if obj.size >= blob_threshold:
                return BLOB, obj.size  # the target runs it as a blob-download job (`blob_job`)
        attrs = await cold.fetch(bck, ref, name)
        self.ctx.stats.add("prefetch.cold", attrs.size)
        return "ok", attrs.size

    async def _usable_copy(self, bck: Bucket, name: str, ref: RemoteRef, latest: bool) -> ObjAttrs | None:
        """The stored copy if there is one (and, with `latest`, it is still the remote's version)."""
        try:
            local = await asyncio.to_thread(self.ctx.store.load, bck, name)
        except ErrNotFound:
            return None
        if latest and not await self.server.cold.is_current(ref, name, local):
            return None
        return local

    async def blob_job(self, bck: Bucket, name: str, chunk: int | None, workers: int | None, latest: bool,
                       job: str, counter: str = "") -> tuple[str, int]:
        """The `blob-download` job's work on this mountpath: ("ok"|"skipped", size); `counter` (e.g.
        "prefetch.blob") also counts the object when the job is a prefetch's blob child."""
        return await self.io.run(self._blob_job(bck, name, chunk, workers, latest, job, counter))

    async def _blob_job(self, bck: Bucket, name: str, chunk: int | None, workers: int | None, latest: bool,
                        job: str, counter: str) -> tuple[str, int]:
        ref = blob_source(bck, remote_of(bck, self.ctx.meta.bmd.must_get(bck)))
        local = await self._usable_copy(bck, name, ref, latest)
        if local is not None:
            return "skipped", local.size
        obj = await self.server.cold.head(ref, name)
        attrs = await self.server.blobs.fetch(bck, ref, name, obj, chunk=chunk, workers=workers, job=job)
        if counter:
            self.ctx.stats.add(counter, attrs.size)
        return "ok", attrs.size

    async def blob_progress(self, bck: Bucket, name: str) -> tuple[int, int]:
        async def progress() -> tuple[int, int]:
            return self.server.blobs.progress(bck, name)

        return await self.io.run(progress())

    async def blob_abort(self, bck: Bucket, name: str) -> None:
        async def abort() -> None:
            bd = self.server.blobs.running(bck, name)
            if bd is not None:
                await bd.abort()

        await self.io.run(abort())

    async def archive_job(self, xid: str, spec: ArchiveSpec, names: list[str]) -> tuple[int, int, int, list[str]]:
        """The `archive` job's shard, written here (`actors/archiver.py`)."""
        return await self.io.run(self.server.archiver.build(xid, spec, names))

    async def archive_progress(self, xid: str) -> tuple[int, int]:
        async def progress() -> tuple[int, int]:
            return self.server.archiver.progress(xid)

        return await self.io.run(progress())

    async def archive_abort(self, xid: str) -> None:
        await self.io.run(self.server.archiver.abort(xid))

    async def bucket_stats(self, bck: Bucket, prefix: str) -> dict[str, Any]:
        """What this mountpath holds of `bck` under `prefix` (`jobs/summary.py`): the objects it
        lists (each mirrored object once, no EC replica of another target's one), their bytes,
        the smallest and largest; `on_disk`, the bytes of every file of the bucket here (replicas,
        EC slices and metafiles too: AIStore's size on disk); its filesystem and that one's size."""
        def walk_all() -> dict[str, Any]:
            keep, base = self.ctx.listed(bck), lom.bucket_dir(self.ctx.store.path, bck)
            n = total = on_disk = 0
            lo, hi = -1, 0
            for ct in (lom.CT_OBJ, lom.CT_EC, lom.CT_META):
                for name, entry in walk.walk_names(f"{base}/{ct}", prefix):
                    try:
                        size = entry.stat().st_size
                    except OSError:
                        continue
                    on_disk += size
                    if ct == lom.CT_OBJ and (keep is None or keep(name, entry.path)):
                        n, total, hi = n + 1, total + size, max(hi, size)
                        lo = size if lo < 0 else min(lo, size)
            cap = self.ctx.store.capacity()
            return {"objs": n, "bytes": total, "min": max(lo, 0), "max": hi, "on_disk": on_disk,
                    "fs": cap.fs, "disk": cap.total}

        return await asyncio.to_thread(walk_all)

    async def make_copies(self, bck: Bucket, n: int) -> tuple[int, int]:
        """make-n-copies share of this mountpath: every object it lists gets `n` replicas; (objects, bytes)."""
        def run() -> tuple[int, int]:
            objs = size = 0
            for name, _ in walk.walk_names(lom.objects_dir(self.ctx.store.path, bck), keep=self.ctx.listed(bck)):
                for attempt in (1, 2):  # the main may be replaced by a writer meanwhile: once more on its new bytes
                    try:
                        attrs = self.mirror.set_copies(bck, name, n)
                    except mirror.ErrCopyCorrupt:
                        if attempt == 2:
                            raise
                        continue
                    except ErrNotFound:
                        break
                    objs, size = objs + 1, size + attrs.size
                    break
            return objs, size

        return await asyncio.to_thread(run)

    async def evict(self, bck: Bucket, names: list[str] | None) -> int:
        """Drop cached copies (all of the bucket's when `names` is None); the remote keeps them."""
        if names is None:
            await asyncio.to_thread(self.ctx.store.destroy_bucket, bck)
            return -1
        return await self.delete_objects(bck, names)

    async def wipe(self) -> None:
        """Delete the objects of every bucket on this disk (a decommissioned node's user data)."""
        for bck in self.ctx.meta.bmd.list():
            await asyncio.to_thread(self.ctx.store.destroy_bucket, bck)

    async def destroy_bucket(self, bck: Bucket) -> None:
        await asyncio.to_thread(self.ctx.store.destroy_bucket, bck)

    async def ec_adopted(self, bck: Bucket, prefix: str, lost: str) -> list[tuple[str, int]]:
        """The objects of lost target `lost` this mountpath's target now owns (`ECManager.adopted`)."""
        return await asyncio.to_thread(self.server.ec.ec.adopted, bck, prefix, lost)

    async def pid(self) -> int:
        return os.getpid()

    # ---- downloads (run on the I/O loop) ---------------------------------------------------------
    async def dl_run(self, job: DlJobCtx, items: list[DlItem]) -> list[DlResult]:
        return await self.io.run(self.dl.run(job, items))

    async def dl_progress(self, job_id: str) -> list[TaskInfo]:
        async def progress() -> list[TaskInfo]:
            return self.dl.progress(job_id)

        return await self.io.run(progress())

    async def dl_abort(self, job_id: str) -> None:
        await self.io.run(self.dl.abort(job_id))

    async def dl_forget(self, job_id: str) -> None:
        async def forget() -> None:
            self.dl.forget(job_id)

        await self.io.run(forget())

    async def remove_objects(self, bck: Bucket, names: list[str]) -> int:
        """Delete objects as a DELETE does (the remote side too): a copy's `sync` pruning; how many went."""
        async def remove() -> int:
            ref = remote_of(bck, self.ctx.meta.bmd.must_get(bck))
            n = 0
            for name in names:
                try:
                    await self.server.cold.remove(bck, ref, name)
                    n += 1
                except ErrNotFound:
                    pass
            return n

        return await self.io.run(remove())

    async def delete_objects(self, bck: Bucket, names: list[str], *, everywhere: bool = False) -> int:
        """How many of `names` were here and are gone; `everywhere`: deleted as a DELETE of each
        deletes it (the remote side, EC slices and replicas elsewhere), else only this disk's copy."""
        if everywhere:
            return await self.io.run(self.server.delete_many(bck, names))

        def delete() -> int:
            n = 0
            for name in names:
                try:
                    self.ctx.store.delete(bck, name)
                    n += 1
                except ErrNotFound:
                    pass
            return n

        return await asyncio.to_thread(delete)


MountpathActor = ray.remote(_MountpathActor)
