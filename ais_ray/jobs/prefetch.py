"""Prefetch (Go `prefetch-listrange`): bring remote objects into the cluster ahead of reads.

Each target walks the same selection — a list of names, a template, or the remote listing
under a prefix — keeps the names it owns by HRW, and has the owning mountpath fetch each one
that is not cached yet (or, with `latest`, whose remote version changed), a batch at a time
(`jobs/batches.py`) in the mountpath's download engine (`MountpathActor._prefetch`): written as
cold GETs, made durable once per batch. Objects of at least `blob_threshold` bytes go through the
blob downloader: the engine leaves each such object unread once its GET's head says its size
(`DlJobCtx.blob_over`) and the target runs a blob-download job of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ais_ray.core.blob import blob_threshold
from ais_ray.core.errors import AisError, ErrNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.batches import MountpathBatches
from ais_ray.jobs.dl_worker import BLOB, MP_CONCURRENCY  # BLOB: the answer for an object over the blob threshold
from ais_ray.jobs.selection import ListFor, Share, placed, select


PER_MOUNTPATH = MP_CONCURRENCY  # objects in flight per mountpath (default `num-workers`): as a download job's


@dataclass(frozen=True, slots=True)
class PrefetchSpec:
    bck: Bucket
    sel: Selection = Selection()  # names, a range template, or a prefix ("": the whole bucket)
    latest: bool = False
    continue_on_err: bool = False
    blob_threshold: int = 0  # 0: never use the blob downloader
    num_workers: int = 0  # per mountpath; 0: default

    @property
    def threshold(self) -> int:
        return blob_threshold(self.blob_threshold)


@dataclass
class PrefetchHooks:
    share: Share  # which names are this target's now, and on which mountpath
    mountpaths: dict[str, Any]  # path -> mountpath actor handle (`run_batch`)
    list_for: ListFor  # the remote listing under a prefix
    blob: Callable[[Bucket, str, bool], Awaitable[tuple[str, int]]]  # a large object as its own blob-download job


async def run_prefetch(spec: PrefetchSpec, hooks: PrefetchHooks, snap: XactSnap) -> None:
    """The target's share of one prefetch; updates `snap.stats`; raises on the first error unless `coer`."""
    failures: list[AisError] = []
    blobs: list[asyncio.Task[None]] = []
    # a range or a prefix names what may not be there: such a name is skipped; only a listed name that
    # does not exist is an error (Go `xs/prefetch.go`)
    skip_missing = not spec.sel.names

    def failed(err: AisError) -> None:
        if skip_missing and isinstance(err, ErrNotFound):
            return
        snap.stats.errors += 1
        failures.append(err)

    def count(size: int) -> None:
        snap.stats.objs += 1
        snap.stats.bytes += size
        snap.stats.in_objs += 1
        snap.stats.in_bytes += size

    async def blob(name: str) -> None:
        try:
            async with blob_slots:  # as many at a time as the job's items may be in flight
                status, size = await hooks.blob(spec.bck, name, spec.latest)
        except AisError as err:
            failed(err)
            return
        if status != "skipped":
            count(size)

    def done(item: tuple[str], _: None, value: tuple[str, int] | None, err: AisError | None) -> None:
        if err is not None:
            failed(err)
        elif value is not None and value[0] == BLOB:  # over the blob threshold: a blob-download job of its own
            blobs.append(asyncio.get_running_loop().create_task(blob(item[0])))
        elif value is not None and value[0] != "skipped":
            count(value[1])

    workers = MountpathBatches(hooks.mountpaths, "prefetch", snap.id, spec.num_workers or PER_MOUNTPATH,
                               (spec.bck, spec.latest, spec.threshold), done)
    snap.workers = workers.total
    blob_slots = asyncio.Semaphore(workers.total)
    async for name, mp in placed(hooks.share, spec.bck, select(spec.sel, hooks.list_for)):
        if failures and not spec.continue_on_err:
            break
        await workers.submit(mp, (name,))
    await workers.join(flush=not (failures and not spec.continue_on_err))
    await asyncio.gather(*blobs)
    if failures and not spec.continue_on_err:
        raise failures[0]  # with `coer`, failures are counted in the stats and the job succeeds
