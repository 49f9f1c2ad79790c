"""Multipart uploads and appends on the mountpath that owns the object: one store for the S3 API
(`serve/s3.py`) and the native API (`core/mpu.py`: the SDK's `multipart_upload()`, `append_content`).

An upload is a directory `<mp>/%mu/<upload>/` holding `meta.json` (bucket, object name, start
time, kind), its parts `00001`, `00002`, ... (each a work file renamed once whole; a retried part
replaces it; `<part>.etag` beside it) or, for an append handle, one `data` file the appends extend
(the object's current bytes first: AIStore appends to what is there). Complete / flush streams the
bytes, in order, through the data server's PUT (`fs/write.py`, `Owt.PUT`, write-through and EC as
for any PUT): the object appears whole or not at all; then the directory goes. Abort removes it;
uploads untouched for `STALE_AFTER` are removed at start and every `SWEEP_EVERY`.

Internal routes of the data server, for the S3 API (the front door calls them):

    POST   /v1/mpu?bck=<uname prefix>&name=<key>     create -> upload id (text)
    GET    /v1/mpu?bck=<uname prefix>                the bucket's uploads here (JSON)
    PUT    /v1/mpu/<upload>/<part>?bck=&name=        store one part -> ETag
    GET    /v1/mpu/<upload>                          the upload and its parts (JSON)
    POST   /v1/mpu/<upload>?bck=&name=   body: JSON [part numbers]   complete -> ETag
    DELETE /v1/mpu/<upload>                          abort
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core import lom
from ais_ray.core import mpu as M
from ais_ray.core import s3meta
from ais_ray.core.bmd import bucket_from_key
from ais_ray.core.errors import AisError, ErrBadRequest, ErrNotFound, ErrObjNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.xid import gen_uuid
from ais_ray.fs.store import write_file_atomic
from ais_ray.fs.write import fill

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext

MPU_PATH = "/v1/mpu/"
STALE_AFTER = 24 * 3600.0  # seconds an upload nobody touches is kept
SWEEP_EVERY = 3600.0
READ = 1 << 20
META, DATA = "meta.json", "data"

# The data server's PUT of a finished byte stream: (bck, name, chunks, expected size) -> metadata
Commit = Callable[..., Awaitable[ObjAttrs]]  # (bck, name, chunks, size, *, custom=None): `DataServer._commit_put`


def remove_stale(root: str, older_than: float = STALE_AFTER) -> int:
    """Blocking. Drop the uploads under `root` nobody touched for `older_than` seconds."""
    n, now = 0, time.time()
    for d in os.scandir(root) if os.path.isdir(root) else ():
        if now - d.stat().st_mtime > older_than:
            shutil.rmtree(d.path, ignore_errors=True)
            n += 1
    return n


class MpuServer:
    def __init__(self, ctx: MountpathContext, commit: Commit) -> None:
        self.ctx = ctx
        self.root = os.path.join(ctx.store.path, lom.CT_MPU)
        self._commit = commit
        self._sweeper: asyncio.Future[None] | None = None

    def register(self, app: web.Application) -> None:
        app.router.add_route("POST", MPU_PATH.rstrip("/"), self.h_create)
        app.router.add_route("GET", MPU_PATH.rstrip("/"), self.h_uploads)
        app.router.add_route("PUT", MPU_PATH + "{upload}/{part}", self.h_put_part)
        app.router.add_route("GET", MPU_PATH + "{upload}", self.h_parts)
        app.router.add_route("POST", MPU_PATH + "{upload}", self.h_complete)
        app.router.add_route("DELETE", MPU_PATH + "{upload}", self.h_abort)

    def start_sweeper(self) -> None:
        async def sweep() -> None:
            while True:
                await asyncio.sleep(SWEEP_EVERY)
                await asyncio.to_thread(remove_stale, self.root)

        self._sweeper = asyncio.ensure_future(sweep())

    def stop_sweeper(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()

    # ---- the store -------------------------------------------------------------------------
    def _dir(self, upload: str) -> str:
        return os.path.join(self.root, M.upload_id(upload))

    def _meta(self, upload: str, bck: Bucket | None = None, name: str = "") -> tuple[str, dict[str, Any]]:
        """The upload's directory and meta; 404 if there is none (or it is another object's)."""
        d = self._dir(upload)
        try:
            with open(os.path.join(d, META), "rb") as f:
                meta = json.loads(f.read())
        except (OSError, ValueError):
            raise ErrNotFound(f'no upload "{upload}"') from None
        if bck is not None and (meta["bck"] != bck.uname_prefix or meta["name"] != name):
            raise ErrNotFound(f'no upload "{upload}" of {bck}/{name}')
        return d, meta

    async def create(self, bck: Bucket, name: str, *, append: bool = False, custom: dict[str, str] | None = None) -> str:
        """A new upload; `custom`: the object's custom metadata, kept for its commit (an S3 upload's)."""
        self.ctx.store.fqn(bck, name)  # validates the name
        upload = gen_uuid() + gen_uuid()
        d = self._dir(upload)
        meta = {"bck": bck.uname_prefix, "name": name, "initiated": time.time_ns(), "append": append,
                "custom": custom or {}}
        await asyncio.to_thread(os.makedirs, d, exist_ok=True)
        await asyncio.to_thread(write_file_atomic, os.path.join(d, META), json.dumps(meta).encode())
        return upload

    async def put_part(self, upload: str, bck: Bucket | None, name: str, part: int, chunks: AsyncIterable[bytes],
                       size: int) -> str:
        d, _ = self._meta(upload, bck, name)
        w = self.ctx.store.new_writer()
        try:
            cksum = await fill(w, chunks, expect_size=size)
            path = os.path.join(d, f"{part:05d}")
            await asyncio.to_thread(os.replace, w.path, path)
            await asyncio.to_thread(write_file_atomic, path + ".etag", cksum.encode(), fsync=False)
        except BaseException:
            w.abort()
            raise
        return f'"{cksum}"'

    async def complete(self, upload: str, bck: Bucket, name: str, parts: list[int],
                       etags: dict[int, str] | None = None) -> ObjAttrs:
        """The parts, in order, become the object. `etags`: what the client was answered for
        some of them (S3's CompleteMultipartUpload names each): a part uploaded again since, with
        other bytes, is not the one the client means — a 400, nothing written (S3 `InvalidPart`)."""
        d, meta = self._meta(upload, bck, name)
        files = [os.path.join(d, f"{p:05d}") for p in parts]
        if missing := [p for p, f in zip(parts, files) if not os.path.exists(f)]:
            raise ErrBadRequest(f"upload {upload}: no part {', '.join(map(str, missing))}")
        if etags:
            def stale() -> list[int]:
                return [p for p, etag in sorted(etags.items()) if _part_etag(os.path.join(d, f"{p:05d}")) != etag]

            if bad := await asyncio.to_thread(stale):
                raise ErrBadRequest(f"upload {upload}: the ETag given for part {', '.join(map(str, bad))} is not "
                                    f"that part's (uploaded again since?)")
        custom = meta.get("custom")
        attrs = await self._commit(bck, name, _read_all(files), sum(os.path.getsize(f) for f in files),
                                   custom=custom if isinstance(custom, dict) else None)
        await asyncio.to_thread(shutil.rmtree, d, True)
        return attrs

    async def abort(self, upload: str, bck: Bucket | None = None, name: str = "") -> None:
        d, _ = self._meta(upload, bck, name)
        await asyncio.to_thread(shutil.rmtree, d, True)

    def parts(self, upload: str) -> dict[str, Any]:
        """Blocking. The upload's meta and its parts: number, size, ETag, last modified (ns)."""
        d, meta = self._meta(upload)
        out = []
        for e in sorted(os.scandir(d), key=lambda e: e.name):
            if e.name.isdigit():
                st = e.stat()
                out.append({"part": int(e.name), "size": st.st_size, "etag": f'"{_part_etag(e.path)}"',
                            "mtime": st.st_mtime_ns})
        return {**meta, "upload": upload, "parts": out}

    def uploads(self, bck: Bucket) -> list[dict[str, Any]]:
        """Blocking. The multipart uploads of `bck` held here (not append handles)."""
        out = []
        for e in os.scandir(self.root) if os.path.isdir(self.root) else ():
            try:
                _, meta = self._meta(e.name)
            except AisError:
                continue
            if meta["bck"] == bck.uname_prefix and not meta.get("append"):
                out.append({**meta, "upload": e.name})
        return out

    # ---- append (native `append_type=append|flush`) -----------------------------------------
    async def append(self, bck: Bucket, name: str, handle: str, chunks: AsyncIterable[bytes], size: int) -> str:
        """Add the body to the handle's bytes (a new handle starts from the object's current
        bytes, if any); the handle to pass next."""
        if not handle:
            handle = await self.create(bck, name, append=True)
            await asyncio.to_thread(self._start_from_object, self._dir(handle), bck, name)
        d, meta = self._meta(handle, bck, name)
        if not meta.get("append"):
            raise ErrBadRequest(f'"{handle}" is a multipart upload, not an append handle')
        got = 0
        with open(os.path.join(d, DATA), "ab") as f:
            async for chunk in _batched(chunks):
                await asyncio.to_thread(f.write, chunk)
                got += len(chunk)
        if 0 <= size != got:
            raise ErrBadRequest(f"append: got {got} bytes of {size}")
        os.utime(d)
        return handle

    def _start_from_object(self, d: str, bck: Bucket, name: str) -> None:
        try:
            f, _ = self.ctx.store.open(bck, name)
        except ErrObjNotFound:
            open(os.path.join(d, DATA), "wb").close()
            return
        with f, open(os.path.join(d, DATA), "wb") as out:
            shutil.copyfileobj(f, out, READ)

    async def flush(self, bck: Bucket, name: str, handle: str, chunks: AsyncIterable[bytes], size: int) -> ObjAttrs:
        """The handle's bytes (and this request's body, if any) become the object."""
        await self.append(bck, name, handle, chunks, size)
        d, _ = self._meta(handle, bck, name)
        path = os.path.join(d, DATA)
        attrs = await self._commit(bck, name, _read_all([path]), os.path.getsize(path))
        await asyncio.to_thread(shutil.rmtree, d, True)
        return attrs

    # ---- the native API (the data server's object routes) ------------------------------------
    async def native_put(self, req: web.Request, bck: Bucket, name: str, kind: str) -> web.Response:
        """PUT `?uploadId&partNumber` (a part), `?append_type=append|flush&append_handle` (core/mpu.py)."""
        q, body, size = req.query, req.content.iter_any(), body_size(req)
        if kind == "part":
            etag = await self.put_part(q[M.Q_UPLOAD_ID], bck, name, M.part_number(q[M.Q_PART_NO]), body, size)
            return web.Response(status=200, headers={H.ETAG: etag})
        handle = q.get(M.Q_APPEND_HANDLE, "")
        if kind == M.APPEND:
            handle = await self.append(bck, name, handle, body, size)
            return web.Response(status=200, headers={M.HDR_APPEND_HANDLE: handle})
        attrs = await self.flush(bck, name, handle, body, size)
        return web.Response(status=200, headers={H.ETAG: H.etag(attrs.src_etag, attrs.cksum)})

    async def native_post(self, req: web.Request, bck: Bucket, name: str) -> web.Response:
        """POST: the native multipart actions `mpt-upload` (-> upload id) and `mpt-complete`."""
        try:
            msg = json.loads(await req.read() or b"{}")
        except ValueError as exc:
            raise ErrBadRequest(f"POST {bck}/{name}: invalid JSON body ({exc})") from None
        action = msg.get("action", "") if isinstance(msg, dict) else ""
        upload = req.query.get(M.Q_UPLOAD_ID, "")
        if action == M.ACT_CREATE and not upload:
            return web.Response(text=await self.create(bck, name))
        if action == M.ACT_COMPLETE and upload:
            attrs = await self.complete(upload, bck, name, M.completed_parts(msg.get("value"), ordered=False),
                                        M.part_etags(msg.get("value")))
            return web.Response(status=200, headers={H.ETAG: H.etag(attrs.src_etag, attrs.cksum)})
        raise ErrBadRequest(f'invalid action "{action}" for POST {bck}/{name}'
                            f'{" with uploadId" if upload else ""} (expecting {M.ACT_CREATE} or '
                            f'{M.ACT_COMPLETE}?uploadId=)')

    # ---- internal routes (the S3 API) ------------------------------------------------------
    @staticmethod
    def _target(req: web.Request) -> tuple[Bucket | None, str]:
        key = req.query.get("bck", "")
        if not key:
            return None, ""
        try:
            return bucket_from_key(key), req.query.get("name", "")
        except ValueError:
            raise ErrBadRequest(f'invalid bucket "{key}"') from None

    async def h_create(self, req: web.Request) -> web.Response:
        bck, name = self._target(req)
        if bck is None:
            raise ErrBadRequest("create: no bucket")
        return web.Response(text=await self.create(bck, name, custom=s3meta.from_wire(req.headers.get(s3meta.WIRE))))

    async def h_uploads(self, req: web.Request) -> web.Response:
        bck, _ = self._target(req)
        if bck is None:
            raise ErrBadRequest("uploads: no bucket")
        return web.json_response(await asyncio.to_thread(self.uploads, bck))

    async def h_put_part(self, req: web.Request) -> web.Response:
        bck, name = self._target(req)
        size = -1 if req.content_length is None else req.content_length
        etag = await self.put_part(req.match_info["upload"], bck, name, M.part_number(req.match_info["part"]),
                                   req.content.iter_any(), size)
        return web.Response(status=200, headers={H.ETAG: etag})

    async def h_parts(self, req: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.parts, req.match_info["upload"]))

    async def h_complete(self, req: web.Request) -> web.Response:
        bck, name = self._target(req)
        if bck is None:
            raise ErrBadRequest("complete: no bucket")
        try:
            value = json.loads(await req.read())
        except ValueError as exc:
            raise ErrBadRequest(f"complete: expecting a JSON list of part numbers ({exc})") from None
        attrs = await self.complete(req.match_info["upload"], bck, name, M.completed_parts(value), M.part_etags(value))
        # the object's own ETag (as HEAD and GET give it), not S3's "<md5 of md5s>-<parts>"
        return web.Response(status=200, headers={H.ETAG: H.etag(attrs.src_etag, attrs.cksum)})

    async def h_abort(self, req: web.Request) -> web.Response:
        await self.abort(req.match_info["upload"])
        return web.Response(status=204)


def _part_etag(path: str) -> str:
    """Blocking. The ETag stored beside part file `path` ("": none)."""
    try:
        with open(path + ".etag", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def body_size(req: web.Request) -> int:
    return -1 if req.content_length is None else req.content_length


async def _batched(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) >= READ:
            yield bytes(buf)
            buf = bytearray()
    if buf:
        yield bytes(buf)


async def _read_all(files: list[str]) -> AsyncIterator[bytes]:
    for path in files:
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, READ):
                yield chunk
