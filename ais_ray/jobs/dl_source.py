"""Reading one download link: an http(s) URL, or a bucket URI through a remote backend.

One GET gives the body and the metadata a download records (size, ETag, Last-Modified),
for bucket URIs too where the backend's GET reply carries them (`base.open_object`). Errors
are the backends' typed errors; `is_retriable` tells the worker which deserve another attempt
(resets, 5xx, timeouts), and 4xx never do (Go `ext/dload/task.go`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from ais_ray.backends.aio import session_kwargs
from ais_ray.backends.guard import download_policy
from ais_ray.backends.base import READ_CHUNK, open_object, strip_etag
from ais_ray.backends.errors import http_errors, status_error
from ais_ray.backends.http import HttpBackend, endpoint_of, split_url
from ais_ray.backends.registry import get_backend
from ais_ray.core.dload import READ_IDLE_TIMEOUT, object_timeout
from ais_ray.core.errors import AisError, ErrBackend, ErrTimeout
from ais_ray.core.names import Provider, parse_bucket_uri
from ais_ray.jobs.blob_io import RangeReader, backend_reader, url_reader


@dataclass(frozen=True, slots=True)
class SrcMeta:
    size: int  # -1: unknown
    etag: str = ""
    version: str = ""


def is_retriable(err: AisError) -> bool:
    return isinstance(err, (ErrBackend, ErrTimeout))


class Sources:
    """Per-process access to link sources; holds one aiohttp session for http(s) links."""

    def __init__(self, backend_config: Mapping[str, Mapping[str, Any]] | None = None, *,
                 read_idle: float = READ_IDLE_TIMEOUT) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._config = backend_config or {}
        self.read_idle = read_idle
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            opts = session_kwargs(connect_timeout=30.0, read_timeout=self.read_idle, max_connections=1024,
                                  policy=download_policy())
            self._session = aiohttp.ClientSession(headers={"Accept-Encoding": "identity"}, **opts)
        return self._session

    async def head(self, link: str, headers: Mapping[str, str], timeout: float) -> SrcMeta:
        if link.startswith(("http://", "https://")):
            with _link_errors(link):
                async with self._sess().head(link, headers=dict(headers), timeout=self._timeout(timeout),
                                             allow_redirects=True) as r:
                    if r.status >= 400:
                        raise _status_error(r.status, link)
                    return meta_of_headers(r.headers, r.content_length)
        bck, name = parse_bucket_uri(link)
        obj = await get_backend(bck.provider, self._config.get(bck.provider.value)).head_object(bck.name, name)
        return SrcMeta(obj.size, obj.etag, obj.version)

    def open(self, link: str, headers: Mapping[str, str], timeout: float
             ) -> contextlib.AbstractAsyncContextManager[tuple[SrcMeta, AsyncIterator[bytes]]]:
        """`async with` it: (metadata, body chunks); the request is made on entry. Only the
        source's failures become backend errors (the request, each read of the body): one raised
        by the caller's own code in the `async with` block (its disk) passes as it is."""
        if link.startswith(("http://", "https://")):
            return _OpenLink(self._sess(), link, headers, self._timeout(timeout))
        return self._open_bucket_uri(link)

    @contextlib.asynccontextmanager
    async def _open_bucket_uri(self, link: str) -> AsyncIterator[tuple[SrcMeta, AsyncIterator[bytes]]]:
        bck, name = parse_bucket_uri(link)
        backend = get_backend(bck.provider, self._config.get(bck.provider.value))
        async with open_object(backend, bck.name, name) as (obj, body):
            yield SrcMeta(obj.size, obj.etag, obj.version), body

    def _timeout(self, job_timeout: float) -> aiohttp.ClientTimeout:
        tmo = self._timeouts.get(job_timeout)
        if tmo is None:
            tmo = self._timeouts[job_timeout] = aiohttp.ClientTimeout(
                total=object_timeout(job_timeout), connect=30, sock_read=self.read_idle)
        return tmo

    def range_reader(self, link: str, size: int) -> RangeReader:
        """Ranges of the link's object, for parallel chunk readers (no quick retries: the blob
        engine retries each chunk itself)."""
        if link.startswith(("http://", "https://")):
            http = get_backend(Provider.HT, {"retries": 0})
            assert isinstance(http, HttpBackend)
            return url_reader(http, link, size)
        bck, name = parse_bucket_uri(link)
        config = {**self._config.get(bck.provider.value, {}), "retries": 0}
        return backend_reader(get_backend(bck.provider, config), bck.name, name, size)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _OpenLink:
    """One GET of an http(s) link, as an async context manager (a class: per small object, a
    generator-based one costs more than it is worth). The response is released on exit."""

    __slots__ = ("_sess", "_link", "_headers", "_timeout", "_resp")

    def __init__(self, sess: aiohttp.ClientSession, link: str, headers: Mapping[str, str],
                 timeout: aiohttp.ClientTimeout) -> None:
        self._sess, self._link, self._headers, self._timeout = sess, link, headers, timeout
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> tuple[SrcMeta, AsyncIterator[bytes]]:
        with _link_errors(self._link):
            r = self._resp = await self._sess.get(self._link, headers=self._headers, timeout=self._timeout)
        if r.status >= 400:
            r.release()  # no __aexit__ after a failed __aenter__
            raise _status_error(r.status, self._link)
        return meta_of_headers(r.headers, r.content_length), _body(r, self._link)

    async def __aexit__(self, *exc: object) -> None:
        r = self._resp
        if r is not None:
            r.release()
            await r.wait_for_close()


async def _body(r: aiohttp.ClientResponse, link: str) -> AsyncIterator[bytes]:
    """The body in chunks of at most READ_CHUNK; its errors (a reset mid-body) as typed errors too."""
    with _link_errors(link):
        async for chunk in r.content.iter_chunked(READ_CHUNK):
            yield chunk


@contextlib.contextmanager
def _link_errors(link: str) -> Iterator[None]:
    """`http_errors` for one link, its parts worked out only when something failed (per object, a
    URL split costs more than it is worth on the way that succeeds)."""
    try:
        yield
    except AisError:
        raise
    except Exception as exc:
        base, name = split_url(link)
        with http_errors(base, name, endpoint_of(link)):
            raise exc


def _status_error(status: int, link: str) -> AisError:
    base, name = split_url(link)
    return status_error(status, base, name, endpoint=endpoint_of(link))


def meta_of_headers(headers: Mapping[str, str], size: int | None) -> SrcMeta:
    """A link's identity from its reply: the ETag, or for servers without one `lm:` + Last-Modified
    (date and size identify a version); `headers` looked up case-insensitively by the caller's mapping."""
    etag = strip_etag(headers.get("ETag"))
    if not etag and headers.get("Last-Modified"):
        etag = "lm:" + headers["Last-Modified"]
    return SrcMeta(size if size is not None else -1, etag)
