"""PUT and GET throughput through the S3 API (`/s3`) beside the native API and a plain file server.

The same sets as bench_objects.py (1000 x 1 MiB and 4 x 256 MiB, --concurrency in flight, warm
GETs), the same rotation of servers per run (bench_objects.Bench.compare), one cluster
(`ais-ray up --targets 2 --mountpaths 2`, fsync on) and these clients:
  plain server        aiohttp against benchmarks/plainserver.py (sendfile GET, write+fsync+rename PUT)
  native (AisClient)  aiohttp, PUT/GET /v1/objects with the 307 to the mountpath
  native (SDK)        the `aistore` SDK, a thread per request in flight
  S3 (aiohttp)        the same aiohttp client as the plain server's, at /s3/<bucket>/<key> (unsigned):
                      the gateway streams the bytes to/from the owning mountpath (no 307)
  S3 (boto3)          boto3 put_object / get_object, a thread per request in flight
  S3 (s5cmd)          one `s5cmd --numworkers <concurrency> cp` of the whole set up, and down into a
                      directory (GETs write the files: /dev/shm when it exists, so not the disk)
Goal (issue 19): S3 GET/PUT ≥ 0.9× the native API — S3 (aiohttp) against native (AisClient), the
same client; S3 (boto3) against native (SDK), both blocking HTTP clients on threads.
Writes benchmarks/out/bench_s3-<time>.json and prints markdown tables.

    python benchmarks/bench_s3.py            # full sizes
    python benchmarks/bench_s3.py --quick    # 200 x 1 MiB, 2 x 64 MiB, one run each
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from typing import Any

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket

from bench_objects import CLIENT, Bench, Setup, plain_server, run_bench
from clients import CHUNK, AisClientDriver, PlainClient, SdkDriver, ShortRead
from common import Measurement, ProcSampler, Stopwatch, ais_cluster, markdown_table

GOAL = 0.9
OPS = ("put_small", "get_small", "put_large", "get_large")
PAIRS = (("S3 (aiohttp)", "native (AisClient)"), ("S3 (boto3)", "native (SDK)"), ("S3 (s5cmd)", "native (AisClient)"))


class Boto3Driver:
    """boto3 at the S3 endpoint: put_object from the file, get_object read in 1 MiB chunks and dropped."""

    def __init__(self, endpoint: str, bucket: str, concurrency: int) -> None:
        import boto3
        from botocore.config import Config

        self.s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x",
                               region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                                      max_pool_connections=concurrency))
        self.bucket = bucket
        self.pool = ThreadPoolExecutor(concurrency)

    def close(self) -> None:
        self.pool.shutdown()

    def _put(self, name: str, path: str) -> int:
        with open(path, "rb") as f:
            self.s3.put_object(Bucket=self.bucket, Key=name, Body=f)
        return os.path.getsize(path)

    def _get(self, name: str, size: int) -> int:
        body = self.s3.get_object(Bucket=self.bucket, Key=name)["Body"]
        n = sum(len(c) for c in body.iter_chunks(CHUNK))
        if n != size:
            raise ShortRead(f"boto3 GET {name}: {n} of {size} bytes")
        return n

    async def put(self, name: str, path: str) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._put, name, path)

    async def get(self, name: str, size: int) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._get, name, size)


class S3Bench(Bench):
    async def round(self, fsync: bool = True, sdk: bool = True) -> None:
        async with AsyncExitStack() as stack:
            url, plain_pid = await stack.enter_async_context(plain_server(os.path.join(self.root, "plain"), True))
            plain = PlainClient(url)
            stack.push_async_callback(plain.close)
            self.log("ais-ray up ...")
            cluster = stack.enter_context(ais_cluster(os.path.join(self.root, "ais")))
            pids = cluster.pids()
            s3_url = f"{cluster.endpoint}/s3"
            ais = await stack.enter_async_context(AisClient(cluster.endpoint))
            for name in ("bench", "bench-s3", "bench-boto3", "bench-s5cmd"):
                await ais.create_bucket(Bucket(name))
            drv = AisClientDriver(ais, Bucket("bench"))
            sd = SdkDriver(cluster.endpoint, "bench-sdk", self.args.concurrency)
            stack.callback(sd.close)
            sd.create_bucket()
            s3 = PlainClient(f"{s3_url}/bench-s3")  # the plain server's client, at the S3 API
            stack.push_async_callback(s3.close)
            bo = Boto3Driver(s3_url, "bench-boto3", self.args.concurrency)
            stack.callback(bo.close)
            setups = [
                Setup("plain server", ["plain server"], lambda o: plain.put_file(o.name, o.path),
                      lambda o: plain.get(o.name, o.size)),
                Setup("native (AisClient)", list(pids), lambda o: drv.put_file(o.name, o.path),
                      lambda o: drv.get(o.name, o.size)),
                Setup("native (SDK)", list(pids), lambda o: sd.put(o.name, o.path), lambda o: sd.get(o.name, o.size)),
                Setup("S3 (aiohttp)", list(pids), lambda o: s3.put_file(o.name, o.path), lambda o: s3.get(o.name, o.size)),
                Setup("S3 (boto3)", list(pids), lambda o: bo.put(o.name, o.path), lambda o: bo.get(o.name, o.size)),
            ]
            sampler = ProcSampler({**pids, "plain server": plain_pid, CLIENT: os.getpid()}, solo={CLIENT}).start()
            stack.callback(sampler.stop)
            await self.compare(setups, sampler)
            await asyncio.to_thread(self.s5cmd, s3_url)
            self.log("ais-ray down ...")

    def s5cmd(self, endpoint: str) -> None:
        """s5cmd moves a whole set per command: one timed `cp` up, one down, per run."""
        exe = shutil.which("s5cmd", path=os.path.dirname(sys.executable)) or shutil.which("s5cmd")
        if exe is None:
            self.notes.append("s5cmd not installed: no S3 (s5cmd) row")
            return
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1"}
        env.pop("AWS_CA_BUNDLE", None)
        sink_root = "/dev/shm" if os.path.isdir("/dev/shm") else self.root
        for op, objs in (("put_small", self.small), ("get_small", self.small), ("put_large", self.large),
                         ("get_large", self.large)):
            prefix = objs[0].name.split("/")[0]
            runs = []
            for _ in range(self.runs_of(op)):
                sink = tempfile.mkdtemp(prefix="s5-", dir=sink_root)
                src = (os.path.join(self.root, "src", prefix, "*") if op.startswith("put")
                       else f"s3://bench-s5cmd/{prefix}/*")
                dst = f"s3://bench-s5cmd/{prefix}/" if op.startswith("put") else sink + "/"
                cmd = [exe, "--endpoint-url", endpoint, "--numworkers", str(self.args.concurrency), "cp", src, dst]
                try:
                    with Stopwatch() as sw:
                        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
                    if p.returncode != 0:
                        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr[-2000:]}")
                    runs.append(Measurement(len(objs), sum(o.size for o in objs), sw.seconds))
                finally:
                    shutil.rmtree(sink, ignore_errors=True)
            self.record("S3 (s5cmd)", op, runs)


def render(out: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    res, a, m = out["results"], out["args"], out["machine"]
    native = res.get("native (AisClient)", {})
    rows = []
    for setup, ops in res.items():
        cells = [setup]
        for op in OPS:
            r, base = ops.get(op), native.get(op)
            cells.append(f"{r['mib_s']:,.0f} ({r['mib_s'] / base['mib_s']:.2f}×)" if r and base else "—")
        rows.append(cells)
    goal: dict[str, Any] = {}
    for s3, nat in PAIRS:
        for op in OPS:
            r, base = res.get(s3, {}).get(op), res.get(nat, {}).get(op)
            if r and base:
                goal[f"{s3} / {nat}: {op}"] = round(r["mib_s"] / base["mib_s"], 2)
    main = [v for k, v in goal.items() if not k.startswith("S3 (s5cmd)")]
    met = bool(main) and min(main) >= GOAL
    lines = [f"{m['date']}; {m['cpus']} cores, load average {', '.join(f'{x:.1f}' for x in m['loadavg_at_start'])} "
             f"at start, {', '.join(f'{x:.1f}' for x in m.get('loadavg_at_end', ()))} at end; "
             f"{a['small_count']} × {a['small_size'] // (1 << 20)} MiB and {a['large_count']} × "
             f"{a['large_size'] // (1 << 20)} MiB; concurrency {a['concurrency']}; median of {a['repeat']} runs; "
             f"{m.get('seconds', '?')} s in all.", "",
             "MiB/s (× native AisClient):", "",
             markdown_table(["client", "PUT 1 MiB", "GET 1 MiB", "PUT large", "GET large"], rows), "",
             "S3 / native, the same kind of client:", "",
             markdown_table(["pair: op", "ratio"], [[k, f"{v:.2f}×"] for k, v in goal.items()]), "",
             f"Goal: S3 GET/PUT ≥ {GOAL}× native (aiohttp and boto3/SDK pairs) — "
             f"{'met' if met else 'NOT met'} (lowest {min(main):.2f}×)." if main else "Goal: not measured."]
    lines += [f"Note: {n}" for n in dict.fromkeys(out.get("notes", ()))]
    return "\n".join(lines), {"ratios": goal, "met": met}


def main(argv: list[str] | None = None) -> int:
    return run_bench("bench_s3", argv, S3Bench, lambda b: b.round(), render)


if __name__ == "__main__":
    sys.exit(main())
