"""Plain GETs answered from the object's file by the process that received them (sendfile).

The target's own URL and the S3 gateway use it: one request per object, no 307, no relay.

The target's URL (Smap `direct_url`) is where the official SDK's `get_reader(direct=True)` lands
after its client-side HRW over the targets. Answering every such GET with a 307 to the owning
mountpath made it two requests per object, slower than the API path it is meant to skip. Here
a plain read — an object stored where HRW puts it, no query beyond the bucket's, no shard,
transform, blob or version check — is sent from the target process (sendfile, the mountpath's
own `send_object`). Anything else, and any object not on its disk as a file (mirror restore,
get-from-neighbor during a rebalance, EC rebuild, cold GET), still gets the 307: the mountpath
has the logic for those.

The S3 gateway (in the front door, on the proxy's node) reads this way when the owning mountpath
is on its own machine (`is_local`): S3 clients do not follow a 307, so otherwise every byte is
relayed through the gateway's process.

A GET the S3 gateway sends this way is the owning target's GET: counted there (`ServedFor`: `get.n`,
`get.size`, `get.ns.total` per bucket, handed to the target every `PUSH_EVERY` seconds). Before,
such GETs were counted nowhere: a cluster serving its reads through the S3 API showed none.

Reading another process's files is safe as the mountpath's own reads are: an object is only
ever replaced by an atomic rename, and data and metadata come from the one open inode. The
access time is noted here and written in batches like the mountpath's (`fs/atime.py`); a HEAD
sees it after the next flush (at most `FLUSH_EVERY` seconds), not at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ais_ray.actors.dataserver import BCK_KEY, send_object
from ais_ray.actors.hosts import is_local, local_hosts
from ais_ray.core import headers as H
from ais_ray.core import lom
from ais_ray.core.bmd import BMD
from ais_ray.core.errors import AisError
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.fs.atime import AtimesByPath
from ais_ray.fs.store import open_stored
from ais_ray.stats import Counters

log = logging.getLogger(__name__)
PLAIN_QUERY = frozenset({H.Q_PROVIDER, H.Q_NAMESPACE, H.Q_GRANT})  # anything else: the mountpath decides


class LocalReads:
    def __init__(self, stats: Counters) -> None:
        self.stats = stats
        self.bmd: BMD | None = None  # set by the target with every metadata update
        self.atimes = AtimesByPath()  # the access times of the objects read here

    def plain(self, req: web.Request) -> bool:
        return req.method == "GET" and PLAIN_QUERY.issuperset(req.query.keys()) and H.BLOB_DOWNLOAD not in req.headers

    async def serve(self, req: web.Request, bck: Bucket, name: str, mpath: str, tid: str, *,
                    checked: bool = False) -> web.StreamResponse | None:
        """Send the object if it is a plain read of a stored file; None: redirect to the mountpath.
        `checked`: the caller made sure the request is a plain GET of an existing bucket."""
        if not checked and (not self.plain(req) or self.bmd is None or bck not in self.bmd):
            return None
        opened = _open(mpath, bck, name)  # on this loop, as the mountpath opens its objects (`DataServer._open`)
        if opened is None:
            return None
        f, attrs = opened
        atimes = self.atimes.of(mpath)
        req[BCK_KEY] = bck  # the stats middleware counts it (get.n, get.size, latency)
        resp = await send_object(req, bck, name, f, atimes.merged(bck, name, attrs), f"t[{tid}]:mp[{mpath}]",
                                 self.stats)
        if atimes.note(bck, name, time.time_ns()):
            await asyncio.to_thread(atimes.flush)
        return resp

    def flush(self) -> None:
        """Write the noted access times (blocking: at shutdown, or in a thread)."""
        self.atimes.flush()


PUSH_EVERY = 1.0  # seconds between the hand-offs of counts to their targets (`ServedFor`)


class ServedFor:
    """Reads this process (not a target) served for targets, counted as theirs: one `Counters` per
    target, whose counts are handed to it every `PUSH_EVERY` seconds (`add_counts` on its actor).
    A target that cannot take them (restarting) gets them with the next hand-off."""

    def __init__(self, handle: Callable[[str], Any]) -> None:
        self._handle = handle  # tid -> the target's actor handle (blocking: `ray.get_actor`)
        self._by: dict[str, Counters] = {}
        self._handles: dict[str, Any] = {}
        self._pusher: asyncio.Future[None] | None = None

    def counters(self, tid: str) -> Counters:
        if self._pusher is None:
            self._pusher = asyncio.ensure_future(self._push_every())
        if tid not in self._by:
            self._by[tid] = Counters()
        return self._by[tid]

    async def _push_every(self) -> None:
        while True:
            await asyncio.sleep(PUSH_EVERY)
            await self.push()

    async def push(self) -> None:
        for tid, c in list(self._by.items()):
            counts = c.take()
            if not counts:
                continue
            try:
                if tid not in self._handles:
                    self._handles[tid] = await asyncio.to_thread(self._handle, tid)
                await self._handles[tid].add_counts.remote(counts)
            except Exception as exc:  # noqa: BLE001 - gone or restarting: kept for the next hand-off
                log.debug("counts for %s kept: %r", tid, exc)
                self._handles.pop(tid, None)
                c.add_labeled(counts)


NEAR_MAX = 64  # GETs a front door sends from files at a time; past it, the mountpath's own server takes them


class NearReads:
    """A front door's GETs of objects stored on its own machine (the S3 gateway's and the native
    API's): sent from the file (`LocalReads`), counted at the owning target (`ServedFor`). At most
    `NEAR_MAX` at a time: past it — a machine whose clients keep more in flight than one process
    should send — the read goes to the mountpath's own server (a 307, a relay), whose processes
    share the load. None: not sent here."""

    def __init__(self, handle: Callable[[str], Any]) -> None:
        self.reads = LocalReads(Counters())
        self.served = ServedFor(handle)
        self.hosts = local_hosts()
        self.sending = 0

    async def send(self, req: web.Request, bck: Bucket, name: str, mp_url: str, mp_path: str,
                   tid: str) -> web.StreamResponse | None:
        if self.sending >= NEAR_MAX or not is_local(mp_url, self.hosts):
            return None
        t0 = time.perf_counter_ns()
        self.sending += 1
        try:
            resp = await self.reads.serve(req, bck, name, mp_path, tid, checked=True)
        finally:
            self.sending -= 1
        if resp is not None:  # the owner's GET: counted there, as its mountpath counts one
            self.served.counters(tid).add("get", resp.content_length or 0, ns=time.perf_counter_ns() - t0,
                                          label=str(bck))
        return resp


def _open(mpath: str, bck: Bucket, name: str) -> tuple[Any, ObjAttrs] | None:
    try:
        return open_stored(lom.obj_fqn(mpath, bck, name))
    except AisError:  # a name that cannot be stored: the mountpath answers the 400
        return None
