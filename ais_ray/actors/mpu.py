"""Multipart uploads on the mountpath that owns the object (the S3 API's, `serve/s3.py`).

Internal routes of the data server (the front door calls them):

    PUT    /v1/mpu/<upload>/<part>?bck=<uname prefix>&name=<key>   store one part
    POST   /v1/mpu/<upload>?bck=...&name=...   body: JSON [part numbers]   complete: one object
    DELETE /v1/mpu/<upload>                                          abort: drop the parts

A part is a work file renamed to `<mp>/%mu/<upload>/<part>` once whole (a retried part replaces
it). Complete streams the listed parts, in order, through the one write path (`fs/write.py`,
`Owt.PUT`): the object appears whole or not at all, its checksum computed on the way; then the
parts go. Uploads left uncompleted for a day are removed when the data server starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core import lom
from ais_ray.core.bmd import bucket_from_key
from ais_ray.core.errors import ErrBadRequest, ErrNotFound
from ais_ray.core.owt import Owt
from ais_ray.fs.write import fill, write_stream

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext

MPU_PATH = "/v1/mpu/"
STALE_AFTER = 24 * 3600.0  # seconds an uncompleted upload is kept
READ = 1 << 20
_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


class MpuServer:
    def __init__(self, ctx: MountpathContext) -> None:
        self.ctx = ctx
        self.root = os.path.join(ctx.store.path, lom.CT_MPU)

    def register(self, app: web.Application) -> None:
        app.router.add_route("PUT", MPU_PATH + "{upload}/{part}", self.put_part)
        app.router.add_route("POST", MPU_PATH + "{upload}", self.complete)
        app.router.add_route("DELETE", MPU_PATH + "{upload}", self.abort)

    def remove_stale(self) -> int:
        """Drop uploads nobody completed or aborted for a day (called at start)."""
        n, now = 0, time.time()
        for d in os.scandir(self.root) if os.path.isdir(self.root) else ():
            if now - d.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(d.path, ignore_errors=True)
                n += 1
        return n

    def _dir(self, req: web.Request) -> str:
        upload = req.match_info["upload"]
        if not upload or len(upload) > 64 or not set(upload) <= _ID_OK:
            raise ErrBadRequest(f'invalid upload id "{upload}"')
        return os.path.join(self.root, upload)

    async def put_part(self, req: web.Request) -> web.Response:
        d = self._dir(req)
        part = _part_number(req.match_info["part"])
        os.makedirs(d, exist_ok=True)
        w = self.ctx.store.new_writer()
        try:
            cksum = await fill(w, req.content.iter_any(),
                               expect_size=-1 if req.content_length is None else req.content_length)
            await asyncio.to_thread(os.replace, w.path, os.path.join(d, f"{part:05d}"))
        except BaseException:
            w.abort()
            raise
        return web.Response(status=200, headers={H.ETAG: f'"{cksum}"'})

    async def complete(self, req: web.Request) -> web.Response:
        d = self._dir(req)
        bck = bucket_from_key(req.query.get("bck", ""))
        name = req.query.get("name", "")
        self.ctx.store.fqn(bck, name)  # validates the name
        try:
            parts = [_part_number(str(p)) for p in json.loads(await req.read())]
        except (ValueError, TypeError) as exc:
            raise ErrBadRequest(f"complete: expecting a JSON list of part numbers ({exc})") from None
        if not parts or parts != sorted(set(parts)):
            raise ErrBadRequest("complete: part numbers must be given once each, in ascending order")
        files = [os.path.join(d, f"{p:05d}") for p in parts]
        if missing := [p for p, f in zip(parts, files) if not os.path.exists(f)]:
            raise ErrNotFound(f"upload {req.match_info['upload']}: no part {', '.join(map(str, missing))}")
        attrs = await write_stream(self.ctx.store, bck, name, _read_all(files), Owt.PUT,
                                   expect_size=sum(os.path.getsize(f) for f in files))
        await asyncio.to_thread(shutil.rmtree, d, True)
        # the object's own ETag (as HEAD and GET give it), not S3's "<md5 of md5s>-<parts>"
        return web.Response(status=200, headers={H.ETAG: H.etag(attrs.src_etag, attrs.cksum)})

    async def abort(self, req: web.Request) -> web.Response:
        d = self._dir(req)
        if not os.path.isdir(d):
            raise ErrNotFound(f"no upload {req.match_info['upload']}")
        await asyncio.to_thread(shutil.rmtree, d, True)
        return web.Response(status=204)


def _part_number(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 10000:
        raise ErrBadRequest(f'invalid part number "{text}": expecting 1..10000')
    return n


async def _read_all(files: list[str]) -> AsyncIterator[bytes]:
    for path in files:
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, READ):
                yield chunk

