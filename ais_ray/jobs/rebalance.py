"""Global rebalance (kind `rebalance`) and resilver (kind `resilver`): objects move to where HRW places them.

One mechanism, two scopes (AIStore `reb/` and `res/`):
- **rebalance**, cluster-wide, id `g<Smap version>`: every target walks its mountpaths and sends
  each object whose HRW target under the current Smap is another one to that target's HRW
  mountpath (target to target, streamed, checksum verified by the receiver, owt `rebalance`),
  then drops its own copy once the receiver has committed.
- **resilver**, one target: objects this target owns that sit on another mountpath than their HRW
  one (a mountpath was attached, enabled, disabled or detached) move to it, the same way.

Each mountpath walks its own disk (`walk_and_move`, run in the mountpath process: no per-object
control traffic); the target's xaction (`run_moves`) starts the walks, polls their progress into
its snapshot (`out-*` sent, `in-*` received for this xaction id) and aborts them when it is aborted
— e.g. preempted by a rebalance on a newer Smap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ais_ray.core import lom
from ais_ray.core.errors import AisError, ErrNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.smap import MountpathInfo, Smap
from ais_ray.core.xact import XactSnap
from ais_ray.fs import walk

log = logging.getLogger(__name__)

REBALANCE = "rebalance"
RESILVER = "resilver"
PER_MOUNTPATH = 8  # objects in flight per walking mountpath
PLACE_CHUNK = 512  # names walked and HRW-placed per thread hop
PROGRESS_EVERY = 0.5


def reb_id(smap_version: int) -> str:
    """A global rebalance's id (Go `xact.RebID2S`): `g` + the Smap version it runs on."""
    return f"g{smap_version}"


def destination(smap: Smap, tid: str, here: str, uname: str, kind: str) -> MountpathInfo | None:
    """Where an object stored on target `tid`'s mountpath `here` must move, or None if it stays.

    rebalance: its HRW target is another one (this target may be leaving, or not in the map at
    all); resilver: this target owns it but HRW picks another of its mountpaths.
    """
    tsi, mp = smap.locate(uname)
    if kind == REBALANCE:
        return mp if tsi.daemon_id != tid else None
    return mp if tsi.daemon_id == tid and mp.path != here else None


@dataclass
class MoveStats:
    """One mountpath's counts for one moving xaction."""

    out_objs: int = 0
    out_bytes: int = 0
    in_objs: int = 0
    in_bytes: int = 0
    errors: int = 0
    first_err: str = ""
    done: bool = False

    def add_to(self, snap: XactSnap) -> None:
        s = snap.stats
        s.out_objs += self.out_objs
        s.out_bytes += self.out_bytes
        s.in_objs += self.in_objs
        s.in_bytes += self.in_bytes
        s.errors += self.errors
        s.objs, s.bytes = s.out_objs, s.out_bytes


# (bucket, name, where it goes) -> bytes moved (0: gone meanwhile)
Send = Callable[[Bucket, str, MountpathInfo], Awaitable[int]]
# (bucket, [(name, where it goes)]) -> {index: bytes moved, or the object's error} for those it moved
# many to a request (`actors/copies.py`); the others go one by one (`Send`)
SendMany = Callable[[Bucket, list[tuple[str, MountpathInfo]]], Awaitable[dict[int, "int | AisError"]]]
MANY = 128  # objects per `SendMany` call


async def walk_and_move(mpath: str, tid: str, kind: str, buckets: Iterable[Bucket], smap: Callable[[], Smap | None],
                        send: Send, stats: MoveStats, per_mp: int = PER_MOUNTPATH,
                        listed: Callable[[Bucket], walk.Keep | None] | None = None,
                        send_many: SendMany | None = None) -> None:
    """Walk every bucket on mountpath `mpath` and move each misplaced object (see `destination`).

    Placement reads the *current* Smap at each chunk of names, so a newer map is honoured at
    once. `listed(bck)`: the walk filter that sees a mirrored object once (its main), not each
    replica (`fs/mirror.py`): the main moves, and dropping it here drops its replicas here.
    A failed object counts as an error and the walk goes on. With `send_many`, each chunk's small
    objects go many to a request first; what it leaves goes one by one.
    """
    sem = asyncio.Semaphore(per_mp)
    tasks: set[asyncio.Task[None]] = set()

    def count(bck: Bucket, name: str, n: int | BaseException) -> None:
        if isinstance(n, int):
            if n >= 0:
                stats.out_objs += 1
                stats.out_bytes += n
        elif isinstance(n, ErrNotFound):
            pass  # deleted meanwhile
        else:
            stats.errors += 1
            if not stats.first_err:
                stats.first_err = f"{bck}/{name}: {n}"
                log.warning("%s %s: %s", kind, mpath, stats.first_err)

    async def one(bck: Bucket, name: str, dst: MountpathInfo) -> None:
        try:
            count(bck, name, await send(bck, name, dst))
        except (AisError, OSError) as exc:
            count(bck, name, exc)
        finally:
            sem.release()

    try:
        for bck in buckets:
            names = walk.walk_names(lom.objects_dir(mpath, bck), keep=listed(bck) if listed is not None else None)
            while True:
                m = smap()
                if m is None:
                    raise AisError(f"t[{tid}]: no cluster map yet")
                placed, last = await asyncio.to_thread(_place, names, m, tid, mpath, bck, kind)
                if send_many is not None:
                    placed = await _many(bck, placed, send_many, count)
                for name, dst in placed:
                    await sem.acquire()
                    t = asyncio.get_running_loop().create_task(one(bck, name, dst))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                if last:
                    break
        if tasks:
            await asyncio.gather(*list(tasks))
    finally:
        for t in list(tasks):
            t.cancel()
        stats.done = True


async def _many(bck: Bucket, placed: list[tuple[str, MountpathInfo]], send_many: SendMany,
                count: Callable[[Bucket, str, int | BaseException], None]) -> list[tuple[str, MountpathInfo]]:
    """`placed` through `send_many`, `MANY` at a time; the ones it left, to go one by one."""
    left = []
    for start in range(0, len(placed), MANY):
        part = placed[start:start + MANY]
        done = await send_many(bck, part)
        for i, (name, dst) in enumerate(part):
            if i in done:
                count(bck, name, done[i])
            else:
                left.append((name, dst))
    return left


def _place(names: Iterator[tuple[str, Any]], smap: Smap, tid: str, mpath: str, bck: Bucket,
           kind: str) -> tuple[list[tuple[str, MountpathInfo]], bool]:
    chunk = list(islice(names, PLACE_CHUNK))
    out = []
    for name, _ in chunk:
        dst = destination(smap, tid, mpath, bck.uname(name), kind)
        if dst is not None:
            out.append((name, dst))
    return out, len(chunk) < PLACE_CHUNK


# whether every other target taking part has finished sending (its own walk done)
OthersWalked = Callable[[], Awaitable[bool]]


async def _nobody() -> bool:
    return True


async def run_moves(kind: str, mountpaths: dict[str, Any], snap: XactSnap, others_walked: OthersWalked = _nobody) -> None:
    """A target's rebalance / resilver: every mountpath walks and moves (`reb_walk`), progress
    polled into `snap` (`reb_progress`); an abort stops every walk (`reb_abort`).

    After its own walk (`snap.extra["walked"]`) the target keeps counting what it receives until
    every other target has walked too (AIStore's "wait for the others" stage), so the xaction
    ends when nothing more can arrive and its `in-*` are complete."""
    xid = snap.id
    snap.workers = PER_MOUNTPATH * len(mountpaths)
    walks = {p: asyncio.ensure_future(h.reb_walk.remote(xid, kind)) for p, h in mountpaths.items()}

    async def poll() -> None:
        parts = await asyncio.gather(*(h.reb_progress.remote(xid) for h in mountpaths.values()),
                                     return_exceptions=True)
        total = XactSnap(xid, kind)
        for part in parts:
            if isinstance(part, MoveStats):
                part.add_to(total)
        snap.stats = total.stats

    try:
        pending = set(walks.values())
        while pending:
            _, pending = await asyncio.wait(pending, timeout=PROGRESS_EVERY)
            await poll()
        snap.extra["walked"] = True
        while not await others_walked():
            await asyncio.sleep(PROGRESS_EVERY)
            await poll()
    except asyncio.CancelledError:
        await asyncio.gather(*(h.reb_abort.remote(xid) for h in mountpaths.values()), return_exceptions=True)
        raise
    errs = [w.exception() for w in walks.values() if w.exception() is not None]
    results = [w.result() for w in walks.values() if w.exception() is None]
    await poll()
    if errs:
        raise errs[0] if isinstance(errs[0], AisError) else AisError(f"{kind}: {errs[0]!r}")
    failed = [r for r in results if isinstance(r, MoveStats) and r.errors]
    if failed:
        n = sum(r.errors for r in failed)
        raise AisError(f"{kind}: {n} object(s) failed to move, e.g. {failed[0].first_err}")


SETTLE_SUFFIX = ".settle"


async def settle(mountpaths: dict[str, Any], xid: str, buckets: list[Bucket]) -> MoveStats:
    """After a job's walk that followed a rebalance (`TargetXacts.follow`): move this target's
    objects of `buckets` that are not where the current Smap places them — a write the job sent
    under the old map that landed after the rebalance had walked past it. The rebalance's own walk
    over just those buckets, under id `<job>.settle`; returns the summed counts."""
    parts = await asyncio.gather(*(h.reb_walk.remote(xid + SETTLE_SUFFIX, REBALANCE, buckets)
                                   for h in mountpaths.values()))
    total = MoveStats(done=True)
    for p in parts:
        total.out_objs += p.out_objs
        total.out_bytes += p.out_bytes
        total.errors += p.errors
        total.first_err = total.first_err or p.first_err
    if total.errors:
        raise AisError(f"{total.errors} object(s) failed to move to their owner, e.g. {total.first_err}")
    return total
