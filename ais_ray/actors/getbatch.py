"""GetBatch on a designated mountpath data server (`jobs/getbatch.py`): the items read from their
holders a window ahead, written in order by `core/shardfmt.ShardWriter` into the reply.

A window's items are asked of each holder mountpath many to a request (`READ_ROUTE`: what it
stores, whole, up to `GROUP_BYTES` an answer, large items sent from their files); what a holder
does not simply have on its disk (a remote object to fetch, a lost one to rebuild, a file inside a
shard, past the answer's bytes) is read with its own GET there, as any GET (`ObjCopier.read_whole`).

A holder on this machine (the embedded default: all of them) is not asked: its stored items are
read from their files here (`_read_here`), as the front door and the target's URL send plain GETs
(`target_reads`), so an item's bytes cross no second process; their access times are noted and
flushed as the holder's own would be. Such reads are counted as GetBatch's (`getbatch.obj.*`, at
the designated target), not as the holder's GETs, which a remote holder's answer still counts."""

from __future__ import annotations

import asyncio
import collections
import io
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

import aiohttp
import msgspec
from aiohttp import web

from ais_ray.actors.hosts import is_local, local_hosts
from ais_ray.actors.sendfile import send_file
from ais_ray.core import headers as H
from ais_ray.core import lom
from ais_ray.core.errors import AisError, ErrBadRequest, ErrEntityTooLarge
from ais_ray.core.names import Bucket, Namespace, Provider, parse_bck_uname, validate_bucket_name
from ais_ray.core.shardfmt import TGZ, ZIP, Chunks, ShardWriter
from ais_ray.core.xid import gen_uuid
from ais_ray.fs.atime import Atimes, AtimesByPath
from ais_ray.fs.store import open_stored
from ais_ray.jobs.archive import WINDOW
from ais_ray.jobs.getbatch import MISSING_DIR, BatchItem, BatchSpec
from ais_ray.stats import Counters

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext
    from ais_ray.actors.objcopy import ObjCopier

ROUTE = "/v1/ml/moss"
READ_ROUTE = "/v1/ml/read"  # internal: a holder's stored objects, many to a request
WINDOW_ITEMS = 256  # items read at a time, at most (the next window is read while this one is sent)
FIRST_WINDOW = 32  # ... the first two (item sizes not known yet)
WINDOW_BYTES = 24 << 20  # ... as many as hold about this much, by the sizes read so far
GROUP_BYTES = 8 << 20  # bytes of one holder's answer, at most (an object past them: its own GET)
SENDFILE_MIN = 256 << 10  # an item this large is sent from its file; a smaller one read and sent with others
OK, MISS = "ok", "miss"


class _ReadReq(msgspec.Struct, array_like=True):
    bck: str  # `Bucket.uname("")`
    names: list[str]


_READ_REQ = msgspec.msgpack.Decoder(_ReadReq)
_READ_HEADS = msgspec.msgpack.Decoder(list[tuple[str, int]])
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
    stats, t0 = copier.ctx.stats, time.perf_counter_ns()
    try:
        for bck in {it.bck for it in spec.items if it.bck.is_remote and copier.ctx.meta.bmd.get(it.bck) is None}:
            await _add_remote(copier, bck)
        resp = await (_stream(req, copier, spec) if spec.streaming else _buffered(copier, spec))
    except BaseException:
        stats.add("err.getbatch")
        raise
    stats.add("getbatch", ns=time.perf_counter_ns() - t0)
    return resp


async def read_many(req: web.Request, ctx: MountpathContext) -> web.StreamResponse:
    """A holder's part of a GetBatch window: what each name is here (`ok` and its size, stored
    here, until the answer holds `GROUP_BYTES`; `miss` for the rest, which the asker GETs one by
    one), then the `ok` ones' bytes one after another: a large one sent from its file (sendfile:
    not read into this process), small ones read and sent many to a write (a sendfile per 64 KiB
    costs more than the copy). The body: a 4-byte length, that msgpack list, the bytes."""
    try:
        rr = _READ_REQ.decode(await req.content.read(1 << 20))
        bck = parse_bck_uname(rr.bck)
    except (msgspec.DecodeError, msgspec.ValidationError, AisError) as exc:
        raise ErrBadRequest(f"{READ_ROUTE}: not a read request: {exc}") from None
    store, label = ctx.store, str(bck)

    def work() -> tuple[list[tuple[str, int]], list[BinaryIO | bytes]]:
        heads: list[tuple[str, int]] = []
        parts: list[BinaryIO | bytes] = []  # in order: an open file (sent from it) or the bytes read
        room = GROUP_BYTES
        try:
            for name in rr.names:
                try:
                    f, attrs = store.open(bck, name)
                except AisError:  # not stored here (or a bad name): the asker's own GET answers it
                    heads.append((MISS, 0))
                    continue
                if attrs.size <= room and attrs.size < SENDFILE_MIN:
                    with f:
                        data = f.read()
                    if len(data) != attrs.size:  # torn: the asker's own GET answers it
                        heads.append((MISS, 0))
                        continue
                    parts.append(data)
                elif attrs.size <= room and os.fstat(f.fileno()).st_size == attrs.size:
                    parts.append(f)
                else:  # past the answer's bytes, or torn
                    f.close()
                    heads.append((MISS, 0))
                    continue
                room -= attrs.size
                heads.append((OK, attrs.size))
                store.touch(bck, name)
        except BaseException:
            _close(parts)
            raise
        return heads, parts

    heads, parts = await asyncio.to_thread(work)
    try:
        head = msgspec.msgpack.encode(heads)
        sizes = [n for status, n in heads if status == OK]
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = 4 + len(head) + sum(sizes)
        await resp.prepare(req)
        pending = [len(head).to_bytes(4, "big"), head]
        for part, n in zip(parts, sizes):
            if isinstance(part, bytes):
                pending.append(part)
            else:
                await resp.write(b"".join(pending))
                pending = []
                await send_file(req, resp, part, 0, n)
            ctx.stats.add("get", n, label=label)
        if pending:
            await resp.write(b"".join(pending))
        await resp.write_eof()
        return resp
    finally:
        _close(parts)


def _close(parts: list[BinaryIO | bytes]) -> None:
    for p in parts:
        if not isinstance(p, bytes):
            p.close()


async def read_in_order(copier: ObjCopier, items: Sequence[BatchItem]) -> AsyncIterator[tuple[BatchItem, bytes | AisError]]:
    """Each item's bytes (or its error), in order — GetBatch's items and an archive job's members.

    Windows of up to `WINDOW_ITEMS`, as many as hold about `WINDOW_BYTES` by the sizes read so
    far: each holder mountpath is asked for its items of a window in one request (`read_many`, at
    most `GROUP_BYTES` an answer), the next window while one is used. The rest (a remote object, a
    lost one, a file in a shard, one past an answer's bytes) take their own GET
    (`ObjCopier.read_whole`) as their turn nears, `WINDOW` ahead: memory holds two windows' answers
    and `WINDOW` such items. Windows sized by bytes keep large items in their holders' answers:
    with windows of 256, a holder's 1 MiB items past its 8 MiB answer each took a GET of their own."""
    grouped: collections.deque[tuple[Sequence[BatchItem], asyncio.Task[list[bytes | None]]]] = collections.deque()
    ahead: collections.deque[tuple[int, asyncio.Task[bytes | AisError]]] = collections.deque()
    pos = seen = seen_bytes = 0
    try:
        while pos < len(items) or grouped:
            while len(grouped) < 2 and pos < len(items):
                n = FIRST_WINDOW if not seen else max(1, min(WINDOW_ITEMS, WINDOW_BYTES * seen // max(seen_bytes, 1)))
                w = items[pos:pos + n]
                pos += len(w)
                grouped.append((w, asyncio.ensure_future(_grouped(copier, w))))
            window, task = grouped.popleft()
            got = await task
            rest = (i for i, v in enumerate(got) if v is None)
            for i, it in enumerate(window):
                while len(ahead) < WINDOW and (j := next(rest, None)) is not None:
                    ahead.append((j, asyncio.ensure_future(_read_one(copier, window[j]))))
                data = got[i]
                if data is None:
                    _, one = ahead.popleft()
                    out = await one
                    if not isinstance(out, AisError):
                        seen, seen_bytes = seen + 1, seen_bytes + len(out)
                    yield it, out
                else:
                    seen, seen_bytes = seen + 1, seen_bytes + len(data)
                    yield it, data
    finally:
        for _, t in grouped:
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


async def _ask(copier: ObjCopier, url: str, bck: Bucket, names: list[str]) -> list[bytes | None]:
    """One holder's stored items of a window (`read_many` there), None for those it did not send;
    not retried: what fails goes on to the items' own GETs, which are."""
    body = msgspec.msgpack.encode(_ReadReq(bck.uname(""), names))
    async with copier.session().post(url + READ_ROUTE, data=body, headers={"Content-Type": "application/msgpack"}) as r:
        if r.status != 200:
            raise AisError(f"{url}{READ_ROUTE}: HTTP {r.status}")
        try:
            n = int.from_bytes(await r.content.readexactly(4), "big")
            heads = _READ_HEADS.decode(await r.content.readexactly(n))
            if len(heads) != len(names):
                raise AisError(f"{url}{READ_ROUTE}: {len(heads)} answers to {len(names)} names")
            return [await r.content.readexactly(size) if status == OK else None for status, size in heads]
        except (asyncio.IncompleteReadError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise AisError(f"{url}{READ_ROUTE}: a short or damaged answer ({exc!r})") from None


class _Near:
    """This process's reads of holders on its own machine: their addresses, their access times."""

    def __init__(self) -> None:
        self.hosts = local_hosts()
        self.atimes = AtimesByPath()


_near: _Near | None = None


def _near_holders() -> _Near:
    global _near
    if _near is None:
        _near = _Near()
    return _near


async def _grouped(copier: ObjCopier, items: Sequence[BatchItem]) -> list[bytes | None]:
    """A window's items read from their holders: from their files here when the holder is on this
    machine, else asked of it, one request per holder; None: not read so."""
    out: list[bytes | None] = [None] * len(items)
    groups: dict[tuple[str, str, Bucket], list[int]] = {}
    for i, it in enumerate(items):
        if not it.archpath:
            try:
                mp = copier.dst_mountpath(it.bck, it.name)
            except AisError:
                continue  # no placement now: its own GET says why
            groups.setdefault((mp.url, mp.path, it.bck), []).append(i)
    near = _near_holders()

    async def group(url: str, path: str, bck: Bucket, idxs: list[int]) -> None:
        names = [items[i].name for i in idxs]
        try:
            if is_local(url, near.hosts):
                answers = await asyncio.to_thread(_read_here, path, bck, names, near.atimes.of(path))
            else:
                answers = await _ask(copier, url, bck, names)
        except (AisError, aiohttp.ClientError, OSError):
            return  # each item then goes its own way
        for i, data in zip(idxs, answers):
            out[i] = data

    await asyncio.gather(*(group(url, path, bck, idxs) for (url, path, bck), idxs in groups.items()))
    return out


def _read_here(mpath: str, bck: Bucket, names: list[str], atimes: Atimes) -> list[bytes | None]:
    """Blocking. The items stored as files on mountpath `mpath` of this machine, read whole (data
    and size from the one open inode: a concurrent replace is never half seen), up to
    `GROUP_BYTES` as a holder's answer; None for the rest (not there as a committed file, a bad
    name, torn, past the bytes), which take their own GET at the holder — it fetches, restores
    or rebuilds what is not simply on its disk."""
    out: list[bytes | None] = []
    room = GROUP_BYTES
    now, flush = time.time_ns(), False
    for name in names:
        try:
            opened = open_stored(lom.obj_fqn(mpath, bck, name))
        except AisError:
            opened = None
        if opened is None:
            out.append(None)
            continue
        f, attrs = opened
        with f:
            data = f.read() if attrs.size <= room else None
        if data is None or len(data) != attrs.size:
            out.append(None)
            continue
        room -= attrs.size
        out.append(data)
        flush = atimes.note(bck, name, now) or flush
    if flush:  # many pending: written now, not at the next `FLUSH_EVERY`
        atimes.flush()
    return out


async def _read_one(copier: ObjCopier, it: BatchItem) -> bytes | AisError:
    """An item by its own GET at its holder (which fetches, rebuilds or cuts out of a shard)."""
    try:
        return await copier.read_whole(it.bck, it.name, {H.Q_ARCHPATH: it.archpath} if it.archpath else None)
    except AisError as exc:
        return exc
    except (aiohttp.ClientError, OSError) as exc:
        return AisError(f"{it.bck}/{it.name}: {type(exc).__name__}: {exc}")


def _entry(spec: BatchSpec, it: BatchItem, data: bytes | AisError, stats: Counters) -> tuple[str, bytes, str]:
    """(name in the archive, bytes, error): a failed item under `coer` is an empty `__404__/` member;
    without it, the error is raised. Counted (AIStore's `getbatch.obj.*`, `getbatch.file.*`,
    `err.soft.getbatch.n`)."""
    if isinstance(data, AisError):
        if not spec.coer:
            raise data
        stats.add("err.soft.getbatch")
        return f"{MISSING_DIR}/{it.member(spec.only_name)}", b"", data.message
    stats.add("getbatch.file" if it.archpath else "getbatch.obj", len(data))
    return it.member(spec.only_name), data, ""


async def _add(w: ShardWriter, name: str, data: bytes) -> None:
    if w.costly and len(data) >= THREAD_MIN:  # compressed or checksummed; a tar member costs its header
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
        name, payload, _ = _entry(spec, it, data, copier.ctx.stats)
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
        name, payload, err = _entry(spec, it, data, copier.ctx.stats)
        await _add(w, name, payload)
        outs.append(it.out(len(payload), err))
    w.close()
    mp = aiohttp.MultipartWriter("mixed")
    mp.append_json({"out": outs, "uuid": gen_uuid()})
    mp.append(buf.getvalue(), {"Content-Type": MIME.get(spec.fmt, "application/x-tar")})
    return web.Response(body=mp)
