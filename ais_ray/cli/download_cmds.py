"""`ais-ray start download`, `show job download`, `wait download`, `stop download`, `job rm download`.

SOURCE forms follow `ais start download` (seed 003): an http(s) link or template, a cloud
object / template / bucket (`gs://b/o`, `gs://b/x-{0..9}.tgz`, `gs://b`), or another AIS
cluster (`ais://host:port/bucket/...`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import quote

from ais_ray.cli.common import CliError, print_json, print_table, run
from ais_ray.cli.progress import Bar, Live
from ais_ray.client import AisClient, is_finished
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import ErrBckNotFound
from ais_ray.core.links import parse_source
from ais_ray.core.names import Bucket, parse_bucket_uri
from ais_ray.core.sizes import parse_size


def build_request(src: str, dst: str, args: argparse.Namespace) -> tuple[dict[str, Any], Bucket, Bucket | None]:
    """The `/v1/download` body for SOURCE and DESTINATION; also the bucket to link as backend, if any."""
    source = parse_source(src)
    bck, dst_path = parse_bucket_uri(dst)
    body: dict[str, Any] = {"bucket": bck.to_wire(), "description": args.desc or "", "timeout": args.timeout or ""}
    limits = {}
    if args.max_conns:
        limits["connections"] = args.max_conns
    if args.limit_bph:
        limits["bytes_per_hour"] = parse_size(args.limit_bph)
    if limits:
        body["limits"] = limits
    if getattr(args, "fsync", ""):
        body["fsync"] = args.fsync
    names = _object_list(args.object_list) if args.object_list else None
    if source.kind == "http" or source.is_remote_ais:
        link = source.link if source.kind == "http" else f"http://{source.host}/v1/objects/{source.bucket.name}/{source.path}"  # type: ignore[union-attr]
        if names is not None:  # the source and each name, joined with "/" (as for a bucket below)
            if source.is_range:
                raise CliError("--object-list takes the source's base URL, not a range template")
            body.update(type="multi", objects=[f"{link.rstrip('/')}/{quote(n.lstrip('/'), safe='/')}" for n in names])
            return body, bck, None
        return _link_body(body, link, source.is_range, dst_path, args), bck, None
    assert source.bucket is not None
    base = f"{source.bucket}"
    if names is not None:
        body.update(type="multi", objects=[f"{base}/{n.lstrip('/')}" for n in names])
        return body, bck, None
    if source.is_range:
        return _link_body(body, f"{base}/{source.path}", True, dst_path, args), bck, None
    if not source.path or args.sync:
        body.update(type="backend", prefix=source.path, synchronize=bool(args.sync))
        return body, bck, source.bucket
    # `gs://b/dir/prefix-`: an object, or a prefix when DESTINATION is linked to gs://b (seed 003)
    body.update(type="single", link=f"{base}/{source.path}", prefix=source.path)
    if dst_path:
        body["object_name"] = dst_path
    return body, bck, source.bucket


def _object_list(path: str) -> list[str]:
    """`--object-list FILE`: a JSON array of object names (seed 003)."""
    try:
        with open(path) as f:
            names = json.load(f)
    except (OSError, ValueError) as exc:
        raise CliError(f"{path}: expecting a JSON array of object names ({exc})") from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip("/") for n in names):
        raise CliError(f"{path}: expecting a JSON array of object names")
    return names


def _link_body(body: dict[str, Any], link: str, is_range: bool, dst_path: str, args: argparse.Namespace) -> dict[str, Any]:
    if is_range:
        body.update(type="range", template=link, subdir=dst_path)
    else:
        body.update(type="single", link=link)
        if dst_path:
            body["object_name"] = dst_path + link.rsplit("/", 1)[-1].split("?")[0] if dst_path.endswith("/") else dst_path
    return body


def cmd_start_download(args: argparse.Namespace) -> int:
    body, bck, backend = build_request(args.source, args.destination, args)

    async def go(c: AisClient) -> int:
        if body["type"] == "single" and backend is not None:
            if await _linked_to(c, bck, backend):
                body.update(type="backend", synchronize=False)
                body.pop("link"), body.pop("object_name", None)
        elif backend is not None and not bck.is_remote:
            await _link_backend(c, bck, backend)
        job_id = await c.download.start(body)
        print(job_id)
        if args.progress or args.wait:
            return await follow(c, job_id, progress=args.progress, refresh=parse_duration(args.progress_interval),
                                verbose=False, timeout=None)
        print(f"Run `ais-ray show job download {job_id}` to monitor the progress of downloading.")
        return 0

    return run(go)


async def _linked_to(c: AisClient, bck: Bucket, backend: Bucket) -> bool:
    try:
        props = await c.bucket_props(bck)
    except ErrBckNotFound:
        return False
    linked = props.get("backend_bck") or {}
    return bool(linked.get("name") == backend.name and linked.get("provider") == backend.provider.value)


async def _link_backend(c: AisClient, bck: Bucket, backend: Bucket) -> None:
    """A backend download fills an ais bucket over the remote one: link them if not yet linked."""
    try:
        props = await c.bucket_props(bck)
    except ErrBckNotFound:
        await c.create_bucket(bck)
        props = {}
    current = (props.get("backend_bck") or {}).get("name")
    if not current:
        await c.set_bucket_props(bck, {"backend_bck": {"name": backend.name, "provider": backend.provider.value}})
        print(f'note: {bck} now has backend_bck={backend}', file=sys.stderr)
    elif current != backend.name:
        raise CliError(f"{bck} already has backend_bck={props['backend_bck']['provider']}://{current}, not {backend}")


async def follow(c: AisClient, job_id: str, *, progress: bool, refresh: float, verbose: bool,
                 timeout: float | None) -> int:
    """Wait for the job, drawing bars if asked; exit 1 if any object failed."""
    live = Live(sys.stdout, interval=max(refresh, 1.0)) if progress else None
    seen: dict[str, tuple[float, int]] = {}
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        st = await c.download.status(job_id, only_active=True)
        if live is not None:
            live.update(_bars(st, seen, live.rows), summary=_progress_line(st, active=True))
        if is_finished(st):
            break
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(f"timed out waiting for {job_id} ({_progress_line(st)})")
        await asyncio.sleep(refresh)
    final = await c.download.status(job_id)
    if live is not None:
        live.close(_bars(final, seen, live.rows), summary=_progress_line(final))
    return _report_done(final, verbose)


def _bars(st: dict[str, Any], seen: dict[str, tuple[float, int]], rows: int = 10) -> list[Bar]:
    """The totals bar, then at most `rows` transfers actually moving bytes (queued ones, with nothing
    read and no size yet, and finished ones get no row)."""
    total = st["total"] if st["total"] >= 0 else st["scheduled_cnt"]
    done = st["finished_cnt"] + st["skipped_cnt"] + st["error_cnt"]
    bars = [Bar("Files downloaded:", done, total, is_bytes=False)]
    now = time.monotonic()
    moving = [t for t in st.get("current_tasks") or []
              if (int(t["downloaded"]) or int(t["total"])) and not (0 < int(t["total"]) <= int(t["downloaded"]))]
    for t in sorted(moving, key=lambda t: t["name"])[:rows]:
        got = int(t["downloaded"])
        t0, b0 = seen.setdefault(t["name"], (now, got))
        rate = (got - b0) / (now - t0) if now > t0 else 0.0
        bars.append(Bar(t["name"], got, int(t["total"]), rate=rate))
    return bars


def _progress_line(st: dict[str, Any], *, active: bool = False) -> str:
    total = st["total"] if st["total"] >= 0 else st["scheduled_cnt"]
    done = st["finished_cnt"] + st["skipped_cnt"] + st["error_cnt"]
    pct = 100 * done / total if total > 0 else 0.0
    extra = f", {len(st.get('current_tasks') or [])} in flight" if active else ""
    extra += f", {st['error_cnt']} errors" if active and st["error_cnt"] else ""
    return f"Download progress: {done}/{total} ({pct:.2f}%){extra}"


def _report_done(st: dict[str, Any], verbose: bool) -> int:
    errors = st.get("download_errors") or []
    if st["aborted"]:
        print(f"Aborted: {st['finished_cnt']} files downloaded, {st['error_cnt']} errors")
    elif st["error_cnt"] == 0:
        skipped = f" ({st['skipped_cnt']} already present)" if st["skipped_cnt"] else ""
        print(f"All files successfully downloaded{skipped}.")
        return 0
    else:
        print(f"Done: {st['finished_cnt']} files downloaded, {st['error_cnt']} errors"
              + (f", {st['skipped_cnt']} skipped" if st["skipped_cnt"] else ""))
    if verbose and errors:
        print("Errors:")
        for e in sorted(errors, key=lambda e: e["name"]):
            print(f"\t{e['name']}: {e['error']}")
    print(f"error: {st['error_cnt']} of {st['total'] if st['total'] >= 0 else st['scheduled_cnt']} objects failed"
          + ("" if verbose else f"; see `ais-ray show job download {st['id']} -v`") if st["error_cnt"] else
          f"error: job {st['id']} was aborted", file=sys.stderr)
    return 1


def _status_word(st: dict[str, Any]) -> str:
    if st["aborted"]:
        return "Aborted"
    return "Finished" if is_finished(st) else "Running"


def cmd_show_download(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        if not args.id:
            jobs = await c.download.list(args.regex or "")
            if args.json:
                print_json(jobs)
            else:
                print_table(["JOB ID", "STATUS", "ERRORS", "DESCRIPTION"],
                            [[j["id"], _status_word(j), j["error_cnt"], j["description"]] for j in jobs])
            return 0
        if args.progress:
            return await follow(c, args.id, progress=True, refresh=parse_duration(args.refresh or "1s"), verbose=args.verbose,
                                timeout=None)
        st = await c.download.status(args.id)
        if args.json:
            print_json(st)
            return 0
        if is_finished(st):
            word = "Aborted" if st["aborted"] else "Done"
            print(f"{word}: {st['finished_cnt']} files downloaded, {st['error_cnt']} errors"
                  + (f", {st['skipped_cnt']} skipped" if st["skipped_cnt"] else ""))
        else:
            print(_progress_line(st))
            if st["error_cnt"] and not args.verbose:
                print(f"Errors ({st['error_cnt']}) occurred during the download. "
                      f"To see detailed info run `ais-ray show job download {args.id} -v`")
        if args.verbose:
            if st["current_tasks"]:
                print("Progress of files that are currently being downloaded:")
                for t in st["current_tasks"]:
                    d, tot = int(t["downloaded"]), int(t["total"])
                    print(f"\t{t['name']}: {d}/{tot} ({100 * d / tot if tot else 0:.2f}%)")
            if st.get("download_errors"):
                print("Errors:")
                for e in sorted(st["download_errors"], key=lambda e: e["name"]):
                    print(f"\t{e['name']}: {e['error']}")
        return 0

    return run(go)


def cmd_wait_download(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        return await follow(c, args.id, progress=args.progress, refresh=parse_duration(args.refresh),
                            verbose=True, timeout=parse_duration(args.timeout) if args.timeout else None)

    return run(go)


def cmd_stop_download(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        await c.download.abort(args.id)
        print(f"download {args.id} stopped")
        return 0

    return run(go)


def cmd_rm_download(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        await c.download.remove(args.id)
        print(f"download {args.id} removed")
        return 0

    return run(go)
