"""Target to target for EC: the internal `/v1/ec/<bucket>/<object>` route of every mountpath data server.

The slice (or full replica) of an object on target T lives on T's HRW mountpath for the name,
so the sender addresses that mountpath's data server directly from the Smap: one hop, bytes
streamed both ways (never a whole slice in memory), the metafile in `META_HEADER` (JSON).

    PUT    /v1/ec/<b>/<o>            store the body as this holder's slice/replica (+ metafile)
    GET    /v1/ec/<b>/<o>            the slice/replica, its metafile in the header
    GET    /v1/ec/<b>/<o>?what=meta  the metafile only (404: none here, or no slice/replica)
    GET    /v1/ec/<b>/<o>?what=verify  the same, the slice re-checked against its checksum
    PATCH  /v1/ec/<b>/<o>            the object's metadata changed (a PATCH of its custom metadata):
                                     the holder's metafile (and full replica) take the new one
    DELETE /v1/ec/<b>/<o>            drop slice/replica and metafile
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp

from ais_ray.core import headers as H
from ais_ray.core.ec import Metafile
from ais_ray.core.errors import AisError, ErrBadRequest
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from ais_ray.fs.store import MountpathStore, ObjWriter
from ais_ray.fs.write import fill

EC_PATH = "/v1/ec/"
META_HEADER = "Ais-Ec-Meta"
WHAT_META = "meta"  # the metafile, if its slice/replica is here
WHAT_VERIFY = "verify"  # the same, after re-checking the slice against its checksum
READ_CHUNK = 1 << 20


class ErrPeer(AisError):
    status = 500


def url_of(smap: Smap, tid: str, bck: Bucket, name: str) -> str:
    """The EC route of `name` on target `tid`'s HRW mountpath."""
    mp = smap.targets[tid].mountpath_for(bck.uname(name))
    return f"{mp.url}{EC_PATH}{quote(bck.name)}/{quote(name, safe='/')}"


async def _raise_for(r: aiohttp.ClientResponse, what: str) -> None:
    if r.status >= 300:
        text = (await r.text(errors="replace"))[:300]
        raise (ErrBadRequest if 400 <= r.status < 500 else ErrPeer)(f"{what}: {r.status} {text}")


class Peers:
    """One client session per mountpath for its EC traffic."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def put(self, url: str, bck: Bucket, meta: Metafile, size: int, body: AsyncIterator[bytes]) -> None:
        headers = {META_HEADER: meta.to_bytes().decode(), "Content-Length": str(size),
                   "Content-Type": "application/octet-stream"}
        try:
            async with self.session.put(url, params=H.bck_query(bck), data=body, headers=headers) as r:
                await _raise_for(r, f"EC put to {url}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # a holder down: a per-object error
            raise ErrPeer(f"EC put to {url}: {type(exc).__name__}: {exc}") from exc

    async def meta(self, url: str, bck: Bucket, *, verify: bool = False) -> Metafile | None:
        """The holder's metafile, None when it has none or lacks its slice (or cannot be reached: it
        holds nothing usable); `verify`: the holder re-reads the slice and checks its checksum."""
        what = WHAT_VERIFY if verify else WHAT_META
        try:
            async with self.session.get(url, params={**H.bck_query(bck), H.Q_WHAT: what}) as r:
                if r.status != 200:
                    return None
                return Metafile.from_bytes(await r.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, AisError):
            return None

    async def fetch(self, url: str, bck: Bucket, store: MountpathStore) -> tuple[ObjWriter, Metafile]:
        """Stream the holder's slice/replica into a work file of `store`, verified against the
        checksum its metafile records; (finished work file, metafile). The caller commits or aborts it."""
        w = await asyncio.to_thread(store.new_writer)
        try:
            async with self.session.get(url, params=H.bck_query(bck)) as r:  # client errors: the caller tries another holder
                await _raise_for(r, f"EC get from {url}")
                meta = Metafile.from_bytes(r.headers.get(META_HEADER, "").encode())
                cksum = await fill(w, r.content.iter_chunked(READ_CHUNK),
                                   expect_size=-1 if r.content_length is None else r.content_length)
            if meta.slice_cksum and cksum != meta.slice_cksum:
                raise ErrPeer(f"EC slice {meta.slice_id} from {url} is corrupt (checksum {cksum} != {meta.slice_cksum})")
            return w, meta
        except BaseException:
            await asyncio.to_thread(w.abort)
            raise

    async def set_meta(self, url: str, bck: Bucket, meta: Metafile) -> None:
        """The holder's metafile takes `meta`'s object metadata (`Metafile.lom`), if it describes the
        same data. Raises ErrPeer (unreachable) or ErrBadRequest (the holder has other data)."""
        try:
            headers = {META_HEADER: meta.to_bytes().decode()}
            async with self.session.patch(url, params=H.bck_query(bck), headers=headers) as r:
                await _raise_for(r, f"EC metadata to {url}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ErrPeer(f"EC metadata to {url}: {type(exc).__name__}: {exc}") from exc

    async def delete(self, url: str, bck: Bucket) -> None:
        try:
            async with self.session.delete(url, params=H.bck_query(bck)) as r:
                await r.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass  # an unreachable holder keeps a stale slice: a newer generation or a re-encode outdates it
