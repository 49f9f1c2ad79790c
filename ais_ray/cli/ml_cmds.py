"""`ais-ray ml get-batch [SRC ...] DST_ARCHIVE` (AIStore's `ais ml get-batch`): objects, selections
and files inside shards, from one or more buckets, into one local archive by GetBatch
(`/v1/ml/moss`, `jobs/getbatch.py`). A SRC is a bucket (with `--list` / `--template` / `--prefix`,
or all of it), an object, or a file inside a shard (`ais://b/shard.tar/a/1.jpg`); `--spec` takes
AIStore's MossReq as JSON (a file or inline) instead or besides."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ais_ray.cli.common import CliError, run, selection_value
from ais_ray.client import AisClient
from ais_ray.core import shardfmt
from ais_ray.core.names import Bucket, parse_bucket_uri
from ais_ray.core.selection import Selection
from ais_ray.core.sizes import format_size

MAX_NAMES = 1_000_000


def split_archpath(name: str) -> tuple[str, str]:
    """`shard.tar/a/1.jpg` -> ("shard.tar", "a/1.jpg"): the first path component that names a shard
    (by extension) ends the object's name; ("name", "") when none does."""
    parts = name.split("/")
    for i, part in enumerate(parts[:-1]):
        if shardfmt.format_of(part):
            return "/".join(parts[:i + 1]), "/".join(parts[i + 1:])
    return name, ""


def _spec(text: str) -> dict[str, Any]:
    raw = text
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            raw = f.read()
    try:
        spec = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"--spec: not JSON ({exc}); a MossReq, e.g. '{{\"in\": [{{\"objname\": \"a.jpg\"}}]}}'") from None
    if not isinstance(spec, dict):
        raise CliError("--spec: expecting a JSON object (AIStore's MossReq)")
    return spec


async def _names(c: AisClient, bck: Bucket, prefix: str, args: argparse.Namespace) -> list[str]:
    """The names a SRC bucket's `--list` / `--template` / `--prefix` (or the SRC's own prefix) selects."""
    sel = Selection.from_msg(selection_value(args, args.prefix or prefix)[0])
    if sel.is_listing:
        return [e["n"] async for e in c.list_objects(bck, prefix=sel.prefix, props="name")]
    if sel.count() > MAX_NAMES:
        raise CliError(f"--template {args.template!r}: more than {MAX_NAMES} names")
    return list(sel.iter())


def cmd_get_batch(args: argparse.Namespace) -> int:
    *srcs, dst = args.args
    if not srcs and not args.spec:
        raise CliError("expecting SRC ... DST_ARCHIVE (or --spec with DST_ARCHIVE)")
    body: dict[str, Any] = _spec(args.spec) if args.spec else {}
    body.setdefault("in", [])
    if dst != "-":
        body["mime"] = shardfmt.format_for(dst)  # the archive's name says its format
    body["onob"] = bool(args.omit_src_bck or body.get("onob"))
    body["strm"] = bool(args.streaming or body.get("strm"))
    body["coer"] = bool(args.cont_on_err or body.get("coer"))
    sources = [parse_bucket_uri(s) for s in srcs]
    default = sources[0][0] if len({b for b, _ in sources}) == 1 else None

    async def go(c: AisClient) -> int:
        for bck, name in sources:
            where = {"bucket": bck.name, "provider": bck.provider.value}
            if not name or name.endswith("/") or args.list or args.template or args.prefix:
                body["in"] += [{"objname": n, **where} for n in await _names(c, bck, name, args)]
            else:
                obj, arch = split_archpath(name)
                body["in"].append({"objname": obj, **where, **({"archpath": arch} if arch else {})})
        if not body["in"]:
            raise CliError("nothing to get: the sources select no objects")
        if dst == "-":
            outs = await c.get_batch(body, sys.stdout.buffer, default)
            sys.stdout.buffer.flush()
            return 0
        tmp = f"{dst}.ais-ray-part"
        try:
            with open(tmp, "wb") as f:
                outs = await c.get_batch(body, f, default)
            os.replace(tmp, dst)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        missing = [o for o in outs if o.get("err_msg")]
        print(f"GET-BATCH: {len(body['in'])} items => {dst} ({format_size(os.path.getsize(dst))})"
              + (f"; {len(missing)} missing (under __404__/), the first: {missing[0]['err_msg']}" if missing else ""))
        return 0

    return run(go)


def add_commands(sub: argparse._SubParsersAction, cmd: Any, selection_args: Any) -> None:
    """`ais-ray ml ...` (`cmd` is main's `_cmd`, `selection_args` its `--list/--template/--prefix`)."""
    ml = sub.add_parser("ml", help="ML data loading: get-batch")
    msub = ml.add_subparsers(dest="ml_cmd", required=True, metavar="{get-batch}")
    p = cmd(msub, "get-batch", cmd_get_batch, "objects and files inside shards, from any buckets, into one archive "
            "(GetBatch; the order kept)", """
ais-ray ml get-batch ais://dataset --list "audio1.wav,audio2.wav" training.tar
ais-ray ml get-batch ais://models --template "checkpoint-{001..100}.pth" model-v2.tgz
ais-ray ml get-batch ais://data/shard.tar/file.wav s3://models/chkpt-001.pth mixed.zip
ais-ray ml get-batch batch.tar --spec batch.json --streaming""")
    p.add_argument("args", nargs="+", metavar="[SRC ...] DST_ARCHIVE",
                   help="buckets, objects or files in shards; then the archive to write (.tar, .tgz, .zip, or -)")
    p.set_defaults(trailing="args")  # DST_ARCHIVE may come after the options (cli/main.py)
    selection_args(p)
    p.add_argument("--spec", "-f", default="", help="AIStore's MossReq as JSON: a file, or inline")
    p.add_argument("--omit-src-bck", action="store_true", help="name members without their bucket")
    p.add_argument("--streaming", action="store_true", help="the archive streamed as it is built (no metadata part)")
    p.add_argument("--cont-on-err", action="store_true", help="a missing item is an empty __404__/ member, not an error")
