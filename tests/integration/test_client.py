"""`ais_ray.client.AisClient`: direct placement, and falling back to the API when the map is stale."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from ais_ray.client import AisClient
from ais_ray.core.errors import ErrBckNotFound, ErrObjNotFound
from ais_ray.core.names import Bucket
from tests.integration.conftest import LocalCluster


def test_direct_placement_and_stale_map(cluster: LocalCluster) -> None:
    async def go() -> None:
        bck = Bucket(f"c-{uuid.uuid4().hex[:8]}")
        async with AisClient(cluster.endpoint) as a, AisClient(cluster.endpoint, direct=False) as b:
            await a.create_bucket(bck)
            data = os.urandom(100_000)
            await a.put_bytes(bck, "x/1", data)
            assert (await a.placement.url(a, bck, "x/1") or "").startswith("http://127.0.0.1:")  # direct
            assert await b.get_bytes(bck, "x/1") == data  # the API path sees the same object
            assert await a.get_bytes(bck, "x/1", byte_range="bytes=10-19") == data[10:20]
            # b destroys and recreates the bucket: a's cached map is stale but its answers are not
            await b.destroy_bucket(bck)
            with pytest.raises(ErrBckNotFound):
                await a.get_bytes(bck, "x/1")
            await b.create_bucket(bck)
            with pytest.raises(ErrObjNotFound):
                await a.head_object(bck, "x/1")
            await a.put_bytes(bck, "x/2", b"again")
            assert await b.get_bytes(bck, "x/2") == b"again"
            await a.destroy_bucket(bck)

    asyncio.run(go())
