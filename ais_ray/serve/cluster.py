"""Cluster requests: the cluster map, health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.smap import FLAG_OFFLINE
from ais_ray.serve.state import state

router = APIRouter(tags=["cluster"])


@router.get("/v1/daemon", summary="Node info: `?what=smap|bmd|stats`")
async def daemon(req: Request) -> Response:
    what = req.query_params.get("what", "smap")
    if what == "smap":
        return JSONResponse((await state().smap()).to_wire())
    if what == "bmd":
        return JSONResponse((await state().bmd()).to_wire())
    if what == "stats":
        return JSONResponse(await state().proxy.target_infos.remote())
    raise ErrBadRequest(f'invalid "what" query: "{what}" (expecting smap, bmd or stats)')


@router.get("/v1/health", summary="200 when every target is up (`?prr=true` as the SDK's is_ready sends)")
async def health(req: Request) -> Response:
    smap = await state().smap()
    ready = bool(smap.targets) and not any(t.flags & FLAG_OFFLINE for t in smap.targets.values())
    return Response(status_code=200 if ready else 503)
