"""The S3 GET alone, in one process: aiobotocore's `get_object`, the signed GET sent with aiohttp
(how `backends/s3get.py` sent it until it moved onto libcurl: the stand-in), and the product's
signed GET on libcurl (`S3Backend.open`); N × 64 KiB from s3rver, 16 in flight, rotated rounds;
user/sys CPU of this process per GET (s3rver runs in its own process).

    .venv/bin/python benchmarks/dls3get.py            # 500 objects, 3 rounds
    .venv/bin/python benchmarks/dls3get.py --count 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from yarl import URL

from ais_ray.backends import new_backend
from ais_ray.backends.aio import iter_body, send, session_kwargs
from ais_ray.backends.base import RemoteObj
from ais_ray.backends.errors import http_errors, s3_errors, status_error
from ais_ray.backends.s3 import S3Backend, _described
from ais_ray.backends.s3get import described
from ais_ray.core.names import Bucket, Provider
from ais_ray.testing.emulators import S3rver

from dlsources import seeded

BUCKET = "ais-dls3get"


async def measure(fn: Callable[[int], Awaitable[None]], count: int, conc: int) -> tuple[float, float, float]:
    """(GETs/s, user ms per GET, sys ms per GET)."""
    sem = asyncio.Semaphore(conc)

    async def one(i: int) -> None:
        async with sem:
            await fn(i)

    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    r1, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    return count / t, 1000 * (r1.ru_utime - r0.ru_utime) / count, 1000 * (r1.ru_stime - r0.ru_stime) / count


async def run(cfg: dict[str, Any], count: int, rounds: int, conc: int) -> None:
    b = new_backend(Provider.AWS, cfg)
    assert isinstance(b, S3Backend)

    async def signed(i: int) -> None:
        async with b.open(BUCKET, f"o{i}") as (_, body):
            async for _ in body:
                pass

    gets = await b._signed()  # noqa: SLF001 - the URL and headers the product signs
    session = aiohttp.ClientSession(**session_kwargs(connect_timeout=60, read_timeout=60, max_connections=conc))

    @contextlib.asynccontextmanager
    async def aio_open(bucket: str, name: str) -> AsyncIterator[tuple[RemoteObj, AsyncIterator[bytes]]]:
        """`S3Backend.open` as it was on aiohttp (up to 801091d), layer for layer."""
        bck, endpoint = Bucket(bucket, Provider.AWS), b.endpoint
        with s3_errors(bck, name, endpoint):
            await gets.route(bucket)
        with http_errors(bck, name, endpoint):
            url, headers = await gets.signed(bucket, name)
            resp = await send(session, "GET", URL(url, encoded=True), retries=b.retries, headers=headers)
        async with resp:
            if resp.status >= 400:
                raise status_error(resp.status, bck, name, endpoint=endpoint)
            obj = _described(name, described(resp.headers))

            async def chunks() -> AsyncIterator[bytes]:
                with http_errors(bck, name, endpoint):
                    async for chunk in iter_body(resp):
                        yield chunk

            yield obj, chunks()

    async def signed_aiohttp(i: int) -> None:
        async with aio_open(BUCKET, f"o{i}") as (_, body):
            async for _ in body:
                pass

    async def boto(i: int) -> None:
        out = await b._call("get_object", Bucket=BUCKET, Key=f"o{i}")  # noqa: SLF001 - the path it replaced
        async with out["Body"] as body:
            while await body.read(1 << 20):
                pass

    await signed(0)
    await signed_aiohttp(0)
    await boto(0)
    t0 = time.process_time()
    for i in range(count):  # botocore's signer alone, as every GET above pays it
        await gets.signed(BUCKET, f"o{i}")
    print(f"signing alone (SignedGet.signed, {count} calls): {1000 * (time.process_time() - t0) / count:.3f} ms CPU each\n")
    print("| round | GET | GETs/s | user ms per GET | sys ms per GET |\n|---|---|---|---|---|")
    try:
        for r in range(rounds):
            ways = [("aiobotocore get_object", boto), ("signed + aiohttp (stand-in)", signed_aiohttp),
                    ("signed + libcurl (product)", signed)]
            for name, fn in ways[r % 3:] + ways[:r % 3]:
                rate, user, sys_ = await measure(fn, count, conc)
                print(f"| {r + 1} | {name} | {rate:,.0f} | {user:.3f} | {sys_:.3f} |")
    finally:
        await session.close()
        await b.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    with S3rver(buckets=(BUCKET,)) as s3:
        cfg = s3.config()
        seeded(cfg, BUCKET, [f"o{i}" for i in range(args.count)], os.urandom(64 << 10))
        asyncio.run(run(cfg, args.count, args.rounds, args.concurrency))
    print(f"1-min load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
