"""Download items onto one mountpath: the mountpath actor's share of every download job.

Runs on the mountpath's I/O loop. Each item is read from its link and streamed into a work
file on this disk, then committed atomically with its source identity (ETag / version /
size) and job id, so a re-run skips what is unchanged and a resumed job counts nothing
twice. Retries resets, 5xx and timeouts with backoff; never 4xx.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ais_ray.backends.base import RemoteObj
from ais_ray.core.blob import BlobParams
from ais_ray.core.dload import DlItem, TaskInfo
from ais_ray.core.errors import AisError, ErrNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import Source, write_stream
from ais_ray.jobs.blob import BlobDownload
from ais_ray.jobs.blob_chunks import remove_object
from ais_ray.jobs.dl_source import Sources, SrcMeta, is_retriable
from ais_ray.jobs.ratelimit import TokenBucket

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 4
BACKOFF_S = 0.2  # 0.2, 0.4, 0.8 s between attempts
OK, SKIPPED, ERROR = "ok", "skipped", "error"
DONE = "done"  # stored here by this job already (before a restart, or before a rebalance moved it here)
# A large object in a job without limits is read as parallel ranges by the blob engine, as
# s5cmd, rclone and `aws s3 cp` split large objects: one connection is capped by the remote.
# At most RANGED_SLOTS such objects at a time per mountpath (memory: ~2 x workers x chunk
# each); the others take one stream as usual.
RANGED_MIN = 32 << 20
RANGED_PARAMS = BlobParams(chunk_size=8 << 20, workers=4)
RANGED_SLOTS = 4


@dataclass(frozen=True, slots=True)
class DlJobCtx:
    """What a mountpath needs to run items of a job (sent with every batch)."""

    id: str
    bck: Bucket
    timeout: float = 0.0
    concurrency: int = 16
    rate: float = 0.0  # bytes/s for this mountpath, 0 = unlimited
    headers: tuple[tuple[str, str], ...] = ()
    ranged: bool = False  # large objects may be read as parallel ranges (no limits, no custom headers)
    fsync: str = "batch"  # core/dload.py FSYNC_MODES: "batch" syncs a whole batch once, before it is reported


@dataclass(frozen=True, slots=True)
class DlResult:
    idx: int
    name: str
    status: str
    size: int = 0
    error: str = ""
    start: float = 0.0
    end: float = 0.0


class GroupSync:
    """One `syncfs` at a time per mountpath; callers that come while one runs share the next.

    The group commit across batches: a batch is reported only after a sync that *started after*
    it asked (its objects were written by then), but four batches finishing close together cost
    one or two syncs instead of four, and at most one I/O thread waits in `syncfs` (the others
    keep committing objects)."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self._sync = sync
        self._last: asyncio.Future[None] | None = None  # the round running or queued last
        self._open: asyncio.Future[None] | None = None  # a round not started yet: joinable
        self.rounds = 0

    async def sync(self) -> None:
        fut = self._open
        if fut is None:
            fut = self._open = self._last = asyncio.ensure_future(self._round(self._last))
        await asyncio.shield(fut)

    async def _round(self, prev: asyncio.Future[None] | None) -> None:
        if prev is not None:
            await asyncio.gather(prev, return_exceptions=True)
        self._open = None  # callers from now on need a sync that starts after them: the next round
        self.rounds += 1
        await asyncio.to_thread(self._sync)


@dataclass
class _JobState:
    sem: asyncio.Semaphore
    limiter: TokenBucket | None
    headers: dict[str, str]  # the job's, for every request of its items
    current: dict[str, TaskInfo] = field(default_factory=dict)
    tasks: set[asyncio.Task[DlResult]] = field(default_factory=set)  # to abort
    aborted: bool = False


class DlWorker:
    def __init__(self, store: MountpathStore, sources: Sources) -> None:
        self.store = store
        self.sources = sources
        self.jobs: dict[str, _JobState] = {}
        self._ranged_slots = RANGED_SLOTS
        self._group_sync = GroupSync(store.sync_fs)

    def _state(self, job: DlJobCtx) -> _JobState:
        st = self.jobs.get(job.id)
        if st is None:
            st = self.jobs[job.id] = _JobState(asyncio.Semaphore(max(1, job.concurrency)),
                                               TokenBucket(job.rate) if job.rate > 0 else None, dict(job.headers))
        return st

    async def run(self, job: DlJobCtx, items: Sequence[DlItem]) -> list[DlResult]:
        st = self._state(job)
        # What this disk already holds, for the whole batch in one thread call.
        held = await asyncio.to_thread(self._load_many, job.bck, [it.name for it in items])
        # One task per item, tracked for `abort`. `asyncio.wait` does not cancel them when this call
        # is cancelled: the items under way finish (a re-dispatched item joins its fetch through the
        # object's name lock, `fs/namelock.py`), as any other fetcher of the object does.
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._one(job, st, it, held.get(it.name))) for it in items]
        st.tasks.update(tasks)
        for t in tasks:
            t.add_done_callback(st.tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
        results = [t.result() if not t.cancelled() else DlResult(it.idx, it.name, ERROR, error="aborted", end=time.time())
                   for t, it in zip(tasks, items)]
        if job.fsync == "batch" and any(r.status in (OK, DONE) for r in results):
            # the group commit: nothing of this batch is reported done before it is durable (DONE
            # too: found committed by this job before a restart, maybe never synced)
            await self._group_sync.sync()
        return results

    def progress(self, job_id: str) -> list[TaskInfo]:
        st = self.jobs.get(job_id)
        return [TaskInfo(t.name, t.downloaded, t.total, t.start_time) for t in st.current.values()] if st else []

    async def abort(self, job_id: str) -> None:
        st = self.jobs.get(job_id)
        if st is None:
            return
        st.aborted = True
        for fut in list(st.tasks):
            fut.cancel()
        if st.tasks:
            await asyncio.gather(*st.tasks, return_exceptions=True)

    def forget(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    async def _one(self, job: DlJobCtx, st: _JobState, item: DlItem, existing: ObjAttrs | None) -> DlResult:
        async with st.sem:
            if st.aborted:
                return DlResult(item.idx, item.name, ERROR, error="aborted")
            start = time.time()
            st.current[item.name] = task = TaskInfo(item.name, start_time=start)
            try:
                status, size = await self._download(job, st, item, task, existing)
                return DlResult(item.idx, item.name, status, size, start=start, end=time.time())
            except AisError as err:
                return DlResult(item.idx, item.name, ERROR, error=err.message, start=start, end=time.time())
            except Exception as exc:  # a bug or local I/O failure: reported per object, the job goes on
                log.exception("download %s", item.link)
                return DlResult(item.idx, item.name, ERROR, error=f"{type(exc).__name__}: {exc}", start=start, end=time.time())
            finally:
                st.current.pop(item.name, None)

    async def _download(self, job: DlJobCtx, st: _JobState, item: DlItem, task: TaskInfo,
                        existing: ObjAttrs | None) -> tuple[str, int]:
        headers = st.headers
        if existing is not None:
            if existing.job == job.id:
                return DONE, existing.size  # done by this job before a restart (or moved here)
            meta = await self._with_retries(lambda: self.sources.head(item.link, headers, job.timeout))
            if existing.same_source(meta.etag, meta.version, meta.size):
                return SKIPPED, existing.size
        attrs = await self.store.locks.once(job.bck.uname(item.name),
                                            lambda: self._fetch_for_good(job, st, item, task, headers))
        return OK, attrs.size

    async def _fetch_for_good(self, job: DlJobCtx, st: _JobState, item: DlItem, task: TaskInfo,
                              headers: dict[str, str]) -> ObjAttrs:
        """Every attempt at one item (under its name lock). Attempts of a large object resume
        each other's chunks; once the last one fails, its partial download is removed."""
        try:
            return await self._with_retries(lambda: self._fetch(job, st, item, task, headers))
        except AisError:
            if job.ranged:
                await asyncio.to_thread(remove_object, self.store, job.bck.uname(item.name))
            raise

    def _load_many(self, bck: Bucket, names: list[str]) -> dict[str, ObjAttrs]:
        held = {}
        for name in names:
            try:
                if (attrs := self.store.find(bck, name)) is not None:
                    held[name] = attrs
            except ErrNotFound:
                pass
            except Exception:  # unreadable metadata: fetch it again; a failing commit is that item's error
                log.exception("metadata of %s/%s", bck, name)
        return held

    async def _with_retries(self, op: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await op()
            except AisError as err:
                if not is_retriable(err) or attempt == MAX_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    async def _fetch(self, job: DlJobCtx, st: _JobState, item: DlItem, task: TaskInfo,
                     headers: dict[str, str]) -> ObjAttrs:
        """Stream the link through the write pipeline (an object under WRITE_BATCH never touches
        the disk until one thread call writes, checksums, fsyncs and commits it)."""
        task.downloaded = 0  # a retry starts over

        def count(chunk: bytes) -> Awaitable[None] | None:
            task.downloaded += len(chunk)
            return st.limiter.take(len(chunk)) if st.limiter is not None else None

        async with self.sources.open(item.link, headers, job.timeout) as (meta, body):
            task.total = max(meta.size, 0)
            ranged = job.ranged and meta.size >= RANGED_MIN and self._ranged_slots > 0
            if not ranged:  # else this stream is dropped unread: the ranges take over
                return await write_stream(self.store, job.bck, item.name, body, Owt.DOWNLOAD,
                                          src=Source(meta.etag, meta.version, meta.size), job=job.id,
                                          expect_size=meta.size, on_chunk=count, fsync=job.fsync == "object")
        self._ranged_slots -= 1  # (a soft bound: others may have passed the check meanwhile)
        try:
            return await self._fetch_ranges(job, item, task, meta)
        finally:
            self._ranged_slots += 1

    async def _fetch_ranges(self, job: DlJobCtx, item: DlItem, task: TaskInfo, meta: SrcMeta) -> ObjAttrs:
        """The blob engine: RANGED_PARAMS readers into one work file, committed as this job's.
        A transient failure keeps the chunks written so far; the item's retry resumes from them.
        Runs under this item's name lock (the blob download is its writer: progress, abort)."""
        obj = RemoteObj(name=item.name, size=meta.size, etag=meta.etag, version=meta.version)
        bd = BlobDownload(self.store, job.bck, item.name, obj, self.sources.range_reader(item.link, meta.size),
                          RANGED_PARAMS, job=job.id, owt=Owt.DOWNLOAD)
        run = bd.start(held=self.store.locks.held(job.bck.uname(item.name)))
        try:
            while not (await asyncio.wait([run], timeout=0.5))[0]:
                task.downloaded = bd.stats.done
            task.downloaded = bd.stats.done
            return run.result()
        except BaseException:
            if not run.done():  # aborted: nothing stays on disk
                await bd.abort()
            raise
