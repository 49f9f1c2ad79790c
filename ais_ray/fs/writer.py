"""One writer thread per mountpath: small writes that need no fsync of their own, in batches.

A download commits thousands of 64 KiB objects per second per disk without an fsync each (the
batch is made durable at once: `MountpathStore.sync_fs`, the group commit). Handing every one
of them to `asyncio.to_thread` cost more than the write: an executor submit, a thread woken,
a context copy, and one wakeup of the event loop per object; with six pool threads per
process taking turns, the kernel's scheduling and futex work came on top. Here the loop only
queues a call; the thread takes every call queued so far, runs them in order, and answers
the whole batch with one wakeup per event loop. Measured in one bare loop (`dl_bare.py`'s
pipeline, 5,000 × 64 KiB): 0.30 against 0.52 ms of CPU per object. The calls a loop queues in one
turn reach the thread together (one queue put, so one wakeup of the thread, per turn: each put
that wakes it is a futex call made with the GIL held, 11 % of a download's loop thread).

Writes that wait on the disk themselves stay on `asyncio.to_thread` (`fs/write.py::_small_writes`):
an fsync of their own (a PUT on a cluster with fsync), or a mirrored bucket's replicas written and
synced in the same call — behind one thread, each would wait for those queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# Where a call's outcome goes: a callback `(value, exc)` run on the caller's loop (`run` sets its
# future from it; `submit`'s caller keeps no coroutine per call: the download's small objects).
Done = Callable[[Any, "BaseException | None"], None]
_Call = tuple[Done, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class WriterThread:
    """Blocking calls run one at a time on one thread, in the order they were queued."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._q: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, list[_Call]]] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Call]] = {}  # queued this loop turn, per loop
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.batches = 0  # drained batches so far (a batch is answered with one wakeup per loop)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the writer thread; its result or exception. Like
        `asyncio.to_thread`, a caller cancelled while waiting does not stop a call under way."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.submit(functools.partial(_resolve, fut), fn, *args, **kwargs)
        return await fut

    def submit(self, done: Done, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """`fn(*args, **kwargs)` on the writer thread; `done(value, exc)` is called with its
        outcome on the calling loop (with the rest of its batch, one wakeup)."""
        loop = asyncio.get_running_loop()
        calls = self._pending.get(loop)
        if calls is None:  # the first of this loop turn: the turn's calls go to the thread after it
            calls = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        calls.append((done, fn, args, kwargs))

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        calls = self._pending.pop(loop)
        if self._thread is None:
            self._start_thread()
        self._q.put((loop, calls))

    def _start_thread(self) -> None:
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while True:
            batch = [self._q.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._q.get_nowait())
            self.batches += 1
            done: dict[asyncio.AbstractEventLoop, list[tuple[Done, Any, BaseException | None]]] = {}
            for loop, calls in batch:
                results = done.setdefault(loop, [])
                for sink, fn, args, kwargs in calls:
                    try:
                        out: tuple[Done, Any, BaseException | None] = (sink, fn(*args, **kwargs), None)
                    except BaseException as exc:  # the caller's error, raised where it awaits
                        out = (sink, None, exc)
                    results.append(out)
            for loop, results in done.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting
                    loop.call_soon_threadsafe(_settle, results)


def _settle(results: list[tuple[Done, Any, BaseException | None]]) -> None:
    for done, value, exc in results:
        try:  # one callback's failure must not stop the rest of the batch
            done(value, exc)
        except Exception:
            log.exception("writer callback %r", done)


def _resolve(fut: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    """`run`'s callback: the outcome into the future its caller awaits (unless it was cancelled)."""
    if fut.done():
        return
    if exc is None:
        fut.set_result(value)
    else:
        fut.set_exception(exc)
