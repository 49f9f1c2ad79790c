"""Copy bucket (`copy-bck`) and copy objects (`copy-listrange`): a target's share of a copy.

Every target copies what it holds or owns of the source, each object by the mountpath that
holds it, which sends the bytes straight to the destination's HRW owner (target to target,
never through the proxy or a driver) — AIStore's x-tcb / x-tco (`xact/xs/tcb.go`, `tcobjs.go`).

Which source objects: for `copy-bck` over what the cluster has (an ais bucket, or the cached
part of a remote one: `presence` 2, the default), each mountpath walks its own objects under the
prefix — every object is seen once, by the disk that holds it, with no listing traffic at all.
For a selection (`copy-listrange`: names, a template) and for a remote source copied whole
(`--all`, presence 0), every target iterates the same selection — a remote one through the one
pager — and keeps the names whose *source* it owns by HRW (`Share`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ais_ray.core.copy import TcbMsg
from ais_ray.core.errors import AisError, ErrNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.selection import ListFor, MountpathWorkers, Share, select, walk_objects

KIND_BCK = "copy-bck"
KIND_OBJS = "copy-listrange"
PER_MOUNTPATH = 8  # copies in flight per mountpath (default `num-workers`)

@dataclass(frozen=True, slots=True)
class CopySpec:
    src: Bucket
    dst: Bucket
    msg: TcbMsg
    kind: str = KIND_BCK
    sel: Selection | None = None  # None: walk what the cluster holds (copy-bck); else this selection

    @property
    def ctlmsg(self) -> str:
        flags = self.msg.flags_text
        return f"cp {self.src}=>{self.dst}" + (f", flags:{flags}" if flags else "")

@dataclass
class CopyHooks:
    share: Share  # which source names are this target's, on which mountpath
    mountpaths: dict[str, Any]  # path -> mountpath actor handle (`copy_obj`, `list_page`)
    list_for: ListFor | None  # the source's remote listing under a prefix (None: no remote)

def _wanted(name: str, prefix: str, non_recurs: bool) -> bool:
    if not name.startswith(prefix):
        return False
    return not (non_recurs and "/" in name[len(prefix):])

async def run_copy(spec: CopySpec, hooks: CopyHooks, snap: XactSnap) -> None:
    """This target's share of one copy; updates `snap.stats` as it goes.

    Per-object errors count in the stats; the first one ends the job unless `coer`. A source
    object gone before its turn is skipped (not an error), as AIStore does.
    """
    msg = spec.msg
    workers = MountpathWorkers(hooks.mountpaths, msg.num_workers if msg.num_workers > 0 else PER_MOUNTPATH)
    snap.workers = workers.total
    snap.extra["src-bck"], snap.extra["dst-bck"] = str(spec.src), str(spec.dst)
    failures: list[AisError] = []

    async def one(mp: str, name: str, size: int) -> None:
        try:
            if msg.dry_run:  # visit and count; nothing is written
                snap.stats.objs += 1
                snap.stats.bytes += max(size, 0)
                return
            n = await hooks.mountpaths[mp].copy_obj.remote(spec.src, name, spec.dst, msg.dst_name(name),
                                                           msg.latest, msg.sync)
            snap.stats.objs += 1
            snap.stats.bytes += n
        except ErrNotFound:
            pass  # gone before its turn (or from the remote): skipped
        except AisError as err:
            snap.stats.errors += 1
            failures.append(err)

    async def submit(mp: str, name: str, size: int) -> None:
        await workers.submit(mp, lambda: one(mp, name, size))

    def stop() -> bool:
        return snap.aborted or (bool(failures) and not msg.coer)

    walk = spec.sel is None or (spec.sel.is_listing and hooks.list_for is None)
    prefix = msg.prefix if spec.sel is None or not spec.sel.prefix else spec.sel.prefix
    if walk:  # what the cluster holds: each mountpath walks its own objects
        async def walk_mp(mp: str) -> None:
            async for name, size in walk_objects(hooks.mountpaths[mp], spec.src, prefix):
                if stop():
                    return
                if _wanted(name, prefix, msg.non_recurs):
                    await submit(mp, name, size)

        await asyncio.gather(*(walk_mp(mp) for mp in hooks.mountpaths))
    else:
        assert spec.sel is not None
        async for name in select(spec.sel, hooks.list_for):
            if stop():
                break
            if spec.sel.is_listing and not _wanted(name, prefix, msg.non_recurs):
                continue
            mp = hooks.share.mountpath(spec.src, name)
            if mp is not None:
                await submit(mp, name, -1)
    await workers.join()
    if failures and not msg.coer:
        raise failures[0]
