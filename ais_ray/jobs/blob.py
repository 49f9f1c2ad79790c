"""The blob downloader engine: one large remote object, N concurrent range readers, one work file.

Runs on a mountpath's asyncio loop: disk writes go through threads, the hash runs on the loop
a slice at a time. The shape follows Go `xact/xs/blob_download.go`: workers read fixed-size
chunks and write them; one in-order reader turns completed chunks back into the object's byte
sequence, which it hashes (xxhash64, so no second pass over the file) and, for a streaming
GET, hands to the client (`blob_window.py`). Chunks stay the pieces the HTTP client read:
nothing is copied into staging buffers (`blob_io.Pieces`). Beyond AIStore:

- **Retries**: a chunk that fails with a reset, a 5xx or a timeout (`chunk_timeout` for the
  whole chunk, Go `ChunkReadTimeout`) is read again, up to `attempts` times with backoff; 4xx
  fail the download at once.
- **Bounded memory, backpressure**: at most (2 × max(workers, 2) + 2) chunks in memory, with or
  without a client; a slow client stalls the readers, not memory.
- **Resume**: chunks go into `<mountpath>/%ch/<key>/data` and a manifest of completed chunks
  is saved every `manifest_every` chunks (`blob_chunks.py`). A process that dies leaves both;
  the next download of the same source version fetches only the chunks the manifest lacks.
  A failure that may pass (reset, 5xx, timeout) keeps them too, unless the caller says it will
  not come back (`keep_failed=False`: a job that failed for good leaves nothing, issue 15
  item 9); a 4xx, a local error, an abort (cancel) or success removes them.
- **Sources that ignore Range** (HTTP 200 with the whole body): reported by the reader as
  ErrRangeIgnored, the download switches to one sequential stream. `workers` <= 1 (and -1,
  serial) use that stream from the start: no ranges.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Literal, TypeVar

from ais_ray.backends.base import RemoteObj, backoff
from ais_ray.core.blob import (
    DEFAULT_CHUNK_READ_TIMEOUT,
    BlobParams,
    ChunkManifest,
    source_identity,
)
from ais_ray.core.errors import AisError, ErrBackend, ErrBadRequest, ErrJobRunning, ErrRangeIgnored, ErrTimeout
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.namelock import Held
from ais_ray.fs.store import MountpathStore, ObjWriter
from ais_ray.fs.write import Source, commit
from ais_ray.jobs import blob_chunks
from ais_ray.jobs.blob_chunks import ChunkDir
from ais_ray.jobs.blob_io import Piece, Pieces, RangeReader, all_or_cancel, backend_reader, in_thread, url_reader
from ais_ray.jobs.blob_window import BlobStats, ChunkWindow

__all__ = ["BlobDownload", "BlobStats", "RangeReader", "backend_reader", "remove_stale_chunks", "running",
           "url_reader"]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_ATTEMPTS = 4  # as the Internet downloader (jobs/dl_worker.py)
MANIFEST_EVERY = 8  # completed chunks between two saves of the resume manifest


class BlobDownload:
    """Download `obj` from `read` into `store` as `bck/name`; commit it atomically.

    `read(offset, length)` yields exactly those bytes of the object (`backend_reader`,
    `url_reader`). Use once: `await run()`, or iterate `stream()` to also get the bytes in order.
    """

    def __init__(self, store: MountpathStore, bck: Bucket, name: str, obj: RemoteObj, read: RangeReader,
                 params: BlobParams, *, job: str = "", chunk_timeout: float = DEFAULT_CHUNK_READ_TIMEOUT,
                 attempts: int = DEFAULT_ATTEMPTS, owt: Owt = Owt.BLOB,
                 manifest_every: int = MANIFEST_EVERY, keep_failed: bool = True) -> None:
        if obj.size < 0:
            raise ErrBadRequest(f'blob download of "{bck}/{name}" needs the object\'s size')
        self.store, self.bck, self.name, self.obj, self.params = store, bck, name, obj, params
        self.job = job
        self._read = read
        self._timeout, self._attempts, self._owt = chunk_timeout, max(1, attempts), owt
        self._manifest_every = max(1, manifest_every)
        self._keep_failed = keep_failed
        identity = source_identity(obj.etag, obj.version, obj.size, obj.last_modified)
        self._cdir = ChunkDir(store, bck.uname(name), identity)
        self._key = bck.uname(name)  # in the store's name locks (fs/namelock.py)
        self._held: Held | None = None
        self.stats = BlobStats(obj.size, params.chunk_size, params.workers)
        self._win = ChunkWindow(self.stats, params.workers)
        self.attrs: ObjAttrs | None = None  # the committed object's, once done
        self._w: ObjWriter | None = None
        self._saver: asyncio.Task[None] | None = None
        self._since_save = 0
        self._task: asyncio.Task[ObjAttrs] | None = None

    @property
    def what(self) -> str:
        return f"{self.bck}/{self.name}"

    # ---- control ----------------------------------------------------------------------------------
    def start(self, held: Held | None = None) -> asyncio.Task[ObjAttrs]:
        """Start on the running loop (once); the task's result is the committed object's attributes.

        Takes the object's name lock, unless `held` says the caller holds it for this download.

        Raises:
            ErrJobRunning: this object is being written on this mountpath already (`running()`
                finds a blob download, to join it; `store.locks.held()` any writer).
        """
        if self._task is None:
            h = held if held is not None else self.store.locks.claim(self._key, self)
            if h is None:
                raise ErrJobRunning(f"blob-download {self.what}")
            h.owner = self
            self._held = h if held is None else None  # a caller's lock is the caller's to release
            self._task = asyncio.get_running_loop().create_task(self._main(), name=f"blob-download {self.what}")
            self._task.add_done_callback(self._on_done)
        return self._task

    async def run(self) -> ObjAttrs:
        """Download and commit. Cancelling this aborts the download (nothing is left on disk)."""
        return await self.start()

    async def wait(self) -> ObjAttrs:
        """Wait for a started download; cancelling the waiter does not abort it."""
        return await asyncio.shield(self.start())

    async def abort(self) -> None:
        """Stop and remove everything: partial file, manifest, chunk directory."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def stream(self, *, on_disconnect: Literal["continue", "abort"] = "continue") -> AsyncIterator[bytes]:
        """Download, and yield the object's bytes strictly in order while storing them.

        Ends after the commit (`attrs` is then set); a failed download raises here, after the
        bytes it had in order. If the consumer stops early the download goes on and commits
        (`"continue"`: the object still gets cached) or is aborted (`"abort"`, what Go does
        when writing to the client fails).
        """
        if self._task is not None:
            raise RuntimeError(f"{self.what}: attach the consumer before the download starts")
        self._win.attached = True
        task = self.start()
        complete = False
        try:
            while (pieces := await self._win.take(task.done)) is not None:
                for p in pieces:
                    yield p if isinstance(p, bytes) else bytes(p)  # only pieces cut at chunk edges are copied
            complete = True
        finally:
            if not complete:
                self._win.detach()
                if on_disconnect == "abort":
                    task.cancel()
        await task  # the commit's outcome: raises if the download failed

    def _on_done(self, task: asyncio.Task[ObjAttrs]) -> None:
        if self._held is not None:
            outcome = task.exception() if not task.cancelled() else asyncio.CancelledError()
            self.store.locks.release(self._key, self._held, task.result() if outcome is None else outcome)
        self._win.notify()
        if not task.cancelled() and task.exception() is not None:  # also marks it retrieved (detached runs)
            log.warning("blob-download %s failed: %s", self.what, task.exception())

    # ---- the download -----------------------------------------------------------------------------
    async def _main(self) -> ObjAttrs:
        committed = keep = False
        try:
            w, manifest = await asyncio.to_thread(self._cdir.open, self.obj.size)
            self._w = w
            if manifest is not None:
                self._win.resume(manifest)
                log.info("blob-download %s: resuming with %d of %d bytes", self.what, self.stats.done, self.obj.size)
            self.stats.chunks = self._win.n
            fetcher = asyncio.ensure_future(self._fetch())
            finisher = asyncio.ensure_future(self._win.in_order(self._pread))
            await all_or_cancel([fetcher, finisher])
            if self.stats.done != self.obj.size:
                raise ErrBackend(f'"{self.what}": stored {self.stats.done} bytes, expected {self.obj.size}')
            await asyncio.to_thread(w.finish)  # flush, fsync, close (the hash is the in-order one)
            src = Source(self.obj.etag, self.obj.version, self.obj.size)
            self.attrs = attrs = await asyncio.to_thread(commit, self.store, w, self.bck, self.name, self._owt,
                                                         finisher.result(), src=src, job=self.job)
            committed = True
            return attrs
        except AisError as err:
            keep = self._keep_failed and self._cdir.resumable and isinstance(err, (ErrBackend, ErrTimeout))
            raise
        finally:
            if self._saver is not None:
                await asyncio.wait([self._saver])
            manifest = self._win.manifest(self._cdir.identity) if keep else None  # all readers have stopped
            await asyncio.shield(asyncio.to_thread(self._cleanup, committed, manifest))

    def _cleanup(self, committed: bool, manifest: ChunkManifest | None) -> None:
        """Blocking. Success: drop the manifest. Transient failure: keep all for resume. Else: drop all.

        Never raises: it runs in a `finally`, where an error would hide the download's own.
        """
        try:
            if manifest is not None and self._w is not None:
                self._w.finish()  # close; data is fsynced before the manifest that names it
                self._cdir.save(manifest)
                return
            if not committed and self._w is not None:
                self._w.abort()
        except OSError as exc:
            log.warning("blob-download %s: cannot keep the partial download: %s", self.what, exc)
        self._cdir.remove()

    async def _fetch(self) -> None:
        if self._win.low >= self._win.n:
            return
        if self.params.serial:
            self.stats.mode = "serial"
            await self._sequential(from_zero=False)
            return
        self.stats.mode = "parallel"
        try:
            todo = self._win.missing()
            workers = min(self.params.workers, self._win.n - self._win.low)
            await all_or_cancel([asyncio.ensure_future(self._worker(todo)) for _ in range(workers)])
        except ErrRangeIgnored as err:
            log.warning("blob-download %s: %s; reading one stream instead", self.what, err.message)
            self.stats.mode = "no-range"
            await self._sequential(from_zero=True)

    async def _worker(self, todo: Iterator[int]) -> None:
        """Read chunk after chunk; each is written by a task of its own, so the next request goes
        out at once (16 workers ending 8 MiB chunks together would queue 128 MiB of writes)."""
        win = self._win
        writes: list[asyncio.Future[None]] = []
        try:
            for idx in todo:  # shared by all workers: each takes the lowest chunk nobody has taken
                await self._turn_or_failed_write(idx, writes)
                off, n = win.span(idx)
                win.hold(n)
                try:
                    pieces = await self._retrying(functools.partial(self._read_chunk, off, n), off)
                except BaseException:
                    win.free(n)
                    raise
                writes.append(asyncio.ensure_future(self._store(idx, pieces, off)))
            await all_or_cancel(writes)
        finally:
            await _stop(writes)

    async def _store(self, idx: int, pieces: list[Piece], off: int) -> None:
        try:
            await in_thread(self._pwrite, pieces, off)
        except BaseException:
            self._win.free(self._win.span(idx)[1])
            self._win.notify()  # a reader waiting for its turn must see this write fail
            raise
        self._chunk_done(idx, pieces)

    async def _turn_or_failed_write(self, idx: int, writes: list[asyncio.Future[None]]) -> None:
        """Wait for chunk `idx`'s turn; raise if a write failed meanwhile (its chunk would never
        complete, so the turn would never come)."""
        win = self._win
        while True:
            for t in [t for t in writes if t.done()]:
                writes.remove(t)
                t.result()
            if win.may_read(idx):
                return
            await win.until(lambda: win.may_read(idx) or any(t.done() for t in writes))

    async def _read_chunk(self, off: int, n: int) -> list[Piece]:
        body = Pieces(self._read(off, n), self.stats)
        try:
            pieces, got = await body.take(n)
            if got != n:
                raise ErrBackend(f'"{self.what}": source sent {got} of {n} bytes at offset {off}')
            if not await body.at_end():
                raise ErrBackend(f'"{self.what}": source sent more than {n} bytes at offset {off}')
            return pieces
        finally:
            await body.aclose()

    async def _retrying(self, op: Callable[[], Awaitable[T]], off: int) -> T:
        """Run one chunk's read under the per-chunk timeout; retry transient failures with backoff."""
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    return await op()
            except TimeoutError as exc:
                err: AisError = ErrTimeout(f'"{self.what}": no complete chunk at offset {off} '
                                           f"within {self._timeout:g}s")
                err.__cause__ = exc
            except ErrRangeIgnored:
                raise
            except (ErrBackend, ErrTimeout) as exc:
                err = exc
            attempt += 1
            if attempt >= self._attempts:
                raise err
            self.stats.retries += 1
            log.info("blob-download %s: retrying chunk at %d (%s)", self.what, off, err.message)
            await asyncio.sleep(backoff(attempt - 1))

    async def _sequential(self, *, from_zero: bool) -> None:
        """One stream from the first missing chunk (or from byte 0 if the source ignores Range)."""
        attempt, progress = 0, self._win.low
        while self._win.low < self._win.n:
            try:
                await self._stream_from(0 if from_zero else self._win.low)
                return
            except ErrRangeIgnored:
                if from_zero:
                    raise
                from_zero = True
            except (ErrBackend, ErrTimeout) as exc:
                if self._win.low > progress:  # a stream that got further gets its attempts afresh
                    attempt, progress = 0, self._win.low
                attempt += 1
                if attempt >= self._attempts:
                    raise
                self.stats.retries += 1
                log.info("blob-download %s: stream broke at chunk %d (%s)", self.what, self._win.low, exc.message)
                await asyncio.sleep(backoff(attempt - 1))

    async def _stream_from(self, start: int) -> None:
        """Cut one stream into chunks; each is written by a task of its own while the stream goes
        on (one connection has no other worker to keep it busy), within the same window."""
        win = self._win
        off = start * win.chunk
        body = Pieces(self._read(off, self.obj.size - off), self.stats)
        writes: list[asyncio.Future[None]] = []
        try:
            for idx in range(start, win.n):
                await self._turn_or_failed_write(idx, writes)
                c_off, n = win.span(idx)
                win.hold(n)
                try:
                    try:
                        async with asyncio.timeout(self._timeout):
                            pieces, got = await body.take(n)
                    except TimeoutError as exc:
                        raise ErrTimeout(f'"{self.what}": stream stalled at offset {c_off}') from exc
                    if got != n:
                        raise ErrBackend(f'"{self.what}": stream ended at offset {c_off + got} of {self.obj.size}')
                except BaseException:
                    win.free(n)
                    raise
                if win.is_done(idx):  # stored before: a stream without Range passes it again
                    win.free(n)
                else:
                    writes.append(asyncio.ensure_future(self._store(idx, pieces, c_off)))
            if not await body.at_end():
                raise ErrBackend(f'"{self.what}": source has more than {self.obj.size} bytes')
            await all_or_cancel(writes)
        finally:
            await _stop(writes)
            await body.aclose()

    def _pwrite(self, pieces: list[Piece], off: int) -> None:
        """Blocking: each piece at its offset (a few syscalls per chunk, no joined copy)."""
        assert self._w is not None
        for p in pieces:
            self._w.pwrite(p, off)
            off += len(p)

    async def _pread(self, off: int, n: int) -> bytes:
        return await in_thread(self._cdir.pread, off, n)

    def _chunk_done(self, idx: int, pieces: list[Piece]) -> None:
        self._win.done(idx, pieces)
        self._since_save += 1
        if self._cdir.resumable and self._since_save >= self._manifest_every and (
                self._saver is None or self._saver.done()):
            self._since_save = 0
            self._saver = asyncio.ensure_future(self._save())

    async def _save(self) -> None:
        try:
            await asyncio.to_thread(self._cdir.save, self._win.manifest(self._cdir.identity))
        except OSError as exc:  # resume is best effort; the download itself goes on
            log.warning("blob-download %s: cannot save the resume manifest: %s", self.what, exc)


async def _stop(tasks: list[asyncio.Future[None]]) -> None:
    """Cancel what is still running and wait: a write in a thread finishes before its file closes."""
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks)


def running(store: MountpathStore, bck: Bucket, name: str) -> BlobDownload | None:
    """The blob download of `bck/name` under way on this mountpath, if any (to join or abort it)."""
    owner = store.locks.owner(bck.uname(name))
    return owner if isinstance(owner, BlobDownload) else None


async def remove_stale_chunks(store: MountpathStore, *, older_than: float = blob_chunks.STALE_AFTER_S) -> int:
    """Remove partial downloads untouched for `older_than` seconds (none that is running)."""
    busy = {d._cdir.name for d in store.locks.owners() if isinstance(d, BlobDownload)}
    return await asyncio.to_thread(blob_chunks.remove_stale, store, older_than=older_than, busy=busy)
