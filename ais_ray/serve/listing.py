"""List objects: each target merges its mountpaths' sorted pages, the replica merges targets.

Reply is msgpack with Go `cmn.LsoRes` keys; the SDK's iterator stops only when the token is
empty *and* UUID is not, so every reply carries a UUID.
"""

from __future__ import annotations

import asyncio
import heapq
import uuid as uuidlib
from typing import Any

import msgpack
from fastapi.responses import Response

from ais_ray.backends.base import ListPage
from ais_ray.backends.registry import get_backend
from ais_ray.core import lsflags as F
from ais_ray.core.bmd import BucketProps, RemoteRef, remote_of
from ais_ray.core.durations import TIME_FORMATS, format_nano_time
from ais_ray.core.errors import ErrNodeNotFound, ErrUnsupported
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.smap import FLAG_OFFLINE
from ais_ray.fs.walk import LsEntry
from ais_ray.serve.state import state
from ais_ray.serve.msgs import LsoMsg

MAX_PAGE_SIZE = 10_000  # Go apc.MaxPageSizeAIS
MAX_PAGE_SIZE_REMOTE = 1_000  # Go apc.MaxPageSizeAWS (GCP 1000, Azure 5000)
FLAG_CACHED = F.CACHED
ENTRY_OK_CACHED = F.ENTRY_CACHED  # status bits 0..4 are 0 (OK)
FLAG_NAME_ONLY = F.NAME_ONLY
LOCAL_ONLY = F.NO_RECURSION | F.NO_DIRS | F.ARCH_DIR  # shapes only the local walk implements
DEFAULT_PROPS = "name,size"


def entry_wire(name: str, loc: str, e: LsEntry, props: set[str], name_only: bool, time_format: str = "") -> dict[str, Any]:
    if e.flags & F.ENTRY_IS_DIR:  # a virtual directory (NO_RECURSION): name and flag only
        return {"n": name, "f": F.ENTRY_IS_DIR}
    out: dict[str, Any] = {"n": name, "f": ENTRY_OK_CACHED | e.flags}
    if name_only:
        return out
    out["s"] = e.size
    a: ObjAttrs | None = e.attrs
    if a is not None:
        if "checksum" in props:
            out["cs"] = a.cksum
        if "version" in props:
            out["v"] = a.version
        if "atime" in props and a.atime_ns:
            out["a"] = format_nano_time(a.atime_ns, time_format)
        if "custom" in props and a.custom:
            out["m"] = ",".join(f"{k}={v}" for k, v in sorted(a.custom.items()))
    if "location" in props:
        out["t"] = loc
    if "copies" in props:
        out["c"] = len(a.copies) if a is not None and a.copies else 1
    return out


async def list_objects(bck: Bucket, msg: LsoMsg, props: BucketProps) -> Response:
    """A remote bucket lists the remote (with presence) unless only cached objects are asked for."""
    bad = F.unsupported(msg.flags)
    if bad:
        raise ErrUnsupported(f"list-objects flag {', '.join(bad)} is not supported (flags={msg.flags})")
    if msg.time_format not in TIME_FORMATS:
        raise ErrUnsupported(f'list-objects time_format "{msg.time_format}" is not supported (supported: '
                             + ", ".join(f'"{f}"' for f in TIME_FORMATS[1:]) + ', or none for the first)')
    ref = remote_of(bck, props)
    if ref is not None and not msg.flags & FLAG_CACHED and ref.bck.provider is not Provider.HT and msg.flags & LOCAL_ONLY:
        names = ", ".join(F.NAMES[b] for b in F.NAMES if b & msg.flags & LOCAL_ONLY)
        raise ErrUnsupported(f"list-objects flag {names} is only supported with CACHED on remote bucket {bck}")
    if ref is None or msg.flags & FLAG_CACHED or ref.bck.provider is Provider.HT:
        return await _list_local(bck, msg)
    return await _list_remote(bck, ref, msg)


def remote_seek(start_after: str) -> str:
    """What to ask a remote to list after, for names after `start_after` in code point order (ours):
    it from its first character at or above U+D800 on, cut and ended with U+D7FF. A remote that
    orders by UTF-16 (s3rver, Azurite: JavaScript) agrees with code point order below that, so it
    lists no fewer names than asked for, only maybe some before (filtered); the common prefix seek
    of the S3 gateway (`<prefix>` + U+10FFFF) becomes `<prefix>` + U+D7FF."""
    for i, ch in enumerate(start_after):
        if ch >= "\ud800":
            return start_after[:i] + "\ud7ff"
    return start_after


async def _list_remote(bck: Bucket, ref: RemoteRef, msg: LsoMsg) -> Response:
    page_size = min(msg.pagesize or MAX_PAGE_SIZE_REMOTE, MAX_PAGE_SIZE_REMOTE)
    props = set((msg.props or DEFAULT_PROPS).split(","))
    name_only = bool(msg.flags & FLAG_NAME_ONLY)
    page = await get_backend(ref.bck.provider).list_objects(ref.name, msg.prefix, token=msg.continuation_token,
                                                            page_size=page_size, start_after=remote_seek(msg.start_after))
    if msg.start_after:  # the remote's seek (if it has one) may give a few names before, or it
        page = ListPage([e for e in page.entries if e.name > msg.start_after], page.next_token)
    smap = await state().smap()
    owners: dict[str, list[str]] = {}
    for e in page.entries:
        owners.setdefault(smap.owner(bck.uname(e.name)).daemon_id, []).append(e.name)
    found: dict[str, tuple[str, LsEntry]] = {}
    for part in await asyncio.gather(*(state().target(tid).present.remote(bck, names) for tid, names in owners.items())):
        found.update(part)
    entries = []
    for e in page.entries:
        local = found.get(e.name)
        if local is not None:
            out = entry_wire(e.name, local[0], local[1], props, name_only, msg.time_format)
        else:
            out = {"n": e.name, "f": 0}
            if not name_only:
                out["s"] = e.size
                if "atime" in props and e.last_modified:  # not here: the remote's own time (S3's LastModified)
                    out["a"] = format_nano_time(int(e.last_modified * 1e9), msg.time_format)
        if not name_only and "version" in props and e.version:
            out["v"] = e.version
        entries.append(out)
    body = {"UUID": msg.uuid or uuidlib.uuid4().hex[:12], "ContinuationToken": page.next_token, "Flags": 0,
            "Entries": entries or None}
    return Response(msgpack.packb(body, use_bin_type=True), media_type="application/msgpack")


async def _list_local(bck: Bucket, msg: LsoMsg) -> Response:
    page_size = min(msg.pagesize or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    props = set((msg.props or DEFAULT_PROPS).split(","))
    name_only = bool(msg.flags & FLAG_NAME_ONLY)
    with_attrs = bool(props & {"checksum", "version", "atime", "custom", "copies"}) and not name_only
    start_after = msg.continuation_token or msg.start_after
    smap = await state().smap()
    if msg.target and msg.target not in smap.targets:
        raise ErrNodeNotFound(msg.target)
    # one extra entry tells whether a next page exists without an empty final round trip
    pages = await asyncio.gather(*(state().target(tid).list_page.remote(bck, msg.prefix, start_after, page_size + 1, with_attrs,
                                                                       msg.flags)
                                   for tid, tsi in smap.targets.items()
                                   if not tsi.flags & FLAG_OFFLINE  # a lost node: list the rest, not wait
                                   and (not msg.target or tid == msg.target)))  # `target`: what that one holds
    merged = heapq.merge(*[[(e.name, loc, e) for loc, e in page] for page in pages], key=lambda x: x[0])
    entries = []
    for name, loc, e in merged:
        if entries and entries[-1]["n"] == name:
            continue  # same object seen on two targets mid-rebalance
        entries.append(entry_wire(name, loc, e, props, name_only, msg.time_format))
        if len(entries) > page_size:
            break
    more = len(entries) > page_size
    entries = entries[:page_size]
    token = entries[-1]["n"] if more and entries else ""
    body = {"UUID": msg.uuid or uuidlib.uuid4().hex[:12], "ContinuationToken": token, "Flags": 0,
            "Entries": entries or None}
    return Response(msgpack.packb(body, use_bin_type=True), media_type="application/msgpack")
