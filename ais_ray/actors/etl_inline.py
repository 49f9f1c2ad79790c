"""Inline transform: `GET /v1/objects/<b>/<o>?etl_name=X[&etl_args=S][&etl_pipeline=a,b]`.

The mountpath that holds the object (the API's 307 lands here) hands its file path to the ETL's
workers on this node and answers with what the last stage returned (ais-wire-2 §2.5). An ETL
this target does not run ⇒ 404 `etl job X does not exist`; a failed transform ⇒ 422 with the
transform's error (not a 5xx: the SDK would retry it for a minute and a half), kept in the ETL's
inline errors (`GET /v1/etl/<name>`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ais_ray.actors.etl_pool import EtlPools
from ais_ray.core import headers as H
from ais_ray.core.etl import ErrTransform, obj_err
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket

CHUNK = 1 << 20

if TYPE_CHECKING:
    from ais_ray.actors.mountpath import MountpathContext


async def serve(req: web.Request, pools: EtlPools, ctx: MountpathContext, bck: Bucket, name: str,
                open_obj: Callable[[], Awaitable[tuple[Any, ObjAttrs]]], stages: tuple[str, ...]) -> web.StreamResponse:
    f, attrs = await open_obj()  # a remote object not here yet is fetched first (cold GET)
    try:
        out, size = await pools.transform_open(stages, ctx.store.fqn(bck, name), attrs.size, f"{bck.name}/{name}",
                                               req.query.get("etl_args", ""), ctx.store.work_dir)
    except ErrTransform as err:
        await pools.note_error(stages[0], obj_err(f"{bck}/{name}", err))
        raise
    finally:
        f.close()
    ctx.stats.add("etl.inline", size)
    resp = web.StreamResponse(headers={H.OBJ_NAME: name, H.BUCKET_NAME: bck.name,
                                       "Content-Type": "application/octet-stream"})
    resp.content_length = size
    try:  # chunk by chunk: a streaming transform's output is a work file, never all in memory
        await resp.prepare(req)
        while chunk := await asyncio.to_thread(out.read, CHUNK):
            await resp.write(chunk)
    finally:
        out.close()
    await resp.write_eof()
    return resp
