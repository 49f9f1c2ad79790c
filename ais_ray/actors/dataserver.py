"""The object data server of one mountpath: PUT, GET (with Range), HEAD, DELETE.

Clients reach it through a 307 from the Serve API (or from the target's own URL), so
object bytes never pass through Ray Serve: uploads stream to a work file, downloads go
out with sendfile. Runs on the mountpath actor's private I/O loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any, AsyncIterable, Awaitable, Callable, Mapping

from aiohttp import web

from ais_ray.actors import archget, etl_inline, getbatch, handoff
from ais_ray.actors.archiver import Archiver
from ais_ray.actors.blobs import Blobs
from ais_ray.actors.cold import ColdGets
from ais_ray.actors.ecserver import ECServer
from ais_ray.actors.etl_pool import EtlPools
from ais_ray.actors.mover import Mover
from ais_ray.actors.copies import Copies
from ais_ray.actors.objcopy import ObjCopier
from ais_ray.actors.sendfile import send_file
from ais_ray.auth.gate import authorize, cluster_secret
from ais_ray.backends.base import RemoteObj
from ais_ray.core import headers as H
from ais_ray.core import mpu as mpu_wire
from ais_ray.core import params
from ais_ray.core import s3meta
from ais_ray.core.auth import Claims
from ais_ray.core.blob import blob_source
from ais_ray.core.copy import copy_version, present_only
from ais_ray.core.bmd import RemoteRef, remote_of
from ais_ray.core.etl import check_query as check_etl_query
from ais_ray.core.errors import AisError, ErrBadRequest, ErrNotFound, ErrObjNotFound, ErrPreconditionFailed, error_body
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, Namespace, Provider, parse_uname, split_obj_path, validate_bucket_name
from ais_ray.core.owt import OWT_HEADER, Owt, put_owt
from ais_ray.core.ranges import parse_range
from ais_ray.actors.mpu import MpuServer, body_size
from ais_ray.fs.atime import FLUSH_EVERY as ATIME_FLUSH_EVERY
from ais_ray.fs.write import Precondition, write_stream
from ais_ray.stats import Counters

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext

log = logging.getLogger(__name__)

OBJ_ROUTE = r"/v1/objects/{bucket}/{obj:[\s\S]+}"  # any name, a newline too: its handler answers a bad one


def bucket_obj_from_request(req: web.Request) -> tuple[Bucket, str]:
    """Bucket and object name, decoded exactly as the API decodes them (`split_obj_path`)."""
    name, obj = split_obj_path(req.raw_path)
    validate_bucket_name(name)
    provider = Provider.parse(req.query.get(H.Q_PROVIDER, "ais"))
    ns = Namespace.parse(req.query.get(H.Q_NAMESPACE, ""))
    return Bucket(name, provider, ns), obj


def authorize_data_request(req: web.Request) -> Claims | None:
    """The token or redirect grant check of a data server (401/403); the token's claims."""
    if cluster_secret() is None:
        return None
    try:
        bck: Bucket | None = bucket_obj_from_request(req)[0] if req.path.startswith("/v1/objects/") else None
    except AisError:
        bck = None  # the handler answers 400 for the name
    return authorize(req.method, req.path, "", bck, req.headers.get("Authorization"), req.query.get(H.Q_GRANT),
                     raw_path=req.raw_path.partition("?")[0])


def obj_headers(bck: Bucket, name: str, attrs: ObjAttrs, location: str, mtime: float = 0.0) -> dict[str, str]:
    """AIS object metadata headers (Go `cmn.ObjAttrs.ToHeader`, `objHeadV2`); `mtime` in seconds."""
    out = {
        H.OBJ_NAME: name, H.BUCKET_NAME: bck.name, H.BUCKET_PROVIDER: bck.provider.value,
        H.CKSUM_TYPE: attrs.cksum_type, H.CKSUM_VAL: attrs.cksum, H.ATIME: str(attrs.atime_ns),
        H.VERSION: attrs.version, H.PRESENT: "true", H.LOCATION: location,
        H.MIRROR_COPIES: str(len(attrs.copies) or 1), H.MIRROR_PATHS: ",".join(attrs.copies),
    }
    if attrs.custom:
        out[H.CUSTOM_MD] = ",".join(f"{k}={v}" for k, v in sorted(attrs.custom.items()))
        out.update(s3meta.to_headers(attrs.custom))  # an S3 PUT's Content-Type, x-amz-meta-* (core/s3meta.py)
    out[H.ETAG] = H.etag(attrs.src_etag, attrs.cksum)
    out[H.LAST_MODIFIED] = H.last_modified(mtime)
    return {k: v for k, v in out.items() if v}


def error_middleware(node: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def mw(req: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            params.check(req.method, req.path, req.query.items())  # the accepted-parameter table (core/params.py)
            req["claims"] = authorize_data_request(req)  # auth/gate.py (a no-op unless `up --auth`)
            return await handler(req)
        except AisError as err:
            return error_response(err, req, node)
        except web.HTTPException:
            raise
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or an I/O failure: 500, logged once here
            log.exception("%s %s failed", req.method, req.path)
            return error_response(AisError(f"{type(exc).__name__}: {exc}"), req, node)

    return mw


def error_response(err: AisError, req: web.Request, node: str) -> web.Response:
    body = error_body(err, method=req.method, url_path=req.path, node=node, remote_addr=req.remote or "")
    if req.method == "HEAD":  # no body: the type travels in a header
        return web.Response(status=err.status, headers=H.head_headers(len(json.dumps(body)), {
            "Content-Type": "application/json", H.ERROR_CODE: type(err).__name__}))
    return web.json_response(body, status=err.status)


_OPS = {"GET": "get", "HEAD": "head", "DELETE": "del", "PUT": "put"}
BCK_KEY = "ais_bck"  # the request's bucket, set by `_locate` for the stats label


def stats_middleware(stats: Counters) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Count each object request with its bucket and latency (AIStore `get.n`, `get.ns.total`...).

    Outside the error middleware: it sees the final status. PUTs are counted (n, bytes) by the
    write pipeline, whatever writes; here only their latency. 404s are answers, not errors.
    """
    @web.middleware
    async def mw(req: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        t0 = time.perf_counter_ns()
        resp = await handler(req)
        op = _OPS.get(req.method)
        bck = req.get(BCK_KEY)
        if op is None or bck is None:
            return resp
        label = str(bck)
        if resp.status >= 400:
            if op != "put" and resp.status != 404:
                stats.add("err." + op, label=label)
        elif op == "put":
            if H.Q_OBJ_TO not in req.query:  # a copy is counted on its destination
                stats.add_ns("put", time.perf_counter_ns() - t0, label=label)
        else:
            stats.add(op, (resp.content_length or 0) if op == "get" else 0, ns=time.perf_counter_ns() - t0, label=label)
        return resp

    return mw


class DataServer:
    def __init__(self, ctx: MountpathContext) -> None:
        self.ctx = ctx
        self.app = web.Application(middlewares=[stats_middleware(ctx.stats), error_middleware(ctx.node_name)],
                                   client_max_size=0)
        self.app.router.add_route("PUT", OBJ_ROUTE, self.put_object)
        self.app.router.add_route("GET", OBJ_ROUTE, self.get_object)
        self.app.router.add_route("HEAD", OBJ_ROUTE, self.head_object)
        self.app.router.add_route("DELETE", OBJ_ROUTE, self.delete_object)
        self.app.router.add_route("POST", OBJ_ROUTE, self.object_action)  # native multipart (actors/mpu.py)
        self.app.router.add_route("PATCH", OBJ_ROUTE, self.patch_object)  # custom metadata (SDK set_custom_props)
        self.app.router.add_get("/v1/health", self.health)
        self.app.router.add_get(getbatch.ROUTE, self.get_batch)  # GetBatch's designated server (actors/getbatch.py)
        self.app.router.add_get(getbatch.ROUTE + "/{bucket}", self.get_batch)
        self.app.router.add_post(getbatch.READ_ROUTE, self.read_many)  # internal: a holder's items of a batch
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.handed: handoff.Receiver | None = None
        self.cold = ColdGets(ctx.store)
        self.blobs = Blobs(ctx)
        self.etl = EtlPools(ctx.tid)  # this node's ETL workers (inline GETs, offline jobs)
        self.ec = ECServer(ctx)  # erasure coding: the internal /v1/ec route and the object hooks
        self.copier = ObjCopier(ctx, self.cold, lambda: self.url, self.etl, self.ec)
        self.mover = Mover(ctx, self.copier, lambda: self.url)
        # copy jobs' and moves' small objects, many to a request; internal /v1/copies
        self.copies = self.mover.copies = Copies(self.copier, self.mover)
        self.copies.register(self.app)
        self.ec.register(self.app)
        self.mpu = MpuServer(ctx, self._commit_put)  # multipart uploads and appends; internal /v1/mpu/ routes
        self.archiver = Archiver(ctx, self.copier, self._commit_put)  # shards of objects (the archive job)
        self.mpu.register(self.app)
        self._atime_task: asyncio.Future[None] | None = None

    async def start(self, host: str, port: int) -> str:
        """Bind `port` if free (stable URLs across restarts), else any free port; return the URL."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = bind_socket(host, port)
        site = web.SockSite(self._runner, sock, backlog=1024)
        await site.start()
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        assert self._runner.server is not None
        self.handed = handoff.Receiver(self._runner.server)  # PUTs' connections from the front door (actors/handoff.py)
        self.handed.start(self.url)
        self.ec.loop = asyncio.get_running_loop()  # commits (any thread) start their EC encode here
        self._atime_task = asyncio.ensure_future(self._flush_atimes())
        self.mpu.start_sweeper()
        return self.url

    async def _flush_atimes(self) -> None:
        """Write the access times GETs noted (`fs/atime.py`), every few seconds."""
        while True:
            await asyncio.sleep(ATIME_FLUSH_EVERY)
            if len(self.ctx.store.atimes):
                await asyncio.to_thread(self.ctx.store.atimes.flush)

    async def stop(self) -> None:
        if self.handed is not None:
            self.handed.close()
        if self._atime_task is not None:
            self._atime_task.cancel()
        self.mpu.stop_sweeper()
        await asyncio.to_thread(self.ctx.store.atimes.flush)
        await self.copier.close()
        await self.ec.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- handlers --------------------------------------------------------------------------
    async def health(self, req: web.Request) -> web.Response:
        return web.Response(status=200)

    async def get_batch(self, req: web.Request) -> web.StreamResponse:
        return await getbatch.handle(req, self.copier)

    async def read_many(self, req: web.Request) -> web.Response:
        return await getbatch.read_many(req, self.ctx)

    def _locate(self, req: web.Request) -> tuple[Bucket, str, RemoteRef | None]:
        bck, name = bucket_obj_from_request(req)
        req[BCK_KEY] = bck
        props = self.ctx.meta.bmd.must_get(bck)
        return bck, name, remote_of(bck, props)

    def _writable(self, bck: Bucket) -> None:
        """A client's write (PUT, DELETE, PATCH, multipart, a copy into it) into a bucket that is
        read-only now (a rename's source or destination): ErrBusy, before any body is read."""
        self.ctx.meta.bmd.must_get(bck).check_writable(bck)

    async def put_object(self, req: web.Request) -> web.Response:
        bck, name, ref = self._locate(req)
        if H.Q_OBJ_TO in req.query:  # copy this object elsewhere; the source is only read
            self._writable(parse_uname(req.query[H.Q_OBJ_TO])[0])
            return await self.copier.copy(req, bck, name, ref)
        kind = mpu_wire.check_put(req.query)
        owt = put_owt(req.headers.get(OWT_HEADER, ""))
        if kind or owt is Owt.PUT:  # a job's and a move's own writes (copy, rebalance, ...) are not a client's
            self._writable(bck)
        if kind:
            return await self.mpu.native_put(req, bck, name, kind)
        if owt is Owt.REBALANCE:  # an object moving here (rebalance, resilver)
            resp = await self.mover.receive(req, bck, name)
            await self.ec.after_moved(bck, name)
            return resp
        self.ctx.store.fqn(bck, name)  # validate the name before reading the body
        custom = s3meta.from_wire(req.headers.get(s3meta.WIRE))  # an S3 PUT's Content-Type and x-amz-meta-*
        version = ""
        if owt is Owt.COPY:  # the source's version and custom metadata, kept
            version = copy_version(req.headers.get(H.VERSION, ""))
            custom |= copy_custom(req.headers.get(H.COPY_CUSTOM, ""))
        attrs = await self._commit_put(bck, name, req.content.iter_any(), body_size(req), owt, ref, custom=custom,
                                       precondition=write_precondition(req.headers), version=version)
        return web.Response(status=200, headers={H.ETAG: H.etag(attrs.src_etag, attrs.cksum)})

    async def _commit_put(self, bck: Bucket, name: str, chunks: AsyncIterable[bytes], size: int,
                          owt: Owt = Owt.PUT, ref: RemoteRef | None = None,
                          custom: dict[str, str] | None = None, precondition: Precondition | None = None,
                          version: str = "") -> ObjAttrs:
        """A PUT's bytes become the object: written through to the remote side first (if any),
        committed (`fs/write.py`), EC-encoded (an EC bucket). Multipart and append end here too."""
        if ref is None:
            ref = remote_of(bck, self.ctx.meta.bmd.must_get(bck))
        through = self.cold.write_through(ref, name) if ref is not None else None  # the remote has it first
        attrs = await write_stream(self.ctx.store, bck, name, chunks, owt, expect_size=size, write_through=through,
                                   custom=custom, precondition=precondition, version=version)
        await self.ec.settled(bck, name)  # the commit started the encode (EC bucket): answer once it is done
        return attrs

    async def patch_object(self, req: web.Request) -> web.Response:
        """The object's custom metadata (`PATCH` body `{"action": "", "value": {k: v}}`, the SDK's
        `set_custom_props`): merged into what it has, or instead of it with `set-new-custom=true`."""
        bck, name, _ = self._locate(req)
        self._writable(bck)
        custom = custom_md_value(await req.read())
        replace_all = H.is_true(req.query.get(H.Q_NEW_CUSTOM))
        attrs = await asyncio.to_thread(self.ctx.store.set_custom, bck, name, custom, replace_all=replace_all)
        await self.ec.set_meta(bck, name, attrs)  # an EC bucket: its slices' metafiles follow
        return web.Response(status=200)

    async def object_action(self, req: web.Request) -> web.Response:
        """POST: the native multipart actions (`actors/mpu.py`)."""
        bck, name, _ = self._locate(req)
        self._writable(bck)
        return await self.mpu.native_post(req, bck, name)

    async def get_object(self, req: web.Request) -> web.StreamResponse:
        bck, name, ref = self._locate(req)
        stages = check_etl_query(req.query)
        if stages:  # inline transform (actors/etl_inline.py)
            return await etl_inline.serve(req, self.etl, self.ctx, bck, name, lambda: self._open_stored(bck, name, ref),
                                          stages)
        arch = archget.query(req)
        if arch is not None:  # member(s) of a shard (actors/archget.py)
            f, attrs = await self._open_stored(bck, name, ref)
            return await archget.serve(req, arch, name, f, {H.OBJ_NAME: name, H.BUCKET_NAME: bck.name})
        if H.is_true(req.headers.get(H.BLOB_DOWNLOAD)):
            return await self._blob_get(req, bck, name, ref)
        try:
            f, attrs = await self._open(bck, name)
        except ErrObjNotFound:
            if _gfn(req):
                raise
            opened = await self.ec.standin_open(bck, name)
            if opened is not None:  # the owner is offline: rebuilt here for this read
                return await self._serve_local(req, bck, name, *opened)
            try:
                f, attrs = await self._recover(req, bck, name)
            except ErrObjNotFound:
                if ref is None:
                    raise
                return await self._cold_get(req, bck, name, ref)
        if ref is not None and _wants_latest(req):
            if not await self.cold.is_current(ref, name, attrs):
                f.close()
                try:
                    return await self._cold_get(req, bck, name, ref)
                except ErrObjNotFound:  # gone from the remote: so is the cached copy
                    await asyncio.to_thread(self.ctx.store.delete, bck, name)
                    raise
        return await self._serve_local(req, bck, name, f, attrs)

    async def _open(self, bck: Bucket, name: str) -> tuple[Any, ObjAttrs]:
        """`store.open`, every read of this server: the common case on this loop (an open, an
        fgetxattr and an fstat cost microseconds, a hand-off to a thread and back costs a GET
        ~0.1 ms of CPU, and the loop already waits for this disk inside sendfile); only a miss
        goes to a thread (a mirrored object's restore copies a replica)."""
        try:
            return self.ctx.store.open_here(bck, name)
        except ErrObjNotFound:
            return await asyncio.to_thread(self.ctx.store.open, bck, name)

    async def _open_stored(self, bck: Bucket, name: str, ref: RemoteRef | None) -> tuple[Any, ObjAttrs]:
        """The stored object, fetched first (cold GET) when a remote bucket does not have it yet."""
        try:
            return await self._open_here(None, bck, name)
        except ErrObjNotFound:
            if ref is None:
                raise
        await self.cold.fetch(bck, ref, name, None)
        return await self._open(bck, name)

    async def _recover(self, req: web.Request, bck: Bucket, name: str) -> tuple[Any, ObjAttrs]:
        """An object missing on this disk, brought back: in an erasure-coded bucket rebuilt by the
        restore first, which takes the newest data any holder's metafile describes — a neighbor's
        copy may be older (an owner out of placement keeps its main while the object is
        overwritten elsewhere); else (or when nothing is encoded) fetched from the neighbor that
        still holds it while placement changes.

        Raises:
            ErrObjNotFound: neither has it.
        """
        if await self.ec.restore(bck, name):
            return await self._open(bck, name)
        return await self._open_here(req, bck, name)

    async def _open_here(self, req: web.Request | None, bck: Bucket, name: str) -> tuple[Any, ObjAttrs]:
        """The object as stored on this disk; while placement is changing, one not here yet is
        first fetched from the neighbor that still holds it (unless this is such a fetch)."""
        try:
            return await self._open(bck, name)
        except ErrObjNotFound:
            if (req is not None and _gfn(req)) or not await self.mover.from_neighbor(bck, name):
                raise
        opened = await self._open(bck, name)
        self.mover.hand_on(bck, name)
        return opened

    async def _serve_local(self, req: web.Request, bck: Bucket, name: str, f: Any, attrs: ObjAttrs) -> web.StreamResponse:
        resp = await send_object(req, bck, name, f, attrs, self.ctx.location, self.ctx.stats)
        if self.ctx.store.touch(bck, name):
            await asyncio.to_thread(self.ctx.store.atimes.flush)
        return resp

    async def _cold_get(self, req: web.Request, bck: Bucket, name: str, ref: RemoteRef) -> web.StreamResponse:
        """Fetch from the remote, storing while streaming (a Range request waits for the whole object)."""
        resp: web.StreamResponse | None = None

        async def stream(obj: RemoteObj, chunk: bytes | None) -> None:
            nonlocal resp
            if chunk is None:
                attrs = ObjAttrs(size=obj.size, cksum_type="", version=obj.version, src_etag=obj.etag)
                resp = web.StreamResponse(status=200, headers=obj_headers(bck, name, attrs, self.ctx.location))
                resp.content_type = "application/octet-stream"
                if obj.size >= 0:
                    resp.content_length = obj.size
                await resp.prepare(req)
            else:
                assert resp is not None
                await resp.write(chunk)

        ranged = bool(req.headers.get("Range"))
        await self.cold.fetch(bck, ref, name, None if ranged else stream)  # counted by the pipeline (get.cold)
        if resp is None:  # a Range request, or another request fetched it meanwhile: serve the copy
            f, attrs = await self._open(bck, name)
            return await self._serve_local(req, bck, name, f, attrs)
        await resp.write_eof()
        return resp

    async def _blob_get(self, req: web.Request, bck: Bucket, name: str, ref: RemoteRef | None) -> web.StreamResponse:
        """GET through the blob downloader: parallel range reads, bytes streamed in order while stored."""
        ref = blob_source(bck, ref)
        if req.headers.get("Range"):
            raise ErrBadRequest("blob download cannot be combined with a Range request")
        try:
            f, attrs = await self._open(bck, name)
        except ErrObjNotFound:
            pass
        else:
            if not _wants_latest(req) or await self.cold.is_current(ref, name, attrs):
                return await self._serve_local(req, bck, name, f, attrs)
            f.close()
        obj = await self.cold.head(ref, name)
        if self.blobs.busy(bck, name):  # another GET or job is fetching it: serve its result
            await self.blobs.fetch(bck, ref, name, obj)
            f, attrs = await self._open(bck, name)
            return await self._serve_local(req, bck, name, f, attrs)
        bd = self.blobs.new(bck, ref, name, obj, chunk=req.headers.get(H.BLOB_CHUNK) or None,
                            workers=req.headers.get(H.BLOB_WORKERS) or None)
        meta = ObjAttrs(size=obj.size, cksum_type="", version=obj.version, src_etag=obj.etag)
        resp = web.StreamResponse(status=200, headers=obj_headers(bck, name, meta, self.ctx.location))
        resp.content_type = "application/octet-stream"
        resp.content_length = obj.size
        await resp.prepare(req)
        async for piece in bd.stream():
            await resp.write(piece)
        await resp.write_eof()
        return resp

    async def head_object(self, req: web.Request) -> web.StreamResponse:
        bck, name, ref = self._locate(req)
        props = [p for p in req.query.get(H.Q_PROPS, "").split(",") if p]
        unknown = [p for p in props if p not in H.HEAD_PROPS]
        if unknown:
            raise ErrBadRequest(f"invalid object property {unknown[0]!r} (expecting one of: {', '.join(sorted(H.HEAD_PROPS))})")
        try:
            try:
                attrs, mtime = await asyncio.to_thread(self._load_with_mtime, bck, name)
            except ErrObjNotFound:
                opened = None if _gfn(req) else await self.ec.standin_open(bck, name)
                if opened is not None:  # the owner is offline: its stand-in answers
                    opened[0].close()
                    attrs, mtime = opened[1], 0.0
                elif _gfn(req):
                    raise
                else:
                    f, attrs = await self._recover(req, bck, name)
                    with f:  # data and metadata of the one inode, as a GET's
                        mtime = os.fstat(f.fileno()).st_mtime
            headers = obj_headers(bck, name, attrs, self.ctx.location, mtime)
            if "ec" in props:
                headers.update(await self.ec.head_headers(bck, name))
        except ErrObjNotFound:
            if ref is None or present_only(req.query.get(H.Q_PRESENCE)):
                raise
            obj = await self.cold.head(ref, name)  # not cached: the remote's answer, Ais-Present false
            attrs = ObjAttrs(size=obj.size, cksum_type="", version=obj.version, src_etag=obj.etag)
            headers = {**obj_headers(bck, name, attrs, "", obj.last_modified), H.PRESENT: "false"}
        resp = web.StreamResponse(status=200, headers=headers)
        resp.content_length = attrs.size
        await resp.prepare(req)
        return resp

    def _load_with_mtime(self, bck: Bucket, name: str) -> tuple[ObjAttrs, float]:
        attrs = self.ctx.store.load(bck, name)
        try:
            return attrs, os.stat(self.ctx.store.fqn(bck, name)).st_mtime
        except OSError:
            return attrs, 0.0

    async def delete_object(self, req: web.Request) -> web.Response:
        bck, name, ref = self._locate(req)
        self._writable(bck)
        if upload := req.query.get(mpu_wire.Q_UPLOAD_ID, ""):  # the native multipart abort
            await self.mpu.abort(upload, bck, name)
            return web.Response(status=200)
        await self._delete(bck, name, ref)
        return web.Response(status=200)

    async def _delete(self, bck: Bucket, name: str, ref: RemoteRef | None) -> None:
        await self.ec.delete(bck, name)  # slices and replicas on other targets first (an EC bucket)
        await self.cold.remove(bck, ref, name)

    async def delete_many(self, bck: Bucket, names: list[str]) -> int:
        """A delete list-range's batch owned here (`jobs/evict.py`): each as its DELETE; how many were."""
        ref = remote_of(bck, self.ctx.meta.bmd.must_get(bck))
        self._writable(bck)
        n = 0
        for name in names:
            try:
                await self._delete(bck, name, ref)
                n += 1
            except ErrNotFound:
                pass  # neither here nor on the remote side: nothing to delete
        return n


async def send_object(req: web.Request, bck: Bucket, name: str, f: Any, attrs: ObjAttrs, location: str,
                      stats: Counters) -> web.StreamResponse:
    """Answer a GET with the open object `f` (its Range, headers, zero-copy body); closes `f`."""
    try:
        rng = parse_range(req.headers.get("Range", ""), attrs.size)
        offset, length = rng or (0, attrs.size)
        resp = web.StreamResponse(status=206 if rng else 200,
                                  headers=obj_headers(bck, name, attrs, location, os.fstat(f.fileno()).st_mtime))
        if _gfn(req):  # a neighbor takes the object over: its whole metadata travels
            resp.headers[H.REB_ATTRS] = attrs.to_header()
        if rng:
            resp.headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{attrs.size}"
        resp.headers["Accept-Ranges"] = "bytes"
        resp.headers["Content-Type"] = attrs.custom.get("Content-Type", "application/octet-stream")
        resp.content_length = length
        await resp.prepare(req)
        if length and not await send_file(req, resp, f, offset, length):
            stats.add("get.copied", length)  # no zero-copy path: should not happen on plain TCP
        await resp.write_eof()
    finally:
        f.close()
    return resp


def write_precondition(headers: Mapping[str, str]) -> Precondition | None:
    """A conditional PUT (S3's, RFC 9110 13.1): `If-None-Match: *` — only where no object is;
    `If-Match: "etag"[, ...]` — only over that object. Tested at the commit (`MountpathStore.commit`),
    so two such writers never both succeed."""
    none_match, match = headers.get("If-None-Match", "").strip(), headers.get("If-Match", "").strip()
    if not none_match and not match:
        return None
    if none_match and none_match != "*":
        raise ErrBadRequest(f"If-None-Match on a write must be *, got {none_match!r}")
    wanted = {t.strip().strip('"') for t in match.split(",") if t.strip()}

    def check(prev: ObjAttrs | None) -> None:
        if none_match and prev is not None:
            raise ErrPreconditionFailed("At least one of the pre-conditions you specified did not hold "
                                        "(If-None-Match: the object exists)")
        if wanted and (prev is None or ("*" not in wanted and H.etag(prev.src_etag, prev.cksum).strip('"') not in wanted)):
            raise ErrPreconditionFailed("At least one of the pre-conditions you specified did not hold (If-Match)")

    return check


MAX_CUSTOM_MD = 4096  # bytes of keys and values: the object's metadata is one xattr (ext4: one block)


def custom_md_value(body: bytes) -> dict[str, str]:
    """A PATCH's custom metadata: a JSON action message whose value maps names to strings; any other
    shape, an empty name, a control character, "=" in a name or more than MAX_CUSTOM_MD bytes is a 400."""
    try:
        msg = json.loads(body or b"null")
    except ValueError as exc:
        raise ErrBadRequest(f"custom metadata: invalid JSON body ({exc})") from None
    return _custom_md(msg.get("value") if isinstance(msg, dict) else None)


def copy_custom(header: str) -> dict[str, str]:
    """A copy's custom metadata (`COPY_CUSTOM`, a JSON object), checked as a PATCH's is."""
    if not header:
        return {}
    try:
        return _custom_md(json.loads(header))
    except ValueError:
        raise ErrBadRequest(f"{H.COPY_CUSTOM}: not JSON") from None


def _custom_md(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()):
        raise ErrBadRequest('custom metadata: expecting {"action": "", "value": {"name": "string value", ...}}')
    bad = [k for k, v in value.items() if "=" in k or any(c < " " or c == "\x7f" for c in k + v)]
    if bad:  # answered in a header as k=v pairs (`ais-custom-md`): no control character, no "=" in a name
        raise ErrBadRequest(f"custom metadata: {bad[0]!r}: a name without '=' and control characters, a value "
                            f"without control characters")
    if sum(len(k.encode(errors="replace")) + len(v.encode(errors="replace")) for k, v in value.items()) > MAX_CUSTOM_MD:
        raise ErrBadRequest(f"custom metadata: more than {MAX_CUSTOM_MD} bytes of names and values")
    return value


def _gfn(req: web.Request) -> bool:
    """`?gfn=true`: a neighbor fetching what is stored here (no GFN of its own, no cold GET)."""
    return H.is_true(req.query.get(H.Q_GFN))


def _wants_latest(req: web.Request) -> bool:
    """`?latest-ver=true`: check the remote's version before serving a cached copy."""
    return H.is_true(req.query.get(H.Q_LATEST))


def bind_socket(host: str, port: int) -> socket.socket:
    for candidate in ((port, 0) if port else (0,)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(1024)
        sock.setblocking(False)
        return sock
    raise OSError(f"cannot bind {host}")
