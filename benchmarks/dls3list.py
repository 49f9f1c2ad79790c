"""Listing an S3 bucket, client side alone: `S3Backend.list_objects` page by page over N objects in
s3rver (`dlsources.S3rverLegacyDes`: pages past the first need it), with botocore's default timestamp parser (dateutil) and with the product's
(`backends/s3.timestamp`), rotated rounds; CPU of this process per 1,000 listed entries (what a
target spends per page of a backend download job, a prefix prefetch or `ais ls s3://...`).

    .venv/bin/python benchmarks/dls3list.py                       # 5,000 objects, 4 rounds
    .venv/bin/python benchmarks/dls3list.py --count 10000 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from botocore.utils import parse_timestamp

from ais_ray.backends import new_backend
from ais_ray.backends.pager import pages
from ais_ray.backends.s3 import S3Backend, timestamp
from ais_ray.core.names import Provider

from dlsources import S3rverLegacyDes, seeded

BUCKET = "ais-dls3list"


async def list_all(b: S3Backend) -> tuple[int, float, float]:
    """(entries, CPU s of this process, wall s) for one whole listing."""
    n, c0, t0 = 0, time.process_time(), time.perf_counter()
    async for page in pages(lambda token: b.list_objects(BUCKET, token=token)):
        n += len(page.entries)
    return n, time.process_time() - c0, time.perf_counter() - t0


async def run(cfg: dict[str, str], rounds: int) -> None:
    b = new_backend(Provider.AWS, cfg)
    assert isinstance(b, S3Backend)
    try:
        await b.list_objects(BUCKET, page_size=1)  # the client, its session and models, once
        # the factory the client's endpoint makes each reply's parser with: its timestamp parser swapped per round
        factory = (await b._s3())._endpoint._response_parser_factory  # noqa: SLF001
        print("| round | timestamps parsed by | entries | CPU ms per 1,000 entries | wall s |\n|---|---|---|---|---|")
        ways = [("botocore default (dateutil)", parse_timestamp), ("s3.timestamp (product)", timestamp)]
        for r in range(rounds):
            for name, fn in ways[r % 2:] + ways[:r % 2]:
                factory.set_parser_defaults(timestamp_parser=fn)
                n, cpu, wall = await list_all(b)
                print(f"| {r + 1} | {name} | {n:,} | {1000 * cpu / max(n, 1) * 1000:.1f} | {wall:.2f} |")
    finally:
        await b.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    with S3rverLegacyDes(buckets=(BUCKET,)) as s3:
        cfg = s3.config()
        seeded(cfg, BUCKET, [f"dir/o{i:06}" for i in range(args.count)], b"x")
        asyncio.run(run(cfg, args.rounds))
    print(f"1-min load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
