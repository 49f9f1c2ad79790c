"""A target's one registry of xactions: every job kind's share on this node, its snapshot, its abort.

Two ways in: `start(snap, work)` runs `work(snap)` as a task on the target's loop (prefetch,
blob-download, ...); `add(xact)` registers a job that runs itself and persists its own state
(download shares). Admission follows the kind table (`core/xact.py`): a kind that conflicts
with a running rebalance is refused, and a starting rebalance aborts the kinds it aborts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from ais_ray.core.xact import ErrXactBusy, XactSnap, aborted_by, conflict, kind_of, matches

log = logging.getLogger(__name__)
KEEP_FINISHED = 1000

Work = Callable[[XactSnap], Awaitable[None]]


class Xact(Protocol):
    """What the registry needs of a job: its id and kind, a snapshot, an abort."""

    @property
    def xid(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def snap(self) -> XactSnap: ...

    async def abort(self) -> None: ...


class SnapXact:
    """A job known by its snapshot alone (e.g. a share that ended before its target restarted)."""

    def __init__(self, snap: XactSnap) -> None:
        self._snap = snap

    @property
    def xid(self) -> str:
        return self._snap.id

    @property
    def kind(self) -> str:
        return self._snap.kind

    def snap(self) -> XactSnap:
        return self._snap

    async def abort(self) -> None:
        return None


class ResumeOnce:
    """A kind whose saved shares a restarted target resumes once, when it is in the cluster map."""

    tid: str
    _smap: Callable[[], Smap | None]
    _resumed: bool = False

    def resume(self) -> None:
        if self._resumed:
            return
        smap = self._smap()
        if smap is None or self.tid not in smap.targets:
            return
        self._resumed = True
        self._resume()

    def _resume(self) -> None:
        raise NotImplementedError


class _TaskXact(SnapXact):
    """A job run as one task on the loop; `work` updates the snapshot as it goes."""

    def __init__(self, snap: XactSnap, work: Work) -> None:
        super().__init__(snap)
        snap.start = snap.start or time.time()
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._run(work))

    async def _run(self, work: Work) -> None:
        snap = self._snap
        try:
            await work(snap)
        except asyncio.CancelledError:
            snap.aborted = True
            snap.err = snap.err or "aborted"
        except AisError as err:
            snap.err, snap.failure = err.message, err
        except Exception as exc:  # a bug: the xaction ends with the reason, the target goes on
            log.exception("xaction %s[%s]", snap.kind, snap.id)
            snap.err = f"{type(exc).__name__}: {exc}"
        finally:
            snap.end = time.time()
            self._task = None

    async def abort(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def wait(self) -> XactSnap:
        task = self._task
        if task is not None:
            await asyncio.gather(asyncio.shield(task), return_exceptions=True)
        return self._snap


class TargetXacts:
    def __init__(self) -> None:
        self._xacts: dict[str, Xact] = {}

    def admit(self, kind: str) -> None:
        """Raise if a job of `kind` may not start now (kind table: unknown kind, conflict with a rebalance)."""
        kind_of(kind)
        running = [x.kind for x in self._xacts.values() if x.snap().running]
        blocker = conflict(kind, running)
        if blocker:
            raise ErrXactBusy(f'cannot start "{kind}": "{blocker}" is running, please try again')

    def start(self, snap: XactSnap, work: Work) -> None:
        """Run `work(snap)` as a task. A second start of an id is a no-op."""
        if snap.id in self._xacts:
            return
        self.admit(snap.kind)
        self._abort_for(snap.kind)
        self._xacts[snap.id] = _TaskXact(snap, work)
        self._trim()

    async def run(self, snap: XactSnap, work: Work) -> XactSnap:
        """Start and wait for the end (a job the request waits for, e.g. evict list-range)."""
        self.start(snap, work)
        x = self._xacts.get(snap.id)
        return await x.wait() if isinstance(x, _TaskXact) else snap

    def add(self, xact: Xact) -> None:
        """Register a job that runs itself (e.g. a resumed download share); replaces one of the same id."""
        self._xacts[xact.xid] = xact
        self._trim()

    def get(self, xid: str) -> Xact | None:
        return self._xacts.get(xid)

    def pop(self, xid: str) -> Xact | None:
        return self._xacts.pop(xid, None)

    def of_kind(self, kind: str) -> dict[str, Xact]:
        return {i: x for i, x in self._xacts.items() if x.kind == kind}

    def snaps(self, *, xid: str = "", kind: str = "", bck: Bucket | None = None, only_running: bool = False) -> list[XactSnap]:
        xs = [self._xacts[xid]] if xid and xid in self._xacts else [] if xid else list(self._xacts.values())
        return [s for s in (x.snap() for x in xs) if matches(s, xid=xid, kind=kind, bck=bck, only_running=only_running)]

    async def abort(self, *, xid: str = "", kind: str = "") -> int:
        doomed = [x for i, x in self._xacts.items()
                  if (not xid or i == xid) and (not kind or x.kind == kind) and x.snap().running]
        await asyncio.gather(*(x.abort() for x in doomed), return_exceptions=True)
        return len(doomed)

    def _abort_for(self, kind: str) -> None:
        """A starting rebalance aborts the running jobs the kind table says it aborts."""
        doomed = [x for x in self._xacts.values() if x.snap().running and aborted_by(kind, x.kind)]
        for x in doomed:
            log.info("%s aborts %s[%s]", kind, x.kind, x.xid)
            asyncio.get_running_loop().create_task(x.abort())

    def _trim(self) -> None:
        # only task jobs: a persisted job (download) stays until removed
        done = [i for i, x in self._xacts.items() if isinstance(x, _TaskXact) and not x.snap().running]
        for i in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self._xacts[i]
