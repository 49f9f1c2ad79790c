"""Remote objects on one mountpath: cold GET, `latest-ver` checks, write-through PUT, delete.

A bucket has a remote side when it is a cloud / HTTP bucket itself, or an ais bucket whose
`backend_bck` names one. The first GET of an object fetches it once (concurrent GETs of the
same object, or any other fetcher of it, wait for that fetch: `fs/namelock.py`), storing it
through the write pipeline while it streams to the client; later GETs are local. Runs on the
mountpath's I/O loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from ais_ray.backends.base import Backend, RemoteObj, open_object
from ais_ray.backends.registry import get_backend
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import Source, WriteThrough, write_stream

Consumer = Callable[[RemoteObj, bytes | None], Awaitable[None]]  # (meta, chunk); chunk None = start


def source_of(obj: RemoteObj) -> Source:
    """A remote object's identity, as the write pipeline records it (a cached copy keeps its version)."""
    return Source(obj.etag, obj.version, obj.size)


class ColdGets:
    def __init__(self, store: MountpathStore) -> None:
        self.store = store

    @staticmethod
    def backend(ref: RemoteRef) -> Backend:
        return get_backend(ref.bck.provider)

    def _counted(self, op: str, ref: RemoteRef) -> contextlib.AbstractContextManager[list[int]]:
        """Count one remote call (`remote.get|put|head{backend}`, `err.remote`); the caller sets its bytes."""
        return self.store.stats.remote_call(op, ref.bck.provider.value)

    async def head(self, ref: RemoteRef, name: str) -> RemoteObj:
        with self._counted("remote.head", ref):
            return await self.backend(ref).head_object(ref.name, name)

    async def is_current(self, ref: RemoteRef, name: str, local: ObjAttrs) -> bool:
        """`latest-ver`: is the cached copy still the remote's current version?"""
        try:
            obj = await self.head(ref, name)
        except ErrNotFound:
            return False
        return local.same_source(obj.etag, obj.version, obj.size)

    async def fetch(self, bck: Bucket, ref: RemoteRef, name: str, consumer: Consumer | None = None) -> ObjAttrs:
        """Fetch and store `name` once; a concurrent fetcher of it (any kind) waits for that one."""
        return await self.store.locks.once(bck.uname(name), lambda: self._fetch(bck, ref, name, consumer))

    async def _fetch(self, bck: Bucket, ref: RemoteRef, name: str, consumer: Consumer | None) -> ObjAttrs:
        with self._counted("remote.get", ref) as nbytes:
            attrs = await self._fetch_store(bck, ref, name, consumer)
            nbytes[0] = attrs.size
        return attrs

    async def _fetch_store(self, bck: Bucket, ref: RemoteRef, name: str, consumer: Consumer | None) -> ObjAttrs:
        async with open_object(self.backend(ref), ref.name, name) as (obj, chunks):
            first = await anext(chunks, None)  # the request's errors surface before any reply is sent
            if consumer is not None:
                await consumer(obj, None)

            async def body() -> AsyncIterator[bytes]:
                if first is not None:
                    yield first
                    async for chunk in chunks:
                        yield chunk

            on_chunk = (lambda chunk: consumer(obj, chunk)) if consumer is not None else None
            return await write_stream(self.store, bck, name, body(), Owt.COLD_GET, src=source_of(obj),
                                      expect_size=obj.size, on_chunk=on_chunk)

    def write_through(self, ref: RemoteRef, name: str) -> WriteThrough:
        """The pipeline's write-through step for `name` in a bucket with remote side `ref`."""

        async def send(path: str, size: int) -> Source:
            return source_of(await self.upload(ref, name, path, size))

        return send

    async def upload(self, ref: RemoteRef, name: str, path: str, size: int) -> RemoteObj:
        """Write-through PUT: send a finished work file to the remote before it is committed here."""

        async def body() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while chunk := await asyncio.to_thread(f.read, 8 << 20):
                    yield chunk

        with self._counted("remote.put", ref) as nbytes:
            nbytes[0] = size
            return await self.backend(ref).put_object(ref.name, name, body(), size)

    async def delete(self, ref: RemoteRef, name: str) -> None:
        await self.backend(ref).delete_object(ref.name, name)

    async def remove(self, bck: Bucket, ref: RemoteRef | None, name: str) -> None:
        """DELETE of an object: from the remote side first (if any), then the stored copy
        (which goes even when the remote no longer has the object).

        Raises:
            ErrNotFound: neither the remote side nor this mountpath has it.
        """
        gone = False
        if ref is not None:
            try:
                await self.delete(ref, name)
            except ErrNotFound:
                gone = True
        try:
            await asyncio.to_thread(self.store.delete, bck, name)
        except ErrNotFound:
            if ref is None or gone:
                raise
