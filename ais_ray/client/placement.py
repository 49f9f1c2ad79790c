"""Client-side placement: the cluster map and bucket list, cached, to address objects directly.

The same HRW the cluster uses (`core/smap.py`), computed by the client, as the official SDK
does for `get_reader(direct=True)`: object requests skip the API's 307 hop, which costs more
than the transfer itself for small objects. A stale map is never trusted twice: any failure
against a direct URL invalidates it, and the caller retries through the API.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import quote

from ais_ray.client.http import Http
from ais_ray.core.bmd import BMD
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap

MAX_AGE = 30.0


class Placement:
    def __init__(self) -> None:
        self.smap: Smap | None = None
        self.bmd: BMD | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self.smap, self.bmd = None, None

    async def _refresh(self, c: Http) -> None:
        async with self._lock:
            if self.smap is not None and time.monotonic() - self._fetched < MAX_AGE:
                return
            smap_raw = (await c.request("GET", "daemon", params={"what": "smap"}))[2]
            bmd_raw = (await c.request("GET", "daemon", params={"what": "bmd"}))[2]
            self.smap, self.bmd = Smap.from_wire(json.loads(smap_raw)), BMD.from_wire(json.loads(bmd_raw))
            self._fetched = time.monotonic()

    async def url(self, c: Http, bck: Bucket, name: str) -> str | None:
        """The owning mountpath's object URL, or None when only the API can say (unknown bucket)."""
        if self.smap is None or time.monotonic() - self._fetched > MAX_AGE:
            await self._refresh(c)
        if self.smap is None or self.bmd is None or bck not in self.bmd or not self.smap.targets:
            return None
        _, mp = self.smap.locate(bck.uname(name))
        return f"{mp.url}/v1/objects/{bck.name}/{quote(name)}" if mp.url else None
