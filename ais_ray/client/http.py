"""The request layer of the ais-ray client: one session, the URL scheme, AIS JSON errors as typed exceptions."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from multidict import CIMultiDict

from ais_ray.core import headers as H
from ais_ray.core.errors import error_from_status
from ais_ray.core.names import Bucket

CHUNK = 1 << 20


class Http:
    """One aiohttp session against one endpoint; every resource API sends through `request`."""

    def __init__(self, endpoint: str, *, timeout: float = 600.0, token: str | None = None,
                 middlewares: tuple[Any, ...] = ()) -> None:
        """`middlewares`: aiohttp client middlewares of the session (a node's own token: `auth/gate.py`)."""
        self.endpoint = endpoint.rstrip("/")
        self._middlewares = middlewares
        # sent on every request, data servers included (a 307 from the API carries its own grant)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Any:
        self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False, headers=self._headers,
                                              middlewares=self._middlewares)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with AisClient(...)`"
        return self._session

    def url(self, path: str) -> str:
        return f"{self.endpoint}/v1/{path.lstrip('/')}"

    @staticmethod
    def bck_params(bck: Bucket, **extra: Any) -> dict[str, str]:
        params = {"provider": bck.provider.value, **{k: str(v) for k, v in extra.items() if v is not None}}
        if not bck.ns.is_global:
            params["namespace"] = bck.ns.uname
        return params

    _bck_params = bck_params  # the old name: code from branches written before the split still runs

    async def request(self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
        data = json.dumps(json_body) if json_body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.request(method, self.url(path), data=data, params=params, headers=hdrs,
                                        allow_redirects=True) as r:
            body = await r.read()
            await raise_for(r, body)
            return r.status, CIMultiDict(r.headers), body


async def raise_for(r: aiohttp.ClientResponse, body: bytes, *, what: str = "") -> None:
    """Raise the typed error an AIS JSON error body describes (HEAD has no body: use `what`)."""
    if r.status < 400:
        return
    tcode = r.headers.get(H.ERROR_CODE, "")
    try:
        doc = json.loads(body)
        message, tcode = doc["message"], str(doc.get("tcode") or tcode)
    except (ValueError, KeyError, TypeError):
        message = body.decode(errors="replace").strip() or (f'"{what}": HTTP {r.status} {r.reason}' if what else f"HTTP {r.status} {r.reason}")
    if r.status == 404 and not body and what:
        message = f'"{what}" does not exist'
    raise error_from_status(r.status, message, tcode)
