"""aiohttp plumbing shared by the HTTP and GCS backends: session settings, retries, body streams.

Both talk plain HTTP through aiohttp (gcsfs's own session for GCS), so both get the same
bounded behaviour: a connect timeout, a per-read timeout rather than a whole-request one (a
256 GiB object may take hours), and a few quick retries of transient failures before any body
byte is handed out. gcsfs's own retry decorator is not used: it backs off for ~30 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from yarl import URL

from ais_ray.backends.base import READ_CHUNK, backoff
from ais_ray.backends.errors import RETRIABLE_STATUSES
from ais_ray.backends.guard import GuardedConnector
from ais_ray.core.netpolicy import NetPolicy

# StreamReader's buffer limit: aiohttp pauses the socket at 2x this. The default (64 KiB) means a
# pause/resume and a small chunk every 128 KiB; 1 MiB lets one chunk carry up to READ_CHUNK.
READ_BUFSIZE = READ_CHUNK


def session_kwargs(*, connect_timeout: float, read_timeout: float, max_connections: int,
                   policy: NetPolicy | None = None) -> dict[str, Any]:
    """Keyword arguments for `aiohttp.ClientSession`; call inside the loop that will use it.

    `policy`: for user-chosen URLs (download links, HTTP buckets), the addresses to refuse.
    """
    connector = (aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300) if policy is None
                 else GuardedConnector(policy, limit=max_connections, ttl_dns_cache=300))
    return {
        "connector": connector,
        "timeout": aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout),
        "read_bufsize": READ_BUFSIZE,
        "auto_decompress": False,  # objects are bytes: keep sizes equal to Content-Length
    }


def retriable_transport(exc: BaseException) -> bool:
    """Refused, reset, or dropped before the status line: worth a retry. A timeout is not:
    retrying it would multiply the wait the caller configured."""
    return isinstance(exc, aiohttp.ClientConnectionError) and not isinstance(exc, asyncio.TimeoutError)


async def send(session: aiohttp.ClientSession, method: str, url: str | URL, *, retries: int,
               headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
               data: bytes | None = None, json: Any = None) -> aiohttp.ClientResponse:
    """Send a replayable request; retry transient failures; return the response, body unread.

    After the last try a retriable status is returned as is, for the caller to map. The caller
    owns the response (`async with resp:`).
    """
    attempt = 0
    while True:
        try:
            resp = await session.request(method, url, headers=headers, params=params, data=data, json=json)
        except aiohttp.ClientConnectionError as exc:
            if attempt >= retries or not retriable_transport(exc):
                raise
        else:
            if resp.status not in RETRIABLE_STATUSES or attempt >= retries:
                return resp
            resp.release()
        await asyncio.sleep(backoff(attempt))
        attempt += 1


async def iter_body(resp: aiohttp.ClientResponse, *, skip: int = 0, limit: int | None = None) -> AsyncIterator[bytes]:
    """Yield the body in chunks of at most READ_CHUNK, dropping `skip` bytes and stopping after `limit`.

    `skip`/`limit` serve a range from a server that ignored `Range` and sent the whole body.
    """
    remaining = limit
    async for chunk in resp.content.iter_chunked(READ_CHUNK):
        if skip:
            if len(chunk) <= skip:
                skip -= len(chunk)
                continue
            chunk, skip = chunk[skip:], 0
        if remaining is not None:
            if len(chunk) >= remaining:
                if remaining:
                    yield chunk[:remaining]
                return
            remaining -= len(chunk)
        yield chunk


def parse_content_range(value: str | None) -> tuple[int, int, int] | None:
    """`bytes 0-99/1000` -> (0, 99, 1000); total is -1 for `*`. None if absent or malformed."""
    if not value:
        return None
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.partition("/")
    first, dash, last = span.partition("-")
    if unit.lower() != "bytes" or not dash or not first.isdigit() or not last.isdigit():
        return None
    return int(first), int(last), int(total) if total.isdigit() else -1
