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

A destination object that already holds the source's bytes is skipped (counted as done, as
AIStore counts a no-op copy), so running the same copy again writes nothing — which is also how
a share resumes after its target restarts (`actors/target_copy.py`). With `sync`, a source gone
takes its destination copy with it, and after the copy each target prunes the destination
objects it holds that the source no longer lists (`jobs/prune.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ais_ray.core.copy import TcbMsg
from ais_ray.core.errors import AisError, ErrObjNotFound
from ais_ray.core.etl import MAX_OBJ_ERRS, obj_err
from ais_ray.core.names import Bucket, parse_bck_uname
from ais_ray.core.selection import Selection
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.etl import OBJ_ERRORS
from ais_ray.jobs.prune import local_names, missing
from ais_ray.jobs.batches import MountpathBatches, count_done
from ais_ray.jobs.selection import ListFor, Share, placed, select, walk_objects

KIND_BCK = "copy-bck"
KIND_OBJS = "copy-listrange"
PER_MOUNTPATH = 8  # copies in flight per mountpath (default `num-workers`)
PRUNE_BATCH = 256

@dataclass(frozen=True, slots=True)
class CopySpec:
    src: Bucket
    dst: Bucket
    msg: TcbMsg
    kind: str = KIND_BCK
    sel: Selection | None = None  # None: walk what the cluster holds (copy-bck); else this selection
    etl: tuple[str, ...] = ()  # etl-bck / etl-listrange: the ETL stages each object goes through (jobs/etl.py)

    @property
    def ctlmsg(self) -> str:
        flags = self.msg.flags_text
        verb = f"etl[{'>>'.join(self.etl)}]" if self.etl else "cp"
        return f"{verb} {self.src}=>{self.dst}" + (f", flags:{flags}" if flags else "")

    def to_wire(self) -> dict[str, Any]:
        """JSON for the share's saved record (a restarted target resumes from it)."""
        sel = None if self.sel is None else {"objnames": list(self.sel.names), "template": self.sel.template,
                                             "prefix": self.sel.prefix}
        return {"src": self.src.uname(""), "dst": self.dst.uname(""), "msg": self.msg.to_wire(),
                "kind": self.kind, "sel": sel, "etl": list(self.etl)}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> CopySpec:
        sel = d.get("sel")
        return cls(parse_bck_uname(d["src"]), parse_bck_uname(d["dst"]), TcbMsg.from_wire(d["msg"]), d["kind"],
                   None if sel is None else Selection(tuple(sel["objnames"]), sel["template"], sel["prefix"]),
                   tuple(d.get("etl") or ()))

@dataclass
class CopyHooks:
    share: Share  # which source names are this target's, on which mountpath
    mountpaths: dict[str, Any]  # path -> mountpath actor handle (`run_batch`, `list_page`)
    list_for: ListFor | None  # the source's remote listing under a prefix (None: no remote)
    src_names: Callable[[str], AsyncIterator[str]]  # every source name under a prefix, sorted (`sync`)
    # after its own copies: (mountpath, name, size) of a lost target's objects now this target's (`jobs/ec_cover.py`)
    cover: Callable[[XactSnap, Bucket, str], AsyncIterator[tuple[str, str, int]]] | None = None

def _wanted(name: str, prefix: str, non_recurs: bool) -> bool:
    if not name.startswith(prefix):
        return False
    return not (non_recurs and "/" in name[len(prefix):])

async def run_copy(spec: CopySpec, hooks: CopyHooks, snap: XactSnap) -> None:
    """This target's share of one copy; updates `snap.stats` as it goes.

    Per-object errors count in the stats; the first one ends the job unless `coer`. A source
    object gone before its turn is skipped (not an error), as AIStore does. A destination that
    already holds the same bytes is not written again (`extra["skipped"]`) but counts as done.
    """
    msg = spec.msg
    failures: list[AisError] = []

    def done(item: tuple[str, str], _: None, value: tuple[str, int] | None, err: AisError | None) -> None:
        if err is None and value is not None:
            count_done(snap, value)
        elif isinstance(err, ErrObjNotFound):
            pass  # the source is gone (before its turn, or from the remote): skipped
        elif err is not None:
            snap.stats.errors += 1
            failures.append(err)
            if spec.etl and len(snap.extra.setdefault(OBJ_ERRORS, [])) < MAX_OBJ_ERRS:  # GET /v1/etl/<n>?uuid=
                snap.extra[OBJ_ERRORS].append(obj_err(f"{spec.src}/{item[0]}", err).to_wire())

    workers = MountpathBatches(hooks.mountpaths, "copy", snap.id, msg.num_workers if msg.num_workers > 0 else PER_MOUNTPATH,
                               (spec.src, spec.dst, msg.latest, msg.sync, spec.etl), done)
    snap.workers = workers.total
    snap.src_bck, snap.dst_bck = spec.src, spec.dst
    snap.extra.update({"skipped": 0, "pruned": 0})

    async def submit(mp: str, name: str, size: int) -> None:
        if msg.dry_run:  # visit and count; nothing is written
            snap.stats.objs += 1
            snap.stats.bytes += max(size, 0)
            return
        await workers.submit(mp, (name, msg.dst_name(name)))

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
        if hooks.cover is not None:  # an erasure-coded source: a lost target's objects too
            # its own copies done first: a share is counted done by the others only once nothing it
            # walked is still in flight (a node lost mid-send: its objects are adopted, not dropped)
            await workers.join(flush=not stop())
            async for mp, name, size in hooks.cover(snap, spec.src, prefix):
                if stop():
                    break
                if _wanted(name, prefix, msg.non_recurs):
                    await submit(mp, name, size)
    else:
        assert spec.sel is not None
        sel = spec.sel

        async def chunks() -> AsyncIterator[list[str]]:
            async for chunk in select(sel, hooks.list_for):
                yield [n for n in chunk if _wanted(n, prefix, msg.non_recurs)] if sel.is_listing else chunk

        async for name, mp in placed(hooks.share, spec.src, chunks()):
            if stop():
                break
            await submit(mp, name, -1)
    await workers.join(flush=not stop())
    if failures and not msg.coer:
        raise failures[0]
    if failures:  # continued on errors: the share ends, saying how many and the first (AIStore's Snap.Err)
        verb = "transform" if spec.etl else "copy"
        snap.err = f"failed to {verb} {len(failures)} object(s), the first: {failures[0].message}"
    if msg.sync and not msg.dry_run and not snap.aborted and (spec.sel is None or spec.sel.is_listing):
        await _prune(spec, hooks, snap, prefix)


async def _prune(spec: CopySpec, hooks: CopyHooks, snap: XactSnap, prefix: str) -> None:
    """`sync`: delete the destination objects this target holds under the prefix whose source is gone.

    A merge of our sorted destination walk with the source's sorted listing, mapped to
    destination names (`sync` refuses `prepend`; an `ext` remap reorders names, so that listing
    is sorted in memory).
    """
    msg = spec.msg
    src = hooks.src_names(prefix)

    async def mapped() -> AsyncIterator[str]:
        if not msg.ext:
            async for n in src:
                yield n
            return
        for n in sorted([msg.dst_name(n) async for n in src]):
            yield n

    batches: dict[str, list[str]] = {}

    async def flush(mp: str) -> None:
        names = batches.pop(mp, [])
        if names:
            snap.extra["pruned"] += await hooks.mountpaths[mp].remove_objects.remote(spec.dst, names)

    async for name in missing(local_names(hooks.mountpaths, spec.dst, prefix), mapped()):
        if snap.aborted:
            return
        mp = hooks.share.mountpath(spec.dst, name) if _wanted(name, prefix, msg.non_recurs) else None
        if mp is None:
            continue  # not under the selection, or not this target's to hold
        batches.setdefault(mp, []).append(name)
        if len(batches[mp]) >= PRUNE_BATCH:
            await flush(mp)
    for mp in list(batches):
        await flush(mp)
