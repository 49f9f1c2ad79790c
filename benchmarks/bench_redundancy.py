"""Redundancy: PUT / GET / rebuild per bucket kind, and a copy's throughput during each failure drill.

    python benchmarks/bench_redundancy.py buckets --targets 3 --mountpaths 3   # plain, mirror 2/3, EC
    python benchmarks/bench_redundancy.py drills --nodes 3 --mountpaths 3 --shards 2000
    python benchmarks/bench_redundancy.py drills --endpoint URL --data-dir DIR   # a running `ais-ray up --nodes N`
    python benchmarks/bench_redundancy.py drills --quick       # 60 shards: a smoke run (buckets --quick too)

`buckets`: `ais-ray up --targets N --mountpaths M` in a temp dir; per bucket kind (plain, 2-way
and 3-way mirror, EC sliced D+P) PUT of --small-n x 1 MiB and --large-n x 64 MiB, GET latency of
1 MiB objects one at a time, and the rebuild: the main replica's file removed on disk, then one
GET (a mirror serves a local copy and restores the main, EC decodes from the other targets'
slices) — `bench_ec.py`'s measurements, with the mirror kinds added.

`drills`: the multi-node playground (`ais-ray up --nodes N`); per drill of `ais_ray/testing/drills.py`
a source of --shards shards, one copy on the healthy cluster, then one drill round (the copy with
the disruption after --delay s), each sampled every --sample s (objects copied so far, from the
job's snapshots): objects/s over time, the dip (lowest rate in a --window s sliding window vs the
healthy median) and how long the copy took. A table (markdown) and a PNG plot
(`benchmarks/redundancy-drills.png`; matplotlib, the `bench` extra).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ec import MIB, measure_bucket  # noqa: E402
from common import ais_cluster, machine_info, markdown_table, publish  # noqa: E402

from ais_ray.testing import drills as D  # noqa: E402

PNG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redundancy-drills.png")


# ---- buckets ---------------------------------------------------------------------------------------
def bench_buckets(args: argparse.Namespace) -> list[list[str]]:
    d, p = (int(x) for x in args.ec.split("+"))
    kinds: list[tuple[str, dict[str, Any] | None]] = [("plain", None)]
    kinds += [(f"mirror {n}-way", {"mirror": {"enabled": True, "copies": n}}) for n in (2, 3) if n <= args.mountpaths]
    kinds.append((f"EC {d}+{p}", {"ec": {"enabled": True, "data_slices": d, "parity_slices": p, "objsize_limit": 0}}))
    small, large = os.urandom(MIB), os.urandom(64 * MIB)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp, \
            ais_cluster(os.path.join(tmp, "ais"), targets=args.targets, mountpaths=args.mountpaths,
                        fsync=not args.no_fsync) as c:
        for i, (label, props) in enumerate(kinds):
            m = measure_bucket(c.endpoint, f"b{i}", props, args, small, large)
            rows.append([label, f"{m['small_s']:.1f}", f"{m['large_mib_s']:.1f}", f"{m['get_ms']:.1f}",
                         f"{m['get_p99_ms']:.1f}", "-" if m["rebuild_ms"] is None else f"{m['rebuild_ms']:.1f}"])
    return rows


# ---- drills ----------------------------------------------------------------------------------------
def copied(ep: str, xid: str) -> dict[str, int] | None:
    """Objects each target's share of the copy job has done so far (None: no answer)."""
    try:
        r = requests.get(f"{ep}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid, "Kind": ""}, timeout=30)
    except requests.RequestException:
        return None
    if r.status_code != 200:
        return None
    return {tid: sum(int(s["stats"]["loc-objs"]) for s in snaps) for tid, snaps in r.json().items()}


class Sampler:
    """(seconds since the copy started, objects done) every `every` s, on a thread, until stopped.

    Objects done is the sum of every share's last count: a lost target's share stops answering
    but what it copied before stays counted (its last count), so the curve shows the dip and the
    new owners' catch-up rather than a drop. An object the lost share had copied and its new owner
    copies again (skipped as identical) counts twice: the sum is capped at `total`."""

    def __init__(self, ep: str, every: float, total: int = 0) -> None:
        self.ep, self.every, self.total = ep, every, total
        self.points: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0

    def start(self, xid: str) -> None:
        self.t0 = t0 = time.monotonic()

        def run() -> None:
            last: dict[str, int] = {}
            while not self._stop.is_set():
                shares = copied(self.ep, xid)
                if shares is not None:
                    last.update(shares)
                    n = sum(last.values())
                    self.points.append((time.monotonic() - t0, min(n, self.total) if self.total else n))
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.points


def rates(points: list[tuple[float, int]], window: float) -> list[tuple[float, float]]:
    """Objects/s over a sliding `window` s, at each sample (until the last object counted)."""
    out = []
    for i, (t, n) in enumerate(points):
        j = next(k for k in range(i, -1, -1) if t - points[k][0] >= window or k == 0)
        if t > points[j][0]:
            out.append((t, (n - points[j][1]) / (t - points[j][0])))
    last = min((i for i, (_, n) in enumerate(points) if n == points[-1][1]), default=0)  # the last object counted
    return out[: max(last, 1)]


def per_second(points: list[tuple[float, int]]) -> list[int]:
    """Objects copied in each whole second since the copy started (the series of the table)."""
    if not points:
        return []
    done = [max((n for t, n in points if t <= sec), default=0) for sec in range(int(points[-1][0]) + 2)]
    last = next(i for i, n in enumerate(done) if n == done[-1])  # up to the last object counted
    return [b - a for a, b in zip(done, done[1 : last + 1])]


def dip(series: list[int], base: float, at: float) -> tuple[int, int, int]:
    """From second `at` on: seconds below half the healthy rate `base`, the lowest second's rate, and
    the second the rate was back at half or more after the dip (-1: not before the copy ended)."""
    after = series[int(at):]
    below = sum(1 for r in after if r < 0.5 * base)
    low = min(after, default=0)
    first = next((i for i, r in enumerate(after) if r < 0.5 * base), None)
    back = -1 if first is None else next((int(at) + i for i in range(first, len(after)) if after[i] >= 0.5 * base), -1)
    return below, low, back


def one_copy(c: D.Cluster, drill: str, src_digests: dict[str, str], args: argparse.Namespace,
             disrupt: bool) -> dict[str, Any]:
    sampler = Sampler(c.endpoint, args.sample, len(src_digests))
    t0 = time.monotonic()
    if disrupt:
        res = D.round_(c, drill, src_digests, random.Random(args.seed), max_delay=args.delay,
                       delay=args.delay, on_copy=sampler.start)
        seconds = res.copy_s
    else:
        xid = D.start_copy(c, drill)
        sampler.start(xid)
        c.cli("wait", xid, "--timeout", D.WAIT)
        seconds = time.monotonic() - t0
        D.expect(f"{D.DST} listed", D.names(c, D.DST), sorted(src_digests))
        c.cli("rmb", D.DST)
    pts = sampler.stop()
    rs = rates(pts, args.window)
    series = per_second(pts)
    # the job's tail: from the last object counted to its end (a lost node: waiting for it to leave
    # placement, its objects adopted and its destinations re-placed)
    tail = seconds - (sampler.t0 - t0) - len(series)
    return {"seconds": seconds, "points": pts, "rates": rs, "per_second": series, "tail_s": max(tail, 0.0),
            "objs": len(src_digests)}


@contextmanager
def drill_cluster(args: argparse.Namespace, tmp: str) -> Iterator[D.Cluster]:
    """The running cluster of --endpoint / --data-dir, or a new `ais-ray up --nodes N` for this run."""
    if args.endpoint:
        yield D.Cluster(args.endpoint, {**os.environ, "AIS_ENDPOINT": args.endpoint}, args.data_dir)
        return
    with ais_cluster(os.path.join(tmp, "ais"), nodes=args.nodes, mountpaths=args.mountpaths,
                     fsync=not args.no_fsync) as ac:
        yield D.Cluster(ac.endpoint, {**os.environ, "AIS_ENDPOINT": ac.endpoint}, ac.data_dir)


def bench_drills(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, Any]]:
    out: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp, drill_cluster(args, tmp) as c:
        for drill in args.drill:
            digests = D.setup(c, drill, args.shards, tmp)
            healthy = one_copy(c, drill, digests, args, disrupt=False)
            during = one_copy(c, drill, digests, args, disrupt=True)
            out[drill] = {"healthy": healthy, "drill": during}
            base = statistics.median(r for _, r in healthy["rates"]) if healthy["rates"] else 0.0
            low = [(t, r) for t, r in during["rates"] if t > args.delay]
            dip_t, lowest = min(low, key=lambda x: x[1]) if low else (0.0, base)
            below, _, back = dip(during["per_second"], base, args.delay)
            rows.append([drill, f"{args.shards / healthy['seconds']:.0f}", f"{healthy['seconds']:.1f}",
                         f"{args.shards / during['seconds']:.0f}", f"{during['seconds']:.1f}",
                         f"{lowest:.0f} ({lowest / base:.0%} of healthy) at {dip_t:.1f}s" if base else "-",
                         str(below), "-" if back < 0 and not below else f"{back} s" if back >= 0 else "end",
                         f"{during['tail_s']:.0f} (healthy {healthy['tail_s']:.0f})"])
            D.rmb(c, D.SRC[drill])
    return rows, out


def plot(out: dict[str, Any], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(out), 1, figsize=(8, 2.6 * len(out)), squeeze=False)
    for ax, (drill, r) in zip(axes[:, 0], out.items()):
        for key, style in (("healthy", "-"), ("drill", "-")):
            pts = r[key]["rates"]
            ax.plot([t for t, _ in pts], [v for _, v in pts], style, label=f"{key} ({r[key]['seconds']:.1f} s)")
        ax.axvline(args.delay, color="grey", linestyle=":", label="disruption")
        ax.set_title(f"{drill}: copy of {args.shards} shards, objects/s ({args.window:g} s window)")
        ax.set_xlabel("s since the copy started")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(PNG, dpi=90)
    print(f"plot: {PNG}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["buckets", "drills"])
    ap.add_argument("--targets", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--mountpaths", type=int, default=3)
    ap.add_argument("--ec", default="1+1", help="D+P of the EC bucket (D+P+1 targets)")
    ap.add_argument("--small-n", type=int, default=None, help="default 200; --quick 20")
    ap.add_argument("--large-n", type=int, default=None, help="default 4; --quick 1")
    ap.add_argument("--get-n", type=int, default=None, help="default 100; --quick 20")
    ap.add_argument("--rebuild-n", type=int, default=None, help="default 10; --quick 3")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--drill", nargs="+", default=list(D.DRILLS), choices=D.DRILLS)
    ap.add_argument("--shards", type=int, default=None, help="default 2000; --quick 60")
    ap.add_argument("--delay", type=float, default=2.0, help="the disruption, s after the copy started")
    ap.add_argument("--sample", type=float, default=0.25)
    ap.add_argument("--window", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--endpoint", default="", help="drills: a running cluster instead of a new one ...")
    ap.add_argument("--data-dir", default="", help="... and its data dir (`ais-ray up --nodes N`: nodes to kill)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run that proves it works")
    args = ap.parse_args()
    for a, full, quick in (("small_n", 200, 20), ("large_n", 4, 1), ("get_n", 100, 20), ("rebuild_n", 10, 3),
                           ("shards", 2000, 60)):
        if getattr(args, a) is None:
            setattr(args, a, quick if args.quick else full)
    info = machine_info(args.tmp)
    t0 = time.monotonic()
    if args.part == "buckets":
        rows = bench_buckets(args)
        text = (f"{args.targets} targets x {args.mountpaths} mountpaths, fsync {'off' if args.no_fsync else 'on'}\n\n"
                + markdown_table(["bucket", "PUT 1 MiB obj/s", "PUT 64 MiB MiB/s", "GET 1 MiB p50 ms", "p99 ms",
                                  "rebuild GET 1 MiB ms (main lost)"], rows))
        results: dict[str, Any] = {"rows": rows}
    else:
        rows, results = bench_drills(args)
        text = (f"{args.nodes} nodes x {args.mountpaths} mountpaths, {args.shards} shards, disruption at "
                f"{args.delay:g} s, fsync {'off' if args.no_fsync else 'on'}\n\n"
                + markdown_table(["drill", "healthy obj/s", "healthy s", "drill obj/s", "drill s",
                                  f"lowest rate ({args.window:g} s window)", "s below half the healthy rate",
                                  "back at half or more at", "s after the last object counted"], rows)
                + "\n\nobjects copied per second (healthy / drill):\n"
                + "\n".join(f"- {d}: `{r['healthy']['per_second']}` / `{r['drill']['per_second']}`"
                             for d, r in results.items()))
    print(text)
    info["seconds"] = round(time.monotonic() - t0)
    info["loadavg_at_end"] = os.getloadavg()
    publish(f"redundancy-{args.part}", info, {"args": vars(args), "info": info, "results": results}, text)
    if args.part == "drills":  # after the figures are out: a plotting failure loses nothing
        plot(results, args)


if __name__ == "__main__":
    main()
