"""Objects moving between mountpaths on one mountpath: its rebalance/resilver walks, what it
receives, and get-from-neighbor (GFN).

- `walk(xid, kind)`: this disk's share of a rebalance or resilver (`jobs/rebalance.py`), each
  misplaced object sent by the one object sender (`ObjCopier.move`: the copy path, owt rebalance).
- `receive`: a PUT marked `Ais-Owt: rebalance` — checksum verified, metadata kept, an object
  already here wins (`fs/write.py` `keep`); counted as `in-*` of the sender's xaction.
- `from_neighbor`: a GET (or HEAD) for an object not stored here while placement changed
  recently asks where it was (its HRW place under the previous Smap first, then every other
  mountpath of the cluster) and stores it here (AIStore `restoreFromAny`, ais-wire-2 §3.5).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

import aiohttp
from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core.errors import AisError, ErrBadRequest
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.core.smap import MountpathInfo
from ais_ray.fs.write import write_stream
from ais_ray.jobs.rebalance import RESILVER, MoveStats, walk_and_move

from ais_ray.actors.objcopy import KEPT_THEIRS, ObjCopier

if TYPE_CHECKING:
    from ais_ray.actors.copies import Copies
    from ais_ray.actors.mountpath import MountpathContext

log = logging.getLogger(__name__)
GFN_WINDOW = 300.0  # seconds after a placement change (or a walk here) during which a miss asks neighbors
KEEP_XACTS = 16
GFN_XID = "gfn"  # what `hand_on` moves is counted under this id
READ_CHUNK = 1 << 20


class Mover:
    def __init__(self, ctx: MountpathContext, copier: ObjCopier, own_url: Callable[[], str]) -> None:
        self.ctx = ctx
        self.copier = copier
        self._own_url = own_url
        self.stats: dict[str, MoveStats] = {}
        self._walks: dict[str, asyncio.Task[None]] = {}
        self.gfn_until = 0.0
        self._handing: set[asyncio.Task[int]] = set()
        self.copies: Copies | None = None  # small objects moved many to a request (set by the data server)

    def stats_of(self, xid: str) -> MoveStats:
        st = self.stats.get(xid)
        if st is None:
            st = self.stats[xid] = MoveStats()
            for old in list(self.stats)[:-KEEP_XACTS]:
                self.stats.pop(old, None)
        return st

    # ---- sending ---------------------------------------------------------------------------------
    async def walk(self, xid: str, kind: str, only: list[Bucket] | None = None) -> MoveStats:
        """This mountpath's share of rebalance/resilver `xid` (every bucket, or `only` those); a
        second call joins the first."""
        task = self._walks.get(xid)
        if task is None:
            st = self.stats_of(xid)
            st.done = False
            ctx = self.ctx

            async def send(bck: Bucket, name: str, mp: MountpathInfo) -> int:
                return await self.copier.move(bck, name, mp, xid, same_target=kind == RESILVER)

            async def send_many(bck: Bucket, placed: list[tuple[str, MountpathInfo]]) -> dict[int, int | AisError]:
                return {} if self.copies is None else await self.copies.move(bck, placed, xid,
                                                                             same_target=kind == RESILVER)

            self.extend_gfn()
            task = self._walks[xid] = asyncio.get_running_loop().create_task(walk_and_move(
                ctx.store.path, ctx.tid, kind, [b for b in ctx.meta.bmd.list() if only is None or b in only],
                lambda: ctx.meta.smap, send, st,
                listed=ctx.listed, send_many=send_many))
        try:
            await asyncio.shield(task)
        finally:
            if task.done():
                self._walks.pop(xid, None)
                self.extend_gfn()
        return self.stats[xid]

    async def abort(self, xid: str) -> None:
        task = self._walks.pop(xid, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ---- receiving -------------------------------------------------------------------------------
    async def receive(self, req: web.Request, bck: Bucket, name: str) -> web.Response:
        keep = ObjAttrs.from_header(req.headers.get(H.REB_ATTRS, ""))
        self.ctx.store.fqn(bck, name)  # validate the name before reading the body
        out = await write_stream(self.ctx.store, bck, name, req.content.iter_any(), Owt.REBALANCE,
                                 expect_size=-1 if req.content_length is None else req.content_length, keep=keep)
        self.extend_gfn()
        theirs = (out.cksum, out.version) != (keep.cksum, keep.version)
        if not theirs and req.headers.get(H.REB_ID):
            st = self.stats_of(req.headers[H.REB_ID])
            st.in_objs += 1
            st.in_bytes += out.size
        return web.Response(status=200, headers={H.REB_ATTRS: KEPT_THEIRS} if theirs else {})

    # ---- get from neighbor -----------------------------------------------------------------------
    def extend_gfn(self) -> None:
        self.gfn_until = max(self.gfn_until, time.monotonic() + GFN_WINDOW)

    def gfn_active(self) -> bool:
        return time.monotonic() < self.gfn_until or bool(self._walks)

    def _candidates(self, uname: str) -> list[str]:
        """Data URLs that may hold `uname`: its HRW place under the previous Smap first, then all."""
        meta = self.ctx.meta
        maps = [m for m in (meta.prev_smap, meta.smap) if m is not None]
        urls: list[str] = []
        for m in maps:
            try:
                urls.append(m.locate(uname)[1].url)
            except Exception:  # no active target in that map
                pass
        urls += [mp.url for m in maps for t in m.targets.values() for mp in t.mountpaths]
        own = self._own_url()
        return [u for u in dict.fromkeys(urls) if u and u != own]

    async def from_neighbor(self, bck: Bucket, name: str) -> bool:
        """Fetch `bck/name` from the node that still holds it and store it here; False if none
        does and it is not here (`ask_neighbors`)."""
        if not self.gfn_active():
            return False
        params = {H.Q_PROVIDER: bck.provider.value, H.Q_GFN: "true"}
        if not bck.ns.is_global:
            params[H.Q_NAMESPACE] = str(bck.ns)
        path = f"/v1/objects/{quote(bck.name)}/{quote(name, safe='/')}"
        fqn = self.ctx.store.fqn(bck, name)

        async def ask(url: str) -> bool:
            try:
                async with self.copier.session().get(url + path, params=params) as r:
                    if r.status != 200 or H.REB_ATTRS not in r.headers:
                        return False
                    keep = ObjAttrs.from_header(r.headers[H.REB_ATTRS])
                    await write_stream(self.ctx.store, bck, name, r.content.iter_chunked(READ_CHUNK), Owt.REBALANCE,
                                       expect_size=keep.size, keep=keep)
                    log.info("%s: %s/%s from neighbor %s", self.ctx.location, bck, name, url)
                    return True
            except (aiohttp.ClientError, asyncio.TimeoutError, ErrBadRequest) as exc:
                log.warning("%s: GFN %s/%s from %s: %r", self.ctx.location, bck, name, url, exc)
            return False

        return await ask_neighbors(self._candidates(bck.uname(name)), ask,
                                   lambda: asyncio.to_thread(os.path.exists, fqn))

    def hand_on(self, bck: Bucket, name: str) -> None:
        """After a GFN stored `bck/name` here: if this disk is not its HRW place under the current
        Smap (the request followed a map a moment old: the API refreshes it once a second), the
        copy moves on to its owner, as the rebalance would move it — never a second copy left
        behind. Call once the request has the file open."""
        try:
            tsi, mp = self.ctx.meta.smap.locate(bck.uname(name)) if self.ctx.meta.smap is not None else (None, None)
        except Exception:  # no active target in the map
            return
        if mp is None or tsi is None or mp.url == self._own_url():
            return
        task = asyncio.get_running_loop().create_task(
            self.copier.move(bck, name, mp, GFN_XID, same_target=tsi.daemon_id == self.ctx.tid))
        self._handing.add(task)
        task.add_done_callback(self._handed)

    def _handed(self, task: asyncio.Task[int]) -> None:
        self._handing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: handing a GFN copy to its owner: %r", self.ctx.location, task.exception())


async def ask_neighbors(urls: list[str], ask: Callable[[str], Awaitable[bool]], here: Callable[[], Awaitable[bool]]) -> bool:
    """Get-from-neighbor's order: the first of `urls` whose `ask` stores the object here wins.
    When none has it, it may have *arrived* meanwhile — the rebalance committed it here after this
    disk missed it, and its sender then dropped its copy, so nobody else has it any more: `here()`
    decides. Without that last look a GET during a move answered 404 (1 in ~300 under load)."""
    for url in urls:
        if await here() or await ask(url):
            return True
    return await here()

