"""`ais-ray cp`: one object, a whole bucket (copy-bck) or a selection (copy-listrange).

Shaped as AIStore's `ais cp` (cmd/cli/cli/tcbtco.go, ais-wire-2 §1.6): `SRC/o DST/o2` copies
one object; a bucket copies whole; `--list`, `--template`, `--prefix` or an embedded prefix
(`SRC/dir/`) copy a selection. `--all` includes remote objects not yet in the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from ais_ray.cli.common import CliError, run, selection_value
from ais_ray.cli.job_cmds import wait_xact
from ais_ray.cli.progress import Bar, Live
from ais_ray.client import AisClient
from ais_ray.core.durations import parse_duration
from ais_ray.core.names import Bucket, parse_bucket_uri


def cmd_cp(args: argparse.Namespace) -> int:
    bck, name = parse_bucket_uri(args.src)
    dst_uri = args.dst or (args.src if args.sync or args.latest else "")
    if not dst_uri:
        raise CliError("expecting a destination (it may be left out only with --sync or --latest)")
    dst, dst_name = parse_bucket_uri(dst_uri)
    multi = bool(args.list or args.template or args.prefix) or not name or name.endswith("/")
    if not multi:
        return _copy_one(args, bck, name, dst, dst_name)
    if dst_name:
        raise CliError(f'"{dst_uri}": copying many objects needs a destination bucket, not an object')
    if args.sync and args.prepend:
        raise CliError("--prepend cannot be combined with --sync")
    return copy_many(args, bck, name, dst)


def _copy_one(args: argparse.Namespace, bck: Bucket, name: str, dst: Bucket, dst_name: str) -> int:
    if not dst_name or dst_name.endswith("/"):
        dst_name = dst_name + name.rsplit("/", 1)[-1] if dst_name else name

    async def go(c: AisClient) -> int:
        await c.copy_object(bck, name, dst, dst_name, latest=args.latest, sync=args.sync)
        print(f"copied {bck}/{name} => {dst}/{dst_name}")
        return 0

    return run(go)


def _tcb_value(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    value: dict[str, Any] = {"prefix": prefix, "prepend": args.prepend, "dry_run": args.dry_run, "force": args.force,
                             "latest-ver": args.latest, "synchronize": args.sync, "coer": args.cont_on_err}
    if args.nr:
        value["non-recurs"] = True
    if args.num_workers:
        value["num-workers"] = args.num_workers
    if getattr(args, "ext", ""):
        try:
            value["ext"] = json.loads(args.ext)
        except ValueError as exc:
            raise CliError(f'--ext {args.ext!r}: expecting JSON, e.g. \'{{"jpg": "png"}}\'') from exc
    return value


def copy_many(args: argparse.Namespace, bck: Bucket, embedded: str, dst: Bucket, etl: tuple[str, ...] = ()) -> int:
    """A bucket or a selection, copied — or transformed on the way with `etl` (`ais-ray etl bucket`)."""
    prefix = args.prefix or embedded
    # `--template ""` (set, empty): every object, but as a multi-object job (copy-objects), as ais does it
    listrange = bool(args.list or args.template is not None or prefix)
    refresh = parse_duration(args.refresh) if args.refresh else 1.0
    timeout = parse_duration(args.timeout) if args.timeout else None

    async def go(c: AisClient) -> int:
        sel, what = selection_value(args, prefix)
        value = {**_tcb_value(args, "" if listrange else prefix), **sel}
        if etl:  # Go apc.TCBMsg.Transform
            value.update({"id": etl[0], "pipeline": list(etl[1:]) or None, "request_timeout": ""})
        act = "etl" if etl else "copy"
        if listrange:
            xid = await c.copy_objects(bck, dst, value, action=f"{act}-listrange")
            kind = f"{act}-objects"
        else:
            xid = await c.copy_bucket(bck, dst, value, presence=0 if args.all else None, action=f"{act}-bck")
            what, kind = f"{bck}", f"{act}-bucket"
        if args.progress and not args.dry_run:
            return await _progress(c, bck, prefix, xid, refresh, timeout, args.all, "Transformed" if etl else "Copied")
        if args.wait:
            return await wait_xact(c, xid, timeout=timeout, refresh=min(refresh, 0.5))
        verb = f"transform ({'>>'.join(etl)})" if etl else "copy"
        print(f"{kind}[{xid}]: {verb} {what} => {dst}. To monitor the progress, run 'ais-ray show job {xid}'")
        return 0

    return run(go)


async def _progress(c: AisClient, src: Bucket, prefix: str, xid: str, refresh: float, timeout: float | None,
                    everything: bool, verb: str = "Copied") -> int:
    """Seed 004's two bars: copied objects and size against the source's summary (cmd/cli/cli/cpr.go)."""
    summ = await c.bucket_summary(src, prefix=prefix, cached=not everything)
    cnt, size_ = summ.get("ObjCount", {}), summ.get("TotalSize", {})
    # the remote count is every remote object (cached or not); without --all only what is here is copied
    n_total = int(cnt.get("obj_count_remote" if everything else "obj_count_present", 0) or 0)
    b_total = int(size_.get("size_all_remote_objs" if everything else "size_all_present_objs", 0) or 0)
    if everything and not n_total:  # an ais bucket: no remote side
        n_total, b_total = int(cnt.get("obj_count_present", 0)), int(size_.get("size_all_present_objs", 0))
    live, start = Live(interval=refresh), time.monotonic()
    deadline = start + timeout if timeout else None
    bars: list[Bar] = []
    while True:
        st = await c.xact_status(xid)
        parts = await c.xact_query(xid=xid)
        objs = sum(int(s["stats"]["loc-objs"]) for snaps in parts.values() for s in snaps or [])
        size = sum(int(s["stats"]["loc-bytes"]) for snaps in parts.values() for s in snaps or [])
        rate = size / max(time.monotonic() - start, 1e-3)
        bars = [Bar(f"{verb} objects:", objs, n_total, is_bytes=False), Bar(f"{verb} size:", size, b_total, rate=rate)]
        live.update(bars)
        if st["end_time"]:
            break
        if deadline is not None and time.monotonic() > deadline:
            live.close(bars)
            raise CliError(f"timed out waiting for job {xid}")
        await asyncio.sleep(refresh)
    live.close(bars)
    return await wait_xact(c, xid, timeout=None, refresh=refresh)


def add_copy_args(p: argparse.ArgumentParser, add_selection: Callable[[argparse.ArgumentParser], None]) -> None:
    """The options `cp` and `etl bucket` share (AIStore's `ais cp` / `ais etl bucket`)."""
    add_selection(p)
    p.add_argument("--all", action="store_true", help="remote source: every remote object, not only cached ones")
    p.add_argument("--prepend", default="", help="prefix to add to every destination name")
    p.add_argument("--dry-run", action="store_true", help="count what would be copied; copy nothing")
    p.add_argument("--nr", action="store_true", help="do not descend into virtual directories under the prefix")
    p.add_argument("--latest", action="store_true", help="remote source: re-check versions, refetch if changed")
    p.add_argument("--sync", action="store_true", help="like --latest, and drop cached objects the remote deleted")
    p.add_argument("--force", action="store_true", help="start even while the cluster rebalances")
    p.add_argument("--cont-on-err", action="store_true", help="keep going after per-object errors")
    p.add_argument("--num-workers", type=int, default=0, help="copies in flight per mountpath (default 8)")
    p.add_argument("--wait", action="store_true", help="wait until done")
    p.add_argument("--timeout", default="", help="with --wait/--progress: give up after this long")
    p.add_argument("--progress", action="store_true", help="show progress bars (objects and size) until done")
    p.add_argument("--refresh", default="1s", help="progress refresh interval")
