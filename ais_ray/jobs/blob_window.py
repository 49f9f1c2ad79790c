"""The chunks of one blob download between the readers and the in-order reader.

Readers complete chunks in any order; the in-order reader (`in_order`) takes them back in
order, hashes them and hands them to the client, the way Go's coordinator drains its `pending`
map (`xact/xs/blob_download.go`). A reader may start chunk `i` only once
`i < cursor + window`: with window = 2 × workers (at least 4, so one stream can read a chunk
while earlier ones are written and hashed) that bounds what is held in memory to (window + 2)
chunks, with or without a client, and a slow client slows the readers down.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import xxhash

from ais_ray.core.blob import ChunkManifest, chunk_count, chunk_span
from ais_ray.jobs.blob_io import Piece

# The in-order hash runs on the loop, a slice at a time with a yield in between (xxhash64 of
# 1 MiB takes ~0.1-0.2 ms). In a thread it became a chain of one hop per chunk: on a busy
# machine each hop waits for the scheduler, the in-order reader fell behind and stalled the
# readers (16 × 2 MiB at 20 MiB/s per connection: 1.34 s vs 0.94 s, bare aiohttp 0.87 s).
_HASH_SLICE = 1 << 20


@dataclass
class BlobStats:
    """Live counters of one blob download; reading them is free (progress = done / size)."""

    size: int
    chunk_size: int
    workers: int
    chunks: int = 0
    mode: str = ""  # "parallel", "serial" (one stream), "no-range" (fell back to one stream)
    done: int = 0  # bytes on disk, resumed ones included
    chunks_done: int = 0
    resumed: int = 0  # bytes an earlier attempt had stored
    received: int = 0  # bytes read from the source (retried and discarded ones included)
    retries: int = 0
    buffered: int = 0  # bytes held in memory now
    buffered_hwm: int = 0  # the most ever held


class ChunkWindow:
    """Which chunks are on disk, which wait to be read in order, and who may read what next."""

    def __init__(self, stats: BlobStats, workers: int) -> None:
        self.stats = stats
        self.size, self.chunk = stats.size, stats.chunk_size
        self.n = chunk_count(self.size, self.chunk)
        self.window = 2 * max(2, workers)
        # On disk: every chunk below `low`, plus `above`. `ready`: on disk, not yet read in order.
        self.low, self.above, self.ready = 0, set[int](), dict[int, list[Piece]]()
        self.cursor = 0  # the in-order reader's next chunk
        self.attached = False  # a client takes the bytes
        self._outbox: deque[list[Piece]] = deque()  # at most one chunk waiting for the client
        self._changed = asyncio.Event()

    def resume(self, manifest: ChunkManifest) -> None:
        """Start from what an earlier attempt stored (its chunk size wins: the file is laid out by it)."""
        self.chunk, self.low, self.above = manifest.chunk_size, manifest.low, set(manifest.done)
        self.n = chunk_count(self.size, self.chunk)
        st = self.stats
        st.chunk_size, st.resumed = self.chunk, manifest.done_bytes()
        st.done, st.chunks_done = st.resumed, manifest.low + len(manifest.done)

    def span(self, idx: int) -> tuple[int, int]:
        return chunk_span(idx, self.size, self.chunk)

    def is_done(self, idx: int) -> bool:
        return idx < self.low or idx in self.above

    def missing(self) -> Iterator[int]:
        """Chunks still to fetch, in order; lazy, so a resumed 10-million-chunk object costs nothing up front."""
        above = frozenset(self.above)
        return (i for i in range(self.low, self.n) if i not in above)

    def _available(self, idx: int) -> bool:
        return idx in self.ready or self.is_done(idx)

    def manifest(self, identity: str) -> ChunkManifest:
        return ChunkManifest(self.size, self.chunk, identity, self.low, tuple(sorted(self.above)))

    def may_read(self, idx: int) -> bool:
        """Chunk `idx` may be read: the in-order reader is less than a window behind it."""
        return idx < self.cursor + self.window

    def done(self, idx: int, pieces: list[Piece]) -> None:
        """Chunk `idx` is on disk; its bytes wait for the in-order reader."""
        self.ready[idx] = pieces
        self.above.add(idx)
        while self.low in self.above:
            self.above.discard(self.low)
            self.low += 1
        self.stats.done += self.span(idx)[1]
        self.stats.chunks_done += 1
        self.notify()

    async def in_order(self, pread: Callable[[int, int], Awaitable[bytes]]) -> str:
        """Take every chunk in order, from memory or (stored by an earlier attempt) from disk;
        hash it and give it to the client if one is attached. Return the xxhash64 hex."""
        hasher = xxhash.xxh64(seed=0)
        for idx in range(self.n):
            await self.until(functools.partial(self._available, idx))
            n = self.span(idx)[1]
            pieces = self.ready.pop(idx, None)
            if pieces is None:
                self.hold(n)
                pieces = [await pread(*self.span(idx))]
            await _hash(hasher, pieces)
            if self.attached:
                await self.until(lambda: not self._outbox or not self.attached)
                if self.attached:
                    self._outbox.append(pieces)
                    self.hold(n)
            self.free(n)
            self.cursor = idx + 1
            self.notify()
        return hasher.hexdigest()

    # ---- the client's side ------------------------------------------------------------------------
    async def take(self, finished: Callable[[], bool]) -> list[Piece] | None:
        """The next chunk for the client; None once `finished()` and nothing is left."""
        await self.until(lambda: bool(self._outbox) or finished())
        if not self._outbox:
            return None
        pieces = self._outbox.popleft()
        self.free(sum(len(p) for p in pieces))
        self.notify()
        return pieces

    def detach(self) -> None:
        """The client is gone: drop what waited for it and stop waiting for it."""
        self.attached = False
        while self._outbox:
            self.free(sum(len(p) for p in self._outbox.popleft()))
        self.notify()

    # ---- memory accounting and wake-ups -----------------------------------------------------------
    def hold(self, n: int) -> None:
        """Count `n` bytes as held (a reader reserves its whole chunk before the first byte)."""
        st = self.stats
        st.buffered += n
        st.buffered_hwm = max(st.buffered_hwm, st.buffered)

    def free(self, n: int) -> None:
        self.stats.buffered -= n

    def notify(self) -> None:
        """Wake every waiter to re-check its condition (a handful of tasks: workers + 2)."""
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    async def until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._changed.wait()


async def _hash(hasher: xxhash.xxh64, pieces: list[Piece]) -> None:
    """Feed the hash at most a slice at a time, yielding to the loop after each slice's worth."""
    since = 0
    for piece in pieces:
        view = memoryview(piece)
        for j in range(0, len(view), _HASH_SLICE):
            part = view[j : j + _HASH_SLICE]
            hasher.update(part)
            since += len(part)
            if since >= _HASH_SLICE:
                await asyncio.sleep(0)
                since = 0
