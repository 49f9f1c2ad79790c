"""Bucket summaries (Go `summary-bck`): objects and bytes present in the cluster vs in the remote.

Asynchronous as the SDK expects: a request starts one and gets its id (202); polls return 202
until it is done, then 200 with the result. Local counts come from every target's walk; remote
counts from listing the remote bucket (only when asked, or for a remote bucket).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ais_ray.backends.pager import backend_fetch, pages
from ais_ray.backends.registry import get_backend
from ais_ray.core.bmd import BucketProps, remote_of
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.xid import gen_uuid

log = logging.getLogger(__name__)
KEEP_DONE_S = 600.0


class Summaries:
    def __init__(self, targets: Callable[[], dict[str, Any]]) -> None:
        self._targets = targets
        self._jobs: dict[str, tuple[float, asyncio.Task[dict[str, Any]]]] = {}

    def start(self, bck: Bucket, props: BucketProps, prefix: str, with_remote: bool) -> str:
        now = time.monotonic()
        for xid, (t0, task) in list(self._jobs.items()):
            if task.done() and now - t0 > KEEP_DONE_S:
                del self._jobs[xid]
        xid = gen_uuid()
        self._jobs[xid] = (now, asyncio.get_running_loop().create_task(self._summarize(bck, props, prefix, with_remote)))
        return xid

    def result(self, xid: str) -> dict[str, Any] | None:
        """The summary if done (re-raising its error), None while running; KeyError if unknown."""
        _, task = self._jobs[xid]
        return task.result() if task.done() else None

    async def _summarize(self, bck: Bucket, props: BucketProps, prefix: str, with_remote: bool) -> dict[str, Any]:
        parts = await asyncio.gather(*(h.bucket_stats.remote(bck, prefix) for h in self._targets().values()))
        n, size = sum(p[0] for p in parts), sum(p[1] for p in parts)
        lo = min((p[2] for p in parts if p[0]), default=0)
        hi = max((p[3] for p in parts), default=0)
        total_disks = 0
        remote_n = remote_size = 0
        ref = remote_of(bck, props)
        if ref is not None and ref.bck.provider is not Provider.HT and (with_remote or bck.is_remote):
            async for page in pages(backend_fetch(get_backend(ref.bck.provider), ref.name, prefix)):
                remote_n += len(page.entries)
                remote_size += sum(max(e.size, 0) for e in page.entries)
        return {
            "name": bck.name, "provider": bck.provider.value, "namespace": {"uuid": bck.ns.uuid, "name": bck.ns.name},
            "ObjCount": {"obj_count_present": str(n), "obj_count_remote": str(remote_n)},
            "ObjSize": {"obj_min_size": lo, "obj_avg_size": size // n if n else 0, "obj_max_size": hi},
            "TotalSize": {"size_on_disk": str(size), "size_all_present_objs": str(size),
                          "size_all_remote_objs": str(remote_size), "total_disks_size": str(total_disks)},
            "used_pct": 0, "is_present": True,
        }
