"""The one async interface every remote backend implements, and the small helpers they share.

A backend is what a target (a Ray async actor) calls to reach S3, GCS, Azure or an HTTP
source: every method is a coroutine or an async iterator, and none blocks the event loop.
Objects are read as streams of chunks so a multi-GiB object never sits in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import Provider

T = TypeVar("T")

# What a read asks its socket for at a time: large enough that per-chunk Python overhead
# vanishes at GiB/s, small enough that N concurrent readers stay within memory.
READ_CHUNK = 1 << 20
# The most one yielded chunk may hold. HTTP, S3 and GCS yield at most READ_CHUNK; Azure yields
# its SDK's per-request chunks (see azure.GET_CHUNK) rather than copy them into smaller ones.
MAX_CHUNK = 8 << 20
# Writes are cut into parts this big (S3 multipart minimum is 5 MiB; GCS wants 256 KiB multiples).
PART_SIZE = 8 << 20

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 60.0  # between two reads of the socket, not for the whole object
DEFAULT_RETRIES = 2  # beyond the first try; only before the first byte of a body is returned
DEFAULT_MAX_CONNECTIONS = 256
_BACKOFF_BASE_S = 0.1
_BACKOFF_CAP_S = 2.0


@dataclass(frozen=True, slots=True)
class RemoteObj:
    """What a remote source says about one object (HEAD, a list entry, or the reply to a PUT).

    `version` is S3's VersionId, GCS's generation or Azure's version id; empty when the bucket
    is not versioned. `md5` and `crc32c` are lower-case hex, set only when the provider states
    them for the whole object (checksums the downloader can verify without reading twice).
    """

    name: str
    size: int
    etag: str = ""
    version: str = ""
    last_modified: float = 0.0  # seconds since the epoch
    md5: str = ""
    crc32c: str = ""


@dataclass(frozen=True, slots=True)
class ListPage:
    entries: list[RemoteObj]
    next_token: str  # "" when this is the last page


@runtime_checkable
class Backend(Protocol):
    """One remote provider. `bucket` is the provider's bucket/container name (for HTTP, a base URL).

    Errors are `ais_ray.core.errors` types, mapped once per backend in `backends/errors.py`:
    ErrRemoteBckNotFound, ErrObjNotFound, ErrAccessDenied, ErrRangeNotSatisfiable,
    ErrBackend (remote 5xx, refused, reset), ErrTimeout, ErrUnsupported.
    """

    provider: ClassVar[Provider]

    async def head_bucket(self, bucket: str) -> None:
        """Raise ErrRemoteBckNotFound unless the bucket exists (and is visible to us)."""
        ...

    async def list_buckets(self) -> list[str]:
        """Every bucket the credentials can see at the remote (`ais ls s3 --all`). ErrUnsupported for HTTP."""
        ...

    async def list_objects(self, bucket: str, prefix: str = "", *, token: str = "",
                           page_size: int = 1000, start_after: str = "") -> ListPage:
        """One page of at most `page_size` entries; pass `next_token` back for the next one.
        `start_after` (the same on every page of a listing): where the remote can seek by name
        (S3 `StartAfter`, GCS `startOffset`), its names from there on — maybe that one too: filter
        it — else ignored (Azure: the listing starts at the first name)."""
        ...

    async def head_object(self, bucket: str, name: str) -> RemoteObj:
        ...

    def read(self, bucket: str, name: str, rng: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
        """Stream the object, or `rng = (offset, length)` of it, in chunks of at most MAX_CHUNK.

        The request is sent on the first `__anext__`, so errors surface there. Close early
        readers (`contextlib.aclosing`) to give their connection back at once.
        """
        ...

    async def put_object(self, bucket: str, name: str, body: AsyncIterator[bytes] | bytes,
                         size: int | None = None) -> RemoteObj:
        """Write the whole object; a stream body is sent part by part, never buffered whole.

        Raises ErrBadRequest (and writes nothing) when `size` is given and the body differs.
        """
        ...

    async def delete_object(self, bucket: str, name: str) -> None:
        """Delete; deleting a missing object is not an error (S3 cannot tell, so nobody does)."""
        ...

    async def aclose(self) -> None:
        ...


Opened = tuple[RemoteObj, AsyncIterator[bytes]]


@contextlib.asynccontextmanager
async def open_object(backend: Backend, bucket: str, name: str) -> AsyncIterator[Opened]:
    """The whole object's metadata with its body, as the GET itself reports them.

    A backend whose GET answers with size, ETag and version (S3, Azure, HTTP) does it with that one
    request (`open`): half the requests of HEAD + GET for small objects, and no window for the
    object to change between the two. Others HEAD first. The body's connection is released on exit.
    """
    opener = getattr(backend, "open", None)
    if opener is not None:
        async with opener(bucket, name) as opened:
            yield opened
        return
    obj = await backend.head_object(bucket, name)
    body = backend.read(bucket, name)
    try:
        yield obj, body
    finally:
        await body.aclose()  # type: ignore[attr-defined]


def check_range(rng: tuple[int, int] | None) -> tuple[int, int] | None:
    """Validate `(offset, length)`; raise ErrBadRequest on negatives."""
    if rng is None:
        return None
    offset, length = rng
    if offset < 0 or length < 0:
        raise ErrBadRequest(f"invalid byte range (offset={offset}, length={length})")
    return rng


def range_header(rng: tuple[int, int]) -> str:
    """`(offset, length)` as an HTTP Range value; length must be > 0."""
    offset, length = rng
    return f"bytes={offset}-{offset + length - 1}"


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (0-based): 0.1, 0.2, 0.4 ... capped, jittered."""
    return float(min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0**attempt) * random.uniform(0.5, 1.0))


async def retrying(op: Callable[[], Awaitable[T]], *, retries: int,
                   retriable: Callable[[BaseException], bool]) -> T:
    """Run `op`, again after a short backoff while it fails retriably, at most `retries` more times."""
    attempt = 0
    while True:
        try:
            return await op()
        except Exception as exc:
            if attempt >= retries or not retriable(exc):
                raise
        await asyncio.sleep(backoff(attempt))
        attempt += 1


async def parts(body: AsyncIterator[bytes] | bytes, part_size: int = PART_SIZE) -> AsyncIterator[bytes]:
    """Regroup a body into parts of exactly `part_size` bytes (the last may be shorter, or b"").

    Always yields at least one part, so an empty body is one empty part.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        view = memoryview(body)
        for off in range(0, max(len(view), 1), part_size):
            yield bytes(view[off : off + part_size])
        return
    buf = bytearray()
    sent = False
    async for chunk in body:
        buf += chunk
        while len(buf) >= part_size:
            with memoryview(buf) as mv:
                part = bytes(mv[:part_size])  # one copy; `buf[:n]` would make two
            del buf[:part_size]
            yield part
            sent = True
    if buf or not sent:
        yield bytes(buf)


def check_size(target: object, expected: int | None, got: int) -> None:
    """Raise ErrBadRequest when a PUT body's length differs from the size the caller declared."""
    if expected is not None and expected != got:
        raise ErrBadRequest(f'put "{target}": body has {got} bytes, expected {expected}')


def strip_etag(etag: str | None) -> str:
    """`"abc"` -> `abc`; weak ETags keep their `W/` so they are never taken for an MD5."""
    if not etag:
        return ""
    weak = etag.startswith("W/")
    bare = etag[2:] if weak else etag
    bare = bare.strip('"')
    return f"W/{bare}" if weak else bare


_MD5_HEX = re.compile(r"[0-9a-f]{32}")


def md5_from_etag(etag: str) -> str:
    """An S3 ETag is the object's MD5 unless multipart (`md5-N`) or encrypted with KMS; AIStore
    makes the same guess (Go `ais/backend/aws.go`, ETag without the multipart delimiter)."""
    return etag if _MD5_HEX.fullmatch(etag) else ""
