"""The EC side of a mountpath's data server: the internal `/v1/ec/...` route and the object hooks.

Internal route (target to target, `ec/peers.py`): receive, serve and drop this mountpath's
slices and full replicas. Hooks: `committed` (the write pipeline's, after a commit of any owt with
redundancy — PUT, copy, cold GET, prefetch, download, blob download: encode the new object of an EC
bucket; a PUT or copy awaits `settled`), `after_moved` (re-encode for a new placement), `restore` (a
GET or HEAD whose main replica is missing), `delete`, `head_headers` (`?props=ec`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, BinaryIO

import aiohttp
from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core.ec import Metafile, standin
from ais_ray.core.errors import AisError, ErrBadRequest, ErrObjNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, Namespace, Provider, split_obj_path, validate_bucket_name
from ais_ray.ec.manager import MOVED, PUT, ECManager, ErrNewestLost
from ais_ray.ec.peers import EC_PATH, META_HEADER, READ_CHUNK, WHAT_META, WHAT_VERIFY
from ais_ray.fs.write import fill

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext

log = logging.getLogger(__name__)
EC_ROUTE = EC_PATH + "{bucket}/{obj:.+}"
# HEAD ?props=ec (shared/ref/ais-wire.md §1: ais-ec-generation, -data, -parity, -replicated)
HDR_EC = {"generation": "Ais-Ec-Generation", "data": "Ais-Ec-Data", "parity": "Ais-Ec-Parity",
          "replicated": "Ais-Ec-Replicated"}


def _bucket_obj(req: web.Request) -> tuple[Bucket, str]:
    name, obj = split_obj_path("/v1/objects/" + req.raw_path[len(EC_PATH):])
    validate_bucket_name(name)
    provider = Provider.parse(req.query.get(H.Q_PROVIDER, "ais"))
    return Bucket(name, provider, Namespace.parse(req.query.get(H.Q_NAMESPACE, ""))), obj


class ECServer:
    def __init__(self, ctx: MountpathContext) -> None:
        self.ctx = ctx
        self.ec = ECManager(ctx.tid, ctx.store, ctx.meta)
        self.loop: asyncio.AbstractEventLoop | None = None  # the data server's (I/O) loop, set when it starts
        self._pending: dict[str, concurrent.futures.Future[None]] = {}  # uname -> its encode after a commit

    def register(self, app: web.Application) -> None:
        app.router.add_route("PUT", EC_ROUTE, self.put_slice)
        app.router.add_route("GET", EC_ROUTE, self.get_slice)
        app.router.add_route("PATCH", EC_ROUTE, self.patch_meta)
        app.router.add_route("DELETE", EC_ROUTE, self.delete_slice)

    async def close(self) -> None:
        await self.ec.close()

    # ---- hooks of the object handlers ---------------------------------------------------------
    def enabled(self, bck: Bucket) -> bool:
        return self.ec.conf(bck) is not None

    async def after_put(self, bck: Bucket, name: str, mode: str = PUT) -> None:
        """Encode a just-committed object (`MOVED`: re-encoded for the current placement unless its
        slices fit it). The PUT itself succeeded: a holder that cannot take its slice (down, full) is
        logged and counted, and `ec-encode --recover` sends it later."""
        if self.enabled(bck):
            await self._counted(bck, name, self.ec.encode(bck, name, mode), "stored, but not erasure-coded")

    async def _counted(self, bck: Bucket, name: str, work: Awaitable[object], what: str) -> None:
        """Run `work`, the EC side of a write that succeeded: its failure is counted and logged."""
        try:
            await work
        except (AisError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            self.ctx.stats.add("err.ec.encode")
            log.warning("%s/%s: %s: %s", bck, name, what, exc)

    def committed(self, bck: Bucket, name: str) -> None:
        """The write pipeline's hook (`MountpathStore.on_commit`, any thread): an object of any owt
        with redundancy (PUT, copy, cold GET, prefetch, download, blob download, ...) was committed
        here; in an EC bucket its encode starts on the I/O loop. A writer that answers only once the
        slices are out (PUT, copy) awaits `settled`."""
        if self.loop is None or not self.enabled(bck):
            return
        uname = bck.uname(name)
        fut = asyncio.run_coroutine_threadsafe(self.after_put(bck, name), self.loop)
        self._pending[uname] = fut

        def done(f: concurrent.futures.Future[None]) -> None:
            if self._pending.get(uname) is f:
                del self._pending[uname]

        fut.add_done_callback(done)

    async def settled(self, bck: Bucket, name: str) -> None:
        """Wait for the encode the latest commit of `bck/name` started (nothing when none is pending)."""
        fut = self._pending.get(bck.uname(name))
        if fut is not None:
            await asyncio.wrap_future(fut)

    async def after_moved(self, bck: Bucket, name: str) -> None:
        """An object a rebalance or resilver moved here: its slices follow the new placement."""
        await self.after_put(bck, name, MOVED)

    def moved_away(self, bck: Bucket, name: str, attrs: ObjAttrs) -> bool:
        """After the main held here moved to its owner (blocking): True if its file stays here as
        this target's full replica (`ECManager.moved_away`)."""
        return self.enabled(bck) and self.ec.moved_away(bck, name, attrs)

    async def restore(self, bck: Bucket, name: str) -> bool:
        """Rebuild a missing main replica; False when the bucket is not erasure-coded or no target
        holds anything of the object (then a remote bucket's cold GET goes on, or it is a 404).

        Raises:
            ErrNewestLost: the holders keep only data older than the lost main (a 404, no GFN).
        """
        if not self.enabled(bck):
            return False
        try:
            await self.ec.restore(bck, name)
        except ErrNewestLost:
            raise  # no neighbor's copy either: it can only be older
        except ErrObjNotFound:
            return False
        return True

    async def standin_open(self, bck: Bucket, name: str) -> tuple[BinaryIO, ObjAttrs] | None:
        """A read of an object whose owner is offline, sent here as its stand-in (`core/ec.py::standin`):
        rebuilt for this read (`ECManager.degraded`). None: this target is not the stand-in (or the
        bucket is not erasure-coded) — the caller goes on as for any object missing here.

        Raises:
            ErrObjNotFound: the stand-in cannot rebuild it.
        """
        smap = self.ctx.meta.smap
        if smap is None or not self.enabled(bck):
            return None
        uname = bck.uname(name)
        if smap.owner(uname).daemon_id == self.ctx.tid or standin(smap, uname).daemon_id != self.ctx.tid:
            return None
        return await self.ec.degraded(bck, name)

    async def set_meta(self, bck: Bucket, name: str, attrs: ObjAttrs) -> None:
        """The object's custom metadata changed here (a PATCH): its slices' and replicas' metafiles
        follow (`ECManager.set_meta`). The PATCH itself succeeded: a holder that cannot take it is
        logged and counted, and `ec-encode --recover` re-sends it."""
        if self.enabled(bck):
            await self._counted(bck, name, self.ec.set_meta(bck, name, attrs),
                                "new metadata stored, not yet on every EC holder")

    async def delete(self, bck: Bucket, name: str) -> None:
        if self.enabled(bck):
            await self.ec.delete(bck, name)

    async def head_headers(self, bck: Bucket, name: str) -> dict[str, str]:
        meta = await asyncio.to_thread(self.ec.slices.load_meta, bck, name)
        if meta is None:
            return {}
        return {HDR_EC["generation"]: str(meta.generation), HDR_EC["data"]: str(meta.data_slices),
                HDR_EC["parity"]: str(meta.parity_slices), HDR_EC["replicated"]: str(not meta.sliced).lower()}

    # ---- the internal route -------------------------------------------------------------------
    def _sent_meta(self, req: web.Request, what: str) -> tuple[Bucket, str, Metafile]:
        """The bucket, object and metafile (`META_HEADER`) of a holder's request; 400 without it."""
        bck, name = _bucket_obj(req)
        self.ctx.meta.bmd.must_get(bck)
        raw = req.headers.get(META_HEADER)
        if not raw:
            raise ErrBadRequest(f"EC {what} without {META_HEADER}")
        return bck, name, Metafile.from_bytes(raw.encode())

    async def put_slice(self, req: web.Request) -> web.Response:
        bck, name, meta = self._sent_meta(req, "put")
        store = self.ctx.store
        store.fqn(bck, name)  # validate the name before reading the body
        w = await asyncio.to_thread(store.new_writer)
        try:
            cksum = await fill(w, req.content.iter_any(),
                               expect_size=-1 if req.content_length is None else req.content_length)
        except BaseException:
            await asyncio.to_thread(w.abort)
            raise
        await asyncio.to_thread(self.ec.slices.commit, w, cksum, bck, name, meta)
        self.ctx.stats.add("stream.in", w.size)
        return web.Response(status=200)

    async def get_slice(self, req: web.Request) -> web.StreamResponse:
        bck, name = _bucket_obj(req)
        what = req.query.get(H.Q_WHAT, "")
        if what in (WHAT_META, WHAT_VERIFY):
            meta = await asyncio.to_thread(self.ec.slices.usable_meta, bck, name, verify=what == WHAT_VERIFY)
            if meta is None:
                raise ErrObjNotFound(bck, name)
            return web.Response(body=meta.to_bytes(), content_type="application/json")
        if what:
            raise ErrBadRequest(f'invalid what="{what}" (expecting "{WHAT_META}", "{WHAT_VERIFY}" or none)')
        f, meta = await asyncio.to_thread(self.ec.slices.open, bck, name)
        try:
            size = os.fstat(f.fileno()).st_size
            resp = web.StreamResponse(status=200, headers={META_HEADER: meta.to_bytes().decode()})
            resp.content_type = "application/octet-stream"
            resp.content_length = size
            await resp.prepare(req)
            while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                await resp.write(chunk)
            await resp.write_eof()
        finally:
            f.close()
        return resp

    async def patch_meta(self, req: web.Request) -> web.Response:
        bck, name, meta = self._sent_meta(req, "metadata")
        await asyncio.to_thread(self.ec.take_meta, bck, name, meta)
        return web.Response(status=200)

    async def delete_slice(self, req: web.Request) -> web.Response:
        bck, name = _bucket_obj(req)
        await asyncio.to_thread(self.ec.slices.delete, bck, name, main=False)
        return web.Response(status=200)
