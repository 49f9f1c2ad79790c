#!/usr/bin/env python3
"""Seed 004's three failure drills against a running cluster, as a user runs them (`ais_ray/testing/drills.py`).

    ais-ray up --nodes 5 --mountpaths 3 --data-dir /tmp/ais5
    python scripts/drills.py ec --data-dir /tmp/ais5 --rounds 3 --shards 300   # cp-rmnode-ec: a node killed
    python scripts/drills.py rebalance --rounds 3 --shards 300   # cp-rmnode-rebalance: a node to maintenance
    python scripts/drills.py rmdisk    --rounds 3 --shards 300   # cp-rmdisk: 3-way mirror, a mountpath detached

`--data-dir` (a multi-node `ais-ray up --nodes N`) lets the `ec` drill really kill a node's raylet
and restart it; without it the node only leaves placement (maintenance, no rebalance). The
cluster is found as the CLI finds it (AIS_ENDPOINT, or the last `ais-ray up`). Exit 1 on the
first failure (the seed's `FAIL`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict

from ais_ray.cli.common import endpoint
from ais_ray.testing.drills import DRILLS, Cluster, Fail, log, run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drill", choices=DRILLS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", type=int, default=300)
    ap.add_argument("--max-delay", type=float, default=4.0, help="the disruption comes after a random 0..this s")
    ap.add_argument("--data-dir", default="", help="the `ais-ray up --nodes N` data dir (to kill and restart nodes)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (0: from the clock)")
    ap.add_argument("--json", default="", help="write the rounds' timings here")
    args = ap.parse_args()
    rnd = random.Random(args.seed or time.time_ns())
    c = Cluster(endpoint(), data_dir=args.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            results = run(c, args.drill, args.rounds, args.shards, tmp, rnd, max_delay=args.max_delay)
        except Fail as exc:
            log(f"FAIL: {exc}")
            return 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)
    log(f"PASS: {args.rounds} rounds of {args.drill}, {args.shards} shards: 0 lost, 0 duplicated, 0 mismatched "
        f"(copy {', '.join(f'{r.copy_s:.1f}s' for r in results)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
