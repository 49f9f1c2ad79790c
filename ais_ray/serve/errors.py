"""One place where errors become HTTP answers (AIStore's JSON error body, `cmn.ErrHTTP`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from ray.exceptions import RayError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ais_ray.auth.gate import authorize, cluster_secret
from ais_ray.core import headers as H
from ais_ray.core import params
from ais_ray.core.errors import AisError, ErrBadRequest, ErrInvalidName, ErrNotFound, error_body
from ais_ray.core.names import Bucket, Namespace, Provider, validate_bucket_name

log = logging.getLogger(__name__)
NODE = "p[p1]"


def unwrap(exc: BaseException) -> BaseException:
    """The domain error inside a Ray task error (RayTaskError keeps it as `cause`) or inside the
    exception group of a middleware's task group (a body bound hit while streaming)."""
    group = getattr(exc, "exceptions", None)  # (Base)ExceptionGroup, Python 3.11+ and anyio's backport
    while isinstance(group, tuple) and len(group) == 1 and isinstance(group[0], BaseException):
        exc = group[0]
        group = getattr(exc, "exceptions", None)
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def to_response(req: Request, err: AisError) -> Response:
    if req.method == "HEAD":  # no body: the type travels in a header
        return Response(status_code=err.status, headers={"Content-Type": "application/json", H.ERROR_CODE: type(err).__name__})
    body = error_body(err, method=req.method, url_path=req.url.path, node=NODE,
                      remote_addr=req.client.host if req.client else "")
    return JSONResponse(body, status_code=err.status)


def path_bucket(req: Request) -> Bucket | None:
    """The bucket a `/v1/buckets/<b>` or `/v1/objects/<b>/...` path names (None: none, or invalid:
    the handler answers 400 for it)."""
    parts = req.url.path.split("/")
    if len(parts) < 4 or parts[2] not in ("buckets", "objects") or not parts[3]:
        return None
    try:
        return Bucket(validate_bucket_name(parts[3]), Provider.parse(req.query_params.get("provider") or "ais"),
                      Namespace.parse(req.query_params.get("namespace", "")))
    except AisError:
        return None


def authorize_request(req: Request, action: str = "") -> None:
    """The token check of an API request (`action`: its body's, once read); claims in `req.state`."""
    if cluster_secret() is None or not req.url.path.startswith("/v1/"):
        return
    req.state.claims = authorize(req.method, req.url.path, action, path_bucket(req), req.headers.get("Authorization"),
                                 None, what=req.query_params.get(H.Q_WHAT, ""))


def install(app: FastAPI) -> None:
    """Map AisError (also inside a RayTaskError) by its status; anything else is a logged 500."""

    async def handle(req: Request, exc: Exception) -> Response:
        inner = unwrap(exc)
        if isinstance(inner, AisError):
            return to_response(req, inner)
        log.error("%s %s failed", req.method, req.url.path, exc_info=inner)
        return to_response(req, AisError(f"{type(inner).__name__}: {inner}"))

    async def no_route(req: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        path = req.url.path
        rest = path[len("/v1/buckets/"):] if path.startswith("/v1/buckets/") else ""
        if rest and (status == 404 or "/" in rest):  # e.g. "a/b" as a bucket name (only a HEAD takes a prefix there)
            err: AisError = ErrInvalidName(f'bucket name "{path[len("/v1/buckets/"):]}" is invalid')
        elif status == 405:
            err = ErrBadRequest(f"method {req.method} is not supported on {path}")
        else:
            err = ErrNotFound(f'invalid URL path "{path}"') if status == 404 else ErrBadRequest(str(getattr(exc, "detail", exc)))
        return to_response(req, err)

    app.add_exception_handler(AisError, handle)
    app.add_exception_handler(RayError, handle)
    app.add_exception_handler(StarletteHTTPException, no_route)

    @app.middleware("http")
    async def _last_resort(req: Request, call_next: Any) -> Response:
        try:
            params.check(req.method, req.url.path, req.query_params.multi_items())  # core/params.py
            authorize_request(req)  # auth/gate.py: a no-op unless `ais-ray up --auth`
            return await call_next(req)
        except Exception as exc:
            return await handle(req, exc)
