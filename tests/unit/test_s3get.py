"""The signed S3 GET: a bucket's route from a presigned URL, error codes, reply headers (pure);
retries and typed errors through libcurl against a local server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from botocore.utils import parse_timestamp

from ais_ray.backends import s3 as s3mod
from ais_ray.backends.base import md5_from_etag
from ais_ray.backends.s3 import S3Backend
from ais_ray.backends.s3get import Route, described, error_code, route_of
from ais_ray.core.errors import ErrBackend, ErrObjNotFound
from tests.unit.test_curlhttp import _self_signed


def test_route_from_sigv4_and_sigv2_presigns() -> None:
    v4 = ("https://bkt.s3.eu-west-1.amazonaws.com/ais-ray-probe?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          "&X-Amz-Credential=AKID%2F20261204%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=x")
    assert route_of(v4, "us-east-1") == Route("https://bkt.s3.eu-west-1.amazonaws.com/", "eu-west-1")
    v2 = "http://127.0.0.1:9000/bkt/ais-ray-probe?AWSAccessKeyId=k&Signature=s&Expires=1"
    assert route_of(v2, "us-west-2") == Route("http://127.0.0.1:9000/bkt/", "us-west-2")


def test_error_code_and_described() -> None:
    assert error_code(b"<?xml?><Error><Code>NoSuchBucket</Code><Message>m</Message></Error>") == "NoSuchBucket"
    assert error_code(b"") == ""
    out = described({"content-length": "7", "etag": '"abc"', "x-amz-version-id": "v1",
                     "last-modified": "Fri, 04 Dec 2026 16:00:00 GMT"})
    assert (out["ContentLength"], out["ETag"], out["VersionId"]) == (7, '"abc"', "v1")
    assert out["LastModified"].timestamp() == 1796400000.0
    assert described({"last-modified": "garbage"}) == {"ContentLength": 0}


def test_timestamp_is_botocores(monkeypatch: pytest.MonkeyPatch) -> None:
    values = ["2026-12-05T19:20:37.000Z", "2026-12-05T19:20:37Z", "2026-12-05T19:20:37.123456789Z",
              "2026-12-05T21:20:37+02:00", "Sat, 05 Dec 2026 19:20:37 GMT", "Sat, 05 Dec 2026 21:20:37 +0200",
              "Sat, 05 Dec 2026 19:20:37 -0000", "2026-12-05T19:20:37", "1796400000", 1796400000]
    for v in values:
        got, want = s3mod.timestamp(v), parse_timestamp(v)
        assert got == want and (got.tzinfo is None) == (want.tzinfo is None), v
    with pytest.raises(ValueError):
        s3mod.timestamp("garbage")
    # S3's own forms never reach botocore's (dateutil) parser
    monkeypatch.setattr(s3mod, "parse_timestamp", lambda v: pytest.fail(f"slow parser for {v!r}"))
    assert s3mod.timestamp("2026-12-05T19:20:37.000Z").timestamp() == 1796498437.0
    assert s3mod.timestamp("Sat, 05 Dec 2026 19:20:37 GMT").timestamp() == 1796498437.0


def test_md5_from_etag() -> None:
    md5 = "0123456789abcdef0123456789abcdef"
    assert md5_from_etag(md5) == md5
    for etag in (f"{md5}-2", md5.upper(), md5[:-1], f"{md5}\n", "", "g" * 32):
        assert md5_from_etag(etag) == "", etag


@contextlib.asynccontextmanager
async def endpoint(handler: Callable[[web.Request], Awaitable[web.Response]],
                   ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A local aiohttp server answering every GET path with `handler`, as an S3 endpoint: its URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx).start()
    try:
        yield f"{'https' if ssl_ctx else 'http'}://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def test_signed_get_retries_transient_and_names_the_object() -> None:
    """Through libcurl against a plain aiohttp server as the S3 endpoint (an anonymous client:
    nothing to sign): a 503 is tried again and the second answer's body read; a refused
    endpoint is tried 1 + retries times and then names `s3://bucket/key`; NoSuchKey is a 404."""

    async def go() -> None:
        hits: list[str] = []

        async def handler(request: web.Request) -> web.Response:
            hits.append(request.path)
            if request.path.endswith("/flaky") and hits.count(request.path) == 1:
                return web.Response(status=503, body=b"<Error><Code>SlowDown</Code></Error>")
            if request.path.endswith("/missing"):
                return web.Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>")
            return web.Response(body=b"body of " + request.path.encode(), headers={"ETag": '"e1"'})

        async with endpoint(handler) as url:
            b = S3Backend(endpoint_url=url, anon=True, retries=2, addressing_style="path")
            async with b.open("bkt", "flaky") as (obj, body):
                assert (obj.etag, b"".join([c async for c in body])) == ("e1", b"body of /bkt/flaky")
            assert hits == ["/bkt/flaky", "/bkt/flaky"]
            with pytest.raises(ErrObjNotFound):
                async with b.open("bkt", "missing"):
                    pass
            assert hits[-1] == "/bkt/missing" and len(hits) == 3  # a 404 is not tried again
        with pytest.raises(ErrBackend, match=r's3://bkt/flaky.*cannot reach'):
            async with b.open("bkt", "flaky"):
                pass
        await b.aclose()

    asyncio.run(go())


def test_https_endpoint_trusts_aws_ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An S3 endpoint with its own CA: refused with the process's CAs, read with `AWS_CA_BUNDLE`."""
    ctx, cert = _self_signed(tmp_path)

    async def go() -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=b"over tls " + request.path.encode())

        async with endpoint(handler, ctx) as url:
            monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
            b = S3Backend(endpoint_url=url, anon=True, retries=0, addressing_style="path")
            with pytest.raises(ErrBackend, match="cannot reach"):
                async with b.open("bkt", "o"):
                    pass
            await b.aclose()
            monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
            b = S3Backend(endpoint_url=url, anon=True, retries=0, addressing_style="path")
            async with b.open("bkt", "o") as (_, body):
                assert b"".join([c async for c in body]) == b"over tls /bkt/o"
            await b.aclose()

    asyncio.run(go())


def test_a_started_get_reads_as_open_does() -> None:
    """`start_get` (the downloader's quick way) starts a GET without awaiting once an `open` made
    the bucket ready, signed with the client's credentials as `open`'s; `got` reads the same
    object from its reply, and the same typed error — without another request."""

    async def go() -> None:
        hits: list[tuple[str, str]] = []

        async def handler(request: web.Request) -> web.Response:
            hits.append((request.path, request.headers.get("Authorization", "")))
            if request.path.endswith("/missing"):
                return web.Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>")
            return web.Response(body=b"body of " + request.path.encode(), headers={"ETag": '"e1"', "x-amz-version-id": "v7"})

        async def ended(tr):  # type: ignore[no-untyped-def]
            done = asyncio.get_running_loop().create_future()
            tr.notify = lambda: done.set_result(None)
            await asyncio.wait_for(done, 10)
            return tr

        async with endpoint(handler) as url:
            b = S3Backend(endpoint_url=url, retries=2, addressing_style="path", key="AKID", secret="s3cret")
            assert b.start_get("bkt", "a") is None  # nothing known of the bucket yet
            async with b.open("bkt", "a") as (want, body):
                assert b"".join([c async for c in body]) == b"body of /bkt/a"
            tr = b.start_get("bkt", "a")
            assert tr is not None
            tr = await ended(tr)
            got = b.got("bkt", "a", tr)
            assert (got.name, got.size, got.etag, got.version) == (want.name, want.size, want.etag, want.version) == \
                ("a", 14, "e1", "v7")
            assert b"".join(tr.body()) == b"body of /bkt/a"
            assert [h[0] for h in hits] == ["/bkt/a", "/bkt/a"]
            assert all(h[1].startswith("AWS4-HMAC-SHA256 Credential=AKID/") for h in hits), hits
            tr = await ended(b.start_get("bkt", "missing"))
            with pytest.raises(ErrObjNotFound):
                b.got("bkt", "missing", tr)
            assert len(hits) == 3  # one GET of the missing object
        await b.aclose()

    asyncio.run(go())
