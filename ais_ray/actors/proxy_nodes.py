"""The proxy's node-table reconcile: Ray nodes advertising `ais_target_<id>` become targets.

Every keepalive round (2 s) the primary reads Ray's node table (`ray.nodes()`) and applies
`core/nodes.py::plan`: a live node whose target is not in the Smap gets a target actor
(pinned by that resource, mountpaths by the `JoinPolicy`), which joins through `add_target`
(a new Smap version; placement changes, so a rebalance follows) and then receives its share
of every running download, prefetch and copy job; a target whose nodes are all dead is marked
offline at once (the keepalive would notice ~5 s later); a returned node's target actor is
restarted by Ray in place, with its data, and the keepalive clears the flag.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import ray

from ais_ray.actors.target import TargetActor, actor_options, target_actor_name
from ais_ray.core.errors import ErrNodeNotFound
from ais_ray.core.nodes import JoinPolicy, advertised, plan, target_resource
from ais_ray.core.smap import FLAG_OFFLINE
from ais_ray.fs.store import write_file_atomic
from ais_ray.jobs.rebalance import REBALANCE

log = logging.getLogger(__name__)
JOIN_TIMEOUT = 180.0  # a new node's target: first start of the actor and its mountpath workers
JOIN_RETRY = 1.0
LEFT_FILE = "left.json"  # targets taken out on purpose, under the proxy's state dir


class ProxyNodes:
    """Mixin of `_ProxyActor` (which provides smap, _lock, _commit, add_target, target, downloads)."""

    join_policy: JoinPolicy | None
    _joining: set[str]
    _left: set[str]
    _left_path: str
    _xact_starts: dict[str, tuple[str, tuple[Any, ...], str]]
    smap: Any
    _lock: asyncio.Lock
    downloads: Any

    def _init_nodes(self, state_dir: str, join_policy: JoinPolicy | None) -> None:
        self.join_policy = join_policy
        self._joining = set()
        # xid -> (target method, args, "" or the one target it runs on): how to start a share of a running job
        self._xact_starts = {}
        self._left_path = os.path.join(state_dir, LEFT_FILE)
        try:
            with open(self._left_path) as f:
                self._left = {str(t) for t in json.load(f)}
        except (OSError, ValueError, TypeError):
            self._left = set()

    async def _set_left(self, tid: str, left: bool) -> None:
        """Note a target taken out on purpose (`remove_target`: it must not join again while its
        node still advertises it), or back in (`add_target`)."""
        if (tid in self._left) == left:
            return
        self._left = self._left | {tid} if left else self._left - {tid}
        await asyncio.to_thread(write_file_atomic, self._left_path, json.dumps(sorted(self._left)).encode())

    async def _reconcile_nodes(self) -> None:
        """One round of reconcile; nothing to do without a join policy (embedded single node)."""
        if self.join_policy is None:
            return
        todo = plan(advertised(await asyncio.to_thread(ray.nodes)), self.smap, self._left)
        if not todo:
            return
        for tid in todo.forget:
            await self._set_left(tid, False)
        if todo.down:
            async with self._lock:
                smap = self.smap
                for tid in todo.down:
                    if tid in smap.targets:
                        smap = smap.with_target_flags(tid, set_flags=FLAG_OFFLINE)
                log.warning("targets %s: their Ray nodes are gone; marked offline (smap v%d)", list(todo.down), smap.version)
                await self._commit(smap=smap)
        for tid in (*todo.join, *todo.revive):
            self._ensure_target(tid)
        for tid in todo.join:
            if tid not in self._joining:
                self._joining.add(tid)
                asyncio.get_running_loop().create_task(self._join_new(tid))

    def _ensure_target(self, tid: str) -> None:
        """Create target `tid`'s actor unless it exists (pinned to the node advertising it)."""
        assert self.join_policy is not None
        pol = self.join_policy
        TargetActor.options(**actor_options(target_actor_name(tid), target_resource(tid))).remote(
            tid, pol.mountpaths_of(tid), pol.host, pol.fsync, pol.log_dir)

    async def _join_new(self, tid: str) -> None:
        """Add a new node's target once it answers, then start its share of the running jobs."""
        deadline = time.monotonic() + JOIN_TIMEOUT
        try:
            while True:
                try:
                    await self.add_target(tid)  # type: ignore[attr-defined]
                    break
                except ErrNodeNotFound:
                    if time.monotonic() > deadline:
                        log.error("target %s did not come up within %.0fs; not joined", tid, JOIN_TIMEOUT)
                        return
                    await asyncio.sleep(JOIN_RETRY)
            log.info("target %s joined (smap v%d)", tid, self.smap.version)
            await self._start_shares_on(tid)
        except Exception:
            log.exception("join of %s", tid)
        finally:
            self._joining.discard(tid)

    def _remember_xact(self, xid: str, method: str, *args: Any, only_on: str = "") -> None:
        """Note how a job was started, so a target that joins later gets its share of a multi-target
        job, and a restarted one its share again (`only_on`: a job of that one target, never a join's)."""
        self._xact_starts[xid] = (method, args, only_on)

    async def restart_shares(self, tid: str, xids: list[str]) -> list[str]:
        """Target `tid` came back without its shares of `xids` (it stopped while they ran): start
        again those this proxy knows how to start — a job started on every target (as a join gets
        its share), a job of that one target (`_remember_xact`), the rebalance it started and has
        not seen end (`_reb_rec`, same id). A share walks its selection again, and what it had done
        is found done. Returns the ids started; the target ends the others as lost
        (`target_xact.LostShares`)."""
        h = self.target(tid)  # type: ignore[attr-defined]
        started = []
        reb: dict[str, Any] = getattr(self, "_reb_rec", {})  # the last rebalance started, kept until it ended
        for xid in xids:
            kwargs: dict[str, Any] = {}
            if xid == reb.get("id") and not reb.get("done"):  # its share again: the others may be waiting for it
                method, args = "reb_start", (xid, REBALANCE)
            else:
                method, args, only_on = self._xact_starts.get(xid, ("", (), ""))
                if not method or only_on not in ("", tid):
                    continue
                kwargs = {"joining": True}
            try:
                await getattr(h, method).remote(*args, **kwargs)
                started.append(xid)
            except Exception as exc:
                log.error("starting again %s's share of %s on %s: %r", method, xid, tid, exc)
        if started:
            log.info("target %s restarted: its shares of %s started again", tid, started)
        return started

    async def _start_shares_on(self, tid: str) -> None:
        """Jobs keep going across a join: the new target takes its HRW share of every job
        still running (each share reads the current Smap, so old targets already leave
        the new target's names to it)."""
        h = self.target(tid)  # type: ignore[attr-defined]
        started = await self.downloads.join(tid, h)
        for xid, (method, args, only_on) in list(self._xact_starts.items()):
            running = await self.xact_query(xid, "", None, True)  # type: ignore[attr-defined]
            if not running:
                self._xact_starts.pop(xid, None)
                continue
            if only_on:  # a job of one target: not a joined target's
                continue
            try:
                await getattr(h, method).remote(*args, joining=True)  # admitted while the join's rebalance runs
                started.append(xid)
            except Exception as exc:
                log.error("starting %s's share of %s on %s: %r", method, xid, tid, exc)
        if started:
            log.info("target %s took its share of running jobs %s", tid, started)
