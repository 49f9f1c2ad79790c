"""Membership: time from a node joining / dying to a new Smap; GET latency while the cluster
changes vs idle; rebalance throughput beside `rsync` of the same files (issue 11 part 8).

    .venv/bin/python benchmarks/bench_membership.py [--objects 10000] [--size 64KiB] [--get-seconds 10]

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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ais_ray.core.sizes import parse_size  # noqa: E402
from ais_ray.core.smap import FLAG_OFFLINE, Smap  # noqa: E402
from ais_ray.deploy import recorded_raylets, start_raylet  # noqa: E402
from benchmarks.common import MIB, ais_cluster, machine_info, markdown_table, write_json  # noqa: E402

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
        while not self.stop.is_set():
            name = rnd.choice(self.names)
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.endpoint}/v1/objects/{BUCKET}/{name}", timeout=30) as r:
                    r.read()
                self.lat.append(time.perf_counter() - t0)
            except (urllib.error.URLError, OSError):
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
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--size", default="64KiB")
    ap.add_argument("--get-seconds", type=float, default=10.0)
    args = ap.parse_args()
    size = parse_size(args.size)
    base = tempfile.mkdtemp(prefix="bench-membership-")
    out: dict[str, Any] = {"machine": machine_info(base), "objects": args.objects, "size": size}
    try:
        with ais_cluster(os.path.join(base, "ais"), nodes=3, mountpaths=2, fsync=False) as c:
            names = [f"o{i:06d}" for i in range(args.objects)]
            payload = os.urandom(size)
            c.cli("create", f"ais://{BUCKET}")
            for i, name in enumerate(names):  # one client, object by object: setup, not measured
                req = urllib.request.Request(f"{c.endpoint}/v1/objects/{BUCKET}/{name}", data=payload, method="PUT")
                urllib.request.urlopen(req, timeout=60).read()
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
    print(markdown_table(["what", "result"], rows))
    print(f"\nresults: {write_json('membership', out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
