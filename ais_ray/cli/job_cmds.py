"""`ais-ray show job`, `wait`, `stop` for any job, and `prefetch` / `start prefetch`.

Download jobs keep their own richer views (download_cmds); every other kind is shown from the
per-target snapshots of `/v1/cluster?what=qryxstats`, as `ais show job` does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from ais_ray.cli import download_cmds
from ais_ray.cli.common import CliError, blob_chunk_arg, print_json, print_table, run, selection_value
from ais_ray.cli.job_table import job_table
from ais_ray.cli.progress import Bar, Live
from ais_ray.client import AisClient
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.names import parse_bucket_uri
from ais_ray.core.sizes import parse_size
from ais_ray.core.xact import kind_named

KINDS = ("download", "prefetch-listrange", "blob-download", "rebalance", "resilver")
_ALIASES = {"prefetch": "prefetch-listrange"}


def _split(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, id) from `[NAME] [ID]`: NAME may be a kind (or its display name: `copy-bucket`) or the id."""
    name, xid = args.name or "", args.id or ""
    kind = _ALIASES.get(name, name)
    if kind and kind not in KINDS:
        known = kind_named(kind)
        if not known and not xid:
            return "", name
        kind = known or kind
    return kind, xid


def cmd_show_job(args: argparse.Namespace) -> int:
    kind, xid = _split(args)
    if kind == "download" or xid.startswith("dnl-"):
        args.id = xid
        return download_cmds.cmd_show_download(args)

    interval = parse_duration(args.refresh) if args.refresh else 0.0
    tty = sys.stdout.isatty()

    async def go(c: AisClient) -> int:
        shown = 0
        while True:
            parts = await c.xact_query(xid=xid, kind=kind, only_running=not args.all and not xid)
            if args.json:
                print_json(parts)
            else:
                headers, rows = job_table(parts)
                if interval and tty:
                    sys.stdout.write("\x1b[H\x1b[2J")  # redraw in place
                elif shown:
                    print()
                if rows:
                    print_table(headers, rows)
                else:
                    print("No running jobs." if not args.all and not xid else "No jobs.")
                sys.stdout.flush()
            shown += 1
            if not interval or (args.count and shown >= args.count):
                return 0
            await asyncio.sleep(interval)

    return run(go)


async def _until_ended(c: AisClient, xid: str, deadline: float | None, refresh: float, what: str) -> dict[str, Any]:
    """Poll job `xid`'s status until it ended (CliError past `deadline`, naming `what`)."""
    while True:
        st = await c.xact_status(xid)
        if st["end_time"]:
            return st
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(f"timed out waiting for {what}")
        await asyncio.sleep(refresh)


async def wait_xact(c: AisClient, xid: str, *, timeout: float | None, refresh: float, verbose: bool = True) -> int:
    deadline = time.monotonic() + timeout if timeout else None
    st = await _until_ended(c, xid, deadline, refresh, f"job {xid}")
    if st["aborted"]:
        raise CliError(f"job {xid} was aborted" + (f": {st['err']}" if st["err"] and st["err"] != "aborted" else ""))
    if st["err"]:
        raise CliError(f"job {xid} failed: {st['err']}")
    if verbose:
        print(f"job {xid} finished")
    return 0


async def started(c: AisClient, xid: str, *, wait: bool, timeout: float | None, message: str) -> int:
    """A job just started: wait for it (`--wait`), else say what started and how to follow it."""
    if wait:
        return await wait_xact(c, xid, timeout=timeout, refresh=0.5)
    print(message)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    kind, xid = _split(args)
    timeout = parse_duration(args.timeout) if args.timeout else None
    if not xid and kind and kind != "download":
        return run(lambda c: wait_kind(c, kind, timeout=timeout, refresh=parse_duration(args.refresh)))
    if not xid:
        raise CliError("expecting a job ID")
    if kind == "download" or xid.startswith("dnl-"):
        args.id = xid
        return download_cmds.cmd_wait_download(args)
    return run(lambda c: wait_xact(c, xid, timeout=timeout, refresh=parse_duration(args.refresh)))


async def wait_kind(c: AisClient, kind: str, *, timeout: float | None, refresh: float) -> int:
    """`wait KIND` (ais `wait rebalance`): until no job of that kind runs (a target that does not
    answer keeps its job running, as for `wait ID`); then the newest of them says how it went (an
    older one aborted by a newer one — a rebalance preempted — is not a failure). With none running,
    a rebalance or resilver reports its latest one."""
    deadline = time.monotonic() + timeout if timeout else None
    waited: set[str] = set()
    while True:
        parts = await c.xact_query(kind=kind, only_running=True)
        running = sorted({s["id"] for part in parts.values() for s in part} - waited)
        if not running:
            break
        for xid in running:
            await _until_ended(c, xid, deadline, refresh, f"{kind} {xid}")
            waited.add(xid)
    snaps = [s for part in (await c.xact_query(kind=kind)).values() for s in part]
    ours = [s for s in snaps if s["id"] in waited] or (snaps if kind in ("rebalance", "resilver") else [])
    if not ours:
        print(f"No running {kind} to wait for.")
        return 0
    return await wait_xact(c, max(ours, key=lambda s: s["start-time"])["id"], timeout=timeout, refresh=refresh)


def cmd_stop(args: argparse.Namespace) -> int:
    kind, xid = _split(args)
    if kind == "download" or xid.startswith("dnl-"):
        args.id = xid
        return download_cmds.cmd_stop_download(args)
    if not xid and not kind:
        raise CliError("expecting a job ID or kind")

    async def go(c: AisClient) -> int:
        await c.xact_abort(xid=xid, kind=kind)
        print(f"stopped {kind or 'job'} {xid}".rstrip())
        return 0

    return run(go)


def cmd_prefetch(args: argparse.Namespace) -> int:
    bck, obj = parse_bucket_uri(args.bucket)
    value: dict[str, Any] = {"latest-ver": bool(args.latest), "coer": bool(args.coer)}
    sel, what = selection_value(args, args.prefix or obj)
    value.update(sel)
    what = f"{what} of {bck}" if what else f"entire bucket {bck}"
    if args.blob_threshold:
        value["blob-threshold"] = parse_size(args.blob_threshold)
    if args.num_workers:
        value["num-workers"] = args.num_workers

    async def go(c: AisClient) -> int:
        xid = await c.prefetch(bck, value)
        print(f"prefetch-objects[{xid}]: prefetch {what}. To monitor the progress, run 'ais-ray show job {xid}'")
        if args.wait:
            timeout = parse_duration(args.timeout) if args.timeout else None
            return await wait_xact(c, xid, timeout=timeout, refresh=0.5)
        return 0

    try:
        return run(go)
    except CliError as exc:
        if isinstance(exc.__cause__, ErrNotFound):
            raise CliError(f"{exc} (prefetch needs a remote bucket, or an ais bucket with backend_bck)") from exc
        raise


def cmd_blob_download(args: argparse.Namespace) -> int:
    bck, obj = parse_bucket_uri(args.object)
    names = [n.strip() for n in args.list.split(",") if n.strip()] if args.list else [obj]
    if not all(names):
        raise CliError(f'"{args.object}": expecting BUCKET/OBJECT, or BUCKET with --list')
    chunk = blob_chunk_arg(args.chunk_size)

    async def go(c: AisClient) -> int:
        jobs = {}
        for name in names:
            jobs[name] = await c.blob_download(bck, name, chunk_size=chunk, num_workers=args.num_workers or None,
                                               latest=args.latest)
            print(f"blob-download[{jobs[name]}]: {bck}/{name}")
        if not (args.progress or args.wait):
            print("To monitor the progress, run 'ais-ray show job blob-download'")
            return 0
        sizes = {n: int((await c.head_object(bck, n)).get("Content-Length", 0)) for n in names} if args.progress else {}
        live = Live(interval=max(parse_duration(args.refresh), 1.0)) if args.progress else None
        timeout = parse_duration(args.timeout) if args.timeout else None
        deadline = time.monotonic() + timeout if timeout else None
        t0 = time.monotonic()
        while True:
            snaps = {n: [s for ss in (await c.xact_query(xid=x)).values() for s in ss] for n, x in jobs.items()}
            if live is not None:
                el = max(time.monotonic() - t0, 1e-6)
                live.update([Bar(n, sum(int(s["stats"]["loc-bytes"]) for s in ss), sizes[n],
                                 rate=sum(int(s["stats"]["loc-bytes"]) for s in ss) / el) for n, ss in snaps.items()])
            if all(ss and all(not s["end-time"].startswith("0001") for s in ss) for ss in snaps.values()):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CliError("timed out waiting for blob-download jobs " + ", ".join(jobs.values()))
            await asyncio.sleep(parse_duration(args.refresh))
        if live is not None:
            live.close()
        failed = {n: s.get("err") or "aborted" for n, ss in snaps.items() for s in ss if s.get("err") or s["aborted"]}
        if failed:
            raise CliError("; ".join(f"{bck}/{n}: {e}" for n, e in failed.items()))
        print(f"downloaded {len(names)} object(s) to {bck}")
        return 0

    return run(go)


def cmd_start_mirror(args: argparse.Namespace) -> int:
    bck, obj = parse_bucket_uri(args.bucket)
    if obj:
        raise CliError(f'"{args.bucket}": expecting a bucket')

    async def go(c: AisClient) -> int:
        xid = await c.make_n_copies(bck, args.copies)
        print(f"Configured {bck} as {args.copies}-way mirror. To monitor the progress, run 'ais-ray show job {xid}'")
        if args.wait:
            timeout = parse_duration(args.timeout) if args.timeout else None
            return await wait_xact(c, xid, timeout=timeout, refresh=0.5)
        return 0

    return run(go)
