"""Blob downloads on one mountpath: the engine (`jobs/blob.py`) wired to the cluster's remotes.

Used three ways: a GET with `ais-blob-download: true` (streams to the client while storing),
the `blob-download` job, and prefetch above `--blob-threshold`. One download per object runs
at a time, as any write of it (`fs/namelock.py`); a second request for the same object joins
the writer under way (waits, then uses the stored copy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ais_ray.backends.base import RemoteObj
from ais_ray.backends.registry import get_backend
from ais_ray.core.blob import resolve_blob_params
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.jobs.blob import BlobDownload, backend_reader, running

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext

# The engine retries each chunk itself (4 attempts): the backend's own quick retries would multiply that.
_READ_CONFIG = {"retries": 0}


class Blobs:
    def __init__(self, ctx: MountpathContext) -> None:
        self.ctx = ctx

    def _n_mountpaths(self) -> int:
        smap = self.ctx.meta.smap
        tsi = smap.targets.get(self.ctx.tid) if smap is not None else None
        return max(1, len(tsi.mountpaths)) if tsi is not None else 1

    def running(self, bck: Bucket, name: str) -> BlobDownload | None:
        return running(self.ctx.store, bck, name)

    def busy(self, bck: Bucket, name: str) -> bool:
        """Is `bck/name` being written here (by a blob download or any other fetcher)?"""
        return self.ctx.store.locks.held(bck.uname(name)) is not None

    def new(self, bck: Bucket, ref: RemoteRef, name: str, obj: RemoteObj, *, chunk: str | int | None = None,
            workers: str | int | None = None, job: str = "", keep_failed: bool = True) -> BlobDownload:
        """A download to start (validates chunk size and workers: ErrBadRequest names the field)."""
        params = resolve_blob_params(chunk, workers, size=obj.size, n_mountpaths=self._n_mountpaths())
        read = backend_reader(get_backend(ref.bck.provider, _READ_CONFIG), ref.name, name, obj.size)
        return BlobDownload(self.ctx.store, bck, name, obj, read, params, job=job, keep_failed=keep_failed)

    async def fetch(self, bck: Bucket, ref: RemoteRef, name: str, obj: RemoteObj, *, chunk: str | int | None = None,
                    workers: str | int | None = None, job: str = "") -> ObjAttrs:
        """Download and commit (or join the write of this object already under way)."""
        locks = self.ctx.store.locks
        under_way = locks.held(bck.uname(name))
        if under_way is not None:
            return await locks.wait(under_way)
        # a job (blob-download, prefetch) that fails here has failed for good: nothing stays in %ch
        # (a process that dies mid-way still leaves its manifest: Ray's retry resumes from it)
        return await self.new(bck, ref, name, obj, chunk=chunk, workers=workers, job=job, keep_failed=False).run()

    def progress(self, bck: Bucket, name: str) -> tuple[int, int]:
        """(bytes stored, size) of the download under way, or (0, 0)."""
        bd = self.running(bck, name)
        return (bd.stats.done, bd.stats.size) if bd is not None else (0, 0)
