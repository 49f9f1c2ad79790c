"""Bucket requests: list buckets, create, destroy, HEAD (props), list objects.

Every request names its action in an `ActionMsg` body, as the SDK's `Bucket.make_request` sends.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ais_ray.auth.gate import require_write
from ais_ray.core import headers as H
from ais_ray.core.bmd import BucketProps, remote_of
from ais_ray.core.errors import ErrBadRequest, ErrUnsupported
from ais_ray.core.copy import PRESENCE_PRESENT, TcbMsg, parse_presence
from ais_ray.core.ec import parse_encode
from ais_ray.core.names import Bucket, Provider, parse_bck_uname, validate_bucket_name
from ais_ray.core.redundancy import check_ec_change, merge_ec, merge_mirror
from ais_ray.core.selection import Selection
from ais_ray.core.smap import Smap
from ais_ray.jobs.archive import ArchiveSpec
from ais_ray.jobs.copy import KIND_BCK, KIND_OBJS, CopySpec
from ais_ray.jobs.etl import KIND_ETL_BCK, etl_stages
from ais_ray.jobs.etl import KINDS as ETL_KINDS
from ais_ray.jobs.prefetch import PrefetchSpec
from ais_ray.serve.listing import list_objects
from ais_ray.serve.state import state
from ais_ray.serve.msgs import BckMsg, LsoMsg
from ais_ray.serve.wire import bucket_from, bucket_of, parse_model, read_action

router = APIRouter(tags=["buckets"])

ACT_LIST = "list"
ACT_CREATE = "create-bck"
ACT_DESTROY = "destroy-bck"
ACT_SET_PROPS = "set-bprops"
ACT_SUMMARY = "summary-bck"
ACT_PREFETCH = "prefetch-listrange"
ACT_EVICT_BCK = "evict-remote-bck"
ACT_EVICT_OBJS = "evict-listrange"
ACT_DELETE_OBJS = "delete-listrange"
ACT_COPY_BCK = "copy-bck"
ACT_COPY_OBJS = "copy-listrange"
ACT_EC_ENCODE = "ec-encode"
ACT_MIRROR = "make-n-copies"
ACT_ARCHIVE = "archive"  # selected objects into one shard (jobs/archive.py)
ACT_MOVE_BCK = "move-bck"  # rename (SDK `Bucket.rename`): destination in `?bck_to=` (actors/proxy_moves.py)


@router.get("/v1/buckets", summary="List buckets (`?provider=`, empty: all)")
@router.get("/v1/buckets/", include_in_schema=False)
async def list_buckets(req: Request) -> Response:
    prov = req.query_params.get("provider", "")
    provider = Provider.parse(prov) if prov else None
    # the current BMD, not this replica's cache: a bucket the front door just added on first use
    # (a cold GET of s3://b) must be listed by the very next request
    await state().refresh(force=True)
    bmd = await state().bmd()
    have = list(bmd.list(provider))
    out = [b.to_wire() for b in have]
    # `presence=0|1` (`ais ls s3 --all`): the cloud's buckets too, those not in the cluster marked so
    if provider is not None and provider.is_remote and provider is not Provider.HT \
            and parse_presence(req.query_params.get(H.Q_PRESENCE)) < PRESENCE_PRESENT:
        known = {b.name for b in have}
        out += [{**Bucket(n, provider).to_wire(), "present": False}
                for n in await state().proxy.remote_buckets.remote(provider) if n not in known]
    return JSONResponse(out)


@router.get("/v1/buckets/{bucket}", summary="List objects (msgpack reply) — action `list`")
async def bucket_get(req: Request, bucket: str) -> Response:
    bck = bucket_from(req, bucket)
    msg = await read_action(req)
    if msg.action in ("", ACT_LIST):
        props = await state().bucket_props(bck)
        return await list_objects(bck, parse_model(LsoMsg, msg.value or {}), props)
    if msg.action == ACT_SUMMARY:
        value = msg.value or {}
        xid = str(value.get("uuid") or "")
        if not xid:
            await state().bucket_props(bck)
            # `cached` (the SDK's default): what the cluster holds, the remote not listed (AIStore `ObjCached`)
            xid = await state().proxy.summary_start.remote(bck, str(value.get("prefix") or ""),
                                                           not H.is_true(str(value.get("cached", False))))
            return PlainTextResponse(xid, status_code=202)
        result = await state().proxy.summary_result.remote(xid)
        return PlainTextResponse(xid, status_code=202) if result is None else JSONResponse([result])
    raise ErrBadRequest(f'invalid action "{msg.action}" for GET {bck}')


@router.post("/v1/buckets/{bucket}", summary="Bucket actions: `create-bck`, `prefetch-listrange`, copies, `move-bck`, `ec-encode`")
async def bucket_post(req: Request, bucket: str) -> Response:
    bck = bucket_from(req, bucket)
    msg = await read_action(req)
    if msg.action == ACT_PREFETCH:
        await state().bucket_props(bck)
        return PlainTextResponse(await state().proxy.prefetch_start.remote(prefetch_spec(bck, msg.value or {})))
    if msg.action == ACT_MOVE_BCK:
        to = req.query_params.get("bck_to")
        if not to:
            raise ErrBadRequest(f"move-bck {bck}: missing the new name (query bck_to=ais/@#/name)")
        xid = await state().proxy.move_start.remote(bck, parse_bck_uname(to).validate())
        await state().refresh(force=True)  # the new bucket
        return PlainTextResponse(xid)
    if msg.action in (ACT_COPY_BCK, ACT_COPY_OBJS):
        spec = copy_spec(req, bck, msg.action, msg.value)
        require_write(getattr(req.state, "claims", None), spec.dst)
        return PlainTextResponse(await state().proxy.copy_start.remote(spec, parse_presence(req.query_params.get("presence"))))
    if msg.action in ETL_KINDS:  # offline transform: a copy with ETL stages (jobs/etl.py)
        stages = etl_stages(msg.value)
        await state().proxy.etl_check.remote(list(stages))
        as_copy = ACT_COPY_BCK if msg.action == KIND_ETL_BCK else ACT_COPY_OBJS
        spec = replace(copy_spec(req, bck, as_copy, msg.value), kind=msg.action, etl=stages)
        require_write(getattr(req.state, "claims", None), spec.dst)
        return PlainTextResponse(await state().proxy.copy_start.remote(spec, parse_presence(req.query_params.get("presence"))))
    if msg.action == ACT_EC_ENCODE:  # value: a JSON string (core/ec.py parse_encode)
        ec = parse_encode(msg.value, msg.name)
        await state().bucket_props(bck)
        return PlainTextResponse(await state().proxy.ec_encode.remote(bck, ec.data_slices, ec.parity_slices, ec.recover))
    if msg.action == ACT_MIRROR:  # `ais start mirror B --copies N`: value N (int)
        n = msg.value
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 32:
            raise ErrBadRequest(f'make-n-copies: invalid number of copies {n!r} (expecting an integer in [1, 32])')
        await state().bucket_props(bck)
        _check_copies(bck, n, _capacity(await state().smap())[1])
        xid = await state().proxy.mirror_start.remote(bck, n)
        await state().refresh(force=True)  # the new mirror props
        return PlainTextResponse(xid)
    if msg.action == ACT_CREATE:
        if bck.is_remote:
            raise ErrUnsupported(f"cannot create {bck}: remote buckets are added on first access")
        props = None
        if msg.value:  # create with props (`ais create B --props "mirror.enabled=true ..."`)
            targets, mps = _capacity(await state().smap())
            props = apply_props(bck, BucketProps(created=time.time_ns()), _props_value(msg.value), targets=targets,
                                mountpaths=mps)
        state().adopt(await state().proxy.create_bucket.remote(bck, props))
        return Response(status_code=200)
    raise ErrBadRequest(f'invalid action "{msg.action}" for POST {bck}')


@router.put("/v1/buckets/{bucket}", summary="Bucket actions: `archive` (selected objects into a shard)")
async def bucket_put(req: Request, bucket: str) -> Response:
    bck = bucket_from(req, bucket)
    msg = await read_action(req)
    if msg.action == ACT_ARCHIVE:  # the SDK's ObjectGroup.archive: value = selection + archname, tobck, ...
        value = msg.value if isinstance(msg.value, dict) else {}
        tobck = value.get("tobck")
        dst = bucket_of(BckMsg.model_validate(tobck)) if isinstance(tobck, dict) and tobck.get("name") else bck
        spec = ArchiveSpec.parse(bck, dst, value)
        require_write(getattr(req.state, "claims", None), dst)
        return PlainTextResponse(await state().proxy.archive_start.remote(spec))
    raise ErrBadRequest(f'invalid action "{msg.action}" for PUT {bck}')


@router.delete("/v1/buckets/{bucket}", summary="Bucket actions: `destroy-bck`")
async def bucket_delete(req: Request, bucket: str) -> Response:
    bck = bucket_from(req, bucket)
    msg = await read_action(req)
    if msg.action == ACT_DESTROY:
        if bck.is_remote:
            raise ErrBadRequest(f"cannot destroy {bck}: remote buckets are evicted (`ais-ray evict {bck}`)")
        state().adopt(await state().proxy.destroy_bucket.remote(bck))
        return Response(status_code=200)
    if msg.action in (ACT_EVICT_BCK, ACT_EVICT_OBJS) and remote_of(bck, await state().bucket_props(bck)) is None:
        # an ais bucket's objects have no other copy: evicting them would delete them (AIStore: 400)
        raise ErrBadRequest(f"cannot evict {bck}: not a remote bucket (evicting drops cached copies of remote "
                            f"objects; delete the objects instead)")
    if msg.action == ACT_EVICT_BCK:
        await state().bucket_props(bck)
        keep = H.is_true(req.query_params.get("keep_bck_md"))
        state().adopt(await state().proxy.evict_bucket.remote(bck, keep))
        return Response(status_code=200)
    if msg.action in (ACT_EVICT_OBJS, ACT_DELETE_OBJS):
        await state().bucket_props(bck)
        sel = Selection.from_msg(msg.value or {}, listing=False)
        return PlainTextResponse(await state().proxy.evict_objects.remote(bck, sel, msg.action == ACT_DELETE_OBJS),
                                 status_code=200)
    raise ErrBadRequest(f'invalid action "{msg.action}" for DELETE {bck}')


@router.patch("/v1/buckets/{bucket}", summary="Bucket actions: `set-bprops` (e.g. `backend_bck`)")
async def bucket_patch(req: Request, bucket: str) -> Response:
    bck = bucket_from(req, bucket)
    msg = await read_action(req)
    if msg.action != ACT_SET_PROPS:
        raise ErrBadRequest(f'invalid action "{msg.action}" for PATCH {bck}')
    props = await state().bucket_props(bck)
    targets, mps = _capacity(await state().smap())
    new = apply_props(bck, props, _props_value(msg.value), targets=targets, mountpaths=mps,
                      force=H.is_true(req.query_params.get("frc")))
    bmd, xid = await state().proxy.set_bucket_props.remote(bck, new)
    state().adopt(bmd)
    return PlainTextResponse(xid, status_code=200)


def copy_spec(req: Request, src: Bucket, action: str, value: Any) -> CopySpec:
    """`copy-bck` (destination in `?bck_to=`) or `copy-listrange` (in the value's `tobck`), as the SDK sends them."""
    msg = TcbMsg.from_wire(value)
    if action == ACT_COPY_BCK:
        to = req.query_params.get("bck_to")
        if not to:
            raise ErrBadRequest(f"copy-bck {src}: missing destination (query bck_to=provider/@#/name)")
        return CopySpec(src, parse_bck_uname(to), msg, KIND_BCK)
    tobck = value.get("tobck") if isinstance(value, dict) else None
    if not isinstance(tobck, dict):
        raise ErrBadRequest(f'copy-listrange {src}: missing destination ("tobck")')
    dst = bucket_of(BckMsg.model_validate(tobck))
    sel = Selection.from_msg(value, listing=True)
    if sel.is_listing:  # a prefix, `*` or nothing: the source's own listing (cloud: every remote object)
        sel = Selection(prefix=sel.prefix.rstrip("*") or msg.prefix)
    return CopySpec(src, dst, msg, KIND_OBJS, sel)


def _props_value(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ErrBadRequest("bucket props: expecting a JSON object, e.g. {\"mirror\": {\"enabled\": true, \"copies\": 2}}")
    return value


def _capacity(smap: Smap) -> tuple[int, int]:
    """How many targets take objects now, and the fewest mountpaths one of them has."""
    active = smap.active_targets()
    return len(active), min((len(smap.targets[t].mountpaths) for t in active), default=0)


def _check_copies(bck: Bucket, copies: int, mountpaths: int) -> None:
    """An N-way mirror keeps its copies on N distinct mountpaths of each target (AIStore's check)."""
    if copies > 1 and copies > mountpaths:
        raise ErrBadRequest(f"number of mountpaths {mountpaths} is insufficient to configure {bck} as a {copies}-way "
                            f"mirror")


def apply_props(bck: Bucket, props: BucketProps, value: dict[str, Any], *, targets: int, mountpaths: int = 0,
                force: bool = False) -> BucketProps:
    """The props after a `set-bprops` (or a create with props); only what ais-ray implements may change.

    `targets`: how many targets take objects now (EC needs D+P+1); `mountpaths`: the fewest one of
    them has (a mirror's copies); `force`: the request's `?force`.
    """
    changes: dict[str, Any] = {}
    for key, v in value.items():
        if key == "backend_bck":
            if not isinstance(v, dict):
                raise ErrBadRequest("backend_bck: expecting {\"name\": ..., \"provider\": ...}")
            name, prov = str(v.get("name") or ""), str(v.get("provider") or "")
            if not name:
                changes["backend_bck"] = None
                continue
            backend = Bucket(validate_bucket_name(name), Provider.parse(prov))
            if backend.provider is Provider.HT:
                raise ErrBadRequest(f"backend_bck: {backend} cannot be a backend (an HTTP bucket is made by a GET)")
            if bck.is_remote or not backend.is_remote:
                raise ErrBadRequest(f"backend_bck: {bck} cannot have {backend} as its backend (an ais bucket over a remote one)")
            changes["backend_bck"] = backend
        elif key == "versioning" and isinstance(v, dict) and "enabled" in v:
            changes["versioning"] = bool(v["enabled"])  # a boolean: the body's model checked it (serve/msgs.py)
        elif key == "mirror":
            changes["mirror"] = merge_mirror(props.mirror, v)
        elif key == "ec":
            changes["ec"] = merge_ec(props.ec, v)
        else:
            raise ErrBadRequest(f'bucket property "{key}" cannot be set here (supported: backend_bck, versioning.enabled, mirror.*, ec.*)')
    new = replace(props, **changes)
    new.mirror.validate()
    if new.mirror.enabled and "mirror" in changes and mountpaths:
        _check_copies(bck, new.mirror.copies, mountpaths)
    check_ec_change(props.ec, new.ec, force=force)
    new.ec.validate(targets)
    return new


@router.head("/v1/buckets/{bucket}", summary="Bucket properties (`Ais-Bucket-Props`); with `presence`: summary")
async def bucket_head(req: Request, bucket: str) -> Response:
    return await _bucket_head(req, bucket, "")


@router.head("/v1/buckets/{bucket}/{prefix:path}", summary="The SDK's `bucket.info(prefix=...)`: a summary of the "
             "objects under the prefix")
async def bucket_head_prefix(req: Request, bucket: str, prefix: str) -> Response:
    return await _bucket_head(req, bucket, prefix)


async def _bucket_head(req: Request, bucket: str, prefix: str) -> Response:
    bck = bucket_from(req, bucket)
    # the props as the proxy has them now, as AIStore's proxy answers: a change made through
    # another replica, or by a job (`ec-encode` enables EC when it starts), shows at once
    await state().refresh(force=True)
    props = await state().bucket_props(bck)
    headers = {H.BUCKET_PROPS: json.dumps(props.to_wire(bck))}
    parse_presence(req.query_params.get("presence"))  # a bad value is a 400, not a summary started
    if "presence" not in req.query_params and "uuid" not in req.query_params:
        return Response(status_code=200, headers=headers)
    xid = req.query_params.get("uuid", "")
    if not xid:  # SDK `bucket.info()`: start a summary, then poll with &uuid=
        with_remote = req.query_params.get("bsumm_remote", "").lower() == "true"
        xid = await state().proxy.summary_start.remote(bck, prefix, with_remote)
        return Response(status_code=202, headers={**headers, H.XACTION_ID: xid})
    result = await state().proxy.summary_result.remote(xid)
    if result is None:
        return Response(status_code=202, headers={**headers, H.XACTION_ID: xid})
    return Response(status_code=200, headers={**headers, H.BUCKET_SUMM: json.dumps(result)})


def prefetch_spec(bck: Bucket, value: dict[str, Any]) -> PrefetchSpec:
    """Go `apc.PrefetchMsg`: a selection (`objnames` or `template`; neither: the whole bucket) and options."""
    sel = Selection.from_msg(value)  # validated now: a 400, not a failed job
    threshold = value.get("blob-threshold") or 0
    workers = value.get("num-workers") or 0
    if not isinstance(threshold, int) or threshold < 0:
        raise ErrBadRequest(f'invalid "blob-threshold" {threshold!r}: expecting a non-negative number of bytes')
    if not isinstance(workers, int) or workers < 0:
        raise ErrBadRequest(f'invalid "num-workers" {workers!r}: expecting a non-negative integer')
    return PrefetchSpec(bck, sel, bool(value.get("latest-ver")), bool(value.get("coer")), threshold, workers)
