"""HTTP(S) sources: a "bucket" is a base URL (`http://host:port/dir`), an object a path below it.

Read-only, like AIStore's `ht://` backend (Go `ais/backend/http.go`: PUT and DELETE are not
supported and there is nothing to list). `head_url` / `read_url` take raw links for the
downloader. Works with servers that ignore `Range` (Python's `http.server`): the range is
cut out of the whole body, at the cost of reading what precedes it; with `strict_range=True`
such an answer raises ErrRangeIgnored instead, so a caller reading many ranges (the blob
downloader) can switch to one sequential stream.
"""

from __future__ import annotations

import contextlib
import email.utils
from collections.abc import AsyncIterator
from typing import ClassVar
from urllib.parse import quote, urlsplit

import aiohttp

from ais_ray.backends.aio import iter_body, parse_content_range, send, session_kwargs
from ais_ray.backends.base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    ListPage,
    RemoteObj,
    check_range,
    range_header,
    strip_etag,
)
from ais_ray.backends.guard import download_policy
from ais_ray.backends.errors import describe, http_errors, status_error
from ais_ray.core.errors import ErrBackend, ErrRangeIgnored, ErrRemoteBckNotFound, ErrUnsupported
from ais_ray.core.names import Provider

# Characters left as-is when an object name becomes a URL path (RFC 3986 pchar and `/`).
_PATH_SAFE = "/!$&'()*+,;=:@~"
_HEAD_UNSUPPORTED = frozenset({405, 501})


def join_url(base: str, name: str) -> str:
    """`http://h/dir` + `a b/c.txt` -> `http://h/dir/a%20b/c.txt` (names are raw, URLs encoded)."""
    return f"{base.rstrip('/')}/{quote(name, safe=_PATH_SAFE)}"


def split_url(url: str) -> tuple[str, str]:
    """A raw link as (base, last path segment), which is how errors name it."""
    base, _, name = url.rpartition("/")
    return base, name


def endpoint_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _last_modified(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 0.0


class HttpBackend:
    """aiohttp client over plain HTTP(S) servers."""

    provider: ClassVar[Provider] = Provider.HT

    def __init__(self, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, trust_env: bool = False) -> None:
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.max_connections = max_connections
        self.retries = retries
        self.trust_env = trust_env  # HTTP(S)_PROXY / NO_PROXY from the environment
        self._session: aiohttp.ClientSession | None = None

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            opts = session_kwargs(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                                  max_connections=self.max_connections, policy=download_policy())
            self._session = aiohttp.ClientSession(trust_env=self.trust_env, headers={"Accept-Encoding": "identity"},
                                                  **opts)
        return self._session

    async def head_bucket(self, bucket: str) -> None:
        """The base URL must answer something other than 404/410 (a directory may well 403 or 405)."""
        with http_errors(bucket, None, endpoint_of(bucket)):
            async with await send(self._sess(), "HEAD", bucket, retries=self.retries) as resp:
                if resp.status in (404, 410):
                    raise ErrRemoteBckNotFound(bucket)
                if resp.status in (401, 403) or resp.status >= 500:
                    raise status_error(resp.status, bucket, None, endpoint=endpoint_of(bucket))

    async def list_buckets(self) -> list[str]:
        raise ErrUnsupported("HTTP sources have no bucket listing")

    async def list_objects(self, bucket: str, prefix: str = "", *, token: str = "",
                           page_size: int = 1000, start_after: str = "") -> ListPage:
        raise ErrUnsupported(f'cannot list "{bucket}": HTTP sources have no listing')

    async def head_object(self, bucket: str, name: str) -> RemoteObj:
        return await self._head(join_url(bucket, name), bucket, name)

    async def head_url(self, url: str) -> RemoteObj:
        """HEAD a raw link; `RemoteObj.name` is the link. Size is -1 if the server does not say."""
        base, name = split_url(url)
        return await self._head(url, base, name, obj_name=url)

    async def _head(self, url: str, bck: str, name: str, *, obj_name: str | None = None) -> RemoteObj:
        endpoint = endpoint_of(url)
        with http_errors(bck, name, endpoint):
            async with await send(self._sess(), "HEAD", url, retries=self.retries) as resp:
                if resp.status in _HEAD_UNSUPPORTED:
                    return await self._head_by_get(url, bck, name, obj_name or name)
                if resp.status != 200:
                    raise status_error(resp.status, bck, name, endpoint=endpoint)
                return self._obj(resp, obj_name or name, resp.content_length)

    async def _head_by_get(self, url: str, bck: str, name: str, obj_name: str) -> RemoteObj:
        """For servers without HEAD: GET the first byte and read the size from Content-Range."""
        endpoint = endpoint_of(url)
        async with await send(self._sess(), "GET", url, retries=self.retries, headers={"Range": "bytes=0-0"}) as resp:
            if resp.status == 416:  # an empty object has no byte 0
                return self._obj(resp, obj_name, 0)
            if resp.status not in (200, 206):
                raise status_error(resp.status, bck, name, endpoint=endpoint)
            cr = parse_content_range(resp.headers.get("Content-Range"))
            return self._obj(resp, obj_name, cr[2] if cr else resp.content_length)

    @staticmethod
    def _obj(resp: aiohttp.ClientResponse, name: str, size: int | None) -> RemoteObj:
        return RemoteObj(name=name, size=-1 if size is None else size, etag=strip_etag(resp.headers.get("ETag")),
                         last_modified=_last_modified(resp.headers.get("Last-Modified")))

    @contextlib.asynccontextmanager
    async def open(self, bucket: str, name: str) -> AsyncIterator[tuple[RemoteObj, AsyncIterator[bytes]]]:
        """One GET: its headers describe the object as a HEAD's would (see `base.open_object`)."""
        url = join_url(bucket, name)
        endpoint = endpoint_of(url)
        with http_errors(bucket, name, endpoint):
            resp = await send(self._sess(), "GET", url, retries=self.retries)
        async with resp:
            if resp.status != 200:
                raise status_error(resp.status, bucket, name, endpoint=endpoint)

            async def chunks() -> AsyncIterator[bytes]:
                with http_errors(bucket, name, endpoint):
                    async for chunk in iter_body(resp):
                        yield chunk

            body = chunks()
            try:
                yield self._obj(resp, name, resp.content_length), body
            finally:
                await body.aclose()

    def read(self, bucket: str, name: str, rng: tuple[int, int] | None = None, *,
             strict_range: bool = False) -> AsyncIterator[bytes]:
        """`Backend.read`; `strict_range`: raise ErrRangeIgnored rather than cut a range out of a 200."""
        return self._read(join_url(bucket, name), bucket, name, rng, strict_range)

    def read_url(self, url: str, rng: tuple[int, int] | None = None, *,
                 strict_range: bool = False) -> AsyncIterator[bytes]:
        """Stream a raw link (or `rng = (offset, length)` of it)."""
        base, name = split_url(url)
        return self._read(url, base, name, rng, strict_range)

    async def _read(self, url: str, bck: str, name: str, rng: tuple[int, int] | None,
                    strict_range: bool = False) -> AsyncIterator[bytes]:
        rng = check_range(rng)
        if rng is not None and rng[1] == 0:
            return
        endpoint = endpoint_of(url)
        headers = {"Range": range_header(rng)} if rng else None
        with http_errors(bck, name, endpoint):
            async with await send(self._sess(), "GET", url, retries=self.retries, headers=headers) as resp:
                if resp.status not in (200, 206):
                    raise status_error(resp.status, bck, name, endpoint=endpoint)
                skip, limit = 0, None
                if rng is not None and resp.status == 200:  # Range ignored: cut it out ourselves
                    whole = rng[0] == 0 and resp.content_length is not None and rng[1] >= resp.content_length
                    if strict_range and not whole:
                        raise ErrRangeIgnored(f'"{describe(bck, name)}": {endpoint} ignores Range '
                                              f'(200 with the whole object for {headers})')
                    skip, limit = rng
                elif rng is not None:
                    cr = parse_content_range(resp.headers.get("Content-Range"))
                    if cr is None or cr[0] != rng[0]:
                        raise ErrBackend(f'"{describe(bck, name)}": {endpoint} sent range '
                                         f'{resp.headers.get("Content-Range")!r} for {headers}')
                async for chunk in iter_body(resp, skip=skip, limit=limit):
                    yield chunk

    async def put_object(self, bucket: str, name: str, body: AsyncIterator[bytes] | bytes,
                         size: int | None = None) -> RemoteObj:
        raise ErrUnsupported(f'cannot write "{describe(bucket, name)}": HTTP sources are read-only')

    async def delete_object(self, bucket: str, name: str) -> None:
        raise ErrUnsupported(f'cannot delete "{describe(bucket, name)}": HTTP sources are read-only')

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
