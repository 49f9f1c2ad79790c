"""Cluster requests: the cluster map, health, and jobs (xactions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ais_ray.core.errors import ErrBadRequest, ErrJobNotFound, ErrUnsupported
from ais_ray.core.members import ACTIONS
from ais_ray.core.smap import FLAG_OFFLINE
from ais_ray.core.xact import XactSnap
from ais_ray.jobs.rebalance import REBALANCE, RESILVER
from ais_ray.core.xact import status as xact_status
from ais_ray.core import headers as H
from ais_ray.core import params
from ais_ray.serve import logs, perf
from ais_ray.serve.config import cluster_config
from ais_ray.serve.mountpaths import mountpath_list
from ais_ray.serve.state import state
from ais_ray.serve.msgs import JobArgs
from ais_ray.serve.wire import bucket_of, read_action, read_body

router = APIRouter(tags=["cluster"])
WHAT_CONFIG = ("config", "cluster_config")  # Go apc.WhatClusterConfig; the SDK's WHAT_CLUSTER_CONFIG


@router.get("/v1/daemon", summary="Node info: `?what=smap|bmd|stats|config|mountpaths|log` (log: the proxy's, or `Ais-Node-Id`'s)")
async def daemon(req: Request) -> Response:
    what = req.query_params.get("what", "smap")
    if what == logs.WHAT_LOG:
        return await logs.node_log(req, req.headers.get(H.NODE_ID, ""))
    params.check_not_log(what, req.query_params)
    if what in ("smap", "bmd"):  # asked for: the current maps, not this replica's cache (serve/state.py)
        await state().refresh(force=True)
    if what == "smap":
        return JSONResponse((await state().smap()).to_wire())
    if what == "bmd":
        return JSONResponse((await state().bmd()).to_wire())
    if what == "stats":
        return JSONResponse(await state().proxy.target_infos.remote())
    if what in WHAT_CONFIG:
        return JSONResponse(cluster_config(await state().smap()).model_dump())
    if what == "mountpaths":  # a target's, named by Ais-Node-Id (serve/mountpaths.py)
        return await mountpath_list(req)
    raise ErrBadRequest(f'invalid "what" query: "{what}" (expecting smap, bmd, stats, config, mountpaths or log)')


@router.get("/v1/health", summary="200 when every target is up (`?prr=true` as the SDK's is_ready sends)")
async def health(req: Request) -> Response:
    smap = await state().smap()
    ready = bool(smap.targets) and not any(t.flags & FLAG_OFFLINE for t in smap.targets.values())
    return Response(status_code=200 if ready else 503)


def _arg(body: dict[str, Any] | None, *keys: str) -> Any:
    """Go decodes JSON keys case-insensitively: accept `ID` and `id`, `Kind` and `kind`."""
    low = {k.lower(): v for k, v in (body or {}).items()}
    for k in keys:
        if low.get(k.lower()) not in (None, ""):
            return low[k.lower()]
    return None


@router.get("/v1/cluster", summary="Jobs: `?what=status|qryxstats|status_all|running_all` (body: JobArgs / query); `?what=config`")
async def cluster_get(req: Request) -> Response:
    what = req.query_params.get("what", "")
    if what in WHAT_CONFIG:
        return JSONResponse(cluster_config(await state().smap()).model_dump())
    if what == "mountpaths":
        return JSONResponse(await state().proxy.mountpath_lists.remote())
    if what in perf.CLUSTER_WHAT:
        return await perf.cluster_what(what)
    args = await read_body(req, JobArgs)  # typed: a non-object body or a number for Bck.name is a 400
    xid, kind = args.id, args.kind
    proxy = state().proxy
    if what == "status":
        return JSONResponse(await proxy.xact_status.remote(xid, kind))
    if what == "qryxstats":
        bck = bucket_of(args.bck) if args.bck and args.bck.name else None
        parts = await proxy.xact_query.remote(xid, kind, bck, args.show_active)
        if not parts:
            raise ErrJobNotFound(xid or kind or "jobs")
        return JSONResponse({tid: [s.to_wire() for s in snaps] for tid, snaps in parts.items()})
    if what in ("status_all", "running_all"):
        only_running = what == "running_all" or args.show_active
        parts = await proxy.xact_query.remote("", kind, None, only_running)
        by_id: dict[str, list[XactSnap]] = {}
        for snaps in parts.values():
            for s in snaps:
                by_id.setdefault(s.id, []).append(s)
        if what == "running_all":
            return JSONResponse(sorted(f"{v[0].kind}[{i}]" for i, v in by_id.items()))
        return JSONResponse([xact_status(i, v[0].kind, v) for i, v in by_id.items()] or None)
    raise ErrBadRequest(f'invalid "what" query for /v1/cluster: "{what}" (expecting status, qryxstats, status_all, running_all, config, node_stats, sysinfo, mountpaths)')


@router.put("/v1/cluster", summary="Jobs: `start` (rebalance, resilver) / `stop` with JobArgs {ID, Kind}; membership: "
                                  "`start-maintenance`, `stop-maintenance`, `decommission-node`, `shutdown-node` with ActValRmNode")
async def cluster_put(req: Request) -> Response:
    msg = await read_action(req)
    value = msg.value if isinstance(msg.value, dict) else {}
    xid, kind = str(_arg(value, "ID") or ""), str(_arg(value, "Kind") or "")
    proxy = state().proxy
    if msg.action == "stop":
        if not xid and not kind:
            raise ErrBadRequest("stop: expecting a job ID or kind")
        await proxy.xact_abort.remote(xid, kind)
        return Response(status_code=200)
    if msg.action in ACTIONS:  # Go ActValRmNode (core/members.py); body: the rebalance id or ""
        xid = await proxy.member_action.remote(msg.action, msg.value)
        await state().refresh(force=True)  # this replica redirects by the new map at once
        return Response(content=xid, media_type="text/plain")
    if msg.action == "start":
        if kind == REBALANCE:
            return Response(content=await proxy.rebalance_start.remote("user request"), media_type="text/plain")
        if kind == RESILVER:
            tid = str(_arg(value, "DaemonID", "node") or "")
            if not tid:
                raise ErrUnsupported("resilver of the whole cluster is not supported: name the target (DaemonID)")
            return Response(content=await proxy.resilver_start.remote(tid), media_type="text/plain")
        raise ErrUnsupported(f'starting "{kind}" this way is not supported; use its own API (download, prefetch, blob-download)')
    if msg.action == "reset-stats":  # value: errors only (bool)
        return await perf.reset_stats(msg.value)
    raise ErrBadRequest(f'invalid action "{msg.action}" for PUT /v1/cluster')
