"""Promote beside the other ways to land a directory of local files in the cluster, and the disk.

One local cluster (`ais-ray up --targets 2 --mountpaths 2`, fsync on as by default) whose promote
root holds two data sets: many small files and a few large ones. Rows, each into a fresh bucket
(a fresh directory for `cp`), rotated over `--repeat` runs:
  promote     `object promote DIR ais://B --wait` through the API (a file share: every target
              promotes the names it owns, read and written by the owning mountpath)
  put         `ais-ray put DIR ais://B --recursive`: the client reads and uploads every file
  cp + sync   `cp -r` then `sync -f`: the same bytes copied on this filesystem and made durable,
              with no metadata, no checksum, no placement (the machine's limit for this work)
Each row's output is removed (and the filesystem synced) before the next. Prints objects/s,
MiB/s and the ratio to `cp + sync`; keeps the run in benchmarks/out/.

    .venv/bin/python benchmarks/bench_promote.py                 # 2,000 × 64 KiB and 4 × 64 MiB, 3 repeats: ~3 min
    .venv/bin/python benchmarks/bench_promote.py --small 500 --large 2 --repeat 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket
from ais_ray.core.promote import ROOT_ENV
from ais_ray.fs.store import syncfs

from common import AIS_RAY, MIB, ais_cluster, machine_info, markdown_table, publish

KIB = 1 << 10
POLL_S = 0.05


@dataclass
class Row:
    label: str
    data: str
    seconds: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.seconds)


def make_sets(root: Path, small: int, large: int) -> dict[str, tuple[Path, int, int]]:
    """name -> (directory, files, bytes)."""
    sets = {"small": (root / "small", small, 64 * KIB), "large": (root / "large", large, 64 * MIB)}
    for d, n, size in sets.values():
        d.mkdir(parents=True)
        block = os.urandom(size)
        for i in range(n):
            (d / f"f{i:05d}.bin").write_bytes(block[i % 97:] + block[:i % 97])  # distinct contents, same size
    syncfs(str(root))
    return {k: (d, n, n * size) for k, (d, n, size) in sets.items()}


async def promote_row(c: AisClient, d: Path, bck: Bucket) -> float:
    await c.create_bucket(bck)
    t0 = time.perf_counter()
    xid = await c.promote(bck, str(d))
    while xid and not (await c.xact_status(xid))["end_time"]:
        await asyncio.sleep(POLL_S)
    return time.perf_counter() - t0


def put_row(endpoint: str, d: Path, bck: Bucket, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([*AIS_RAY, "put", str(d), f"{bck}", "--recursive"], capture_output=True, text=True,
                       env={**env, "AIS_ENDPOINT": endpoint})
    if p.returncode != 0:
        raise RuntimeError(f"ais-ray put -> {p.returncode}: {p.stderr[-500:]}")
    return time.perf_counter() - t0


def cp_row(d: Path, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", str(d), str(out)], check=True)
    subprocess.run(["sync", "-f", str(out)], check=True)
    return time.perf_counter() - t0


async def check(c: AisClient, bck: Bucket, n: int, nbytes: int) -> None:
    got = [e async for e in c.list_objects(bck, props="name,size", flags=1)]
    if (len(got), sum(int(e.get("s", 0)) for e in got)) != (n, nbytes):
        raise RuntimeError(f"{bck}: {len(got)} objects, expected {n}")


async def run(ns: argparse.Namespace, tmp: Path) -> tuple[dict[str, Row], dict[str, tuple[Path, int, int]]]:
    sets = make_sets(tmp / "promote", ns.small, ns.large)
    rows: dict[str, Row] = {}
    env = {**os.environ, ROOT_ENV: str(tmp / "promote")}
    with ais_cluster(str(tmp / "cluster"), env={ROOT_ENV: str(tmp / "promote")}) as cl:
        async with AisClient(cl.endpoint) as c:
            kinds = ["promote", "put", "cp + sync"]
            for rep in range(ns.repeat):
                order = kinds[rep % 3:] + kinds[:rep % 3]
                for name, (d, n, nbytes) in sets.items():
                    for kind in order:
                        bck = Bucket(f"bp-{uuid.uuid4().hex[:8]}")
                        if kind == "promote":
                            secs = await promote_row(c, d, bck)
                        elif kind == "put":
                            await c.create_bucket(bck)
                            secs = await asyncio.to_thread(put_row, cl.endpoint, d, bck, env)
                        else:
                            out = tmp / f"cp-{uuid.uuid4().hex[:6]}"
                            secs = await asyncio.to_thread(cp_row, d, out)
                            await asyncio.to_thread(shutil.rmtree, out)
                        if kind != "cp + sync":
                            await check(c, bck, n, nbytes)
                            await c.destroy_bucket(bck)
                        await asyncio.to_thread(syncfs, str(tmp))
                        rows.setdefault(f"{name}/{kind}", Row(kind, name)).seconds.append(secs)
                        print(f"  {name:6} {kind:10} {n / secs:9.1f} obj/s {nbytes / MIB / secs:8.1f} MiB/s",
                              file=sys.stderr, flush=True)
    return rows, sets


def render(rows: dict[str, Row], sets: dict[str, tuple[Path, int, int]]) -> str:
    out = []
    for name, (_, n, nbytes) in sets.items():
        base = rows[f"{name}/cp + sync"].median()
        table = []
        for r in (r for r in rows.values() if r.data == name):
            m = r.median()
            table.append([r.label, f"{n / m:,.1f}", f"{nbytes / MIB / m:,.1f}",
                          f"{min(r.seconds):.2f}–{max(r.seconds):.2f}", f"{base / m:.2f}×"])
        size = nbytes // n
        out.append(f"#### {n:,} × {size // MIB} MiB" if size >= MIB else f"#### {n:,} × {size // KIB} KiB")
        out.append(markdown_table(["way", "objects/s (median)", "MiB/s", "s min–max", "× cp + sync"], table))
    return "\n\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=2000, help="64 KiB files")
    p.add_argument("--large", type=int, default=4, help="64 MiB files")
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-promote-"))
    info = machine_info(str(tmp)) | {"argv": sys.argv}
    t0 = time.monotonic()
    try:
        rows, sets = asyncio.run(run(ns, tmp))
        text = render(rows, sets)
        print(text)
        info |= {"seconds": round(time.monotonic() - t0), "loadavg_at_end": os.getloadavg()}
        publish("bench_promote", info, {k: {"seconds": r.seconds} for k, r in rows.items()}, text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
