"""Object requests: answered with a 307 to the mountpath that owns the object (HRW).

Serve's HTTP proxy buffers whole bodies (see shared/ref/ray-facts.md), so bytes must not
flow through it: the client re-sends the request to the owner's own data server.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from ais_ray.auth.gate import redirect_location, require_write
from ais_ray.core.etl import check_query as check_etl_query
from ais_ray.core.mpu import check_put as check_mpu_put
from ais_ray.core.blob import parse_blob_chunk, parse_blob_workers
from ais_ray.core.ec import standin
from ais_ray.core.errors import ErrBadRequest, ErrTargetOffline
from ais_ray.core.promote import KIND as ACT_PROMOTE
from ais_ray.core.promote import PromoteArgs
from ais_ray.core import headers as H
from ais_ray.core.names import Bucket, Provider, http_bucket, parse_uname, split_obj_path, validate_obj_name
from ais_ray.core.smap import FLAG_OFFLINE, MountpathInfo, Snode
from ais_ray.serve.state import state
from ais_ray.serve.wire import bucket_from, read_action

router = APIRouter(tags=["objects"])


def _raw_path(req: Request) -> str:
    raw = req.scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(req.url.path)


async def redirect_to_owner(req: Request) -> Response:
    raw = _raw_path(req)
    bucket, obj = split_obj_path(raw)
    bck = bucket_from(req, bucket)
    validate_obj_name(obj)
    origin = ""
    if bck.provider is Provider.HT and req.query_params.get("original_url"):
        ht, origin, _ = http_bucket(req.query_params["original_url"])
        if ht.name != bck.name:
            raise ErrBadRequest(f'original_url {req.query_params["original_url"]} belongs to {ht}, not {bck}')
    claims = getattr(req.state, "claims", None)
    if H.Q_OBJ_TO in req.query_params:  # a copy writes into its destination's bucket
        require_write(claims, parse_uname(req.query_params[H.Q_OBJ_TO])[0])
    mp = await owner_mountpath(bck, obj, req.method, origin=origin)
    location = redirect_location(mp.url, req.method, raw, req.url.query, claims, None, bck)
    return RedirectResponse(location, status_code=307)


async def owner_mountpath(bck: Bucket, obj: str, method: str, *, origin: str = "") -> MountpathInfo:
    """Where an object request is sent: the HRW owner's mountpath in the cached Smap (a remote
    bucket is added on first use). One rule for Serve's handler and the front door."""
    return (await owner_of(bck, obj, method, origin=origin))[1]


async def owner_of(bck: Bucket, obj: str, method: str, *, origin: str = "") -> tuple[Snode, MountpathInfo]:
    """`owner_mountpath` with its target (a read sent from the file is counted there)."""
    props = await state().bucket_props(bck, origin=origin)
    smap, uname = await state().smap(), bck.uname(obj)
    reads = props.ec.enabled and method in ("GET", "HEAD")  # owner offline: a read is rebuilt elsewhere (core/ec.py)
    tsi = standin(smap, uname) if reads else smap.owner(uname)
    if tsi.flags & FLAG_OFFLINE:  # a mirror is local to its target: its copies went down with it
        raise ErrTargetOffline(f'"{bck}/{obj}": its target {tsi.daemon_id} is offline (node lost); '
                               f'not available until it returns')
    return tsi, tsi.mountpath_for(uname)


_DOC = "Redirects (307) to the owning target's data server, which serves the object."


@router.get("/v1/objects/{bucket}/{obj:path}", summary="GET object (Range supported)", description=_DOC)
async def get_object(req: Request, bucket: str, obj: str) -> Response:
    check_etl_query(req.query_params)  # a bad ETL name is a 400 here, before the redirect
    return await redirect_to_owner(req)


@router.put("/v1/objects/{bucket}/{obj:path}", summary="PUT object (raw body)", description=_DOC)
async def put_object(req: Request, bucket: str, obj: str) -> Response:
    check_mpu_put(req.query_params)  # a part / append (uploadId, append_type): checked before the redirect
    to = req.query_params.get(H.Q_OBJ_TO)
    if to is not None:  # copy (the SDK's Object.copy): the destination bucket must exist (or be added, if remote)
        dst, _ = parse_uname(to)
        await state().bucket_props(dst)
    return await redirect_to_owner(req)


@router.head("/v1/objects/{bucket}/{obj:path}", summary="HEAD object: AIS metadata headers", description=_DOC)
async def head_object(req: Request, bucket: str, obj: str) -> Response:
    return await redirect_to_owner(req)


@router.delete("/v1/objects/{bucket}/{obj:path}", summary="DELETE object", description=_DOC)
async def delete_object(req: Request, bucket: str, obj: str) -> Response:
    return await redirect_to_owner(req)


@router.patch("/v1/objects/{bucket}/{obj:path}", summary="Custom metadata (the SDK's `set_custom_props`): merged, or "
              "replaced with `set-new-custom=true`", description=_DOC)
async def patch_object(req: Request, bucket: str, obj: str) -> Response:
    return await redirect_to_owner(req)


@router.post("/v1/objects/{bucket}/{obj:path}", summary="Multipart upload actions: `mpt-upload` → upload id, "
             "`mpt-complete` (?uploadId=)", description=_DOC)
async def object_mpt_action(req: Request, bucket: str, obj: str) -> Response:
    return await redirect_to_owner(req)


@router.post("/v1/objects/{bucket}", summary="Object actions: `blob-download` (name = the object) → job id; "
             "`promote` (name = a file or directory under the promote root) → job id, or nothing when done")
async def object_action(req: Request, bucket: str) -> Response:
    bck = bucket_from(req, bucket)
    msg = await read_action(req)
    if msg.action == ACT_PROMOTE:  # files on the targets' filesystems (core/promote.py)
        args = PromoteArgs.parse(msg.name, msg.value)
        await state().bucket_props(bck)
        return PlainTextResponse(await state().proxy.promote.remote(bck, args))
    if msg.action != "blob-download":
        raise ErrBadRequest(f'invalid action "{msg.action}" for POST {bck}')
    name = validate_obj_name(msg.name)
    value = msg.value if isinstance(msg.value, dict) else {}
    chunk = parse_blob_chunk(value.get("chunk-size") or None)
    workers = parse_blob_workers(value.get("num-workers") or None)
    await state().bucket_props(bck)
    xid = await state().proxy.blob_download.remote(bck, name, chunk, workers, bool(value.get("latest-ver")))
    return PlainTextResponse(xid)
