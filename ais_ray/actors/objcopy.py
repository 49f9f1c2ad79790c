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
import contextlib
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, BinaryIO, TypeVar
from urllib.parse import quote

import aiohttp
from aiohttp import web

from ais_ray.actors.etl_pool import EtlPools
from ais_ray.backends.aio import retriable_transport
from ais_ray.backends.base import retrying
from ais_ray.auth.gate import internal_auth
from ais_ray.core import headers as H
from ais_ray.core.bmd import RemoteRef, remote_of
from ais_ray.core.copy import COPIED, PRESENCE_PRESENT, SKIPPED, same_copy
from ais_ray.core.errors import AisError, ErrBadRequest, ErrInvalidName, ErrNotFound, ErrObjNotFound
from ais_ray.core.etl import check_query as check_etl_query
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, parse_uname
from ais_ray.core.owt import OWT_HEADER, Owt
from ais_ray.core.promote import ErrSourceGone, is_under
from ais_ray.core.smap import MountpathInfo
from ais_ray.fs.write import write_stream

if TYPE_CHECKING:
    from ais_ray.actors.cold import ColdGets
    from ais_ray.actors.ecserver import ECServer
    from ais_ray.actors.mountpath import MountpathContext

READ_CHUNK = 1 << 20
PEER_RETRIES = 20
REPLACE_WAIT = 300.0  # s a copy keeps trying an unreachable destination owner, or waits for its new place
REPLACE_RETRY = 10.0  # s between those tries (each one `peer_call`'s retries)
REPLACE_POLL = 1.0
KEPT_THEIRS = "kept"  # a move's reply header REB_ATTRS: the receiver already had a newer object
T = TypeVar("T")
log = logging.getLogger(__name__)


class ObjCopier:
    """Copies objects owned by one mountpath to wherever HRW places their destination."""

    def __init__(self, ctx: MountpathContext, cold: ColdGets, own_url: Callable[[], str], etl: EtlPools,
                 ec: ECServer | None = None) -> None:
        self.ctx = ctx
        self.cold = cold
        self.etl = etl
        self._ec = ec  # erasure coding: a missing source rebuilt first, a destination written here encoded
        self._own_url = own_url  # this mountpath's data server
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def copy(self, req: web.Request, bck: Bucket, name: str, ref: RemoteRef | None) -> web.Response:
        dst, dst_name = parse_uname(req.query[H.Q_OBJ_TO])
        if req.content_length or req.headers.get("Transfer-Encoding"):
            raise ErrBadRequest(f"copy ({H.Q_OBJ_TO}) takes no request body")
        await self.copy_one(bck, name, ref, dst, dst_name, latest=H.is_true(req.query.get(H.Q_LATEST)),
                            sync=H.is_true(req.query.get(H.Q_SYNC)), etl=check_etl_query(req.query),
                            etl_args=req.query.get("etl_args", ""))
        return web.Response(status=200)

    async def copy_one(self, bck: Bucket, name: str, ref: RemoteRef | None, dst: Bucket, dst_name: str, *,
                       latest: bool = False, sync: bool = False, etl: tuple[str, ...] = (),
                       etl_args: str = "") -> tuple[str, int]:
        """Copy one object this mountpath owns (the HTTP copy and the copy jobs): ("ok"|"skipped", size).

        With `etl` (offline transform: etl-bck, etl-listrange), the object goes through those
        ETL stages on this node's workers between the read and the send, and is written as
        `Owt.TRANSFORM`; a transformed object is always written (the skip compares source bytes).

        A destination that already holds the same bytes (size and checksum) is not written again
        unless `latest`/`sync` ask to re-check (AIStore's no-op copy of an equal object). With
        `sync`, a source that is gone takes its destination copy with it.

        Raises:
            ErrBadRequest: onto itself. ErrBckNotFound: no destination bucket.
            ErrObjNotFound: no source (here, nor at the remote).
        """
        if (dst, dst_name) == (bck, name):
            raise ErrBadRequest(f"cannot copy {bck}/{name} onto itself")
        self.ctx.meta.bmd.must_get(dst)  # 404 for a destination bucket that does not exist
        try:
            f, attrs = await self._open_source(bck, name, ref, latest=latest, sync=sync)
        except ErrObjNotFound:
            if sync:
                await self.delete_dst(dst, dst_name)
            raise
        try:
            mp = self.dst_mountpath(dst, dst_name)
            if etl:
                f.close()  # the worker reads the file itself (direct FQN)
                f, attrs = await self.transformed(bck, name, attrs.size, etl, etl_args)
                await self.send(f, attrs, mp, dst, dst_name, owt=Owt.TRANSFORM)
                self.ctx.stats.add("etl.offline", attrs.size)
                return COPIED, attrs.size
            until = 0.0  # set at the first unreachable owner: how long this copy waits for a place
            while True:
                try:
                    if not (latest or sync) and await self._holds_same(mp, dst, dst_name, attrs):
                        return SKIPPED, attrs.size
                    await self.send(f, attrs, mp, dst, dst_name)
                    break
                except Exception as exc:
                    # its owner unreachable: once the Smap places it elsewhere (the node lost and taken
                    # out of placement meanwhile, or now), the copy goes there
                    if not retriable_transport(exc):
                        raise
                    until = until or time.monotonic() + REPLACE_WAIT
                    now = await self._placed(dst, dst_name, mp, until)
                    if now is None:
                        raise
                    if now != mp:
                        log.info("copy %s/%s: %s unreachable, placed on %s now", dst, dst_name, mp.url, now.url)
                    mp = now
        finally:
            f.close()
        self.ctx.stats.add("copy", attrs.size)
        return COPIED, attrs.size

    async def transformed(self, bck: Bucket, name: str, size: int, etl: tuple[str, ...],
                          args: str = "") -> tuple[BinaryIO, ObjAttrs]:
        """The object stored here (`size` bytes) through the ETL stages: the result open for
        reading (in memory, or the work file a streaming transform wrote), and its size.

        Raises:
            ErrETLNotFound: a stage is not running on this target. ErrTransform: it failed.
        """
        out, n = await self.etl.transform_open(etl, self.ctx.store.fqn(bck, name), size,
                                              f"{bck.name}/{name}", args, self.ctx.store.work_dir)
        return out, ObjAttrs(size=n)

    async def delete_dst(self, dst: Bucket, dst_name: str) -> bool:
        """`sync`: remove a destination object whose source is gone; False if there was none."""
        mp = self.dst_mountpath(dst, dst_name)
        if mp.url == self._own_url():
            try:
                await self.cold.remove(dst, remote_of(dst, self.ctx.meta.bmd.must_get(dst)), dst_name)
            except ErrNotFound:
                return False
            return True
        async def delete() -> bool:
            async with self._http().delete(self._obj_url(mp, dst, dst_name), params=H.bck_query(dst)) as r:
                if r.status == 404:
                    return False
                await _check(r, f"delete {dst}/{dst_name}")
            return True

        return await peer_call(delete)

    async def _open_source(self, bck: Bucket, name: str, ref: RemoteRef | None, *, latest: bool,
                           sync: bool) -> tuple[BinaryIO, ObjAttrs]:
        """The source as stored here; a remote source is fetched first (and re-checked with
        `latest-ver` / `synchronize`, which also drops a copy the remote no longer has)."""
        store = self.ctx.store
        try:
            f, attrs = await asyncio.to_thread(store.open, bck, name)
        except ErrObjNotFound:
            if ref is None:
                if self._ec is None or not await self._ec.restore(bck, name):
                    raise
                return await asyncio.to_thread(store.open, bck, name)
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

    async def _placed(self, dst: Bucket, dst_name: str, mp: MountpathInfo, until: float) -> MountpathInfo | None:
        """Where the destination goes after its owner `mp` did not answer: its new place as soon as
        the Smap moves it (a lost node marked offline, then taken out of placement: a copy that spans
        the failure finishes its work), else `mp` again after `REPLACE_RETRY` s (a restarting node
        answers on the same port); None once the monotonic time `until` passed."""
        retry = min(until, time.monotonic() + REPLACE_RETRY)
        while (now := self.dst_mountpath(dst, dst_name)) == mp:
            if time.monotonic() > until:
                return None
            if time.monotonic() > retry:
                return mp
            await asyncio.sleep(REPLACE_POLL)
        return now

    async def read_whole(self, bck: Bucket, name: str, params: dict[str, str] | None = None) -> bytes:
        """An object's bytes from the mountpath that holds it by HRW (a GET there, so a remote
        object is fetched and a lost one rebuilt as for any GET; this disk's own too); `params`:
        e.g. `archpath`, one file of a shard."""
        mp = self.dst_mountpath(bck, name)

        async def get() -> bytes:
            async with self._http().get(self._obj_url(mp, bck, name), params={**H.bck_query(bck), **(params or {})}) as r:
                await _check(r, f"GET {bck}/{name}")
                return await r.read()

        return await peer_call(get)

    def dst_mountpath(self, dst: Bucket, dst_name: str) -> MountpathInfo:
        smap = self.ctx.meta.smap
        if smap is None:
            raise AisError("no cluster map yet: cannot place the destination")
        return smap.locate(dst.uname(dst_name))[1]

    async def move(self, bck: Bucket, name: str, mp: MountpathInfo, xid: str, *, same_target: bool = False) -> int:
        """Rebalance / resilver one object stored here to mountpath `mp` (its HRW place): streamed,
        checksum verified and committed there (`Owt.REBALANCE`, metadata kept), then dropped here
        unless it changed meanwhile (with its replicas on this target, unless `same_target`: a
        resilver's sibling keeps them). The bytes moved; -1 if the receiver already had a newer one."""
        f, attrs = await asyncio.to_thread(self.ctx.store.open, bck, name)
        try:
            ino = os.fstat(f.fileno()).st_ino
            kept = await self.send(f, attrs, mp, bck, name, owt=Owt.REBALANCE,
                                    headers={H.REB_ATTRS: attrs.to_header(), H.REB_ID: xid})
        finally:
            f.close()
        await asyncio.to_thread(self.drop_if_same, bck, name, attrs, ino, not same_target)
        return attrs.size if kept else -1

    def drop_if_same(self, bck: Bucket, name: str, sent: ObjAttrs, ino: int, replicas: bool) -> None:
        """Drop the copy that moved (and the replicas it had here), unless it changed meanwhile or
        became a replica of the moved object: a mirrored bucket's resilver to a sibling mountpath,
        or an EC bucket's full replica the new owner sent here while the move was answered (the
        same bytes, in a new file: `ino` is the inode that was sent)."""
        store = self.ctx.store
        try:
            if os.stat(store.fqn(bck, name)).st_ino != ino:
                return
            now = store.load(bck, name)
        except (ErrObjNotFound, FileNotFoundError):
            return
        if (now.cksum, now.version, now.size) != (sent.cksum, sent.version, sent.size):
            return
        if now.copies and now.copies[0] != store.path and store.path in now.copies:
            return
        if replicas and self._ec is not None and self._ec.moved_away(bck, name, now):
            return  # kept: this target's full replica of the object (EC)
        store.delete(bck, name, replicas=replicas)

    @staticmethod
    def _obj_url(mp: MountpathInfo, bck: Bucket, name: str) -> str:
        return f"{mp.url}/v1/objects/{quote(bck.name)}/{quote(name, safe='/')}"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=300),
                                                  middlewares=(internal_auth,))  # a node's own token (auth on)
        return self._session

    async def _holds_same(self, mp: MountpathInfo, dst: Bucket, dst_name: str, src: ObjAttrs | None) -> bool:
        """Does the destination's owner already store these bytes (`src` None: any object of that
        name)? Only its stored copy counts (a HEAD with `presence=2` never asks a remote)."""
        if mp.url == self._own_url():
            try:
                have = await asyncio.to_thread(self.ctx.store.load, dst, dst_name)
            except (ErrNotFound, ErrInvalidName):
                return False
            return src is None or same_copy(src.cksum, src.size, have.cksum, have.size)
        params = {**H.bck_query(dst), H.Q_PRESENCE: str(PRESENCE_PRESENT)}

        async def head() -> bool:
            async with self._http().head(self._obj_url(mp, dst, dst_name), params=params) as r:
                if r.status == 404:
                    return False
                await _check(r, f"head {dst}/{dst_name}")
                return src is None or same_copy(src.cksum, src.size, r.headers.get(H.CKSUM_VAL, ""),
                                                int(r.headers.get("Content-Length", "-1")))

        return await peer_call(head)

    async def send(self, f: BinaryIO, attrs: ObjAttrs, mp: MountpathInfo, dst: Bucket, dst_name: str, *,
                    owt: Owt = Owt.COPY, headers: dict[str, str] | None = None) -> bool:
        """Stream the open object to `dst/dst_name` at mountpath `mp`; False when the receiver kept
        the object it already had (a move that lost to a newer write)."""
        async def body() -> AsyncIterator[bytes]:
            f.seek(0)
            while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                yield chunk

        meta = dict(attrs.custom) if owt is Owt.COPY else {}  # a copy keeps its custom metadata (S3's too)
        if mp.url == self._own_url():  # the destination is on this disk: no HTTP hop
            store = self.ctx.store
            store.fqn(dst, dst_name)  # validate the name
            dst_ref = remote_of(dst, self.ctx.meta.bmd.must_get(dst))
            through = self.cold.write_through(dst_ref, dst_name) if dst_ref is not None else None
            await write_stream(store, dst, dst_name, body(), owt if owt in (Owt.TRANSFORM, Owt.PROMOTE) else Owt.COPY,
                               expect_size=attrs.size, write_through=through, custom=meta,
                               version=attrs.version if owt is Owt.COPY else "")
            if self._ec is not None:  # as the data server's PUT does: the commit started the encode
                await self._ec.settled(dst, dst_name)
            return True
        hdrs = {"Content-Length": str(attrs.size), "Content-Type": "application/octet-stream",
                OWT_HEADER: owt.value, **({H.COPY_CUSTOM: json.dumps(meta)} if meta else {}),
                **({H.VERSION: attrs.version} if owt is Owt.COPY and attrs.version else {}), **(headers or {})}

        async def put() -> bool:
            async with self._http().put(self._obj_url(mp, dst, dst_name), params=H.bck_query(dst), data=body(),
                                        headers=hdrs) as r:
                await _check(r, f"{owt.value} to {dst}/{dst_name}")
                return r.headers.get(H.REB_ATTRS) != KEPT_THEIRS

        return await peer_call(put)  # the body starts over on each try (`f.seek(0)`)

    async def promote(self, path: str, root: str, dst: Bucket, dst_name: str, *, overwrite: bool,
                      delete_src: bool) -> tuple[str, int]:
        """One file of a promote (`core/promote.py`) stored as `dst/dst_name` at its owner, here or
        sent there: ("ok"|"skipped", size). An object of that name stays unless `overwrite` (the
        file skipped); `delete_src`: the file goes once its object is stored.

        Raises:
            ErrBadRequest: not a regular file under `root` (a symbolic link, or moved out meanwhile).
            ErrSourceGone: the file is gone (before its turn: skipped by the job).
        """
        self.ctx.meta.bmd.must_get(dst)
        f = await asyncio.to_thread(open_promoted, path, root)
        try:
            size = os.fstat(f.fileno()).st_size
            mp = self.dst_mountpath(dst, dst_name)
            if not overwrite and await self._holds_same(mp, dst, dst_name, None):
                return SKIPPED, size
            await self.send(f, ObjAttrs(size=size), mp, dst, dst_name, owt=Owt.PROMOTE)
        finally:
            f.close()
        if delete_src:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(os.unlink, path)
        return COPIED, size

    def session(self) -> aiohttp.ClientSession:
        """The one client session of this mountpath's outbound object traffic."""
        return self._http()

    def own_url(self) -> str:
        """This mountpath's data server."""
        return self._own_url()


def open_promoted(path: str, root: str) -> BinaryIO:
    """Blocking. A file to promote, opened for reading: a regular file, not a symbolic link, still
    under `root` once opened (a directory of its path swapped for a link meanwhile is caught)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ErrSourceGone(f'promote: "{path}" is gone') from None
    except OSError as exc:
        raise ErrBadRequest(f'promote: cannot read "{path}": {exc.strerror or exc}') from None
    f = os.fdopen(fd, "rb")
    try:
        real = os.path.realpath(f"/proc/self/fd/{fd}")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ErrBadRequest(f'promote: "{path}" is not a regular file')
        if not is_under(real, os.path.realpath(root)):
            raise ErrBadRequest(f'promote: "{path}" is not under the promote root "{root}"')
    except BaseException:
        f.close()
        raise
    return f


async def peer_call(call: Callable[[], Awaitable[T]]) -> T:
    """A request to a peer mountpath, tried again while the peer cannot be reached: a restarting
    mountpath comes back on the same port within seconds (~25 s of retries)."""
    return await retrying(call, retries=PEER_RETRIES, retriable=retriable_transport)


async def _check(r: aiohttp.ClientResponse, what: str) -> None:
    """A peer's error as ours: its 4xx stays a client error (404 a not-found), the rest a failure."""
    if r.status < 300:
        return
    text = (await r.text(errors="replace"))[:512] if r.method != "HEAD" else r.headers.get(H.ERROR_CODE, "")
    err = ErrNotFound if r.status == 404 else ErrBadRequest if 400 <= r.status < 500 else AisError
    raise err(f"{what} failed: {r.status} {text}")
