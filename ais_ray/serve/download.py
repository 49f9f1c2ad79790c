"""`/v1/download`: the Internet downloader's REST API, as AIStore has it (`ais/prxdl.go`).

POST starts a job (`{"id": "dnl-..."}`), GET returns a job's status (body `{"id"}`) or the
list of jobs (body `{"regex"}` or none), DELETE `/abort` and `/remove` stop and forget one.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ais_ray.core.dload import DlKind, parse_request
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import Bucket, Namespace, Provider, validate_bucket_name
from ais_ray.core.xid import gen_download_id
from ais_ray.serve.state import state
from ais_ray.serve.wire import parse_model, read_json

router = APIRouter(tags=["download"])


class _NsIn(BaseModel):
    uuid: str = ""
    name: str = ""


class _BucketIn(BaseModel):
    name: str
    provider: str = ""
    namespace: _NsIn | None = None


class _LimitsIn(BaseModel):
    connections: int = 0
    bytes_per_hour: int = 0


class DlRequestIn(BaseModel):
    """Go `dload.Body`: the base fields plus those of the job type."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["single", "multi", "range", "backend"]
    bucket: _BucketIn
    description: str = ""
    timeout: str = ""
    progress_interval: str = ""
    limits: _LimitsIn = Field(default_factory=_LimitsIn)
    headers: dict[str, str] = Field(default_factory=dict)
    link: str = ""
    object_name: str = ""
    objects: list[str] | dict[str, str] | None = None
    template: str = ""
    subdir: str = ""
    prefix: str = ""
    suffix: str = ""
    synchronize: bool = False
    sync: bool = False


class _IdIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = ""
    regex: str = ""
    only_active_tasks: bool = False


@router.post("/v1/download", summary="Start a download job (single, multi, range, backend)")
async def start_download(req: Request) -> Response:
    body = parse_model(DlRequestIn, await read_json(req) or {})
    b = body.bucket
    bck = Bucket(validate_bucket_name(b.name), Provider.parse(b.provider or "ais"),
                 Namespace(b.namespace.uuid, b.namespace.name) if b.namespace else Namespace())
    if body.limits.connections < 0 or body.limits.bytes_per_hour < 0:
        raise ErrBadRequest("limits must not be negative")
    timeout = parse_duration(body.timeout) if body.timeout else 0.0
    src = None
    if body.type == DlKind.BACKEND.value:
        props = await state().bucket_props(bck) if not bck.is_remote else None
        src = bck if bck.is_remote else props.backend_bck if props else None
    spec = parse_request(body.model_dump(), job_id=gen_download_id(), bck=bck, now=time.time(), timeout=timeout,
                         conns=body.limits.connections, bph=body.limits.bytes_per_hour, src=src)
    if not bck.is_remote:  # the destination is created on demand (Go `validateDownload`, createAIS)
        state().adopt(await state().proxy.create_bucket.remote(bck, exist_ok=True))
    job_id = await state().proxy.dl_start.remote(spec)
    return JSONResponse({"id": job_id})


@router.get("/v1/download", summary="Status of a job (body {id}) or the list of jobs (body {regex})")
async def download_status(req: Request) -> Response:
    q = parse_model(_IdIn, await read_json(req) or {})
    job_id = q.id or req.query_params.get("id", "")
    if job_id:
        st: Any = await state().proxy.dl_status.remote(job_id, q.only_active_tasks)
        return JSONResponse(st)
    return JSONResponse(await state().proxy.dl_list.remote(q.regex, q.only_active_tasks))


@router.delete("/v1/download/abort", summary="Abort a job (body {id})")
async def abort_download(req: Request) -> Response:
    q = parse_model(_IdIn, await read_json(req) or {})
    if not q.id:
        raise ErrBadRequest('missing job "id"')
    await state().proxy.dl_abort.remote(q.id)
    return Response(status_code=200)


@router.delete("/v1/download/remove", summary="Forget a finished or aborted job (body {id})")
async def remove_download(req: Request) -> Response:
    q = parse_model(_IdIn, await read_json(req) or {})
    if not q.id:
        raise ErrBadRequest('missing job "id"')
    await state().proxy.dl_remove.remote(q.id)
    return Response(status_code=200)
