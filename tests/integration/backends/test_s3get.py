"""S3 GETs signed with botocore's signer and sent with libcurl (`backends/s3get.py`) against moto:
the same URL and signature aiobotocore makes, for keys that need escaping; anonymous clients unsigned."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.auth
import dateutil.parser
import pytest

from ais_ray.backends import new_backend
from ais_ray.backends.s3 import S3Backend
from ais_ray.core.errors import ErrAccessDenied
from ais_ray.core.names import Provider
from tests.integration.backends.conftest import Run, make_remote

KEYS = ["a b+c/ü~x", "dir/!$&'()*,;=:@", "100%.bin", "up/../dot/./x"]


@pytest.fixture(scope="module")
def s3(request: pytest.FixtureRequest) -> Any:
    return make_remote(request, Provider.AWS)[1]


def test_signed_get_is_aiobotocores_request(s3: Any, arun: Run[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for i, key in enumerate(KEYS):
        s3.seed(key, b"x" * i)
    # one signing time for both, so the whole signature must agree
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)

    async def go() -> list[tuple[str, str, str, str, bytes]]:
        b = new_backend(Provider.AWS, s3.config)
        assert isinstance(b, S3Backend)
        try:
            gets = await b._signed()  # noqa: SLF001 - the backend's own GET path, compared with aiobotocore's
            sent: list[tuple[str, str]] = []
            gets._client.meta.events.register(  # noqa: SLF001
                "before-send.s3.GetObject",
                lambda request, **_: sent.append((request.url, request.headers["Authorization"].decode())))
            out = []
            for key in KEYS:
                await b._call("get_object", Bucket=s3.bucket, Key=key)  # noqa: SLF001
                url, headers = await gets.signed(s3.bucket, key)
                tr = await gets.get(s3.bucket, key)
                try:
                    assert (await tr.response())[0] == 200
                    body = b"".join([c async for c in tr])
                finally:
                    tr.close()
                assert "host" not in {k.lower() for k in headers}  # libcurl sends it from the URL
                out.append((*sent[-1], url, headers["Authorization"], body))
            return out
        finally:
            await b.aclose()

    for i, (boto_url, boto_auth, url, auth, body) in enumerate(arun(go())):
        assert url == boto_url and body == b"x" * i
        assert auth == boto_auth  # the same scope, signed headers (host among them) and signature


def test_reply_timestamps_skip_dateutil(s3: Any, arun: Run[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing's LastModified values (ISO 8601) and a HEAD's (RFC 822) are parsed by `s3.timestamp`,
    not botocore's dateutil parser (32 µs each, most of a target's CPU while it lists for a
    backend job), and agree."""
    s3.seed("ts/a", b"a")

    async def go() -> tuple[float, float]:
        b = new_backend(Provider.AWS, s3.config)
        try:
            with monkeypatch.context() as m:
                m.setattr(dateutil.parser, "parse", lambda *a, **k: pytest.fail("dateutil parsed a reply"))
                head = await b.head_object(s3.bucket, "ts/a")
                page = await b.list_objects(s3.bucket, "ts/")
            return head.last_modified, page.entries[0].last_modified
        finally:
            await b.aclose()

    head, listed = arun(go())
    assert listed == head > 0


def test_anonymous_client_sends_unsigned(s3: Any, arun: Run[Any]) -> None:
    s3.seed("anon", b"data")

    async def go() -> tuple[bool, Any]:
        b = new_backend(Provider.AWS, {"endpoint_url": s3.endpoint, "anon": True})
        assert isinstance(b, S3Backend)
        try:
            gets = await b._signed()  # noqa: SLF001
            _, headers = await gets.signed(s3.bucket, "anon")
            with pytest.raises(ErrAccessDenied):  # sent unsigned: moto refuses a private object to anyone
                async with b.open(s3.bucket, "anon"):
                    pass
            return "Authorization" in headers, (await gets.route(s3.bucket)).signed
        finally:
            await b.aclose()

    assert arun(go()) == (False, False)
