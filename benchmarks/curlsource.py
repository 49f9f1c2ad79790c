"""A stand-in for the downloader's `Sources` whose http(s) GETs go through libcurl's multi interface.

For measurement only (`dl_workers.py --transport libcurl`): how much of a mountpath's CPU per
small object is the aiohttp transfer loop. One thread per process drives a `pycurl.CurlMulti`
(libcurl does the connections, the HTTP parsing and the buffering in C); the event loop queues a
link and awaits the whole body, which then takes the downloader's usual write path. Finished
transfers are answered in batches, one wakeup per event loop per round, as `fs/writer.py` does (its `_settle`).

Not a downloader transport: no guard policy, no per-read idle bound, no custom headers, no
ranges, errors reduced to one retriable error per failed transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pycurl
from multidict import CIMultiDict

from ais_ray.core.errors import ErrBackend
from ais_ray.fs.writer import _settle  # the writer thread's: answer a round's futures on their loop
from ais_ray.jobs.dl_source import SrcMeta, meta_of_headers

POLL_S = 0.002  # how soon a link queued while transfers run is picked up


class CurlSources:
    def __init__(self, handles: int = 64) -> None:
        self._q: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], str]] = queue.SimpleQueue()
        self._handles = handles
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def open(self, link: str, headers: Mapping[str, str], timeout: float) -> contextlib.AbstractAsyncContextManager[
            tuple[SrcMeta, AsyncIterator[bytes]]]:
        return self._open(link)

    @contextlib.asynccontextmanager
    async def _open(self, link: str) -> AsyncIterator[tuple[SrcMeta, AsyncIterator[bytes]]]:
        meta, body = await self.fetch(link)

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        yield meta, chunks()

    async def fetch(self, link: str) -> tuple[SrcMeta, bytes]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="curl-multi", daemon=True)
                self._thread.start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[SrcMeta, bytes]] = loop.create_future()
        self._q.put((loop, fut, link))
        return await fut

    async def aclose(self) -> None:
        pass

    def _serve(self) -> None:
        multi = pycurl.CurlMulti()
        free = []
        for _ in range(self._handles):
            c = pycurl.Curl()
            c.setopt(pycurl.NOSIGNAL, 1)
            free.append(c)
        active: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], list[bytes], list[bytes]]] = {}
        while True:
            pending = []
            if not active:
                pending.append(self._q.get())
            with contextlib.suppress(queue.Empty):
                while len(pending) < len(free):
                    pending.append(self._q.get_nowait())
            for loop, fut, link in pending:
                c = free.pop()
                body: list[bytes] = []
                head: list[bytes] = []
                c.setopt(pycurl.URL, link)
                c.setopt(pycurl.WRITEFUNCTION, body.append)
                c.setopt(pycurl.HEADERFUNCTION, head.append)
                active[id(c)] = (loop, fut, body, head)
                multi.add_handle(c)
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            _, ok, failed = multi.info_read()
            done: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
            for c in ok:
                loop, fut, body, head = active.pop(id(c))
                status = c.getinfo(pycurl.RESPONSE_CODE)
                multi.remove_handle(c)
                free.append(c)
                if status >= 400:
                    done.setdefault(loop, []).append((fut, None, ErrBackend(f"HTTP {status}")))
                else:
                    done.setdefault(loop, []).append((fut, (_meta(head), b"".join(body)), None))
            for c, _errno, msg in failed:
                loop, fut, _, _ = active.pop(id(c))
                multi.remove_handle(c)
                free.append(c)
                done.setdefault(loop, []).append((fut, None, ErrBackend(f"curl: {msg}")))
            for loop, results in done.items():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, results)
            if active and not ok and not failed:
                multi.select(POLL_S)


def _meta(head: list[bytes]) -> SrcMeta:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in head:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    size = headers.get("Content-Length")
    return meta_of_headers(headers, int(size) if size is not None else None)
