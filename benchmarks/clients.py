"""The clients a benchmark drives: aiohttp (the plain server and ais-ray's `AisClient`) and the `aistore` SDK.

The plain server and `AisClient` get the same aiohttp session settings and the same streamed
file body (1 MiB reads on a thread), and GETs read the body and drop it (`iter_any`), so the
only difference left is the server and, for ais-ray, the 307 hop through the Serve API.
Every GET checks it received the whole object.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import aiohttp

from common import Measurement, Stopwatch

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap

CHUNK = 1 << 20
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)  # as AisClient's


class ShortRead(RuntimeError):
    pass


async def run_pool(jobs: Sequence[Callable[[], Awaitable[int]]], concurrency: int) -> int:
    """Run `jobs` with `concurrency` workers; return the sum of what they return (bytes)."""
    it = iter(jobs)
    total = 0

    async def worker() -> None:
        nonlocal total
        for job in it:
            n = await job()  # not `total += await job()`: that reads `total` before the await
            total += n

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
    return total


async def timed_pool(jobs: Sequence[Callable[[], Awaitable[int]]], concurrency: int) -> Measurement:
    with Stopwatch() as sw:
        nbytes = await run_pool(jobs, concurrency)
    return Measurement(len(jobs), nbytes, sw.seconds)


async def file_body(path: str) -> AsyncIterator[bytes]:
    """The upload body `AisClient.put_file` sends: 1 MiB reads on a thread."""
    with open(path, "rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk


async def get_discard(session: aiohttp.ClientSession, url: str, size: int, params: dict[str, str] | None = None) -> int:
    async with session.get(url, params=params) as r:
        r.raise_for_status()
        n = 0
        async for chunk in r.content.iter_any():
            n += len(chunk)
    if n != size:
        raise ShortRead(f"GET {url}: {n} of {size} bytes")
    return n


# ---- the plain server -------------------------------------------------------------------------
class PlainClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False)

    async def close(self) -> None:
        await self.session.close()

    async def put_file(self, name: str, path: str) -> int:
        size = os.path.getsize(path)
        async with self.session.put(f"{self.url}/{quote(name)}", data=file_body(path),
                                    headers={"Content-Length": str(size)}) as r:
            r.raise_for_status()
            await r.read()
        return size

    async def get(self, name: str, size: int) -> int:
        return await get_discard(self.session, f"{self.url}/{quote(name)}", size)


# ---- the plain server through `requests` on a thread pool: the SDK's own HTTP stack ---------------
class PlainRequests:
    """What the SDK rows are fairly compared with: the same `requests` session settings, the same
    threads, the same 1 MiB `iter_content` reads, the same file-object PUT body — only the server
    differs (a plain file server, or the redirecting peer in front of it)."""

    def __init__(self, url: str, concurrency: int) -> None:
        import requests

        self.url = url.rstrip("/")
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
        self.session.mount("http://", adapter)
        self.pool = ThreadPoolExecutor(concurrency)

    def close(self) -> None:
        self.pool.shutdown()
        self.session.close()

    def _get(self, name: str, size: int) -> int:
        return self._read(f"{self.url}/{quote(name)}", name, size)

    def _read(self, url: str, name: str, size: int, params: dict[str, str] | None = None) -> int:
        with self.session.get(url, params=params, stream=True, timeout=(10, 300)) as r:
            r.raise_for_status()
            n = sum(len(c) for c in r.iter_content(CHUNK))
        if n != size:
            raise ShortRead(f"GET {name}: {n} of {size} bytes")
        return n

    def _put(self, name: str, path: str) -> int:
        with open(path, "rb") as f:
            self.session.put(f"{self.url}/{quote(name)}", data=f, timeout=(10, 300)).raise_for_status()
        return os.path.getsize(path)

    async def get(self, name: str, size: int) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._get, name, size)

    async def put_file(self, name: str, path: str) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._put, name, path)


class TargetRequests(PlainRequests):
    """Bare `requests` GETs of ais-ray objects at the URL the SDK's `get_reader(direct=True)`
    requests: the owning target's (HRW over the cluster map, fetched once). Beside the SDK's own
    direct row it separates what the server costs from what the SDK's Python adds per GET."""

    def __init__(self, endpoint: str, bucket: str, concurrency: int) -> None:
        super().__init__(endpoint, concurrency)
        self.bck = Bucket(bucket)
        self._smap: Smap | None = None

    def _get(self, name: str, size: int) -> int:
        if self._smap is None:
            with self.session.get(f"{self.url}/v1/daemon", params={"what": "smap"}, timeout=(10, 60)) as r:
                r.raise_for_status()
                self._smap = Smap.from_wire(r.json())
        target = self._smap.owner(self.bck.uname(name))
        return self._read(f"{target.url}/v1/objects/{self.bck.name}/{quote(name)}", name, size, {"provider": "ais"})


# ---- ais-ray through AisClient (aiohttp, follows the 307) -------------------------------------
class AisClientDriver:
    def __init__(self, client: AisClient, bck: Bucket) -> None:
        self.c, self.bck = client, bck

    async def put_file(self, name: str, path: str) -> int:
        await self.c.put_file(self.bck, name, path)
        return os.path.getsize(path)

    async def get(self, name: str, size: int) -> int:
        # AisClient.get_bytes would buffer the object and get_to_file would add a disk write:
        # the same session and URL, read and dropped like the plain server's
        url = self.c.url(f"objects/{self.bck.name}/{quote(name)}")
        return await get_discard(self.c.session, url, size, params={"provider": self.bck.provider.value})

    async def get_direct(self, name: str, size: int) -> int:
        """AisClient's own GET path: the owner mountpath's URL from client-side HRW, one request."""
        url = await self.c.object_url(self.bck, name)
        return await get_discard(self.c.session, url, size, params={"provider": self.bck.provider.value})


# ---- ais-ray through the official SDK (requests, blocking: one thread per request in flight) -----
class SdkDriver:
    def __init__(self, endpoint: str, bucket: str, concurrency: int) -> None:
        from aistore import Client

        self.client = Client(endpoint, timeout=(10, 300), max_pool_size=concurrency)
        self.bucket = self.client.bucket(bucket)
        self.pool = ThreadPoolExecutor(concurrency)  # run_pool keeps `concurrency` calls in flight

    def close(self) -> None:
        self.pool.shutdown()

    def create_bucket(self) -> None:
        self.bucket.create(exist_ok=True)

    def _put(self, name: str, path: str) -> int:
        self.bucket.object(name).get_writer().put_file(path)
        return os.path.getsize(path)

    def _get(self, name: str, size: int, direct: bool) -> int:
        n = sum(len(c) for c in self.bucket.object(name).get_reader(chunk_size=CHUNK, direct=direct))
        if n != size:
            raise ShortRead(f"SDK GET {name}: {n} of {size} bytes")
        return n

    async def put(self, name: str, path: str) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._put, name, path)

    async def get(self, name: str, size: int, *, direct: bool = False) -> int:
        """`direct`: the SDK picks the target by HRW over its cached Smap and skips the proxy (Serve)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._get, name, size, direct)
