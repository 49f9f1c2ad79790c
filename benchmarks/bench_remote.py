"""Cold and warm GET of a remote object through the cluster beside the provider's own SDK (issue 3, part 7).

One 256 MiB object (`--size`) in each emulator, all three in one run:
  S3     s3rver          read by boto3: `get_object()["Body"].iter_chunks(1 MiB)`
  GCS    fake-gcs-server (filesystem backend) read by google-cloud-storage: `blob.download_to_file()`
         (one GET; its default crc32c check on)
  Azure  azurite         read by azure-storage-blob: `download_blob(max_concurrency=1).chunks()`
         (its default: a 32 MiB first GET, then 4 MiB range GETs, one at a time)
The cluster (`ais-ray up --targets 2 --mountpaths 2`, fsync on as by default) reads the same
emulators (their `env()` in its environment). Its rows:
  cold GET   `ais-ray evict` first (outside the timing), then `AisClient.get_to_stream`: the
             mountpath fetches the object once, streaming it to the client while it stores it
  warm GET   the same GET again: served from the mountpath's disk (page cache)
  SDK rows   S3 only: the official `aistore` SDK, `get_reader(chunk_size=1 MiB)`, cold and warm
Every reader here drops the bytes after counting them (same 1 MiB chunks), so the ratio compares
the servers' paths, not the clients' disks. Clients are made once and reused. One GET per provider
(not counted) warms the cluster up first: the first access of a bucket checks it with the remote
and imports the provider's SDK in the mountpath process.

Each row runs `--runs` times (3), rotating over rows; the median is shown. On a shared machine
the load drifts between runs, so "× SDK, paired" is the median of run k's ratio to the SDK's run k
(the two ran seconds apart), and the CPU time per MiB (ais-ray's processes + this client, which
includes the 0.1 s RSS sampler; the emulator's in parentheses) is the steadier cost. Peak RSS is sampled
every 0.1 s for each target and mountpath process (children included), Serve's proxy and replica
and ais-ray's proxy actor; the tables show the owning mountpath (`ais-location`) and the largest
growth of any of them during the row. Memory is flat when no process grows by more than a few
chunks: nothing buffers the object.

    .venv/bin/python benchmarks/bench_remote.py            # 256 MiB, ~4 min
    .venv/bin/python benchmarks/bench_remote.py --quick    # 64 MiB, one run, ~2 min
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ais_ray
from ais_ray.client import AisClient
from ais_ray.core.names import Bucket, parse_bucket_uri
from ais_ray.testing.emulators import Azurite, FakeGcsServer, S3rver

from common import ACTOR_LABELS, MIB, ProcSampler, ais_cluster, markdown_table, machine_info, publish
from remote_sdks import Sink, make_sdks

KEY = "big/obj-256"
PROVIDERS = (("s3", "s3://bench"), ("gcp", "gs://bench"), ("azure", "az://bench"))
EMULATOR = {"s3": "s3rver", "gcp": "fake-gcs", "azure": "azurite"}


@dataclass
class Row:
    provider: str
    label: str
    runs: list[float] = field(default_factory=list)  # seconds
    rss: list[tuple[int, int]] = field(default_factory=list)  # (owner peak, owner growth) per run
    max_growth: int = 0  # any ais-ray process, any run
    client_growth: int = 0  # this process (the SDK rows read here)
    load1: list[float] = field(default_factory=list)
    cpu: list[tuple[float, float, float]] = field(default_factory=list)  # (ais-ray, client, source) s per run

    def mib_s(self, size: int) -> float:
        return size / MIB / statistics.median(self.runs) if self.runs else 0.0

    def cpu_ms_mib(self, size: int) -> tuple[float, float, float]:
        """Median CPU ms per MiB of (ais-ray's processes, this client, the emulator)."""
        return tuple(statistics.median(c[i] for c in self.cpu) * 1000 / (size / MIB) for i in range(3))  # type: ignore[return-value]


class Bench:
    def __init__(self, ns: argparse.Namespace, cluster: Any, c: AisClient, sampler: ProcSampler,
                 sdks: dict[str, Callable[[Sink], None]], aistore: Any) -> None:
        self.ns, self.cluster, self.c, self.sampler, self.sdks, self.aistore = ns, cluster, c, sampler, sdks, aistore
        self.size = ns.size * MIB
        self.owner: dict[str, str] = {}
        self.ais_labels = set(cluster.pids())
        self.seq = 0

    async def timed(self, row: Row, read: Callable[[], Any], *, in_thread: bool) -> None:
        self.seq += 1
        labels = [lb for lb in self.sampler.procs]
        with self.sampler.phase(f"{self.seq} {row.provider} {row.label}", labels) as uses:
            t0 = time.perf_counter()
            n = await asyncio.to_thread(read) if in_thread else await read()
            secs = time.perf_counter() - t0
        if n != self.size:
            raise RuntimeError(f"{row.provider} {row.label}: {n} of {self.size} bytes")
        row.runs.append(secs)
        row.load1.append(os.getloadavg()[0])
        owner = self.owner.get(row.provider, "")
        if owner in uses:
            row.rss.append((uses[owner].rss_peak, uses[owner].growth))
        row.max_growth = max(row.max_growth, *(u.growth for lb, u in uses.items() if lb in self.ais_labels))
        row.client_growth = max(row.client_growth, uses["bench client"].growth)
        row.cpu.append((sum(u.cpu_s for lb, u in uses.items() if lb in self.ais_labels),
                        uses["bench client"].cpu_s, uses[EMULATOR[row.provider]].cpu_s))
        print(f"  {row.provider:<6} {row.label:<34} {self.size / MIB / secs:8.1f} MiB/s {secs:6.2f} s "
              f"load {row.load1[-1]:.1f}", file=sys.stderr, flush=True)

    async def ais_get(self, bck: Bucket) -> int:
        sink = Sink()
        await self.c.get_to_stream(bck, KEY, sink)
        return sink.n

    def sdk_get(self, bck: Bucket) -> int:
        reader = self.aistore.bucket(bck.name, provider=bck.provider.value).object(KEY).get_reader(chunk_size=MIB)
        return sum(len(c) for c in reader)

    async def evict(self, uri: str) -> None:
        """`ais-ray evict`, once the object is committed: a GET's client has every byte before the
        commit, and an evict that overtook it would find nothing (the next "cold" GET would be warm)."""
        bck = parse_bucket_uri(uri)[0]
        deadline = time.monotonic() + 30
        while (await self.c.head_object(bck, KEY)).get("Ais-Present", "").lower() != "true":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{uri}/{KEY} not stored 30 s after its GET")
            await asyncio.sleep(0.05)
        await asyncio.to_thread(self.cluster.cli, "evict", f"{uri}/{KEY}")

    async def locate(self, provider: str, bck: Bucket) -> None:
        loc = (await self.c.head_object(bck, KEY)).get("ais-location", "")  # t[t2]:mp[/.../t2/mp2]
        self.owner[provider] = f"{loc.split('t[', 1)[1].split(']', 1)[0]}/{os.path.basename(loc.rstrip(']'))}"

    async def run(self) -> list[Row]:
        rows: dict[tuple[str, str], Row] = {}

        def row(p: str, label: str) -> Row:
            return rows.setdefault((p, label), Row(p, label))

        for p, uri in PROVIDERS:  # warm-up, not counted
            bck = parse_bucket_uri(uri)[0]
            await self.ais_get(bck)
            await self.locate(p, bck)
            await self.evict(uri)
        for k in range(self.ns.runs):
            print(f"run {k + 1}", file=sys.stderr, flush=True)
            for p, uri in PROVIDERS:
                bck = parse_bucket_uri(uri)[0]
                await self.timed(row(p, "provider SDK, one stream"), lambda: self.sdks[p](Sink()), in_thread=True)
                await self.timed(row(p, "ais-ray cold GET (AisClient)"), lambda: self.ais_get(bck), in_thread=False)
                await self.timed(row(p, "ais-ray warm GET (AisClient)"), lambda: self.ais_get(bck), in_thread=False)
                await self.evict(uri)
                if p == "s3":
                    await self.timed(row(p, "ais-ray cold GET (aistore SDK)"), lambda: self.sdk_get(bck), in_thread=True)
                    await self.timed(row(p, "ais-ray warm GET (aistore SDK)"), lambda: self.sdk_get(bck), in_thread=True)
                    await self.evict(uri)
        return list(rows.values())


def render(rows: list[Row], size: int) -> str:
    out = []
    base = {r.provider: r for r in rows if r.label.startswith("provider SDK")}
    head = ["provider", "reader", "MiB/s", "× SDK", "× SDK, paired", "CPU ms/MiB: ais-ray + client (source)",
            "owning mountpath peak RSS MiB (growth)", "largest growth, any ais-ray process", "runs, s"]
    table = []
    for r in rows:
        mib = r.mib_s(size)
        sdk_row = r.label.startswith("provider SDK")
        peak = "—" if sdk_row or not r.rss else (f"{max(p for p, _ in r.rss) / MIB:,.0f} "
                                                f"(+{max(g for _, g in r.rss) / MIB:,.0f})")
        growth = f"{r.max_growth / MIB:,.0f} MiB" + (f"; client +{r.client_growth / MIB:,.0f}" if sdk_row else "")
        sdk = base[r.provider]
        paired = statistics.median(b / a for a, b in zip(r.runs, sdk.runs))  # runs k of both rows ran back to back
        ais_ms, client_ms, src_ms = r.cpu_ms_mib(size)
        table.append([r.provider, r.label, f"{mib:,.1f}", f"{mib / sdk.mib_s(size):.2f}×", f"{paired:.2f}×",
                      f"{ais_ms + client_ms:.2f} ({src_ms:.2f})", peak, growth, ", ".join(f"{s:.2f}" for s in r.runs)])
    out.append(markdown_table(head, table))
    loads = [x for r in rows for x in r.load1]
    out.append(f"\n1-min load average during the runs: {min(loads):.1f}–{max(loads):.1f}.")
    ais = [r for r in rows if not r.label.startswith("provider SDK")]
    worst = max(ais, key=lambda r: r.max_growth)
    flat = worst.max_growth <= 64 * MIB
    out.append(f"\nMemory flat: **{'yes' if flat else 'NO'}** — the largest growth of any ais-ray process during a "
               f"{size // MIB} MiB GET was {worst.max_growth / MIB:,.0f} MiB ({worst.provider}, {worst.label}).")
    return "\n".join(out) + "\n"


async def bench(ns: argparse.Namespace, cluster: Any, sampler: ProcSampler, sdks: dict[str, Any]) -> list[Row]:
    from aistore import Client

    aistore = Client(cluster.endpoint, timeout=(10, 300))
    async with AisClient(cluster.endpoint) as c:
        return await Bench(ns, cluster, c, sampler, sdks, aistore).run()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="64 MiB, one run: a smoke test")
    p.add_argument("--size", type=int, default=None, help="object size in MiB (default 256; quick 64)")
    p.add_argument("--runs", type=int, default=None, help="runs per row (default 3; quick 1)")
    p.add_argument("--tmp", default="/tmp", help="parent of the temp dir")
    ns = p.parse_args(argv)
    ns.size = ns.size or (64 if ns.quick else 256)
    ns.runs = ns.runs or (1 if ns.quick else 3)
    tmp = Path(tempfile.mkdtemp(prefix="bench-remote-", dir=ns.tmp))
    info = machine_info(str(tmp)) | {"ais_ray": os.path.dirname(ais_ray.__file__), "argv": sys.argv}
    t_start = time.monotonic()
    rows: list[Row] = []
    try:
        with S3rver(tmp / "s3rver", buckets=("bench",)) as s3, \
                FakeGcsServer(tmp / "gcs", backend="filesystem") as gcs, Azurite(tmp / "azurite") as az:
            sdks = make_sdks(tmp / "obj", ns.size * MIB, KEY, s3, gcs, az)
            print(f"data ready in {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
            env = {**s3.env(), **gcs.env(), **az.env()}
            with ais_cluster(str(tmp / "cluster"), env=env, cwd=str(tmp)) as cluster:
                procs = dict(cluster.pids())
                procs |= {"s3rver": s3.pid, "fake-gcs": gcs.pid, "azurite": az.pid, "bench client": os.getpid()}
                sampler = ProcSampler({k: v for k, v in procs.items() if v},
                                      solo=("bench client",)).start()
                try:
                    rows = asyncio.run(bench(ns, cluster, sampler, sdks))
                finally:
                    sampler.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - t_start)
    info["loadavg_at_end"] = os.getloadavg()
    text = render(rows, ns.size * MIB)
    print(text)
    publish("bench_remote", info, {"machine": info, "size": ns.size * MIB, "rows": rows,
                                       "cluster_labels": [lb for _, lb in ACTOR_LABELS]}, text)


if __name__ == "__main__":
    main()
