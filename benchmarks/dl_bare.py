"""The floor for the downloader's per-object cost: one bare asyncio loop, no Ray, no job.

One process fetches N × 64 KiB files from the bench's local HTTP source (`httpsrc`, its own
process) with one aiohttp session, 16 requests in flight, and stores each through the same
write pipeline a download uses (`fs/write.py::write_stream`, owt download, no per-object
fsync), in batches of 64 with one `syncfs` per batch (the group commit). Prints objects/s and
this process's user / system CPU per object — what `dl_split.py` compares the cluster's
processes with.

    .venv/bin/python benchmarks/dl_bare.py --count 5000 --repeat 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import write_stream
from ais_ray.testing.emulators import HttpSrcServer

from dlsources import KIB, DataSet, generate

IN_FLIGHT = 16
BATCH = 64


async def one_run(url: str, ds: DataSet, store: MountpathStore) -> str:
    sem = asyncio.Semaphore(IN_FLIGHT)
    bck = Bucket("b")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False) as s:
        async def one(i: int) -> None:
            async with sem, s.get(f"{url}/{ds.name}/{ds.obj(i)}") as r:
                r.raise_for_status()
                await write_stream(store, bck, ds.obj(i), r.content.iter_any(), Owt.DOWNLOAD, fsync=False,
                                   expect_size=r.content_length if r.content_length is not None else -1)

        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        for b in range(0, ds.count, BATCH):
            await asyncio.gather(*(one(i) for i in range(b, min(ds.count, b + BATCH))))
            await asyncio.to_thread(store.sync_fs)
        dt, c1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    return rate_line(ds.count, dt, c0, c1)


def rate_line(n: int, dt: float, r0: resource.struct_rusage, r1: resource.struct_rusage) -> str:
    """Objects/s and this process's user / system CPU per object between two `getrusage`s."""
    return (f"{n / dt:,.0f} obj/s; CPU per object: user {(r1.ru_utime - r0.ru_utime) / n * 1e3:.3f} ms, "
            f"sys {(r1.ru_stime - r0.ru_stime) / n * 1e3:.3f} ms")


@contextlib.contextmanager
def small_source(count: int, prefix: str) -> Iterator[tuple[HttpSrcServer, DataSet, Path]]:
    """`count` × 64 KiB files served by `httpsrc` in its own process; a temp dir, removed after."""
    ds = DataSet("small", count, 64 * KIB)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        generate(tmp / "src", (ds,))
        with HttpSrcServer(tmp / "src") as http:
            yield http, ds, tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--repeat", type=int, default=2)
    ns = p.parse_args()
    with small_source(ns.count, "dl-bare-") as (http, ds, tmp):
        for i in range(ns.repeat):
            store = MountpathStore(str(tmp / f"mp{i}"), fsync=True)
            (tmp / f"mp{i}" / "%wk").mkdir(parents=True, exist_ok=True)
            print(asyncio.run(one_run(http.endpoint, ds, store)), flush=True)


if __name__ == "__main__":
    main()
