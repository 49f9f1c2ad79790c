"""make-n-copies (CLI `start mirror`): give every object of a bucket exactly N replicas on its target.

Every target runs its share; each mountpath walks the objects it lists (the main replicas, see
`fs/mirror.py listed_here`) and adds or drops replicas on the target's other mountpaths. New
writes into the bucket are replicated by their own commit meanwhile (put-copies).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ais_ray.core.names import Bucket
from ais_ray.core.xact import XactSnap

KIND = "make-n-copies"


async def run_make_copies(bck: Bucket, n: int, mountpaths: dict[str, Any], snap: XactSnap) -> None:
    """This target's share: every mountpath at once; counts objects visited and their bytes."""
    async def one(h: Any) -> None:
        objs, size = await h.make_copies.remote(bck, n)
        snap.stats.objs += objs
        snap.stats.bytes += size

    await asyncio.gather(*(one(h) for h in mountpaths.values()))
