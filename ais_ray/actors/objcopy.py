"""Single-object copy: `PUT /v1/objects/<src>/<obj>?object_to=<dst uname>` (the SDK's `Object.copy`).

The request reaches the mountpath that owns the *source* (the API redirects by the source
name). It reads the source — local, or fetched from the remote first — and sends the bytes to
the mountpath that owns the destination, whose write pipeline stores them as `Owt.COPY` (and
writes them through when the destination bucket has a remote side): directly when that is this
mountpath, else by a PUT marked with `OWT_HEADER`. The source is never written.
Mirrors AIStore's `PUT ?object_to=` (Go `ais/tgtobj.go` copy-object, CLI `ais cp b/o b2/o2`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

import aiohttp
from aiohttp import web

from ais_ray.auth.gate import internal_headers
from ais_ray.core import headers as H
from ais_ray.core.bmd import RemoteRef, remote_of
from ais_ray.core.errors import AisError, ErrBadRequest, ErrObjNotFound, ErrUnsupported
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, parse_uname
from ais_ray.core.owt import OWT_HEADER, Owt
from ais_ray.fs.write import write_stream

if TYPE_CHECKING:
    from ais_ray.actors.cold import ColdGets
    from ais_ray.actors.mountpath import MountpathContext

READ_CHUNK = 1 << 20


class ObjCopier:
    """Copies objects owned by one mountpath to wherever HRW places their destination."""

    def __init__(self, ctx: MountpathContext, cold: ColdGets, own_url: Callable[[], str]) -> None:
        self.ctx = ctx
        self.cold = cold
        self._own_url = own_url  # this mountpath's data server
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def copy(self, req: web.Request, bck: Bucket, name: str, ref: RemoteRef | None) -> web.Response:
        dst, dst_name = parse_uname(req.query[H.Q_OBJ_TO])
        if req.query.get(H.Q_ETL_NAME):
            raise ErrUnsupported(f'ETL is not supported: cannot copy with {H.Q_ETL_NAME}="{req.query[H.Q_ETL_NAME]}"')
        if req.content_length or req.headers.get("Transfer-Encoding"):
            raise ErrBadRequest(f"copy ({H.Q_OBJ_TO}) takes no request body")
        await self.copy_one(bck, name, ref, dst, dst_name, latest=H.is_true(req.query.get(H.Q_LATEST)),
                            sync=H.is_true(req.query.get(H.Q_SYNC)))
        return web.Response(status=200)

    async def copy_one(self, bck: Bucket, name: str, ref: RemoteRef | None, dst: Bucket, dst_name: str, *,
                       latest: bool = False, sync: bool = False) -> int:
        """Copy one object this mountpath owns (the HTTP copy and the copy jobs); its size.

        Raises:
            ErrBadRequest: onto itself. ErrBckNotFound: no destination bucket.
            ErrObjNotFound: no source (here, nor at the remote).
        """
        if (dst, dst_name) == (bck, name):
            raise ErrBadRequest(f"cannot copy {bck}/{name} onto itself")
        self.ctx.meta.bmd.must_get(dst)  # 404 for a destination bucket that does not exist
        f, attrs = await self._open_source(bck, name, ref, latest=latest, sync=sync)
        try:
            await self._send(f, attrs, dst, dst_name)
        finally:
            f.close()
        self.ctx.stats.add("copy", attrs.size)
        return attrs.size

    async def _open_source(self, bck: Bucket, name: str, ref: RemoteRef | None, *, latest: bool,
                           sync: bool) -> tuple[BinaryIO, ObjAttrs]:
        """The source as stored here; a remote source is fetched first (and re-checked with
        `latest-ver` / `synchronize`, which also drops a copy the remote no longer has)."""
        store = self.ctx.store
        try:
            f, attrs = await asyncio.to_thread(store.open, bck, name)
        except ErrObjNotFound:
            if ref is None:
                raise
            await self.cold.fetch(bck, ref, name, None)
            return await asyncio.to_thread(store.open, bck, name)
        if ref is not None and (latest or sync):
            if not await self.cold.is_current(ref, name, attrs):
                f.close()
                try:
                    await self.cold.fetch(bck, ref, name, None)
                except ErrObjNotFound:
                    if sync:  # gone from the remote: so is the cached copy
                        await asyncio.to_thread(store.delete, bck, name)
                    raise
                return await asyncio.to_thread(store.open, bck, name)
        return f, attrs

    async def _send(self, f: BinaryIO, attrs: ObjAttrs, dst: Bucket, dst_name: str) -> None:
        smap = self.ctx.meta.smap
        if smap is None:
            raise AisError("no cluster map yet: cannot place the destination")
        _, mp = smap.locate(dst.uname(dst_name))
        params = {H.Q_PROVIDER: dst.provider.value}
        if not dst.ns.is_global:
            params[H.Q_NAMESPACE] = str(dst.ns)
        url = f"{mp.url}/v1/objects/{quote(dst.name)}/{quote(dst_name, safe='/')}"

        async def body() -> AsyncIterator[bytes]:
            f.seek(0)
            while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                yield chunk

        if mp.url == self._own_url():  # the destination is on this disk: no HTTP hop
            store = self.ctx.store
            store.fqn(dst, dst_name)  # validate the name
            dst_ref = remote_of(dst, self.ctx.meta.bmd.must_get(dst))
            through = self.cold.write_through(dst_ref, dst_name) if dst_ref is not None else None
            await write_stream(store, dst, dst_name, body(), Owt.COPY, expect_size=attrs.size, write_through=through)
            return

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=300))
        headers = {"Content-Length": str(attrs.size), "Content-Type": "application/octet-stream",
                   OWT_HEADER: Owt.COPY.value, **internal_headers()}
        async with self._session.put(url, params=params, data=body(), headers=headers) as r:
            if r.status >= 300:
                text = (await r.text(errors="replace"))[:512]
                err = ErrBadRequest if 400 <= r.status < 500 else AisError
                raise err(f"copy to {dst}/{dst_name} failed: {r.status} {text}")
