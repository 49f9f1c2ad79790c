"""Plumbing of the blob downloader: regrouping a byte stream into chunks, and cancelling safely.

Cancellation is how a blob download is aborted, so it must never leave I/O behind: a thread
still writing into a file descriptor the abort has closed (and the kernel may have reused for
another file) would corrupt that file. `in_thread` and `all_or_cancel` return only once the
work they started has stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class _Counts(Protocol):
    received: int


class Pieces:
    """A source's body as it arrives (pieces of any size), read into fixed-size chunk buffers."""

    def __init__(self, body: AsyncIterator[bytes], counts: _Counts) -> None:
        self._body = body
        self._counts = counts
        self._left = memoryview(b"")

    async def _next(self) -> bool:
        try:
            piece = await self._body.__anext__()
        except StopAsyncIteration:
            return False
        self._counts.received += len(piece)
        self._left = memoryview(piece)
        return True

    async def fill(self, buf: bytearray) -> int:
        """Fill `buf` from the stream; return how many bytes it got (fewer only at the end)."""
        pos, n = 0, len(buf)
        while pos < n:
            if not self._left and not await self._next():
                break
            k = min(n - pos, len(self._left))
            buf[pos : pos + k] = self._left[:k]
            self._left = self._left[k:]
            pos += k
        return pos

    async def at_end(self) -> bool:
        """True when nothing is left (a source sending more than asked is an error upstream)."""
        while not self._left:
            if not await self._next():
                return True
        return False

    async def aclose(self) -> None:
        """Give the connection back now (readers are async generators; others need nothing)."""
        close = getattr(self._body, "aclose", None)
        if close is not None:
            await close()


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """`asyncio.to_thread`, but a cancelled caller still waits for the syscall to return."""
    fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait([fut])
        raise


async def all_or_cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for all; on the first failure (or if cancelled) cancel the rest, wait for them, re-raise."""
    if not tasks:
        return
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)
        raise
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    failed = [t for t in done if not t.cancelled() and t.exception() is not None]
    if failed:
        raise failed[0].exception()  # type: ignore[misc]
