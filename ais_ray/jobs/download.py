"""A target's share of a download job: pick own items by HRW, feed mountpaths, track, persist.

Every target walks the same item sequence (template, link list, or the listing of the remote
bucket, page by page: one target lists each page for all, `TargetDownloads._list_remote`) and
keeps what it owns; each owned
item goes to the mountpath HRW picks, in small batches, under a window that bounds items in
flight. Progress is saved about once a second (resume index, items done past it, counters,
errors), so a restarted target resumes its share where it was and counts nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ais_ray.backends.pager import pages
from ais_ray.core.dload import (
    MAX_ERRORS_KEPT,
    MAX_FINISHED_KEPT,
    DlItem,
    DlKind,
    DlSpec,
    TargetDlStatus,
    TaskInfo,
    spec_from_json,
    spec_to_json,
)
from ais_ray.core.smap import Smap
from ais_ray.core.xact import XactSnap, XactStats, log_ended, log_started
from ais_ray.fs.replicas import save_everywhere
from ais_ray.jobs.batches import BATCH, BatchSizer, Window
from ais_ray.jobs.dl_worker import DONE, ERROR, MP_CONCURRENCY, OK, SKIPPED, DlJobCtx, DlResult
from ais_ray.jobs.rebalance import settle
from ais_ray.jobs.selection import Share

log = logging.getLogger(__name__)

CHUNK = 4096  # items HRW-filtered per thread hop
FIRST_CHUNK = 256  # the first hops are smaller (x4 each): the first GETs start before 4,096 names are hashed
PERSIST_EVERY = 1.0
# The items in flight on the mountpaths (a status's `current_tasks`) are asked for at most this
# often: a client polling every 0.2 s would otherwise cost every mountpath a Ray call as often,
# on the same loop as its downloads. Counts and the end of the job are the target's own: fresh.
PROGRESS_TTL = 1.0


def download_times(results: Sequence[DlResult]) -> list[float]:
    """How long each item that downloaded took on its mountpath (what sizes the next batch)."""
    return [r.end - r.start for r in results if r.status == OK and r.end > r.start > 0]


def limits_plan(conns: int, n_mp: int) -> tuple[int, list[int], bool]:
    """How a target runs a job over its `n_mp` mountpaths: (items per batch, downloads in flight
    per mountpath, whether one window of `conns` items is shared by the mountpaths).

    No limit: MP_CONCURRENCY per mountpath, batches of BATCH. A connection limit (`limits.connections`,
    per target) of at least one per mountpath is split among them — each mountpath's own bound, so
    the target never has more in flight — and batches stay large (8 per connection, at most BATCH):
    one Ray call and one group commit per batch, not per few objects (and never more per mountpath
    than without a limit: a limit bounds). A limit below one per mountpath cannot be split: one
    window of `conns` items for the target, batches of one."""
    if conns <= 0:
        return BATCH, [MP_CONCURRENCY] * n_mp, False
    if conns < n_mp:
        return 1, [conns] * n_mp, True
    concs = [min(MP_CONCURRENCY, conns // n_mp + (1 if i < conns % n_mp else 0)) for i in range(n_mp)]
    return max(1, min(BATCH, 8 * min(concs))), concs, False


@dataclass
class Progress:
    """What is persisted of a target's share (besides the status counters)."""

    next_idx: int = 0
    done_beyond: list[int] = field(default_factory=list)
    page_token: str = ""  # backend: the listing page that holds next_idx
    page_idx: int = 0


@dataclass
class TargetHooks:
    """What the runner needs from its target (kept narrow so the runner is testable)."""

    tid: str
    smap: Callable[[], Smap | None]  # the target's current Smap, read at each decision
    mountpaths: dict[str, Any]  # path -> mountpath actor handle
    state_dirs: list[str]  # one per mountpath: a share's progress is kept on every disk, newest wins
    list_remote: Callable[[DlSpec, str], Any]  # (spec, token) -> awaitable ListPage
    sync_bucket: Callable[[DlSpec], Any]  # (spec) -> awaitable: delete what the remote no longer has


class DownloadRunner:
    def __init__(self, hooks: TargetHooks, spec: DlSpec, saved: dict[str, Any] | None = None) -> None:
        self.h = hooks
        self.spec = spec
        self.st = TargetDlStatus()
        self.prog = Progress()
        self._seq = int(saved.get("seq", 0)) if saved else 0  # which saved copy is newest
        if saved:
            s = saved["status"]
            self.st = TargetDlStatus(s["finished"], s["skipped"], s["errors"], s["scheduled"], s["all_dispatched"],
                                     s["aborted"], s["end_time"], [],
                                     [task_from_saved(t) for t in s["finished_tasks"]],
                                     [tuple(e) for e in s["error_list"]],  # type: ignore[misc]
                                     int(s.get("bytes", 0)))  # saved before BYTES was kept: 0
            self.prog = Progress(**saved["progress"])
        self.st.finished_tasks = deque(self.st.finished_tasks, maxlen=MAX_FINISHED_KEPT)  # type: ignore[assignment]
        self._done: set[int] = set(self.prog.done_beyond)
        self._inflight: set[int] = set()
        self._pages: deque[tuple[int, str]] = deque([(self.prog.page_idx, self.prog.page_token)])
        self._calls: set[asyncio.Task[None]] = set()
        self._current: tuple[float, list[TaskInfo]] = (-PROGRESS_TTL, [])  # (when asked, the mountpaths' answer)
        self._task: asyncio.Task[None] | None = None
        self._again: Callable[[], Awaitable[None]] | None = None
        self._repass = False  # walking again after a rebalance: what is here already counts nothing
        self._dirty = True
        n_mp = len(hooks.mountpaths)
        smap = hooks.smap()
        n_t = max(1, len(smap.active_targets())) if smap is not None else 1
        cap, concs, shared = limits_plan(spec.conns, n_mp)
        self._sizers = {mp: BatchSizer(conc, cap) for mp, conc in zip(hooks.mountpaths, concs)}
        self._shared_window = shared
        if shared:
            window = Window(spec.conns)
            self._windows = {mp: window for mp in hooks.mountpaths}
        else:
            # four batches in flight: the mountpath always has the next one while a slow item holds one
            self._windows = {mp: Window(4 * self._sizers[mp].size) for mp in hooks.mountpaths}
        rate = spec.bytes_per_hour / 3600 / (n_t * n_mp) if spec.bytes_per_hour else 0.0
        ranged = not spec.conns and not rate and not spec.headers  # parallel ranges would break a limit
        headers = tuple(sorted(spec.headers.items()))
        self._ctx = {mp: DlJobCtx(spec.id, spec.bck, spec.timeout, conc, rate, headers, ranged, spec.fsync)
                     for mp, conc in zip(hooks.mountpaths, concs)}

    kind = "download"

    @property
    def xid(self) -> str:
        return self.spec.id

    @property
    def done(self) -> bool:
        return bool(self.st.end_time)

    def snap(self) -> XactSnap:
        st, spec = self.st, self.spec
        err = st.error_list[0][1] if st.errors and st.error_list and not st.error_list[0][0] else ""
        return XactSnap(spec.id, self.kind, spec.bck, spec.created, st.end_time, st.aborted, err,
                        stats=XactStats(objs=st.finished, bytes=st.bytes, errors=st.errors))

    def start(self) -> None:
        if not self.done and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(first=True))

    def again(self, settled: Callable[[], Awaitable[None]]) -> bool:
        """Walk the items once more after `settled()` returns (`TargetXacts.follow`): names this
        target now owns that the old owner skipped (they left it) or had not reached are fetched;
        what it holds already counts nothing. An aborted share stays aborted."""
        if self.st.aborted:
            return False
        self._again = settled
        if self._task is None:
            self.st.end_time = 0.0
            self._dirty = True
            self._task = asyncio.get_running_loop().create_task(self._run(first=False))
        return True

    # ---- the job ------------------------------------------------------------------------------
    async def _run(self, first: bool) -> None:
        saver = asyncio.get_running_loop().create_task(self._save_loop())
        try:
            if first:
                log_started(self.snap())
                await self._walk()
            while (settled := self._again) is not None:
                self._again = None
                await settled()
                self._repass = True
                self.prog, self._done, self._pages = Progress(), set(), deque([(0, "")])
                self.st.all_dispatched = False
                await self._walk()
                await settle(self.h.mountpaths, self.spec.id, [self.spec.bck])
            if self.spec.sync and not self.st.aborted:
                await self.h.sync_bucket(self.spec)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a listing that failed, a lost mountpath: the job ends with the reason
            log.exception("download %s failed", self.spec.id)
            reason = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
            self._record_error("", f"t[{self.h.tid}]: job failed: {reason}")
        finally:
            saver.cancel()
            self.st.end_time = time.time()
            log_ended(self.snap())
            self._dirty = True
            self._task = None
            await self.save()

    async def _walk(self) -> None:
        await self._dispatch_all()
        self.st.all_dispatched = True
        while self._calls:
            await asyncio.gather(*list(self._calls))

    async def _dispatch_all(self) -> None:
        share = Share(self.h.tid, self.h.smap, self.h.mountpaths)
        bck = self.spec.bck

        def own(items: list[DlItem]) -> list[tuple[DlItem, str]]:
            todo = [it for it in items if it.idx not in self._done]
            return [(it, mp) for it, mp in zip(todo, share.place(bck, [it.name for it in todo])) if mp is not None]

        async for chunk, end_idx in self._chunks():
            pending: dict[str, list[DlItem]] = {}
            for item, mp in await asyncio.to_thread(own, chunk):
                batch = pending.setdefault(mp, [])
                batch.append(item)
                if len(batch) >= self._sizers[mp].size:
                    await self._send(mp, pending.pop(mp))
            for mp, batch in pending.items():
                await self._send(mp, batch)
            self.prog.next_idx = end_idx

    async def _chunks(self) -> AsyncIterator[tuple[list[DlItem], int]]:
        """Items from the resume point, in chunks: (items, index after the last one)."""
        if self.spec.kind is not DlKind.BACKEND:
            it, n = self.spec.items(self.prog.next_idx), FIRST_CHUNK
            while chunk := await asyncio.to_thread(_take, it, n):
                yield chunk, chunk[-1].idx + 1
                n = min(CHUNK, n * 4)
            return
        idx = self.prog.page_idx
        async for page in pages(lambda token: self.h.list_remote(self.spec, token), self.prog.page_token):
            items = []
            for e in page.entries:
                if self.spec.wants(e.name):
                    items.append(self.spec.backend_item(idx, e.name))
                idx += 1
            self._pages.append((idx, page.next_token))
            yield items, idx

    async def _send(self, mp: str, items: list[DlItem]) -> None:
        await self._windows[mp].acquire(len(items))
        if not self._repass:  # a walk after a rebalance goes over items counted by the first one
            self.st.scheduled += len(items)
        self._inflight.update(it.idx for it in items)
        task = asyncio.get_running_loop().create_task(self._call(mp, items))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self, mp: str, items: list[DlItem]) -> None:
        results: list[DlResult] = []
        try:
            results = await self.h.mountpaths[mp].dl_run.remote(self._ctx[mp], items)
        except Exception as exc:
            results = [DlResult(it.idx, it.name, ERROR, error=f"mountpath {mp}: {type(exc).__name__}") for it in items]
        finally:
            if not self._shared_window:  # the next batches sized by how long these items took
                self._sizers[mp].observe(download_times(results))
                self._windows[mp].size = 4 * self._sizers[mp].size
            await self._windows[mp].release(len(items))
        for r in results:
            self._inflight.discard(r.idx)
            if self.st.aborted and r.error == "aborted":
                continue
            self._done.add(r.idx)
            if r.status == OK or (r.status == DONE and not self._repass):
                self.st.finished += 1
                self.st.bytes += max(r.size, 0)
                self.st.finished_tasks.append(TaskInfo(r.name, r.size, r.size, r.start, r.end))
            elif r.status == SKIPPED:
                self.st.skipped += 0 if self._repass else 1
            elif r.status == ERROR and not (self._repass and any(n == r.name for n, _ in self.st.error_list)):
                self._record_error(r.name, r.error)
        self._dirty = True

    def _record_error(self, name: str, error: str) -> None:
        self.st.errors += 1
        if len(self.st.error_list) < MAX_ERRORS_KEPT:
            self.st.error_list.append((name, error))

    # ---- control --------------------------------------------------------------------------------
    async def abort(self) -> None:
        if self.done:
            return
        self.st.aborted = True
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(*(h.dl_abort.remote(self.spec.id) for h in self.h.mountpaths.values()),
                             return_exceptions=True)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        else:
            self.st.end_time = time.time()
            await self.save()

    async def status(self, only_active: bool) -> TargetDlStatus:
        current: list[TaskInfo] = []
        if not self.done:
            current = await self._in_flight()
        st = self.st
        return TargetDlStatus(st.finished, st.skipped, st.errors, st.scheduled, st.all_dispatched, st.aborted,
                              st.end_time, current, [] if only_active else list(st.finished_tasks),
                              [] if only_active else list(st.error_list), st.bytes)

    async def _in_flight(self) -> list[TaskInfo]:
        asked, current = self._current
        if time.monotonic() - asked < PROGRESS_TTL:
            return current
        asked = time.monotonic()
        parts = await asyncio.gather(*(h.dl_progress.remote(self.spec.id) for h in self.h.mountpaths.values()),
                                     return_exceptions=True)
        current = [t for p in parts if not isinstance(p, BaseException) for t in p]
        self._current = (asked, current)
        return current

    # ---- persistence --------------------------------------------------------------------------
    def state_name(self) -> str:
        return f"{self.spec.id}.json"

    def _progress_now(self) -> Progress:
        """Where to resume: the lowest index in flight; runs on the loop (the sets change there)."""
        resume = min(self._inflight) if self._inflight else self.prog.next_idx
        page_idx, token = 0, ""
        for first, tok in self._pages:
            if first <= resume:
                page_idx, token = first, tok
        while len(self._pages) > 1 and self._pages[1][0] <= resume:
            self._pages.popleft()
        # a resumed backend job re-lists from the page start: remember what is done there too
        keep_from = page_idx if self.spec.kind is DlKind.BACKEND else resume
        self._done = {i for i in self._done if i >= keep_from}
        return Progress(resume, sorted(self._done), token, page_idx)

    def snapshot(self) -> bytes | None:
        """The state document if anything changed since the last one (call on the loop)."""
        if not self._dirty:
            return None
        self._dirty = False
        st = self.st
        status = {"finished": st.finished, "bytes": st.bytes, "skipped": st.skipped, "errors": st.errors,
                  "scheduled": st.scheduled,
                  "all_dispatched": st.all_dispatched, "aborted": st.aborted, "end_time": st.end_time,
                  # rows, not asdict per task: this runs every second over up to MAX_FINISHED_KEPT tasks
                  "finished_tasks": [(t.name, t.downloaded, t.total, t.start_time, t.end_time)
                                     for t in st.finished_tasks], "error_list": st.error_list}
        self._seq += 1
        doc = {"spec": spec_to_json(self.spec), "status": status, "progress": asdict(self._progress_now()),
               "seq": self._seq}
        return json.dumps(doc).encode()

    async def save(self) -> None:
        data = self.snapshot()
        if data is not None:
            await asyncio.to_thread(_save_state, self.h.state_dirs, self.state_name(), data)

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(PERSIST_EVERY)
            await self.save()

    @classmethod
    def load_all(cls, hooks: TargetHooks) -> tuple[list[DownloadRunner], dict[str, str]]:
        """The saved shares of this target, and (job id -> reason) for each one that cannot be resumed.

        A share that cannot be resumed is never dropped silently: the caller reports it as an error.
        """
        out: list[DownloadRunner] = []
        failed: dict[str, str] = {}
        names = sorted({f for d in hooks.state_dirs if os.path.isdir(d) for f in os.listdir(d) if f.endswith(".json")})
        for fname in names:
            try:
                doc = _newest_state(hooks.state_dirs, fname)
                out.append(cls(hooks, spec_from_json(doc["spec"]), doc))
            except Exception as exc:  # any damage to the record: the share ends with an error, the target goes on
                log.error("cannot resume download state %s: %r", fname, exc)
                failed[fname[: -len(".json")]] = f"cannot resume saved state: {type(exc).__name__}: {exc}"
        return out, failed


def _save_state(dirs: list[str], name: str, data: bytes) -> None:
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    if not save_everywhere(dirs, name, data, fsync=False):
        raise OSError(f"cannot save download state {name} on any mountpath")


def _newest_state(dirs: list[str], name: str) -> dict[str, Any]:
    """The copy of a share's state with the highest `seq`; raises the first error if no copy is readable."""
    best: dict[str, Any] | None = None
    first_err: Exception | None = None
    for d in dirs:
        try:
            with open(os.path.join(d, name), "rb") as f:
                doc = json.loads(f.read())
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            continue
        except Exception as exc:  # a damaged copy: another may be good
            first_err = first_err or exc
            continue
        if best is None or int(doc.get("seq", 0)) > int(best.get("seq", 0)):
            best = doc
    if best is None:
        raise first_err or FileNotFoundError(name)
    return best


class FailedShare:
    """A target's share whose saved state could not be resumed: an error, never "no share, done"."""

    kind = "download"

    def __init__(self, xid: str, tid: str, reason: str) -> None:
        self.xid = xid
        self.err = f"t[{tid}]: {reason}"
        self.st = TargetDlStatus(errors=1, all_dispatched=True, end_time=time.time(), error_list=[("", self.err)])

    def snap(self) -> XactSnap:
        return XactSnap(self.xid, self.kind, None, self.st.end_time, self.st.end_time, err=self.err,
                        stats=XactStats(errors=1))

    async def status(self, only_active: bool) -> TargetDlStatus:
        return self.st

    async def abort(self) -> None:
        return None


def _take(it: Any, n: int) -> list[DlItem]:
    out = []
    for item in it:
        out.append(item)
        if len(out) >= n:
            break
    return out


def task_from_saved(saved: Any) -> TaskInfo:
    """A finished task as saved: a row (name, downloaded, total, start, end), or a dict (older saves)."""
    return TaskInfo(**saved) if isinstance(saved, dict) else TaskInfo(*saved)
