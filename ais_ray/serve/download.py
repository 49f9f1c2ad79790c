"""`/v1/download`: the Internet downloader's REST API, as AIStore has it (`ais/prxdl.go`).

POST starts a job (`{"id": "dnl-..."}`), GET returns a job's status (body `{"id"}`) or the
list of jobs (body `{"regex"}` or none), DELETE `/abort` and `/remove` stop and forget one.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ais_ray.core.dload import DlKind, parse_request
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.xid import gen_download_id
from ais_ray.serve.state import state
from ais_ray.serve.msgs import DlBody, DlIdMsg
from ais_ray.serve.wire import bucket_of, read_body

router = APIRouter(tags=["download"])


@router.post("/v1/download", summary="Start a download job (single, multi, range, backend)")
async def start_download(req: Request) -> Response:
    body = await read_body(req, DlBody)
    bck = bucket_of(body.bucket)
    timeout = parse_duration(body.timeout) if body.timeout else 0.0
    src = None
    if body.type == DlKind.BACKEND.value:
        props = await state().bucket_props(bck) if not bck.is_remote else None
        src = bck if bck.is_remote else props.backend_bck if props else None
    spec = parse_request(body.model_dump(), job_id=gen_download_id(), bck=bck, now=time.time(), timeout=timeout,
                         conns=body.limits.connections, bph=body.limits.bytes_per_hour, src=src)
    if not bck.is_remote:  # the destination is created on demand (Go `validateDownload`, createAIS)
        state().adopt(await state().proxy.create_bucket.remote(bck, exist_ok=True))
    else:  # a remote one must be there and reachable (added on first access, as every remote bucket)
        await state().bucket_props(bck)
    job_id = await state().proxy.dl_start.remote(spec)
    return JSONResponse({"id": job_id})


@router.get("/v1/download", summary="Status of a job (body {id}) or the list of jobs (body {regex})")
async def download_status(req: Request) -> Response:
    q = await read_body(req, DlIdMsg)
    job_id = q.id or req.query_params.get("id", "")
    if job_id:
        st: Any = await state().proxy.dl_status.remote(job_id, q.only_active_tasks)
        return JSONResponse(st)
    return JSONResponse(await state().proxy.dl_list.remote(q.regex, q.only_active_tasks))


@router.delete("/v1/download/abort", summary="Abort a job (body {id})")
async def abort_download(req: Request) -> Response:
    q = await read_body(req, DlIdMsg)
    if not q.id:
        raise ErrBadRequest('missing job "id"')
    await state().proxy.dl_abort.remote(q.id)
    return Response(status_code=200)


@router.delete("/v1/download/remove", summary="Forget a finished or aborted job (body {id})")
async def remove_download(req: Request) -> Response:
    q = await read_body(req, DlIdMsg)
    if not q.id:
        raise ErrBadRequest('missing job "id"')
    await state().proxy.dl_remove.remote(q.id)
    return Response(status_code=200)
