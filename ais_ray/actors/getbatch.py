"""GetBatch on a designated mountpath data server (`jobs/getbatch.py`): the items read from their
holders a window ahead, written in order by `core/shardfmt.ShardWriter` into the reply.

A window's items are asked of each holder mountpath many to a request (`READ_ROUTE`, msgpack:
what it stores, whole, up to `GROUP_BYTES` an answer); what a holder does not simply have on its
disk (a remote object to fetch, a lost one to rebuild, a file inside a shard, past the answer's
bytes) is read with its own GET there, as any GET (`ObjCopier.read_whole`)."""

from __future__ import annotations

import asyncio
import collections
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import aiohttp
import msgspec
from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core.errors import AisError, ErrBadRequest, ErrEntityTooLarge
from ais_ray.core.names import Bucket, Namespace, Provider, parse_bck_uname, validate_bucket_name
from ais_ray.core.shardfmt import TGZ, ZIP, Chunks, ShardWriter
from ais_ray.core.xid import gen_uuid
from ais_ray.jobs.archive import WINDOW
from ais_ray.jobs.getbatch import MISSING_DIR, BatchItem, BatchSpec

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext
    from ais_ray.actors.objcopy import ObjCopier

ROUTE = "/v1/ml/moss"
READ_ROUTE = "/v1/ml/read"  # internal: a holder's stored objects, many to a request
WINDOW_ITEMS = 256  # items read at a time (the next window is read while this one is sent)
GROUP_BYTES = 8 << 20  # bytes of one holder's answer, at most (an object past them: its own GET)
OK, MISS = "ok", "miss"


class _ReadReq(msgspec.Struct, array_like=True):
    bck: str  # `Bucket.uname("")`
    names: list[str]


_READ_REQ = msgspec.msgpack.Decoder(_ReadReq)
_READ_ANS = msgspec.msgpack.Decoder(list[tuple[str, bytes]])
MAX_BODY = 64 << 20  # the request's JSON (a million items fit)
THREAD_MIN = 1 << 20
MIME = {ZIP: "application/zip", TGZ: "application/gzip"}  # else application/x-tar


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
    for bck in {it.bck for it in spec.items if it.bck.is_remote and copier.ctx.meta.bmd.get(it.bck) is None}:
        await _add_remote(copier, bck)
    if spec.streaming:
        return await _stream(req, copier, spec)
    return await _buffered(copier, spec)


async def read_many(req: web.Request, ctx: MountpathContext) -> web.Response:
    """A holder's part of a GetBatch window: each name's bytes if stored here, in order, until the
    answer holds `GROUP_BYTES`; `miss` for the rest (the asker GETs those one by one)."""
    try:
        rr = _READ_REQ.decode(await req.content.read(1 << 20))
        bck = parse_bck_uname(rr.bck)
    except (msgspec.DecodeError, msgspec.ValidationError, AisError) as exc:
        raise ErrBadRequest(f"{READ_ROUTE}: not a read request: {exc}") from None
    store, label = ctx.store, str(bck)

    def work() -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        room = GROUP_BYTES
        for name in rr.names:
            try:
                f, attrs = store.open(bck, name)
            except AisError:  # not stored here (or a bad name): the asker's own GET answers it
                out.append((MISS, b""))
                continue
            with f:
                if attrs.size > room:
                    out.append((MISS, b""))
                    continue
                data = f.read()
            if len(data) != attrs.size:
                out.append((MISS, b""))
                continue
            room -= len(data)
            out.append((OK, data))
            ctx.stats.add("get", len(data), label=label)
            store.touch(bck, name)
        return out

    return web.Response(body=msgspec.msgpack.encode(await asyncio.to_thread(work)), content_type="application/msgpack")


async def read_in_order(copier: ObjCopier, items: Sequence[BatchItem]) -> AsyncIterator[tuple[BatchItem, bytes | AisError]]:
    """Each item's bytes (or its error), in order — GetBatch's items and an archive job's members.

    Windows of `WINDOW_ITEMS`: each holder mountpath is asked for its items of a window in one
    request (`read_many`, at most `GROUP_BYTES` an answer), the next window while one is used. The
    rest (a remote object, a lost one, a file in a shard, one past an answer's bytes) take their
    own GET (`ObjCopier.read_whole`) as their turn nears, `WINDOW` ahead: memory holds two windows'
    answers and `WINDOW` such items, whatever their size."""
    windows = [items[i:i + WINDOW_ITEMS] for i in range(0, len(items), WINDOW_ITEMS)]
    grouped: collections.deque[asyncio.Task[list[bytes | None]]] = collections.deque()
    todo = iter(windows)
    ahead: collections.deque[tuple[int, asyncio.Task[bytes | AisError]]] = collections.deque()
    try:
        for window in windows:
            while len(grouped) < 2 and (w := next(todo, None)) is not None:
                grouped.append(asyncio.ensure_future(_grouped(copier, w)))
            got = await grouped.popleft()
            rest = (i for i, v in enumerate(got) if v is None)
            for i, it in enumerate(window):
                while len(ahead) < WINDOW and (j := next(rest, None)) is not None:
                    ahead.append((j, asyncio.ensure_future(_read_one(copier, window[j]))))
                data = got[i]
                if data is None:
                    _, task = ahead.popleft()
                    yield it, await task
                else:
                    yield it, data
    finally:
        for t in grouped:
            t.cancel()
        for _, t in ahead:
            t.cancel()


async def _add_remote(copier: ObjCopier, bck: Bucket) -> None:
    """A remote bucket the cluster has not met yet is added on first use, as for a GET: a HEAD of
    it at the API (the proxy checks the remote, adds it and pushes the BMD before it answers). One
    the remote lacks is left out: its items answer that it does not exist."""
    smap = copier.ctx.meta.smap
    if smap is None:
        return
    url = f"{smap.primary.url}/v1/buckets/{bck.name}"
    try:
        async with copier.session().head(url, params=H.bck_query(bck)) as r:
            await r.read()
    except (aiohttp.ClientError, OSError):
        pass  # the API did not answer: the items' own GETs say what is wrong


async def _ask(copier: ObjCopier, url: str, bck: Bucket, names: list[str]) -> list[tuple[str, bytes]]:
    """One holder's stored items of a window (`read_many` there); not retried: what fails goes on
    to the items' own GETs, which are."""
    body = msgspec.msgpack.encode(_ReadReq(bck.uname(""), names))
    async with copier.session().post(url + READ_ROUTE, data=body, headers={"Content-Type": "application/msgpack"}) as r:
        if r.status != 200:
            raise AisError(f"{url}{READ_ROUTE}: HTTP {r.status}")
        answers = _READ_ANS.decode(await r.read())
    if len(answers) != len(names):
        raise AisError(f"{url}{READ_ROUTE}: {len(answers)} answers to {len(names)} names")
    return answers


async def _grouped(copier: ObjCopier, items: Sequence[BatchItem]) -> list[bytes | None]:
    """A window's items asked of their holders, one request per holder; None: not answered so."""
    out: list[bytes | None] = [None] * len(items)
    groups: dict[tuple[str, Bucket], list[int]] = {}
    for i, it in enumerate(items):
        if not it.archpath:
            try:
                groups.setdefault((copier.dst_mountpath(it.bck, it.name).url, it.bck), []).append(i)
            except AisError:
                pass  # no placement now: its own GET says why

    async def group(url: str, bck: Bucket, idxs: list[int]) -> None:
        try:
            answers = await _ask(copier, url, bck, [items[i].name for i in idxs])
        except (AisError, aiohttp.ClientError, OSError):
            return  # each item then goes its own way
        for i, (status, data) in zip(idxs, answers):
            if status == OK:
                out[i] = data

    await asyncio.gather(*(group(url, bck, idxs) for (url, bck), idxs in groups.items()))
    return out


async def _read_one(copier: ObjCopier, it: BatchItem) -> bytes | AisError:
    """An item by its own GET at its holder (which fetches, rebuilds or cuts out of a shard)."""
    try:
        return await copier.read_whole(it.bck, it.name, {H.Q_ARCHPATH: it.archpath} if it.archpath else None)
    except AisError as exc:
        return exc
    except (aiohttp.ClientError, OSError) as exc:
        return AisError(f"{it.bck}/{it.name}: {type(exc).__name__}: {exc}")


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
    out = Chunks()
    w = ShardWriter(spec.fmt, out)
    async for it, data in read_in_order(copier, spec.items):
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
    async for it, data in read_in_order(copier, spec.items):
        name, payload, err = _entry(spec, it, data)
        await _add(w, name, payload)
        outs.append(it.out(len(payload), err))
    w.close()
    mp = aiohttp.MultipartWriter("mixed")
    mp.append_json({"out": outs, "uuid": gen_uuid()})
    mp.append(buf.getvalue(), {"Content-Type": MIME.get(spec.fmt, "application/x-tar")})
    return web.Response(body=mp)
