"""Where an offline ETL job's time goes: CPU per process and py-spy during one `etl-bck` of small objects.

Starts `ais-ray up --targets 2 --mountpaths 2` (fsync on), PUTs N × 64 KiB objects (`--size-kib`), starts an
identity ETL (`etl init code`, one worker per target, as `bench_etl.py`) and runs one `etl-bck`
of the bucket (`--copy`: a plain `copy-bck` instead, the ETL's yardstick). Prints the job's rate
and every process's user / system CPU over the job (targets, mountpaths, ETL workers, Serve,
proxy); with `--seconds` > 0, records every one of them with `py-spy record --format raw` for
that long, 1 s into the job, and prints the functions that hold the most samples, self and
inclusive, per kind of process. The raw stacks stay in `--out`.

    .venv/bin/python benchmarks/prof_etl.py                     # 10,000 objects, 4 s of py-spy
    .venv/bin/python benchmarks/prof_etl.py --seconds 0         # CPU per process only
    .venv/bin/python benchmarks/prof_etl.py --seconds 0 --copy  # the same for copy-bck
    .venv/bin/python benchmarks/prof_etl.py --count 16 --size-kib 65536 --seconds 3   # large objects

Set PYTHONPATH to a copy of the package to measure that copy (and run from outside the repo).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from ais_ray.client import AisClient
from ais_ray.core.etl import code_msg
from ais_ray.core.names import Bucket

from common import actor_class, ais_cluster, cmdline, cpu_user_sys, descendants
from prof_download import py_spy, summarize

IDENTITY = "def transform(data, path, args):\n    return data\n"
ETL = "prof-identity"


async def run(args: argparse.Namespace, out: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="ais-prof-etl-"))
    try:
        with ais_cluster(str(root / "c"), cwd=tempfile.gettempdir()) as c:
            async with AisClient(c.endpoint) as cl:
                src, dst = Bucket("src"), Bucket("dst")
                await cl.create_bucket(src)
                body = os.urandom(args.size_kib << 10)
                at_once = max(1, min(32, (32 << 20) // len(body)))
                for i in range(0, args.count, at_once):
                    await asyncio.gather(*(cl.put_bytes(src, f"o{j:06d}", body)
                                           for j in range(i, min(args.count, i + at_once))))
                await cl.etl_init(code_msg(ETL, IDENTITY, workers=1, obj_timeout="5m"))
                pids = c.pids()
                for p in descendants(c.daemon_pid()):
                    if actor_class(cmdline(p)) == "_EtlWorker":
                        pids[f"etl-{p}"] = p
                before = {k: cpu_user_sys(p) for k, p in pids.items()}
                t0 = time.monotonic()
                value, action = ({}, "copy-bck") if args.copy else ({"id": ETL}, "etl-bck")
                xid = await cl.copy_bucket(src, dst, value, action=action)
                await asyncio.sleep(1.0)
                spies = py_spy(pids, out, 100, args.seconds) if args.seconds > 0 else {}
                while not (st := await cl.xact_status(xid))["end_time"]:
                    await asyncio.sleep(0.2)
                dt = time.monotonic() - t0
                for p in spies.values():
                    p.wait()
                after = {k: cpu_user_sys(p) for k, p in pids.items()}
                print(f"{action} of {args.count} × {args.size_kib} KiB: {dt:.1f} s = {args.count / dt:.1f} objects/s"
                      + (f", error: {st['err']}" if st.get("err") else ""))
                total = 0.0
                for k in pids:
                    u, s = after[k][0] - before[k][0], after[k][1] - before[k][1]
                    total += u + s
                    print(f"  {k}: user {u:.2f} s, sys {s:.2f} s")
                print(f"  all: {total:.2f} s = {1e3 * total / args.count:.2f} ms of CPU per object")
        if args.seconds > 0:
            files = list(out.iterdir())
            for kind, pick in (("mountpaths", lambda n: "-mp" in n), ("targets", lambda n: n.startswith("t") and "-mp" not in n),
                               ("ETL workers", lambda n: n.startswith("etl"))):
                print(f"== {kind}")
                print(summarize([f for f in files if pick(f.name)], args.top))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--size-kib", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=4.0, help="py-spy for this long (0: CPU per process only)")
    ap.add_argument("--copy", action="store_true", help="a plain copy-bck instead of the ETL")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "prof-etl"))
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    asyncio.run(run(args, out))


if __name__ == "__main__":
    main()
