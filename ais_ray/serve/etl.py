"""`/v1/etl`: ETL init and lifecycle as AIStore has it (`ais/prxetl.go`, ais-wire-2 §2.1, §2.6).

PUT `/v1/etl` (ETLSpecMsg) → `etl-<uuid>` once every target's workers are ready; GET `/v1/etl`
lists, GET `/v1/etl/<name>[?uuid=<job>]` shows the init message and object errors, `/logs[/<tid>]`,
`/health`, `/metrics`; POST `/<name>/stop|start`; DELETE `/<name>`. The registry and the
workers are the proxy's (`actors/proxy_etl.py`); inline and offline transforms are elsewhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ais_ray.core import headers as H
from ais_ray.core.etl import validate_etl_name
from ais_ray.serve.msgs import EtlSpecMsg
from ais_ray.serve.state import state
from ais_ray.serve.wire import parse_model, read_json

router = APIRouter(tags=["etl"])


@router.put("/v1/etl", summary="Initialize an ETL (ETLSpecMsg: SDK init_class, `etl init code|spec`)")
async def etl_init(req: Request) -> Response:
    raw = await read_json(req)
    parse_model(EtlSpecMsg, raw)  # types first (400 naming the field); the rest in core/etl.py
    return Response(await state().proxy.etl_init.remote(raw or {}), media_type="text/plain")


@router.get("/v1/etl", summary="Every ETL: id, stage, xaction_id, obj_count, in_bytes, out_bytes")
async def etl_list() -> Response:
    return JSONResponse(await state().proxy.etl_list.remote())


@router.get("/v1/etl/{name}", summary="An ETL's init message and object errors (inline, or of job ?uuid=)")
async def etl_details(req: Request, name: str) -> Response:
    return JSONResponse(await state().proxy.etl_details.remote(validate_etl_name(name),
                                                               req.query_params.get(H.Q_UUID, "")))


@router.get("/v1/etl/{name}/logs", summary="Every target's worker logs (base64)")
async def etl_logs(name: str) -> Response:
    return JSONResponse(await state().proxy.etl_logs.remote(validate_etl_name(name), ""))


@router.get("/v1/etl/{name}/logs/{tid}", summary="One target's worker logs (base64)")
async def etl_target_logs(name: str, tid: str) -> Response:
    return JSONResponse(await state().proxy.etl_logs.remote(validate_etl_name(name), tid))


@router.get("/v1/etl/{name}/health", summary="Per target: Running or Unhealthy")
async def etl_health(name: str) -> Response:
    return JSONResponse(await state().proxy.etl_health.remote(validate_etl_name(name)))


@router.get("/v1/etl/{name}/metrics", summary="Per target: objects and bytes through its workers")
async def etl_metrics(name: str) -> Response:
    return JSONResponse(await state().proxy.etl_metrics.remote(validate_etl_name(name)))


@router.post("/v1/etl/{name}/stop", summary="Stop: the workers go, stage Aborted")
async def etl_stop(name: str) -> Response:
    await state().proxy.etl_stop.remote(validate_etl_name(name))
    return Response(status_code=200)


@router.post("/v1/etl/{name}/start", summary="Start an Aborted ETL again; body: the new xaction id")
async def etl_start(name: str) -> Response:
    return Response(await state().proxy.etl_start.remote(validate_etl_name(name)), media_type="text/plain")


@router.delete("/v1/etl/{name}", summary="Stop and remove an ETL")
async def etl_delete(name: str) -> Response:
    await state().proxy.etl_delete.remote(validate_etl_name(name))
    return Response(status_code=200)
