"""Membership: time from a node joining / dying to a new Smap; GET latency while the cluster
changes vs idle; rebalance throughput beside `rsync` of the same files (issue 11 part 8).

    .venv/bin/python benchmarks/bench_membership.py --quick          # 1,000 x 64 KiB: a few minutes
    .venv/bin/python benchmarks/bench_membership.py [--objects 10000] [--size 64KiB] [--get-seconds 10]
    .venv/bin/python benchmarks/bench_membership.py --objects 8 --size 256MiB     # the issue's large set

`rsync` comes from `scripts/install-bench-tools.sh` (`make setup-bench`); without it that row is missing.

Starts `ais-ray up --nodes 3` in a temp dir, writes the objects, then:
1. GET p50/p99 and errors for `--get-seconds` on an idle cluster (one reader, random objects);
2. a 4th node joins (`ray start ... ais_target_t4`): seconds from `ray start` to a Smap with t4,
   and, when the cluster has the global rebalance (the reb lane), until it ended; GETs run the
   whole time (p50/p99/errors during the change); objects and bytes that moved to t4 over the
   rebalance time, beside `rsync -a` of exactly those files between two directories of the same disk;
3. t2's raylet SIGKILLed: seconds to the Smap marking it offline, and from `ray start` of a
   replacement raylet to online again.
Results: a markdown table on stdout and benchmarks/out/membership-<time>.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ais_ray.core.sizes import parse_size  # noqa: E402
from ais_ray.core.smap import FLAG_OFFLINE, Smap  # noqa: E402
from ais_ray.deploy import recorded_raylets, start_raylet  # noqa: E402
from benchmarks.common import MIB, ais_cluster, machine_info, markdown_table, publish  # noqa: E402

BUCKET = "bench-membership"


def smap(endpoint: str) -> Smap:
    with urllib.request.urlopen(f"{endpoint}/v1/daemon?what=smap", timeout=30) as r:
        return Smap.from_wire(json.load(r))


def wait_smap(endpoint: str, ok: Any, timeout: float = 300.0) -> float:
    t0 = time.monotonic()
    while not ok(smap(endpoint)):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("Smap change not seen")
        time.sleep(0.1)
    return time.monotonic() - t0


class Reader(threading.Thread):
    """GETs random objects back to back; latencies and errors, until stopped."""

    def __init__(self, endpoint: str, names: list[str]) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.names = endpoint, names
        self.lat: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        rnd = random.Random(1)
        with requests.Session() as s:
            while not self.stop.is_set():
                name = rnd.choice(self.names)
                t0 = time.perf_counter()
                try:
                    r = s.get(f"{self.endpoint}/v1/objects/{BUCKET}/{name}", timeout=60)
                    if r.status_code != 200:
                        raise OSError(f"{name}: {r.status_code}")
                    self.lat.append(time.perf_counter() - t0)
                except (requests.RequestException, OSError):
                    self.errors += 1

    def result(self) -> dict[str, Any]:
        lat = sorted(self.lat)
        pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else None)  # noqa: E731
        return {"gets": len(lat), "errors": self.errors, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "mean_ms": statistics.fmean(lat) * 1000 if lat else None}


def reading(endpoint: str, names: list[str], fn: Any) -> tuple[Any, dict[str, Any]]:
    r = Reader(endpoint, names)
    r.start()
    try:
        out = fn()
    finally:
        r.stop.set()
        r.join()
    return out, r.result()


def rebalance_snaps(endpoint: str) -> list[dict[str, Any]]:
    req = urllib.request.Request(f"{endpoint}/v1/cluster?what=qryxstats", method="GET",
                                 data=json.dumps({"ID": "", "Kind": "rebalance"}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return [s for part in json.load(r).values() for s in part]
    except urllib.error.HTTPError:
        return []


def wait_new_rebalance(endpoint: str, after: int, timeout: float = 1800.0) -> None:
    """Until a rebalance `g<N>`, N > `after`, ran and ended on every target running it."""
    t0 = time.monotonic()
    while True:
        mine = [s for s in rebalance_snaps(endpoint) if int(s["id"].lstrip("g")) > after]
        if mine and not any(s["end-time"].startswith("0001") for s in mine):
            return
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("rebalance did not end")
        time.sleep(0.2)


def rebalance_available() -> bool:
    from ais_ray.actors.proxy import _ProxyActor

    return hasattr(_ProxyActor, "rebalance_start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=None, help="default 10000 (1000 with --quick)")
    ap.add_argument("--size", default="64KiB")
    ap.add_argument("--get-seconds", type=float, default=None, help="default 10 (5 with --quick)")
    ap.add_argument("--quick", action="store_true", help="scaled down: finishes in a few minutes")
    args = ap.parse_args()
    args.objects = args.objects or (1000 if args.quick else 10000)
    args.get_seconds = args.get_seconds or (5.0 if args.quick else 10.0)
    t_start = time.monotonic()
    size = parse_size(args.size)
    base = tempfile.mkdtemp(prefix="bench-membership-")
    out: dict[str, Any] = {"machine": machine_info(base), "objects": args.objects, "size": size}
    try:
        with ais_cluster(os.path.join(base, "ais"), nodes=3, mountpaths=2, fsync=False) as c:
            names = [f"o{i:06d}" for i in range(args.objects)]
            payload = os.urandom(size)
            c.cli("create", f"ais://{BUCKET}")
            with requests.Session() as s:  # one client, object by object: setup, not measured
                for name in names:
                    s.put(f"{c.endpoint}/v1/objects/{BUCKET}/{name}", data=payload, timeout=300).raise_for_status()
            _, out["get_idle"] = reading(c.endpoint, names, lambda: time.sleep(args.get_seconds))
            run_dir = os.path.join(c.data_dir, "run")
            with open(os.path.join(run_dir, "state.json")) as f:
                gcs = json.load(f)["ray_address"]

            def join() -> dict[str, Any]:
                t0 = time.monotonic()
                start_raylet(run_dir, gcs, "t4")
                raylet_s = time.monotonic() - t0
                wait_smap(c.endpoint, lambda s: "t4" in s.targets)
                res = {"raylet_s": raylet_s, "smap_s": time.monotonic() - t0}
                if rebalance_available():
                    t1 = time.monotonic()
                    wait_new_rebalance(c.endpoint, before)
                    res["rebalance_s"] = time.monotonic() - t1
                return res

            before = max((int(s["id"].lstrip("g")) for s in rebalance_snaps(c.endpoint)), default=0)

            out["join"], out["get_join"] = reading(c.endpoint, names, join)
            moved = glob.glob(os.path.join(c.data_dir, "t4", "mp*", "@ais", BUCKET, "%ob", "*"))
            out["join"]["moved_objects"] = len(moved)
            out["join"]["moved_bytes"] = sum(os.path.getsize(p) for p in moved)
            if moved and shutil.which("rsync"):
                src, dst = os.path.join(base, "rsync-src"), os.path.join(base, "rsync-dst")
                os.makedirs(src)
                for p in moved:
                    shutil.copy(p, src)
                t0 = time.monotonic()
                subprocess.run(["rsync", "-a", src + "/", dst + "/"], check=True)
                out["rsync_s"] = time.monotonic() - t0

            def loss() -> dict[str, Any]:
                t0 = time.monotonic()
                os.killpg(recorded_raylets(run_dir)["t2"], signal.SIGKILL)
                down = wait_smap(c.endpoint, lambda s: bool(s.targets["t2"].flags & FLAG_OFFLINE))
                t1 = time.monotonic()
                start_raylet(run_dir, gcs, "t2")
                back = wait_smap(c.endpoint, lambda s: not s.targets["t2"].flags & FLAG_OFFLINE)
                return {"offline_s": down, "return_s": time.monotonic() - t1, "restart_after_kill_s": t1 - t0,
                        "smap_wait_s": back}

            out["loss"], out["get_loss"] = reading(c.endpoint, names, loss)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    j = out["join"]
    rows = [["node joins: `ray start` → Smap with t4", f"{j['smap_s']:.1f} s (raylet up {j['raylet_s']:.1f} s)"],
            ["raylet SIGKILL → Smap marks it offline", f"{out['loss']['offline_s']:.1f} s"],
            ["`ray start` of its replacement → online, with its data", f"{out['loss']['return_s']:.1f} s"]]
    if "rebalance_s" in j and j["rebalance_s"]:
        mib = j["moved_bytes"] / MIB
        rows.append(["rebalance (join)", f"{j['moved_objects']} objects, {mib:.1f} MiB in {j['rebalance_s']:.1f} s: "
                     f"{j['moved_objects'] / j['rebalance_s']:.0f} obj/s, {mib / j['rebalance_s']:.1f} MiB/s"])
        if out.get("rsync_s"):
            rows.append(["rsync -a of the same files", f"{out['rsync_s']:.1f} s: {j['moved_objects'] / out['rsync_s']:.0f} obj/s, "
                         f"{mib / out['rsync_s']:.1f} MiB/s (rebalance {out['rsync_s'] / j['rebalance_s']:.2f}× rsync)"])
    else:
        rows.append(["rebalance", "not in this build (reb lane): objects stay where they were"])
    for key, label in (("get_idle", "GET idle"), ("get_join", "GET during join (+rebalance)"),
                       ("get_loss", "GET during node loss + return")):
        g = out[key]
        p50, p99 = (f"{v:.1f} ms" if v is not None else "—" for v in (g["p50_ms"], g["p99_ms"]))
        rows.append([label, f"p50 {p50}, p99 {p99}, {g['gets']} GETs, {g['errors']} errors"])
    head = f"{args.objects} x {args.size} objects, 3 nodes x 2 mountpaths, then a 4th node joins\n\n"
    text = head + markdown_table(["what", "result"], rows)
    print(text)
    info = out["machine"]
    info["seconds"] = round(time.monotonic() - t_start)
    info["loadavg_at_end"] = os.getloadavg()
    print(f"\nresults: {publish('membership', info, out, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
