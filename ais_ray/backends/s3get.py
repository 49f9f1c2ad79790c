"""S3 GETs signed with botocore's SigV4 signer and sent with libcurl (`curlhttp.CurlLinks`).

aiobotocore spends ~1 ms of CPU per GET (parameter validation, endpoint rules, event hooks,
its response parser); a small-object download pays it for every object (issue 16). A GET
needs none of that once its bucket's URL is known: this module builds the request, signs it
with `botocore.auth.S3SigV4Auth` (no hand-written signing) and sends it through the same
libcurl transfer loop the downloader's links use, on the loop of the backend that owns it
(backends are per loop, `registry.get_backend`). The endpoint is the operator's, so no
address policy applies; the connect and per-read idle bounds and the connection limit are the
backend's own.

Nothing is resolved here that aiobotocore resolves: each bucket's base URL (endpoint,
addressing style) and signing region come from the aiobotocore client itself, once per
bucket (`generate_presigned_url`, which runs its endpoint rules), and the credentials are
the client's own (refreshed as botocore refreshes them). An anonymous client sends unsigned
GETs, as botocore's UNSIGNED does.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.utils import percent_encode

from ais_ray.backends.base import retrying
from ais_ray.backends.curlhttp import CurlLinks, Transfer
from ais_ray.backends.errors import RETRIABLE_STATUSES
from ais_ray.core.errors import ErrBackend
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.netpolicy import NetPolicy

PROBE_KEY = "ais-ray-probe"  # the key of the presigned URL a bucket's base URL is cut from
_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a bucket's objects are, and how a request to them is signed."""

    base: str  # URL up to the key: "http://host:port/bucket/" or "https://bucket.s3.region.amazonaws.com/"
    region: str  # the SigV4 scope's region
    signed: bool = True  # False: an anonymous client (botocore's UNSIGNED)
    host: str = field(init=False)  # the signed `host` header's value, as botocore's signer derives it from the URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", _host_from_url(self.base))


def route_of(presigned: str, region: str) -> Route:
    """The bucket's route from a presigned GET URL of PROBE_KEY in it; the signing region is the
    URL's SigV4 scope if it has one (a SigV2 presign has none: then the client's `region`)."""
    parts = urlsplit(presigned)
    path = parts.path
    if not path.endswith(PROBE_KEY):
        raise ValueError(f"unexpected presigned URL shape: {presigned!r}")
    base = f"{parts.scheme}://{parts.netloc}{path[: -len(PROBE_KEY)]}"
    cred = parse_qs(parts.query).get("X-Amz-Credential", [""])[0]  # AKID/date/region/s3/aws4_request
    scope = cred.split("/")
    return Route(base, scope[2] if len(scope) >= 5 else region)


def error_code(body: bytes) -> str:
    """The S3 error code of an error reply's XML body ("" if none)."""
    m = _CODE.search(body)
    return m.group(1).decode(errors="replace") if m else ""


def described(headers: Mapping[str, str], *, dates: bool = True) -> dict[str, Any]:
    """A GET reply's headers (names in lower case, as `Transfer.response` gives them) in the shape
    of botocore's parsed reply (what `s3._described` reads); `dates=False`: without LastModified
    (a download records size, ETag and version only)."""
    out: dict[str, Any] = {"ContentLength": int(headers.get("content-length", 0))}
    if etag := headers.get("etag"):
        out["ETag"] = etag
    if version := headers.get("x-amz-version-id"):
        out["VersionId"] = version
    if dates and (modified := headers.get("last-modified")):
        try:
            out["LastModified"] = parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            pass
    return out


def _sign(r: Route, url: str, frozen: Any, headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of a GET of `url` signed with botocore's SigV4 signer. The host header is the
    one botocore would derive from this URL, derived once per bucket (the signer's urlsplit of
    every URL was 5 % of a mountpath's Python); libcurl then sends the same value from the URL."""
    req = AWSRequest(method="GET", url=url, headers={**(headers or {}), "host": r.host})
    S3SigV4Auth(frozen, "s3", r.region).add_auth(req)
    return {k: v for k, v in req.headers.items() if k != "host"}


class _Transient(Exception):
    """A transient status on a try that is not the last: worth another (never leaves `get`)."""


class SignedGet:
    """GETs of one S3 backend: routes per bucket, one libcurl transfer loop (bound to the loop
    that first uses it: the backend's)."""

    def __init__(self, client: Any, *, retries: int, connect_timeout: float, read_timeout: float,
                 max_connections: int, endpoint: str, cafile: str | None = None) -> None:
        self._client = client  # the backend's aiobotocore client: routes and credentials come from it
        self._links = CurlLinks(NetPolicy(frozenset()), read_idle=read_timeout, connect_timeout=connect_timeout,
                                max_connections=max_connections, cafile=cafile, path_as_is=True)
        self._routes: dict[str, Route] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._bcks: dict[str, Bucket] = {}
        self._frozen: tuple[Any, Any] | None = None  # (the client's credentials, their frozen values `signed` used last)
        self.retries = retries
        self.endpoint = endpoint

    async def route(self, bucket: str) -> Route:
        r = self._routes.get(bucket)
        if r is None:
            async with self._locks.setdefault(bucket, asyncio.Lock()):
                r = self._routes.get(bucket)
                if r is None:
                    url = await self._client.generate_presigned_url(
                        "get_object", Params={"Bucket": bucket, "Key": PROBE_KEY})
                    meta = self._client.meta
                    r = route_of(url, meta.region_name or "us-east-1")
                    if meta.config.signature_version is UNSIGNED:
                        r = Route(r.base, r.region, signed=False)
                    self._routes[bucket] = r
        return r

    async def signed(self, bucket: str, name: str, headers: Mapping[str, str] | None = None
                     ) -> tuple[str, dict[str, str]]:
        """The GET's URL and headers, signed (botocore's signer) unless the client is anonymous."""
        r = await self.route(bucket)
        if r.signed and (creds := self._creds()) is not None:
            self._frozen = creds, await creds.get_frozen_credentials()  # (refreshed by botocore if due)
        return self._signed(r, name, headers)

    def signed_now(self, bucket: str, name: str) -> tuple[str, dict[str, str]] | None:
        """`signed` without awaiting, or None when that needs an await: the bucket's route not
        known yet, or credentials other than those `signed` used last (a refresh due or done)."""
        r = self._routes.get(bucket)
        if r is None:
            return None
        if r.signed and (creds := self._creds()) is not None:
            frozen = self._frozen
            if frozen is None or frozen[0] is not creds:
                return None
            if hasattr(creds, "refresh_needed") and (creds.refresh_needed()
                                                      or getattr(creds, "_frozen_credentials", None) is not frozen[1]):
                return None  # refreshable: botocore's refresh goes through `signed`
        return self._signed(r, name, None)

    def _creds(self) -> Any:
        return self._client._request_signer._credentials  # noqa: SLF001 - the client's own (refreshable) credentials

    def _signed(self, r: Route, name: str, headers: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
        """URL and headers of the GET of `name`, signed with the credentials `signed` froze last."""
        url = r.base + percent_encode(name, safe="/~")  # the key as botocore puts it in the path
        if not r.signed or self._creds() is None or self._frozen is None:
            return url, dict(headers or {})
        return url, _sign(r, url, self._frozen[1], headers)

    def start(self, bucket: str, name: str) -> Transfer | None:
        """The object's GET started and not awaited (no quick retries: the caller's own), or
        None when signing it needs an await (`signed_now`)."""
        signed = self.signed_now(bucket, name)
        if signed is None:
            return None
        url, headers = signed
        bck = self._bcks.get(bucket)
        if bck is None:
            bck = self._bcks[bucket] = Bucket(bucket, Provider.AWS)  # (validated once, not per object)
        return self._links.get(url, headers, None, source=(bck, name, self.endpoint))

    async def get(self, bucket: str, name: str, headers: Mapping[str, str] | None = None) -> Transfer:
        """Start the GET and wait for its response, with quick retries (`base.retrying`) of what
        failed before one (refused, reset: not a timeout) and of transient statuses, as
        `aio.send` does; the last answer goes to the caller, who owns the transfer (`close()`
        it) and checks its status. Failures raise the backends' typed errors, naming
        `s3://bucket/name`."""
        url, signed = await self.signed(bucket, name, headers)
        source = (Bucket(bucket, Provider.AWS), name, self.endpoint)
        tries = itertools.count()

        async def attempt() -> Transfer:
            last = next(tries) >= self.retries
            tr = self._links.get(url, signed, None, source=source)
            try:
                status, _ = await tr.response()
            except BaseException:
                tr.close()
                raise
            if status in RETRIABLE_STATUSES and not last:
                tr.close()
                raise _Transient(status)
            return tr

        return await retrying(attempt, retries=self.retries,
                              retriable=lambda exc: isinstance(exc, (ErrBackend, _Transient)))

    async def aclose(self) -> None:
        await self._links.aclose()
