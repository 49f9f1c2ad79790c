"""The downloader's http(s) GET two ways, alone: CPU per 64 KiB object with no disk, no Ray, no job.

One process reads N × 64 KiB files from the bench's local HTTP source (`httpsrc`, its own
process), 64 in flight, each body read to the end and dropped, through:
- `curl`: the downloader's own `jobs/dl_source.Sources` (libcurl's multi interface driven by this
  loop, `backends/curlhttp.py`);
- `aiohttp`: the same on aiohttp, as the downloader did it until d91fbd5 (`aiosource.py`).
Rounds alternate; each line gives objects/s and this process's user / system CPU per object
(all threads). Total CPU per object is what decides how much of a 2-core machine a download leaves
to its source and its disk.

    .venv/bin/python benchmarks/dl_transports.py --count 3000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from typing import Any

from dl_bare import rate_line, small_source

IN_FLIGHT = 64


def make(kind: str) -> Any:
    if kind == "aiohttp":
        from aiosource import AioSources

        return AioSources()
    from ais_ray.jobs.dl_source import Sources

    return Sources()


async def one_run(kind: str, links: list[str]) -> str:
    src = make(kind)
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def one(link: str) -> None:
        async with sem, src.open(link, {}, 0) as (meta, body):
            got = 0
            async for chunk in body:
                got += len(chunk)
            if got != 64 << 10:
                raise RuntimeError(f"{link}: {got} bytes")

    try:
        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(one(link) for link in links))
        dt, c1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await src.aclose()
    total = (c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime) / len(links) * 1e3
    return f"{rate_line(len(links), dt, c0, c1)}, total {total:.3f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=3)
    ns = p.parse_args()
    kinds = ["curl", "aiohttp"]
    with small_source(ns.count, "dl-transports-") as (http, ds, _):
        links = [f"{http.endpoint}/{ds.name}/{ds.obj(i)}" for i in range(ds.count)]
        asyncio.run(one_run("curl", links[:200]))  # the source's page cache, warm
        for r in range(ns.rounds):
            for kind in kinds[r % 2:] + kinds[:r % 2]:
                print(f"round {r + 1} {kind:8}: {asyncio.run(one_run(kind, links))}", flush=True)


if __name__ == "__main__":
    main()
