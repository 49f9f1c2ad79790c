"""Azure Blob Storage through azure-storage-blob's asyncio client (what adlfs uses underneath).

The client is built here rather than through `adlfs.AzureBlobFileSystem` so that its retry
policy and transport can be set (see _RETRY_BACKOFF_S). A container is a bucket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ais_ray.backends.aio import parse_content_range, session_kwargs
from ais_ray.backends.base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    MAX_CHUNK,
    PART_SIZE,
    ListPage,
    RemoteObj,
    check_range,
    check_size,
    parts,
    strip_etag,
)
from ais_ray.backends.errors import azure_errors
from ais_ray.core.errors import ErrAccessDenied, ErrObjNotFound, ErrRangeNotSatisfiable
from ais_ray.core.names import Bucket, Provider

# Each GET the SDK's downloader sends, and the chunk it yields. The first one is read whole
# before the first chunk is returned, and later chunks would be cut from it by copying, so keep
# it equal to the others. Bigger than READ_CHUNK: each is a separate request, and azurite
# answers 1 MiB ranges at half the speed of 8 MiB ones.
GET_CHUNK = MAX_CHUNK
# The SDK's default retry waits 15 s, 18 s, 24 s (+ up to 3 s jitter): an unreachable account
# would hold a job for a minute. Transient faults on a healthy service clear in well under 1 s.
_RETRY_BACKOFF_S = 0.2


def _hex(md5: bytes | bytearray | None) -> str:
    return bytes(md5).hex() if md5 else ""


def _obj(props: Any) -> RemoteObj:
    """BlobProperties (HEAD or a list entry) as a RemoteObj."""
    settings = getattr(props, "content_settings", None)
    return RemoteObj(name=props.name, size=int(props.size or 0), etag=strip_etag(props.etag),
                     version=props.version_id or "", last_modified=props.last_modified.timestamp(),
                     md5=_hex(settings.content_md5 if settings else None))


def _written(name: str, size: int, out: dict[str, Any], *, whole: bool) -> RemoteObj:
    """The reply to a PUT or a block-list commit as a RemoteObj. Only a single PUT's Content-MD5
    is the object's: a commit's is the MD5 of the block list."""
    return RemoteObj(name=name, size=size, etag=strip_etag(out.get("etag")), version=out.get("version_id") or "",
                     last_modified=out["last_modified"].timestamp() if out.get("last_modified") else 0.0,
                     md5=_hex(out.get("content_md5")) if whole else "")


def _blob_size(props: Any) -> int:
    """The whole blob's size: after a ranged GET `props.size` is the range's, the total is in Content-Range."""
    cr = parse_content_range(props.content_range)
    return cr[2] if cr is not None and cr[2] >= 0 else int(props.size or 0)


def _block_id(n: int) -> str:
    """Block ids must be base64 and of equal length within a blob."""
    return base64.b64encode(f"{n:010d}".encode()).decode()


class AzureBackend:
    """Azure Blob. Credentials: a connection string, or an account name and key, from the arguments
    or the environment (`AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_ACCOUNT(_NAME)` and
    `AZURE_STORAGE_(ACCOUNT_)KEY`). Azure AD identities are not probed: that means asking the
    instance metadata service, which hangs off Azure."""

    provider: ClassVar[Provider] = Provider.AZURE

    def __init__(self, *, connection_string: str | None = None, account_name: str | None = None,
                 account_key: str | None = None, account_url: str | None = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, read_timeout: float = DEFAULT_READ_TIMEOUT,
                 retries: int = DEFAULT_RETRIES, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        env = os.environ.get
        self._conn_str = connection_string or (None if account_name else env("AZURE_STORAGE_CONNECTION_STRING"))
        self._account = account_name or env("AZURE_STORAGE_ACCOUNT_NAME") or env("AZURE_STORAGE_ACCOUNT")
        self._key = account_key or env("AZURE_STORAGE_ACCOUNT_KEY") or env("AZURE_STORAGE_KEY")
        self._account_url = account_url
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._retries, self._max_connections = retries, max_connections
        self._svc: Any = None

    async def _service(self) -> Any:
        if self._svc is not None:
            return self._svc
        await asyncio.to_thread(importlib.import_module, "azure.storage.blob.aio")  # ~0.1 s: off the loop
        if self._svc is not None:  # another task built it meanwhile
            return self._svc
        import aiohttp
        from azure.core.pipeline.transport import AioHttpTransport
        from azure.storage.blob.aio import BlobServiceClient, LinearRetry  # the aio policy, not the sync one

        sess = session_kwargs(connect_timeout=self._connect_timeout, read_timeout=self._read_timeout,
                              max_connections=self._max_connections)
        opts: dict[str, Any] = {
            # Typed int, but it only feeds random.uniform: fractions of a second work.
            "retry_policy": LinearRetry(backoff=_RETRY_BACKOFF_S, random_jitter_range=_RETRY_BACKOFF_S / 2,  # type: ignore[arg-type]
                                        retry_total=self._retries),
            "connection_timeout": self._connect_timeout, "read_timeout": self._read_timeout,
            "max_single_get_size": GET_CHUNK, "max_chunk_get_size": GET_CHUNK,
            "transport": AioHttpTransport(session=aiohttp.ClientSession(**sess), session_owner=True),
        }
        if self._conn_str:
            self._svc = BlobServiceClient.from_connection_string(self._conn_str, **opts)
        elif self._account and self._key:
            url = self._account_url or f"https://{self._account}.blob.core.windows.net"
            self._svc = BlobServiceClient(url, credential={"account_name": self._account,
                                                           "account_key": self._key}, **opts)
        else:
            raise ErrAccessDenied("no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, or an account "
                                  "name and key")
        return self._svc

    @property
    def endpoint(self) -> str:
        return str(self._svc.url) if self._svc is not None else "azure"

    @staticmethod
    def _bck(bucket: str) -> Bucket:
        return Bucket(bucket, Provider.AZURE)

    async def head_bucket(self, bucket: str) -> None:
        svc = await self._service()
        with azure_errors(self._bck(bucket), None, self.endpoint):
            await svc.get_container_client(bucket).get_container_properties()

    async def list_buckets(self) -> list[str]:
        svc = await self._service()
        with azure_errors(self._bck("all-buckets"), None, self.endpoint):
            return sorted([c.name async for c in svc.list_containers()])

    async def list_objects(self, bucket: str, prefix: str = "", *, token: str = "",
                           page_size: int = 1000, start_after: str = "") -> ListPage:
        ctr = (await self._service()).get_container_client(bucket)
        with azure_errors(self._bck(bucket), None, self.endpoint):
            pages = ctr.list_blobs(name_starts_with=prefix or None, results_per_page=page_size).by_page(
                continuation_token=token or None)
            page = await anext(pages, None)
            entries = [_obj(p) async for p in page] if page is not None else []
        return ListPage(entries, str(pages.continuation_token or ""))

    async def head_object(self, bucket: str, name: str) -> RemoteObj:
        blob = (await self._service()).get_blob_client(bucket, name)
        with azure_errors(self._bck(bucket), name, self.endpoint):
            return _obj(await blob.get_blob_properties())

    async def read(self, bucket: str, name: str, rng: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
        rng = check_range(rng)
        if rng is not None and rng[1] == 0:
            return
        blob = (await self._service()).get_blob_client(bucket, name)
        offset, length = rng if rng is not None else (None, None)
        with azure_errors(self._bck(bucket), name, self.endpoint):
            # The SDK pins later chunk GETs to the first one's ETag: a reader never mixes versions.
            downloader = await blob.download_blob(offset=offset, length=length, max_concurrency=1)
            total = _blob_size(downloader.properties)
            if offset is not None and offset >= total:
                # Azure answers 416, but azurite a 206 of `bytes 10-9/10`, which the SDK takes
                # for an empty range. Raise as every other backend does.
                raise ErrRangeNotSatisfiable(f'"{self._bck(bucket)}/{name}": range starts at {offset}, '
                                             f"past the end ({total} bytes)")
            async for chunk in downloader.chunks():
                yield chunk

    @contextlib.asynccontextmanager
    async def open(self, bucket: str, name: str) -> AsyncIterator[tuple[RemoteObj, AsyncIterator[bytes]]]:
        """One GET: the download's properties describe the blob (see `base.open_object`)."""
        blob = (await self._service()).get_blob_client(bucket, name)
        bck = self._bck(bucket)
        with azure_errors(bck, name, self.endpoint):
            downloader = await blob.download_blob(max_concurrency=1)

        async def chunks() -> AsyncIterator[bytes]:
            with azure_errors(bck, name, self.endpoint):
                async for chunk in downloader.chunks():
                    yield chunk

        body = chunks()
        try:
            yield _obj(downloader.properties), body
        finally:
            await body.aclose()

    async def put_object(self, bucket: str, name: str, body: AsyncIterator[bytes] | bytes,
                         size: int | None = None) -> RemoteObj:
        """One PUT up to PART_SIZE; beyond, staged blocks committed at the end (none visible before)."""
        blob = (await self._service()).get_blob_client(bucket, name)
        target = f"{self._bck(bucket)}/{name}"
        with azure_errors(self._bck(bucket), name, self.endpoint):
            stream = parts(body, PART_SIZE)
            first = await anext(stream)
            second = await anext(stream, None)
            if second is None:
                check_size(target, size, len(first))
                out = await blob.upload_blob(first, overwrite=True, length=len(first), max_concurrency=1)
                return _written(name, len(first), out, whole=True)
            ids: list[str] = []
            total = 0
            for data in (first, second):
                ids.append(_block_id(len(ids)))
                await blob.stage_block(ids[-1], data, length=len(data))
                total += len(data)
            async for data in stream:
                ids.append(_block_id(len(ids)))
                await blob.stage_block(ids[-1], data, length=len(data))
                total += len(data)
            check_size(target, size, total)  # uncommitted blocks are dropped by the service
            return _written(name, total, await blob.commit_block_list(ids), whole=False)

    async def delete_object(self, bucket: str, name: str) -> None:
        blob = (await self._service()).get_blob_client(bucket, name)
        with contextlib.suppress(ErrObjNotFound), azure_errors(self._bck(bucket), name, self.endpoint):
            await blob.delete_blob()

    async def aclose(self) -> None:
        svc, self._svc = self._svc, None
        if svc is not None:
            await svc.close()

