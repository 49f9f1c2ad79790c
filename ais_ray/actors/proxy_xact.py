"""How the proxy asks every target about jobs: one gather, used for xaction snapshots
(`/v1/cluster?what=qryxstats|status|status_all|running_all`), summaries and the download API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ais_ray.core.errors import AisError

STATUS_TIMEOUT = 30.0


async def gather(targets: Mapping[str, Any], method: str, *args: Any, strict: bool) -> dict[str, Any]:
    """tid -> reply of `method(*args)` on every target, concurrently, each within STATUS_TIMEOUT.

    `strict`: a target that fails fails the call (download control); otherwise it is left out
    (a snapshot query answers with the targets that replied, as AIStore does).
    """
    res = await asyncio.gather(*(asyncio.wait_for(getattr(h, method).remote(*args), STATUS_TIMEOUT)
                                 for h in targets.values()), return_exceptions=True)
    out: dict[str, Any] = {}
    for tid, r in zip(targets, res):
        if isinstance(r, BaseException):
            if strict:
                raise AisError(f"{method} on target {tid} failed: {type(r).__name__}: {r}") from r
            continue
        out[tid] = r
    return out
