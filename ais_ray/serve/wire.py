"""Request bodies of the REST API as the official SDK sends them (pydantic: the edge only)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import Bucket, Namespace, Provider, validate_bucket_name


class ActionMsg(BaseModel):
    """`{"action": A, "name": N, "value": V}` (Go `apc.ActMsg`)."""

    model_config = ConfigDict(extra="ignore")
    action: str = ""
    name: str = ""
    value: Any = None


class LsoMsg(BaseModel):
    """List-objects request (Go `apc.LsoMsg`); `flags` is a decimal string bitmask."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    prefix: str = ""
    pagesize: int = 0
    uuid: str = ""
    props: str = ""
    continuation_token: str = ""
    flags: int = 0
    target: str = ""
    start_after: str = Field(default="", alias="start_after")


async def read_json(req: Request) -> Any:
    """The JSON body, also on GET and DELETE (the SDK sends bodies there); None when empty."""
    raw = await req.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ErrBadRequest(f"invalid JSON body: {exc}") from exc


async def read_action(req: Request) -> ActionMsg:
    body = await read_json(req)
    return parse_model(ActionMsg, body or {})


def parse_model(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ErrBadRequest(f"invalid {model.__name__} field {where!r}: {first['msg']}") from None


def bucket_from(req: Request, name: str) -> Bucket:
    provider = Provider.parse(req.query_params.get("provider") or "ais")
    ns = Namespace.parse(req.query_params.get("namespace", ""))
    return Bucket(validate_bucket_name(name), provider, ns)
