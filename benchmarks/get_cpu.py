"""CPU per GET on each side: ais-ray's data servers beside the plain file server, same objects, same client.

`bench_objects.py` gives the throughput ratios; on 2 cores shared by client and servers those
swing ±10–20 % run to run. This one puts the cost of one GET where it is paid: the server
processes (net of their idle rate, user and system apart) and this client process. N objects
are PUT to both, then every round GETs all of them through each way, the order rotated:

  aiohttp rows: plain (the plain server), direct (AisClient's own GET: the owning mountpath's
                URL, one request), api (through the API port: the front door's 307, then the
                mountpath)
  --sdk rows:   plain (requests) (the plain server through `requests` on threads, the SDK's
                own stack), sdk direct (`get_reader(direct=True)`: the owning target's URL,
                one request), requests direct (bare `requests` at that same target URL)
  --put rows:   PUTs of every object again instead of GETs: plain PUT (aiohttp), ais PUT
                (AisClient: the API's 307 with `Expect: 100-continue`, the body sent once to the
                mountpath), plain PUT (requests), sdk PUT (the SDK's writer: relayed by the front
                door); every ais-ray process counts as the server

The last two differ only in the client: the SDK's own Python per GET.

    .venv/bin/python benchmarks/get_cpu.py                # 1,000 × 1 MiB, 3 rounds, ~1 min
    .venv/bin/python benchmarks/get_cpu.py --sdk --rounds 4
    .venv/bin/python benchmarks/get_cpu.py --put          # CPU per PUT, the same way
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket

from bench_objects import plain_server
from clients import AisClientDriver, PlainClient, PlainRequests, SdkDriver, TargetRequests, timed_pool
from common import AisCluster, ProcSampler, ais_cluster

CLIENT = "client"
Way = tuple[str, Callable[[str], Awaitable[int]], list[str]]  # label, GET of one name, server processes


async def seed(ns: argparse.Namespace, ais: AisClient, plain: PlainClient, src: str,
               bucket: str) -> tuple[Bucket, AisClientDriver, list[str]]:
    """`ns.count` copies of `src` PUT to a new bucket of the cluster and to the plain server."""
    bck = Bucket(bucket)
    await ais.create_bucket(bck)
    drv = AisClientDriver(ais, bck)
    names = [f"o/{i:06d}" for i in range(ns.count)]
    await timed_pool([lambda n=n: drv.put_file(n, src) for n in names], ns.concurrency)
    await timed_pool([lambda n=n: plain.put_file(n, src) for n in names], ns.concurrency)
    return bck, drv, names


async def measure(ns: argparse.Namespace, cluster: AisCluster, ais: AisClient, plain: PlainClient, src: str,
                  plain_pid: int) -> None:
    bck, drv, names = await seed(ns, ais, plain, src, "get-cpu")
    pids = cluster.pids()
    mps = [lb for lb in pids if "/mp" in lb]
    targets = [lb for lb in pids if lb.startswith("t") and "/" not in lb]
    size = ns.size
    op = "PUT" if ns.put else "GET"
    if ns.put:
        every = list(pids)
        sdk = SdkDriver(cluster.endpoint, bck.name, ns.concurrency)
        preq, treq = PlainRequests(plain.url, ns.concurrency), None
        ways = [("plain PUT", lambda n: plain.put_file(n, src), ["plain"]),
                ("ais PUT", lambda n: drv.put_file(n, src), every),
                ("plain PUT (req)", lambda n: preq.put_file(n, src), ["plain"]),
                ("sdk PUT", lambda n: sdk.put(n, src), every)]
    elif ns.sdk:
        sdk = SdkDriver(cluster.endpoint, bck.name, ns.concurrency)
        preq, treq = PlainRequests(plain.url, ns.concurrency), TargetRequests(cluster.endpoint, bck.name, ns.concurrency)
        ways: list[Way] = [("plain (requests)", lambda n: preq.get(n, size), ["plain"]),
                           ("sdk direct", lambda n: sdk.get(n, size, direct=True), targets),
                           ("requests direct", lambda n: treq.get(n, size), targets)]
    else:
        ways = [("plain", lambda n: plain.get(n, size), ["plain"]),
                ("direct", lambda n: drv.get_direct(n, size), mps),
                ("api", lambda n: drv.get(n, size), [*mps, "front-door"])]
    sampler = ProcSampler({**pids, "plain": plain_pid, CLIENT: os.getpid()}, solo={CLIENT}).start()
    try:
        sampler.measure_idle(2.0)
        print(f"{ns.count} × {size >> 10} KiB, {ns.concurrency} in flight; CPU ms per {op}, servers net of idle "
              f"(user / sys), and this client", flush=True)
        await rotated_rounds(ns, sampler, [(label, [lambda n=n, g=get: g(n) for n in names], ns.concurrency, procs)
                                           for label, get, procs in ways], f"{op}/s")
    finally:
        sampler.stop()
        if ns.sdk or ns.put:
            sdk.close()
            preq.close()
            if treq is not None:
                treq.close()


Job = Callable[[], Awaitable[int]]


async def rotated_rounds(ns: argparse.Namespace, sampler: ProcSampler, ways: list[tuple[str, list[Job], int, list[str]]],
                         unit: str) -> None:
    """`ns.rounds` rounds of every way (label, its jobs, how many in flight, its server processes),
    the order rotated each round: a line per way with `ns.count` objects' rate and CPU per object."""
    for r in range(ns.rounds):
        for label, jobs, inflight, procs in ways[r % len(ways):] + ways[:r % len(ways)]:
            with sampler.phase(f"{label} {r}", [*procs, CLIENT]) as uses:
                m = await timed_pool(jobs, inflight)
            srv = [u for lb, u in uses.items() if lb != CLIENT]
            per = 1000 / ns.count
            cl = uses[CLIENT]
            print(f"round {r} {label:17s} {ns.count / m.seconds:8,.0f} {unit}  servers "
                  f"{sum(u.cpu_net_s for u in srv) * per:.3f} ({sum(u.cpu_user_s for u in srv) * per:.3f} / "
                  f"{sum(u.cpu_sys_s for u in srv) * per:.3f})  client {cl.cpu_user_s * per:.3f} / "
                  f"{cl.cpu_sys_s * per:.3f}", flush=True)
            if getattr(ns, "by_process", False):  # each server process's part, the largest first
                parts = sorted(((u.cpu_net_s * per, lb) for lb, u in uses.items() if lb != CLIENT), reverse=True)
                print("    " + ", ".join(f"{lb} {ms:.3f}" for ms, lb in parts if ms >= 0.01), flush=True)


Measure = Callable[[argparse.Namespace, AisCluster, AisClient, PlainClient, str, int], Awaitable[None]]


async def run(ns: argparse.Namespace, root: str, measure_fn: Measure | None = None) -> None:
    """A cluster and the plain server side by side, `ns.size` bytes of one source file: `measure_fn`
    (this module's `measure` by default) reads the objects each way (`bench_getbatch.py` too)."""
    src = os.path.join(root, "src")
    with open(src, "wb") as f:
        f.write(os.urandom(ns.size))
    with ais_cluster(os.path.join(root, "ais")) as cluster:
        async with plain_server(os.path.join(root, "plain"), True) as (url, pid):
            plain = PlainClient(url)
            try:
                async with AisClient(cluster.endpoint) as ais:
                    await (measure_fn or measure)(ns, cluster, ais, plain, src, pid)
            finally:
                await plain.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sdk", action="store_true", help="the SDK's direct GET beside `requests` (else the aiohttp rows)")
    p.add_argument("--put", action="store_true", help="PUTs (plain, AisClient, requests, the SDK) instead of GETs")
    p.add_argument("--by-process", action="store_true", help="also each server process's CPU ms per object")
    ns = p.parse_args()
    root = tempfile.mkdtemp(prefix="get-cpu-")
    try:
        asyncio.run(run(ns, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
