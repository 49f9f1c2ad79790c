"""Google Cloud Storage through gcsfs's session and credentials, over the GCS JSON API.

gcsfs brings what is hard to get right: Google credentials (default, service account, anon),
the endpoint (`STORAGE_EMULATOR_HOST` for emulators) and an aiohttp session. Requests are
sent here rather than through `gcsfs._call`: its retry decorator backs off for ~30 s on a
refused connection, and its reads return whole bodies. The object's generation is its version.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from ais_ray.backends.aio import iter_body, send, session_kwargs
from ais_ray.backends.base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    PART_SIZE,
    ListPage,
    RemoteObj,
    check_range,
    check_size,
    parts,
    range_header,
)
from ais_ray.backends.errors import gcp_errors, status_error
from ais_ray.core.errors import ErrBackend
from ais_ray.core.names import Bucket, Provider

# Must be set before gcsfs is imported: with it on (the default), every bucket lookup first asks
# a gRPC control API for the bucket type, which against an emulator hangs 60 s. setdefault: an
# explicit setting (a real zonal bucket) wins.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

_RESUME_INCOMPLETE = 308  # resumable upload: "got it, send more"


def _b64_to_hex(value: str | None) -> str:
    if not value:
        return ""
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return ""


def _timestamp(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _obj(meta: dict[str, Any]) -> RemoteObj:
    """An object resource (JSON API) as a RemoteObj."""
    return RemoteObj(name=meta["name"], size=int(meta.get("size", 0)), etag=str(meta.get("etag", "")),
                     version=str(meta.get("generation", "")), last_modified=_timestamp(meta.get("updated")),
                     md5=_b64_to_hex(meta.get("md5Hash")), crc32c=_b64_to_hex(meta.get("crc32c")))


def _new_fs(kwargs: dict[str, Any]) -> Any:
    import gcsfs

    # skip_instance_cache: fsspec would hand another event loop our instance and its session.
    return gcsfs.GCSFileSystem(asynchronous=True, skip_instance_cache=True, **kwargs)


class GcpBackend:
    """GCS. With no `token`, an emulator (a plain-http `endpoint_url`, or STORAGE_EMULATOR_HOST) gets
    anonymous access: Google's default-credential search would otherwise probe the GCE metadata
    server (169.254.169.254), which is slow or absent off Google Cloud."""

    provider: ClassVar[Provider] = Provider.GCP

    def __init__(self, *, endpoint_url: str | None = None, project: str | None = None, token: Any = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, read_timeout: float = DEFAULT_READ_TIMEOUT,
                 retries: int = DEFAULT_RETRIES, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        emulator_env = os.environ.get("STORAGE_EMULATOR_HOST", "") not in ("", "default")
        emulated = (endpoint_url or "").startswith("http://") or (endpoint_url is None and emulator_env)
        self._fs_kwargs = {"endpoint_url": endpoint_url,
                           "project": project or os.environ.get("GCSFS_DEFAULT_PROJECT", ""),
                           "token": token if token is not None else ("anon" if emulated else None)}
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.max_connections = max_connections
        self.retries = retries
        self._fs: Any = None
        self._lock = asyncio.Lock()

    async def _gcs(self) -> Any:
        if self._fs is not None:
            return self._fs
        async with self._lock:
            if self._fs is None:
                # Importing gcsfs (~0.3 s) and its credential search (files, metadata server): off the loop.
                fs = await asyncio.to_thread(_new_fs, self._fs_kwargs)
                fs.session_kwargs = session_kwargs(connect_timeout=self.connect_timeout,
                                                   read_timeout=self.read_timeout,
                                                   max_connections=self.max_connections)
                await fs._set_session()  # fsspec convention: the `_` coroutine is the async API
                self._fs = fs
        return self._fs

    @property
    def endpoint(self) -> str:
        return self._location if self._fs is not None else str(self._fs_kwargs["endpoint_url"] or "gcs")

    @property
    def _location(self) -> str:
        """`http[s]://host[:port]`, from gcsfs's public `base` (`{location}/storage/v1/`)."""
        return str(self._fs.base).removesuffix("/storage/v1/")

    async def _headers(self, fs: Any, extra: dict[str, str] | None = None) -> dict[str, str]:
        out = dict(extra or {})
        if fs.credentials.credentials is not None:  # a token refresh is blocking HTTP: off the loop
            await asyncio.to_thread(fs.credentials.apply, out)
        return out

    async def _json(self, bck: Bucket, name: str | None, method: str, url: str, *,
                    params: dict[str, str] | None = None, ok_missing: bool = False) -> dict[str, Any]:
        fs = await self._gcs()
        with gcp_errors(bck, name, self.endpoint):
            async with await send(fs.session, method, url, retries=self.retries, params=params,
                                  headers=await self._headers(fs)) as resp:
                if resp.status == 404 and ok_missing:
                    return {}
                if resp.status >= 300:
                    raise status_error(resp.status, bck, name, endpoint=self.endpoint)
                return await resp.json(content_type=None) if resp.status != 204 else {}

    def _url(self, bucket: str, name: str | None = None, *, upload: bool = False) -> str:
        root = f"{self._location}/upload/storage/v1/" if upload else self._fs.base
        url = f"{root}b/{quote(bucket, safe='')}"
        if name is not None:
            url += f"/o/{quote(name, safe='')}"
        return url

    @staticmethod
    def _bck(bucket: str) -> Bucket:
        return Bucket(bucket, Provider.GCP)

    async def head_bucket(self, bucket: str) -> None:
        await self._gcs()
        await self._json(self._bck(bucket), None, "GET", self._url(bucket))

    async def list_buckets(self) -> list[str]:
        fs = await self._gcs()
        names: list[str] = []
        params = {"project": str(self._fs_kwargs["project"] or "_"), "maxResults": "1000"}
        while True:
            out = await self._json(self._bck("all-buckets"), None, "GET", f"{fs.base}b", params=params)
            names += [str(b["name"]) for b in out.get("items", ())]
            if not out.get("nextPageToken"):
                return sorted(names)
            params["pageToken"] = str(out["nextPageToken"])

    async def list_objects(self, bucket: str, prefix: str = "", *, token: str = "",
                           page_size: int = 1000, start_after: str = "") -> ListPage:
        await self._gcs()
        params = {"maxResults": str(page_size)}
        if prefix:
            params["prefix"] = prefix
        if token:
            params["pageToken"] = token
        if start_after:
            params["startOffset"] = start_after  # inclusive
        out = await self._json(self._bck(bucket), None, "GET", self._url(bucket) + "/o", params=params)
        return ListPage([_obj(m) for m in out.get("items", ())], str(out.get("nextPageToken", "")))

    async def head_object(self, bucket: str, name: str) -> RemoteObj:
        await self._gcs()
        return _obj(await self._json(self._bck(bucket), name, "GET", self._url(bucket, name)))

    async def read(self, bucket: str, name: str, rng: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
        rng = check_range(rng)
        if rng is not None and rng[1] == 0:
            return
        fs = await self._gcs()
        bck = self._bck(bucket)
        with gcp_errors(bck, name, self.endpoint):
            headers = await self._headers(fs, {"Range": range_header(rng)} if rng else None)
            async with await send(fs.session, "GET", self._url(bucket, name), retries=self.retries,
                                  params={"alt": "media"}, headers=headers) as resp:
                if resp.status not in (200, 206):
                    raise status_error(resp.status, bck, name, endpoint=self.endpoint)
                skip, limit = 0, None
                if rng is not None and resp.status == 200:  # Range ignored: cut it out ourselves
                    skip, limit = rng
                async for chunk in iter_body(resp, skip=skip, limit=limit):
                    yield chunk

    async def put_object(self, bucket: str, name: str, body: AsyncIterator[bytes] | bytes,
                         size: int | None = None) -> RemoteObj:
        """One media upload up to PART_SIZE; a resumable upload in PART_SIZE pieces beyond."""
        fs = await self._gcs()
        bck = self._bck(bucket)
        with gcp_errors(bck, name, self.endpoint):
            stream = parts(body, PART_SIZE)
            first = await anext(stream)
            second = await anext(stream, None)
            if second is None:
                check_size(f"{bck}/{name}", size, len(first))
                headers = await self._headers(fs, {"Content-Type": "application/octet-stream"})
                async with await send(fs.session, "POST", self._url(bucket, upload=True) + "/o",
                                      retries=self.retries, params={"uploadType": "media", "name": name},
                                      headers=headers, data=first) as resp:
                    if resp.status >= 300:
                        raise status_error(resp.status, bck, name, endpoint=self.endpoint)
                    return _obj(await resp.json(content_type=None))
            return await self._put_resumable(fs, bck, name, size, first, second, stream)

    async def _put_resumable(self, fs: Any, bck: Bucket, name: str, size: int | None, first: bytes,
                             second: bytes, rest: AsyncIterator[bytes]) -> RemoteObj:
        headers = await self._headers(fs, {"X-Upload-Content-Type": "application/octet-stream"})
        async with await send(fs.session, "POST", self._url(bck.name, upload=True) + "/o", retries=self.retries,
                              params={"uploadType": "resumable", "name": name}, headers=headers,
                              json={"name": name}) as resp:
            if resp.status >= 300:
                raise status_error(resp.status, bck, name, endpoint=self.endpoint)
            location = resp.headers["Location"]
        offset, cur = 0, first
        pending: bytes | None = second  # `parts` yields no empty part after a non-empty one
        while True:
            last = pending is None
            if last:
                check_size(f"{bck}/{name}", size, offset + len(cur))
            total = str(offset + len(cur)) if last else "*"
            headers = await self._headers(fs, {"Content-Range": f"bytes {offset}-{offset + len(cur) - 1}/{total}"})
            # No retries: a resumed upload must first ask the server how much it has.
            async with await send(fs.session, "PUT", location, retries=0, headers=headers, data=cur) as resp:
                if last:
                    if resp.status >= 300:
                        raise status_error(resp.status, bck, name, endpoint=self.endpoint)
                    return _obj(await resp.json(content_type=None))
                if resp.status != _RESUME_INCOMPLETE:
                    raise ErrBackend(f'"{bck}/{name}": resumable upload chunk answered {resp.status}')
            assert pending is not None
            offset += len(cur)
            cur, pending = pending, await anext(rest, None)

    async def delete_object(self, bucket: str, name: str) -> None:
        await self._gcs()
        await self._json(self._bck(bucket), name, "DELETE", self._url(bucket, name), ok_missing=True)

    async def aclose(self) -> None:
        fs, self._fs = self._fs, None
        if fs is not None:
            await fs.session.close()
