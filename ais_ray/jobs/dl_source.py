"""Reading one download link: an http(s) URL, or a bucket URI through a remote backend.

One GET gives the body and the metadata a download records (size, ETag, Last-Modified),
for bucket URIs too where the backend's GET reply carries them (`base.open_object`). Errors
are the backends' typed errors; `is_retriable` tells the worker which deserve another attempt
(resets, 5xx, timeouts), and 4xx never do (Go `ext/dload/task.go`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from ais_ray.backends.base import open_object, strip_etag
from ais_ray.backends.curlhttp import CurlLinks, Transfer
from ais_ray.backends.errors import status_error
from ais_ray.backends.guard import download_policy
from ais_ray.backends.http import HttpBackend, endpoint_of, split_url
from ais_ray.backends.registry import get_backend
from ais_ray.core.dload import READ_IDLE_TIMEOUT, object_timeout
from ais_ray.core.errors import AisError, ErrBackend, ErrTimeout
from ais_ray.core.names import Bucket, Provider, parse_bucket_uri
from ais_ray.core.netpolicy import NetPolicy
from ais_ray.jobs.blob_io import RangeReader, backend_reader, url_reader


@dataclass(frozen=True, slots=True)
class SrcMeta:
    size: int  # -1: unknown
    etag: str = ""
    version: str = ""


CONNECT_TIMEOUT = 30.0


def is_retriable(err: AisError) -> bool:
    return isinstance(err, (ErrBackend, ErrTimeout))


class Sources:
    """Per-process access to link sources: http(s) links through libcurl (`backends/curlhttp.py`),
    bucket URIs through their remote backends."""

    def __init__(self, backend_config: Mapping[str, Mapping[str, Any]] | None = None, *,
                 read_idle: float = READ_IDLE_TIMEOUT, policy: NetPolicy | None = None) -> None:
        self._config = backend_config or {}
        self._links = CurlLinks(policy if policy is not None else download_policy(), read_idle=read_idle,
                                connect_timeout=CONNECT_TIMEOUT)

    async def head(self, link: str, headers: Mapping[str, str], timeout: float) -> SrcMeta:
        if link.startswith(("http://", "https://")):
            tr = self._links.get(link, headers, object_timeout(timeout), head=True)
            try:
                status, hdrs = await tr.response()
            finally:
                tr.close()
            return link_meta(link, status, hdrs)
        bck, name = parse_bucket_uri(link)
        obj = await self._backend(bck.provider).head_object(bck.name, name)
        return SrcMeta(obj.size, obj.etag, obj.version)

    def open(self, link: str, headers: Mapping[str, str], timeout: float, *, started: Transfer | None = None
             ) -> contextlib.AbstractAsyncContextManager[tuple[SrcMeta, AsyncIterator[bytes]]]:
        """`async with` it: (metadata, body chunks); the request is made on entry. Only the
        source's failures become backend errors (the request, each read of the body): one raised
        by the caller's own code in the `async with` block (its disk) passes as it is.
        `started`: the link's GET already under way (`start`), read from here on."""
        if link.startswith(("http://", "https://")):
            return _OpenLink(self._links, link, headers, object_timeout(timeout), started)
        return self._open_bucket_uri(link, started)

    def start(self, link: str, headers: Mapping[str, str], timeout: float) -> Transfer | None:
        """The link's GET, started and not awaited (`Transfer.notify` tells when it ends; `reply`
        reads it): an http(s) link, or an object of a backend that can (S3: `start_get`, once a
        first `open` made the bucket ready); None otherwise (then `open`)."""
        if link.startswith(("http://", "https://")):
            return self._links.get(link, headers, object_timeout(timeout))
        bck, name = parse_bucket_uri(link)
        start = getattr(self._backend(bck.provider), "start_get", None)
        return start(bck.name, name) if start is not None else None

    def reply(self, link: str, tr: Transfer) -> SrcMeta:
        """What a `start`ed GET that ended (or paused with its body under way) says of the
        object — its body is the transfer's — or the typed error `open` raises for it."""
        if link.startswith(("http://", "https://")):
            err = tr.failure()
            if err is not None:
                raise err
            return link_meta(link, *tr.head())
        src = tr.source  # (the bucket and object its backend started it for: not parsed again)
        bck, name = (src[0], src[1] or "") if src is not None and isinstance(src[0], Bucket) else parse_bucket_uri(link)
        obj = self._backend(bck.provider).got(bck.name, name, tr)  # type: ignore[attr-defined]
        return SrcMeta(obj.size, obj.etag, obj.version)

    def _backend(self, provider: Provider) -> Any:
        """The loop's backend of `provider` with this process's config (`registry.get_backend`)."""
        return get_backend(provider, self._config.get(provider.value))

    @contextlib.asynccontextmanager
    async def _open_bucket_uri(self, link: str, started: Transfer | None = None
                               ) -> AsyncIterator[tuple[SrcMeta, AsyncIterator[bytes]]]:
        if started is not None:  # (`start`ed, its reply a success so far)
            try:
                yield self.reply(link, started), started
            finally:
                started.close()
            return
        bck, name = parse_bucket_uri(link)
        async with open_object(self._backend(bck.provider), bck.name, name) as (obj, body):
            yield SrcMeta(obj.size, obj.etag, obj.version), body

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
        await self._links.aclose()


class _OpenLink:
    """One GET of an http(s) link, as an async context manager (a class: per small object, a
    generator-based one costs more than it is worth). The transfer is ended on exit."""

    __slots__ = ("_links", "_link", "_headers", "_timeout", "_tr")

    def __init__(self, links: CurlLinks, link: str, headers: Mapping[str, str], timeout: float,
                 started: Transfer | None = None) -> None:
        self._links, self._link, self._headers, self._timeout = links, link, headers, timeout
        self._tr = started

    async def __aenter__(self) -> tuple[SrcMeta, AsyncIterator[bytes]]:
        tr = self._tr
        if tr is None:
            tr = self._tr = self._links.get(self._link, self._headers, self._timeout)
        try:
            status, hdrs = await tr.response()
        except BaseException:
            tr.close()  # no __aexit__ after a failed __aenter__
            raise
        try:
            return link_meta(self._link, status, hdrs), tr
        except AisError:
            tr.close()
            raise

    async def __aexit__(self, *exc: object) -> None:
        if self._tr is not None:
            self._tr.close()


def link_status_error(status: int, link: str) -> AisError:
    base, name = split_url(link)
    return status_error(status, base, name, endpoint=endpoint_of(link))


def link_meta(link: str, status: int, headers: Mapping[str, str]) -> SrcMeta:
    """A link's reply: its object's identity, or the status's typed error."""
    if status >= 400:
        raise link_status_error(status, link)
    return reply_meta(headers)


def reply_meta(headers: Mapping[str, str]) -> SrcMeta:
    """`meta_of_headers` for a libcurl reply (names in lower case)."""
    size = headers.get("content-length", "")
    return meta_of_headers(headers.get("etag"), headers.get("last-modified"), int(size) if size.isdigit() else None)


def meta_of_headers(etag: str | None, last_modified: str | None, size: int | None) -> SrcMeta:
    """A link's identity from its reply: the ETag, or for servers without one `lm:` + Last-Modified
    (date and size identify a version)."""
    tag = strip_etag(etag)
    if not tag and last_modified:
        tag = "lm:" + last_modified
    return SrcMeta(size if size is not None else -1, tag)
