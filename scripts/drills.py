#!/usr/bin/env python3
"""Seed 004's three failure drills against a running cluster, as a user runs them: `ais-ray` verbs only.

    python scripts/drills.py rebalance --rounds 3 --shards 300   # cp-rmnode-rebalance: a node to maintenance
    python scripts/drills.py ec        --rounds 3 --shards 300   # cp-rmnode-ec: EC 3+1 (or what fits), node lost to HRW
    python scripts/drills.py rmdisk    --rounds 3 --shards 300   # cp-rmdisk: 3-way mirror, a mountpath detached

Each round copies `ais://src-*` to `ais://dst` while, after a random 0-4 s, a random node goes to
maintenance (rebalance) / leaves placement without a rebalance (ec) / loses a mountpath (rmdisk);
then checks that the copy finished, that the destination lists and counts exactly the shards, and
that every destination object's bytes match the source's; then restores the node or the disk and
checks again after the rebalance / resilver. Exit 1 on the first failure (the seed's `FAIL`).
The cluster is found as the CLI finds it (AIS_ENDPOINT, or the last `ais-ray up`).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time

import requests

from ais_ray.cli.common import endpoint

AIS_RAY = [sys.executable, "-m", "ais_ray.cli.main"]


class Fail(Exception):
    pass


def cli(*args: str, timeout: float = 600) -> str:
    p = subprocess.run([*AIS_RAY, *args], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise Fail(f"ais-ray {' '.join(args)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def shard(seed: int) -> bytes:
    """A .tgz of 5 random 1 KiB files (`ais archive gen-shards` defaults)."""
    rnd = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(5):
            data = rnd.randbytes(1024)
            info = tarfile.TarInfo(f"{seed}-{i}.test")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def cluster_info() -> dict:
    return json.loads(cli("show", "cluster", "--json"))


def names(bck: str) -> list[str]:
    out = cli("ls", bck, "--json", "--props", "name")
    d = json.loads(out)
    return sorted(e.get("name") or e["n"] for e in (d["entries"] if isinstance(d, dict) else d))


def summary_count(bck: str) -> int:
    return int(json.loads(cli("storage", "summary", bck, "--json"))["ObjCount"]["obj_count_present"])


def digests(bck: str, objs: list[str]) -> dict[str, str]:
    """sha256 of every object, read over the HTTP API as any client would (redirects followed)."""
    ep = endpoint()
    name = bck.split("://", 1)[1]
    out = {}
    with requests.Session() as s:
        for o in objs:
            r = s.get(f"{ep}/v1/objects/{name}/{o}", params={"provider": "ais"}, timeout=60)
            if r.status_code != 200:
                raise Fail(f"GET {bck}/{o}: {r.status_code} {r.text[:200]}")
            out[o] = hashlib.sha256(r.content).hexdigest()
    return out


def expect(what: str, got: object, want: object) -> None:
    if got != want:
        raise Fail(f"{what}: got {got}, want {want}")
    log(f"ok: {what} = {f'{len(want)} equal' if isinstance(want, dict) else want}")


def setup(drill: str, src: str, shards: int, tmp: str) -> None:
    targets = len(cluster_info()["targets"])
    props = {"rebalance": "", "rmdisk": "mirror.enabled=true mirror.copies=3",
             "ec": ("ec.enabled=true ec.data_slices=3 ec.parity_slices=1 ec.objsize_limit=0" if targets >= 5 else
                    "ec.enabled=true ec.data_slices=1 ec.parity_slices=1 ec.objsize_limit=0")}[drill]
    subprocess.run([*AIS_RAY, "rmb", src], capture_output=True)
    subprocess.run([*AIS_RAY, "rmb", "ais://dst"], capture_output=True)
    cli("create", src, *(["--props", props] if props else []))
    d = os.path.join(tmp, "shards")
    os.makedirs(d, exist_ok=True)
    for i in range(1, shards + 1):
        with open(os.path.join(d, f"shard-{i:03d}.tgz"), "wb") as f:
            f.write(shard(i))
    cli("put", d + "/", src, "--recursive", timeout=1800)
    expect(f"{src} listed", len(names(src)), shards)


def disrupt(drill: str, rnd: random.Random) -> tuple[str, str]:
    info = cluster_info()
    tid = rnd.choice(sorted(info["targets"]))
    if drill == "rmdisk":
        mp = sorted(m["path"] for m in info["targets"][tid]["mountpaths"])[0]
        log(f"detach {tid} {mp}")
        cli("storage", "mountpath", "detach", tid, mp)
        return tid, mp
    flags = ["--no-rebalance"] if drill == "ec" else []
    log(f"start-maintenance {tid} {' '.join(flags)}")
    cli("cluster", "add-remove-nodes", "start-maintenance", tid, *flags, "-y")
    return tid, ""


def restore(drill: str, tid: str, mp: str) -> None:
    if drill == "rmdisk":
        log(f"attach {tid} {mp}")
        cli("storage", "mountpath", "attach", tid, mp)
        cli("wait", "resilver", "--timeout", "10m", timeout=700)
    else:
        log(f"stop-maintenance {tid}")
        cli("cluster", "add-remove-nodes", "stop-maintenance", tid, "-y")
        cli("wait", "rebalance", "--timeout", "10m", timeout=700)


def round_(drill: str, src: str, shards: int, src_digests: dict[str, str], rnd: random.Random) -> None:
    out = cli("cp", src, "ais://dst")
    m = re.search(r"\[([^\]]+)\]", out)
    if not m:
        raise Fail(f"no job id in: {out!r}")
    xid = m.group(1)
    time.sleep(rnd.uniform(0, 4))
    tid, mp = disrupt(drill, rnd)
    try:
        cli("wait", xid, "--timeout", "10m", timeout=700)
        expect("ais://dst listed", len(names("ais://dst")), shards)
        expect(f"{src} summary", summary_count(src), shards)
        expect("ais://dst checksums", digests("ais://dst", sorted(src_digests)), src_digests)
    finally:
        restore(drill, tid, mp)
    expect("ais://dst summary", summary_count("ais://dst"), shards)
    expect(f"{src} summary", summary_count(src), shards)
    cli("rmb", "ais://dst")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drill", choices=["rebalance", "ec", "rmdisk"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0, help="random seed (0: from the clock)")
    args = ap.parse_args()
    rnd = random.Random(args.seed or time.time_ns())
    src = {"rebalance": "ais://src", "ec": "ais://src-ec", "rmdisk": "ais://src-mirror"}[args.drill]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            setup(args.drill, src, args.shards, tmp)
            src_digests = digests(src, names(src))
            for r in range(1, args.rounds + 1):
                log(f"round {r}/{args.rounds} ({args.drill})")
                round_(args.drill, src, args.shards, src_digests, rnd)
        except Fail as exc:
            log(f"FAIL: {exc}")
            return 1
    log(f"PASS: {args.rounds} rounds of {args.drill}, {args.shards} shards: 0 lost, 0 duplicated, 0 mismatched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
