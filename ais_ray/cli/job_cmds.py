"""`ais-ray show job`, `wait`, `stop` for any job, and `prefetch` / `start prefetch`.

Download jobs keep their own richer views (download_cmds); every other kind is shown from the
per-target snapshots of `/v1/cluster?what=qryxstats`, as `ais show job` does.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from ais_ray.cli import download_cmds
from ais_ray.cli.common import CliError, print_json, print_table, run
from ais_ray.client import AisClient
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.names import parse_bucket_uri
from ais_ray.core.sizes import format_size, parse_size

KINDS = ("download", "prefetch-listrange", "blob-download")
_ALIASES = {"prefetch": "prefetch-listrange"}


def _split(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, id) from `[NAME] [ID]`: NAME may be a kind or already the id."""
    name, xid = args.name or "", args.id or ""
    kind = _ALIASES.get(name, name)
    if kind and kind not in KINDS and not xid:
        return "", name
    return kind, xid


def _when(ts: str) -> str:
    return "-" if not ts or ts.startswith("0001") else ts[11:19]


def cmd_show_job(args: argparse.Namespace) -> int:
    kind, xid = _split(args)
    if kind == "download" or xid.startswith("dnl-"):
        args.id = xid
        return download_cmds.cmd_show_download(args)

    async def go(c: AisClient) -> int:
        parts = await c.xact_query(xid=xid, kind=kind, only_running=not args.all and not xid)
        if args.json:
            print_json(parts)
            return 0
        rows = []
        for tid, snaps in sorted(parts.items()):
            for s in snaps:
                b = s.get("bck") or {}
                st = s["stats"]
                state = "Aborted" if s["aborted"] else ("Failed" if s.get("err") else
                                                        ("Finished" if not s["end-time"].startswith("0001") else "Running"))
                rows.append([tid, s["id"], s["kind"], f"{b.get('provider', '')}://{b.get('name', '')}" if b else "-",
                             st["loc-objs"], format_size(int(st["loc-bytes"])), _when(s["start-time"]),
                             _when(s["end-time"]), state + (f": {s['err']}" if s.get("err") and not s["aborted"] else "")])
        if not rows:
            print("No running jobs." if not args.all and not xid else "No jobs.")
            return 0
        print_table(["NODE", "ID", "KIND", "BUCKET", "OBJECTS", "BYTES", "START", "END", "STATE"], rows)
        return 0

    return run(go)


async def wait_xact(c: AisClient, xid: str, *, timeout: float | None, refresh: float, verbose: bool = True) -> int:
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        st = await c.xact_status(xid)
        if st["end_time"]:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(f"timed out waiting for job {xid}")
        await asyncio.sleep(refresh)
    if st["aborted"]:
        raise CliError(f"job {xid} was aborted" + (f": {st['err']}" if st["err"] and st["err"] != "aborted" else ""))
    if st["err"]:
        raise CliError(f"job {xid} failed: {st['err']}")
    if verbose:
        print(f"job {xid} finished")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    kind, xid = _split(args)
    if not xid:
        raise CliError("expecting a job ID")
    if kind == "download" or xid.startswith("dnl-"):
        args.id = xid
        return download_cmds.cmd_wait_download(args)
    timeout = parse_duration(args.timeout) if args.timeout else None
    return run(lambda c: wait_xact(c, xid, timeout=timeout, refresh=parse_duration(args.refresh)))


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
    what = f"entire bucket {bck}"
    if args.list:
        value["objnames"] = [n.strip() for n in args.list.split(",") if n.strip()]
        what = f"{len(value['objnames'])} objects from {bck}"
    elif args.template:
        value["template"] = args.template
        what = f'"{args.template}" from {bck}'
    elif args.prefix or obj:
        value["template"] = args.prefix or obj
        what = f'prefix "{value["template"]}" of {bck}'
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
