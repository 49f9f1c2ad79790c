"""A/B of a download-job change: two clusters side by side, the same jobs alternating between them.

`--variant DIR` is a copy of the package (DIR/ais_ray) with the change; the baseline is
whatever this process imports (the repo, or PYTHONPATH). Both clusters run at once against
the same sources (`bench_download.py`'s httpsrc and s3rver behind the pacing proxy), and
each round runs the baseline job, then the variant's (then the other way round in the next
round), so load from other users of the machine hits both alike. Reports obj/s and the
cluster's CPU per object (targets + mountpaths; net of idle, and user / system apart) for every
run, and the medians.

    .venv/bin/python benchmarks/ab_download.py --variant /tmp/copy --only http s3 --rounds 3
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
from contextlib import ExitStack
from pathlib import Path

from ais_ray.client import AisClient
from ais_ray.testing.emulators import HttpSrcServer
from ais_ray.testing.linkproxy import LinkProxy

from bench_download import AIS_LABELS, POLL_S, Bench, Cell, Row
from common import ProcSampler, ais_cluster, markdown_table
from dlsources import KIB, DataSet, S3rverLegacyDes, generate, s3_env, upload


async def rounds(ns: argparse.Namespace, benches: dict[str, Bench], cells: list[Cell]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for cell in cells:
        for r in range(ns.rounds):
            order = list(benches) if r % 2 == 0 else list(reversed(benches))
            for name in order:
                row = await benches[name].ais_row(cell, name, ns.conns, ns.kind)
                out.setdefault(f"{cell.title}|{name}", []).append(row)
                n = max(row.count, 1)
                print(f"  {cell.title} {name:9} {row.obj_s:8.1f} obj/s cpu {1000 * row.cpu_s / n:5.2f} ms/obj "
                      f"(user {1000 * row.cpu_user_s / n:.2f}, sys {1000 * row.cpu_sys_s / n:.2f}) "
                      f"load {row.load1:.1f} {row.note}", file=sys.stderr, flush=True)
    return out


async def run(ns: argparse.Namespace, tmp: Path, clusters: dict, samplers: dict, endpoints: dict,
              cells: list[Cell]) -> dict[str, list[Row]]:
    async with AisClient(clusters["baseline"].endpoint) as a, AisClient(clusters["variant"].endpoint) as b:
        benches = {name: Bench(ns, tmp, clusters[name], c, samplers[name], endpoints)
                   for name, c in (("baseline", a), ("variant", b))}
        return await rounds(ns, benches, cells)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", required=True, help="a dir holding the changed ais_ray package")
    p.add_argument("--only", nargs="+", choices=("http", "s3"), default=["http", "s3"])
    p.add_argument("--count", type=int, default=10_000, help="objects of 64 KiB")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--conns", type=int, default=0, help="limits.connections of every job (0: default)")
    p.add_argument("--kind", choices=("range", "backend", "prefetch", "prefetch-prefix", "prefetch-blob"), default="range",
                   help="S3: range jobs, backend jobs (an ais bucket with backend_bck), prefetches of such a bucket "
                        "by template, of the whole bucket (listed), or by template with a 1 MiB blob threshold")
    p.add_argument("--backend", dest="kind", action="store_const", const="backend", help="= --kind backend")
    ns = p.parse_args()
    ns.budget, ns.row_timeout = 1e9, 600
    ds = DataSet("small", ns.count, 64 * KIB)
    tmp = Path(tempfile.mkdtemp(prefix="ab-dl-"))
    try:
        generate(tmp / "src", (ds,))
        with ExitStack() as stack:
            s3 = stack.enter_context(S3rverLegacyDes(tmp / "s3rver", buckets=("small",)))
            proxy = stack.enter_context(LinkProxy(f"127.0.0.1:{s3.port}", tmp / "proxy"))
            http = stack.enter_context(HttpSrcServer(tmp / "src"))
            upload(s3.endpoint, tmp / "src", (ds,))
            clusters, samplers = {}, {}
            for name, extra in (("baseline", {}), ("variant", {"PYTHONPATH": os.path.abspath(ns.variant)})):
                cl = stack.enter_context(ais_cluster(str(tmp / name), env={**s3_env(proxy.endpoint), **extra},
                                                     cwd=str(tmp)))
                pids = {lb: pid for lb, pid in cl.pids().items() if lb in AIS_LABELS}
                procs = {**pids, "s3rver": s3.pid, "link-proxy": proxy.pid, "httpsrc": http.pid}
                clusters[name] = cl
                samplers[name] = ProcSampler(procs, interval=POLL_S).start()
                stack.callback(samplers[name].stop)
            endpoints = {"http": http.endpoint, "s3": proxy.endpoint}
            cells = [Cell(src, ds, 0) for src in ns.only]
            t0 = time.monotonic()
            res = asyncio.run(run(ns, tmp, clusters, samplers, endpoints, cells))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for key, runs in res.items():
        title, name = key.split("|")
        ok = [r for r in runs if r.ok]
        if not ok:
            rows.append([title, name, "FAILED: " + runs[0].note[:80], "", "", "", ""])
            continue
        rows.append([title, name, f"{statistics.median(r.obj_s for r in ok):,.0f}",
                     " / ".join(f"{r.obj_s:,.0f}" for r in ok),
                     f"{statistics.median(1000 * r.cpu_s / r.count for r in ok):.2f}",
                     f"{statistics.median(1000 * r.cpu_user_s / r.count for r in ok):.2f}",
                     f"{statistics.median(1000 * r.cpu_sys_s / r.count for r in ok):.2f}"])
    # user CPU is the steadier measure here: system CPU moves with what the filesystem and the VM
    # did in the minutes before (benchmarks/README.md, "why a writer's system CPU swings")
    print(markdown_table(["source", "ais_ray", "obj/s (median)", "runs", "CPU ms/object, net of idle",
                          "user ms/object", "sys ms/object"], rows))
    print(f"\n{len(ns.only) * ns.rounds * 2} jobs in {time.monotonic() - t0:.0f} s; "
          f"{ds.count:,} × {ds.size // KIB} KiB each; limits.connections {ns.conns or 'default'}; "
          f"{ns.kind} jobs")


if __name__ == "__main__":
    main()
