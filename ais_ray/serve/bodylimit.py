"""One bound on the body of every control request (issue 15 item 5), applied before reading it.

Control bodies are small JSON (the largest, a download job's object list, is far below the
bound); object bytes never come here (object routes 307 to the data servers and are not
limited). A body over the bound is refused with 413 from its `Content-Length` alone, or, when
sent chunked, as soon as the bytes received pass the bound: never read whole, never buffered.
"""

from __future__ import annotations

import json
import os
from typing import Any, Awaitable, Callable

from ais_ray.core import params
from ais_ray.core.errors import ErrEntityTooLarge, error_body
from ais_ray.core.sizes import MIB, format_size, parse_size
from ais_ray.serve.errors import NODE

ENV_MAX_BODY = "AIS_RAY_MAX_BODY"  # e.g. "4MiB" (set by `ais-ray up --max-body`)
DEFAULT_MAX_BODY = MIB

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def max_body() -> int:
    """The bound of this process: `$AIS_RAY_MAX_BODY` or 1 MiB."""
    text = os.environ.get(ENV_MAX_BODY, "")
    return parse_size(text, units="iec") if text else DEFAULT_MAX_BODY


def too_large(limit: int) -> ErrEntityTooLarge:
    return ErrEntityTooLarge(f"request body is larger than {format_size(limit)} (the API's bound for control "
                             f"requests, ${ENV_MAX_BODY}); object data goes to PUT /v1/objects/<bucket>/<name>")


class BodyLimit:
    """ASGI middleware: 413 for a control request whose body is over `limit` bytes."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int | None = None) -> None:
        self.app = app
        self.limit = max_body() if limit is None else limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or params.route_of(scope["path"]) == "object":
            return await self.app(scope, receive, send)
        limit = self.limit
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await self._refuse(scope, send, too_large(limit))
        seen = 0

        async def bounded() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise too_large(limit)  # the handler's AisError mapping answers 413
            return msg

        await self.app(scope, bounded, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, err: ErrEntityTooLarge) -> None:
        client = scope.get("client") or ("", 0)
        body = json.dumps(error_body(err, method=scope["method"], url_path=scope["path"], node=NODE,
                                     remote_addr=client[0])).encode()
        await send({"type": "http.response.start", "status": err.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
