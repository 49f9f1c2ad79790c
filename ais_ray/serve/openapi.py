"""`/openapi.json` as the API really is: its query parameters from `core/params.py` and its
bodies from `serve/msgs.py`, so that clients and fuzzers (schemathesis, `make fuzz`) see what
each route takes. The handlers read bodies themselves (bounded, typed: `serve/wire.py`), so
FastAPI alone would declare none of this.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from ais_ray.core import params
from ais_ray.core.names import Provider
from ais_ray.serve.msgs import ACTIONS, BODIES, ROUTE_ACTIONS

REF = "#/components/schemas/{model}"
# Parameters whose values are a closed set: declared as such so a fuzzer gets past the first check.
ENUMS: dict[str, list[str]] = {
    "provider": [p.value for p in Provider],
    "what": ["smap", "bmd", "stats", "config", "cluster_config", "status", "qryxstats", "status_all", "running_all"],
}


class AisErrorBody(BaseModel):
    """AIStore's JSON error body (Go `cmn.ErrHTTP`): every 4xx and 5xx the API answers."""

    message: str
    method: str
    url_path: str
    remote_addr: str = ""
    caller: str = ""
    node: str = ""
    status: int
    tcode: str = ""


def _schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    """`model`'s JSON schema (as validated: aliases are the wire names); its sub-models go to `defs`."""
    s = model.model_json_schema(ref_template=REF, mode="validation")
    defs.update(s.pop("$defs", {}))
    defs[model.__name__] = s
    return {"$ref": REF.format(model=model.__name__)}


def _action_body(actions: tuple[str, ...], defs: dict[str, Any]) -> dict[str, Any]:
    """An `ActionMsg` whose `action` is one of `actions`, each with its own `value` model."""
    variants = [{
        "type": "object", "title": f"ActionMsg[{a}]", "required": ["action"],
        "properties": {"action": {"type": "string", "const": a}, "name": {"type": "string"},
                       "value": _schema(ACTIONS[a], defs)},
    } for a in actions]
    return {"oneOf": variants} if len(variants) > 1 else variants[0]


def _query(path: str, method: str) -> list[dict[str, Any]]:
    accepted = params.accepted(params.route_of(path), method)
    return [{"name": name, "in": "query", "required": False,
             "schema": {"type": "string", **({"enum": ENUMS[name]} if name in ENUMS else {})}}
            for name in sorted(accepted or ())]


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    defs: dict[str, Any] = {}
    error = _schema(AisErrorBody, defs)
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            m = method.upper()
            op["parameters"] = [p for p in op.get("parameters", []) if p.get("in") != "query"] + _query(path, m)
            if (path, m) in ROUTE_ACTIONS:
                body: dict[str, Any] | None = _action_body(ROUTE_ACTIONS[(path, m)], defs)
            elif (path, m) in BODIES:
                body = _schema(BODIES[(path, m)], defs)
            else:
                body = None
            if body is not None:
                op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own validation never runs here: bodies are ours
            for status, what in (("400", "Bad request (AIStore error body)"), ("401", "No valid token (auth on)"),
                                 ("403", "Token does not allow this"), ("404", "No such bucket, object or job"),
                                 ("413", "Control body over the bound")):
                responses.setdefault(status, {"description": what, "content": {"application/json": {"schema": error}}})
    doc.setdefault("components", {})["schemas"] = {**defs}
    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    doc["security"] = [{"bearer": []}, {}]  # a bearer token when `ais-ray up --auth`, nothing otherwise
    return doc


def install(app: FastAPI) -> None:
    """Serve the document above at `/openapi.json` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
