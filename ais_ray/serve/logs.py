"""A node's log through the API (AIStore `ais/htrun.go`, `what=log`; the files: core/nodelog.py).

- `GET /v1/reverse/daemon?what=log` + `Ais-Node-Id: <node>`: that node's log, a target's or the
  proxy's (the SDK's `cluster().get_node_log()`, `get_node_log_archive()`, `get_cluster_logs()`);
- `GET /v1/daemon?what=log`: the proxy's own;
- `severity` i[nfo] (default: every record) or w[arning] / e[rror] (warnings and errors only);
  `offset`: from that byte on (`ais log show --refresh` asks only what is new); `all=true`: a
  TAR.GZ of the node's log files of that severity, the rotated ones too.

The node reads its own files (a target's are on its machine); the bytes come back through Ray.
With auth on, a log needs admin access on either route (core/auth.py::required_access).
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
from fastapi import Request
from fastapi.responses import Response

from ais_ray.core import headers as H
from ais_ray.core.errors import ErrBadRequest, ErrNodeNotFound, ErrTargetOffline
from ais_ray.serve.state import state

WHAT_LOG = "log"
LOG_TIMEOUT = 60.0  # an archive of every rotated file is a few seconds of gzip at most


def _offset(req: Request) -> int:
    raw = req.query_params.get("offset") or "0"
    if not raw.isdigit():  # a negative one too
        raise ErrBadRequest(f'invalid log offset "{raw}" (expecting a byte offset, an integer)')
    return int(raw)


async def node_log(req: Request, node: str) -> Response:
    """The log of `node` (the proxy's when empty): the current file, or with `all` their archive."""
    q = req.query_params
    severity, offset, all_logs = q.get("severity", ""), _offset(req), H.is_true(q.get("all"))
    smap = await state().smap()
    node = node or smap.primary.daemon_id
    handle: Any
    if node == smap.primary.daemon_id:
        handle = state().proxy
    elif node in smap.targets:
        handle = state().target(node)
    else:
        raise ErrNodeNotFound(node)
    try:
        data = await asyncio.wait_for(handle.node_log.remote(severity, offset, all_logs), LOG_TIMEOUT)
    except (asyncio.TimeoutError, ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
        raise ErrTargetOffline(f'node "{node}" is not answering: {type(exc).__name__}') from None
    return Response(content=data, media_type="application/gzip" if all_logs else "text/plain; charset=utf-8")
