"""Node and cluster statistics through the API (AIStore `stats/api_wire.go`, `ais/prxclu.go`).

- `GET /v1/reverse/daemon?what=node_status` + `Ais-Node-Id: <tid>`: that target's node_status
  (the SDK's `cluster().get_performance()` sends one per target);
- `GET /v1/cluster?what=node_stats|sysinfo|mountpaths` (dispatched here from serve/cluster.py);
- `PUT /v1/cluster` `{"action": "reset-stats", "value": errors_only}`;
- `GET /metrics`: the proxy's own metrics (`ais_proxy_*`); each target serves its own on its URL.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import ray
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ais_ray.core.errors import ErrBadRequest, ErrNodeNotFound
from ais_ray.core.smap import FLAG_OFFLINE, Smap
from ais_ray.serve.state import state
from ais_ray.stats.prom import CONTENT_TYPE, Gauge, render
from ais_ray.stats.status import NODE_STATUS_WHAT, sys_info

router = APIRouter(tags=["stats"])
NODE_ID = "Ais-Node-Id"
CLUSTER_WHAT = ("node_stats", "node_status", "sysinfo")  # `mountpaths`: serve/cluster.py
STATS_TIMEOUT = 10.0
_started = time.monotonic_ns()  # this API replica's start


async def _status_of(tid: str) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(state().target(tid).node_status.remote(), STATS_TIMEOUT)
    except (asyncio.TimeoutError, ray.exceptions.RayError) as exc:
        return {"snode": {"daemon_id": tid}, "status": "offline", "error": repr(exc), "tracker": {}}


def _check_target(smap: Smap, tid: str) -> None:
    if not tid:
        raise ErrBadRequest(f'missing "{NODE_ID}" header (the target to ask)')
    if tid not in smap.targets:
        raise ErrNodeNotFound(tid)


async def reverse_daemon(req: Request) -> Response:
    """One target's `?what=node_status|node_stats` (the route: serve/mountpaths.py)."""
    what = req.query_params.get("what", "node_status")
    if what not in NODE_STATUS_WHAT:
        raise ErrBadRequest(f'invalid "what" query for /v1/reverse/daemon: "{what}" '
                            f'(expecting {", ".join(NODE_STATUS_WHAT)}, mountpaths or log)')
    tid = req.headers.get(NODE_ID, "")
    _check_target(await state().smap(), tid)
    return JSONResponse(await state().target(tid).node_status.remote())


async def cluster_what(what: str) -> Response:
    """`GET /v1/cluster?what=node_stats|sysinfo`."""
    smap = await state().smap()
    tids = sorted(smap.targets)
    statuses = dict(zip(tids, await asyncio.gather(*(_status_of(t) for t in tids))))
    if what == "sysinfo":
        return JSONResponse({"proxy": {"primary": {**sys_info(), "pid": os.getpid()}},
                             "target": {tid: s.get("sys_info", {}) for tid, s in statuses.items()}})
    return JSONResponse(statuses)


async def reset_stats(value: Any) -> Response:
    """`reset-stats`: zero every target's counters (`value` true: only the errors)."""
    smap = await state().smap()
    errors_only = value is True or str(value).lower() == "true"
    await asyncio.gather(*(state().target(t).reset_stats.remote(errors_only) for t in smap.targets))
    return Response(status_code=200)


@router.get("/metrics", summary="The proxy's metrics, Prometheus text format (targets serve theirs on their URLs)")
async def metrics() -> Response:
    smap = await state().smap()
    offline = sum(1 for t in smap.targets.values() if t.flags & FLAG_OFFLINE)
    gauges = {"uptime": Gauge("time since this API replica started, ns", values={"": time.monotonic_ns() - _started}),
              "smap_version": Gauge("cluster map version", values={"": smap.version}),
              "targets": Gauge("targets in the cluster map", values={"": len(smap.targets)}),
              "targets_offline": Gauge("targets not answering keepalives", values={"": offline})}
    return Response(render("proxy", "primary", {}, gauges), media_type=CONTENT_TYPE)
