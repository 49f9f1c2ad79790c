"""`ais-ray archive ...` (AIStore's `ais archive`): shards of objects.

- `gen-shards "BUCKET/TEMPLATE.EXT"`: random shards, as `ais archive gen-shards` makes them for
  tests (AIStore's failure scripts start with it): `--fcount` files of `--fsize` bytes each, every
  file once per extension of `--fext` (WebDataset-style samples: `abc.jpg`, `abc.cls`, ...).
- `bucket SRC DST/SHARD`: a shard made in the cluster from selected objects (the `archive` job,
  the SDK's `ObjectGroup.archive`).
- `ls BUCKET[/SHARD]`: shards and their members (list-objects with `ARCH_DIR`).
- `get BUCKET/SHARD DST --archpath F | --archregx R [--archmode M]`: one member, or a TAR of the
  matching ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import string
import sys

from ais_ray.cli.common import CliError, print_table, run, selection_value
from ais_ray.cli.job_cmds import started
from ais_ray.client import AisClient
from ais_ray.core import lsflags, shardfmt
from ais_ray.core.durations import parse_duration
from ais_ray.core.names import parse_bucket_uri, validate_obj_name
from ais_ray.core.sizes import format_size, parse_size
from ais_ray.core.template import Template

GEN_CONCURRENCY = 16
GEN_MAX = 1_000_000  # shards one command makes at most


def cmd_gen_shards(args: argparse.Namespace) -> int:
    bck, text = parse_bucket_uri(args.template)
    tmpl = Template.parse(text)
    if not tmpl.is_range:
        raise CliError(f'"{args.template}": expecting a range of shard names, e.g. "ais://b/shard-{{001..999}}.tar"')
    names = list(tmpl) if tmpl.count() <= GEN_MAX else []
    if not names:
        raise CliError(f'"{args.template}": more than {GEN_MAX} shards')
    fmt = shardfmt.format_for(names[0])
    validate_obj_name(names[0])
    validate_obj_name(names[-1])
    if args.fcount < 1:
        raise CliError(f"--fcount {args.fcount}: expecting 1 or more files per shard")
    size = parse_size(args.fsize)
    exts = [e.strip() if e.strip().startswith(".") else "." + e.strip() for e in args.fext.split(",") if e.strip()]
    if not exts:
        raise CliError(f'--fext "{args.fext}": expecting an extension, e.g. ".test" or ".jpg,.cls"')
    rng = random.Random()

    def shard() -> bytes:
        members = []
        for _ in range(args.fcount):
            base = "".join(rng.choices(string.ascii_lowercase, k=10))
            members += [(base + ext, os.urandom(size)) for ext in exts]
        return shardfmt.build(fmt, members)

    async def go(c: AisClient) -> int:
        await c.bucket_props(bck)  # a missing bucket: one error, not one per shard
        sem = asyncio.Semaphore(GEN_CONCURRENCY)
        done = 0

        async def one(name: str) -> None:
            nonlocal done
            async with sem:
                await c.put_bytes(bck, name, await asyncio.to_thread(shard))
            done += 1
            if sys.stderr.isatty():
                print(f"\rShards created: {done}/{len(names)}", end="", file=sys.stderr)

        await asyncio.gather(*(one(n) for n in names))
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"Shards created: {done}/{len(names)}")
        return 0

    return run(go)


def cmd_archive_bucket(args: argparse.Namespace) -> int:
    src, prefix = parse_bucket_uri(args.src)
    dst, shard = parse_bucket_uri(args.dst)
    if not shard:
        raise CliError(f'"{args.dst}": expecting BUCKET/SHARD_NAME, e.g. ais://dst/shard-001.tar')
    value, _ = selection_value(args, prefix)
    value.update({"archname": shard, "isbn": args.include_src_bck, "aate": args.append, "coer": args.cont_on_err,
                  "tobck": dst.to_wire()})
    timeout = parse_duration(args.timeout) if args.timeout else None

    async def go(c: AisClient) -> int:
        xid = await c.archive(src, value)
        return await started(c, xid, wait=args.wait, timeout=timeout,
                             message=f'Archiving "{src}" => {dst}/{shard}. To check the status, run: ais-ray show job {xid}')

    return run(go)


def cmd_archive_ls(args: argparse.Namespace) -> int:
    bck, prefix = parse_bucket_uri(args.uri)

    async def go(c: AisClient) -> int:
        rows = []
        async for e in c.list_objects(bck, prefix=prefix, props="name,size", flags=lsflags.ARCH_DIR):
            if shardfmt.format_of(e["n"]) or "/" in e["n"][len(prefix):] or int(e.get("f", 0)) & lsflags.ENTRY_IN_ARCH:
                rows.append((e["n"], format_size(int(e.get("s", 0)))))
        print_table(["NAME", "SIZE"], rows, no_headers=args.no_headers)
        return 0

    return run(go)


def cmd_archive_get(args: argparse.Namespace) -> int:
    bck, shard = parse_bucket_uri(args.src)
    if not shard:
        raise CliError(f'"{args.src}": expecting BUCKET/SHARD_NAME')
    if bool(args.archpath) == bool(args.archregx):
        raise CliError("expecting one of --archpath (a member) and --archregx (the matching members, as a TAR)")
    params = {"archpath": args.archpath} if args.archpath else {"archregx": args.archregx, "archmode": args.archmode}

    async def go(c: AisClient) -> int:
        if args.dst == "-":
            await c.get_to_stream(bck, shard, sys.stdout.buffer, params=params)
            return 0
        dest = args.dst
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(args.archpath) if args.archpath else os.path.basename(shard))
        await c.get_to_file(bck, shard, dest, params=params)
        print(f'GET {bck}/{shard}[{args.archpath or args.archregx}] => "{dest}"')
        return 0

    return run(go)


def add_archive(sub: argparse._SubParsersAction, cmd: object, selection_args: object) -> None:
    """The `archive` command group (`cmd`: main's subcommand maker, `selection_args`: --list/--template/--prefix)."""
    arch = sub.add_parser("archive", help="shards: gen-shards, bucket (archive objects), ls, get")
    asub = arch.add_subparsers(dest="verb", required=True, metavar="{gen-shards,bucket,ls,get}")
    p = cmd(asub, "gen-shards", cmd_gen_shards, "put random shards into a bucket (tests, benchmarks)", """
ais-ray archive gen-shards 'ais://src/shard-{001..999}.tgz'
ais-ray archive gen-shards 'ais://ds/shard-{01..32}.tar' --fcount 100 --fsize 16kib --fext '.jpg,.cls'""")
    p.add_argument("template", metavar='"BUCKET/TEMPLATE.EXT"', help="shard names; the extension picks tar, tgz or zip")
    p.add_argument("--fcount", type=int, default=5, help="files (samples) per shard (default 5)")
    p.add_argument("--fsize", default="1024", help="bytes per file, e.g. 1024, 16kib (default 1024)")
    p.add_argument("--fext", default=".test", help='file extension(s), comma-separated: one file per sample and extension (default ".test")')
    p = cmd(asub, "bucket", cmd_archive_bucket, "archive selected objects into a shard (the archive job)", """
ais-ray archive bucket ais://src ais://dst/shard-001.tar --template 'img-{0000..0999}.jpg' --wait
ais-ray archive bucket ais://src/train/ ais://src/train.tgz --include-src-bck""")
    p.add_argument("src", metavar="SRC_BUCKET[/PREFIX]")
    p.add_argument("dst", metavar="DST_BUCKET/SHARD_NAME")
    selection_args(p)  # type: ignore[operator]
    p.add_argument("--include-src-bck", action="store_true", help="prefix each member's name with its source bucket")
    p.add_argument("--append", action="store_true", help="add to the shard if it exists (default: replace it)")
    p.add_argument("--cont-on-err", action="store_true", help="leave out objects that cannot be read, keep going")
    p.add_argument("--wait", action="store_true", help="wait until done")
    p.add_argument("--timeout", default="", help="with --wait: give up after this long")
    p = cmd(asub, "ls", cmd_archive_ls, "list shards and their members", "ais-ray archive ls ais://src/shard-001.tar")
    p.add_argument("uri", metavar="BUCKET[/SHARD_OR_PREFIX]")
    p.add_argument("--no-headers", "-H", action="store_true")
    p = cmd(asub, "get", cmd_archive_get, "get a shard's member (--archpath) or its matching members as a TAR (--archregx)",
            "ais-ray archive get ais://src/shard-001.tar ./a.jpg --archpath a.jpg\n"
            "ais-ray archive get ais://src/shard-001.tar ./abc.tar --archregx abc --archmode wdskey")
    p.add_argument("src", metavar="BUCKET/SHARD_NAME")
    p.add_argument("dst", help="a file, a directory, or - for standard output")
    p.add_argument("--archpath", default="", help="the member's name in the shard")
    p.add_argument("--archregx", default="", help="match members: a regex, or with --archmode a prefix, suffix, ...")
    p.add_argument("--archmode", default="", help="regexp (default), prefix, suffix, substr, wdskey")


