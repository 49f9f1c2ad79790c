"""The blob downloader engine alone (no Ray): one 256 MiB object from a per-connection-paced source.

Clouds cap each connection; the blob downloader exists to add connections. The source is
httpsrc in a process of its own (no shared GIL), every accepted socket paced with
SO_MAX_PACING_RATE (`--rate`, 20 MiB/s by default, as in `shared/ref/test-backends.md`). Each
configuration downloads the object into a fresh mountpath directory; the median of `--runs`
is reported with the ratio to what the model promises, workers × rate.

`--baseline` also times, right after each engine run, a bare aiohttp range reader with the
same workers and chunks that drops the bytes (no disk, no hash, no bookkeeping): on a shared
machine it tells the engine's overhead apart from what the machine allows at that moment.

    .venv/bin/python benchmarks/bench_blob_engine.py            # ~2 minutes
    .venv/bin/python benchmarks/bench_blob_engine.py --runs 1 --size 64 --baseline --configs 8x2,16x8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from ais_ray.backends.http import HttpBackend
from ais_ray.core.blob import BlobParams
from ais_ray.core.names import parse_bucket_uri
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.blob import BlobDownload, url_reader
from ais_ray.testing.emulators import HttpSrcServer

MIB = 1 << 20
OUT = Path(__file__).resolve().parent / "out" / "bench_blob_engine.json"
# (workers, chunk MiB); -1 = one plain stream (serial mode)
PACED = [(-1, 2), (4, 2), (8, 2), (16, 2), (4, 8), (8, 8), (16, 8)]
UNPACED = [(-1, 2), (4, 8), (8, 8), (16, 8)]


@dataclass
class Result:
    label: str
    workers: int
    chunk: int
    rate: int
    seconds: float
    mib_s: float
    expected_mib_s: float  # the model: min(workers, 1) × rate; 0 when unpaced
    buffered_hwm: int
    baseline_mib_s: float = 0.0  # the bare reader's, same moment (0: not measured)
    runs: list[float] = field(default_factory=list)


def set_pacing(src: HttpSrcServer, rate: int) -> None:
    body = json.dumps({"pacing_rate": rate}).encode()
    req = urllib.request.Request(src.url("_faults"), data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


async def one(url: str, mp_root: str, params: BlobParams, fsync: bool) -> tuple[float, int]:
    mp = tempfile.mkdtemp(dir=mp_root)
    http = HttpBackend(retries=0)
    try:
        obj = await http.head_url(url)
        store = MountpathStore(mp, fsync=fsync)
        bd = BlobDownload(store, parse_bucket_uri("s3://bench")[0], "big", obj, url_reader(http, url, obj.size),
                          params)
        t0 = time.perf_counter()
        await bd.run()
        return time.perf_counter() - t0, bd.stats.buffered_hwm
    finally:
        await http.aclose()
        shutil.rmtree(mp, ignore_errors=True)


async def bare(url: str, size: int, workers: int, chunk: int) -> float:
    """The same reads with nothing around them: range GETs, bytes dropped."""
    chunk = size if workers < 0 else chunk
    offsets = iter(range(0, size, chunk))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256), read_bufsize=MIB) as s:
        async def reader() -> None:
            for off in offsets:
                n = min(chunk, size - off)
                async with s.get(url, headers={"Range": f"bytes={off}-{off + n - 1}"}) as resp:
                    async for _ in resp.content.iter_chunked(MIB):
                        pass

        t0 = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(max(workers, 1))))
        return time.perf_counter() - t0


def measure(src: HttpSrcServer, url: str, mp_root: str, size: int, rate: int, runs: int, fsync: bool,
            configs: list[tuple[int, int]], baseline: bool) -> list[Result]:
    set_pacing(src, rate)
    out = []
    for workers, chunk_mib in configs:
        times, base, hwm = [], [], 0
        for _ in range(runs):
            secs, h = asyncio.run(one(url, mp_root, BlobParams(chunk_mib * MIB, workers), fsync))
            times.append(secs)
            hwm = max(hwm, h)
            if baseline:
                base.append(asyncio.run(bare(url, size, workers, chunk_mib * MIB)))
        secs = statistics.median(times)
        label = "1 stream" if workers < 0 else f"{workers} x {chunk_mib} MiB"
        expected = max(workers, 1) * rate / MIB if rate else 0.0
        r = Result(label, workers, chunk_mib * MIB, rate, secs, size / MIB / secs, expected, hwm,
                   size / MIB / statistics.median(base) if base else 0.0, times)
        out.append(r)
        ratio = f"{r.mib_s / expected:.2f}" if expected else "-"
        vs_bare = f"; bare reader {r.baseline_mib_s:.0f} MiB/s" if base else ""
        print(f"  {label:>14}  {secs:6.2f} s  {r.mib_s:7.1f} MiB/s  ratio {ratio}  "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)}; peak buffered {hwm / MIB:.0f} MiB{vs_bare})",
              flush=True)
    return out


def table(results: list[Result]) -> str:
    lines = ["| rate/conn | config | time | MiB/s | model (workers × rate) | ratio | bare reader MiB/s | "
             "peak buffered |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rate = f"{r.rate // MIB} MiB/s" if r.rate else "uncapped"
        model = f"{r.expected_mib_s:.0f} MiB/s" if r.expected_mib_s else "-"
        ratio = f"{r.mib_s / r.expected_mib_s:.2f}" if r.expected_mib_s else "-"
        bare_mib_s = f"{r.baseline_mib_s:.0f}" if r.baseline_mib_s else "-"
        lines.append(f"| {rate} | {r.label} | {r.seconds:.2f} s | {r.mib_s:.0f} | {model} | {ratio} | {bare_mib_s} | "
                     f"{r.buffered_hwm / MIB:.0f} MiB |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256, help="object size, MiB (default 256)")
    p.add_argument("--rate", type=int, default=20, help="per-connection pacing, MiB/s (default 20)")
    p.add_argument("--runs", type=int, default=3, help="runs per configuration; the median is reported")
    p.add_argument("--fsync", action="store_true", help="fsync the object before commit (default: off)")
    p.add_argument("--no-unpaced", action="store_true", help="skip the uncapped runs (the machine's own limit)")
    p.add_argument("--baseline", action="store_true", help="also time a bare aiohttp reader after each run")
    p.add_argument("--configs", default="", help="only these, e.g. '1,8x2,16x8' (1 = one stream)")
    ns = p.parse_args()
    size = ns.size * MIB
    wanted = {c.strip() for c in ns.configs.split(",") if c.strip()}

    def chosen(configs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [c for c in configs if not wanted or (f"{c[0]}x{c[1]}" if c[0] > 0 else "1") in wanted]

    with tempfile.TemporaryDirectory(prefix="bench-blob-") as tmp:
        src_dir, mp_root = Path(tmp, "src"), Path(tmp, "mp")
        src_dir.mkdir()
        mp_root.mkdir()
        with open(src_dir / "big", "wb") as f:
            for _ in range(ns.size):
                f.write(os.urandom(MIB))
        with HttpSrcServer(src_dir) as src:
            url = src.url("big")
            print(f"{ns.size} MiB, {ns.rate} MiB/s per connection, median of {ns.runs}:", flush=True)
            results = measure(src, url, str(mp_root), size, ns.rate * MIB, ns.runs, ns.fsync, chosen(PACED),
                              ns.baseline)
            if not ns.no_unpaced and chosen(UNPACED):
                print("uncapped:", flush=True)
                results += measure(src, url, str(mp_root), size, 0, ns.runs, ns.fsync, chosen(UNPACED), ns.baseline)
    print()
    print(table(results))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"size": size, "runs": ns.runs, "fsync": ns.fsync, "cpus": os.cpu_count(),
                               "results": [r.__dict__ for r in results]}, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
