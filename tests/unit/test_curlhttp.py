"""The downloader's libcurl transfers (`backends/curlhttp.py`) against a real aiohttp server on
127.0.0.1: bodies and headers, redirects, the address policy on every hop, back-pressure, a
transfer dropped half-read, failures as typed errors, custom headers, https with the process's CA."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from ais_ray.backends.curlhttp import HIGH_WATER, RECV_BUFFER, CurlLinks
from ais_ray.backends.guard import ErrSourceRefused
from ais_ray.core.errors import ErrBackend, ErrInvalidURL
from ais_ray.core.netpolicy import NetPolicy
from ais_ray.jobs.dl_source import Sources

BIG = os.urandom(8 << 20)
SMALL = os.urandom(64 << 10)
METADATA_URL = "http://169.254.169.254/latest/meta-data/iam"


class Server:
    def __init__(self) -> None:
        self.peers: list[object] = []  # the client's (address, port) of every request: its connection

    def app(self) -> web.Application:
        async def note(request: web.Request) -> None:
            self.peers.append(request.transport.get_extra_info("peername") if request.transport else None)

        async def ok(request: web.Request) -> web.Response:
            await note(request)
            return web.Response(body=SMALL, headers={"ETag": '"e-small"'})

        async def hop(request: web.Request) -> web.Response:
            await note(request)
            return web.Response(status=302, body=b"not this body", headers={"Location": "/ok"})

        async def meta_hop(_: web.Request) -> web.Response:
            raise web.HTTPFound(METADATA_URL)

        async def echo(request: web.Request) -> web.Response:
            return web.Response(body=request.headers.get("X-Test", "-").encode())

        async def big(request: web.Request) -> web.StreamResponse:
            await note(request)
            resp = web.StreamResponse(headers={"Content-Length": str(len(BIG)), "Last-Modified": "Sat, 05 Dec 2026 10:00:00 GMT"})
            await resp.prepare(request)
            for i in range(0, len(BIG), 1 << 20):
                await resp.write(BIG[i:i + (1 << 20)])
            return resp

        async def reset(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Length": str(len(BIG))})
            await resp.prepare(request)
            await resp.write(BIG[:100_000])
            assert request.transport is not None
            request.transport.abort()
            return resp

        async def close(request: web.Request) -> web.Response:
            await note(request)
            return web.Response(body=SMALL, headers={"Connection": "close"})

        app = web.Application()
        app.router.add_get("/ok", ok)
        app.router.add_get("/close", close)
        app.router.add_get("/hop", hop)
        app.router.add_get("/meta-hop", meta_hop)
        app.router.add_get("/echo", echo)
        app.router.add_get("/big", big)
        app.router.add_get("/reset", reset)
        return app


def serve(body: Callable[[Server, str], Awaitable[None]], ssl_ctx: ssl.SSLContext | None = None) -> None:
    async def main() -> None:
        srv = Server()
        runner = web.AppRunner(srv.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        port = runner.addresses[0][1]
        try:
            await body(srv, f"{'https' if ssl_ctx else 'http'}://127.0.0.1:{port}")
        finally:
            await runner.cleanup()

    asyncio.run(main())


@contextlib.asynccontextmanager
async def sources(policy: NetPolicy | None = None) -> AsyncIterator[Sources]:
    src = Sources(policy=policy if policy is not None else NetPolicy())
    try:
        yield src
    finally:
        await src.aclose()


async def read_all(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


def test_get_head_and_a_followed_redirect() -> None:
    async def body(srv: Server, base: str) -> None:
        src = Sources(policy=NetPolicy())
        try:
            async with src.open(f"{base}/ok", {}, 0) as (meta, chunks):
                assert (meta.size, meta.etag) == (len(SMALL), "e-small")
                assert await read_all(chunks) == SMALL
            async with src.open(f"{base}/hop", {}, 0) as (meta, chunks):  # the redirect's own body is not the object
                assert await read_all(chunks) == SMALL and meta.size == len(SMALL)
            meta = await src.head(f"{base}/big", {}, 0)
            assert (meta.size, meta.etag) == (len(BIG), "lm:Sat, 05 Dec 2026 10:00:00 GMT")
            assert len(set(srv.peers)) == 1  # one kept-alive connection for all of them (the HEAD too)
        finally:
            await src.aclose()
        async with src.open(f"{base}/ok", {}, 0) as (_meta, chunks):  # closed, then used again: starts afresh
            assert await read_all(chunks) == SMALL
        await src.aclose()

    serve(body)


def test_the_policy_refuses_before_connecting_on_every_hop() -> None:
    async def body(_: Server, base: str) -> None:
        async with sources() as src:
            with pytest.raises(ErrSourceRefused, match="metadata"):
                async with src.open(f"{base}/meta-hop", {}, 5):  # a redirect to the metadata service
                    pass
            with pytest.raises(ErrSourceRefused, match="metadata"):
                await src.head(METADATA_URL, {}, 5)
        async with sources(NetPolicy.parse("default,loopback")) as strict:
            for url in (f"{base}/ok", base.replace("127.0.0.1", "localhost") + "/ok"):  # literal and by name
                with pytest.raises(ErrSourceRefused, match="loopback"):
                    async with strict.open(url, {}, 5):
                        pass

    serve(body)


def test_a_slow_reader_pauses_the_transfer() -> None:
    """Back-pressure: a reader that takes its time never has more than HIGH_WATER (plus one
    receive buffer) waiting, and gets every byte in order. A paused transfer is the reader's
    doing, not a stalled source: the idle bound does not end it (a rate-limited job's case)."""

    async def body(_: Server, base: str) -> None:
        links = CurlLinks(NetPolicy(), read_idle=1)
        try:
            tr = links.get(f"{base}/big", {}, 30)
            status, headers = await tr.response()
            assert status == 200 and headers["content-length"] == str(len(BIG))
            got = bytearray()
            largest = 0
            async for chunk in tr:
                largest = max(largest, len(chunk))
                got += chunk
                # the server could send all 8 MiB meanwhile; once, a pause longer than the idle bound
                await asyncio.sleep(1.6 if len(got) == len(chunk) else 0.02)
            assert bytes(got) == BIG
            assert largest <= HIGH_WATER + RECV_BUFFER, largest
            assert len(got) // largest >= 4  # it was paused, not buffered whole
        finally:
            await links.aclose()

    serve(body)


def test_a_transfer_dropped_half_read_does_not_spoil_the_next() -> None:
    async def body(srv: Server, base: str) -> None:
        links = CurlLinks(NetPolicy(), read_idle=5)
        try:
            tr = links.get(f"{base}/big", {}, 30)
            await tr.response()
            await tr.__anext__()
            tr.close()  # half-read: its connection goes with it
            tr = links.get(f"{base}/ok", {}, 30)
            await tr.response()
            assert await read_all(tr) == SMALL
            assert srv.peers[0] != srv.peers[1]  # a fresh connection, not the half-read one
            assert not links._active
        finally:
            await links.aclose()

    serve(body)


def test_sockets_closed_and_their_numbers_reused_on_the_same_loop() -> None:
    """Connections closed after every reply (`Connection: close`) beside kept ones, many at once:
    each closed socket's number is taken again at once — by libcurl's next connection or by the
    server's next accepted one, on this same loop — and every transfer still reads its body; at
    the end nothing is left watched."""

    async def body(srv: Server, base: str) -> None:
        links = CurlLinks(NetPolicy(), read_idle=5)

        async def one(path: str) -> bytes:
            tr = links.get(f"{base}{path}", {}, 30)
            await tr.response()
            return await read_all(tr)

        try:
            for _ in range(4):
                got = await asyncio.gather(*(one("/close" if i % 2 else "/ok") for i in range(40)))
                assert all(g == SMALL for g in got)
            assert len(set(srv.peers)) > 80  # the closed ones' connections were new every time
            assert not links._active and not links._fds
        finally:
            await links.aclose()

    serve(body)


def test_failures_are_typed_errors() -> None:
    async def body(_: Server, base: str) -> None:
        async with sources() as src:
            with pytest.raises(ErrBackend, match="broke off"):
                async with src.open(f"{base}/reset", {}, 30) as (_meta, chunks):
                    await read_all(chunks)
            with pytest.raises(ErrBackend, match="cannot reach"):
                async with src.open("http://127.0.0.1:1/x", {}, 30):
                    pass
            with pytest.raises(ErrInvalidURL):
                async with src.open("http://127.0.0.1:99999/x", {}, 30):  # no such port
                    pass
            async with src.open(f"{base}/nope", {}, 30):
                raise AssertionError("a 404 opens nothing")

    with pytest.raises(Exception, match="does not exist"):
        serve(body)


def test_the_jobs_headers_go_with_every_request() -> None:
    async def body(_: Server, base: str) -> None:
        async with sources() as src:
            for value in ("one", "two", None):
                headers = {"X-Test": value} if value else {}
                async with src.open(f"{base}/echo", headers, 30) as (_meta, chunks):
                    assert await read_all(chunks) == (value or "-").encode()

    serve(body)


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = tmp / "cert.pem", tmp / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_pem, key_pem)
    return ctx, cert_pem


def test_https_trusts_what_the_process_trusts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, cert = _self_signed(tmp_path)

    async def body(_: Server, base: str) -> None:
        async with sources() as untrusted:  # the system's CAs: not this server's
            with pytest.raises(ErrBackend, match="cannot reach"):
                async with untrusted.open(f"{base}/ok", {}, 30):
                    pass
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        async with sources() as trusted:
            async with trusted.open(f"{base}/ok", {}, 30) as (meta, chunks):
                assert await read_all(chunks) == SMALL and meta.etag == "e-small"

    serve(body, ctx)
