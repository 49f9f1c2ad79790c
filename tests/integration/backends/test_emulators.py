"""The emulators other tests do not use every session: s3rver, fake-gcs-server on disk."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import pytest

from ais_ray.backends import new_backend
from ais_ray.core.names import Provider
from ais_ray.testing.emulators import FakeGcsServer, S3rver
from tests.integration.backends.conftest import Run, make_remote


async def roundtrip(provider: Provider, config: dict[str, Any], bucket: str) -> tuple[int, bytes, list[str]]:
    b = new_backend(provider, config)
    try:
        data = os.urandom(3 << 20)
        await b.put_object(bucket, "dir/obj", data)
        head = await b.head_object(bucket, "dir/obj")
        got = b"".join([c async for c in b.read(bucket, "dir/obj", (1, 5))])
        assert got == data[1:6]
        names = [e.name for e in (await b.list_objects(bucket, "dir/")).entries]
        return head.size, got, names
    finally:
        await b.aclose()


def test_s3rver_with_a_stale_ca_bundle(arun: Run[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # A CA bundle that does not exist must not matter for a plain-http endpoint (gotcha #7).
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem")
    with S3rver(buckets=("ais-s3rver",)) as s3:
        assert s3.config()["key"] == "S3RVER"  # the only key s3rver knows
        size, _, names = arun(roundtrip(Provider.AWS, s3.config(), "ais-s3rver"))
    assert (size, names) == (3 << 20, ["dir/obj"])


def test_fake_gcs_filesystem_backend(arun: Run[Any]) -> None:
    with FakeGcsServer(backend="filesystem") as gcs:
        req = urllib.request.Request(f"{gcs.endpoint}/storage/v1/b?project=test", method="POST",
                                     data=json.dumps({"name": "ais-fs"}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
        size, _, names = arun(roundtrip(Provider.GCP, gcs.config(), "ais-fs"))
        assert any(gcs.data_dir.rglob("*"))  # it really is on disk
    assert (size, names) == (3 << 20, ["dir/obj"])


@pytest.mark.parametrize("provider", [Provider.AWS, Provider.GCP, Provider.AZURE], ids=lambda p: p.value)
def test_env_alone_points_backends_at_emulators(provider: Provider, request: pytest.FixtureRequest,
                                                arun: Run[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each emulator's `env()` is all a backend needs when no explicit config is given."""
    server, remote = make_remote(request, provider)
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)

    async def head() -> None:
        b = new_backend(provider)  # no config: the SDK's usual environment
        try:
            await b.head_bucket(remote.bucket)
        finally:
            await b.aclose()

    arun(head())
