"""S3 GETs signed with botocore's SigV4 signer and sent with aiohttp.

aiobotocore spends ~1 ms of CPU per GET (parameter validation, endpoint rules, event hooks,
its response parser); a small-object download pays it for every object (issue 16). A GET
needs none of that once its bucket's URL is known: this module builds the request, signs it
with `botocore.auth.S3SigV4Auth` (no hand-written signing) and sends it on one shared aiohttp
session.

Nothing is resolved here that aiobotocore resolves: each bucket's base URL (endpoint,
addressing style) and signing region come from the aiobotocore client itself, once per
bucket (`generate_presigned_url`, which runs its endpoint rules), and the credentials are
the client's own (refreshed as botocore refreshes them). An anonymous client sends unsigned
GETs, as botocore's UNSIGNED does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.utils import percent_encode
from yarl import URL

from ais_ray.backends.aio import send

PROBE_KEY = "ais-ray-probe"  # the key of the presigned URL a bucket's base URL is cut from
_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a bucket's objects are, and how a request to them is signed."""

    base: str  # URL up to the key: "http://host:port/bucket/" or "https://bucket.s3.region.amazonaws.com/"
    region: str  # the SigV4 scope's region
    signed: bool = True  # False: an anonymous client (botocore's UNSIGNED)


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


def described(headers: Mapping[str, str]) -> dict[str, Any]:
    """A GET reply's headers in the shape of botocore's parsed reply (what `s3._described` reads)."""
    out: dict[str, Any] = {"ContentLength": int(headers.get("Content-Length", 0))}
    if etag := headers.get("ETag"):
        out["ETag"] = etag
    if version := headers.get("x-amz-version-id"):
        out["VersionId"] = version
    if modified := headers.get("Last-Modified"):
        try:
            out["LastModified"] = parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            pass
    return out


class SignedGet:
    """GETs of one S3 backend: routes per bucket, one aiohttp session (make it on the loop that uses it)."""

    def __init__(self, client: Any, session_opts: Callable[[], dict[str, Any]], *, retries: int) -> None:
        self._client = client  # the backend's aiobotocore client: routes and credentials come from it
        self._opts = session_opts
        self._session: aiohttp.ClientSession | None = None
        self._routes: dict[str, Route] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.retries = retries

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

    async def get(self, bucket: str, name: str, headers: Mapping[str, str] | None = None) -> aiohttp.ClientResponse:
        """Send the GET (quick retries of transient failures, as `aio.send`); the caller owns
        the response and checks its status."""
        r = await self.route(bucket)
        url = r.base + percent_encode(name, safe="/~")  # the key as botocore puts it in the path
        req = AWSRequest(method="GET", url=url, headers=dict(headers or {}))
        if r.signed:
            creds = self._client._request_signer._credentials  # noqa: SLF001 - the client's own (refreshable) credentials
            if creds is not None:
                S3SigV4Auth(await creds.get_frozen_credentials(), "s3", r.region).add_auth(req)
        if self._session is None:
            self._session = aiohttp.ClientSession(**self._opts())
        return await send(self._session, "GET", URL(url, encoded=True),
                          retries=self.retries, headers=dict(req.headers.items()))

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
