"""GetBatch on a designated mountpath data server (`jobs/getbatch.py`): the items read from their
holders a few ahead, written in order by `core/shardfmt.ShardWriter` into the reply."""

from __future__ import annotations

import asyncio
import collections
import io
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core.errors import AisError, ErrBadRequest, ErrEntityTooLarge
from ais_ray.core.names import Bucket, Namespace, Provider, validate_bucket_name
from ais_ray.core.shardfmt import TGZ, ZIP, ShardWriter
from ais_ray.core.xid import gen_uuid
from ais_ray.jobs.archive import WINDOW
from ais_ray.jobs.getbatch import MISSING_DIR, BatchItem, BatchSpec

if TYPE_CHECKING:
    from ais_ray.actors.objcopy import ObjCopier

ROUTE = "/v1/ml/moss"
MAX_BODY = 64 << 20  # the request's JSON (a million items fit)
THREAD_MIN = 1 << 20
MIME = {ZIP: "application/zip", TGZ: "application/gzip"}  # else application/x-tar


class _Out:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


async def handle(req: web.Request, copier: ObjCopier) -> web.StreamResponse:
    bucket = req.match_info.get("bucket", "")
    default = None
    if bucket:
        default = Bucket(validate_bucket_name(bucket), Provider.parse(req.query.get(H.Q_PROVIDER) or "ais"),
                         Namespace.parse(req.query.get("namespace", "")))
    body = await req.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise ErrEntityTooLarge(f"get-batch: a request body over {MAX_BODY} bytes")
    try:
        msg = json.loads(body or b"null")
    except ValueError as exc:
        raise ErrBadRequest(f"get-batch: invalid JSON body ({exc})") from None
    spec = BatchSpec.parse(msg, default)
    if spec.streaming:
        return await _stream(req, copier, spec)
    return await _buffered(copier, spec)


async def _items(copier: ObjCopier, spec: BatchSpec) -> AsyncIterator[tuple[BatchItem, bytes | AisError]]:
    """Each item's bytes (or its error), in order, `WINDOW` read ahead."""
    async def read(it: BatchItem) -> bytes | AisError:
        try:
            return await copier.read_whole(it.bck, it.name, {H.Q_ARCHPATH: it.archpath} if it.archpath else None)
        except AisError as exc:
            return exc
        except (aiohttp.ClientError, OSError) as exc:
            return AisError(f"{it.bck}/{it.name}: {type(exc).__name__}: {exc}")

    ahead: collections.deque[tuple[BatchItem, asyncio.Task[bytes | AisError]]] = collections.deque()
    todo = iter(spec.items)
    try:
        while True:
            while len(ahead) < WINDOW and (it := next(todo, None)) is not None:
                ahead.append((it, asyncio.ensure_future(read(it))))
            if not ahead:
                return
            it, task = ahead.popleft()
            yield it, await task
    finally:
        for _, t in ahead:
            t.cancel()


def _entry(spec: BatchSpec, it: BatchItem, data: bytes | AisError) -> tuple[str, bytes, str]:
    """(name in the archive, bytes, error): a failed item under `coer` is an empty `__404__/` member;
    without it, the error is raised."""
    if isinstance(data, AisError):
        if not spec.coer:
            raise data
        return f"{MISSING_DIR}/{it.member(spec.only_name)}", b"", data.message
    return it.member(spec.only_name), data, ""


async def _add(w: ShardWriter, name: str, data: bytes) -> None:
    if len(data) >= THREAD_MIN:
        await asyncio.to_thread(w.add, name, data)
    else:
        w.add(name, data)


async def _stream(req: web.Request, copier: ObjCopier, spec: BatchSpec) -> web.StreamResponse:
    """The archive as the items come: nothing is sent before the first item is read, so a failure
    of the first item is still an error reply; a later one (without `coer`) cuts the reply."""
    resp = web.StreamResponse(headers={"Content-Type": MIME.get(spec.fmt, "application/x-tar")})
    out = _Out()
    w = ShardWriter(spec.fmt, out)
    async for it, data in _items(copier, spec):
        name, payload, _ = _entry(spec, it, data)
        await _add(w, name, payload)
        if not resp.prepared:
            await resp.prepare(req)
        await resp.write(out.take())
    w.close()
    if not resp.prepared:
        await resp.prepare(req)
    await resp.write(out.take())
    await resp.write_eof()
    return resp


async def _buffered(copier: ObjCopier, spec: BatchSpec) -> web.Response:
    """`strm: false`: what each item was (`MossResp`, JSON) and then the whole archive, multipart/mixed."""
    buf = io.BytesIO()
    w = ShardWriter(spec.fmt, buf)
    outs = []
    async for it, data in _items(copier, spec):
        name, payload, err = _entry(spec, it, data)
        await _add(w, name, payload)
        outs.append(it.out(len(payload), err))
    w.close()
    mp = aiohttp.MultipartWriter("mixed")
    mp.append_json({"out": outs, "uuid": gen_uuid()})
    mp.append(buf.getvalue(), {"Content-Type": MIME.get(spec.fmt, "application/x-tar")})
    return web.Response(body=mp)
