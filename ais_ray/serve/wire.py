"""Reading request bodies: JSON, bounded in depth, validated by the models of `serve/msgs.py`."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import Bucket, Namespace, Provider, validate_bucket_name
from ais_ray.serve.errors import authorize_request
from ais_ray.serve.msgs import ACTIONS, MAX_DEPTH, ActionMsg, BckMsg, json_depth

M = TypeVar("M", bound=BaseModel)


async def read_json(req: Request) -> Any:
    """The JSON body, also on GET and DELETE (the SDK sends bodies there); None when empty.

    Raises:
        ErrBadRequest: not JSON, or nested deeper than any API body (`msgs.MAX_DEPTH`).
    """
    raw = await req.body()
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except RecursionError:  # the C decoder's own bound, far below what we would accept anyway
        raise ErrBadRequest(f"invalid JSON body: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise ErrBadRequest(f"invalid JSON body: {exc}") from exc
    if json_depth(data) > MAX_DEPTH:
        raise ErrBadRequest(f"invalid JSON body: nested deeper than {MAX_DEPTH} levels")
    try:  # `"\ud800"` is valid JSON but no character: no name, log line or Ray message can hold it
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ErrBadRequest("invalid JSON body: a string holds a lone surrogate (\\ud800-\\udfff), "
                            "not a character") from None
    return data


async def read_body(req: Request, model: type[M]) -> M:
    """The body as `model` (empty body: the model's defaults); 400 on anything else."""
    return parse_model(model, await read_json(req))


async def read_action(req: Request) -> ActionMsg:
    """An `ActionMsg` whose `value` has been validated by its action's model (`msgs.ACTIONS`)
    and replaced by the validated fields (wire names), so handlers see only well-typed values."""
    msg = parse_model(ActionMsg, await read_json(req))
    if msg.action:
        authorize_request(req, msg.action)  # some actions need more than the route (create-bck, admin ones)
    model = ACTIONS.get(msg.action or "list")
    if model is not None:
        if model.model_fields.get("root") is not None:  # a RootModel: the value is not an object
            msg.value = parse_model(model, msg.value, where="value", label=msg.action).model_dump()
        else:
            value = parse_model(model, msg.value, where="value", label=msg.action)
            msg.value = value.model_dump(by_alias=True, exclude_unset=True)
    return msg


def parse_model(model: type[M], data: Any, *, where: str = "", label: str = "") -> M:
    """`data` as `model`; None counts as an empty object. Raises ErrBadRequest naming the field
    (and `label`, e.g. the action, first)."""
    try:
        return model.model_validate({} if data is None and "root" not in model.model_fields else data)
    except ValidationError as exc:
        first = exc.errors()[0]
        prefix = f"{label}: " if label else ""
        if not first["loc"] and first["type"] in ("model_type", "dict_type"):
            raise ErrBadRequest(f"{prefix}invalid {where or 'body'}: expecting a JSON object, "
                                f"got {type(data).__name__}") from None
        loc = ".".join(str(p) for p in (where, *first["loc"]) if p != "" and not _is_type_tag(p)) or "body"
        raise ErrBadRequest(f"{prefix}invalid {model.__name__} field {loc!r}: "
                            f"{first['msg']}") from None


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "constrained-int"})


def _is_type_tag(p: object) -> bool:
    """pydantic puts the union member tried in an error's location (`int`, `function-after[...]`)."""
    return isinstance(p, str) and (p in _TYPE_TAGS or "[" in p or "(" in p)


def bucket_of(b: BckMsg) -> Bucket:
    """A bucket named in a body, validated as every bucket is (`core/names.py`)."""
    ns = Namespace(b.namespace.uuid, b.namespace.name) if b.namespace else Namespace()
    return Bucket(validate_bucket_name(b.name), Provider.parse(b.provider or "ais"), ns)


def bucket_from(req: Request, name: str) -> Bucket:
    provider = Provider.parse(req.query_params.get("provider") or "ais")
    ns = Namespace.parse(req.query_params.get("namespace", ""))
    return Bucket(validate_bucket_name(name), provider, ns)
