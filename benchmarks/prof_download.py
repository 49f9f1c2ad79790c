"""Where a download job's time goes: py-spy on every target and mountpath during one small-object job.

Sets up what `bench_download.py` does for one source (N × 64 KiB files, httpsrc or s3rver
behind the pacing proxy, `ais-ray up --targets 2 --mountpaths 2`), starts one range job, and
once it runs records every target and mountpath process with `py-spy record --format raw`
(all threads, idle ones left out) for `--seconds`. Prints the job's rate, each process's
CPU over the window, and the functions that hold the most samples, self and inclusive, per
kind of process. The raw stacks stay in `--out` for flame graphs.

    .venv/bin/python benchmarks/prof_download.py --source http
    .venv/bin/python benchmarks/prof_download.py --source s3 --seconds 20 --out /tmp/prof-s3
    .venv/bin/python benchmarks/prof_download.py --source http --no-fsync   # what fsync costs
    .venv/bin/python benchmarks/prof_download.py --backend --gil            # an S3 backend job
    .venv/bin/python benchmarks/prof_download.py --perf                     # the whole machine, kernel included (perf)
    .venv/bin/python benchmarks/prof_download.py --threads                  # CPU per thread of each process (no profiler)

Set PYTHONPATH to a copy of the package to profile that copy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ais_ray.client import AisClient, is_finished
from ais_ray.core.names import Bucket
from ais_ray.fs.store import syncfs
from ais_ray.testing.emulators import HttpSrcServer
from ais_ray.testing.linkproxy import LinkProxy

from common import ais_cluster, cpu_user_sys
from dlsources import KIB, DataSet, S3rverLegacyDes, generate, s3_env, upload

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
_FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`fn (/long/path/site-packages/aiohttp/client.py:123)` -> `aiohttp/client.py:fn`."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "/lib/python3.11/", "/ais_ray/"):
        if marker in path:
            path = ("ais_ray/" if marker == "/ais_ray/" else "") + path.split(marker, 1)[1]
            break
    return f"{path}:{m['fn']}"


def machine_ticks() -> list[int]:
    """The whole machine's CPU ticks so far (/proc/stat's "cpu" line: user, nice, system, idle, iowait, ...)."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def py_spy(pids: dict[str, int], out: Path, rate: int, seconds: float, *extra: str) -> dict[str, subprocess.Popen[bytes]]:
    """One `py-spy record` per process (raw stacks of all threads) into `out/<label>.txt`;
    each stops after `seconds`, or at SIGINT, writing what it has."""
    return {lb: subprocess.Popen([PY_SPY, "record", "--pid", str(pid), "--format", "raw", "--threads", "-r", str(rate),
                                  "-d", str(int(seconds)), "--nonblocking", *extra,
                                  "-o", str(out / f"{lb.replace('/', '-')}.txt")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for lb, pid in pids.items()}


def summarize(raw_files: list[Path], top: int) -> str:
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for f in raw_files:
        for line in f.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            frames = [short(x) for x in stack.split(";") if x and not x.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += int(n)
            self_c[frames[-1]] += int(n)
            for fr in set(frames):
                incl[fr] += int(n)
    if not total:
        return "  (no samples)\n"
    out = [f"  {total} samples"]
    out.append("  self:")
    out += [f"    {100 * c / total:5.1f}%  {fr}" for fr, c in self_c.most_common(top)]
    out.append("  inclusive (ais_ray and aiohttp/botocore frames):")
    keep = [(fr, c) for fr, c in incl.most_common() if fr.startswith(("ais_ray/", "aiohttp/", "botocore/",
                                                                     "aiobotocore/", "s3fs/", "ray/"))]
    out += [f"    {100 * c / total:5.1f}%  {fr}" for fr, c in keep[:top]]
    return "\n".join(out) + "\n"


_TID = re.compile(r'^Thread (\d+) \((?:idle|active|gil)[^)]*\): "([^"]*)"', re.M)


def thread_ticks(pid: int) -> dict[int, tuple[str, int, int]]:
    """tid -> (the OS thread name, user ticks, system ticks) of every thread of `pid`."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            raw = (task / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name = raw[raw.index("(") + 1: raw.rindex(")")]
        f = raw[raw.rindex(")") + 2:].split()
        out[int(task.name)] = (name, int(f[11]), int(f[12]))
    return out


def python_thread_names(pid: int) -> dict[int, str]:
    """tid -> the Python thread's name (`py-spy dump`), for the threads that run Python."""
    dump = subprocess.run([PY_SPY, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, text=True,
                          check=False).stdout
    return {int(tid): re.sub(r"^(io|writer):.*?([^/]*)$", r"\1:\2", name) for tid, name in _TID.findall(dump)}


def threads_summary(before: dict[str, dict[int, tuple[str, int, int]]], after: dict[str, dict[int, tuple[str, int, int]]],
                    names: dict[str, dict[int, str]], seconds: float) -> str:
    """CPU per thread (user + system seconds over the window), by kind of process, threads named
    by their Python name where they run Python, else by their OS name; summed over each kind."""
    hz = os.sysconf("SC_CLK_TCK")
    out = []
    for kind, sel in (("targets", lambda lb: "/" not in lb), ("mountpaths", lambda lb: "/" in lb)):
        sums: Counter[str] = Counter()
        sys_: Counter[str] = Counter()
        for lb in (lb for lb in after if sel(lb)):
            for tid, (os_name, u1, s1) in after[lb].items():
                _, u0, s0 = before[lb].get(tid, (os_name, 0, 0))
                key = names[lb].get(tid) or os_name
                key = re.sub(r"^(io|writer):.*$", r"\1", key)
                key = re.sub(r"_\d+$", "_N", key)
                sums[key] += (u1 - u0) / hz
                sys_[key] += (s1 - s0) / hz
        total = sum(sums.values()) + sum(sys_.values())
        out.append(f"== {kind}: {total:.2f} s of CPU in {seconds:.0f} s (user + system, s; all processes of the kind)")
        for key, u in sorted(sums.items(), key=lambda kv: -(kv[1] + sys_[kv[0]])):
            if u + sys_[key] >= 0.01:
                out.append(f"  {key:28s} {u:6.2f} + {sys_[key]:5.2f}")
    return "\n".join(out)


def perf_summary(data: Path, top: int) -> str:
    """The window's samples by process name and by symbol (self time), kernel and user."""
    out = []
    for sort in ("comm", "comm,dso,symbol"):
        rep = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", sort, "--stdio", "-g", "none",
                              "--percent-limit", "0.5"], capture_output=True, text=True, check=False).stdout
        lines = [ln for ln in rep.splitlines() if ln.strip() and not ln.startswith("#")]
        out.append(f"== by {sort}\n" + "\n".join(lines[:top]))
    return "\n\n".join(out)


async def start_job(endpoint: str, template: str, backend: str = "") -> tuple[str, float]:
    """A range job of `template` into ais://prof, or (`backend` given) a backend job of an ais bucket
    whose backend is s3://`backend`."""
    async with AisClient(endpoint) as c:
        body: dict[str, Any] = {"type": "range", "bucket": {"name": "prof"}, "template": template}
        if backend:
            await c.create_bucket(Bucket("prof"))
            await c.set_bucket_props(Bucket("prof"), {"backend_bck": {"name": backend, "provider": "aws"}})
            body = {"type": "backend", "bucket": {"name": "prof"}}
        t0 = time.perf_counter()
        return await c.download.start(body), t0


async def wait_job(endpoint: str, jid: str) -> dict[str, Any]:
    async with AisClient(endpoint) as c:
        st = await c.download.status(jid, only_active=True)
        while not is_finished(st):
            await asyncio.sleep(0.2)
            st = await c.download.status(jid, only_active=True)
        return st


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=("http", "s3"), default="http")
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=12, help="py-spy window, after 2 s of warm-up")
    p.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    p.add_argument("--no-fsync", action="store_true")
    p.add_argument("--backend", action="store_true", help="an S3 backend job (ais bucket with backend_bck) instead of a range job")
    p.add_argument("--gil", action="store_true", help="only samples holding the GIL (Python CPU, not I/O waits)")
    p.add_argument("--perf", action="store_true",
                   help="`perf record -a -g` over the window instead of py-spy: where the whole machine's CPU goes, kernel included")
    p.add_argument("--threads", action="store_true", help="CPU of every thread over the window instead of a profile")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", default="", help="keep the raw stacks here (default: a temp dir, removed)")
    ns = p.parse_args()
    if ns.perf and shutil.which("perf") is None:
        sys.exit("error: --perf needs Linux `perf` (Debian: apt-get install linux-perf)")
    ds = DataSet("small", ns.count, 64 * KIB)
    tmp = Path(tempfile.mkdtemp(prefix="prof-dl-"))
    out = Path(ns.out) if ns.out else tmp / "prof"
    out.mkdir(parents=True, exist_ok=True)
    try:
        generate(tmp / "src", (ds,))
        syncfs(str(tmp))  # the source's files on disk now: else the job's first group commits write them
        with S3rverLegacyDes(tmp / "s3rver", buckets=("small",)) as s3, \
                LinkProxy(f"127.0.0.1:{s3.port}", tmp / "proxy") as proxy, HttpSrcServer(tmp / "src") as http:
            if ns.source == "s3" or ns.backend:
                upload(s3.endpoint, tmp / "src", (ds,))
            base = http.endpoint if ns.source == "http" else "s3:/"
            template = f"{base}/small/{ds.range_}"
            with ais_cluster(str(tmp / "cluster"), env=s3_env(proxy.endpoint), cwd=str(tmp),
                             fsync=not ns.no_fsync) as cl:
                pids = {lb: pid for lb, pid in cl.pids().items() if lb.startswith("t")}
                src = s3.pid if ns.source == "s3" else http.pid
                jid, t0 = asyncio.run(start_job(cl.endpoint, template, ds.name if ns.backend else ""))
                time.sleep(2)
                cpu0 = {lb: cpu_user_sys(pid) for lb, pid in {**pids, "source": src}.items()}
                machine0 = machine_ticks()
                if ns.threads:
                    names = {lb: python_thread_names(pid) for lb, pid in pids.items()}
                    ticks0 = {lb: thread_ticks(pid) for lb, pid in pids.items()}
                    time.sleep(ns.seconds)
                    ticks1 = {lb: thread_ticks(pid) for lb, pid in pids.items()}
                elif ns.perf:
                    subprocess.run(["perf", "record", "-a", "-g", "-F", "499", "-o", str(out / "perf.data"), "--",
                                    "sleep", str(ns.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                else:
                    for sp in py_spy(pids, out, ns.rate, ns.seconds, *(["--gil"] if ns.gil else [])).values():
                        sp.wait()
                cpu = {lb: tuple(b - a for a, b in zip(cpu0[lb], cpu_user_sys(pid), strict=True))
                       for lb, pid in {**pids, "source": src}.items()}
                machine = [b - a for a, b in zip(machine0, machine_ticks(), strict=True)]
                st = asyncio.run(wait_job(cl.endpoint, jid))
                secs = time.perf_counter() - t0
        print(f"job {jid}: {st.get('finished_cnt')} done, {st.get('error_cnt')} errors, {secs:.1f} s, "
              f"{ds.count / secs:.0f} obj/s (profiled part slower: the profiler shares the 2 cores)")
        print("CPU s (user + sys) during the window: "
              + ", ".join(f"{lb} {u:.1f} + {s:.1f}" for lb, (u, s) in cpu.items()))
        # is the machine the limit? (busy: everything but idle and iowait, over all its CPUs)
        print(f"machine: {1 - (machine[3] + machine[4]) / sum(machine):.0%} busy over {os.cpu_count()} CPUs "
              f"(user {(machine[0] + machine[1]) / sum(machine):.0%}, system {machine[2] / sum(machine):.0%}, "
              f"interrupts {(machine[5] + machine[6]) / sum(machine):.0%}, idle {machine[3] / sum(machine):.0%}, "
              f"iowait {machine[4] / sum(machine):.0%})")
        if ns.threads:
            print(threads_summary(ticks0, ticks1, names, ns.seconds))
            return
        if ns.perf:
            print(perf_summary(out / "perf.data", ns.top))
            return
        for kind, sel in (("targets", lambda lb: "/" not in lb), ("mountpaths", lambda lb: "/" in lb)):
            files = [out / f"{lb.replace('/', '-')}.txt" for lb in pids if sel(lb)]
            print(f"\n== {kind} ({', '.join(lb for lb in pids if sel(lb))})")
            print(summarize([f for f in files if f.exists()], ns.top))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if ns.out:
            print(f"raw stacks in {out}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
