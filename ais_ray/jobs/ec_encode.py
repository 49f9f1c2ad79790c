"""`ec-encode`: erasure-code a bucket's existing objects (AIStore `xact/xs/ec_encode.go`, CLI `ais start ec-encode`).

Every target's share: each mountpath walks its own objects (the walk of jobs over what the
cluster holds, `walk_objects`) and asks its mountpath actor to encode those it owns by HRW and
that are not encoded for the current placement yet. `recover` also asks every holder of an
encoded object for its metafile and re-sends the slices or replicas that are missing or stale.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ais_ray.core.errors import AisError, ErrNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.redundancy import ECConf
from ais_ray.core.xact import XactSnap
from ais_ray.ec.manager import ENCODE, RECOVER
from ais_ray.jobs.batches import MountpathBatches
from ais_ray.jobs.selection import walk_objects

KIND = "ec-encode"
PER_MOUNTPATH = 4  # objects encoded at a time per mountpath (each one bounded in memory)


async def run_ec_encode(bck: Bucket, conf: ECConf, recover: bool, mountpaths: dict[str, Any], snap: XactSnap) -> None:
    """This target's share; per-object errors count in the stats and the job goes on; the
    first one is the job's error when it ends."""
    mode = RECOVER if recover else ENCODE
    failures: list[AisError] = []

    def done(item: tuple[str], size: int, value: str | None, err: AisError | None) -> None:
        if err is None:
            if value == "ok":
                snap.stats.objs += 1
                snap.stats.bytes += max(size, 0)
        elif not isinstance(err, ErrNotFound):  # deleted before its turn: not an error
            snap.stats.errors += 1
            failures.append(err)

    workers = MountpathBatches(mountpaths, "ec-encode", snap.id, PER_MOUNTPATH, (bck, mode, conf), done)
    snap.workers = workers.total

    async def walk_mp(mp: str) -> None:
        async for name, size in walk_objects(mountpaths[mp], bck, ""):
            if snap.aborted:
                return
            await workers.submit(mp, (name,), size)

    await asyncio.gather(*(walk_mp(mp) for mp in mountpaths))
    await workers.join(flush=not snap.aborted)
    if failures:
        raise AisError(f"{len(failures)} object(s) failed, first: {failures[0].message}")
