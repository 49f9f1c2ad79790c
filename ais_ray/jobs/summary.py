"""Bucket summary (Go `summary-bck`): objects and bytes present in the cluster vs in the remote.

As AIStore's `BsummResult`: objects present count each mirrored object once; `size_on_disk` is
every file of the bucket (replicas, EC slices and metafiles too); `used_pct` is that of the
disks' total size (`total_disks_size`, each filesystem once).

A job of every target's registry: each target counts what its mountpaths hold under the prefix;
the one target that owns the bucket's name by HRW also lists the remote (the one pager) when
asked. The proxy answers 202 while any part runs and then merges the parts (`summary_wire`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ais_ray.backends.pager import Fetch, pages
from ais_ray.core.names import Bucket
from ais_ray.core.xact import XactSnap

KIND = "summary-bck"


async def run_summary(bck: Bucket, prefix: str, mountpaths: dict[str, Any], remote: Fetch | None,
                      snap: XactSnap) -> None:
    """This target's part: local counts in `snap.stats` (objs, bytes), remote ones in (in_objs, in_bytes)."""
    parts = await asyncio.gather(*(h.bucket_stats.remote(bck, prefix) for h in mountpaths.values()))
    snap.stats.objs = sum(p["objs"] for p in parts)
    snap.stats.bytes = sum(p["bytes"] for p in parts)
    snap.extra["min"] = min((p["min"] for p in parts if p["objs"]), default=0)
    snap.extra["max"] = max((p["max"] for p in parts), default=0)
    snap.extra["on_disk"] = sum(p["on_disk"] for p in parts)
    snap.extra["disks"] = {p["fs"]: p["disk"] for p in parts}  # a filesystem's size once, however many mountpaths
    if remote is not None:
        async for page in pages(remote):
            snap.stats.in_objs += len(page.entries)
            snap.stats.in_bytes += sum(max(e.size, 0) for e in page.entries)


def summary_wire(bck: Bucket, snaps: Sequence[XactSnap]) -> dict[str, Any]:
    """Go `cmn.BsummResult` from the targets' parts."""
    n, size = sum(s.stats.objs for s in snaps), sum(s.stats.bytes for s in snaps)
    lo = min((s.extra.get("min", 0) for s in snaps if s.stats.objs), default=0)
    hi = max((s.extra.get("max", 0) for s in snaps), default=0)
    remote_n, remote_size = sum(s.stats.in_objs for s in snaps), sum(s.stats.in_bytes for s in snaps)
    on_disk = sum(s.extra.get("on_disk", 0) for s in snaps)
    disks = sum({fs: size for s in snaps for fs, size in (s.extra.get("disks") or {}).items()}.values())
    return {
        "name": bck.name, "provider": bck.provider.value, "namespace": {"uuid": bck.ns.uuid, "name": bck.ns.name},
        "ObjCount": {"obj_count_present": str(n), "obj_count_remote": str(remote_n)},
        "ObjSize": {"obj_min_size": lo, "obj_avg_size": size // n if n else 0, "obj_max_size": hi},
        "TotalSize": {"size_on_disk": str(on_disk), "size_all_present_objs": str(size),
                      "size_all_remote_objs": str(remote_size), "total_disks_size": str(disks)},
        "used_pct": (on_disk * 100 + disks // 2) // disks if disks else 0, "is_present": True,
    }
