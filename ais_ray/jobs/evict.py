"""Evict list-range (Go `evict-listrange`): drop cached copies of selected remote objects; and
delete list-range (`delete-listrange`, the SDK's `bucket.objects(...).delete()`): delete them.

The selection travels to every target as is (names or a range template, never an expanded
list); each target walks it lazily, keeps its HRW share and deletes per mountpath in batches.
An evict leaves the remote its objects; a delete removes each one as a DELETE of it does — from
the remote side first (a remote bucket), its EC slices and replicas on other targets too.
"""

from __future__ import annotations

from typing import Any

from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.selection import Share, share_batches

BATCH = 1000  # names per call to a mountpath


async def run_evict(bck: Bucket, sel: Selection, share: Share, mountpaths: dict[str, Any], snap: XactSnap, *,
                    delete: bool = False) -> None:
    async for mp, names in share_batches(share, bck, sel.iter(), BATCH):
        snap.stats.objs += await mountpaths[mp].delete_objects.remote(bck, names, everywhere=delete)
