"""What one Serve replica knows: handles to the proxy and targets, and cached Smap / BMD.

Each replica is its own process; the module-level `STATE` is set once by the deployment's
constructor. Metadata is refreshed at most once a second on the request path (and at once
after a miss), so redirects cost no Ray call in the common case.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray

from ais_ray.core.nodes import PROXY_NAME
from ais_ray.actors.target import NAMESPACE, target_actor_name
from ais_ray.core.bmd import BMD, BucketProps
from ais_ray.core.errors import ErrBckNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap

REFRESH_INTERVAL = 1.0


class ApiState:
    def __init__(self) -> None:
        self.proxy = ray.get_actor(PROXY_NAME, namespace=NAMESPACE)
        self._smap: Smap | None = None
        self._bmd: BMD | None = None
        self._fetched = 0.0
        self._targets: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._smap is not None and time.monotonic() - self._fetched < REFRESH_INTERVAL

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read Smap / BMD if older than `REFRESH_INTERVAL` (`force`: now, for read-your-writes).
        Requests that find the cache stale together wait for one fetch, not one each in turn."""
        if not force and self._fresh():
            return
        async with self._lock:
            if not force and self._fresh():  # another request fetched while this one waited
                return
            smap_v = self._smap.version if self._smap else -1
            bmd_v = self._bmd.version if self._bmd else -1
            smap, bmd = await self.proxy.get_meta.remote(smap_v, bmd_v)
            self._smap = smap or self._smap
            self._bmd = bmd or self._bmd
            self._fetched = time.monotonic()

    def adopt(self, bmd: BMD) -> None:
        """Take a BMD just returned by the proxy (our own change is visible at once)."""
        if self._bmd is None or bmd.version >= self._bmd.version:
            self._bmd = bmd

    async def smap(self) -> Smap:
        await self.refresh()
        assert self._smap is not None
        return self._smap

    async def bmd(self) -> BMD:
        await self.refresh()
        assert self._bmd is not None
        return self._bmd

    async def bucket_props(self, bck: Bucket, *, origin: str = "") -> BucketProps:
        """Props of `bck`; a miss re-reads the BMD once, and adds a remote bucket on first access.

        Raises:
            ErrBckNotFound: an ais bucket that does not exist, or a remote one the remote lacks.
        """
        props = (await self.bmd()).get(bck)
        if props is None:
            await self.refresh(force=True)
            props = (await self.bmd()).get(bck)
        if props is None and bck.is_remote:
            self.adopt(await self.proxy.add_remote_bucket.remote(bck, origin))
            props = (await self.bmd()).get(bck)
        if props is None:
            raise ErrBckNotFound(bck)
        return props

    def target(self, tid: str) -> Any:
        h = self._targets.get(tid)
        if h is None:
            h = self._targets[tid] = ray.get_actor(target_actor_name(tid), namespace=NAMESPACE)
        return h


_state: ApiState | None = None


def init_state() -> ApiState:
    global _state
    _state = ApiState()
    return _state


def state() -> ApiState:
    assert _state is not None, "ApiState not initialised (the Serve deployment sets it)"
    return _state
