"""A small async Python client of the ais-ray REST API (used by the CLI, handy in scripts).

For everything the official `aistore` SDK covers, that SDK works against ais-ray too;
this client adds what it lacks (the downloader) and streams files both ways with progress.

    async with AisClient("http://127.0.0.1:8080") as c:
        await c.create_bucket(Bucket("photos"))
        await c.put_file(Bucket("photos"), "a/1.jpg", "./1.jpg")
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgpack
from multidict import CIMultiDict

from ais_ray.client.download import DownloadApi
from ais_ray.client.http import CHUNK, Http, raise_for
from ais_ray.client.placement import Placement
from ais_ray.core.errors import ErrBadRequest, ErrBckNotFound, ErrNotFound
from ais_ray.core.names import Bucket

Progress = Callable[[int], None]
T = TypeVar("T")


class AisClient(Http):
    def __init__(self, endpoint: str, *, timeout: float = 600.0, direct: bool = True) -> None:
        """`direct`: compute object placement client-side from the cached cluster map (as the SDK's
        `direct=True` does) and talk to the owning mountpath without the API's 307 hop."""
        super().__init__(endpoint, timeout=timeout)
        self.direct = direct
        self._placement = Placement()

    async def __aenter__(self) -> AisClient:
        await super().__aenter__()
        return self

    # ---- cluster ---------------------------------------------------------------------------
    async def smap(self) -> dict[str, Any]:
        return json.loads((await self.request("GET", "daemon", params={"what": "smap"}))[2])

    async def cluster_stats(self) -> dict[str, Any]:
        return json.loads((await self.request("GET", "daemon", params={"what": "stats"}))[2])

    # ---- buckets ---------------------------------------------------------------------------
    async def list_buckets(self, provider: str = "") -> list[dict[str, Any]]:
        body = {"action": "list", "name": "", "value": None}
        return json.loads((await self.request("GET", "buckets", json_body=body, params={"provider": provider}))[2])

    async def create_bucket(self, bck: Bucket) -> None:
        await self.request("POST", f"buckets/{bck.name}", json_body={"action": "create-bck"}, params=self.bck_params(bck))
        self._placement.invalidate()

    async def destroy_bucket(self, bck: Bucket) -> None:
        await self.request("DELETE", f"buckets/{bck.name}", json_body={"action": "destroy-bck"}, params=self.bck_params(bck))
        self._placement.invalidate()

    async def bucket_props(self, bck: Bucket) -> dict[str, Any]:
        try:
            _, hdrs, _ = await self.request("HEAD", f"buckets/{bck.name}", params=self.bck_params(bck))
        except ErrNotFound:  # a HEAD reply has no body to say what was missing
            raise ErrBckNotFound(bck) from None
        return json.loads(hdrs.get("Ais-Bucket-Props", "{}"))

    async def list_objects(self, bck: Bucket, *, prefix: str = "", props: str = "name,size",
                           page_size: int = 0, flags: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Every entry (`n`, `s`, ...), page by page, as the SDK's `list_objects_iter` does."""
        token, uuid = "", ""
        while True:
            value = {"prefix": prefix, "pagesize": page_size, "uuid": uuid, "props": props,
                     "continuation_token": token, "flags": str(flags)}
            _, _, raw = await self.request("GET", f"buckets/{bck.name}", json_body={"action": "list", "value": value},
                                           params=self.bck_params(bck), headers={"Accept": "application/msgpack"})
            page = msgpack.unpackb(raw, raw=False)
            for e in page.get("Entries") or ():
                yield e
            token, uuid = page.get("ContinuationToken", ""), page.get("UUID", "")
            if not token:
                return

    async def evict_bucket(self, bck: Bucket, *, keep_md: bool = False) -> None:
        await self.request("DELETE", f"buckets/{bck.name}", json_body={"action": "evict-remote-bck"},
                           params=self.bck_params(bck, keep_bck_md=str(keep_md).lower()))

    async def evict_objects(self, bck: Bucket, names: list[str]) -> None:
        await self.request("DELETE", f"buckets/{bck.name}", json_body={"action": "evict-listrange", "value": {"objnames": names}},
                           params=self.bck_params(bck))

    async def bucket_summary(self, bck: Bucket, *, prefix: str = "", interval: float = 0.3) -> dict[str, Any]:
        """Objects and bytes, present and remote (the SDK's `summary` flow: start, then poll)."""
        value: dict[str, Any] = {"prefix": prefix, "uuid": ""}
        while True:
            status, _, raw = await self.request("GET", f"buckets/{bck.name}", json_body={"action": "summary-bck", "value": value},
                                                params=self.bck_params(bck))
            if status == 200:
                return dict(json.loads(raw)[0])
            value["uuid"] = raw.decode().strip('"')
            await asyncio.sleep(interval)

    # ---- jobs (xactions) -------------------------------------------------------------------------
    async def xact_query(self, *, xid: str = "", kind: str = "", only_running: bool = False) -> dict[str, Any]:
        """Per-target snapshots `{tid: [snap]}` (an empty dict when none match)."""
        body = {"ID": xid, "Kind": kind, "show_active": only_running}
        try:
            return dict(json.loads((await self.request("GET", "cluster", json_body=body, params={"what": "qryxstats"}))[2]))
        except ErrNotFound:
            if xid:
                raise
            return {}

    async def xact_status(self, xid: str) -> dict[str, Any]:
        body = {"ID": xid, "Kind": ""}
        return dict(json.loads((await self.request("GET", "cluster", json_body=body, params={"what": "status"}))[2]))

    async def xact_abort(self, *, xid: str = "", kind: str = "") -> None:
        await self.request("PUT", "cluster", json_body={"action": "stop", "value": {"ID": xid, "Kind": kind}})

    async def blob_download(self, bck: Bucket, name: str, *, chunk_size: int | str | None = None,
                            num_workers: int | None = None, latest: bool = False) -> str:
        """Start a `blob-download` job for one remote object; returns the job id."""
        value: dict[str, Any] = {"latest-ver": latest}
        if chunk_size:
            value["chunk-size"] = chunk_size
        if num_workers:
            value["num-workers"] = num_workers
        _, _, raw = await self.request("POST", f"objects/{bck.name}", params=self.bck_params(bck),
                                       json_body={"action": "blob-download", "name": name, "value": value})
        return raw.decode().strip('"')

    async def copy_bucket(self, src: Bucket, dst: Bucket, value: dict[str, Any], *, presence: int | None = None) -> str:
        """`copy-bck` (AIStore x-tcb); `value` is a TCBMsg. Returns the job id."""
        params = self.bck_params(src, bck_to=dst.uname_prefix, presence=presence)
        _, _, raw = await self.request("POST", f"buckets/{src.name}", json_body={"action": "copy-bck", "value": value},
                                       params=params)
        return raw.decode().strip('"')

    async def copy_objects(self, src: Bucket, dst: Bucket, value: dict[str, Any]) -> str:
        """`copy-listrange` (x-tco): `value` has `objnames` or `template` and TCBMsg keys. Returns the job id."""
        body = {"action": "copy-listrange", "value": {**value, "tobck": dst.to_wire()}}
        _, _, raw = await self.request("POST", f"buckets/{src.name}", json_body=body, params=self.bck_params(src))
        return raw.decode().strip('"')

    async def prefetch(self, bck: Bucket, value: dict[str, Any]) -> str:
        _, _, raw = await self.request("POST", f"buckets/{bck.name}", json_body={"action": "prefetch-listrange", "value": value},
                                       params=self.bck_params(bck))
        return raw.decode().strip('"')

    @property
    def download(self) -> DownloadApi:
        return DownloadApi(self)

    @property
    def placement(self) -> Placement:
        return self._placement

    async def set_bucket_props(self, bck: Bucket, props: dict[str, Any]) -> None:
        await self.request("PATCH", f"buckets/{bck.name}", json_body={"action": "set-bprops", "value": props},
                           params=self.bck_params(bck))

    # ---- objects ---------------------------------------------------------------------------
    def _obj_path(self, bck: Bucket, name: str) -> str:
        return f"objects/{bck.name}/{quote(name)}"

    async def _obj_url(self, bck: Bucket, name: str) -> str:
        """The owning mountpath's URL when the cached map knows it (no API hop), else the API's."""
        if self.direct:
            url = await self._placement.url(self, bck, name)
            if url is not None:
                return url
        return self.url(self._obj_path(bck, name))

    async def _retry_via_api(self, op: Callable[[str], Awaitable[T]], bck: Bucket, name: str) -> T:
        """Run `op(url)` on the direct URL; if the map was stale (node moved, bucket gone), once via the API."""
        url = await self._obj_url(bck, name)
        if url.startswith(self.endpoint):
            return await op(url)
        try:
            return await op(url)
        except (aiohttp.ClientConnectorError, ErrBckNotFound):
            self._placement.invalidate()
            return await op(self.url(self._obj_path(bck, name)))

    async def _owner_url(self, bck: Bucket, name: str, params: dict[str, str]) -> str:
        """Ask the API where the object lives (the 307), sending no body: step one of a PUT."""
        async with self.session.request("PUT", self.url(self._obj_path(bck, name)), params=params, data=b"",
                                        allow_redirects=False) as r:
            body = await r.read()
            if r.status in (301, 302, 307, 308):
                return r.headers["Location"]
            await raise_for(r, body)
            raise ErrBadRequest(f"expected a redirect for PUT {bck}/{name}, got HTTP {r.status}")

    async def _put(self, bck: Bucket, name: str, body: Callable[[], Any], headers: dict[str, str] | None = None) -> None:
        async def put(url: str) -> None:
            if url.startswith(self.endpoint):
                url = await self._owner_url(bck, name, self.bck_params(bck))
            async with self.session.put(url, params=None if "?" in url else self.bck_params(bck), data=body(),
                                        headers=headers) as r:
                await raise_for(r, await r.read())

        await self._retry_via_api(put, bck, name)

    async def put_file(self, bck: Bucket, name: str, path: str, *, progress: Progress | None = None) -> None:
        size = os.path.getsize(path)

        async def body() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while chunk := await asyncio.to_thread(f.read, CHUNK):
                    yield chunk
                    if progress:
                        progress(len(chunk))

        await self._put(bck, name, body, {"Content-Length": str(size)})

    async def copy_object(self, bck: Bucket, name: str, dst: Bucket, dst_name: str, *, latest: bool = False,
                          sync: bool = False) -> None:
        """Copy one object (AIStore `PUT ?object_to=<uname>`); the cluster moves the bytes."""
        params = self.bck_params(bck, object_to=dst.uname(dst_name), **{"latest-ver": str(latest).lower(),
                                                                           "synchronize": str(sync).lower()})
        await self.request("PUT", self._obj_path(bck, name), params=params)

    async def put_bytes(self, bck: Bucket, name: str, data: bytes) -> None:
        await self._put(bck, name, lambda: data)

    async def get_to_file(self, bck: Bucket, name: str, dest: str, *, progress: Progress | None = None,
                          headers: dict[str, str] | None = None, params: dict[str, str] | None = None) -> CIMultiDict[str]:
        """Stream an object into `dest` (via a temp file + rename: no partial file on failure)."""
        tmp = f"{dest}.ais-ray-part"

        async def get(url: str) -> CIMultiDict[str]:
            async with self.session.get(url, params={**self.bck_params(bck), **(params or {})}, headers=headers) as r:
                if r.status >= 400:
                    await raise_for(r, await r.read())
                with open(tmp, "wb") as f:
                    async for chunk in r.content.iter_chunked(CHUNK):
                        await asyncio.to_thread(f.write, chunk)
                        if progress:
                            progress(len(chunk))
                return CIMultiDict(r.headers)

        try:
            hdrs = await self._via(get, bck, name, params)
            os.replace(tmp, dest)
            return hdrs
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    async def _via(self, op: Callable[[str], Awaitable[T]], bck: Bucket, name: str, params: dict[str, str] | None) -> T:
        """HTTP buckets are made on first use by the API (`original_url`): those always go through it."""
        if params and "original_url" in params:
            return await op(self.url(self._obj_path(bck, name)))
        return await self._retry_via_api(op, bck, name)

    async def get_to_stream(self, bck: Bucket, name: str, out: Any, *, params: dict[str, str] | None = None) -> None:
        """Stream an object to a binary file object (e.g. stdout)."""
        async def get(url: str) -> None:
            async with self.session.get(url, params={**self.bck_params(bck), **(params or {})}) as r:
                if r.status >= 400:
                    await raise_for(r, await r.read())
                async for chunk in r.content.iter_chunked(CHUNK):
                    out.write(chunk)
            out.flush()

        await self._via(get, bck, name, params)

    async def get_bytes(self, bck: Bucket, name: str, *, byte_range: str = "") -> bytes:
        headers = {"Range": byte_range} if byte_range else None

        async def get(url: str) -> bytes:
            async with self.session.get(url, params=self.bck_params(bck), headers=headers) as r:
                body = await r.read()
                await raise_for(r, body)
                return body

        return await self._retry_via_api(get, bck, name)

    async def head_object(self, bck: Bucket, name: str, props: str = "") -> CIMultiDict[str]:
        params = self.bck_params(bck, props=props or None)

        async def head(url: str) -> CIMultiDict[str]:
            async with self.session.head(url, params=params, allow_redirects=True) as r:
                await raise_for(r, b"", what=f"{bck}/{name}")
                return CIMultiDict(r.headers)

        return await self._retry_via_api(head, bck, name)

    async def delete_object(self, bck: Bucket, name: str) -> None:
        async def delete(url: str) -> None:
            async with self.session.delete(url, params=self.bck_params(bck), allow_redirects=True) as r:
                await raise_for(r, await r.read())

        await self._retry_via_api(delete, bck, name)
