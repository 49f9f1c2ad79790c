"""A target's xactions: each runs as a task on the target's loop and keeps a live snapshot."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.xact import XactSnap, matches

log = logging.getLogger(__name__)
KEEP_FINISHED = 1000

Work = Callable[[XactSnap], Awaitable[None]]


class TargetXacts:
    def __init__(self) -> None:
        self._snaps: dict[str, XactSnap] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, snap: XactSnap, work: Work) -> None:
        """Run `work(snap)`; it updates `snap.stats` as it goes. A second start of an id is a no-op."""
        if snap.id in self._snaps:
            return
        snap.start = snap.start or time.time()
        self._snaps[snap.id] = snap
        self._tasks[snap.id] = asyncio.get_running_loop().create_task(self._run(snap, work))
        self._trim()

    async def _run(self, snap: XactSnap, work: Work) -> None:
        try:
            await work(snap)
        except asyncio.CancelledError:
            snap.aborted = True
            snap.err = snap.err or "aborted"
        except AisError as err:
            snap.err = err.message
        except Exception as exc:  # a bug: the xaction ends with the reason, the target goes on
            log.exception("xaction %s[%s]", snap.kind, snap.id)
            snap.err = f"{type(exc).__name__}: {exc}"
        finally:
            snap.end = time.time()
            self._tasks.pop(snap.id, None)

    def snaps(self, *, xid: str = "", kind: str = "", bck: Bucket | None = None, only_running: bool = False) -> list[XactSnap]:
        return [s for s in self._snaps.values() if matches(s, xid=xid, kind=kind, bck=bck, only_running=only_running)]

    async def abort(self, *, xid: str = "", kind: str = "") -> int:
        tasks = [t for i, t in self._tasks.items() if (not xid or i == xid) and (not kind or self._snaps[i].kind == kind)]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    def _trim(self) -> None:
        done = [i for i, s in self._snaps.items() if not s.running]
        for i in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self._snaps[i]
