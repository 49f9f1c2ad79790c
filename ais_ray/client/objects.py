"""Objects: PUT, GET (to a file, a stream, bytes), HEAD, DELETE, copy — straight to the owning
mountpath when the cached cluster map knows it (the SDK's `direct` mode), else via the API's 307."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict

from ais_ray.client.http import CHUNK, Http, raise_for
from ais_ray.client.placement import Placement
from ais_ray.core import headers as H
from ais_ray.core.errors import ErrBadRequest, ErrBckNotFound
from ais_ray.core.names import Bucket

Progress = Callable[[int], None]
T = TypeVar("T")


class ObjectsApi(Http):
    direct: bool
    _placement: Placement

    def _obj_path(self, bck: Bucket, name: str) -> str:
        return f"objects/{bck.name}/{quote(name)}"

    async def object_url(self, bck: Bucket, name: str) -> str:
        """The owning mountpath's URL when the cached map knows it (no API hop), else the API's."""
        if self.direct:
            url = await self._placement.url(self, bck, name)
            if url is not None:
                return url
        return self.url(self._obj_path(bck, name))

    async def _retry_via_api(self, op: Callable[[str], Awaitable[T]], bck: Bucket, name: str) -> T:
        """Run `op(url)` on the direct URL; if the map was stale (node moved, bucket gone), once via the API."""
        url = await self.object_url(bck, name)
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
                async for chunk in _chunks(f, progress):
                    yield chunk

        await self._put(bck, name, body, {"Content-Length": str(size)})

    async def put_stream(self, bck: Bucket, name: str, f: Any, *, progress: Progress | None = None) -> int:
        """PUT what a binary file object yields until its end (stdin, a pipe): of unknown size, sent
        chunked, never held in memory whole; the bytes sent. The object appears only once all of it is in."""
        total = 0

        def sent(n: int) -> None:
            nonlocal total
            total += n
            if progress:
                progress(n)

        await self._put(bck, name, lambda: _chunks(f, sent))
        return total

    async def copy_object(self, bck: Bucket, name: str, dst: Bucket, dst_name: str, *, latest: bool = False,
                          sync: bool = False) -> None:
        """Copy one object (AIStore `PUT ?object_to=<uname>`); the cluster moves the bytes."""
        params = self.bck_params(bck, object_to=dst.uname(dst_name), **{"latest-ver": str(latest).lower(),
                                                                           "synchronize": str(sync).lower()})
        await self.request("PUT", self._obj_path(bck, name), params=params)

    async def set_custom(self, bck: Bucket, name: str, custom: dict[str, str], *, replace: bool = False) -> None:
        """An object's custom metadata, merged into what it has or (`replace`) instead of it (the
        SDK's `set_custom_props`); the bytes stay."""
        params = self.bck_params(bck, **({H.Q_NEW_CUSTOM: "true"} if replace else {}))
        await self.request("PATCH", self._obj_path(bck, name), json_body={"action": "", "value": custom}, params=params)

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

    async def get_to_stream(self, bck: Bucket, name: str, out: Any, *, params: dict[str, str] | None = None,
                            headers: dict[str, str] | None = None) -> None:
        """Stream an object to a binary file object (e.g. stdout)."""
        async def get(url: str) -> None:
            async with self.session.get(url, params={**self.bck_params(bck), **(params or {})}, headers=headers) as r:
                if r.status >= 400:
                    await raise_for(r, await r.read())
                async for chunk in r.content.iter_chunked(CHUNK):
                    out.write(chunk)
            out.flush()

        await self._via(get, bck, name, params)

    async def get_batch(self, body: dict[str, Any], out: Any, bck: Bucket | None = None) -> list[dict[str, Any]]:
        """GetBatch (`GET /v1/ml/moss[/<bck>]`, body a MossReq): the archive written to the binary
        file object `out`; the items' metadata (`MossOut`) when the reply has it (not streamed), else []."""
        path = f"ml/moss/{bck.name}" if bck is not None else "ml/moss"
        params = self.bck_params(bck) if bck is not None else None
        async with self.session.get(self.url(path), params=params, data=json.dumps(body),
                                    headers={"Content-Type": "application/json"}) as r:  # follows the 307 with its body
            if r.status >= 400:
                await raise_for(r, await r.read())
            if not r.content_type.startswith("multipart/"):
                async for chunk in r.content.iter_chunked(CHUNK):
                    await asyncio.to_thread(out.write, chunk)
                return []
            reader = aiohttp.MultipartReader.from_response(r)
            meta = await reader.next()
            outs = list((await meta.json() or {}).get("out") or []) if isinstance(meta, aiohttp.BodyPartReader) else []
            part = await reader.next()
            if isinstance(part, aiohttp.BodyPartReader):
                while chunk := await part.read_chunk(CHUNK):
                    await asyncio.to_thread(out.write, chunk)
            return outs

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


async def _chunks(f: Any, progress: Progress | None) -> AsyncIterator[bytes]:
    """What a binary file object reads until its end, CHUNK at a time, off the event loop."""
    while chunk := await asyncio.to_thread(f.read, CHUNK):
        yield chunk
        if progress:
            progress(len(chunk))
