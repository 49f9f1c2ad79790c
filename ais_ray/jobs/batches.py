"""A job's items sent to the mountpaths that hold them, many to one actor call.

One Ray call per object costs more CPU than copying a small object (~1 ms on the caller and the
actor, mostly outside Python): the download job sends its items in batches, and so does every job
whose target walks or selects objects and has their mountpath work on each one (copy, ETL,
prefetch, ec-encode) through `MountpathBatches` here and the mountpath's `run_batch` (`Gates`).

- **Size.** A batch holds about `BATCH_SECONDS` of its mountpath's work, from how long the last
  batch's items took (`BatchSizer`, 1 to `BATCH` items): an item counts as done when its batch
  returns, so 128 small objects go in one call and large ones a few, and progress shows every
  second or so.
- **Flow.** At most four batches' worth of items are out per mountpath (`Window`); a batch is sent
  when full, or at once when its mountpath has nothing in flight (never idle while items wait).
- **Bound.** A job's `num-workers` stays a bound on the mountpath: its items run at most that many
  at a time there, over all of the job's batches in flight (`Gates`, by job id).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from ais_ray.core.copy import SKIPPED
from ais_ray.core.errors import AisError
from ais_ray.core.xact import XactSnap

# Items per call to a mountpath (and per group commit of a download), at most: 128 against 64:
# -11 % user CPU per object and +11 % objects/s at the median of 8 rotated 10,000-object download
# jobs each (`dl_split.py`, 2026-12-05); 256 was no clearer.
BATCH = 128
# ... and at most about this long on its mountpath: a batch of 128 large or slow objects would
# show no progress for minutes.
BATCH_SECONDS = 1.0

# What a mountpath answers per item: (value, error, seconds it took). `error` is the item's own
# AisError (the job counts it); anything else fails the call, and the job with it.
Outcome = tuple[Any, AisError | None, float]


class BatchSizer:
    """Items per batch for one mountpath, from how long its items take: about `BATCH_SECONDS` of
    its `conc` items in flight, between 1 and `cap`. Before any item's time is known, one round of
    `conc`; then from the median time of the last batch's items (their own times, not the wait
    for a slot)."""

    def __init__(self, conc: int, cap: int = BATCH) -> None:
        self.conc, self.cap = max(1, conc), max(1, cap)
        self.size = min(self.cap, self.conc)

    def observe(self, seconds: Sequence[float]) -> None:
        """The times of a batch's items that did their work (none: no new estimate)."""
        if seconds:
            t = sorted(seconds)[len(seconds) // 2]
            self.size = max(1, min(self.cap, int(self.conc * BATCH_SECONDS / max(t, 1e-3))))


class Window:
    """At most `size` items in flight; acquire and release in any amounts."""

    def __init__(self, size: int) -> None:
        self.size, self.used = size, 0
        self._cond = asyncio.Condition()

    async def acquire(self, n: int) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.used == 0 or self.used + n <= self.size)
            self.used += n

    async def release(self, n: int) -> None:
        async with self._cond:
            self.used -= n
            self._cond.notify_all()


Done = Callable[[tuple[Any, ...], Any, Any, AisError | None], None]  # (item, note, value, error)


def count_done(snap: XactSnap, value: tuple[str, int]) -> None:
    """An item its mountpath answered ("ok"|"skipped", size) counted in the job's stats; a skip
    (the destination held it already) also in `extra["skipped"]` (copy, promote)."""
    status, n = value
    snap.stats.objs += 1
    snap.stats.bytes += n
    if status == SKIPPED:
        snap.extra["skipped"] += 1


class MountpathBatches:
    """The target's side: `submit(mp, item)` for each item as the walk finds it, then `join`.

    Each batch is one `run_batch.remote(op, key, per_mp, args, items)` on the mountpath actor;
    `done(item, note, value, error)` is called for each item as its batch comes back (`note`: what
    the target keeps of the item, never sent). An exception of the call itself (the actor gone)
    ends the job: `join` raises it.
    """

    def __init__(self, mountpaths: dict[str, Any], op: str, key: str, per_mp: int, args: tuple[Any, ...],
                 done: Done) -> None:
        self._mps = mountpaths
        self.op, self.key, self.per_mp, self.args = op, key, max(1, per_mp), args
        self._done = done
        self._sizers = {mp: BatchSizer(self.per_mp) for mp in mountpaths}
        self._windows = {mp: Window(4 * self._sizers[mp].size) for mp in mountpaths}
        self._pending: dict[str, list[tuple[tuple[Any, ...], Any]]] = {mp: [] for mp in mountpaths}
        self._tasks: set[asyncio.Task[None]] = set()
        self.total = self.per_mp * len(mountpaths)

    async def submit(self, mp: str, item: tuple[Any, ...], note: Any = None) -> None:
        """Queue `item` for mountpath `mp`; waits while that mountpath has enough in flight."""
        batch = self._pending[mp]
        batch.append((item, note))
        if len(batch) >= self._sizers[mp].size or self._windows[mp].used == 0:
            await self._send(mp)

    async def join(self, flush: bool = True) -> None:
        """Send what is queued (unless `flush` is False: a job that stops drops it), then wait
        for every batch out; raises the first failed call's exception."""
        for mp in self._pending:
            if flush:
                await self._send(mp)
            else:
                self._pending[mp] = []
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def _send(self, mp: str) -> None:
        items, self._pending[mp] = self._pending[mp], []
        if not items:
            return
        await self._windows[mp].acquire(len(items))
        task = asyncio.get_running_loop().create_task(self._call(mp, items))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, mp: str, items: list[tuple[tuple[Any, ...], Any]]) -> None:
        window = self._windows[mp]
        try:
            outcomes = await self._mps[mp].run_batch.remote(self.op, self.key, self.per_mp, self.args,
                                                            [item for item, _ in items])
        finally:
            await window.release(len(items))
        sizer = self._sizers[mp]
        sizer.observe([secs for _, err, secs in outcomes if err is None and secs > 0])
        window.size = 4 * sizer.size
        for (item, note), (value, err, _) in zip(items, outcomes):
            self._done(item, note, value, err)
        if self._pending[mp] and window.used == 0:  # the walk is slow to fill a batch: send what it has
            await self._send(mp)


STOPPED_KEPT = 64  # aborted jobs a mountpath remembers (a batch of one arrives within seconds of its abort)


class Gates:
    """The mountpath's side: runs a batch's items, at most `workers` of job `key` at a time over
    all of that job's batches here."""

    def __init__(self) -> None:
        self._gates: dict[str, tuple[asyncio.Semaphore, int]] = {}  # key -> (bound, batches running)
        self._stopped: deque[str] = deque(maxlen=STOPPED_KEPT)  # aborted jobs: their items are not run

    def stop(self, key: str) -> None:
        """Job `key` was aborted: its items not started yet (here, or in batches still to come) end
        as errors; the ones under way finish."""
        if key not in self._stopped:
            self._stopped.append(key)

    def stopped(self, key: str) -> AisError | None:
        """The error an item of job `key` ends with if the job was aborted here, else None."""
        job = key.partition("#")[0]  # a job's own gates share its id (`copies.GROUPED_KEY`)
        return AisError(f"job {job} was aborted") if job in self._stopped else None

    def running(self) -> Collection[str]:
        return self._gates.keys()

    async def run(self, key: str, workers: int, calls: list[Callable[[], Awaitable[Any]]]) -> list[Outcome]:
        sem, refs = self._gates.get(key) or (asyncio.Semaphore(max(1, workers)), 0)
        self._gates[key] = (sem, refs + 1)

        async def one(call: Callable[[], Awaitable[Any]]) -> Outcome:
            async with sem:
                if (err := self.stopped(key)) is not None:
                    return None, err, 0.0
                t0 = time.monotonic()
                try:
                    return await call(), None, time.monotonic() - t0
                except AisError as err:
                    return None, err, 0.0

        try:
            return list(await asyncio.gather(*(one(c) for c in calls)))
        finally:
            sem, refs = self._gates[key]
            if refs <= 1:
                del self._gates[key]
            else:
                self._gates[key] = (sem, refs - 1)
