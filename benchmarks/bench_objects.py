"""PUT and GET throughput of ais-ray's object data path, beside a plain file server and the raw disk.

In one run, on one filesystem (a temp dir under --tmp, default /tmp):
  disk raw       each small file written + fsynced (--concurrency threads); one sequential file of the
                 large set's total size, 1 MiB buffered writes + fsync; O_DIRECT reads (the disk itself)
  plain server   aiohttp in its own process: FileResponse (sendfile) GETs, PUT = write + fsync + rename
  ais-ray        `ais-ray up --targets 2 --mountpaths 2` (fsync on), through the REST API (307s),
                 driven by the project's AisClient (aiohttp) and by the `aistore` SDK (a thread pool);
                 the SDK's `get_reader(direct=True)` (client-side HRW to the target, no Serve hop) too
Sets: small (1000 x 1 MiB) and large (4 x 256 MiB), --concurrency requests in flight. GETs are
warm (just PUT, so in the page cache: this measures the servers) and, for the large set, cold
(evicted from the page cache first with posix_fadvise: this measures the disk, or whatever
caches beneath a virtual disk). The servers run side by side and every run of
an op rotates through them, so load from other users of the machine hits them alike. Peak RSS
(every 100 ms) and CPU time of every server process are recorded per op. Prints markdown
tables; writes everything to benchmarks/out/bench_objects-<time>.json.

    python benchmarks/bench_objects.py                   # full sizes, ~4 min on 2 cores
    python benchmarks/bench_objects.py --no-fsync-rows   # + `ais-ray up --no-fsync` vs a no-fsync plain server, ~6 min
    python benchmarks/bench_objects.py --quick           # 200 x 1 MiB, 2 x 64 MiB, one run each, ~1 min
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ais_ray.client import AisClient
from ais_ray.core.lom import obj_fqn
from ais_ray.core.names import Bucket
from ais_ray.core.sizes import parse_size

import diskraw
from clients import AisClientDriver, PlainClient, PlainRequests, SdkDriver, TargetRequests, timed_pool
from common import MIB, ProcSampler, ais_cluster, machine_info, median_run, summarize, write_json
from report import render

PLAIN_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plainserver.py")
CLIENT = "bench client"


@dataclass(frozen=True)
class Obj:
    name: str
    path: str
    size: int


@dataclass
class Setup:
    """One server + client pair; `procs` are the sampler labels of its server processes."""

    name: str
    procs: list[str]
    put: Callable[[Obj], Awaitable[int]] | None
    get: Callable[[Obj], Awaitable[int]]
    evict_large: Callable[[], object] | None = None


def make_sources(root: str, prefix: str, count: int, size: int) -> list[Obj]:
    """`count` files of `size` random bytes (each different) under root/prefix."""
    os.makedirs(os.path.join(root, prefix), exist_ok=True)
    out = []
    for i in range(count):
        name = f"{prefix}/obj-{i:05d}"
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                left -= f.write(os.urandom(min(left, 16 * MIB)))
        out.append(Obj(name, path, size))
    return out


class Bench:
    def __init__(self, args: argparse.Namespace, root: str) -> None:
        self.args, self.root = args, root
        self.t0 = time.monotonic()
        self.results: dict[str, dict[str, dict[str, Any]]] = {}
        self.usage: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        src = os.path.join(root, "src")
        self.small = make_sources(src, "small", args.small_count, args.small_size)
        self.large = make_sources(src, "large", args.large_count, args.large_size)
        os.sync()  # no dirty source pages left to flush behind a measurement

    def log(self, msg: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def runs_of(self, op: str) -> int:
        n = self.args.get_large_repeat if op == "get_large" else self.args.repeat
        if n > 1 and time.monotonic() - self.t0 > self.args.budget:
            self.notes.append(f"{op}: one run only (past the {self.args.budget:.0f} s budget)")
            return 1
        return n

    def record(self, setup: str, op: str, runs: list[Any]) -> None:
        self.results.setdefault(setup, {})[op] = {**summarize(runs), "loadavg_1m": os.getloadavg()[0]}
        m = median_run(runs)
        self.log(f"{setup:32} {op:15} {m.obj_s:8.1f} obj/s {m.mib_s:8.1f} MiB/s  ({len(runs)} runs)")

    # ---- the disk itself -----------------------------------------------------------------------
    async def disk_raw(self) -> None:
        d = os.path.join(self.root, "raw")
        os.makedirs(d)
        a = self.args
        names = [os.path.join(d, f"small-{i:05d}") for i in range(a.small_count)]
        seq, size = os.path.join(d, "seq"), a.large_count * a.large_size
        for op, fn in (("put_small", lambda: diskraw.write_files_fsync(names, a.small_size, a.concurrency)),
                       ("get_small_cold", lambda: diskraw.read_files_direct(names, a.concurrency)),
                       ("put_large", lambda: diskraw.seq_write(seq, size)),
                       ("get_large_cold", lambda: diskraw.seq_read_direct(seq))):
            self.record("disk raw", op, [await asyncio.to_thread(fn) for _ in range(self.runs_of(op))])
        shutil.rmtree(d)

    # ---- servers side by side, every op rotating through them -----------------------------------
    async def compare(self, setups: list[Setup], sampler: ProcSampler) -> None:
        for op, objs in (("put_small", self.small), ("get_small", self.small), ("put_large", self.large),
                         ("get_large", self.large), ("get_large_cold", self.large)):
            todo = [s for s in setups if (s.put if op.startswith("put") else s.get) and
                    (s.evict_large or not op.endswith("cold"))]
            if not todo:  # no setup can evict (bench_s3.py): no cold GET row
                continue
            runs: dict[str, list[Any]] = {s.name: [] for s in todo}
            for i in range(self.runs_of(op)):
                for s in todo[i % len(todo):] + todo[:i % len(todo)]:
                    fn = s.put if op.startswith("put") else s.get
                    assert fn is not None
                    if op.endswith("cold") and s.evict_large:
                        s.evict_large()
                    jobs = [lambda o=o, fn=fn: fn(o) for o in objs]
                    with sampler.phase(f"{s.name}: {op}", [*s.procs, CLIENT]):
                        runs[s.name].append(await timed_pool(jobs, self.args.concurrency))
            for s in todo:
                self.record(s.name, op, runs[s.name])
        for phase, uses in sampler.phases.items():
            self.usage[phase] = {lb: {"pid": u.pid, "rss_before": u.rss_before, "rss_peak": u.rss_peak,
                                      "growth": u.growth, "cpu_s": u.cpu_s} for lb, u in uses.items()}

    async def round(self, fsync: bool, sdk: bool) -> None:
        """Start a plain server and an ais-ray cluster (fsync on or off), compare, stop both."""
        tag = "" if fsync else " --no-fsync"
        async with AsyncExitStack() as stack:
            plain_dir = os.path.join(self.root, "plain" + tag.replace(" --", "-"))
            url, plain_pid = await stack.enter_async_context(plain_server(plain_dir, fsync))
            plain = PlainClient(url)
            stack.push_async_callback(plain.close)
            r_url, redirect_pid = await stack.enter_async_context(plain_server("", fsync, redirect_to=url))
            plain307 = PlainClient(r_url)
            stack.push_async_callback(plain307.close)
            self.log(f"ais-ray up{tag} ...")
            cluster = stack.enter_context(ais_cluster(os.path.join(self.root, "ais" + tag.replace(" --", "-")), fsync=fsync))
            pids = cluster.pids()
            mountpaths = [m["path"] for t in cluster.stats()["targets"].values() for m in t["mountpaths"]]
            self.log(f"ais-ray is up at {cluster.endpoint}: {pids}")
            if missing := {"serve-proxy", "serve-replica", "ais-proxy"} - set(pids):
                self.notes.append(f"ais-ray{tag}: no process found for {sorted(missing)}: its RSS and CPU are not counted")
            ais = await stack.enter_async_context(AisClient(cluster.endpoint))
            bck, sdk_bck = Bucket("bench"), Bucket("bench-sdk")
            await ais.create_bucket(bck)
            drv = AisClientDriver(ais, bck)
            setups = [
                Setup("plain server" + tag, ["plain server"], lambda o: plain.put_file(o.name, o.path),
                      lambda o: plain.get(o.name, o.size),
                      (lambda: diskraw.evict_tree(os.path.join(plain_dir, "large"))) if fsync else None),
                Setup("plain server" + tag + " (307)", ["plain redirector", "plain server"], None,
                      lambda o: plain307.get(o.name, o.size),
                      (lambda: diskraw.evict_tree(os.path.join(plain_dir, "large"))) if fsync else None),
                Setup(f"ais-ray{tag} (AisClient)", list(pids), lambda o: drv.put_file(o.name, o.path),
                      lambda o: drv.get(o.name, o.size), lambda: _evict_objects(mountpaths, bck, self.large)),
                Setup(f"ais-ray{tag} (AisClient, direct GET)", list(pids), None,
                      lambda o: drv.get_direct(o.name, o.size), lambda: _evict_objects(mountpaths, bck, self.large)),
            ]
            if sdk:
                sd = SdkDriver(cluster.endpoint, sdk_bck.name, self.args.concurrency)
                stack.callback(sd.close)
                sd.create_bucket()
                preq, preq307 = PlainRequests(url, self.args.concurrency), PlainRequests(r_url, self.args.concurrency)
                stack.callback(preq.close)
                stack.callback(preq307.close)
                treq = TargetRequests(cluster.endpoint, sdk_bck.name, self.args.concurrency)  # the SDK's direct URL, bare
                stack.callback(treq.close)
                setups += [
                    Setup("plain server" + tag + " (requests)", ["plain server"],
                          lambda o: preq.put_file("req-" + o.name, o.path), lambda o: preq.get("req-" + o.name, o.size),
                          (lambda: diskraw.evict_tree(os.path.join(plain_dir, "req-large"))) if fsync else None),
                    Setup("plain server" + tag + " (307, requests)", ["plain redirector", "plain server"], None,
                          lambda o: preq307.get("req-" + o.name, o.size),
                          (lambda: diskraw.evict_tree(os.path.join(plain_dir, "req-large"))) if fsync else None),
                    Setup(f"ais-ray{tag} (SDK)", list(pids), lambda o: sd.put(o.name, o.path),
                          lambda o: sd.get(o.name, o.size), lambda: _evict_objects(mountpaths, sdk_bck, self.large)),
                    Setup(f"ais-ray{tag} (SDK, direct GET)", list(pids), None, lambda o: sd.get(o.name, o.size, direct=True),
                          lambda: _evict_objects(mountpaths, sdk_bck, self.large)),
                    Setup(f"ais-ray{tag} (requests, direct GET)", list(pids), None, lambda o: treq.get(o.name, o.size),
                          lambda: _evict_objects(mountpaths, sdk_bck, self.large)),
                ]
            sampler = ProcSampler({**pids, "plain server": plain_pid, "plain redirector": redirect_pid, CLIENT: os.getpid()}, solo={CLIENT}).start()
            stack.callback(sampler.stop)
            await self.compare(setups, sampler)
            self.log("ais-ray down ...")


@asynccontextmanager
async def plain_server(d: str, fsync: bool, redirect_to: str = "") -> AsyncIterator[tuple[str, int]]:
    """The baseline server in its own process, over `d` (removed afterwards): (URL, pid).
    With `redirect_to`: the redirecting peer instead, 307 to that server (`d` unused)."""
    if redirect_to:
        argv = ["--redirect-to", redirect_to]
    else:
        os.makedirs(d)
        argv = ["--dir", d, *([] if fsync else ["--no-fsync"])]
    proc = subprocess.Popen([sys.executable, PLAIN_SERVER, *argv], stdout=subprocess.PIPE, text=True)
    try:
        url = (await asyncio.to_thread(proc.stdout.readline) if proc.stdout else "").strip()
        if not url:
            raise RuntimeError("the plain server did not start")
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if not redirect_to:
            shutil.rmtree(d, ignore_errors=True)


def _evict_objects(mountpaths: list[str], bck: Bucket, objs: list[Obj]) -> None:
    """Drop objects from the page cache wherever they live (each is on exactly one mountpath)."""
    for mp in mountpaths:
        for o in objs:
            if os.path.exists(fqn := obj_fqn(mp, bck, o.name)):
                diskraw.evict(fqn)


async def run_all(b: Bench) -> None:
    await b.disk_raw()
    await b.round(fsync=True, sdk=True)
    if b.args.no_fsync_rows:
        await b.round(fsync=False, sdk=False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small-count", type=int, default=1000)
    p.add_argument("--small-size", type=parse_size, default=parse_size("1MiB"))
    p.add_argument("--large-count", type=int, default=4)
    p.add_argument("--large-size", type=parse_size, default=parse_size("256MiB"))
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (aiohttp tasks, SDK threads)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each op; the median is reported")
    p.add_argument("--get-large-repeat", type=int, default=5, help="runs of the (short) warm large GET")
    p.add_argument("--budget", type=float, default=360, help="seconds; ops starting later run once")
    p.add_argument("--no-fsync-rows", action="store_true",
                   help="then compare `ais-ray up --no-fsync` (AisClient) with a plain server without fsync")
    p.add_argument("--quick", action="store_true", help="200 x 1 MiB, 2 x 64 MiB, one run each")
    p.add_argument("--tmp", default="/tmp", help="parent of the temp dir: the filesystem under test")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = p.parse_args(argv)
    if args.quick:
        args.small_count, args.large_count, args.large_size = 200, 2, 64 * MIB
        args.repeat = args.get_large_repeat = 1
    return args


def run_bench(name: str, argv: list[str] | None, make: Callable[[argparse.Namespace, str], Bench],
              run: Callable[[Bench], Awaitable[None]],
              report: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]) -> int:
    """Sources in a temp dir, `run` the bench, print `report`'s tables, keep the JSON (bench_s3.py too)."""
    args = parse_args(argv)
    root = tempfile.mkdtemp(prefix="ais-bench-", dir=args.tmp)
    info = machine_info(root)
    t0 = time.monotonic()
    try:
        b = make(args, root)
        b.log(f"sources ready in {root}")
        asyncio.run(run(b))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - t0, 1)
    info["loadavg_at_end"] = os.getloadavg()
    out = {"command": " ".join(["python", *sys.argv]), "args": vars(args), "machine": info, "results": b.results,
           "usage": b.usage, "notes": b.notes}
    out["markdown"], out["goal"] = report(out)
    print(out["markdown"])
    print(f"\n(json: {write_json(name, out)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_bench("bench_objects", argv, Bench, run_all, render)


if __name__ == "__main__":
    sys.exit(main())
