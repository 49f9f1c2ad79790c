"""The proxy's membership changes and global rebalance (ais-wire-2 §3.1, §3.3), a mixin of the proxy actor.

- `rebalance_start(reason)`: a global rebalance on the current Smap, id `g<N>` (N = the Smap
  version, or the next free number when that id was used already); every target runs its share
  (`jobs/rebalance.py`), a running one on an older map is aborted by the target (preempted).
- Every Smap change that changes placement (a target added, removed, in or out of maintenance,
  decommissioning) starts one, unless told not to (`_placement_changed`).
- `member_action`: start-maintenance / stop-maintenance / decommission-node / shutdown-node,
  one at a time and never while a rebalance runs (400 `ErrBusy`, as AIStore) — except that
  stop-maintenance of the node whose maintenance is in progress undoes it at once. What happens
  after the rebalance (drop the node from the map, wipe it, stop it) runs in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import ray

from ais_ray.actors.proxy_xact import gather
from ais_ray.core.errors import ErrBadRequest, ErrBusy, ErrNodeNotFound
from ais_ray.core.members import DECOMMISSION, SHUTDOWN, START_MAINTENANCE, STOP_MAINTENANCE, RmNode
from ais_ray.core.smap import FLAG_DECOMMISSION, FLAG_MAINTENANCE, FLAG_OFFLINE, Smap
from ais_ray.core.xact import kind_of
from ais_ray.core.xid import gen_uuid
from ais_ray.fs.store import write_file_atomic
from ais_ray.jobs.rebalance import REBALANCE, RESILVER, reb_id

if TYPE_CHECKING:
    from ais_ray.core.xact import XactSnap

log = logging.getLogger(__name__)
WAIT_POLL = 0.5
START_GRACE = 30.0  # a rebalance that no target reports within this long is taken as gone
REB_FILE = "rebalance.json"  # under the proxy's state dir
ALIVE_TIMEOUT = 5.0  # seconds a target has to answer before stop-maintenance puts it back in placement
FOLLOW_SLACK = 5.0  # a job share that ended this long before a rebalance starts walks once more too


def _parse_reb_record(stored: Any) -> dict[str, Any]:
    """A stored `rebalance.json`, checked; a change in it that does not parse is dropped (logged),
    never a failed start. Raises on anything that is not a record (`_load` logs it)."""
    rec = {**stored, "id": str(stored["id"]), "done": bool(stored.get("done"))}
    change = rec.get("change")
    if change:
        try:
            RmNode.from_wire(change["action"], change["value"])
        except Exception:
            log.exception("rebalance record %s: its membership change is unreadable; dropped", rec["id"])
            rec["change"] = None
    return rec


@dataclass
class _Change:
    action: str
    sid: str
    task: asyncio.Task[None] | None = field(default=None)


class ProxyMembers:
    """Needs the proxy's `smap`, `_lock`, `_commit`, `target`, `_targets`, `xact_query`, `remove_target`."""

    smap: Smap
    _lock: asyncio.Lock
    _handles: dict[str, Any]
    tids: list[str]

    if TYPE_CHECKING:
        async def _commit(self, *, smap: Smap | None = None, force: bool = False) -> None: ...
        def target(self, tid: str) -> Any: ...
        def _targets(self) -> dict[str, Any]: ...
        async def xact_query(self, xid: str = "", kind: str = "", bck: Any = None,
                             only_running: bool = False) -> dict[str, list[XactSnap]]: ...
        async def remove_target(self, tid: str, rebalance: bool = True) -> dict[str, Any]: ...
        def _load(self, name: str, parse: Any) -> Any: ...

    dir: str
    _reb_last = 0
    _change: _Change | None = None
    _reb_rec: dict[str, Any]
    _reb_tasks: set[asyncio.Task[None]]
    _reb_boot: dict[str, Any] | None

    def _init_members(self) -> None:
        """The rebalance record a (re)start found (`_reb_record`) is read once, here: what this
        proxy records later is its own, never something to resume (`resume_rebalance`)."""
        self._reb_rec, self._reb_tasks = {}, set()
        rec = self._load(REB_FILE, _parse_reb_record)  # None: none, or unreadable (logged)
        n = rec["id"].removeprefix("g") if rec is not None else ""
        self._reb_last = max(self._reb_last, int(n) if n.isdigit() else 0)
        self._reb_boot = rec if rec is not None and not rec["done"] else None
        if self._reb_boot is not None:
            self._reb_rec = self._reb_boot

    async def _resume_once(self) -> None:
        """At the join and on the keepalive rounds after a (re)start, until done: `resume_rebalance`."""
        if self._reb_boot is not None and await self.resume_rebalance() is not None:
            self._reb_boot = None

    # ---- rebalance -------------------------------------------------------------------------------
    async def rebalance_start(self, reason: str = "") -> str:
        """A global rebalance on the current Smap (`ais-ray start rebalance`); its id `g<N>`.

        Raises:
            ErrBadRequest: fewer than two targets (nothing could move).
        """
        if len(self.smap.targets) < 2:
            raise ErrBadRequest(f"rebalance needs at least two targets (have {len(self.smap.targets)})")
        return await self._rebalance(reason or "user request")

    async def _rebalance(self, reason: str, extra: tuple[str, ...] = ()) -> str:
        """Start rebalance `g<N>` on every online target of the map (and `extra` ones that left it)."""
        n = max(self.smap.version, self._reb_last + 1)
        self._reb_last = n
        xid = reb_id(n)
        tids = [t.daemon_id for t in self.smap.targets.values() if not t.flags & FLAG_OFFLINE]
        handles = {tid: self.target(tid) for tid in [*tids, *extra]}
        follow = await self._jobs_to_follow(time.time() - FOLLOW_SLACK)
        change = self._reb_rec.get("change") if self._pending_change() is not None else None
        await self._reb_record({"id": xid, "done": False, "extra": list(extra), "change": change})
        started = await gather(handles, "reb_start", xid, REBALANCE, follow, strict=False)
        log.info("rebalance %s (%s) started on %s of %s; jobs walking again after it: %s", xid, reason,
                 sorted(started), sorted(handles), sorted({j for part in started.values() for j in part or ()}))
        self._watch_rebalance(xid)
        return xid

    # ---- a rebalance outlives a proxy restart ----------------------------------------------------
    async def _reb_record(self, rec: dict[str, Any]) -> None:
        """The last rebalance the proxy started, and the membership change waiting for it: kept in
        `rebalance.json` until it ended, so a restarted proxy finishes it (`resume_rebalance`)."""
        self._reb_rec = rec
        await asyncio.to_thread(write_file_atomic, os.path.join(self.dir, REB_FILE), json.dumps(rec).encode())

    def _watch_rebalance(self, xid: str) -> None:
        async def watch() -> None:
            if await self.wait_rebalance(xid) and self._reb_rec.get("id") == xid:
                await self._reb_record({**self._reb_rec, "done": True})

        task = asyncio.get_running_loop().create_task(watch())
        self._reb_tasks.add(task)
        task.add_done_callback(self._reb_tasks.discard)

    async def resume_rebalance(self) -> str | None:
        """After a (re)start: a rebalance the proxy started and did not see end is watched again if
        the targets still run it, or started again on the current map if they lost it (they were
        restarted too: its moves are idempotent); the membership change waiting for it (drop a
        decommissioned node, stop one that shuts down) then finishes. A rebalance this proxy started
        since, with every target that had left the map, covers it: the change waits for that one.
        Its id, "" if none was pending, None while some target of the map does not answer yet."""
        rec = self._reb_boot
        if rec is None:
            return ""
        xid, extra = str(rec["id"]), tuple(rec.get("extra") or ())
        since = self._reb_rec if self._reb_rec.get("id") != rec["id"] else None  # one this proxy started
        change = rec.get("change")
        if since is not None and since.get("change"):  # a change made since took over (an undo)
            change = None
        if since is not None and set(extra) <= set(since.get("extra") or ()):
            xid = str(since["id"])
            log.info("rebalance %s did not end before the restart; %s, started since, covers it", rec["id"], xid)
        else:
            online = {t for t, tsi in self.smap.targets.items() if not tsi.flags & FLAG_OFFLINE}
            parts = await gather(self._targets(), "xact_snaps", xid, REBALANCE, None, False, strict=False)
            if not online <= set(parts):
                return None  # a target still restarting: ask again on the next keepalive round
            snaps = [s for part in parts.values() for s in part]
            if since is None and any(s.running for s in snaps):
                log.info("rebalance %s still runs after the proxy restarted: watching it", xid)
                self._watch_rebalance(xid)
            elif since is None and online <= {t for t, p in parts.items() if p} \
                    and not any(s.aborted or s.err for s in snaps):
                await self._reb_record({**rec, "done": True})
            else:
                extra = tuple(sorted({*extra, *((since or {}).get("extra") or ())}))
                xid = await self._rebalance(f"{xid} resumed after a restart", extra)
                log.info("rebalance %s did not end before the restart: %s started", rec["id"], xid)
        if change:
            await self._reb_record({**self._reb_rec, "change": change})  # what it waits for carries it
            msg = RmNode.from_wire(change["action"], change["value"])
            c = self._change = _Change(change["action"], msg.sid)
            c.task = asyncio.get_running_loop().create_task(self._finish(c, msg, xid))
        return xid

    async def _jobs_to_follow(self, since: float) -> tuple[str, ...]:
        """The jobs that follow the Smap (`core/xact.py`) still running on some target, or ended
        since `since` (just before the map changed): every share of them, ended or not, walks once
        more after the rebalance (issue 11 part 6)."""
        parts = await self.xact_query()
        return tuple(sorted({s.id for snaps in parts.values() for s in snaps
                             if kind_of(s.kind).follows_smap and (s.running or s.end >= since)}))

    async def _placement_changed(self, old: Smap, rebalance: bool, reason: str, extra: tuple[str, ...] = ()) -> str:
        """After a Smap change: a rebalance if objects may have to move (and allowed); its id or "".
        None can while no bucket exists (a fresh cluster's first `up`): a rebalance then would move
        nothing, yet have every disk ask its neighbors about each miss for minutes after (GFN)."""
        if not rebalance or old.same_placement(self.smap) or not self.smap.active_targets() or not self.bmd.list():
            return ""
        return await self._rebalance(reason, extra)

    async def _running_rebalance(self) -> str:
        parts = await self.xact_query("", REBALANCE, None, True)
        return next((s.id for snaps in parts.values() for s in snaps), "")

    async def wait_rebalance(self, xid: str) -> bool:
        """Until rebalance `xid` ended on every target; True unless it was aborted (or never ran)."""
        waited = 0.0
        while True:
            snaps = [s for part in (await self.xact_query(xid, REBALANCE)).values() for s in part]
            if snaps and not any(s.running for s in snaps):
                return not any(s.aborted for s in snaps)
            if not snaps and waited > START_GRACE:
                return False
            await asyncio.sleep(WAIT_POLL)
            waited += WAIT_POLL

    # ---- membership ------------------------------------------------------------------------------
    async def member_action(self, action: str, value: Any) -> str:
        """A membership change (ais-wire-2 §3.1); the id of the rebalance it started, or "".

        Raises:
            ErrBadRequest: a bad request; ErrNodeNotFound: unknown node; ErrBusy: another
            change or a rebalance is in progress.
        """
        msg = RmNode.from_wire(action, value)
        tsi = self.smap.targets.get(msg.sid)
        if tsi is None:
            raise ErrNodeNotFound(msg.sid)
        cur = self._pending_change()
        boot = (self._reb_boot or {}).get("change")
        if cur is None and boot:  # a change a restart cut short, not resumed yet (a target still starting)
            cur = _Change(boot["action"], RmNode.from_wire(boot["action"], boot["value"]).sid)
        undo = action == STOP_MAINTENANCE and cur is not None and cur.sid == msg.sid and cur.action == START_MAINTENANCE
        if not undo:  # a maintenance change is over with its rebalance (its task only waits for it)
            busy = f"{cur.action} of {cur.sid} is in progress" \
                if cur is not None and cur.action not in (START_MAINTENANCE, STOP_MAINTENANCE) else ""
            running = busy or await self._running_rebalance()
            if running:
                raise ErrBusy("cluster membership", action, busy or f"rebalance[{running}] is running")
        if action == STOP_MAINTENANCE and tsi.flags & FLAG_DECOMMISSION:
            raise ErrBadRequest(f"cannot stop maintenance of {msg.sid}: it is being decommissioned")
        if action == STOP_MAINTENANCE and not undo:  # back in placement only if it answers (AIStore health-checks it)
            await self._require_alive(msg.sid, tsi.flags)
        if cur is not None and cur.task is not None:
            cur.task.cancel()
        elif undo and self._reb_boot is not None:
            self._reb_boot = {**self._reb_boot, "change": None}  # undone before it was resumed
        set_f, clear_f = {START_MAINTENANCE: (FLAG_MAINTENANCE, 0), SHUTDOWN: (FLAG_MAINTENANCE, 0),
                          DECOMMISSION: (FLAG_DECOMMISSION, 0), STOP_MAINTENANCE: (0, FLAG_MAINTENANCE)}[action]
        old = self.smap
        async with self._lock:
            await self._commit(smap=self.smap.with_target_flags(msg.sid, set_flags=set_f, clear_flags=clear_f))
        xid = await self._placement_changed(old, not msg.skip_rebalance, f"{action} {msg.sid}")
        if xid:  # what waits for it survives a proxy restart
            await self._reb_record({**self._reb_rec, "change": {"action": action, "value": asdict(msg)}})
        change = self._change = _Change(action, msg.sid)
        change.task = asyncio.get_running_loop().create_task(self._finish(change, msg, xid))
        return xid

    async def _require_alive(self, sid: str, flags: int) -> None:
        """`sid` answers now: a node shut down or lost would be given objects it cannot take."""
        if not flags & FLAG_OFFLINE:
            try:
                await asyncio.wait_for(self.target(sid).snode.remote(), ALIVE_TIMEOUT)
                return
            except Exception as exc:  # noqa: BLE001 - gone, dying, or not answering: not back
                log.info("stop-maintenance %s: not answering: %r", sid, exc)
        raise ErrBadRequest(f"cannot stop maintenance of {sid}: it is offline (start its node first; it joins back "
                            f"by itself)")

    def _pending_change(self) -> _Change | None:
        """The membership change still waiting for its rebalance, if any."""
        c = self._change
        return c if c is not None and c.task is not None and not c.task.done() else None

    async def _finish(self, change: _Change, msg: RmNode, xid: str) -> None:
        """After the change's rebalance (or a newer one that preempted it: a target came back, a
        user's `start rebalance`): drop a decommissioned node (wiped if asked), stop a node that
        shuts down. Nothing if the last one was aborted (a newer change cancels this task)."""
        try:
            while xid and not await self.wait_rebalance(xid):
                newer = str(self._reb_rec.get("id", ""))
                if newer == xid or not newer:
                    log.warning("%s %s: rebalance %s did not complete; not finishing", change.action, change.sid, xid)
                    return
                log.info("%s %s: rebalance %s was preempted by %s: waiting for it", change.action, change.sid, xid, newer)
                xid = newer
            if change.action == DECOMMISSION:
                if msg.rm_user_data:
                    await self.target(msg.sid).wipe_user_data.remote()
                await self.remove_target(msg.sid, rebalance=False)
                if not msg.no_shutdown:
                    await self._stop_target(msg.sid)
            elif change.action == SHUTDOWN:
                await self._stop_target(msg.sid)
            log.info("%s %s: done", change.action, change.sid)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s", change.action, change.sid)

    async def _stop_target(self, tid: str) -> None:
        """Stop a target and its mountpath actors for good (they are not restarted)."""
        h = self.target(tid)
        try:
            await h.shutdown_mountpaths.remote()
        except ray.exceptions.RayError as exc:
            log.warning("shutdown %s: %r", tid, exc)
        ray.kill(h, no_restart=True)  # the dead handle stays: calls on it fail as RayErrors (keepalive: offline)

    # ---- mountpaths and resilver (ais-wire-2 §3.4) -----------------------------------------------
    async def resilver_start(self, tid: str) -> str:
        """A resilver of target `tid` (`ais-ray start resilver`): its objects to their HRW mountpaths."""
        if tid not in self.smap.targets:
            raise ErrNodeNotFound(tid)
        xid = gen_uuid()
        await self.target(tid).reb_start.remote(xid, RESILVER)
        return xid

    async def mountpath_action(self, tid: str, action: str, path: str, resilver: bool = True) -> str:
        """Attach / enable / disable / detach a mountpath of `tid`: a new Smap, then a resilver
        (unless `resilver` is False; a detach then forgets the mountpath at once). A target left
        without an enabled mountpath goes into maintenance and a rebalance moves its objects away.
        Returns the id of the resilver or rebalance started, or ""."""
        if tid not in self.smap.targets:
            raise ErrNodeNotFound(tid)
        h = self.target(tid)
        tsi = await h.mountpath_change.remote(action, path)
        old = self.smap
        async with self._lock:
            smap = self.smap.with_reported_target(tsi)
            if not any(m.enabled for m in tsi.mountpaths):
                log.warning("t[%s] has no enabled mountpath left: maintenance", tid)
                smap = smap.with_target_flags(tid, set_flags=FLAG_MAINTENANCE)
            await self._commit(smap=smap)
        if self.smap.targets[tid].flags & FLAG_MAINTENANCE and not old.targets[tid].flags & FLAG_MAINTENANCE:
            return await self._placement_changed(old, True, f"t[{tid}] lost its last mountpath")
        if not resilver:
            tsi = await h.mountpath_forget.remote()
            async with self._lock:
                await self._commit(smap=self.smap.with_reported_target(tsi))
            return ""
        return await self.resilver_start(tid)

    async def mountpath_lists(self, tid: str = "") -> dict[str, dict[str, list[str]]]:
        """`{tid: MountpathList}` from the current Smap (one target, or all)."""
        if tid and tid not in self.smap.targets:
            raise ErrNodeNotFound(tid)
        return {t: s.mountpath_list() for t, s in sorted(self.smap.targets.items()) if not tid or t == tid}

