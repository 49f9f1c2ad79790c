"""Objects moving inside one cluster: a `copy-bck` and a resilver, objects/s and CPU per object.

One cluster (`ais-ray up --targets 2 --mountpaths 2`, fsync on as by default) gets `--count`
objects of `--size` bytes; then, `--rounds` times, the bucket is copied into a new one (objects/s
from the POST to the job's end; CPU per object of the targets, the mountpaths and the rest, user +
system, from /proc), and t1's second mountpath is detached and attached back (two resilvers:
objects moved / seconds from the request to the job's end). With `--base DIR` the same runs
against a copy of the package in DIR (`git archive <rev> ais_ray | tar -x -C DIR`) first, then
this tree's, alternating, so the two see the same machine.

    .venv/bin/python benchmarks/bench_moves.py                         # 5,000 × 64 KiB, 2 rounds
    .venv/bin/python benchmarks/bench_moves.py --base /tmp/base        # the same, before / after
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket
from ais_ray.core.sizes import parse_size

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import AisCluster, ais_cluster, cpu_user_sys  # noqa: E402

POLL_S = 0.05


def _kind(label: str) -> str:
    return "mountpaths" if "/mp" in label else "targets" if label.startswith("t") else "other"


def _cpu(pids: dict[str, int]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for label, pid in pids.items():
        u, s = cpu_user_sys(pid)
        ku, ks = out.get(_kind(label), (0.0, 0.0))
        out[_kind(label)] = (ku + u, ks + s)
    return out


def _status(ep: str, xid: str) -> dict[str, Any]:
    while True:
        r = requests.get(f"{ep}/v1/cluster", params={"what": "status"}, json={"ID": xid}, timeout=30)
        if r.status_code == 200 and r.json()["end_time"]:
            return dict(r.json())
        time.sleep(POLL_S)


def _moved(ep: str, xid: str) -> int:
    snaps = requests.get(f"{ep}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid}, timeout=30).json()
    return sum(int(s["stats"]["out-objs"]) for ss in snaps.values() for s in ss or [])


async def _fill(c: AisClient, bck: Bucket, count: int, size: int) -> None:
    await c.create_bucket(bck)
    data = os.urandom(size)
    sem = asyncio.Semaphore(32)

    async def put(i: int) -> None:
        async with sem:
            await c.put_bytes(bck, f"obj-{i:06d}", data)

    await asyncio.gather(*(put(i) for i in range(count)))


async def _copy(c: AisClient, cluster: AisCluster, src: Bucket, dst: Bucket, count: int) -> str:
    pids = cluster.pids()
    before = _cpu(pids)
    t0 = time.perf_counter()
    xid = await c.copy_bucket(src, dst, {"prefix": ""})
    st = _status(cluster.endpoint, xid)
    dt = time.perf_counter() - t0
    after = _cpu(pids)
    cpu = ", ".join(f"{k} {(after[k][0] - before[k][0]) * 1e3 / count:.2f} + {(after[k][1] - before[k][1]) * 1e3 / count:.2f}"
                    for k in sorted(after))
    return f"copy-bck {count}: {dt:.2f} s, {count / dt:,.0f} obj/s{' ERR ' + st['err'] if st['err'] else ''}; CPU ms/object (user + sys): {cpu}"


def _resilver(cluster: AisCluster, path: str) -> list[str]:
    out = []
    for action, method in (("detach-mp", "DELETE"), ("attach-mp", "PUT")):
        t0 = time.perf_counter()
        r = requests.request(method, f"{cluster.endpoint}/v1/reverse/daemon/mountpaths", headers={"Ais-Node-Id": "t1"},
                             json={"action": action, "value": path}, timeout=120)
        r.raise_for_status()
        st = _status(cluster.endpoint, r.text)
        dt = time.perf_counter() - t0
        n = _moved(cluster.endpoint, r.text)
        out.append(f"resilver ({action}): {n} moved in {dt:.2f} s, {n / dt:,.0f} obj/s{' ERR ' + st['err'] if st['err'] else ''}")
    return out


def run(label: str, tmp: Path, ns: argparse.Namespace, base: str) -> None:
    env, cwd = ({"PYTHONPATH": base}, str(tmp)) if base else (None, None)
    data_dir = tmp / f"cluster-{label}"
    with ais_cluster(str(data_dir), env=env, cwd=cwd) as cluster:
        async def main() -> None:
            async with AisClient(cluster.endpoint) as c:
                src = Bucket("src")
                await _fill(c, src, ns.count, ns.size)
                await asyncio.sleep(2)
                for r in range(ns.rounds):
                    print(f"[{label}] {await _copy(c, cluster, src, Bucket(f'dst{r}'), ns.count)}", flush=True)
                    for line in _resilver(cluster, str(data_dir / "t1" / "mp2")):
                        print(f"[{label}] {line}", flush=True)

        asyncio.run(main())
    shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--size", type=parse_size, default=64 << 10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--base", default="", help="a dir holding the package to compare with (runs first)")
    p.add_argument("--tmp", default="/tmp", help="parent of the temp dir: the filesystem under test")
    ns = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-moves-", dir=ns.tmp))
    try:
        for label, base in ([("base", ns.base), ("this", "")] if ns.base else [("this", "")]):
            run(label, tmp, ns, base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
