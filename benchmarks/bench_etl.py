"""Offline ETL bucket to bucket beside Ray Data and a plain multiprocessing loop (issue 13, part 7).

In one run, for each data set (full: 10,000 × 64 KiB and 16 × 64 MiB; `--quick`: 500 × 64 KiB
and 4 × 16 MiB) on `ais-ray up --targets 2 --mountpaths 2` (fsync on, as by default):
  copy      `copy-bck` of the source bucket (the plain copy the identity transform is held to)
  identity  `etl-bck` through `transform(data, path, args) -> data`
  cpu       `etl-bck` through a CPU-bound transform (`ROUNDS` × sha256 over the object; the
            object is returned with the digest appended)
and, on the same files on local disk, the same two transforms done by
  ray-data  `ray.data.read_binary_files(dir)` → `map_batches(transform)` → each row written to a
            file in an output directory (a `map_batches` writer: Ray Data has no raw-bytes sink),
            in a Ray instance of this process limited to the machine's cores
  mp        `multiprocessing.Pool(cpus)` over the files: read, transform, write, fsync-free
The ETL gets one worker process per target (`NUM_WORKERS=1`: 2 processes, as many as the
cores of the 2-core machine this was written on). Goals: identity ≥ 0.8 × copy; cpu ≥ Ray Data.

    .venv/bin/python benchmarks/bench_etl.py --quick        # ~4 min on an idle 2-core VM
    .venv/bin/python benchmarks/bench_etl.py                # full sizes
"""

from __future__ import annotations

import argparse
import atexit
import asyncio
import hashlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ais_ray.client import AisClient
from ais_ray.core.etl import code_msg
from ais_ray.core.names import Bucket

from common import MIB, ais_cluster, machine_info, markdown_table, publish
from dlsources import DataSet, generate

KIB = 1 << 10
FULL_SETS = (DataSet("small", 10_000, 64 * KIB), DataSet("large", 16, 64 * MIB))
QUICK_SETS = (DataSet("small", 500, 64 * KIB), DataSet("large", 4, 16 * MIB))
ROUNDS = 8
POLL_S = 0.2

IDENTITY = "def transform(data, path, args):\n    return data\n"
CPU = (f"import hashlib\n\ndef transform(data, path, args):\n    d = data\n    for _ in range({ROUNDS}):\n"
       "        d = hashlib.sha256(data + d[:32]).digest()\n    return data + d\n")


def cpu_transform(data: bytes) -> bytes:  # the same as CPU, for the peers
    d = data
    for _ in range(ROUNDS):
        d = hashlib.sha256(data + d[:32]).digest()
    return data + d


def identity(data: bytes) -> bytes:
    return data


FNS = {"identity": identity, "cpu": cpu_transform}


# ---- ais-ray -----------------------------------------------------------------------------------
async def _job(c: AisClient, src: Bucket, dst: Bucket, etl: str) -> float:
    t0 = time.monotonic()
    value: dict[str, Any] = {}
    if etl:
        value = {"id": etl}
    xid = await c.copy_bucket(src, dst, value, action="etl-bck" if etl else "copy-bck")
    while not (await c.xact_status(xid))["end_time"]:
        await asyncio.sleep(POLL_S)
    st = await c.xact_status(xid)
    if st.get("err"):
        raise RuntimeError(f"job {xid}: {st['err']}")
    return time.monotonic() - t0


async def ais_rows(endpoint: str, root: Path, ds: DataSet) -> dict[str, float]:
    out: dict[str, float] = {}
    async with AisClient(endpoint) as c:
        src = Bucket(f"src-{ds.name}")
        await c.create_bucket(src)
        files = sorted((root / ds.name).iterdir())
        for i in range(0, len(files), 16):
            await asyncio.gather(*(c.put_file(src, p.name, str(p)) for p in files[i:i + 16]))
        for name, code in (("identity", IDENTITY), ("cpu", CPU)):
            await c.etl_init(code_msg(f"bench-{name}", code, workers=1, obj_timeout="5m"))
        for label, etl in (("copy", ""), ("identity", "bench-identity"), ("cpu", "bench-cpu")):
            dst = Bucket(f"dst-{label}-{uuid.uuid4().hex[:6]}")
            out[label] = await _job(c, src, dst, etl)
            n = len([e async for e in c.list_objects(dst)])
            assert n == ds.count, (label, n)
            await c.destroy_bucket(dst)
        for name in ("identity", "cpu"):
            await c.etl_action(f"bench-{name}", "rm")
        await c.destroy_bucket(src)
    return out


# ---- peers -------------------------------------------------------------------------------------
def _mp_one(job: tuple[str, str, str]) -> int:
    src, dst, fn = job
    with open(src, "rb") as f:
        out = FNS[fn](f.read())
    with open(dst, "wb") as f:
        f.write(out)
    return len(out)


def mp_run(src: Path, out: Path, fn: str) -> float:
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(out / p.name), fn) for p in sorted(src.iterdir())]
    t0 = time.monotonic()
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        for _ in pool.imap_unordered(_mp_one, jobs, chunksize=8):
            pass
    return time.monotonic() - t0


def ray_data_run(src: Path, out: Path, fn: str) -> float:
    import ray

    out.mkdir(parents=True, exist_ok=True)
    f = FNS[fn]
    dst = str(out)

    def work(batch: dict[str, Any]) -> dict[str, Any]:
        sizes = []
        for path, data in zip(batch["path"], batch["bytes"]):
            b = f(bytes(data))
            with open(os.path.join(dst, os.path.basename(path)), "wb") as w:
                w.write(b)
            sizes.append(len(b))
        return {"size": sizes}

    t0 = time.monotonic()
    ds = ray.data.read_binary_files(str(src), include_paths=True)
    n = ds.map_batches(work, batch_format="numpy").count()
    assert n == len(list(src.iterdir())), n
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sets = QUICK_SETS if args.quick else FULL_SETS
    # killed (timeout, Ctrl-C): unwind through the finally blocks, so the cluster and Ray go down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="bench-etl-"))
    info = machine_info(str(work))
    started = time.monotonic()
    results: dict[str, Any] = {"info": info, "sets": {}}
    try:
        generate(work / "data", sets)
        for attempt in range(2):  # on a loaded machine `up` can hit Ray's startup timeout once
            try:
                with ais_cluster(str(work / f"ais{attempt}"), targets=2, mountpaths=2) as cl:
                    for ds in sets:
                        results["sets"][ds.name] = {"ais-ray": asyncio.run(ais_rows(cl.endpoint, work / "data", ds))}
                break
            except RuntimeError as exc:
                if attempt or "failed to start" not in str(exc):
                    raise
                print(f"cluster did not start, once more: {str(exc)[:200]}", file=sys.stderr)
        import ray

        atexit.register(ray.shutdown)
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        for ds in sets:
            peers: dict[str, dict[str, float]] = {"ray-data": {}, "mp": {}}
            for fn in ("identity", "cpu"):
                peers["mp"][fn] = mp_run(work / "data" / ds.name, work / "out-mp" / ds.name / fn, fn)
                peers["ray-data"][fn] = ray_data_run(work / "data" / ds.name, work / "out-rd" / ds.name / fn, fn)
                shutil.rmtree(work / "out-mp", ignore_errors=True)
                shutil.rmtree(work / "out-rd", ignore_errors=True)
            results["sets"][ds.name].update(peers)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - started)
    info["loadavg_at_end"] = os.getloadavg()
    text = report(sets, results)
    print(text)
    publish("bench_etl", info, results, text)


def report(sets: tuple[DataSet, ...], results: dict[str, Any]) -> str:
    lines = []
    for ds in sets:
        r = results["sets"][ds.name]
        nbytes = ds.count * ds.size
        ais = r["ais-ray"]
        rows = [["ais-ray copy-bck", "-", f"{ds.count / ais['copy']:.0f}", f"{nbytes / MIB / ais['copy']:.1f}", "1.00"]]
        for fn in ("identity", "cpu"):
            for who, secs in (("ais-ray etl-bck", ais[fn]), ("Ray Data", r["ray-data"][fn]), ("multiprocessing", r["mp"][fn])):
                rows.append([who, fn, f"{ds.count / secs:.0f}", f"{nbytes / MIB / secs:.1f}", f"{ais['copy'] / secs:.2f}"])
        lines.append(f"### {ds.count} × {ds.size // KIB} KiB\n")
        lines.append(markdown_table(["", "transform", "objects/s", "MiB/s", "× copy-bck"], rows))
        goal_a = ais["copy"] / ais["identity"]
        goal_b = r["ray-data"]["cpu"] / ais["cpu"]
        lines.append(f"\nidentity / copy = {goal_a:.2f} (goal ≥ 0.8: {'met' if goal_a >= 0.8 else 'NOT met'}); "
                     f"cpu vs Ray Data = {goal_b:.2f}× (goal ≥ 1: {'met' if goal_b >= 1 else 'NOT met'})\n")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
