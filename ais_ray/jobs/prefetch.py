"""Prefetch (Go `prefetch-listrange`): bring remote objects into the cluster ahead of reads.

Each target walks the same selection — a list of names, a template, or the remote listing
under a prefix — keeps the names it owns by HRW, and has the owning mountpath fetch each one
that is not cached yet (or, with `latest`, whose remote version changed). Objects of at least
`blob_threshold` bytes go through the blob downloader; smaller ones are plain cold GETs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ais_ray.core.blob import blob_threshold
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.selection import ListFor, MountpathWorkers, Share, select

BLOB = "blob"  # `prefetch_obj`'s answer for an object over the blob threshold: not fetched yet

PER_MOUNTPATH = 4  # objects in flight per mountpath (default `num-workers`)


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
    mountpaths: dict[str, Any]  # path -> mountpath actor handle (with `prefetch_obj`)
    list_for: ListFor  # the remote listing under a prefix
    blob: Callable[[Bucket, str, bool], Awaitable[tuple[str, int]]]  # a large object as its own blob-download job


async def run_prefetch(spec: PrefetchSpec, hooks: PrefetchHooks, snap: XactSnap) -> None:
    """The target's share of one prefetch; updates `snap.stats`; raises on the first error unless `coer`."""
    workers = MountpathWorkers(hooks.mountpaths, spec.num_workers or PER_MOUNTPATH)
    snap.workers = workers.total
    failures: list[AisError] = []

    async def one(mp: str, name: str) -> None:
        try:
            status, size = await hooks.mountpaths[mp].prefetch_obj.remote(spec.bck, name, spec.latest, spec.threshold)
            if status == BLOB:
                status, size = await hooks.blob(spec.bck, name, spec.latest)
        except AisError as err:
            snap.stats.errors += 1
            failures.append(err)
            return
        if status != "skipped":
            snap.stats.objs += 1
            snap.stats.bytes += size
            snap.stats.in_objs += 1
            snap.stats.in_bytes += size

    async for name in select(spec.sel, hooks.list_for):
        if failures and not spec.continue_on_err:
            break
        mp = hooks.share.mountpath(spec.bck, name)
        if mp is not None:
            await workers.submit(mp, lambda mp=mp, name=name: one(mp, name))
    await workers.join()
    if failures and not spec.continue_on_err:
        raise failures[0]  # with `coer`, failures are counted in the stats and the job succeeds
