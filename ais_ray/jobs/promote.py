"""Promote (ais-wire-2 §7): a target's share of files under the promote root becoming objects.

The proxy first asks every target what it sees at the source (`scan`: how many files and a
digest of their paths). When all see the same files (a file share: NFS, SMB, or the one
filesystem of a local cluster) and the request does not say otherwise (`notshr`), each target
promotes only the names it owns by HRW, each file read and written by the mountpath that owns
it — nothing crosses the network. Otherwise each target promotes every file it sees: the
mountpath that owns the name writes it if it is here, else one of this target's mountpaths
sends it to its owner (`ObjCopier.promote`) — as AIStore's `XactDirPromote` does.

Per-file errors are counted and the share goes on; it ends saying how many and the first.
A file gone before its turn is skipped (AIStore ignores "not exist").
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from itertools import islice
from typing import Any

import xxhash

from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.promote import ErrSourceGone, PromoteArgs, check_source, files, names_digest, obj_name
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.batches import MountpathBatches, count_done
from ais_ray.jobs.selection import Share

PER_MOUNTPATH = 8  # files in flight per mountpath
WALK_CHUNK = 512  # files taken from the walk (a thread) and placed at once


async def scan(args: PromoteArgs, root: str) -> tuple[int, str]:
    """What this target sees at the source: (files, digest of their paths).

    Raises:
        ErrBadRequest / ErrNotFound: the source is not a path under the root, or is missing here.
    """
    def look() -> tuple[int, str]:
        return names_digest(files(check_source(args.src, root), args.recursive))

    return await asyncio.to_thread(look)


async def run_promote(bck: Bucket, args: PromoteArgs, root: str, fshare: bool, share: Share,
                      mountpaths: dict[str, Any], snap: XactSnap) -> None:
    """This target's share; `fshare`: a confirmed file share (only the names this target owns)."""
    real = await asyncio.to_thread(check_source, args.src, root)
    top = real if await asyncio.to_thread(os.path.isdir, real) else ""
    failures: list[AisError] = []

    def done(item: tuple[str, str], _: None, value: tuple[str, int] | None, err: AisError | None) -> None:
        if err is None and value is not None:
            count_done(snap, value)
        elif err is not None and not isinstance(err, ErrSourceGone):
            snap.stats.errors += 1
            failures.append(err)

    batches = MountpathBatches(mountpaths, "promote", snap.id, PER_MOUNTPATH,
                               (bck, root, args.overwrite, args.delete_src), done)
    snap.workers = batches.total
    snap.dst_bck = bck
    snap.extra["skipped"] = 0
    senders = sorted(mountpaths)
    walk: Iterator[str] = files(real, args.recursive)
    while not snap.aborted and (chunk := await asyncio.to_thread(lambda: list(islice(walk, WALK_CHUNK)))):
        names = [obj_name(p, top, args.obj) for p in chunk]
        for path, name, mp in zip(chunk, names, share.place(bck, names)):
            if mp is None:  # another target owns it
                if fshare:
                    continue  # ... and sees the same file: its to promote
                # sent to the owner from one of this target's mountpaths, the same one for a name
                mp = senders[xxhash.xxh32_intdigest(name.encode("utf-8", "surrogateescape")) % len(senders)]
            await batches.submit(mp, (path, name))
    await batches.join(flush=not snap.aborted)
    if failures:
        snap.err = f"failed to promote {len(failures)} file(s), the first: {failures[0].message}"
