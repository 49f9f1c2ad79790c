"""Where a blob download's time goes: py-spy on every target and mountpath during one job (or cold GET).

Sets up what `bench_blob.py` does for one source and link (one object, httpsrc or s3rver behind
`ais_ray/testing/linkproxy.py`, `ais-ray up --targets 2 --mountpaths 2`), starts one blob-download job
(`--workers`, `--chunk`; `--workers 0` = a plain cold GET instead) and records every target and
mountpath process with `py-spy record --format raw` (all threads, idle ones left out) while it
runs, for at most `--seconds`. Prints the run's rate, each process's CPU over the window and the
functions holding the most samples (`prof_download.summarize`). Runs `--repeat` jobs back to back
without py-spy first, to compare.

    .venv/bin/python benchmarks/prof_blob.py --source http --rate 20 --workers 16 --chunk 8
    .venv/bin/python benchmarks/prof_blob.py --source s3 --rate 100 --delay 30 --workers 8 --chunk 16

Set PYTHONPATH to a copy of the package to profile that copy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket, Provider, http_bucket
from ais_ray.testing.emulators import HttpSrcServer, S3rver
from ais_ray.testing.linkproxy import LinkProxy

from bench_blob import make_object, read_all
from blobpeers import MIB, Link, Obj, set_http_link
from common import ais_cluster, cpu_seconds
from dlsources import clean_env, s3_env, s5cmd_binary
from prof_download import py_spy, summarize


async def one(endpoint: str, source: str, url: str, obj: Obj, workers: int, chunk: int) -> float:
    """One job (or cold GET when workers == 0), then evict; seconds."""
    if source == "s3":
        bck, name, params = Bucket(obj.bucket, Provider.AWS), obj.key, {"provider": "aws"}
    else:
        bck, _, name = http_bucket(url)
        params = {"provider": "ht", "original_url": url}
    async with AisClient(endpoint) as c:
        t0 = time.perf_counter()
        if workers == 0:
            async with c.session.get(c.url(f"objects/{bck.name}/{quote(name)}"), params=params) as r:
                async for _ in r.content.iter_any():
                    pass
        else:
            xid = await c.blob_download(bck, name, chunk_size=chunk, num_workers=workers)
            while not (await c.xact_status(xid)).get("end_time"):
                await asyncio.sleep(0.1)
        secs = time.perf_counter() - t0
        await c.evict_objects(bck, [name])
        return secs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=("http", "s3"), default="http")
    p.add_argument("--size", type=int, default=1024, help="MiB")
    p.add_argument("--rate", type=int, default=20, help="MiB/s per connection, 0 = unpaced")
    p.add_argument("--delay", type=float, default=0, help="first-byte delay, ms")
    p.add_argument("--workers", type=int, default=16, help="0 = a plain cold GET")
    p.add_argument("--chunk", type=int, default=8, help="MiB")
    p.add_argument("--repeat", type=int, default=2, help="unprofiled runs first")
    p.add_argument("--seconds", type=float, default=30, help="py-spy window at most")
    p.add_argument("--sample-rate", type=int, default=50)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", default="", help="keep the raw stacks here")
    p.add_argument("--no-fsync", action="store_true", help="`ais-ray up --no-fsync`: what fsync costs")
    p.add_argument("--no-profile", action="store_true", help="only the unprofiled runs")
    ns = p.parse_args()
    obj, link = Obj("blob", "obj-00000", ns.size * MIB), Link(ns.rate * MIB, ns.delay / 1000)
    tmp = Path(tempfile.mkdtemp(prefix="prof-blob-"))
    out = Path(ns.out) if ns.out else tmp / "prof"
    out.mkdir(parents=True, exist_ok=True)
    try:
        src = make_object(tmp / "src", obj)
        with S3rver(tmp / "s3rver", buckets=(obj.bucket,)) as s3, \
                LinkProxy(f"127.0.0.1:{s3.port}", tmp / "proxy") as proxy, HttpSrcServer(tmp / "src") as http:
            subprocess.run([s5cmd_binary(), "--endpoint-url", s3.endpoint, "--log", "error", "cp", str(src),
                            f"s3://{obj.bucket}/{obj.key}"], env=clean_env(s3_env(s3.endpoint)), check=True,
                           capture_output=True)
            read_all(tmp / "src")
            read_all(tmp / "s3rver")
            url = f"{http.endpoint}/{obj.bucket}/{obj.key}"
            with ais_cluster(str(tmp / "cluster"), env=s3_env(proxy.endpoint), cwd=str(tmp),
                             fsync=not ns.no_fsync) as cl:
                if ns.source == "http":
                    asyncio.run(one(cl.endpoint, "http", url, obj, 0, 0))  # makes the ht:// bucket
                set_http_link(http, link)
                proxy.set_link(link.rate, link.delay)
                for _ in range(ns.repeat):
                    secs = asyncio.run(one(cl.endpoint, ns.source, url, obj, ns.workers, ns.chunk * MIB))
                    print(f"unprofiled: {secs:.2f} s, {ns.size / secs:.0f} MiB/s (load {os.getloadavg()[0]:.1f})")
                if ns.no_profile:
                    return
                pids = {lb: pid for lb, pid in cl.pids().items() if lb.startswith("t")}
                cpu0 = {lb: cpu_seconds(pid) for lb, pid in pids.items()}
                spies = py_spy(pids, out, ns.sample_rate, ns.seconds)
                time.sleep(1)
                secs = asyncio.run(one(cl.endpoint, ns.source, url, obj, ns.workers, ns.chunk * MIB))
                cpu = {lb: cpu_seconds(pid) - cpu0[lb] for lb, pid in pids.items()}
                for sp in spies.values():
                    sp.send_signal(2)  # SIGINT: py-spy writes what it has
                for sp in spies.values():
                    sp.wait()
        print(f"profiled: {secs:.2f} s, {ns.size / secs:.0f} MiB/s (py-spy shares the 2 cores)")
        print("CPU s during the run: " + ", ".join(f"{lb} {c:.1f}" for lb, c in cpu.items()))
        busiest = max((lb for lb in pids if "/" in lb), key=lambda lb: cpu[lb])
        for title, sel in (("targets", [lb for lb in pids if "/" not in lb]), (f"owning mountpath {busiest}", [busiest])):
            print(f"\n== {title}")
            print(summarize([f for lb in sel if (f := out / f"{lb.replace('/', '-')}.txt").exists()], ns.top))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if ns.out:
            print(f"raw stacks in {out}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
