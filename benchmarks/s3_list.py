"""Listing a bucket through the S3 API, page by page: seconds per page at each depth of the bucket.

A bucket of `--count` small objects (PUT through AisClient), then `--rounds` times a boto3
`list_objects_v2` paginator walks the whole of it, `--page-size` keys a page (S3's default 1,000),
and `aws`-style clients see what this prints: the seconds of the whole walk, and of its first and
last pages. With `--base DIR` a second cluster runs a copy of the package in DIR (`git archive
<rev> ais_ray | tar -x -C DIR`) beside this tree's, each round alternating between them.

    .venv/bin/python benchmarks/s3_list.py                        # 20,000 objects, pages of 1,000, 3 rounds
    .venv/bin/python benchmarks/s3_list.py --base /tmp/base       # the same, before / after
    .venv/bin/python benchmarks/s3_list.py --delimiter /          # the top level: 10 common prefixes
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time

import boto3
from botocore.config import Config

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket

from clients import timed_pool
from common import AisCluster, side_by_side, spread

BUCKET = "s3list"


async def fill(cluster: AisCluster, count: int) -> None:
    async with AisClient(cluster.endpoint) as ais:
        bck = Bucket(BUCKET)
        await ais.create_bucket(bck)

        async def put(i: int) -> int:
            await ais.put_bytes(bck, f"d{i % 10}/obj-{i:07d}", b"x")
            return 1

        await timed_pool([lambda i=i: put(i) for i in range(count)], 32)


def walk(cluster: AisCluster, page_size: int, delimiter: str) -> tuple[float, list[float], int]:
    """The whole listing's seconds, each page's, and the keys (and common prefixes) listed."""
    s3 = boto3.client("s3", endpoint_url=f"{cluster.endpoint}/s3", aws_access_key_id="x", aws_secret_access_key="x",
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    pages: list[float] = []
    keys = 0
    t0 = last = time.perf_counter()
    more = {"Delimiter": delimiter} if delimiter else {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": page_size},
                                                             **more):
        keys += len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
        now = time.perf_counter()
        pages.append(now - last)
        last = now
    return time.perf_counter() - t0, pages, keys


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=20_000)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--delimiter", default="", help='e.g. "/": the top level only (the objects are in 10 directories)')
    p.add_argument("--base", default="", help="a dir holding the package to compare with")
    ns = p.parse_args()
    root = tempfile.mkdtemp(prefix="s3-list-")
    try:
        with side_by_side(root, ns.base) as clusters:
            for c in clusters.values():
                asyncio.run(fill(c, ns.count))
            runs: dict[str, list[tuple[float, list[float]]]] = {lb: [] for lb in clusters}
            labels = list(clusters)
            print(f"{ns.count:,} objects, pages of {ns.page_size:,} through boto3's list_objects_v2 paginator"
                  + (f', delimiter "{ns.delimiter}"' if ns.delimiter else ""))
            for r in range(ns.rounds):
                for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                    secs, pages, keys = walk(clusters[label], ns.page_size, ns.delimiter)
                    want = min(ns.count, 10) if ns.delimiter else ns.count
                    if keys != want:
                        raise SystemExit(f"{label}: listed {keys} keys and prefixes, expected {want}")
                    runs[label].append((secs, pages))
                    print(f"round {r} {label:5s} {secs:6.2f} s  first page {pages[0]:.3f} s  last page {pages[-1]:.3f} s",
                          flush=True)
        print("\n| tree | whole listing, s (median, min–max) | first page, s | last page, s |")
        print("|---|---|---|---|")
        for label, rows in runs.items():
            print(f"| {label} | {spread([r[0] for r in rows])} | {statistics.median(r[1][0] for r in rows):.3f} | "
                  f"{statistics.median(r[1][-1] for r in rows):.3f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
