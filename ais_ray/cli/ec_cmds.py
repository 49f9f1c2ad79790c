"""`ais-ray start ec-encode BUCKET -d D -p P [--recover]`: erasure-code a bucket's objects (AIStore `ais start ec-encode`)."""

from __future__ import annotations

import argparse

from ais_ray.cli.common import run
from ais_ray.cli.job_cmds import wait_xact
from ais_ray.client import AisClient
from ais_ray.core.durations import parse_duration
from ais_ray.core.names import parse_bucket_uri


def cmd_ec_encode(args: argparse.Namespace) -> int:
    bck, _ = parse_bucket_uri(args.bucket)

    async def go(c: AisClient) -> int:
        xid = await c.ec_encode(bck, args.data_slices, args.parity_slices, recover=args.recover)
        print(f"ec-bucket[{xid}]: erasure-coding {bck} (D = {args.data_slices}, P = {args.parity_slices}"
              f"{', recover' if args.recover else ''}). To monitor the progress, run 'ais-ray show job {xid}'")
        if args.wait:
            return await wait_xact(c, xid, timeout=parse_duration(args.timeout) if args.timeout else None, refresh=0.5)
        return 0

    return run(go)


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("-d", "--data-slices", type=int, required=True, help="data slices (1..32)")
    p.add_argument("-p", "--parity-slices", type=int, required=True, help="parity slices (1..32)")
    p.add_argument("--recover", action="store_true", help="also rebuild missing or stale slices of encoded objects")
    p.add_argument("--wait", action="store_true", help="wait until done")
    p.add_argument("--timeout", default="", help="with --wait: give up after this long")
