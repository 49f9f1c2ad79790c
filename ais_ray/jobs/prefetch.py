"""Prefetch (Go `prefetch-listrange`): bring remote objects into the cluster ahead of reads.

Each target walks the same selection — a list of names, a template, or the remote listing
under a prefix — keeps the names it owns by HRW, and has the owning mountpath fetch each one
that is not cached yet (or, with `latest`, whose remote version changed). Objects of at least
`blob_threshold` bytes go through the blob downloader; smaller ones are plain cold GETs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ais_ray.core import hrw
from ais_ray.core.blob import blob_threshold
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from ais_ray.core.template import Template
from ais_ray.core.xact import XactSnap

PER_MOUNTPATH = 4  # objects in flight per mountpath (default `num-workers`)


@dataclass(frozen=True, slots=True)
class PrefetchSpec:
    bck: Bucket
    names: tuple[str, ...] = ()  # explicit list, or
    template: str = ""  # a range template, a prefix-only template, or "" for the whole bucket
    latest: bool = False
    continue_on_err: bool = False
    blob_threshold: int = 0  # 0: never use the blob downloader
    num_workers: int = 0  # per mountpath; 0: default

    @property
    def threshold(self) -> int:
        return blob_threshold(self.blob_threshold)


@dataclass
class PrefetchHooks:
    tid: str
    smap: Smap
    mountpaths: dict[str, Any]  # path -> mountpath actor handle (with `prefetch_obj`)
    list_names: Callable[[str], AsyncIterator[str]]  # remote names under a prefix


async def _names(spec: PrefetchSpec, hooks: PrefetchHooks) -> AsyncIterator[str]:
    if spec.names:
        for n in spec.names:
            yield n
        return
    tmpl = Template.parse(spec.template) if spec.template else None
    if tmpl is not None and tmpl.is_range:
        for n in tmpl:
            yield n
        return
    async for n in hooks.list_names(tmpl.prefix if tmpl is not None else ""):
        yield n


async def run_prefetch(spec: PrefetchSpec, hooks: PrefetchHooks, snap: XactSnap) -> None:
    """The target's share of one prefetch; updates `snap.stats`; raises on the first error unless `coer`."""
    t_hrw = hrw.Hrw(hooks.smap.active_targets())
    me = hooks.smap.targets[hooks.tid]
    mp_hrw = hrw.Hrw({m.path: m.digest for m in me.mountpaths if m.enabled and m.path in hooks.mountpaths})
    per_mp = spec.num_workers or PER_MOUNTPATH
    sems = {mp: asyncio.Semaphore(per_mp) for mp in hooks.mountpaths}
    snap.workers = per_mp * len(hooks.mountpaths)
    failures: list[AisError] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(mp: str, name: str) -> None:
        try:
            status, size = await hooks.mountpaths[mp].prefetch_obj.remote(spec.bck, name, spec.latest, spec.threshold)
        except AisError as err:
            snap.stats.errors += 1
            failures.append(err)
            return
        finally:
            sems[mp].release()
        if status != "skipped":
            snap.stats.objs += 1
            snap.stats.bytes += size
            snap.stats.in_objs += 1
            snap.stats.in_bytes += size

    async for name in _names(spec, hooks):
        if failures and not spec.continue_on_err:
            break
        uname = spec.bck.uname(name)
        if t_hrw.owner(uname) != hooks.tid:
            continue
        mp = mp_hrw.owner(uname)
        await sems[mp].acquire()
        task = asyncio.get_running_loop().create_task(one(mp, name))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await _gather(list(tasks))
    if failures and not spec.continue_on_err:
        raise failures[0]  # with `coer`, failures are counted in the stats and the job succeeds


async def _gather(tasks: Sequence[Awaitable[None]]) -> None:
    if tasks:
        await asyncio.gather(*tasks)
