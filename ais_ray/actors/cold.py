"""Remote objects on one mountpath: cold GET, `latest-ver` checks, write-through PUT, delete.

A bucket has a remote side when it is a cloud / HTTP bucket itself, or an ais bucket whose
`backend_bck` names one. The first GET of an object fetches it once (concurrent GETs of the
same object wait for that fetch), storing it while it streams to the client; later GETs are
local. Runs on the mountpath's I/O loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from ais_ray.backends.base import Backend, RemoteObj, open_object
from ais_ray.backends.registry import get_backend
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.errors import ErrBadRequest, ErrNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.fs.store import MountpathStore

WRITE_BATCH = 1 << 20

Consumer = Callable[[RemoteObj, bytes | None], Awaitable[None]]  # (meta, chunk); chunk None = start


def remote_attrs(size: int, cksum: str, obj: RemoteObj) -> ObjAttrs:
    """A cached copy's metadata: its version is the remote one (S3 VersionId, GCS generation)."""
    return ObjAttrs(size=size, cksum=cksum, version=obj.version, atime_ns=time.time_ns(), src_etag=obj.etag,
                    src_version=obj.version, src_size=obj.size)


class ColdGets:
    def __init__(self, store: MountpathStore) -> None:
        self.store = store
        self._inflight: dict[str, asyncio.Future[ObjAttrs]] = {}

    @staticmethod
    def backend(ref: RemoteRef) -> Backend:
        return get_backend(ref.bck.provider)

    async def head(self, ref: RemoteRef, name: str) -> RemoteObj:
        return await self.backend(ref).head_object(ref.name, name)

    async def is_current(self, ref: RemoteRef, name: str, local: ObjAttrs) -> bool:
        """`latest-ver`: is the cached copy still the remote's current version?"""
        try:
            obj = await self.head(ref, name)
        except ErrNotFound:
            return False
        return local.same_source(obj.etag, obj.version, obj.size)

    async def fetch(self, bck: Bucket, ref: RemoteRef, name: str, consumer: Consumer | None = None) -> ObjAttrs:
        """Fetch and store `name` once; a concurrent caller waits for the fetch under way."""
        key = bck.uname(name)
        running = self._inflight.get(key)
        if running is not None:
            await asyncio.shield(running)
            return await asyncio.to_thread(self.store.load, bck, name)
        fut: asyncio.Future[ObjAttrs] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # waiters may be none
        self._inflight[key] = fut
        try:
            attrs = await self._fetch(bck, ref, name, consumer)
            fut.set_result(attrs)
            return attrs
        except BaseException as exc:
            fut.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            raise
        finally:
            self._inflight.pop(key, None)

    async def _fetch(self, bck: Bucket, ref: RemoteRef, name: str, consumer: Consumer | None) -> ObjAttrs:
        async with open_object(self.backend(ref), ref.name, name) as (obj, chunks):
            w = await asyncio.to_thread(self.store.new_writer)
            try:
                first = await anext(chunks, None)  # the request's errors surface before any reply is sent
                if consumer is not None:
                    await consumer(obj, None)
                buf = bytearray()
                chunk = first
                while chunk is not None:
                    buf += chunk
                    if consumer is not None:
                        await consumer(obj, chunk)
                    if len(buf) >= WRITE_BATCH:
                        data, buf = buf, bytearray()
                        await asyncio.to_thread(w.write, data)
                    chunk = await anext(chunks, None)
                if buf:
                    await asyncio.to_thread(w.write, buf)
                if obj.size >= 0 and w.size != obj.size:
                    raise ErrBadRequest(f'"{ref.bck}/{name}": got {w.size} bytes of {obj.size}')
                cksum = await asyncio.to_thread(w.finish)
                attrs = remote_attrs(w.size, cksum, obj)
                return await asyncio.to_thread(self.store.commit, w, bck, name, attrs, bump_version=False)
            except BaseException:
                await asyncio.to_thread(w.abort)
                raise

    async def upload(self, ref: RemoteRef, name: str, path: str, size: int) -> RemoteObj:
        """Write-through PUT: send a finished work file to the remote before it is committed here."""

        async def body() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while chunk := await asyncio.to_thread(f.read, 8 << 20):
                    yield chunk

        return await self.backend(ref).put_object(ref.name, name, body(), size)

    async def delete(self, ref: RemoteRef, name: str) -> None:
        await self.backend(ref).delete_object(ref.name, name)
