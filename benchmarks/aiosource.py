"""The downloader's http(s) GETs on aiohttp, as `jobs/dl_source.Sources` did them until d91fbd5: a stand-in to measure against.

`dl_workers.py --transport curl aiohttp` and `dl_transports.py` run the product's `Sources`
(libcurl, `backends/curlhttp.py`) against this one. The same guard (aiohttp's connector with the
download policy), the same connect / per-read idle / total bounds, the same typed errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping

import aiohttp

from ais_ray.backends.aio import session_kwargs
from ais_ray.backends.base import READ_CHUNK
from ais_ray.backends.errors import http_errors, status_error
from ais_ray.backends.guard import download_policy
from ais_ray.backends.http import endpoint_of, split_url
from ais_ray.core.dload import READ_IDLE_TIMEOUT, object_timeout
from ais_ray.core.errors import AisError
from ais_ray.jobs.dl_source import CONNECT_TIMEOUT, SrcMeta, meta_of_headers


class AioSources:
    def __init__(self, *, read_idle: float = READ_IDLE_TIMEOUT) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.read_idle = read_idle
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            opts = session_kwargs(connect_timeout=CONNECT_TIMEOUT, read_timeout=self.read_idle, max_connections=1024,
                                  policy=download_policy())
            self._session = aiohttp.ClientSession(headers={"Accept-Encoding": "identity"}, **opts)
        return self._session

    def open(self, link: str, headers: Mapping[str, str], timeout: float) -> _OpenLink:
        return _OpenLink(self._sess(), link, headers, self._timeout(timeout))

    def _timeout(self, job_timeout: float) -> aiohttp.ClientTimeout:
        tmo = self._timeouts.get(job_timeout)
        if tmo is None:
            tmo = self._timeouts[job_timeout] = aiohttp.ClientTimeout(
                total=object_timeout(job_timeout), connect=CONNECT_TIMEOUT, sock_read=self.read_idle)
        return tmo

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _OpenLink:
    __slots__ = ("_sess", "_link", "_headers", "_timeout", "_resp")

    def __init__(self, sess: aiohttp.ClientSession, link: str, headers: Mapping[str, str],
                 timeout: aiohttp.ClientTimeout) -> None:
        self._sess, self._link, self._headers, self._timeout = sess, link, headers, timeout
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> tuple[SrcMeta, AsyncIterator[bytes]]:
        with _link_errors(self._link):
            r = self._resp = await self._sess.get(self._link, headers=self._headers, timeout=self._timeout)
        if r.status >= 400:
            r.release()
            raise _status_error(r.status, self._link)
        return (meta_of_headers(r.headers.get("ETag"), r.headers.get("Last-Modified"), r.content_length),
                _body(r, self._link))

    async def __aexit__(self, *exc: object) -> None:
        r = self._resp
        if r is not None:
            r.release()
            await r.wait_for_close()


async def _body(r: aiohttp.ClientResponse, link: str) -> AsyncIterator[bytes]:
    with _link_errors(link):
        async for chunk in r.content.iter_chunked(READ_CHUNK):
            yield chunk


@contextlib.contextmanager
def _link_errors(link: str) -> Iterator[None]:
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
