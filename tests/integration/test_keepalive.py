"""Answers to HEAD say how long their GET would be, so a client keeps its connection: an aiohttp
client (the mountpaths' own traffic, `AisClient`) otherwise cannot tell where such an answer ends
and opens a new connection for every one — a copy job asked "is it there already?" with a HEAD
per object, nearly always answered 404, and paid a TCP connection (and a TIME_WAIT) each time."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import requests

from tests.integration.conftest import LocalCluster


def _heads(urls: list[str], rounds: int = 5) -> tuple[int, list[int]]:
    """HEAD every url `rounds` times over one session: (connections opened, statuses)."""
    opened = 0

    async def on_open(*_: object) -> None:
        nonlocal opened
        opened += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_open)
    statuses: list[int] = []

    async def main() -> None:
        async with aiohttp.ClientSession(trace_configs=[trace]) as s:
            for _ in range(rounds):
                for url in urls:
                    async with s.head(url, allow_redirects=False) as r:
                        statuses.append(r.status)
                        assert "Content-Length" in r.headers, (url, r.status, dict(r.headers))

    asyncio.run(main())
    return opened, statuses


def test_head_answers_keep_the_connection(cluster: LocalCluster) -> None:
    b = f"ka-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{b}", json={"action": "create-bck"}, timeout=60).ok
    assert requests.put(f"{cluster.endpoint}/v1/objects/{b}/there", data=b"12345", timeout=60).ok
    # the mountpath that would hold `missing`: its own 404, as a copy's HEAD gets it
    r = requests.head(f"{cluster.endpoint}/v1/objects/{b}/missing", allow_redirects=False, timeout=60)
    assert r.status_code == 307
    data_url = r.headers["Location"]

    opened, statuses = _heads([data_url])
    assert set(statuses) == {404} and opened == 1

    api = [f"{cluster.endpoint}/v1/buckets/{b}", f"{cluster.endpoint}/v1/buckets/no-{b}",  # through the front door
           f"{cluster.endpoint}/s3/{b}", f"{cluster.endpoint}/s3/{b}/missing"]  # the S3 API's own answers
    opened, statuses = _heads(api)
    assert statuses[:4] == [200, 404, 200, 404] and opened == 1
    assert requests.delete(f"{cluster.endpoint}/v1/buckets/{b}", json={"action": "destroy-bck"}, timeout=60).ok
