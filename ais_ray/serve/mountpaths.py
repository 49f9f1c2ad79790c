"""Mountpaths of a target (ais-wire-2 §3.4): list, attach, enable, disable, detach.

`/v1/reverse/daemon[/mountpaths]` with header `Ais-Node-Id: <tid>` (the proxy acts for the
target, as AIStore's reverse proxy forwards to it); `/v1/daemon[/mountpaths]` with the same
header is accepted too. The list of every target is `GET /v1/cluster?what=mountpaths`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ais_ray.core import headers as H
from ais_ray.core import params
from ais_ray.core.errors import ErrBadRequest
from ais_ray.serve import logs, perf
from ais_ray.serve.state import state
from ais_ray.serve.wire import read_action

router = APIRouter(tags=["mountpaths"])
METHOD_OF = {"attach-mp": "PUT", "detach-mp": "DELETE", "enable-mp": "POST", "disable-mp": "POST"}


def node_id(req: Request) -> str:
    tid = req.headers.get(H.NODE_ID, "")
    if not tid:
        raise ErrBadRequest(f"expecting the node in header {H.NODE_ID}")
    return tid


async def mountpath_list(req: Request) -> Response:
    tid = node_id(req)
    return JSONResponse((await state().proxy.mountpath_lists.remote(tid))[tid])


@router.get("/v1/reverse/daemon",
            summary="One node's `?what=mountpaths|node_status|node_stats|log` (header `Ais-Node-Id`; log: `severity`, `offset`, `all`)")
async def reverse_daemon(req: Request) -> Response:
    what = req.query_params.get(H.Q_WHAT, "")
    if what == logs.WHAT_LOG:
        return await logs.node_log(req, node_id(req))
    params.check_not_log(what, req.query_params)
    if what == "mountpaths":
        return await mountpath_list(req)
    return await perf.reverse_daemon(req)  # node_status / node_stats (the default), else a 400 naming them


@router.api_route("/v1/reverse/daemon/mountpaths", methods=["PUT", "POST", "DELETE"],
                  summary="attach-mp (PUT), enable-mp / disable-mp (POST), detach-mp (DELETE) with `Ais-Node-Id`")
@router.api_route("/v1/daemon/mountpaths", methods=["PUT", "POST", "DELETE"], include_in_schema=False)
async def mountpath_action(req: Request) -> Response:
    tid = node_id(req)
    msg = await read_action(req)
    if METHOD_OF.get(msg.action) != req.method:
        raise ErrBadRequest(f'invalid mountpath action "{msg.action}" for {req.method} '
                            f'(expecting {", ".join(f"{m} {a}" for a, m in METHOD_OF.items())})')
    if not isinstance(msg.value, str):
        raise ErrBadRequest(f'{msg.action}: expecting the mountpath (a string) as "value"')
    resilver = not H.is_true(req.query_params.get("dntres"))
    xid = await state().proxy.mountpath_action.remote(tid, msg.action, msg.value, resilver)
    await state().refresh(force=True)
    return Response(content=xid, media_type="text/plain")
