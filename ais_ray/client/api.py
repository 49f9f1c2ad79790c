"""A small async Python client of the ais-ray REST API (used by the CLI, handy in scripts).

For everything the official `aistore` SDK covers, that SDK works against ais-ray too;
this client adds what it lacks (the downloader) and streams files both ways with progress.

    async with AisClient("http://127.0.0.1:8080") as c:
        await c.create_bucket(Bucket("photos"))
        await c.put_file(Bucket("photos"), "a/1.jpg", "./1.jpg")
"""

from __future__ import annotations

import json
from typing import Any

from ais_ray.client.buckets import BucketsApi
from ais_ray.client.cluster import ClusterApi
from ais_ray.client.download import DownloadApi
from ais_ray.client.etl import EtlApi
from ais_ray.client.jobs import JobsApi
from ais_ray.client.objects import ObjectsApi
from ais_ray.client.placement import Placement


class AisClient(BucketsApi, ObjectsApi, JobsApi, ClusterApi, EtlApi):
    """The whole client: one session (`Http`), one small class per resource, joined here."""

    def __init__(self, endpoint: str, *, timeout: float = 600.0, direct: bool = True, token: str | None = None,
                 middlewares: tuple[Any, ...] = ()) -> None:
        """`direct`: compute object placement client-side from the cached cluster map (as the SDK's
        `direct=True` does) and talk to the owning mountpath without the API's 307 hop."""
        super().__init__(endpoint, timeout=timeout, token=token, middlewares=middlewares)
        self.direct = direct
        self._placement = Placement()

    async def __aenter__(self) -> AisClient:
        await super().__aenter__()
        return self

    # ---- cluster ---------------------------------------------------------------------------
    async def smap(self) -> dict[str, Any]:
        return json.loads((await self.request("GET", "daemon", params={"what": "smap"}))[2])

    async def cluster_stats(self) -> dict[str, Any]:
        return json.loads((await self.request("GET", "daemon", params={"what": "stats"}))[2])

    @property
    def download(self) -> DownloadApi:
        return DownloadApi(self)

    @property
    def placement(self) -> Placement:
        return self._placement
