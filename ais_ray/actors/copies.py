"""Small objects of a copy job, many to one request: `PUT /v1/copies` between data servers.

A copy job's batch of names reaches the mountpath that holds them (`run_batch`, `jobs/batches.py`).
Copied one by one (`ObjCopier.copy_one`), each object costs a HEAD ("is it there already?") and a
PUT to its destination's owner, each request ~0.3 ms of Python on both sides, and its own fsync:
about 2.5 ms of CPU per 64 KiB object. Here the small ones (up to `SMALL`) are read in one
thread hop, grouped by the mountpath that owns their destination and sent to it in one request
per group (at most `GROUP_BYTES`), whose receiver checks each for an equal copy, writes the rest
without an fsync each, and makes the group durable with one `syncfs` before it answers (the group
commit of the download job). A group whose owner is this mountpath is written here, no request.

An ETL job's small objects go the same way (`_grouped_etl`): each goes through the stages on this
node's workers (many to a Ray call, `actors/etl_pool.py`), and the outputs go many to a request,
written as `Owt.TRANSFORM` — a transformed object is always written, nothing is skipped. An output
larger than `SMALL` goes to its owner alone, streamed.

The rest go one by one, as before: larger objects (streamed), `latest` / `sync`
(which re-check a remote source), a source not stored here (fetched or rebuilt first), a
destination bucket that writes through to a remote or keeps mirror copies or EC slices (its own
write hooks), and a group whose owner cannot be reached (it waits for its new place).

The body is msgpack (msgspec): `[bucket uname, [[name, source checksum, bytes], ...]]`; the answer,
per object, `[status, size, error status, message]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from aiohttp import web

from ais_ray.actors.etl_pool import MAX_BATCH as ETL_BATCH
from ais_ray.actors.objcopy import open_promoted, peer_call
from ais_ray.backends.aio import retriable_transport
from ais_ray.core.bmd import BucketProps, remote_of
from ais_ray.core.copy import COPIED, SKIPPED, copy_version, same_copy
from ais_ray.core.errors import AisError, ErrBadRequest, ErrNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, parse_bck_uname
from ais_ray.core.owt import Owt
from ais_ray.core.smap import MountpathInfo
from ais_ray.fs.write import write_bytes

if TYPE_CHECKING:
    from ais_ray.fs.store import MountpathStore
    from ais_ray.actors.mover import Mover
    from ais_ray.actors.objcopy import ObjCopier
    from ais_ray.jobs.batches import Gates, Outcome

COPIES_PATH = "/v1/copies"
SMALL = 128 << 10  # objects up to this size go many to a request
GROUP_BYTES = 16 << 20  # bytes of objects per request, at most
GROUPED, GROUPED_KEY = 2, "#grouped"  # a job's batches read and sent at a time per mountpath (memory: 2 x 16 MiB)
ERROR = "error"
log = logging.getLogger(__name__)
T = TypeVar("T")


class _Copy(msgspec.Struct, array_like=True):
    name: str
    cksum: str  # the source's checksum: the destination skips an equal copy ("": always written)
    data: bytes
    keep: bytes = b""  # a move: the object's whole metadata at its holder (`ObjAttrs.to_bytes`)
    version: str = ""  # a copy: the source's version, kept (`fs/write.py::commit`)
    custom: dict[str, str] = {}  # a copy: the source's custom metadata (S3's too), kept


class _Copies(msgspec.Struct, array_like=True):
    bck: str  # the destination bucket, `Bucket.uname("")`
    recs: list[_Copy]
    xid: str = ""  # a move's rebalance / resilver: its objects are moves (`Owt.REBALANCE`), counted under it
    owt: str = ""  # "transform": an ETL job's outputs (`Owt.TRANSFORM`); else copies


Answer = tuple[str, int, int, str]  # (COPIED | SKIPPED | MOVED | KEPT | ERROR, size, error's HTTP status, message)
MOVED, KEPT = "moved", "kept"  # a move stored, or the receiver kept the newer object it had
_DECODE = msgspec.msgpack.Decoder(_Copies)
_ANSWERS = msgspec.msgpack.Decoder(list[tuple[str, int, int, str]])


def plain(props: BucketProps, bck: Bucket) -> bool:
    """A destination whose writes need nothing but the commit: no remote side to write through,
    no mirror copies, no EC slices."""
    return remote_of(bck, props) is None and not props.mirror.enabled and not props.ec.enabled


def _parts(items: list[T], size: Callable[[T], int]) -> list[list[T]]:
    """`items` in runs of at most `GROUP_BYTES` (an item larger than that alone)."""
    parts: list[list[T]] = [[]]
    total = 0
    for it in items:
        if parts[-1] and total + size(it) > GROUP_BYTES:
            parts.append([])
            total = 0
        parts[-1].append(it)
        total += size(it)
    return [p for p in parts if p]


def _read_small(store: MountpathStore, bck: Bucket, names: list[str]) -> list[tuple[int, ObjAttrs, int, bytes]]:
    """Blocking. Of `names`, each stored here and up to `SMALL` bytes, read whole: (index, metadata,
    inode, bytes). Left out: one not here (fetched or rebuilt first, or its own error, one by one),
    a larger one (streamed), one changing as it is read."""
    out = []
    for i, name in enumerate(names):
        try:
            f, attrs = store.open(bck, name)
        except (AisError, OSError):
            continue
        with f:
            if attrs.size > SMALL:
                continue
            ino = os.fstat(f.fileno()).st_ino
            data = f.read(SMALL + 1)
        if len(data) == attrs.size:
            out.append((i, attrs, ino, data))
    return out


def _small_here(store: MountpathStore, bck: Bucket, names: list[str]) -> list[tuple[int, int]]:
    """Blocking. Of `names`, each stored here with up to `SMALL` bytes: (index, size)."""
    out = []
    for i, name in enumerate(names):
        try:
            attrs = store.find(bck, name)
        except (AisError, OSError):
            continue
        if attrs is not None and attrs.size <= SMALL:
            out.append((i, attrs.size))
    return out


def _error(status: int, message: str) -> AisError:
    """A receiver's error as ours: a 404 a not-found, another 4xx a client error, the rest a failure."""
    cls = ErrNotFound if status == 404 else ErrBadRequest if 400 <= status < 500 else AisError
    return cls(message)


class Copies:
    """Both sides of `PUT /v1/copies` on one data server (the copier's own mountpath)."""

    def __init__(self, copier: ObjCopier, mover: Mover) -> None:
        self.copier = copier
        self.mover = mover
        self.ctx = copier.ctx

    def register(self, app: web.Application) -> None:
        app.router.add_route("PUT", COPIES_PATH, self.receive)

    # ---- receiving ----------------------------------------------------------------------------
    async def receive(self, req: web.Request) -> web.Response:
        if req.content_length is None or req.content_length > 2 * GROUP_BYTES:
            raise ErrBadRequest(f"{COPIES_PATH} takes a body of known length up to {2 * GROUP_BYTES} bytes")
        try:
            body = _DECODE.decode(await req.read())
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ErrBadRequest(f"{COPIES_PATH}: not a batch of copies: {exc}") from None
        owt = Owt.TRANSFORM if body.owt == Owt.TRANSFORM.value else Owt.COPY
        answers = await self.write(parse_bck_uname(body.bck), body.recs, body.xid, owt)
        return web.Response(body=msgspec.msgpack.encode(answers), content_type="application/msgpack")

    async def write(self, dst: Bucket, recs: list[_Copy], xid: str = "", owt: Owt = Owt.COPY) -> list[Answer]:
        """Store each copy here unless an equal one is (then "skipped"), then one `syncfs` for all;
        `owt`: `Owt.TRANSFORM` for an ETL job's outputs (their `cksum` is "": always written).
        With `xid`, the objects are moves of that rebalance / resilver: each keeps its metadata,
        and a newer object here is kept ("kept"), as one moved by itself (`Mover.receive`).

        Raises:
            ErrBckNotFound: no such bucket. ErrBadRequest: not a plain destination (the sender
            copies those one by one).
        """
        if not plain(self.ctx.meta.bmd.must_get(dst), dst):
            raise ErrBadRequest(f"{dst} writes through, mirrors or erasure-codes: copy its objects one by one")
        store = self.ctx.store

        def move(rec: _Copy) -> Answer:
            try:
                keep = ObjAttrs.from_bytes(rec.keep)
            except ValueError as exc:
                raise ErrBadRequest(f"a move without its metadata: {exc}") from None
            attrs = write_bytes(store, dst, rec.name, rec.data, Owt.REBALANCE, keep=keep, fsync=False)
            if (attrs.cksum, attrs.version) != (keep.cksum, keep.version):
                return KEPT, attrs.size, 0, ""
            return MOVED, attrs.size, 0, ""

        def write_all() -> list[Answer]:
            out: list[Answer] = []
            for rec in recs:
                try:
                    store.fqn(dst, rec.name)  # a valid name, inside the mountpath
                    if xid:
                        out.append(move(rec))
                        continue
                    if rec.cksum:
                        try:
                            have = store.load(dst, rec.name)
                        except ErrNotFound:
                            pass
                        else:
                            if same_copy(rec.cksum, len(rec.data), have.cksum, have.size):
                                out.append((SKIPPED, have.size, 0, ""))
                                continue
                    attrs = write_bytes(store, dst, rec.name, rec.data, owt, fsync=False, custom=rec.custom or None,
                                        version=copy_version(rec.version) if owt is Owt.COPY else "")
                    out.append((COPIED, attrs.size, 0, ""))
                except AisError as err:
                    out.append((ERROR, 0, err.status, err.message))
            store.sync_fs()  # the group commit: every copy durable before any is answered
            return out

        answers = await asyncio.to_thread(write_all)
        if xid:
            self.mover.extend_gfn()
            st = self.mover.stats_of(xid)
            for status, size, _, _ in answers:
                if status == MOVED:
                    st.in_objs += 1
                    st.in_bytes += size
        return answers

    # ---- sending -------------------------------------------------------------------------------
    async def copy(self, gates: Gates, key: str, workers: int, items: list[tuple[str, str]], src: Bucket,
                   dst: Bucket, latest: bool, sync: bool, etl: tuple[str, ...]) -> list[Outcome]:
        """A copy job's batch: (name, dst_name) items held here -> each one's outcome, in order.
        The small ones many to a request, the rest one by one (`ObjCopier.copy_one`, at most
        `workers` of job `key` at a time)."""
        meta = self.ctx.meta
        one_by_one = list(range(len(items)))
        out: list[Outcome | None] = [None] * len(items)
        try:
            src_props, dst_props = meta.bmd.must_get(src), meta.bmd.must_get(dst)
        except AisError as err:  # a bucket gone meanwhile: every object's error
            return [(None, err, 0.0)] * len(items)
        if not (latest or sync) and plain(dst_props, dst):
            # at most GROUPED of the job's batches read and sent at a time here: their bytes are in memory
            def grouped() -> Awaitable[list[int]]:
                return self._grouped_etl(items, src, dst, etl, out) if etl else self._grouped(items, src, dst, out)

            [(rest, err, _)] = await gates.run(key + GROUPED_KEY, GROUPED, [grouped])
            if err is None:  # else (e.g. no cluster map yet, found before any send) each object says so itself
                one_by_one = rest
        ref = remote_of(src, src_props)

        def single(i: int) -> Callable[[], Awaitable[Any]]:
            name, dst_name = items[i]
            return lambda: self.copier.copy_one(src, name, ref, dst, dst_name, latest=latest, sync=sync, etl=etl)

        for i, outcome in zip(one_by_one, await gates.run(key, workers, [single(i) for i in one_by_one])):
            out[i] = outcome
        return [o if o is not None else (None, AisError("not copied"), 0.0) for o in out]

    async def promote(self, gates: Gates, key: str, workers: int, items: list[tuple[str, str]], dst: Bucket,
                      root: str, overwrite: bool, delete_src: bool) -> list[Outcome]:
        """A promote job's batch: (path, name) items -> each one's outcome, in order. The files up to
        `SMALL` whose object this mountpath owns, in a plain bucket (a file share's usual case),
        are written here without an fsync each and made durable with one `syncfs` (the group
        commit), their sources removed (`delete_src`) only after it; the rest one by one
        (`ObjCopier.promote`: streamed, or sent to the owner), at most `workers` at a time."""
        out: list[Outcome | None] = [None] * len(items)
        try:
            props = self.ctx.meta.bmd.must_get(dst)
        except AisError as err:
            return [(None, err, 0.0)] * len(items)
        if plain(props, dst):
            own = self.copier.own_url()
            here = [i for i, (_, name) in enumerate(items) if self.copier.dst_mountpath(dst, name).url == own]
            done = await asyncio.to_thread(self._promote_here, [items[i] for i in here], root, dst, overwrite,
                                           delete_src)
            for i, outcome in zip(here, done):
                out[i] = outcome
        rest = [i for i, o in enumerate(out) if o is None]

        def single(i: int) -> Callable[[], Awaitable[Any]]:
            path, name = items[i]
            return lambda: self.copier.promote(path, root, dst, name, overwrite=overwrite, delete_src=delete_src)

        for i, outcome in zip(rest, await gates.run(key, workers, [single(i) for i in rest])):
            out[i] = outcome
        return [o if o is not None else (None, AisError("not promoted"), 0.0) for o in out]

    def _promote_here(self, items: list[tuple[str, str]], root: str, dst: Bucket, overwrite: bool,
                      delete_src: bool) -> list[Outcome | None]:
        """Blocking. `promote`'s group commit: each small file stored here (None: a larger one, left
        to go one by one), then one `syncfs`, then the sources removed."""
        store = self.ctx.store
        out: list[Outcome | None] = []
        written: list[str] = []
        for path, name in items:
            t0 = time.monotonic()
            try:
                with open_promoted(path, root) as f:
                    size = os.fstat(f.fileno()).st_size
                    if size > SMALL:
                        out.append(None)
                        continue
                    store.fqn(dst, name)  # a valid name, inside the mountpath
                    if not overwrite and store.find(dst, name) is not None:
                        out.append(((SKIPPED, size), None, time.monotonic() - t0))
                        continue
                    attrs = write_bytes(store, dst, name, f.read(), Owt.PROMOTE, fsync=False)
            except AisError as err:
                out.append((None, err, time.monotonic() - t0))
                continue
            out.append(((COPIED, attrs.size), None, time.monotonic() - t0))
            written.append(path)
        if written:
            store.sync_fs()  # every object durable before any is answered, or any source removed
        if delete_src:
            for path in written:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return out

    async def _grouped(self, items: list[tuple[str, str]], src: Bucket, dst: Bucket,
                       out: list[Outcome | None]) -> list[int]:
        """Copy the small ones of `items` in groups, filling `out`; the indexes left to copy one by one."""
        # onto itself: refused one by one, with its own error
        cand = [i for i, (name, dst_name) in enumerate(items) if (dst, dst_name) != (src, name)]
        read = await asyncio.to_thread(_read_small, self.ctx.store, src, [items[i][0] for i in cand])
        small = [(cand[j], attrs, data) for j, attrs, _, data in read if attrs.cksum]
        grouped = {i for i, _, _ in small}
        rest = [i for i in range(len(items)) if i not in grouped]
        rest += await self._send_groups(dst, [(i, _Copy(items[i][1], attrs.cksum, data, version=attrs.version,
                                                        custom=dict(attrs.custom)))
                                              for i, attrs, data in small], out)
        return sorted(rest)

    async def _grouped_etl(self, items: list[tuple[str, str]], src: Bucket, dst: Bucket, etl: tuple[str, ...],
                           out: list[Outcome | None]) -> list[int]:
        """`_grouped` for an ETL job: the small ones through the stages, their outputs in groups
        (`Owt.TRANSFORM`), an output larger than `SMALL` alone; fills `out`; the indexes left to
        go one by one (not stored here, larger, or in a group its owner did not take: transformed
        again there)."""
        t0 = time.monotonic()
        cand = [i for i, (name, dst_name) in enumerate(items) if (dst, dst_name) != (src, name)]
        here = [(cand[j], size) for j, size in
                await asyncio.to_thread(_small_here, self.ctx.store, src, [items[i][0] for i in cand])]
        taken = {i for i, _ in here}
        rest = [i for i in range(len(items)) if i not in taken]
        stats = self.ctx.stats

        async def one(i: int, size: int) -> tuple[int, _Copy] | None:
            name, dst_name = items[i]
            try:
                f, attrs = await self.copier.transformed(src, name, size, etl)
                with f:
                    if attrs.size <= SMALL:
                        data = f.getvalue() if isinstance(f, io.BytesIO) else await asyncio.to_thread(f.read)
                        return i, _Copy(dst_name, "", data)
                    await self.copier.send(f, attrs, self.copier.dst_mountpath(dst, dst_name), dst, dst_name,
                                           owt=Owt.TRANSFORM)
            except AisError as err:  # this object's error (the transform's, or its owner's answer)
                out[i] = (None, err, time.monotonic() - t0)
                return None
            stats.add("etl.offline", attrs.size)
            out[i] = ((COPIED, attrs.size), None, time.monotonic() - t0)
            return None

        # at most a worker's batch through the stages at a time (a transform's output may be far
        # larger than its input: what is held here is bounded as the worker's own answer is);
        # each object settled before any failure is raised (an unreachable owner: the job's error)
        done: list[tuple[int, _Copy] | None | BaseException] = []
        for k in range(0, len(here), ETL_BATCH):
            part = await asyncio.gather(*(one(i, size) for i, size in here[k:k + ETL_BATCH]), return_exceptions=True)
            for d in part:
                if isinstance(d, BaseException):
                    raise d
            done += part
        rest += await self._send_groups(dst, [d for d in done if d is not None], out, Owt.TRANSFORM)  # type: ignore[misc]
        return sorted(rest)

    async def _send_groups(self, dst: Bucket, recs: list[tuple[int, _Copy]], out: list[Outcome | None],
                           owt: Owt = Owt.COPY) -> list[int]:
        """`recs` (item index, copy) grouped by the mountpath that owns each destination, sent at
        once; fills `out`; the indexes left to go one by one."""
        groups: dict[str, tuple[MountpathInfo, list[tuple[int, _Copy]]]] = {}
        for i, rec in recs:
            mp = self.copier.dst_mountpath(dst, rec.name)
            groups.setdefault(mp.url, (mp, []))[1].append((i, rec))
        sends = [self._send_group(mp, dst, part, out, owt) for mp, group in groups.values()
                 for part in _parts(group, lambda rec: len(rec[1].data))]
        return [i for left in await asyncio.gather(*sends) for i in left]

    async def _send_group(self, mp: MountpathInfo, dst: Bucket, part: list[tuple[int, _Copy]],
                          out: list[Outcome | None], owt: Owt = Owt.COPY) -> list[int]:
        """One group to its owner; fills `out` for each of its objects; the indexes to copy one by
        one instead (the owner unreachable, or refusing the group as a whole)."""
        t0 = time.monotonic()
        answers = await self._request(mp, dst, [rec for _, rec in part], owt=owt)
        if answers is None:
            return [i for i, _ in part]
        each = (time.monotonic() - t0) / max(1, len(part))
        stats = self.ctx.stats
        for (i, _), (status, size, err_status, message) in zip(part, answers):
            if status == ERROR:
                out[i] = (None, _error(err_status, message), 0.0)
            else:
                out[i] = ((status, size), None, each)
                if status == COPIED:
                    stats.add("etl.offline" if owt is Owt.TRANSFORM else "copy", size)
        return []

    async def _request(self, mp: MountpathInfo, dst: Bucket, recs: list[_Copy], xid: str = "",
                       owt: Owt = Owt.COPY) -> list[Answer] | None:
        """One group to `mp` (written here when that is this mountpath); None when it refused the
        group as a whole or could not be reached: its objects then go one by one."""
        try:
            if mp.url == self.copier.own_url():
                return await self.write(dst, recs, xid, owt)
            return await self._put(mp, dst, recs, xid, owt)
        except AisError as err:
            log.info("copies to %s: %s; one by one", mp.url, err.message)
        except Exception as exc:
            if not retriable_transport(exc):
                raise
            log.info("copies to %s: %r; one by one", mp.url, exc)
        return None

    async def move(self, bck: Bucket, placed: list[tuple[str, MountpathInfo]], xid: str,
                   same_target: bool) -> dict[int, int | AisError]:
        """A rebalance / resilver walk's chunk (`jobs/rebalance.py::SendMany`): its small objects moved
        many to a request to their new places, each dropped here after (unless it changed meanwhile,
        `ObjCopier.drop_if_same`). {index: bytes moved (-1: the receiver kept a newer one) or the
        object's error} for those; the rest go one by one (`ObjCopier.move`)."""
        try:
            props = self.ctx.meta.bmd.must_get(bck)
        except AisError:
            return {}
        if not plain(props, bck):
            return {}
        groups: dict[str, tuple[MountpathInfo, list[tuple[int, ObjAttrs, int, bytes]]]] = {}
        for item in await asyncio.to_thread(_read_small, self.ctx.store, bck, [name for name, _ in placed]):
            mp = placed[item[0]][1]
            groups.setdefault(mp.url, (mp, []))[1].append(item)
        out: dict[int, int | AisError] = {}
        dropped: list[tuple[str, ObjAttrs, int]] = []
        for mp, items in groups.values():
            for part in _parts(items, lambda it: len(it[3])):
                recs = [_Copy(placed[i][0], "", data, attrs.to_bytes()) for i, attrs, _, data in part]
                answers = await self._request(mp, bck, recs, xid)
                if answers is None:
                    continue
                for (i, attrs, ino, _), (status, size, err_status, message) in zip(part, answers):
                    if status == ERROR:
                        out[i] = _error(err_status, message)
                        continue
                    out[i] = size if status == MOVED else -1
                    dropped.append((placed[i][0], attrs, ino))

        def drop_all() -> None:
            for name, attrs, ino in dropped:
                self.copier.drop_if_same(bck, name, attrs, ino, not same_target)

        await asyncio.to_thread(drop_all)
        return out

    async def _put(self, mp: MountpathInfo, dst: Bucket, recs: list[_Copy], xid: str = "",
                   owt: Owt = Owt.COPY) -> list[Answer]:
        body = msgspec.msgpack.encode(_Copies(dst.uname(""), recs, xid, owt.value if owt is Owt.TRANSFORM else ""))

        async def put() -> list[Answer]:
            async with self.copier.session().put(mp.url + COPIES_PATH, data=body,
                                                 headers={"Content-Type": "application/msgpack"}) as r:
                raw = await r.read()
                if r.status >= 300:
                    text = raw[:512].decode(errors="replace")
                    raise _error(r.status, f"copies to {mp.url} failed: {r.status} {text}")
                return _ANSWERS.decode(raw)

        answers = await peer_call(put)
        if len(answers) != len(recs):
            raise AisError(f"copies to {mp.url}: {len(answers)} answers for {len(recs)} objects")
        return answers
