"""`/v1/ml/moss[/<bucket>]`: GetBatch (`jobs/getbatch.py`). The proxy's part is the 307 to a
designated target: a random active target's random mountpath data server, which reads the items
and sends the archive. The request's JSON body goes along (a 307 keeps method and body)."""

from __future__ import annotations

import random

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ais_ray.auth.gate import redirect_location
from ais_ray.core.errors import ErrNoTarget
from ais_ray.core.smap import FLAG_OFFLINE, MountpathInfo, Smap
from ais_ray.serve.state import state

router = APIRouter()
_DOC = ("GetBatch: many objects, or files in shards, in one archive (tar, tgz, zip), in the order asked. "
        "JSON body: AIStore's MossReq. Redirects (307) to a designated target's data server.")


def designated(smap: Smap) -> MountpathInfo:
    """The data server that assembles a GetBatch: any enabled mountpath of an active, online target
    (one rule for the front door, which answers it without reading the body, and Serve)."""
    mps = [m for tid in smap.active_targets() if not smap.targets[tid].flags & FLAG_OFFLINE
           for m in smap.targets[tid].mountpaths if m.enabled and m.url]
    if not mps:
        raise ErrNoTarget("get-batch: no active target to send the batch to")
    return random.choice(mps)


async def _designated(req: Request) -> Response:
    mp = designated(await state().smap())
    raw = req.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else req.url.path
    location = redirect_location(mp.url, req.method, path, req.url.query, getattr(req.state, "claims", None), None,
                                 None)
    return RedirectResponse(location, status_code=307)


@router.get("/v1/ml/moss", summary="GetBatch (items name their buckets)", description=_DOC)
async def get_batch(req: Request) -> Response:
    return await _designated(req)


@router.get("/v1/ml/moss/{bucket}", summary="GetBatch (a default bucket)", description=_DOC)
async def get_batch_bucket(req: Request, bucket: str) -> Response:
    return await _designated(req)
