"""Where one HTTP small-object download job's wall time goes: start, steady state, tail.

Sets up what `bench_download.py` does for its HTTP source (N × 64 KiB files served by
`httpsrc`, `ais-ray up --targets 2 --mountpaths 2`), runs a warm-up job, then one range job
of N items at its default, polling its status as the benchmark does (every 0.2 s) and
recording when each count was first seen. Prints:

- start: POST until the first finished object is seen (proxy -> targets, the first batch);
- steady: objects/s between 10 % and 90 % of the items;
- tail: the last object seen done until the status says finished (last batch, group commit,
  the final status);
- CPU (user + sys) of every ais-ray process over the job, and per object.

    .venv/bin/python benchmarks/dl_split.py                 # 10,000 × 64 KiB
    .venv/bin/python benchmarks/dl_split.py --count 2000 --repeat 2

Set PYTHONPATH to a copy of the package to measure that copy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from ais_ray.client import AisClient, is_finished
from ais_ray.testing.emulators import HttpSrcServer

from common import ais_cluster, cpu_user_sys, rfc3339_ts
from dlsources import KIB, DataSet, generate

POLL_S = 0.2


async def one_job(endpoint: str, bucket: str, template: str, count: int,
                  pids: dict[str, int]) -> dict[str, object]:
    async with AisClient(endpoint) as c:
        cpu0 = {lb: cpu_user_sys(pid) for lb, pid in pids.items()}
        t0, w0 = time.perf_counter(), time.time()
        jid = await c.download.start({"type": "range", "bucket": {"name": bucket}, "template": template})
        t_post = time.perf_counter() - t0
        seen: list[tuple[float, int]] = []
        st = await c.download.status(jid, only_active=True)
        while not is_finished(st):
            seen.append((time.perf_counter() - t0, int(st.get("finished_cnt", 0))))
            await asyncio.sleep(POLL_S)
            st = await c.download.status(jid, only_active=True)
        wall = time.perf_counter() - t0
        seen.append((wall, int(st.get("finished_cnt", 0))))
        cpu = {lb: tuple(b - a for a, b in zip(cpu0[lb], cpu_user_sys(pid), strict=True)) for lb, pid in pids.items()}
        st = await c.download.status(jid)
        await c.download.remove(jid)

    def first(n: int) -> float:
        return next((t for t, k in seen if k >= n), wall)

    t_first, t10, t90 = first(1), first(count // 10), first(count * 9 // 10)
    t_last = first(count)
    # the mountpaths' own times of each kept task (up to 1,000 per target): when the first GET began
    starts = sorted(rfc3339_ts(t["start_time"]) - w0 for t in st.get("finished_tasks") or [])
    ends = sorted(rfc3339_ts(t["end_time"]) - w0 for t in st.get("finished_tasks") or [])
    return {"job": jid, "finished": st.get("finished_cnt"), "errors": st.get("error_cnt"), "wall": wall,
            "post": t_post, "start": t_first, "steady": (count * 8 // 10 - count // 10) / max(t90 - t10, 1e-9),
            "t10": t10, "t90": t90, "tail": wall - t_last, "cpu": cpu,
            "first_get": starts[0] if starts else -1.0, "first_end": ends[0] if ends else -1.0,
            "last_end": ends[-1] if ends else -1.0, "kept": len(ends)}


def report(r: dict[str, object], count: int) -> str:
    cpu: dict[str, tuple[float, float]] = r["cpu"]  # type: ignore[assignment]
    wall = float(r["wall"])  # type: ignore[arg-type]
    lines = [f"job {r['job']}: {r['finished']} done, {r['errors']} errors, wall {wall:.2f} s = {count / wall:.0f} obj/s"
             f" (load {os.getloadavg()[0]:.1f})",
             f"  start (POST {float(r['post']) * 1e3:.0f} ms, first done seen) {float(r['start']):.2f} s;"  # type: ignore[arg-type]
             f" steady 10-90 % {float(r['steady']):.0f} obj/s ({float(r['t10']):.2f}-{float(r['t90']):.2f} s);"  # type: ignore[arg-type]
             f" tail (last done seen -> finished) {float(r['tail']):.2f} s",
             f"  tasks' own times ({r['kept']} kept): first GET began {float(r['first_get']):.2f} s after the POST,"  # type: ignore[arg-type]
             f" first object done {float(r['first_end']):.2f} s, last {float(r['last_end']):.2f} s"]  # type: ignore[arg-type]
    tot_u = sum(u for u, _ in cpu.values())
    tot_s = sum(s for _, s in cpu.values())
    lines.append("  CPU user+sys s: " + ", ".join(f"{lb} {u:.1f}+{s:.1f}" for lb, (u, s) in cpu.items())
                 + f"; all {tot_u:.1f}+{tot_s:.1f} = {(tot_u + tot_s) / count * 1e3:.2f} ms/object")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--no-fsync", action="store_true")
    ns = p.parse_args()
    ds = DataSet("small", ns.count, 64 * KIB)
    tmp = Path(tempfile.mkdtemp(prefix="dl-split-"))
    try:
        generate(tmp / "src", (ds,))
        with HttpSrcServer(tmp / "src") as http, \
                ais_cluster(str(tmp / "cluster"), cwd=str(tmp), fsync=not ns.no_fsync) as cl:
            pids = {lb: pid for lb, pid in cl.pids().items()}
            template = f"{http.endpoint}/small/{ds.range_}"
            first = ds.obj(0)  # a one-item range: a template job needs a brace range
            warm = f"{http.endpoint}/small/{first[:4]}{{{first[4:]}..{first[4:]}}}"
            asyncio.run(one_job(cl.endpoint, "warm", warm, 1, pids))
            for i in range(ns.repeat):
                print(report(asyncio.run(one_job(cl.endpoint, f"split{i}", template, ns.count, pids)), ns.count),
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
