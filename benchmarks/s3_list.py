"""Listing a bucket through the S3 API, page by page: seconds per page at each depth of the bucket.

A bucket of `--count` small objects (PUT through AisClient), then `--rounds` times a boto3
`list_objects_v2` paginator walks the whole of it, `--page-size` keys a page (S3's default 1,000),
and `aws`-style clients see what this prints: the seconds of the whole walk, and of its first and
last pages. With `--base DIR` a second cluster runs a copy of the package in DIR (`git archive
<rev> ais_ray | tar -x -C DIR`) beside this tree's, each round alternating between them. With
`--remote`, the bucket is a remote one, `s3://` in s3rver (its objects not cached): the gateway
lists the remote page by page, and s3rver's own paginated walk of it is the peer row.

    .venv/bin/python benchmarks/s3_list.py                        # 20,000 objects, pages of 1,000, 3 rounds
    .venv/bin/python benchmarks/s3_list.py --base /tmp/base       # the same, before / after
    .venv/bin/python benchmarks/s3_list.py --delimiter /          # the top level: 10 common prefixes
    .venv/bin/python benchmarks/s3_list.py --remote --count 10000 --base /tmp/base
    .venv/bin/python benchmarks/s3_list.py --remote --v1 --count 10000 --base /tmp/base   # markers, as rclone
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack

import boto3
from botocore.config import Config

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket

from clients import timed_pool
from common import AisCluster, side_by_side, spread
from dlsources import S3rverLegacyDes, seeded

BUCKET = "s3list"


async def fill(cluster: AisCluster, count: int) -> None:
    async with AisClient(cluster.endpoint) as ais:
        bck = Bucket(BUCKET)
        await ais.create_bucket(bck)

        async def put(name: str) -> int:
            await ais.put_bytes(bck, name, b"x")
            return 1

        await timed_pool([lambda name=name: put(name) for name in keys(count)], 32)


def keys(count: int) -> list[str]:
    return [f"d{i % 10}/obj-{i:07d}" for i in range(count)]


def walk(endpoint: str, page_size: int, delimiter: str, key: str = "x", v1: bool = False) -> tuple[float, list[float], int]:
    """The whole listing's seconds, each page's, and the keys (and common prefixes) listed."""
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=key,
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    pages: list[float] = []
    keys = 0
    t0 = last = time.perf_counter()
    more = {"Delimiter": delimiter} if delimiter else {}
    for page in s3.get_paginator("list_objects" if v1 else "list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": page_size},
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
    p.add_argument("--remote", action="store_true", help="list s3://BUCKET, in s3rver, not cached here")
    p.add_argument("--v1", action="store_true", help="ListObjects (V1, markers: rclone's default) instead of V2")
    p.add_argument("--base", default="", help="a dir holding the package to compare with")
    ns = p.parse_args()
    root = tempfile.mkdtemp(prefix="s3-list-")
    try:
        with ExitStack() as stack:
            env: dict[str, str] = {}
            peer = ""
            if ns.remote:
                s3rver = stack.enter_context(S3rverLegacyDes(buckets=(BUCKET,)))
                seeded(s3rver.config(), BUCKET, keys(ns.count), b"x")
                env, peer = s3rver.env(), s3rver.endpoint
            clusters = stack.enter_context(side_by_side(root, ns.base, env=env))
            for c in clusters.values():
                if ns.remote:  # the cluster knows s3://BUCKET from then on (one object cached)
                    c.cli("get", f"s3://{BUCKET}/{keys(1)[0]}", "-")
                else:
                    asyncio.run(fill(c, ns.count))
            ends = {label: f"{c.endpoint}/s3" for label, c in clusters.items()} | ({"s3rver": peer} if peer else {})
            runs: dict[str, list[tuple[float, list[float]]]] = {lb: [] for lb in ends}
            labels = list(ends)
            print(f"{ns.count:,} objects{' in s3rver (s3://, not cached)' if ns.remote else ''}, pages of "
                  f"{ns.page_size:,} through boto3's {'list_objects' if ns.v1 else 'list_objects_v2'} paginator"
                  + (f', delimiter "{ns.delimiter}"' if ns.delimiter else ""))
            for r in range(ns.rounds):
                for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                    key = s3rver.access_key if label == "s3rver" else "x"
                    secs, pages, n = walk(ends[label], ns.page_size, ns.delimiter, key, ns.v1)
                    want = min(ns.count, 10) if ns.delimiter else ns.count
                    if n != want:
                        raise SystemExit(f"{label}: listed {n} keys and prefixes, expected {want}")
                    runs[label].append((secs, pages))
                    print(f"round {r} {label:6s} {secs:6.2f} s  first page {pages[0]:.3f} s  last page {pages[-1]:.3f} s",
                          flush=True)
        print("\n| listed by | whole listing, s (median, min–max) | first page, s | last page, s |")
        print("|---|---|---|---|")
        for label, rows in runs.items():
            print(f"| {label} | {spread([r[0] for r in rows])} | {statistics.median(r[1][0] for r in rows):.3f} | "
                  f"{statistics.median(r[1][-1] for r in rows):.3f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
