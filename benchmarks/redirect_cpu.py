"""What one 307 costs the front door: two package trees side by side, CPU per redirect.

`get_cpu.py` gives a GET's CPU on each side, but its objects' bytes and the mountpaths swing
the servers' figures by more than the front door's whole share. This one asks the API port for
redirects only: `--count` GETs of small names (the 307 is not followed) with `--concurrency` in
flight, from one aiohttp session, and reads the front door process's CPU from /proc (user and
system apart, net of its idle rate). With `--base DIR` a second cluster runs a copy of the
package in DIR (`git archive <rev> ais_ray | tar -x -C DIR`) beside this tree's, and every
round alternates between them, so both see the same machine.

    .venv/bin/python benchmarks/redirect_cpu.py                          # 20,000 307s, 4 rounds
    .venv/bin/python benchmarks/redirect_cpu.py --base /tmp/base          # the same, before / after
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time

import aiohttp

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket

from common import AisCluster, ProcSampler, side_by_side, spread

CLIENT = "client"


async def redirects(session: aiohttp.ClientSession, url: str, names: list[str], concurrency: int) -> float:
    """GET every name without following its 307; the seconds it took."""
    it = iter(names)

    async def worker() -> None:
        for name in it:
            async with session.get(f"{url}/v1/objects/rc/{name}", params={"provider": "ais"},
                                   allow_redirects=False) as r:
                await r.read()
                if r.status != 307:
                    raise RuntimeError(f"expected a 307 for {name}, got HTTP {r.status}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0


async def prepare(cluster: AisCluster) -> None:
    async with AisClient(cluster.endpoint) as ais:
        await ais.create_bucket(Bucket("rc"))


async def measure(ns: argparse.Namespace, clusters: dict[str, AisCluster]) -> None:
    for c in clusters.values():
        await prepare(c)
    pids = {label: c.pids()["front-door"] for label, c in clusters.items()}
    sampler = ProcSampler({**pids, CLIENT: os.getpid()}, solo={CLIENT}).start()
    names = [f"o/{i:06d}" for i in range(ns.count)]
    per: dict[str, list[tuple[float, float, float, float]]] = {lb: [] for lb in clusters}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for c in clusters.values():  # warm: connections, the state cache, the bucket lookup
                await redirects(session, c.endpoint, names[:500], ns.concurrency)
            sampler.measure_idle(2.0)
            print(f"{ns.count:,} GETs answered 307 (not followed), {ns.concurrency} in flight; the front door's CPU "
                  "in µs per 307, net of idle (user / sys), and this client's", flush=True)
            labels = list(clusters)
            for r in range(ns.rounds):
                for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                    with sampler.phase(f"{label} {r}", [label, CLIENT]) as uses:
                        secs = await redirects(session, clusters[label].endpoint, names, ns.concurrency)
                    fd, cl = uses[label], uses[CLIENT]
                    k = 1e6 / ns.count
                    row = (ns.count / secs, fd.cpu_net_s * k, cl.cpu_user_s * k + cl.cpu_sys_s * k, fd.cpu_user_s * k)
                    per[label].append(row)
                    print(f"round {r} {label:5s} {row[0]:7,.0f} 307/s  front door {row[1]:5.1f} "
                          f"({fd.cpu_user_s * k:5.1f} / {fd.cpu_sys_s * k:5.1f})  client {row[2]:5.1f}", flush=True)
    finally:
        sampler.stop()
    print("\n| tree | 307/s (median) | front door µs per 307 (median, min–max) | client µs per 307 |")
    print("|---|---|---|---|")
    for label, rows in per.items():
        print(f"| {label} | {statistics.median(r[0] for r in rows):,.0f} | {spread([r[1] for r in rows], '.0f')} | "
              f"{statistics.median(r[2] for r in rows):.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--base", default="", help="a dir holding the package to compare with")
    ns = p.parse_args()
    root = tempfile.mkdtemp(prefix="redirect-cpu-")
    try:
        with side_by_side(root, ns.base) as clusters:
            asyncio.run(measure(ns, clusters))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
