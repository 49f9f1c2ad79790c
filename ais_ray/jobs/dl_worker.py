"""Download items onto one mountpath: the mountpath actor's share of every download job, and of
every prefetch (its objects written as cold GETs: `DlJobCtx.owt`, `cached_ok`).

Runs on the mountpath's I/O loop. Each item is read from its link and streamed into a work
file on this disk, then committed atomically with its source identity (ETag / version /
size) and job id, so a re-run skips what is unchanged and a resumed job counts nothing
twice. Retries resets, 5xx and timeouts with backoff; never 4xx.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ais_ray.backends.base import RemoteObj
from ais_ray.backends.curlhttp import Transfer
from ais_ray.core.blob import BlobParams
from ais_ray.core.dload import DlItem, TaskInfo
from ais_ray.core.errors import AisError, ErrBadRequest, ErrNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.namelock import Held
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import Source, queued_writes, write_bytes, write_stream
from ais_ray.jobs.blob import BlobDownload
from ais_ray.jobs.blob_chunks import remove_object
from ais_ray.jobs.dl_source import Sources, SrcMeta, is_retriable
from ais_ray.jobs.ratelimit import TokenBucket

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 4
# A job's objects in flight per mountpath by default: a download job without a connection limit,
# a prefetch without `num-workers`.
MP_CONCURRENCY = 16
BACKOFF_S = 0.2  # 0.2, 0.4, 0.8 s between attempts
OK, SKIPPED, ERROR = "ok", "skipped", "error"
BLOB = "blob"  # not fetched: its source has at least `DlJobCtx.blob_over` bytes (a prefetch's blob threshold)
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
    owt: Owt = Owt.DOWNLOAD  # how a fetched object is written: a download, or a prefetch's cold GET (Owt.COLD_GET)
    cached_ok: bool = False  # a copy held here is kept without asking its source (prefetch without latest-ver)
    blob_over: int = 0  # > 0: a source of at least this many bytes is not fetched, its result BLOB with its size


@dataclass(frozen=True, slots=True)
class DlResult:
    idx: int
    name: str
    status: str
    size: int = 0
    error: str = ""
    start: float = 0.0
    end: float = 0.0
    cause: AisError | None = None  # the typed error, for a caller in this process (prefetch); not sent

    def __reduce__(self) -> tuple[type[DlResult], tuple[int, str, str, int, str, float, float]]:
        return DlResult, (self.idx, self.name, self.status, self.size, self.error, self.start, self.end)  # as DlItem's


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


class _Batch:
    """One `run` call's items: their results by position, and a future set once all are in."""

    __slots__ = ("results", "left", "fut")

    def __init__(self, n: int) -> None:
        self.results: list[DlResult | None] = [None] * n
        self.left = n
        self.fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not n:
            self.fut.set_result(None)

    def put(self, i: int, r: DlResult) -> None:
        self.results[i] = r
        self.left -= 1
        if not self.left and not self.fut.done():  # (done: its caller was cancelled)
            self.fut.set_result(None)


class _Lane:
    """A job's items on this mountpath, in the order they came, at most `conc` under way.

    A small object that nobody else is writing and this disk does not hold, of a link whose
    GET starts without an await (http(s); S3 once its bucket is ready: `Sources.start`), goes
    the quick way (`_Quick`): its GET, its write on the writer thread and its result are
    callbacks, with no coroutine or task of its own. Everything else — a HEAD first (held
    here), other bucket URIs, a rate limit, an fsync per object, a mirrored bucket, a body past
    HIGH_WATER, a transient failure to retry — is a task running `DlWorker._one`."""

    def __init__(self, worker: DlWorker, st: _JobState, conc: int) -> None:
        self.w, self.st, self.conc = worker, st, max(1, conc)
        self.running = 0
        self.queue: deque[tuple[DlJobCtx, _Batch, int, DlItem, ObjAttrs | None, bool]] = deque()
        self.quick: set[_Quick] = set()  # GETs under way the quick way (abort closes them)

    def push(self, job: DlJobCtx, batch: _Batch, items: Sequence[DlItem], held: dict[str, ObjAttrs]) -> None:
        quick = self.st.limiter is None and job.fsync != "object" and queued_writes(self.w.store, job.bck, False)
        q = self.queue
        for i, it in enumerate(items):
            existing = held.get(it.name)
            if existing is not None and job.cached_ok:
                batch.put(i, DlResult(it.idx, it.name, SKIPPED, existing.size))
                continue
            q.append((job, batch, i, it, existing, quick))
        self.pump()

    def pump(self) -> None:
        st, q = self.st, self.queue
        while self.running < self.conc and q:
            job, batch, i, item, existing, quick = q.popleft()
            if st.aborted:
                batch.put(i, DlResult(item.idx, item.name, ERROR, error="aborted"))
                continue
            self.running += 1
            if quick and existing is None and _Quick.start(self, job, batch, i, item):
                continue
            self.spawn(batch, i, item, self.w._one(job, st, item, existing))

    def spawn(self, batch: _Batch, i: int, item: DlItem, coro: Coroutine[Any, Any, DlResult]) -> asyncio.Task[DlResult]:
        """An item's slot runs `coro` as a task (tracked for `abort`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.st.tasks.add(task)
        task.add_done_callback(functools.partial(self._task_done, batch, i, item))
        return task

    def _task_done(self, batch: _Batch, i: int, item: DlItem, task: asyncio.Task[DlResult]) -> None:
        self.st.tasks.discard(task)
        if task.cancelled():
            r = DlResult(item.idx, item.name, ERROR, error="aborted", end=time.time())
        else:
            r = task.result()  # `_one` turns every failure into a result
        self.done(batch, i, r)

    def done(self, batch: _Batch, i: int, r: DlResult) -> None:
        self.running -= 1
        batch.put(i, r)
        self.pump()

    def abort(self) -> None:
        """Every quick GET under way ends now, and nothing queued starts (all: "aborted")."""
        for qk in list(self.quick):
            qk.abort()
        while self.queue:
            _job, batch, i, item, _e, _q = self.queue.popleft()
            batch.put(i, DlResult(item.idx, item.name, ERROR, error="aborted"))


class _Quick:
    """One small object the quick way (`_Lane`): the GET started, `_ended` when libcurl is done
    with it, the write queued to the writer thread, `_end` with its outcome. Holds the
    object's name lock throughout. Stands in `current` for its progress (`name`, `downloaded`,
    `total`, `start_time`)."""

    __slots__ = ("lane", "job", "batch", "i", "item", "tr", "lock", "start_time", "total")

    def __init__(self, lane: _Lane, job: DlJobCtx, batch: _Batch, i: int, item: DlItem, lock: Held) -> None:
        self.lane, self.job, self.batch, self.i, self.item, self.lock = lane, job, batch, i, item, lock
        self.tr: Transfer | None = None
        self.start_time = time.time()
        self.total = 0

    @classmethod
    def start(cls, lane: _Lane, job: DlJobCtx, batch: _Batch, i: int, item: DlItem) -> bool:
        """Start `item` the quick way; False: it cannot — its name is being written (the usual
        way waits for that writer), or its link cannot be started so (`Sources.start`)."""
        w = lane.w
        key = job.bck.uname(item.name)
        lock = w.store.locks.claim(key)
        if lock is None:
            return False
        qk = cls(lane, job, batch, i, item, lock)
        try:
            tr = qk.tr = w.sources.start(item.link, lane.st.headers, job.timeout)
        except Exception:  # a link that will not start (a bad one): the usual way reports it
            tr = None
        if tr is None:
            w.store.locks.release(key, lock, asyncio.CancelledError())  # (nobody waits: claimed just now)
            return False
        tr.notify = qk._ended
        lane.quick.add(qk)
        lane.st.current[item.name] = qk  # type: ignore[assignment]
        return True

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def downloaded(self) -> int:
        return self.tr.buffered if self.tr is not None else 0

    def _ended(self) -> None:
        tr, lane, item = self.tr, self.lane, self.item
        assert tr is not None
        tr.notify = None
        lane.quick.discard(self)
        if not tr.done:  # paused past HIGH_WATER: not small; the usual way reads on from here
            self._hand_over(tr, 0)
            return
        try:
            meta = lane.w.sources.reply(item.link, tr)
        except AisError as err:
            if is_retriable(err) and MAX_ATTEMPTS > 1:
                self._hand_over(None, 1)  # the attempts left, with their backoff
            else:
                self._end(None, err)
            return
        except Exception as exc:  # a reply nobody parses (a bug): this object's error, the loop goes on
            self._end(None, exc)
            return
        job = self.job
        if job.blob_over and meta.size >= job.blob_over:  # read whole already (under HIGH_WATER): dropped all the same
            self._end(None, _OverThreshold(meta.size))
            return
        data = tr.body()
        self.total = size = sum(map(len, data))
        if meta.size >= 0 and size != meta.size:
            self._end(None, ErrBadRequest(f'"{job.bck}/{item.name}": got {size} bytes of {meta.size}'))
            return
        lane.w.store.writer.submit(self._end, write_bytes, lane.w.store, job.bck, item.name, data, job.owt,
                                   src=Source(meta.etag, meta.version, meta.size), job=job.id, fsync=False,
                                   new=True)  # (the batch's pre-check found none: `pump`)

    def _hand_over(self, tr: Transfer | None, tried: int) -> None:
        lane, item = self.lane, self.item
        task = lane.st.current[item.name] = TaskInfo(item.name, start_time=self.start_time)
        t = lane.spawn(self.batch, self.i, item, lane.w._rest(self.job, lane.st, item, task, self.lock, tr, tried))
        if tr is not None:  # a task cancelled before its first step never reads it: end it then
            t.add_done_callback(lambda _t: tr.close())

    def _end(self, attrs: ObjAttrs | None, exc: BaseException | None) -> None:
        """The outcome (the writer thread's callback, or a failure before the write)."""
        lane, item = self.lane, self.item
        lane.st.current.pop(item.name, None)
        lane.w.store.locks.release(self.job.bck.uname(item.name), self.lock, attrs if exc is None else exc)
        if exc is None:
            assert attrs is not None
            r = DlResult(item.idx, item.name, OK, attrs.size, start=self.start_time, end=time.time())
        else:
            r = _failed(item, exc, self.start_time)
        lane.done(self.batch, self.i, r)

    def abort(self) -> None:
        tr, lane = self.tr, self.lane
        lane.quick.discard(self)
        if tr is not None:
            tr.notify = None
            tr.close()
        lane.st.current.pop(self.item.name, None)
        lane.w.store.locks.release(self.job.bck.uname(self.item.name), self.lock, asyncio.CancelledError())
        lane.done(self.batch, self.i, DlResult(self.item.idx, self.item.name, ERROR, error="aborted", end=time.time()))


class _OverThreshold(Exception):
    """A source of at least the job's `blob_over` bytes, found once its reply's head is in: the
    item's result is BLOB (its caller runs a blob download of it), nothing is written."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _failed(item: DlItem, exc: BaseException, start: float) -> DlResult:
    """An item's failure as its result: a typed error's message, else the exception (logged: a bug
    or this disk's own failure). A source over the job's blob threshold is not a failure: BLOB."""
    if isinstance(exc, _OverThreshold):
        return DlResult(item.idx, item.name, BLOB, exc.size, start=start, end=time.time())
    if isinstance(exc, AisError):
        return DlResult(item.idx, item.name, ERROR, error=exc.message, start=start, end=time.time(), cause=exc)
    log.error("download %s", item.link, exc_info=exc)
    return DlResult(item.idx, item.name, ERROR, error=f"{type(exc).__name__}: {exc}", start=start, end=time.time())


@dataclass
class _JobState:
    limiter: TokenBucket | None
    headers: dict[str, str]  # the job's, for every request of its items
    current: dict[str, TaskInfo] = field(default_factory=dict)
    tasks: set[asyncio.Task[DlResult]] = field(default_factory=set)  # to abort
    aborted: bool = False
    batches: int = 0  # `run` calls of the job under way here
    lane: _Lane = field(init=False)


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
            st = self.jobs[job.id] = _JobState(TokenBucket(job.rate) if job.rate > 0 else None, dict(job.headers))
            st.lane = _Lane(self, st, job.concurrency)
        return st

    async def run(self, job: DlJobCtx, items: Sequence[DlItem], *, until_idle: bool = False) -> list[DlResult]:
        """One batch of `job`. `until_idle`: the job's state here is dropped once none of its
        batches runs (a prefetch or a copy, whose target never aborts or forgets it here); else
        it lasts until `forget` (a download job: its abort and progress span its batches)."""
        st = self._state(job)
        st.batches += 1
        try:
            # What this disk already holds, for the whole batch in one thread call.
            held = await asyncio.to_thread(self._load_many, job.bck, [it.name for it in items])
            # The items join the job's lane. A cancelled caller does not stop them: the items under
            # way finish (a re-dispatched item joins its fetch through the object's name lock,
            # `fs/namelock.py`), as any other fetcher of the object does.
            batch = _Batch(len(items))
            st.lane.push(job, batch, items, held)
            await batch.fut
        finally:
            st.batches -= 1
            if until_idle and not st.batches:
                self.forget(job.id)
        results = [r for r in batch.results if r is not None]
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
        st.lane.abort()
        for fut in list(st.tasks):
            fut.cancel()
        if st.tasks:
            await asyncio.gather(*st.tasks, return_exceptions=True)

    def forget(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    async def _one(self, job: DlJobCtx, st: _JobState, item: DlItem, existing: ObjAttrs | None) -> DlResult:
        if st.aborted:
            return DlResult(item.idx, item.name, ERROR, error="aborted")
        start = time.time()
        st.current[item.name] = task = TaskInfo(item.name, start_time=start)
        try:
            status, size = await self._download(job, st, item, task, existing)
            return DlResult(item.idx, item.name, status, size, start=start, end=time.time())
        except Exception as exc:  # reported per object, the job goes on
            return _failed(item, exc, start)
        finally:
            st.current.pop(item.name, None)

    async def _rest(self, job: DlJobCtx, st: _JobState, item: DlItem, task: TaskInfo, lock: Held,
                    started: Transfer | None, tried: int) -> DlResult:
        """An item begun the quick way that needs the usual one (`_Quick._hand_over`): read on from
        its GET `started`, or the attempts left after `tried` failed ones, under the name lock it holds."""
        key = job.bck.uname(item.name)
        try:
            attrs = await self._fetch_for_good(job, st, item, task, st.headers, started=started, tried=tried)
        except BaseException as exc:
            self.store.locks.release(key, lock, exc)
            if isinstance(exc, Exception):
                return _failed(item, exc, task.start_time)
            raise
        else:
            self.store.locks.release(key, lock, attrs)
            return DlResult(item.idx, item.name, OK, attrs.size, start=task.start_time, end=time.time())
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
                              headers: dict[str, str], *, started: Transfer | None = None, tried: int = 0) -> ObjAttrs:
        """Every attempt at one item (under its name lock). Attempts of a large object resume
        each other's chunks; once the last one fails, its partial download is removed.
        `started`: the first attempt reads on from this GET; `tried`: attempts made already."""
        first = [started] if started is not None else []
        try:
            return await self._with_retries(lambda: self._fetch(job, st, item, task, headers, first.pop() if first else None),
                                            tried)
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

    async def _with_retries(self, op: Callable[[], Awaitable[T]], tried: int = 0) -> T:
        """`op` until it succeeds, fails for good (not `is_retriable`) or MAX_ATTEMPTS were made
        (`tried` of them before this call), BACKOFF_S doubling between attempts."""
        attempt = tried
        while True:
            if attempt:
                await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                return await op()
            except AisError as err:
                attempt += 1
                if not is_retriable(err) or attempt >= MAX_ATTEMPTS:
                    raise

    async def _fetch(self, job: DlJobCtx, st: _JobState, item: DlItem, task: TaskInfo,
                     headers: dict[str, str], started: Transfer | None = None) -> ObjAttrs:
        """Stream the link through the write pipeline (an object under WRITE_BATCH never touches
        the disk until one thread call writes, checksums, fsyncs and commits it). `started`: its
        GET, under way already."""
        task.downloaded = 0  # a retry starts over

        def count(chunk: bytes) -> Awaitable[None] | None:
            task.downloaded += len(chunk)
            return st.limiter.take(len(chunk)) if st.limiter is not None else None

        async with self.sources.open(item.link, headers, job.timeout, started=started) as (meta, body):
            if job.blob_over and meta.size >= job.blob_over:
                raise _OverThreshold(meta.size)  # its body unread: the stream is closed
            task.total = max(meta.size, 0)
            ranged = job.ranged and meta.size >= RANGED_MIN and self._ranged_slots > 0
            if not ranged:  # else this stream is dropped unread: the ranges take over
                return await write_stream(self.store, job.bck, item.name, body, job.owt,
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
                          RANGED_PARAMS, job=job.id, owt=job.owt)
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
