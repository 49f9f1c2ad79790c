"""A mountpath's side of the ETL workers on its node: look them up, feed them in batches.

Every call that wants an object transformed (an inline GET, one object of an offline job)
queues `(fqn, path, args)`; one feeder per worker takes whatever is queued (up to `MAX_BATCH`
objects / `MAX_BATCH_BYTES`) and sends it as one Ray call, so many small objects never cost a
round trip each. The first pipeline stage gets the file path (the worker shares this node's
disks: AIStore's direct FQN), later stages the previous stage's bytes.

Failures stay per object: a transform that raises, returns non-bytes or hangs past `obj_timeout`
fails its object (the worker times each object itself, and replaces its process after a hang).
One that kills its process fails every call in flight there (this mountpath's and the node's
other mountpaths'): the restarted worker names the object it was transforming when its
predecessor died (a marker file), which fails; every other object goes again, alone. Inline failures are kept by the proxy, with
the ETL's record.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ray
from ray.exceptions import ActorDiedError, RayActorError

from ais_ray.actors.etl_worker import Item, Result, worker_actor_name
from ais_ray.core.nodes import NAMESPACE, PROXY_NAME
from ais_ray.core.etl import ErrETLNotFound, ErrTransform, ObjErr

log = logging.getLogger(__name__)
MAX_BATCH = 32
MAX_BATCH_BYTES = 32 << 20
TRIES = 4  # an object whose process died (another one's fault) is tried alone at most this often
CALL_TIMEOUT = 30.0  # a control call to a worker (info, crashed_on): an answer in milliseconds when alive
RESTART_WAIT = 60.0  # a killed worker is back within seconds (a new process, its transform re-instantiated)


@dataclass
class _Req:
    item: Item
    size: int
    fut: asyncio.Future[bytes | int]
    tried: int = 0


@dataclass
class _Pool:
    name: str
    handles: list[Any]
    names: list[str]
    obj_timeout: float
    queue: asyncio.Queue[_Req] = field(default_factory=asyncio.Queue)
    feeders: list[asyncio.Task[None]] = field(default_factory=list)
    dead: bool = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.feeders = [loop.create_task(self._feed(h, n)) for h, n in zip(self.handles, self.names)]

    def close(self) -> None:
        """Stopped, deleted or re-initialized: every caller still waiting here looks the workers up again."""
        self.dead = True
        for t in self.feeders:
            t.cancel()  # a batch in flight is failed by its feeder (below), never dropped
        pending = []
        while not self.queue.empty():
            pending.append(self.queue.get_nowait())
        _fail(pending, ErrETLNotFound(self.name))

    async def _feed(self, h: Any, actor: str) -> None:
        while True:
            batch = [await self.queue.get()]
            size = batch[0].size
            while len(batch) < MAX_BATCH and size < MAX_BATCH_BYTES and not self.queue.empty():
                req = self.queue.get_nowait()
                batch.append(req)
                size += req.size
            if self.dead:  # the handles are stale: the callers look the workers up again
                _fail(batch, ErrETLNotFound(self.name))
                continue
            try:
                await self._send(h, actor, batch)
            except asyncio.CancelledError:  # closed mid-batch: its callers must hear, or they wait forever
                _fail(batch, ErrETLNotFound(self.name))
                raise
            except Exception as exc:  # never lose a feeder: fail this batch instead
                log.exception("ETL[%s] batch failed", self.name)
                _fail(batch, ErrTransform(f"ETL[{self.name}]: {type(exc).__name__}: {exc}"))

    async def _send(self, h: Any, actor: str, batch: list[_Req]) -> None:
        try:
            ref = h.transform_batch.remote([r.item for r in batch])
            results: list[Result] = await asyncio.wait_for(ref, self.obj_timeout * (len(batch) + 2 * MAX_BATCH) + 30)
        except asyncio.TimeoutError:  # the worker itself answers per object in time: this one is wedged
            why = "no answer from the transform's process (killed; restarting)"
            ray.kill(h, no_restart=False)
        except ActorDiedError:
            # Dead for good (workers restart forever, so only a stop / delete / re-init kills them):
            # the ETL is gone, or a new instance runs under the same name (re-initialized, started
            # again) and these handles are stale. Either way: look the workers up again (`_one`).
            self.dead = True
            _fail(batch, ErrETLNotFound(self.name))
            return
        except RayActorError as exc:  # unavailable: dying or restarting
            why = f"the transform's process died ({type(exc).__name__})"
        else:
            for r, (out, err) in zip(batch, results):
                if r.fut.done():
                    continue
                if out is None:
                    r.fut.set_exception(ErrTransform(f"ETL[{self.name}]: {err}"))
                else:
                    r.fut.set_result(out)
            return
        await self._restarted(h)
        culprit = await self._culprit(h)
        for r in batch:  # the one that took the process down fails; the others go again, alone
            r.tried += 1
            guilty = r.item[2] == culprit
            if guilty or r.tried >= TRIES or self.dead:
                text = "the transform killed its process (restarted)" if guilty else why
                if not r.fut.done():
                    r.fut.set_exception(ErrTransform(f"ETL[{self.name}]: {text}"))
            else:
                await self._send(h, actor, [r])

    @staticmethod
    async def _culprit(h: Any) -> str:
        try:
            return str(await asyncio.wait_for(h.crashed_on.remote(), CALL_TIMEOUT))
        except (RayActorError, asyncio.TimeoutError):
            return ""

    async def _restarted(self, h: Any) -> None:
        """Wait until Ray has the worker back (a fresh process after a kill or crash)."""
        deadline = asyncio.get_running_loop().time() + RESTART_WAIT
        while not self.dead and asyncio.get_running_loop().time() < deadline:
            try:
                await asyncio.wait_for(h.ready.remote(), RESTART_WAIT)
                return
            except (RayActorError, asyncio.TimeoutError):
                await asyncio.sleep(0.2)


def _open_unlinked(path: str) -> BinaryIO:
    """Open for reading and unlink at once: gone once closed (the caller's to close)."""
    f = open(path, "rb")  # noqa: SIM115
    _unlink(path)
    return f


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fail(reqs: list[_Req], exc: Exception) -> None:
    for r in reqs:
        if not r.fut.done():
            r.fut.set_exception(exc)


class EtlPools:
    """The ETL workers of one target, as seen from one of its mountpaths."""

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self._pools: dict[str, _Pool] = {}
        self._proxy: Any = None

    async def _pool(self, name: str) -> _Pool:
        pool = self._pools.get(name)
        if pool is not None and not pool.dead:
            return pool
        if pool is not None:
            self.forget(name)  # its feeders may be gone: nothing may stay queued there
        deadline = asyncio.get_running_loop().time() + RESTART_WAIT
        while True:
            try:
                h0 = await asyncio.to_thread(ray.get_actor, worker_actor_name(name, self.tid, 0), NAMESPACE)
                workers, obj_timeout = await asyncio.wait_for(h0.info.remote(), CALL_TIMEOUT)
                names = [worker_actor_name(name, self.tid, i) for i in range(workers)]
                handles = [h0] + [await asyncio.to_thread(ray.get_actor, n, NAMESPACE) for n in names[1:]]
                break
            except (ValueError, ActorDiedError) as exc:  # no such actor (never made, stopped, deleted)
                raise ErrETLNotFound(name) from exc
            except (RayActorError, asyncio.TimeoutError) as exc:  # restarting
                if asyncio.get_running_loop().time() > deadline:
                    raise ErrTransform(f"ETL[{name}]: its worker on {self.tid} does not come back") from exc
                await asyncio.sleep(0.2)
        pool = self._pools[name] = _Pool(name, handles, names, obj_timeout)
        pool.start()
        return pool

    def forget(self, name: str) -> None:
        """The ETL stopped or changed: look its workers up again on next use."""
        pool = self._pools.pop(name, None)
        if pool is not None:
            pool.close()

    async def transform(self, stages: tuple[str, ...], fqn: str, size: int, path: str, args: str,
                        spill: str = "") -> bytes | int:
        """The object at `fqn` through every stage in order: the last stage's output, or, with
        `spill` and a streaming last stage (a generator), its size once written to the file `spill`
        chunk by chunk (the caller's to read and remove, whatever happens).

        Raises:
            ErrETLNotFound: a stage is not running on this target. ErrTransform: it failed.
        """
        data: bytes | int = b""
        for i, name in enumerate(stages):
            last = spill if i == len(stages) - 1 else ""
            item: Item = (fqn, None, path, args, last) if i == 0 else ("", data, path, args, last)  # type: ignore[assignment]
            data = await self._one(name, item, size if i == 0 else len(data))  # type: ignore[arg-type]
        return data

    async def transform_open(self, stages: tuple[str, ...], fqn: str, size: int, path: str, args: str,
                             work_dir: str) -> tuple[BinaryIO, int]:
        """`transform`, its output open for reading: in memory, or, from a streaming transform, the
        work file in `work_dir` it was written to (already unlinked: gone once closed, or on error)."""
        spill = os.path.join(work_dir, f"etl-{uuid.uuid4().hex}")
        try:
            out = await self.transform(stages, fqn, size, path, args, spill)
        except BaseException:
            await asyncio.to_thread(_unlink, spill)  # a stream that failed midway may have left it
            raise
        if isinstance(out, int):
            return await asyncio.to_thread(_open_unlinked, spill), out
        return io.BytesIO(out), len(out)  # not spilled: no work file was made

    async def _one(self, name: str, item: Item, size: int) -> bytes | int:
        for attempt in range(2):
            pool = await self._pool(name)
            req = _Req(item, size, asyncio.get_running_loop().create_future())
            await pool.queue.put(req)
            try:
                return await req.fut
            except ErrETLNotFound:
                if attempt:
                    raise
                self.forget(name)  # stopped meanwhile, or re-initialized: look again
        raise AssertionError("unreachable")

    async def note_error(self, name: str, err: ObjErr) -> None:
        """An inline failure: kept by the proxy with the ETL's record (`GET /v1/etl/<name>`), so it
        outlives any worker (fire and forget: the GET's answer does not wait for it)."""
        try:
            if self._proxy is None:
                self._proxy = await asyncio.to_thread(ray.get_actor, PROXY_NAME, NAMESPACE)
            self._proxy.etl_note_error.remote(name, err.to_wire())
        except Exception as exc:  # the proxy is restarting: this one error is not kept
            log.warning("ETL[%s]: inline error not kept: %r", name, exc)
