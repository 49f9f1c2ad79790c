"""Amazon S3 and S3-compatible stores through s3fs's aiobotocore client.

s3fs (`asynchronous=True`) sets up the client: credentials, endpoint, region, from the usual
AWS environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, profiles, ...) unless given. Calls
then go straight to the client: s3fs's `_call_s3` stacks its own retry loop on botocore's
(seconds of backoff against a dead endpoint) and its file objects read whole blocks. Here a
call is tried at most 1 + `retries` times with sub-second backoff, and a GET streams its body.

GETs (`read`, `open`: cold GETs, downloads, prefetch, blob ranges) skip aiobotocore's request
machinery: signed with botocore's SigV4 signer and sent with libcurl (`s3get.py`), with the
bucket's URL, region and credentials as the aiobotocore client resolves them.

Listings parse their timestamps with `datetime.fromisoformat` (`timestamp`): botocore's default
parser goes through dateutil, ~32 µs per `LastModified`, and was 44 % of a target's Python
while it listed a bucket for a backend download job (issue 16).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import botocore.exceptions as boto
from botocore.utils import parse_timestamp

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
    md5_from_etag,
    parts,
    range_header,
    retrying,
    strip_etag,
)
from ais_ray.backends.curlhttp import Transfer
from ais_ray.backends.errors import RETRIABLE_STATUSES, s3_errors, status_error
from ais_ray.backends.s3get import SignedGet, described, error_code
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket, Provider


def timestamp(value: Any) -> datetime:
    """A timestamp in a reply (botocore's `timestamp_parser`): S3's ISO 8601 ones
    ("2026-12-05T19:20:37.000Z", listings) and RFC 822 ones ("Sat, 05 Dec 2026 19:20:37 GMT",
    headers) by the standard library; anything else, or one without a zone, by botocore's own
    parser, so the result is always what botocore would give."""
    if isinstance(value, str):
        for parse in (datetime.fromisoformat, parsedate_to_datetime):
            try:
                t = parse(value)
            except (TypeError, ValueError):
                continue
            if t.tzinfo is not None:
                return t
            break
    return parse_timestamp(value)


def _new_session(profile: str | None) -> Any:
    """An aiobotocore session with the S3 model loaded: run on a worker thread, not the loop.

    Importing s3fs (~0.1 s) and parsing botocore's S3 model files (~0.1 s) would block the
    loop; botocore caches the models on the session's loader, so `create_client` then costs ~10 ms.
    """
    import aiobotocore.session
    import s3fs  # noqa: F401 - imported here so the loop thread finds it in sys.modules

    session = aiobotocore.session.AioSession(profile=profile)
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=timestamp)
    loader = session.get_component("data_loader")
    for type_name in ("service-2", "endpoint-rule-set-1"):
        loader.load_service_model("s3", type_name)
    for name in ("endpoints", "partitions", "sdk-default-configuration"):
        loader.load_data(name)
    return session


class S3Backend:
    """S3 over aiobotocore. Versioning needs no switch: `RemoteObj.version` is the VersionId
    whenever S3 sends one (a versioned bucket), and empty otherwise."""

    provider: ClassVar[Provider] = Provider.AWS

    def __init__(self, *, endpoint_url: str | None = None, key: str | None = None, secret: str | None = None,
                 token: str | None = None, region: str | None = None, profile: str | None = None,
                 anon: bool = False, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, addressing_style: str = "auto") -> None:
        self._fs_kwargs: dict[str, Any] = {
            "key": key, "secret": secret, "token": token, "anon": anon, "endpoint_url": endpoint_url,
            "client_kwargs": {"region_name": region} if region else {},
            "config_kwargs": {
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "max_pool_connections": max_connections,
                # botocore's own retries back off ~1 s, 2 s, ...: ours are the same few quick
                # tries every backend makes (base.retrying), so botocore makes one attempt.
                "retries": {"total_max_attempts": 1, "mode": "standard"},
                "s3": {"addressing_style": addressing_style},
                # botocore >= 1.36 adds CRC trailers to every upload and checks them on GET;
                # S3-compatible stores (s3rver, older MinIO, Ceph) reject or mangle those.
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
            },
        }
        if endpoint_url and endpoint_url.startswith("http://"):
            # Plain HTTP: no CA bundle to load, so a stale AWS_CA_BUNDLE cannot break us.
            self._fs_kwargs["client_kwargs"]["verify"] = False
        self.retries = retries
        self._profile = profile
        self._get_opts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout,
                          "max_connections": max_connections}
        self._client: Any = None
        self._gets: SignedGet | None = None
        self._fs: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                session = await asyncio.to_thread(_new_session, self._profile)
                import s3fs  # imported by _new_session, off the loop

                # skip_instance_cache: fsspec would hand another event loop our instance,
                # whose client is bound to this loop.
                # Kept: the client's session lives as long as the filesystem object.
                self._fs = s3fs.S3FileSystem(asynchronous=True, skip_instance_cache=True, session=session,
                                             **self._fs_kwargs)
                self._client = await self._fs.set_session()
        return self._client

    async def _signed(self) -> SignedGet:
        if self._gets is None:
            client = await self._s3()
            if self._gets is None:
                # AWS_CA_BUNDLE: the bundle botocore trusts for a private endpoint's https; else the process's
                self._gets = SignedGet(client, retries=self.retries, endpoint=self.endpoint,
                                       cafile=os.environ.get("AWS_CA_BUNDLE"), **self._get_opts)
        return self._gets

    @contextlib.asynccontextmanager
    async def _get(self, bucket: str, name: str, rng: tuple[int, int] | None = None) -> AsyncIterator[Transfer]:
        """One GET through `SignedGet`: the transfer (status checked; its body the object's
        bytes), ended on exit. Its failures are the typed errors already."""
        bck = self._bck(bucket)
        with s3_errors(bck, name, self.endpoint):  # the presign (once per bucket) and credentials: botocore's
            gets = await self._signed()
            tr = await gets.get(bucket, name, {"Range": range_header(rng)} if rng is not None else None)
        try:
            status, _ = await tr.response()
            if status >= 400:
                raise self._reply_error(bucket, name, status, await anext(tr, b""))
            yield tr
        finally:
            tr.close()

    async def _call(self, op: str, **kwargs: Any) -> Any:
        """One S3 API call, retried quickly while it fails transiently (see `_retriable`)."""
        s3 = await self._s3()
        method = getattr(s3, op)
        return await retrying(lambda: method(**kwargs), retries=self.retries, retriable=_retriable)

    @property
    def endpoint(self) -> str:
        if self._client is not None:
            return str(self._client.meta.endpoint_url)
        return str(self._fs_kwargs["endpoint_url"] or "s3")

    @staticmethod
    def _bck(bucket: str) -> Bucket:
        return Bucket(bucket, Provider.AWS)

    async def head_bucket(self, bucket: str) -> None:
        with s3_errors(self._bck(bucket), None, self.endpoint):
            await self._call("head_bucket", Bucket=bucket)

    async def list_buckets(self) -> list[str]:
        with s3_errors(self._bck("all-buckets"), None, self.endpoint):
            out = await self._call("list_buckets")
        return sorted(b["Name"] for b in out.get("Buckets", ()))

    async def list_objects(self, bucket: str, prefix: str = "", *, token: str = "",
                           page_size: int = 1000, start_after: str = "") -> ListPage:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
        if token:
            kwargs["ContinuationToken"] = token
        elif start_after:
            kwargs["StartAfter"] = start_after
        with s3_errors(self._bck(bucket), None, self.endpoint):
            out = await self._call("list_objects_v2", **kwargs)
        entries = [
            RemoteObj(name=e["Key"], size=int(e["Size"]), etag=(etag := strip_etag(e.get("ETag"))),
                      last_modified=e["LastModified"].timestamp() if "LastModified" in e else 0.0,
                      md5=md5_from_etag(etag))
            for e in out.get("Contents", ())
        ]
        next_token = out.get("NextContinuationToken", "") if out.get("IsTruncated") else ""
        return ListPage(entries, next_token)

    async def head_object(self, bucket: str, name: str) -> RemoteObj:
        with s3_errors(self._bck(bucket), name, self.endpoint):
            return _described(name, await self._call("head_object", Bucket=bucket, Key=name))

    async def read(self, bucket: str, name: str, rng: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
        rng = check_range(rng)
        if rng is not None and rng[1] == 0:
            return
        async with self._get(bucket, name, rng) as body:
            async for chunk in body:
                yield chunk

    @contextlib.asynccontextmanager
    async def open(self, bucket: str, name: str) -> AsyncIterator[tuple[RemoteObj, AsyncIterator[bytes]]]:
        """One GET: the reply's headers describe the object (see `base.open_object`)."""
        async with self._get(bucket, name) as body:
            _, headers = await body.response()
            yield _described(name, described(headers)), body

    def start_get(self, bucket: str, name: str) -> Transfer | None:
        """The object's GET started without awaiting (a download's small object, `DlWorker`), or
        None until an `open` has made this bucket's route and the credentials ready (`SignedGet.start`).
        `got` reads its reply once it ends."""
        return self._gets.start(bucket, name) if self._gets is not None else None

    def got(self, bucket: str, name: str, tr: Transfer) -> RemoteObj:
        """The object an ended `start_get` read (its bytes: `tr.body()`; its `last_modified` not
        read), or the typed error `open` raises for the same reply."""
        err = tr.failure()
        if err is not None:
            raise err
        status, headers = tr.head()
        if status >= 400:
            raise self._reply_error(bucket, name, status, b"".join(tr.body()))
        return _described(name, described(headers, dates=False))

    def _reply_error(self, bucket: str, name: str, status: int, body: bytes) -> AisError:
        """A GET's error reply (`body`: its start, S3's XML) as the typed error."""
        code = error_code(body)
        return status_error(416 if code == "InvalidRange" else status, self._bck(bucket), name,
                            endpoint=self.endpoint, code=code)

    async def put_object(self, bucket: str, name: str, body: AsyncIterator[bytes] | bytes,
                         size: int | None = None) -> RemoteObj:
        """One PUT up to PART_SIZE, a multipart upload of PART_SIZE parts beyond (never all in memory)."""
        bck = self._bck(bucket)
        with s3_errors(bck, name, self.endpoint):
            stream = parts(body, PART_SIZE)
            first = await anext(stream)
            second = await anext(stream, None)
            if second is None:
                check_size(f"{bck}/{name}", size, len(first))
                out = await self._call("put_object", Bucket=bucket, Key=name, Body=first)
                return RemoteObj(name=name, size=len(first), etag=(etag := strip_etag(out.get("ETag"))),
                                 version=_version(out), md5=md5_from_etag(etag))
            return await self._put_multipart(bck, name, size, first, second, stream)

    async def _put_multipart(self, bck: Bucket, name: str, size: int | None, first: bytes,
                             second: bytes, rest: AsyncIterator[bytes]) -> RemoteObj:
        upload = await self._call("create_multipart_upload", Bucket=bck.name, Key=name)
        upload_id = upload["UploadId"]
        done: list[dict[str, Any]] = []
        total = 0
        try:
            async def put_part(data: bytes) -> None:
                nonlocal total
                n = len(done) + 1
                out = await self._call("upload_part", Bucket=bck.name, Key=name, UploadId=upload_id,
                                       PartNumber=n, Body=data)
                done.append({"PartNumber": n, "ETag": out["ETag"]})
                total += len(data)

            await put_part(first)
            await put_part(second)
            async for data in rest:
                if data:
                    await put_part(data)
            check_size(f"{bck}/{name}", size, total)
            out = await self._call("complete_multipart_upload", Bucket=bck.name, Key=name, UploadId=upload_id,
                                   MultipartUpload={"Parts": done})
        except BaseException:
            # Abandoned parts cost storage until aborted; a failing abort must not hide the cause.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._call("abort_multipart_upload", Bucket=bck.name, Key=name,
                                                UploadId=upload_id))
            raise
        return RemoteObj(name=name, size=total, etag=strip_etag(out.get("ETag")), version=_version(out))

    async def delete_object(self, bucket: str, name: str) -> None:
        with s3_errors(self._bck(bucket), name, self.endpoint):
            await self._call("delete_object", Bucket=bucket, Key=name)

    async def aclose(self) -> None:
        gets, self._gets = self._gets, None
        if gets is not None:
            await gets.aclose()
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def _retriable(exc: BaseException) -> bool:
    """5xx, throttling, refused or reset: worth a quick retry. Timeouts are not (they would
    multiply the wait the caller configured), nor is anything the request itself got wrong."""
    if isinstance(exc, boto.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status in RETRIABLE_STATUSES
    if isinstance(exc, (boto.ReadTimeoutError, boto.ConnectTimeoutError)):
        return False
    return isinstance(exc, (boto.EndpointConnectionError, boto.ConnectionClosedError))


def _described(name: str, out: dict[str, Any]) -> RemoteObj:
    """The object as a HEAD or GET reply describes it (the same headers)."""
    etag = strip_etag(out.get("ETag"))
    return RemoteObj(name=name, size=int(out["ContentLength"]), etag=etag, version=_version(out),
                     last_modified=out["LastModified"].timestamp() if "LastModified" in out else 0.0,
                     md5=md5_from_etag(etag))


def _version(out: dict[str, Any]) -> str:
    """S3 says `null` for objects written before versioning was enabled: no version, really."""
    v = str(out.get("VersionId") or "")
    return "" if v == "null" else v
