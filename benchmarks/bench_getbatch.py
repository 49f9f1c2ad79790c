"""Many small objects read by one client: GetBatch (`/v1/ml/moss`, the SDK's `client.batch`) beside
a GET per object (the plain file server, AisClient's direct GET, the SDK's GET), same objects.

An ML job reading a dataset of small objects pays a request per object; GetBatch asks for
hundreds at a time and takes them back as one archive (issue 16's main workload). N objects are
PUT to the cluster and to the plain server, then every round reads all of them each way, the
order rotated; objects/s, and CPU ms per object in the servers (net of their idle rate) and in
this client (which here is also the SDK's threads).

  plain           aiohttp, a GET per object at the plain server, 16 in flight
  ais direct      AisClient: a GET per object at its owning mountpath (client-side HRW), 16 in flight
  sdk get         the SDK: a GET per object through the API (its 307), 16 threads
  sdk batch       the SDK: `client.batch(names, bucket).get()`, `--batch` names a request, 2 requests in flight

    .venv/bin/python benchmarks/bench_getbatch.py                        # 5,000 × 64 KiB, 3 rounds
    .venv/bin/python benchmarks/bench_getbatch.py --count 20000 --size 16384 --batch 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ais_ray.client import AisClient

from clients import PlainClient, SdkDriver, ShortRead
from common import AisCluster, ProcSampler
from get_cpu import Job, rotated_rounds, run, seed

CLIENT = "client"
BATCHES_IN_FLIGHT = 2


class BatchDriver:
    """The SDK's GetBatch, `size` checked per object; batches run on threads (the SDK blocks)."""

    def __init__(self, sdk: SdkDriver, size: int) -> None:
        self.sdk, self.size = sdk, size
        self.pool = ThreadPoolExecutor(BATCHES_IN_FLIGHT)

    def _one(self, names: list[str]) -> int:
        n = 0
        for _, content in self.sdk.client.batch(names, self.sdk.bucket).get():
            if len(content) != self.size:
                raise ShortRead(f"batch: {len(content)} of {self.size} bytes")
            n += 1
        if n != len(names):
            raise ShortRead(f"batch: {n} of {len(names)} objects")
        return n * self.size

    async def get(self, names: list[str]) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._one, names)


async def measure(ns: argparse.Namespace, cluster: AisCluster, ais: AisClient, plain: PlainClient, src: str,
                  plain_pid: int) -> None:
    bck, drv, names = await seed(ns, ais, plain, src, "getbatch")
    pids = cluster.pids()
    mps = [lb for lb in pids if "/mp" in lb]
    size = ns.size
    sdk = SdkDriver(cluster.endpoint, bck.name, ns.concurrency)
    batch = BatchDriver(sdk, size)
    chunks = [names[i:i + ns.batch] for i in range(0, len(names), ns.batch)]
    ways: list[tuple[str, list[Job], int, list[str]]] = [
        ("plain", [lambda n=n: plain.get(n, size) for n in names], ns.concurrency, ["plain"]),
        ("ais direct", [lambda n=n: drv.get_direct(n, size) for n in names], ns.concurrency, mps),
        ("sdk get", [lambda n=n: sdk.get(n, size) for n in names], ns.concurrency, [*mps, "front-door"]),
        ("sdk batch", [lambda c=c: batch.get(c) for c in chunks], BATCHES_IN_FLIGHT, [*mps, "front-door"]),
    ]
    sampler = ProcSampler({**pids, "plain": plain_pid, CLIENT: os.getpid()}, solo={CLIENT}).start()
    try:
        sampler.measure_idle(2.0)
        print(f"{ns.count} × {size >> 10} KiB, batches of {ns.batch}; objects/s; CPU ms per object: servers net of "
              f"idle (user / sys), this client (user / sys)", flush=True)
        await rotated_rounds(ns, sampler, ways, "obj/s")
    finally:
        sampler.stop()
        sdk.close()
        batch.pool.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--size", type=int, default=64 << 10)
    p.add_argument("--batch", type=int, default=500, help="names per GetBatch request")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    ns = p.parse_args()
    root = tempfile.mkdtemp(prefix="bench-getbatch-")
    try:
        asyncio.run(run(ns, root, measure))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
