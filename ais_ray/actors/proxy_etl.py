"""The proxy's ETL registry (AIStore's EtlMD, `ais/prxetl.go`): init, list, stop, start, delete.

An ETL is its init message plus a stage. Init starts `NUM_WORKERS` worker actors per target,
each pinned to its target's node by the target's custom resource, with `PACKAGES` installed
through Ray's `runtime_env` (pip), and waits until every one has instantiated the transform or
`init_timeout` passed — then everything it started is torn down and the error returned (a 4xx:
the user's transform or packages, never a hang). The registry is saved atomically beside the
Smap and BMD; a restarted proxy re-creates the workers of every running ETL (`restore`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import base64
import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ray

from ais_ray.actors.etl_worker import EtlWorkerActor, worker_actor_name
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.nodes import NAMESPACE
from ais_ray.core.etl import ABORTED, INITIALIZING, MAX_OBJ_ERRS, RUNNING, EtlMsg, ErrETLExists, ErrETLNotFound
from ais_ray.core.nodes import target_resource
from ais_ray.core.smap import Smap
from ais_ray.core.xid import gen_uuid
from ais_ray.fs.store import write_file_atomic

RELEASE_WAIT_S = 2.0  # for the workers to drop their busy markers before they are killed

log = logging.getLogger(__name__)
ETL_FILE = "etl.json"
MAX_JOBS = 1024


class ProxyEtls:
    def __init__(self, state_dir: str, smap: Callable[[], Smap]) -> None:
        self.path = os.path.join(state_dir, ETL_FILE)
        self._smap = smap
        self.recs: dict[str, dict[str, Any]] = {}  # name -> {"msg": <as sent>, "stage", "xid"}
        self._lock = asyncio.Lock()
        self.errors: dict[str, collections.deque[dict[str, Any]]] = {}  # name -> its latest inline errors
        self.jobs: dict[str, tuple[str, ...]] = {}
        self._bg: set[asyncio.Task[None]] = set()  # workers being started on a joining target  # offline job id -> its stages (stop / delete abort them)
        try:
            with open(self.path, "rb") as f:
                self.recs = json.load(f)
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged registry must not stop the proxy
            log.error("ignoring unreadable %s: %r", self.path, exc)

    def _save(self) -> None:
        write_file_atomic(self.path, json.dumps(self.recs).encode())

    def must_get(self, name: str) -> dict[str, Any]:
        rec = self.recs.get(name)
        if rec is None:
            raise ErrETLNotFound(name)
        return rec

    def note_error(self, name: str, err: dict[str, Any]) -> None:
        """An inline GET's failure (from the mountpath that served it): kept until the ETL is deleted
        or initialized again, the latest `MAX_OBJ_ERRS` (a worker's restart loses none)."""
        if name in self.recs:
            self.errors.setdefault(name, collections.deque(maxlen=MAX_OBJ_ERRS)).append(err)

    def note_job(self, xid: str, stages: tuple[str, ...]) -> None:
        """An `etl-bck` / `etl-listrange` started: a stop or delete of any of its stages aborts it."""
        if len(self.jobs) >= MAX_JOBS:  # the oldest first (finished long ago, or aborted anyway)
            self.jobs.pop(next(iter(self.jobs)))
        self.jobs[xid] = stages

    def jobs_of(self, name: str) -> list[str]:
        return [xid for xid, stages in self.jobs.items() if name in stages]

    def check_running(self, names: list[str]) -> None:
        """Every stage of an offline job exists (404 `etl job X does not exist`) and runs."""
        for n in names:
            if self.must_get(n)["stage"] != RUNNING:
                raise ErrBadRequest(f"ETL[{n}] is not running (stage {self.recs[n]['stage']}): start it first")

    # ---- lifecycle ------------------------------------------------------------------------------
    async def init(self, wire: dict[str, Any]) -> str:
        """PUT /v1/etl: the new ETL's `etl-<uuid>` once every target's workers are ready."""
        msg = EtlMsg.from_wire(wire)
        async with self._lock:
            if msg.name in self.recs:
                raise ErrETLExists(msg.name)
            rec = self.recs[msg.name] = {"msg": dict(wire), "stage": INITIALIZING, "xid": f"etl-{gen_uuid()}"}
            self._save()
        try:
            await self._start_workers(msg)
        except BaseException:
            async with self._lock:
                self.recs.pop(msg.name, None)
                self._save()
            raise
        async with self._lock:
            rec["stage"] = RUNNING
            self._save()
        return str(rec["xid"])

    async def start(self, name: str) -> str:
        """Only from `Aborted` (Go: `can't start ETL[x] during Running stage`); a new xid."""
        rec = self.must_get(name)
        if rec["stage"] != ABORTED:
            raise ErrBadRequest(f'invalid action "can\'t start ETL[{name}] during {rec["stage"]} stage"')
        msg = EtlMsg.from_wire(rec["msg"])
        rec["stage"] = INITIALIZING
        try:
            await self._start_workers(msg)
        except BaseException:
            rec["stage"] = ABORTED
            raise
        async with self._lock:
            rec.update(stage=RUNNING, xid=f"etl-{gen_uuid()}")
            self._save()
        return str(rec["xid"])

    async def stop(self, name: str) -> None:
        rec = self.must_get(name)
        await self._kill(EtlMsg.from_wire(rec["msg"]))
        async with self._lock:
            rec["stage"] = ABORTED
            self._save()

    async def delete(self, name: str) -> None:
        rec = self.must_get(name)
        await self._kill(EtlMsg.from_wire(rec["msg"]))
        async with self._lock:
            self.recs.pop(name, None)
            self.errors.pop(name, None)
            self._save()

    async def restore(self) -> None:
        """After a (re)start: every running ETL's workers exist (a no-op for those still alive)."""
        for name, rec in list(self.recs.items()):
            if rec.get("stage") not in (RUNNING, INITIALIZING):
                continue
            try:
                await self._start_workers(EtlMsg.from_wire(rec["msg"]))
                rec["stage"] = RUNNING
            except Exception as exc:
                log.error("cannot re-create ETL[%s]: %r", name, exc)
                rec["stage"] = ABORTED
        self._save()

    def target_joined(self, tid: str) -> None:
        """A target joined: every running ETL's workers on it too, in the background (pip may take
        a while; the join does not wait)."""
        task = asyncio.get_running_loop().create_task(self._start_on(tid))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _start_on(self, tid: str) -> None:
        """A no-op for workers alive. A failure is logged, not fatal: that target's objects answer
        404 until the ETL is stopped and started."""
        for name, rec in list(self.recs.items()):
            if rec.get("stage") == RUNNING:
                try:
                    await self._start_workers(EtlMsg.from_wire(rec["msg"]), only=(tid,))
                except Exception as exc:
                    log.error("ETL[%s]: no workers on joining target %s: %r", name, tid, exc)

    async def target_left(self, tid: str) -> None:
        """A target left the map: its workers of every ETL go (they would idle there for nothing)."""
        for rec in list(self.recs.values()):
            await self._kill(EtlMsg.from_wire(rec["msg"]), only=(tid,))

    # ---- workers --------------------------------------------------------------------------------
    def _targets(self, only: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        smap = self._smap()
        return [(tid, smap.targets[tid].url) for tid in sorted(smap.targets) if not only or tid in only]

    def workers(self, msg: EtlMsg) -> dict[str, list[str]]:
        """tid -> the worker actors' names."""
        return {tid: [worker_actor_name(msg.name, tid, i) for i in range(msg.num_workers)] for tid, _ in self._targets()}

    async def _start_workers(self, msg: EtlMsg, only: tuple[str, ...] = ()) -> None:
        """Every target's workers (`only` those targets'); on failure, what was asked for is stopped."""
        env: dict[str, Any] = {"pip": msg.packages} if msg.packages else {}
        handles: list[tuple[str, Any]] = []
        for tid, url in self._targets(only):
            for i in range(msg.num_workers):
                opts: dict[str, Any] = {
                    "name": worker_actor_name(msg.name, tid, i), "namespace": NAMESPACE, "lifetime": "detached",
                    "get_if_exists": True, "max_restarts": -1, "max_task_retries": 0, "num_cpus": 0,
                    "resources": {target_resource(tid): 0.001}}
                if env:
                    opts["runtime_env"] = env
                handles.append((tid, EtlWorkerActor.options(**opts).remote(dict(msg.raw), tid, url, i)))
        try:
            errs = await asyncio.wait_for(asyncio.gather(*(h.ready.remote() for _, h in handles)), msg.init_timeout)
        except asyncio.TimeoutError:
            await self._kill(msg, only)
            raise ErrBadRequest(f"ETL[{msg.name}]: workers not ready within init_timeout "
                                f"({msg.init_timeout:g}s); everything started was stopped") from None
        except Exception as exc:  # e.g. RuntimeEnvSetupError: a package pip cannot install
            await self._kill(msg, only)
            raise ErrBadRequest(f"ETL[{msg.name}] failed to start: {_short(exc)}") from exc
        bad = [(tid, e) for (tid, _), e in zip(handles, errs) if e]
        if bad:
            await self._kill(msg, only)
            raise ErrBadRequest(f"ETL[{msg.name}] failed to start on target {bad[0][0]}: {bad[0][1]}")

    async def _kill(self, msg: EtlMsg, only: tuple[str, ...] = ()) -> None:
        """Every target's workers, or those of the targets `only` (in the map or not)."""
        names = [worker_actor_name(msg.name, tid, i) for tid in only for i in range(msg.num_workers)] if only \
            else [n for ns in self.workers(msg).values() for n in ns]
        found = []
        for n in names:
            try:
                found.append(await asyncio.to_thread(ray.get_actor, n, NAMESPACE))
            except ValueError:
                continue
        # a worker killed mid-transform would leave its busy marker for nobody (bounded: a hung one is killed anyway)
        if found:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(h.release.remote() for h in found), return_exceptions=True),
                                       RELEASE_WAIT_S)
        for h in found:
            ray.kill(h, no_restart=True)

    async def handles(self, name: str) -> dict[str, list[Any]]:
        """tid -> live worker handles of a running ETL."""
        msg = EtlMsg.from_wire(self.must_get(name)["msg"])
        out: dict[str, list[Any]] = {}
        for tid, names in self.workers(msg).items():
            for n in names:
                try:
                    out.setdefault(tid, []).append(await asyncio.to_thread(ray.get_actor, n, NAMESPACE))
                except ValueError:
                    continue
        return out


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    tail = [ln for ln in text if ln.strip()][-3:]
    return f"{type(exc).__name__}: " + " | ".join(tail)[:800]


class ProxyEtlApi:
    """The proxy actor's ETL methods (mixed into `_ProxyActor`; `self.etls` is its `ProxyEtls`)."""

    etls: ProxyEtls

    if TYPE_CHECKING:
        async def xact_query(self, xid: str = "", kind: str = "", bck: Any = None,
                             only_running: bool = False) -> dict[str, list[Any]]: ...

        async def xact_abort(self, xid: str = "", kind: str = "") -> None: ...

    async def etl_init(self, wire: dict[str, Any]) -> str:
        return await self.etls.init(wire)

    async def etl_start(self, name: str) -> str:
        return await self.etls.start(name)

    async def etl_stop(self, name: str) -> None:
        self.etls.must_get(name)
        await self._etl_abort_jobs(name)
        await self.etls.stop(name)

    async def etl_delete(self, name: str) -> None:
        self.etls.must_get(name)
        await self._etl_abort_jobs(name)
        await self.etls.delete(name)

    async def _etl_abort_jobs(self, name: str) -> None:
        """As AIStore: stopping an ETL aborts the offline jobs that use it (before its workers go,
        so they end `Aborted`, not failed by a vanished transform)."""
        for xid in self.etls.jobs_of(name):
            if await self.xact_query(xid, "", None, True):
                await self.xact_abort(xid)
            self.etls.jobs.pop(xid, None)

    async def etl_note_error(self, name: str, err: dict[str, Any]) -> None:
        self.etls.note_error(name, err)

    async def etl_check(self, names: list[str]) -> None:
        self.etls.check_running(names)

    async def etl_list(self) -> list[dict[str, Any]]:
        """GET /v1/etl: `[{"id", "stage", "xaction_id", "obj_count", "in_bytes", "out_bytes"}]`."""
        out = []
        for name, rec in sorted(self.etls.recs.items()):
            st = {"obj_count": 0, "in_bytes": 0, "out_bytes": 0}
            if rec["stage"] == RUNNING:
                for s in await self._etl_call(name, "stats"):
                    for k in st:
                        st[k] += int(s.get(k, 0))
            out.append({"id": name, "stage": rec["stage"], "xaction_id": rec.get("xid", ""), **st})
        return out

    async def etl_details(self, name: str, xid: str = "") -> dict[str, Any]:
        """GET /v1/etl/<name>[?uuid=<job>]: the init message and the object errors (inline, or the job's)."""
        rec = self.etls.must_get(name)
        if xid:
            parts = await self.xact_query(xid)
            errs = [e for snaps in parts.values() for s in snaps for e in s.extra.get("obj_errors", [])]
        else:
            errs = list(self.etls.errors.get(name, ()))
        return {"init_msg": rec["msg"], "stage": rec["stage"], "obj_errors": errs[:MAX_OBJ_ERRS]}

    async def etl_logs(self, name: str, tid: str = "") -> list[dict[str, Any]]:
        """`[{"target_id", "logs": <base64>}]`, every worker's lines of a target together."""
        self.etls.must_get(name)
        out = []
        for t, hs in sorted((await self.etls.handles(name)).items()):
            if tid and t != tid:
                continue
            texts = await asyncio.gather(*(h.get_logs.remote() for h in hs), return_exceptions=True)
            text = "".join(x for x in texts if isinstance(x, str))
            out.append({"target_id": t, "logs": base64.b64encode(text.encode()).decode()})
        return out

    async def etl_health(self, name: str) -> list[dict[str, Any]]:
        rec = self.etls.must_get(name)
        out = []
        for t, hs in sorted((await self.etls.handles(name)).items()):
            oks = await asyncio.gather(*(h.ready.remote() for h in hs), return_exceptions=True)
            good = rec["stage"] == RUNNING and hs and all(x == "" for x in oks)
            out.append({"target_id": t, "health_status": "Running" if good else "Unhealthy"})
        return out

    async def etl_metrics(self, name: str) -> list[dict[str, Any]]:
        self.etls.must_get(name)
        out = []
        for t, hs in sorted((await self.etls.handles(name)).items()):
            ms = [m for m in await asyncio.gather(*(h.metrics.remote() for h in hs), return_exceptions=True)
                  if isinstance(m, dict)]
            out.append({"target_id": t, "cpu": sum(m["cpu"] for m in ms), "mem": sum(m["mem"] for m in ms)})
        return out

    async def _etl_call(self, name: str, method: str) -> list[Any]:
        calls = [getattr(h, method).remote() for hs in (await self.etls.handles(name)).values() for h in hs]
        return [r for r in await asyncio.gather(*calls, return_exceptions=True) if not isinstance(r, BaseException)]
