"""A target's one registry of xactions: every job kind's share on this node, its snapshot, its abort.

Two ways in: `start(snap, work)` runs `work(snap)` as a task on the target's loop (prefetch,
blob-download, ...); `add(xact)` registers a job that runs itself and persists its own state
(download shares). Admission follows the kind table (`core/xact.py`): a kind that conflicts
with a running rebalance is refused, and a starting rebalance aborts the kinds it aborts.

Jobs keep going across a membership change (`follow`): a share of a kind that follows the Smap,
running here when a rebalance (or resilver) starts — or named by the proxy because the job still
runs elsewhere — walks once more when no rebalance runs here any more (`pass_no(snap)` > 0 in that
pass), then moves what it wrote under the old map and the rebalance walked past (`settle`). It
stays running meanwhile, so the job cannot look done while names are still moving.

A share run as a task leaves a mark on every mountpath while it runs (`Marks`, `.ais.xact/<id>.json`).
A target that stopped (killed, its node lost) and came back finds the marks of the shares it was
running: those its kind resumes itself (copies, downloads: saved shares) run again; for the others
the proxy is asked to start again the ones it can (`restart_shares`: jobs it started on every
target, as a join gets its share, a one-target job it remembers, its current rebalance); the rest
end with the reason (`LostShare`). Until then they
read as running: a job whose share was lost never reads as done (it did: a prefetch that lost a
target's share ended "successfully" with that target's objects not fetched). A share that failed
or was aborted leaves the record of its end instead of no mark: after a restart it reads as it
ended (`EndedShare`), so the job still reads failed (it read successful: the restarted target had
forgotten the share, and the others had none to report).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket, parse_bck_uname
from ais_ray.core.smap import Smap
from ais_ray.core.xact import (REB_KINDS, ErrXactBusy, XactSnap, XactStats, conflict, kind_of, log_ended, log_started,
                               matches, reb_aborts)
from ais_ray.fs.replicas import load_newest, save_everywhere

log = logging.getLogger(__name__)
KEEP_FINISHED = 1000
SETTLE_POLL = 0.5
RESTART_TIMEOUT = 60.0  # the proxy's answer to a restarted target's lost shares

Work = Callable[[XactSnap], Awaitable[None]]
Settled = Callable[[], Awaitable[None]]  # returns once no rebalance/resilver runs on this target
# (job id, buckets): move this target's objects of those buckets to where the Smap places them
Settle = Callable[[str, list[Bucket]], Awaitable[object]]
PASS = "pass"  # snap.extra key: 0 the first walk, n the n-th walk after a rebalance
MARKS_DIR = ".ais.xact"  # on every mountpath: a mark per running task share (`Marks`)
_MARK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # a job id that is a safe file name


def pass_no(snap: XactSnap) -> int:
    """Which walk of its share a job is in: 0 the first; > 0 a walk after a rebalance (see `follow`)."""
    return int(snap.extra.get(PASS, 0))


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


class LostShare(SnapXact):
    """A share that ran here when the target stopped (its mark was left): running until the proxy
    said whether it starts it again (then a start of the id replaces this), then ended with the
    reason (`lost`)."""

    def lost(self, reason: str) -> None:
        snap = self._snap
        if snap.running:
            snap.end, snap.aborted, snap.err = time.time(), True, reason
            snap.stats.errors = max(snap.stats.errors, 1)

    async def abort(self) -> None:
        self.lost("aborted")


class EndedShare(SnapXact):
    """A share that ended with an error before this target stopped, as its record says (`Marks.ended`)."""


class Marks:
    """The task shares' marks, a JSON record each on every mountpath (`save_everywhere`): written
    when a share starts a walk; when it ends, removed — or, for a share that failed or was aborted,
    replaced by the record of its end (`ended`), kept while the registry keeps the share (`_trim`).
    Marks left behind name the shares a stopped target did not finish, and the errors of those it
    ended: a restart must not turn a job whose share failed into a job that succeeded. Unreadable
    or foreign files are skipped, never fatal."""

    def __init__(self, dirs: Callable[[], Iterable[str]], *, fsync: bool) -> None:
        self._dirs = dirs
        self._fsync = fsync

    def dirs(self) -> list[str]:
        return [os.path.join(p, MARKS_DIR) for p in self._dirs()]

    def save(self, snap: XactSnap) -> None:
        if not _MARK_ID.fullmatch(snap.id):
            return
        rec: dict[str, Any] = {"xid": snap.id, "kind": snap.kind, "bck": snap.bck.uname("") if snap.bck is not None else "",
                               "start": snap.start}
        if not snap.running:
            rec.update(end=snap.end, aborted=snap.aborted, err=snap.err, stats=dataclasses.asdict(snap.stats))
        dirs = self.dirs()
        for d in dirs:
            os.makedirs(d, exist_ok=True)
        save_everywhere(dirs, f"{snap.id}.json", json.dumps(rec).encode(), fsync=self._fsync)

    def ended(self, snap: XactSnap) -> None:
        """The share ended: its failure or abort is recorded; a success leaves no mark."""
        if snap.err or snap.aborted:
            self.save(snap)
        else:
            self.drop(snap.id)

    def drop(self, xid: str) -> None:
        if not _MARK_ID.fullmatch(xid):
            return
        for d in self.dirs():
            try:
                os.unlink(os.path.join(d, f"{xid}.json"))
            except OSError:
                continue

    def clear_stale(self, path: str, known: Iterable[str]) -> None:
        """A mountpath attached again: its marks of shares not running here (`known`: those that
        are) are stale — the shares ended while it was away, and their ends did not reach it (a
        resilver forgets the mountpath it emptied before its own end) — and would read as lost
        after a restart. The record of a share's end is on the other mountpaths."""
        d, keep = os.path.join(path, MARKS_DIR), set(known)
        try:
            names = os.listdir(d)
        except OSError:
            return
        for n in names:
            if n.endswith(".json") and n[:-5] not in keep:
                try:
                    os.unlink(os.path.join(d, n))
                except OSError:
                    continue

    def left(self) -> list[dict[str, Any]]:
        """The marks left behind: {xid, kind, bck, start} each, and {end, aborted, err, stats} for a
        share that ended with an error (that record wins over a running mark on another mountpath)."""
        dirs, names = self.dirs(), set[str]()
        for d in dirs:
            try:
                names.update(n for n in os.listdir(d) if n.endswith(".json") and _MARK_ID.fullmatch(n[:-5]))
            except OSError:
                continue
        recs = [load_newest(dirs, n, json.loads, lambda r: int(isinstance(r, dict) and "end" in r)) for n in sorted(names)]
        return [r for r in recs if isinstance(r, dict) and isinstance(r.get("xid"), str) and isinstance(r.get("kind"), str)]


def ended_snap(rec: dict[str, Any], bck: Bucket | None) -> XactSnap:
    """The snapshot of a share that ended with an error, from its record (`Marks.ended`)."""
    stats = rec.get("stats")
    fields = {f.name for f in dataclasses.fields(XactStats)}
    known = {k: int(v) for k, v in stats.items() if k in fields and isinstance(v, int)} if isinstance(stats, dict) else {}
    return XactSnap(rec["xid"], rec["kind"], bck, start=float(rec.get("start") or 0), end=float(rec.get("end") or 0) or time.time(),
                    aborted=bool(rec.get("aborted")), err=str(rec.get("err") or ""), stats=XactStats(**known))


def _save_mark(marks: Marks, snap: XactSnap) -> None:
    try:
        marks.save(snap)
    except OSError as exc:  # no disk takes it: the share runs, unmarked (a restart cannot tell it was lost)
        log.warning("cannot mark %s[%s] as running: %r", snap.kind, snap.id, exc)


class LostShares(ResumeOnce):
    """Once a restarted target is in the map: its lost shares (`Marks.left`, not resumed by their
    kind) read as running while the proxy is asked to start them again (`restart`: the ids it
    started); the others end as lost."""

    def __init__(self, tid: str, smap: Callable[[], Smap | None], xacts: TargetXacts, marks: Marks,
                 restart: Callable[[list[str]], Awaitable[list[str]]]) -> None:
        self.tid = tid
        self._smap = smap
        self._xacts = xacts
        self._marks = marks
        self._restart = restart
        self._task: asyncio.Task[None] | None = None

    def _resume(self) -> None:
        # read here, before any query is answered: a share that ended with an error reads so at once
        lost = self._xacts.lost_shares(self._marks.left())
        if lost:
            self._task = asyncio.get_running_loop().create_task(self._resolve(lost))

    async def _resolve(self, lost: list[LostShare]) -> None:
        ids = [x.xid for x in lost]
        try:
            again = await asyncio.wait_for(self._restart(ids), RESTART_TIMEOUT)
        except Exception as exc:  # the proxy is away: what it could start again stays lost
            log.warning("asking the proxy to start again the shares %s: %r", ids, exc)
            again = []
        log.info("shares %s were running when this target stopped; started again: %s", ids, again)
        for x in lost:
            if self._xacts.get(x.xid) is x:  # not started again
                x.lost(f"target {self.tid} stopped while this job ran: its share did not finish and "
                       f"cannot be resumed (run the job again)")
                await asyncio.to_thread(self._marks.ended, x.snap())


class _TaskXact(SnapXact):
    """A job run as one task on the loop; `work` updates the snapshot as it goes (its mark, with
    `marks`, kept while it runs)."""

    def __init__(self, snap: XactSnap, work: Work, settle: Settle | None, marks: Marks | None = None) -> None:
        super().__init__(snap)
        snap.start = snap.start or time.time()
        self._work = work
        self._settle = settle
        self._marks = marks
        if marks is not None:  # before the start returns: a job is accepted once its mark is written
            _save_mark(marks, snap)
        self._again: Settled | None = None
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._run(first=True))

    def again(self, settled: Settled) -> bool:
        """Walk once more after `settled()` returns (a share that ended is running again until then).
        False for a share that failed or was aborted: that is its end."""
        snap = self._snap
        if self._task is None and (snap.aborted or snap.err):
            return False
        self._again = settled
        if self._task is None:
            snap.end = 0.0
            self._task = asyncio.get_running_loop().create_task(self._run(first=False))
        return True

    async def _run(self, first: bool) -> None:
        snap = self._snap
        try:
            if self._marks is not None and not first:  # walking again: marked again
                await asyncio.to_thread(_save_mark, self._marks, snap)
            if first:
                log_started(snap)
                await self._work(snap)
            while (settled := self._again) is not None:
                self._again = None
                await settled()
                snap.stats, snap.err = XactStats(), ""  # the pass counts what this target has now
                snap.extra[PASS] = pass_no(snap) + 1
                await self._work(snap)
                written = snap.dst_bck or snap.bck
                if self._settle is not None and written is not None:
                    await self._settle(snap.id, [written])
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
            log_ended(snap)
            if self._marks is not None:
                try:
                    await asyncio.shield(asyncio.to_thread(self._marks.ended, snap))
                except (OSError, asyncio.CancelledError):
                    pass
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
    def __init__(self, settle: Settle | None = None, stop_batches: Callable[[str], Awaitable[None]] | None = None,
                 marks: Marks | None = None) -> None:
        self._xacts: dict[str, Xact] = {}
        self._marks = marks
        self._settle = settle  # after a job's walk that followed a rebalance (`follow`)
        # an aborted job's batches already sent to the mountpaths stop there too (`Gates.stop`): the
        # job's task ending does not recall them, and they would write on after its status said aborted
        self._stop_batches = stop_batches

    def admit(self, kind: str) -> None:
        """Raise if a job of `kind` may not start now (kind table: unknown kind, conflict with a rebalance)."""
        kind_of(kind)
        running = [x.kind for x in self._xacts.values() if x.snap().running]
        blocker = conflict(kind, running)
        if blocker:
            raise ErrXactBusy(f'cannot start "{kind}": "{blocker}" is running, please try again')

    def start(self, snap: XactSnap, work: Work, *, admitted: bool = False, mark: bool = True) -> None:
        """Run `work(snap)` as a task. A second start of an id is a no-op (but of a `LostShare`: it
        runs again). `admitted`: the caller checked admission already, or this is a share of a job
        that runs (resumed, or on a target that joined while the rebalance runs). A share of a kind
        that follows the Smap, started while a rebalance runs here, walks once more after it.
        `mark`: False for a kind that saves its shares itself (copies)."""
        if snap.id in self._xacts and not isinstance(self._xacts[snap.id], LostShare):
            return
        if not admitted:
            self.admit(snap.kind)
        self._abort_for(snap.kind)
        x = self._xacts[snap.id] = _TaskXact(snap, work, self._settle, self._marks if mark else None)
        self._trim()
        self.follow_if_moving(x)

    def moving(self) -> bool:
        """Is a rebalance or resilver running on this target?"""
        return any(x.kind in REB_KINDS and x.snap().running for x in self._xacts.values())

    async def settled(self) -> None:
        """Return once no rebalance or resilver runs on this target."""
        while self.moving():
            await asyncio.sleep(SETTLE_POLL)

    def follow_if_moving(self, x: Xact) -> None:
        if self.moving() and kind_of(x.kind).follows_smap:
            getattr(x, "again", lambda _: False)(self.settled)

    def follow(self, also: Iterable[str] = ()) -> list[str]:
        """A rebalance or resilver starts here: every share of a kind that follows the Smap and runs
        here, or whose job the proxy names in `also` (still running elsewhere, or ended since the
        map changed), walks once more after it. Returns their ids."""
        ids = set(also)
        out = []
        for xid, x in list(self._xacts.items()):
            again = getattr(x, "again", None)
            if again is None or not kind_of(x.kind).follows_smap or not (x.snap().running or xid in ids):
                continue
            if again(self.settled):
                out.append(xid)
        if out:
            log.info("jobs %s walk once more after the rebalance", out)
        return out

    async def run(self, snap: XactSnap, work: Work) -> XactSnap:
        """Start and wait for the end (a job the request waits for, e.g. evict list-range)."""
        self.start(snap, work)
        x = self._xacts.get(snap.id)
        return await x.wait() if isinstance(x, _TaskXact) else snap

    def add(self, xact: Xact) -> None:
        """Register a job that runs itself (e.g. a resumed download share); replaces one of the same id."""
        self._xacts[xact.xid] = xact
        self._trim()

    def lost_shares(self, left: list[dict[str, Any]]) -> list[LostShare]:
        """The shares whose marks were `left` behind (`Marks.left`) and that no kind resumed here:
        those that ended with an error are registered ended, as they were; the others as running
        `LostShare`s (their end is the caller's: `lost`), returned."""
        out = []
        for rec in left:
            xid = rec["xid"]
            if xid in self._xacts:
                continue  # resumed (a copy's saved share), or started again already
            bck = rec.get("bck") or ""
            try:
                b = parse_bck_uname(bck) if isinstance(bck, str) and bck else None
            except AisError:
                b = None
            try:
                if "end" in rec:
                    self._xacts[xid] = EndedShare(ended_snap(rec, b))
                    continue
                snap = XactSnap(xid, rec["kind"], b, start=float(rec.get("start") or 0) or time.time())
            except (TypeError, ValueError) as exc:  # a damaged record: skipped, never fatal
                log.warning("ignoring the damaged mark of %s: %r", xid, exc)
                continue
            x = LostShare(snap)
            self._xacts[xid] = x
            out.append(x)
        self._trim()
        return out

    def attached(self, path: str) -> None:
        """Mountpath `path` (re)joins this target: its marks of shares not running go (`Marks.clear_stale`)."""
        if self._marks is not None:
            self._marks.clear_stale(path, [i for i, x in self._xacts.items() if x.snap().running])

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
        await asyncio.gather(*(self._abort(x) for x in doomed), return_exceptions=True)
        return len(doomed)

    async def _abort(self, x: Xact) -> None:
        await x.abort()
        if self._stop_batches is not None:
            await self._stop_batches(x.xid)

    def _abort_for(self, kind: str) -> None:
        """A starting rebalance aborts the running jobs the kind table says it aborts."""
        doomed = [x for x in self._xacts.values() if x.snap().running and reb_aborts(kind, x.kind)]
        for x in doomed:
            log.info("%s aborts %s[%s]", kind, x.kind, x.xid)
            asyncio.get_running_loop().create_task(self._abort(x))

    def _trim(self) -> None:
        # only task jobs and the ended shares found after a restart (with their record of the end):
        # a persisted job (download) stays until removed
        done = [i for i, x in self._xacts.items()
                if isinstance(x, (_TaskXact, EndedShare, LostShare)) and not x.snap().running]
        for i in done[: max(0, len(done) - KEEP_FINISHED)]:
            x = self._xacts.pop(i)
            if self._marks is not None and (x.snap().err or x.snap().aborted):
                self._marks.drop(i)
