"""`ais-ray create`, `rmb`, `ls`, `bucket mv`, `bucket props show`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ais_ray.cli.common import CliError, print_json, print_table, run
from ais_ray.cli.job_cmds import started
from ais_ray.client import AisClient
from ais_ray.core import lsflags
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import AisError, ErrBckNotFound
from ais_ray.core.names import Bucket, Provider, parse_bucket_uri
from ais_ray.core.redundancy import dotted
from ais_ray.core.sizes import format_size

FLAG_CACHED = lsflags.CACHED  # list only what is present in the cluster (Go apc.LsCached)
ENTRY_CACHED = lsflags.ENTRY_CACHED  # Go apc.EntryIsCached


def parse_bucket_arg(uri: str) -> Bucket:
    bck, obj = parse_bucket_uri(uri)
    if obj.strip("/"):
        raise CliError(f'"{uri}": expecting a bucket, got an object name')
    return bck


def cmd_create(args: argparse.Namespace) -> int:
    bcks = [parse_bucket_arg(u) for u in args.buckets]
    props = _parse_props(getattr(args, "props", "").split())

    async def go(c: AisClient) -> int:
        for bck in bcks:
            await c.create_bucket(bck, props or None)
            print(f'"{bck}" created')
        return 0

    return run(go)


def cmd_rmb(args: argparse.Namespace) -> int:
    bcks = [parse_bucket_arg(u) for u in args.buckets]

    async def go(c: AisClient) -> int:
        for bck in bcks:
            await c.destroy_bucket(bck)
            print(f'"{bck}" bucket destroyed')
        return 0

    return run(go)


def cmd_mv(args: argparse.Namespace) -> int:
    """`ais bucket mv BUCKET NEW_BUCKET`: rename an ais bucket (a job; `--wait` for its end)."""
    src, dst = parse_bucket_arg(args.src), parse_bucket_arg(args.dst)
    timeout = parse_duration(args.timeout) if args.timeout else None

    async def go(c: AisClient) -> int:
        xid = await c.rename_bucket(src, dst)
        return await started(c, xid, wait=args.wait, timeout=timeout,
                             message=f'Moving bucket "{src}" to "{dst}" in progress.\n'
                                     f"To check the status, run: ais-ray show job {xid}")

    return run(go)


def cmd_ls(args: argparse.Namespace) -> int:
    if args.summary:
        return _ls_summary(args)
    if not args.uri or args.uri.endswith("://") or _is_provider(args.uri):
        return _ls_buckets(args)
    bck, prefix = parse_bucket_uri(args.uri)
    prefix = args.prefix or prefix
    flags = (FLAG_CACHED if args.cached else 0) | (lsflags.NO_RECURSION if args.nr else 0)
    if args.limit < 0:
        raise CliError(f"--limit {args.limit}: expecting 0 (no limit) or more")
    page_size = min(args.page_size or args.limit, args.limit or args.page_size)  # no page larger than the limit

    async def go(c: AisClient) -> int:
        # every bucket lists NAME SIZE, plus CACHED when it says something (below): an ais bucket in
        # front of a cloud one and the cloud bucket itself list alike (seed 003 diffs the two)
        props = ",".join(ls_props(args.props))
        entries = []
        asked = ",".join(p for p in props.split(",") if p != "cached")  # CACHED comes with every entry's flags
        async for e in c.list_objects(bck, prefix=prefix, props=asked, page_size=page_size,
                                      flags=flags, start_after=args.start_after):
            entries.append(e)
            if len(entries) == args.limit:
                break
        if args.json:
            print_json(entries)
            return 0
        cols = [p for p in props.split(",") if p]
        if not args.props and "cached" in cols and (args.cached or len({_cached(e) for e in entries if not _is_dir(e)}) < 2):
            cols.remove("cached")  # as AIStore's CLI: CACHED only when it is informative (a mix), never with --cached
        keys = {"name": "n", "size": "s", "checksum": "cs", "atime": "a", "version": "v", "location": "t",
                "copies": "c", "custom": "m"}
        rows = []
        for e in entries:
            row = []
            for p in cols:
                v = e.get(keys.get(p, p), "")
                if p == "cached":
                    v = "" if _is_dir(e) else "yes" if _cached(e) else "no"
                row.append(format_size(v) if p == "size" and v != "" else v)
            rows.append(row)
        print_table([p.upper() for p in cols], rows, no_headers=args.no_headers)
        if not args.no_headers and not args.no_footer:
            total = sum(int(e.get("s", 0)) for e in entries)
            print(f"Listed {len(entries)} names" + (f", {format_size(total)} in total" if "size" in cols else ""))
        return 0

    return run(go)


LS_PROPS = ("name", "size", "checksum", "atime", "version", "location", "custom", "copies", "cached")


def ls_props(arg: str) -> list[str]:
    """`ls --props`'s columns: NAME first even when not named (as `ais ls`), `all` for every one
    this cluster lists; an unknown one is an error naming the known ones."""
    if not arg:
        return ["name", "size", "cached"]
    words = [w.strip().lower() for w in arg.split(",") if w.strip()]
    if "all" in words:
        return list(LS_PROPS)
    bad = [w for w in words if w not in LS_PROPS]
    if bad:
        raise CliError(f"invalid object property {', '.join(repr(w) for w in bad)} in --props "
                       f"(expecting 'all' or some of: {', '.join(LS_PROPS)})")
    return list(dict.fromkeys(["name", *words]))


def _cached(entry: dict[str, Any]) -> bool:
    return bool(int(entry.get("f", 0)) & ENTRY_CACHED)


def _is_dir(entry: dict[str, Any]) -> bool:
    """A virtual directory (`--nr`): a name and nothing else."""
    return bool(int(entry.get("f", 0)) & lsflags.ENTRY_IS_DIR)


def _is_provider(word: str) -> bool:
    """`ais-ray ls s3` (as `ais ls s3`): a bare provider or scheme lists buckets."""
    try:
        Provider.parse(word)
    except AisError:
        return False
    return "/" not in word and ":" not in word


def _provider_arg(uri: str) -> str:
    word = uri[: -len("://")] if uri.endswith("://") else uri
    return Provider.parse(word).value if word else ""


def _ls_summary(args: argparse.Namespace) -> int:
    """`ls [BUCKET|PROVIDER] --summary`: AIStore's NAME PRESENT OBJECTS SIZE ON DISK USAGE(%) per bucket
    (the seed scripts read the third column: objects present in the cluster)."""
    one = None if (not args.uri or args.uri.endswith("://") or _is_provider(args.uri)) else parse_bucket_uri(args.uri)

    async def go(c: AisClient) -> int:
        if one is not None:
            targets = [(one[0], args.prefix or one[1])]
        else:
            provider = _provider_arg(args.uri)
            targets = [(Bucket(b["name"], Provider.parse(b["provider"])), "")
                       for b in await c.list_buckets(provider, everywhere=bool(args.all) and bool(provider))]
        summaries = [await c.bucket_summary(bck, prefix=prefix, cached=not args.all) for bck, prefix in targets]
        if args.json:
            print_json(summaries)
            return 0
        rows = []
        for (bck, prefix), s in zip(targets, summaries):
            cnt, size = s["ObjCount"], s["TotalSize"]
            on_disk = int(size["size_on_disk"])
            objs = cnt["obj_count_present"] + (f" {cnt['obj_count_remote']}" if bck.is_remote and args.all else "")
            rows.append([str(bck) + (f"/{prefix}" if prefix else ""), "yes" if s.get("is_present", True) else "no",
                         objs, format_size(on_disk), f"{s.get('used_pct', 0)}%"])
        print_table(["NAME", "PRESENT", "OBJECTS", "SIZE ON DISK", "USAGE(%)"], rows, no_headers=args.no_headers)
        return 0

    return run(go)


def _ls_buckets(args: argparse.Namespace) -> int:
    provider = _provider_arg(args.uri)

    async def go(c: AisClient) -> int:
        everywhere = bool(getattr(args, "all", False)) and bool(provider)
        bcks = await c.list_buckets(provider, everywhere=everywhere)
        if args.json:
            print_json(bcks)
            return 0
        if not bcks and provider:  # AIStore's words (seed 004)
            print(f'No "{Provider(provider).scheme}://" matching buckets in the cluster. '
                  "Use '--all' option to list _all_ buckets." if not everywhere else
                  f'No "{Provider(provider).scheme}://" buckets.')
            return 0
        rows = [[str(Bucket(b["name"], Provider.parse(b["provider"])))] + (["yes" if b.get("present", True) else "no"]
                                                                           if everywhere else []) for b in bcks]
        print_table(["NAME", *(["PRESENT"] if everywhere else [])], rows, no_headers=args.no_headers)
        return 0

    return run(go)


def cmd_bucket_props(args: argparse.Namespace) -> int:
    bck = parse_bucket_arg(args.bucket)

    async def go(c: AisClient) -> int:
        props = await c.bucket_props(bck)
        if args.json:
            print_json(props)
        else:
            print_table(["PROPERTY", "VALUE"], [[k, json.dumps(v) if isinstance(v, (dict, list)) else v]
                                                for k, v in sorted(props.items())])
        return 0

    return run(go)


def cmd_bucket_props_set(args: argparse.Namespace) -> int:
    bck = parse_bucket_arg(args.bucket)
    props = _parse_props(args.props)

    async def go(c: AisClient) -> int:
        try:
            before = _flat(await c.bucket_props(bck))
            xid = await c.set_bucket_props(bck, props)
        except ErrBckNotFound as exc:
            if bck.is_remote:
                raise
            raise CliError(f"{exc}: create it first (`ais-ray create {bck}`), then set its props") from exc
        after = _flat(await c.bucket_props(bck))
        print("Bucket props successfully updated" + (f' ("{xid}" started; `ais-ray wait {xid}`)' if xid else ""))
        for key in sorted(k for k in after if after[k] != before.get(k)):  # as `ais bucket props set` (seed 003)
            print(f'"{key}" set to:"{after[key]}" (was:"{before.get(key, "")}")')
        return 0

    return run(go)


def _flat(props: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested props as AIStore's CLI names them: {"backend_bck": {"name": "b"}} -> {"backend_bck.name": "b"}."""
    out: dict[str, str] = {}
    for k, v in props.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


def cmd_evict(args: argparse.Namespace) -> int:
    bck, name = parse_bucket_uri(args.uri)
    if not bck.is_remote:
        raise CliError(f"{bck} is not a remote bucket: nothing to evict (use `ais-ray rm` / `rmb`)")

    async def go(c: AisClient) -> int:
        if name:
            await c.evict_objects(bck, [name])
            print(f"evicted {bck}/{name}")
        else:
            await c.evict_bucket(bck, keep_md=args.keep_md)
            print(f"evicted {bck}" + (" (bucket metadata kept)" if args.keep_md else ""))
        return 0

    return run(go)


def cmd_summary(args: argparse.Namespace) -> int:
    bck, prefix = parse_bucket_uri(args.uri)

    async def go(c: AisClient) -> int:
        s = await c.bucket_summary(bck, prefix=prefix)
        if args.json:
            print_json(s)
            return 0
        cnt, size = s["ObjCount"], s["TotalSize"]
        remote = bck.is_remote
        print_table(["NAME", "OBJECTS (cached, remote)" if remote else "OBJECTS", "SIZE (cached, remote)" if remote else "SIZE"],
                    [[str(bck) + (f"/{prefix}" if prefix else ""),
                      f"{cnt['obj_count_present']} {cnt['obj_count_remote']}" if remote else cnt["obj_count_present"],
                      f"{format_size(int(size['size_all_present_objs']))} {format_size(int(size['size_all_remote_objs']))}"
                      if remote else format_size(int(size["size_all_present_objs"]))]])
        return 0

    return run(go)


def _parse_props(kvs: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` pairs as a set-bprops value: `backend_bck=gs://b`, `versioning.enabled=true`,
    `mirror.enabled=true mirror.copies=3`, `ec.enabled=true ec.data_slices=3 ...` (AIStore's names)."""
    flat: dict[str, str] = {}
    props: dict[str, Any] = {}
    for kv in kvs:
        key, sep, value = kv.partition("=")
        if not sep:
            raise CliError(f'"{kv}": expecting NAME=VALUE, e.g. mirror.copies=2 or backend_bck=gs://bucket')
        if key == "backend_bck":
            backend = parse_bucket_arg(value) if value else None
            props["backend_bck"] = ({"name": backend.name, "provider": backend.provider.value} if backend
                                    else {"name": "", "provider": ""})
        elif key in ("versioning", "versioning.enabled"):
            if value.lower() not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise CliError(f'invalid {key}={value!r} (expecting true or false)')
            props["versioning"] = {"enabled": value.lower() in ("true", "yes", "on", "1")}
        elif key.split(".", 1)[0] in ("mirror", "ec") and "." in key:
            flat[key] = value
        else:
            raise CliError(f'bucket property "{key}" cannot be set (supported: backend_bck, versioning.enabled, '
                           "mirror.enabled, mirror.copies, ec.enabled, ec.data_slices, ec.parity_slices, ec.objsize_limit)")
    props.update(dotted(flat))
    return props
