"""A mountpath writes a shard of objects (the `archive` job, `jobs/archive.py`): members read from
their holders as GetBatch reads its items (`getbatch.read_in_order`), written in the selection's order by `core/shardfmt.ShardWriter` into
the one write path, committed whole or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ais_ray.core.errors import AisError, ErrObjNotFound
from ais_ray.core.shardfmt import Chunks, ShardWriter, members_of
from ais_ray.actors.getbatch import read_in_order
from ais_ray.jobs.archive import ArchiveSpec
from ais_ray.jobs.getbatch import BatchItem

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext
    from ais_ray.actors.objcopy import ObjCopier

Commit = Callable[..., Awaitable[Any]]  # `DataServer._commit_put`: (bck, name, chunks, size)
THREAD_MIN = 1 << 20  # a member at least this large is written on a thread (the loop keeps serving)
MAX_ERRS = 10  # errors kept for the job's message (`coer`)


@dataclass
class _Job:
    task: asyncio.Task[Any] | None = None
    objs: int = 0
    bytes: int = 0
    errs: int = 0  # left out (`coer`); the first MAX_ERRS messages are kept


class Archiver:
    def __init__(self, ctx: MountpathContext, copier: ObjCopier, commit: Commit) -> None:
        self.ctx = ctx
        self.copier = copier
        self._commit = commit
        self.jobs: dict[str, _Job] = {}

    def progress(self, xid: str) -> tuple[int, int]:
        j = self.jobs.get(xid)
        return (j.objs, j.bytes) if j is not None else (0, 0)

    async def abort(self, xid: str) -> None:
        j = self.jobs.get(xid)
        if j is not None and j.task is not None:
            j.task.cancel()

    async def build(self, xid: str, spec: ArchiveSpec, names: list[str]) -> tuple[int, int, int, list[str]]:
        """Write the shard; (members written, their bytes, how many were left out under `coer`, the
        first of those errors)."""
        job = self.jobs[xid] = _Job(asyncio.current_task())
        errors: list[str] = []
        try:
            old: list[tuple[str, bytes]] = []
            if spec.append:
                old = await self._existing(spec)
            await self._commit(spec.dst, spec.name, self._shard(spec, names, old, job, errors), -1)
            return job.objs, job.bytes, job.errs, errors
        finally:
            self.jobs.pop(xid, None)

    async def _existing(self, spec: ArchiveSpec) -> list[tuple[str, bytes]]:
        """`append`: the members of the shard there is (none if there is none)."""
        try:
            data = await self.copier.read_whole(spec.dst, spec.name)
        except ErrObjNotFound:
            return []
        return await asyncio.to_thread(members_of, data, spec.fmt)

    async def _shard(self, spec: ArchiveSpec, names: list[str], old: list[tuple[str, bytes]], job: _Job,
                     errors: list[str]) -> AsyncIterator[bytes]:
        out = Chunks()
        w = ShardWriter(spec.fmt, out)
        for member, data in old:
            w.add(member, data)
        async for it, data in read_in_order(self.copier, [BatchItem(spec.src, n) for n in names]):
            name = it.name
            if isinstance(data, AisError):
                if not spec.coer:
                    raise data
                job.errs += 1
                if len(errors) < MAX_ERRS:
                    errors.append(f"{spec.src}/{name}: {data.message}")
                continue
            if len(data) >= THREAD_MIN:
                await asyncio.to_thread(w.add, spec.member(name), data)
            else:
                w.add(spec.member(name), data)
            job.objs += 1
            job.bytes += len(data)
            if chunk := out.take():
                yield chunk
        w.close()
        if chunk := out.take():
            yield chunk
