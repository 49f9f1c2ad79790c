"""Outbound safety (issue 15 item 11): download sources may not reach metadata / link-local
addresses (by default) — checked on every connection, redirects included.

No packet is ever sent to a non-loopback address here: the guard refuses before connecting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import requests
from aiohttp import web

from ais_ray.backends.guard import ErrSourceRefused, GuardedConnector
from ais_ray.core.names import http_bucket
from ais_ray.core.netpolicy import NetPolicy
from tests.integration.conftest import LocalCluster
from tests.integration.test_download import new_bucket, start, wait

METADATA_URL = "http://169.254.169.254/latest/meta-data/iam"


async def _server() -> tuple[web.AppRunner, str]:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(body=b"fine")

    async def hop(_: web.Request) -> web.Response:
        raise web.HTTPFound(METADATA_URL)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/hop", hop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture()
def loop() -> AsyncIterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def test_connector_checks_every_hop(loop: asyncio.AbstractEventLoop) -> None:
    async def go() -> None:
        runner, base = await _server()
        try:
            async with aiohttp.ClientSession(connector=GuardedConnector(NetPolicy())) as s:
                async with s.get(f"{base}/ok") as r:
                    assert await r.read() == b"fine"  # loopback: allowed by default
                with pytest.raises(ErrSourceRefused, match="metadata"):
                    async with s.get(f"{base}/hop"):  # a redirect to the metadata service
                        pass
                with pytest.raises(ErrSourceRefused):
                    async with s.get(METADATA_URL):
                        pass
            strict = NetPolicy.parse("default,loopback")
            async with aiohttp.ClientSession(connector=GuardedConnector(strict)) as s:
                for url in (f"{base}/ok", base.replace("127.0.0.1", "localhost") + "/ok"):  # literal and by name
                    with pytest.raises(ErrSourceRefused, match="loopback"):
                        async with s.get(url):
                            pass
        finally:
            await runner.cleanup()

    loop.run_until_complete(go())


def test_download_and_http_bucket_refuse_the_metadata_service(cluster: LocalCluster) -> None:
    b = new_bucket()
    job = start(cluster, type="single", bucket={"name": b}, link=METADATA_URL, object_name="creds")
    st = wait(cluster, job)
    assert st["error_cnt"] == 1, st
    assert "refused" in st["download_errors"][0]["error"]
    ht, _, name = http_bucket(METADATA_URL)
    r = requests.get(f"{cluster.endpoint}/v1/objects/{ht.name}/{name}",
                     params={"provider": "ht", "original_url": METADATA_URL})
    assert r.status_code == 403, (r.status_code, r.text)
    assert "refused" in r.json()["message"]


def test_up_rejects_an_unknown_category(cluster: LocalCluster, tmp_path: object) -> None:
    p = cluster.cli("up", "--data-dir", str(tmp_path), "--download-deny", "default,loopbak", check=False)
    assert p.returncode == 1 and p.stderr.startswith("error: invalid download address category \"loopbak\"")
