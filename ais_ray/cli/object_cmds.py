"""`ais-ray put`, `get`, `rm`, `object show`, `object promote`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from ais_ray.cli.common import CliError, blob_chunk_arg, print_json, print_table, run
from ais_ray.cli.job_cmds import wait_xact
from ais_ray.cli.progress import ByteProgress
from ais_ray.client import AisClient
from ais_ray.core import headers as H
from ais_ray.core.durations import format_nano_time
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket, http_bucket, parse_bucket_uri, validate_obj_name
from ais_ray.core.sizes import format_size, parse_size

PUT_CONCURRENCY = 8
PROGRESS_MIN_SIZE = 64 << 20  # show a bar for single transfers this large


def _files_under(root: str) -> list[tuple[str, str]]:
    out = []
    for d, _, files in os.walk(root):
        for f in sorted(files):
            path = os.path.join(d, f)
            out.append((path, os.path.relpath(path, root).replace(os.sep, "/")))
    return sorted(out, key=lambda x: x[1])


def cmd_put(args: argparse.Namespace) -> int:
    bck, dst = parse_bucket_uri(args.dst)
    src = args.src
    prefix = ""
    if src == "-":  # standard input, as `ais put - ais://b/name`
        return _put_stdin(bck, dst)
    if os.path.isdir(src):
        if not args.recursive:
            raise CliError(f'"{src}" is a directory: use --recursive to put its files')
        prefix = dst if not dst or dst.endswith("/") else dst + "/"
        jobs = [(path, prefix + rel) for path, rel in _files_under(src)]
    elif os.path.isfile(src):
        name = dst if dst and not dst.endswith("/") else dst + os.path.basename(src)
        jobs = [(src, name)]
    else:
        raise CliError(f'"{src}": no such file or directory')
    for _, name in jobs:
        validate_obj_name(name)

    async def go(c: AisClient) -> int:
        if len(jobs) == 1:
            path, name = jobs[0]
            size = os.path.getsize(path)
            bar = ByteProgress(name, size, sys.stderr) if args.progress or size >= PROGRESS_MIN_SIZE and sys.stderr.isatty() else None
            await c.put_file(bck, name, path, progress=bar)
            if bar:
                bar.close()
            print(f'PUT "{path}" => {bck}/{name}')
            return 0
        sem = asyncio.Semaphore(PUT_CONCURRENCY)
        total = 0

        async def one(path: str, name: str) -> None:
            nonlocal total
            async with sem:
                await c.put_file(bck, name, path)
                total += os.path.getsize(path)

        await asyncio.gather(*(one(p, n) for p, n in jobs))
        print(f"PUT {len(jobs)} objects ({format_size(total)}) => {bck}/{prefix}")
        return 0

    return run(go)


def _put_stdin(bck: Bucket, name: str) -> int:
    if not name or name.endswith("/"):
        raise CliError(f'put -: name the object to make from standard input (e.g. {bck}/{name or "dir/"}name)')
    validate_obj_name(name)

    async def go(c: AisClient) -> int:
        total = await c.put_stream(bck, name, sys.stdin.buffer)
        print(f"PUT (standard input) => {bck}/{name} ({format_size(total)})")
        return 0

    return run(go)


def cmd_get(args: argparse.Namespace) -> int:
    params: dict[str, str] = {}
    if args.src.startswith(("http://", "https://")):  # an HTTP bucket, made on first use (seed 000)
        bck, _, name = http_bucket(args.src)
        params["original_url"] = args.src
    else:
        bck, name = parse_bucket_uri(args.src)
    if not name or name.endswith("/"):
        if args.offset or args.length:
            raise CliError("--offset and --length read a range of one object, not of many")
        return _get_many(bck, name, args)
    if args.latest:
        params["latest-ver"] = "true"
    headers = blob_headers(args)
    rng = range_header(args)
    if rng:
        headers = {**(headers or {}), "Range": rng}
    dest = _get_dest(args.dst or os.path.basename(name), name)

    async def go(c: AisClient) -> int:
        if dest == "-":
            await c.get_to_stream(bck, name, sys.stdout.buffer, params=params, headers=headers)
            return 0
        bar = ByteProgress(name, int((await c.head_object(bck, name)).get("Content-Length", 0)), sys.stderr) if args.progress else None
        hdrs = await c.get_to_file(bck, name, dest, progress=bar, params=params, headers=headers)
        if bar:
            bar.close()
        print(f'GET {bck}/{name} => "{dest}" ({format_size(int(hdrs.get("Content-Length", os.path.getsize(dest))))})')
        return 0

    return run(go)


def _get_dest(dest: str, name: str) -> str:
    """Where `get` writes one object: into a directory as its base name (one named with a trailing
    slash is made), else the file named; a missing parent directory is the user's to make."""
    if dest == "-":
        return dest
    if dest.endswith(("/", os.sep)):
        try:
            os.makedirs(dest, exist_ok=True)
        except OSError as exc:
            raise CliError(f'cannot make directory "{dest}": {exc.strerror}') from exc
    if os.path.isdir(dest):
        return os.path.join(dest, os.path.basename(name))
    parent = os.path.dirname(dest) or "."
    if not os.path.isdir(parent):
        raise CliError(f'cannot write "{dest}": no such directory "{parent}"')
    return dest


def range_header(args: argparse.Namespace) -> str:
    """`--offset O --length L` (AIStore's pair, both or neither) as the GET's Range."""
    if bool(args.offset) != bool(args.length):
        raise CliError("--offset and --length go together")
    if not args.offset:
        return ""
    offset, length = parse_size(args.offset), parse_size(args.length)
    if length < 1:
        raise CliError(f"--length {args.length}: expecting at least 1 byte")
    return f"bytes={offset}-{offset + length - 1}"


def blob_headers(args: argparse.Namespace) -> dict[str, str] | None:
    """`get --blob-download [--chunk-size] [--num-workers]` (seed 001): a plain GET asking the target
    to fetch the remote object with parallel range readers while streaming it back."""
    if not args.blob_download:
        if args.chunk_size or args.num_workers:
            raise CliError("--chunk-size and --num-workers go with --blob-download")
        return None
    headers = {H.BLOB_DOWNLOAD: "true"}
    chunk = blob_chunk_arg(args.chunk_size)
    if chunk:
        headers[H.BLOB_CHUNK] = str(chunk)
    if args.num_workers:
        headers[H.BLOB_WORKERS] = str(args.num_workers)
    return headers


def _get_many(bck: Bucket, prefix: str, args: argparse.Namespace) -> int:
    dest = args.dst or "."
    if not os.path.isdir(dest):
        raise CliError(f'"{dest}" must be an existing directory to get many objects from {bck}')

    async def go(c: AisClient) -> int:
        names = [e["n"] async for e in c.list_objects(bck, prefix=prefix, props="name")]
        sem = asyncio.Semaphore(PUT_CONCURRENCY)

        async def one(name: str) -> None:
            path = os.path.join(dest, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            async with sem:
                await c.get_to_file(bck, name, path)

        await asyncio.gather(*(one(n) for n in names))
        print(f'GET {len(names)} objects from {bck}/{prefix} => "{dest}"')
        return 0

    return run(go)


def cmd_rm(args: argparse.Namespace) -> int:
    targets = [parse_bucket_uri(u) for u in args.objects]
    for u, (_, name) in zip(args.objects, targets):
        if not name:
            raise CliError(f'"{u}": expecting an object; to remove a bucket use `ais-ray rmb`')

    async def go(c: AisClient) -> int:
        failed = 0
        for bck, name in targets:  # as `rm a b c`: one that cannot go does not keep the others
            try:
                await c.delete_object(bck, name)
            except AisError as exc:
                failed += 1
                print(f"error: {exc.message}", file=sys.stderr)
                continue
            print(f"deleted {bck}/{name}")
        return 1 if failed else 0

    return run(go)


def cmd_object_show(args: argparse.Namespace) -> int:
    bck, name = parse_bucket_uri(args.object)
    if not name:
        raise CliError(f'"{args.object}": expecting an object')

    async def go(c: AisClient) -> int:
        h = {k.lower(): v for k, v in (await c.head_object(bck, name, "checksum,atime,version,custom,location")).items()}
        props = {
            "name": f"{bck}/{name}",
            "size": h.get("content-length", ""),
            "checksum": f"{h.get('ais-checksum-type', '')}: {h.get('ais-checksum-value', '')}".strip(": "),
            "version": h.get("ais-version", ""),
            "atime": h.get("ais-atime", ""),
            "custom": h.get("ais-custom-md", ""),
            "location": h.get("ais-location", ""),
            "present": h.get("ais-present", ""),
            "etag": h.get("etag", ""),
        }
        if args.json:
            print_json(props)
        else:
            props["size"] = format_size(int(props["size"] or 0))
            props["atime"] = format_nano_time(int(props["atime"])) if props["atime"].isdigit() else props["atime"]
            print_table(["PROPERTY", "VALUE"], [[k, v or "-"] for k, v in props.items()])
        return 0

    return run(go)


def cmd_object_promote(args: argparse.Namespace) -> int:
    """`ais object promote SRC_PATH BUCKET[/NAME_OR_PREFIX]`: files on the targets' machines, under
    the cluster's promote root, become objects."""
    bck, obj = parse_bucket_uri(args.dst)

    async def go(c: AisClient) -> int:
        xid = await c.promote(bck, args.src, obj, recursive=args.recursive, overwrite=args.overwrite_dst,
                              delete_src=args.delete_src, target_id=args.target_id, not_file_share=args.not_file_share)
        if not xid:
            print(f'promoted "{args.src}" => {bck}')
            return 0
        print(f'promoted "{args.src}" => {bck}, xaction ID "{xid}"')
        if args.wait:
            return await wait_xact(c, xid, timeout=None, refresh=0.5)
        return 0

    return run(go)
