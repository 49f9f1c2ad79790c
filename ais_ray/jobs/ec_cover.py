"""A copy of an erasure-coded bucket keeps going when a target is lost: its objects' new owners copy them.

Every target's share of a `copy-bck` walks its own objects (`jobs/copy.py`). When a target's node
is lost (SIGKILL, a dead machine) its share stops with it, and the objects it owned would be
missing from the destination although their slices survive. So a share of an EC source, once its
own objects are copied (walked *and* every send of them finished: `OWN_DONE` in its snapshot), does
not end until every other target's share has said so too, or that target is lost — not answering, and out of placement (maintenance / decommission: the
Smap ranks the others first, so each of its objects has a new owner, which holds a slice or a
replica of it). The new owner then copies those objects as well: the copy reads them, and a main
missing here is rebuilt from the slices first (`ObjCopier` → EC restore). A target that is offline
but still in placement is waited for: its node may return (its share resumes, `actors/target_copy.py`),
or be put in maintenance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from ais_ray.core.xact import XactSnap

log = logging.getLogger(__name__)
OWN_DONE = "own-done"  # snap.extra: this share has copied its own objects (none in flight)
POLL = 1.0
PEER_TIMEOUT = 5.0


@dataclass
class LostCover:
    tid: str
    smap: Callable[[], Smap | None]
    target: Callable[[str], Any]  # tid -> target actor handle (`xact_snaps`)
    mountpaths: dict[str, Any]  # path -> mountpath actor handle (`stored_bmd`, `ec_adopted`)

    async def _ec_source(self, src: Bucket) -> bool:
        for h in self.mountpaths.values():
            bmd = await h.stored_bmd.remote()
            props = bmd.get(src) if bmd is not None else None
            return props is not None and props.ec.enabled
        return False

    async def _own_done(self, tid: str, xid: str) -> bool | None:
        """Whether `tid`'s share has copied its own objects (True; also when it has none), is still
        walking or sending (False: an object it walked may be in flight), or the target does not
        answer (None)."""
        try:
            snaps: list[XactSnap] = await asyncio.wait_for(self.target(tid).xact_snaps.remote(xid), PEER_TIMEOUT)
        except Exception:  # noqa: BLE001 - a dead actor, a lost node, a timeout: not answering
            return None
        return all(not s.running or s.extra.get(OWN_DONE) for s in snaps)

    async def objects(self, snap: XactSnap, src: Bucket, prefix: str) -> AsyncIterator[tuple[str, str, int]]:
        """(mountpath, name, size) of the lost targets' objects this target now owns; returns once
        every other share has copied its own or its target is lost (or the share is aborted).
        Called once this share's own copies are done (`run_copy` joins them first)."""
        snap.extra[OWN_DONE] = True
        if not await self._ec_source(src):
            return
        done = {self.tid}
        while not snap.aborted:
            smap = self.smap()
            pending = [t for t in (smap.targets if smap is not None else ()) if t not in done]
            if not pending:
                return
            states = await asyncio.gather(*(self._own_done(t, snap.id) for t in pending))
            for tid, own_done in zip(pending, states):
                if own_done:
                    done.add(tid)
                elif own_done is None and smap is not None and smap.targets[tid].in_maint_or_decomm:
                    done.add(tid)
                    log.info("copy %s: %s is lost; copying its objects this target now owns", snap.id, tid)
                    for mp, h in self.mountpaths.items():
                        for name, size in await h.ec_adopted.remote(src, prefix, tid):
                            yield mp, name, size
            if any(t not in done for t in pending):
                await asyncio.sleep(POLL)
