"""The download's mountpath path alone: N DlWorkers in N Ray actors, fed batches directly, no cluster.

What `dl_split.py` measures in the cluster (2 targets × 2 mountpaths, 10,000 × 64 KiB from
`httpsrc`), minus everything around the mountpaths' own work: no targets walking and hashing
the items, no proxy, Serve or status polls, no Ray calls per batch. Each actor runs
`jobs/dl_worker.py::DlWorker.run` on an `IoLoop` thread (as a mountpath actor does) over its
share, in batches of 128 with 4 in flight (a target's window), into a `MountpathStore` of its own
with group commit. Prints objects/s overall and each actor's user / system CPU per object, per
repeat: the ceiling the cluster's job machinery is measured against.

    .venv/bin/python benchmarks/dl_workers.py                  # 4 actors, 10,000 × 64 KiB, 3 repeats
    .venv/bin/python benchmarks/dl_workers.py --actors 1 --count 5000
    .venv/bin/python benchmarks/dl_workers.py --transport curl aiohttp --repeat 8   # libcurl against aiohttp, alternated
    .venv/bin/python benchmarks/dl_workers.py --trees /tmp/before .   # two copies of the package, alternated

Set PYTHONPATH to a copy of the package to measure that copy; `--trees` runs the actors of each
repeat on each of several copies in turn (a directory holding `ais_ray/`), in one run: nothing
is deleted until the end, so no copy pays for another's deletions (see `bench_download.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import ray

from ais_ray.testing.emulators import HttpSrcServer

from dlsources import KIB, DataSet, generate

BATCH = 128  # as jobs/download.py
IN_FLIGHT = 4  # batches per mountpath, as a target's window (jobs/download.py)


@ray.remote(num_cpus=0)
class Mountpath:
    def __init__(self, root: str, transport: str = "curl") -> None:
        from ais_ray.actors.ioloop import IoLoop
        from ais_ray.fs.store import MountpathStore
        from ais_ray.jobs.dl_source import Sources
        from ais_ray.jobs.dl_worker import DlWorker

        Path(root).mkdir(parents=True, exist_ok=True)
        self.root = root
        self.io = IoLoop(f"io:{root}")
        if transport == "aiohttp":  # the GETs as before d91fbd5 (aiosource.py), the rest as it is
            from aiosource import AioSources

            self.worker = DlWorker(MountpathStore(root, fsync=True), AioSources())  # type: ignore[arg-type]
        else:
            self.worker = DlWorker(MountpathStore(root, fsync=True), Sources())

    def ready(self) -> bool:
        return True

    async def run(self, job_id: str, links: list[tuple[str, str]]) -> tuple[float, float, float]:
        """Download `links` ((name, url)); (seconds, user CPU s, system CPU s) of this process."""
        return await self.io.run(self._run(job_id, links))

    async def _run(self, job_id: str, links: list[tuple[str, str]]) -> tuple[float, float, float]:
        from ais_ray.core.dload import DlItem
        from ais_ray.core.names import Bucket
        from ais_ray.jobs.dl_worker import OK, DlJobCtx

        job = DlJobCtx(job_id, Bucket("b"))
        items = [DlItem(i, name, url) for i, (name, url) in enumerate(links)]
        window = asyncio.Semaphore(IN_FLIGHT)

        async def batch(part: list[DlItem]) -> None:
            async with window:
                bad = [r for r in await self.worker.run(job, part) if r.status != OK]
                if bad:
                    raise RuntimeError(f"{len(bad)} failed, first: {bad[0]}")

        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(batch(items[b:b + BATCH]) for b in range(0, len(items), BATCH)))
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        return time.perf_counter() - t0, c1.ru_utime - c0.ru_utime, c1.ru_stime - c0.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--actors", type=int, default=4, help="mountpaths (a cluster of 2 targets × 2 has 4)")
    p.add_argument("--count", type=int, default=10_000, help="objects of 64 KiB, split among the actors")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--transport", nargs="+", choices=("curl", "aiohttp"), default=["curl"],
                   help="the actors' http(s) GETs: the downloader's own (libcurl) and/or aiohttp (aiosource.py); "
                        "several: rotated, every repeat runs each")
    p.add_argument("--trees", nargs="+", default=[],
                   help="copies of the package (directories holding ais_ray/) for the actors; several: rotated")
    ns = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dl-workers-"))
    here = str(Path(__file__).resolve().parent)
    ray.init(address="local", include_dashboard=False, logging_level="ERROR", num_cpus=os.cpu_count(),
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), here]))}})
    try:
        per = ns.count // ns.actors
        sets = [DataSet(f"s{k}", per, 64 * KIB) for k in range(ns.actors)]
        generate(tmp / "src", sets)
        with HttpSrcServer(tmp / "src") as http:
            ts = [(t, tree) for t in ns.transport for tree in (ns.trees or [""])]
            for rep, (transport, tree) in ((r, t) for r in range(ns.repeat) for t in ts[r % len(ts):] + ts[:r % len(ts)]):
                opts = {}
                if tree:
                    path = os.pathsep.join([str(Path(tree).resolve()), here])
                    opts = {"runtime_env": {"env_vars": {"PYTHONPATH": path}}}
                label = transport + (f" {tree}" if tree else "")
                mps = [Mountpath.options(**opts).remote(str(tmp / f"r{rep}-{transport}-{hash(tree)}" / f"mp{k}"), transport)  # type: ignore[attr-defined]
                       for k in range(ns.actors)]
                links = [[(ds.obj(i), f"{http.endpoint}/{ds.name}/{ds.obj(i)}") for i in range(per)] for ds in sets]
                ray.get([mp.ready.remote() for mp in mps])  # the actors' start is not timed
                t0 = time.perf_counter()
                outs = ray.get([mp.run.remote(f"j{rep}-{transport}", ln) for mp, ln in zip(mps, links)])
                wall = time.perf_counter() - t0
                user, sys_ = sum(o[1] for o in outs), sum(o[2] for o in outs)
                n = per * ns.actors
                print(f"repeat {rep + 1} {label}: {n / wall:,.0f} obj/s ({ns.actors} actors, {n:,} objects, {wall:.2f} s); "
                      f"CPU per object user {user / n * 1e3:.2f} ms, sys {sys_ / n * 1e3:.2f} ms "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
                for mp in mps:
                    ray.kill(mp)
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
