"""One writer per object name on a mountpath (AIStore's name locker, for writers).

Every writer that fetches an object (cold GET, prefetch, blob download, download job) takes
the name here: the first runs, a second fetcher of the same name waits for it and then uses
its result (the committed object's attributes) instead of fetching again. Runs on one event
loop (the mountpath's I/O loop); keys are `Bucket.uname(name)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ais_ray.core.lom import ObjAttrs


class Held:
    """A name being written: its writer's handle (e.g. a BlobDownload) and result to be.

    The result's future is made by the first waiter: most writes have none (a download's small
    object), and a future per write would cost more than its lock."""

    __slots__ = ("owner", "_done", "_outcome")

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self._done: asyncio.Future[ObjAttrs] | None = None
        self._outcome: ObjAttrs | BaseException | None = None  # set once, by `NameLocks.release`

    @property
    def done(self) -> asyncio.Future[ObjAttrs]:
        if self._done is None:
            fut = self._done = asyncio.get_running_loop().create_future()
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # its waiters may all be gone
            if self._outcome is not None:
                _settle(fut, self._outcome)
        return self._done

    def settle(self, result: ObjAttrs | BaseException) -> None:
        if self._outcome is not None:
            return
        self._outcome = result
        if self._done is not None:
            _settle(self._done, result)


def _settle(fut: asyncio.Future[ObjAttrs], result: ObjAttrs | BaseException) -> None:
    if fut.done():
        return
    if isinstance(result, ObjAttrs):
        fut.set_result(result)
    elif isinstance(result, Exception):
        fut.set_exception(result)
    else:
        fut.cancel()


class NameLocks:
    def __init__(self) -> None:
        self._held: dict[str, Held] = {}

    def held(self, key: str) -> Held | None:
        return self._held.get(key)

    def owner(self, key: str) -> Any:
        """The handle of the writer of `key` under way (None: none, or one without a handle)."""
        h = self._held.get(key)
        return h.owner if h is not None else None

    def owners(self) -> list[Any]:
        return [h.owner for h in self._held.values() if h.owner is not None]

    def claim(self, key: str, owner: Any = None) -> Held | None:
        """Take `key` for a writer; None if another writer holds it (join it with `wait`)."""
        if key in self._held:
            return None
        h = self._held[key] = Held(owner)
        return h

    def release(self, key: str, h: Held, result: ObjAttrs | BaseException) -> None:
        """Give `key` back with the writer's outcome (its waiters get the same)."""
        if self._held.get(key) is h:
            del self._held[key]
        h.settle(result)

    @staticmethod
    async def wait(h: Held) -> ObjAttrs:
        """The outcome of a writer under way; cancelling the waiter does not cancel the writer."""
        return await asyncio.shield(h.done)

    async def once(self, key: str, write: Callable[[], Awaitable[ObjAttrs]], owner: Any = None) -> ObjAttrs:
        """Run `write` unless a writer of `key` is under way; then wait for that one's result."""
        while True:
            running = self._held.get(key)
            if running is None:
                break
            try:
                return await self.wait(running)
            except asyncio.CancelledError:
                if running.done.cancelled() and not _cancelling():
                    continue  # that writer was cancelled, not us: write it ourselves
                raise
        h = self._held[key] = Held(owner)
        try:
            attrs = await write()
        except BaseException as exc:
            self.release(key, h, exc)
            raise
        self.release(key, h, attrs)
        return attrs


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
