"""Real emulators, started once per session, and one event loop shared by every backend test.

The loop is an `asyncio.Runner` (no pytest-asyncio): backends are cached per loop, as they
are in an actor, so the tests exercise the same reuse of clients and connections.
Objects are seeded with each provider's own sync SDK, so reads are checked against data
our backends did not write.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ais_ray.backends import Backend, close_backends, get_backend
from ais_ray.core.names import Provider
from ais_ray.testing.emulators import Azurite, FakeGcsServer, MotoServer, closed_port
from ais_ray.testing.httpsrc import HttpSrc

T = TypeVar("T")
Run = Callable[[Awaitable[T]], T]


@pytest.fixture(scope="session")
def arun() -> Iterator[Run[Any]]:
    """Run a coroutine on the session's one event loop."""
    with asyncio.Runner() as runner:
        yield runner.run
        runner.run(close_backends())


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def gcs() -> Iterator[FakeGcsServer]:
    with FakeGcsServer(backend="memory") as server:  # memory keeps generations
        yield server


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite(in_memory=True) as server:  # installs the node tools first if missing
        yield server


@pytest.fixture(scope="session")
def httpsrc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpSrc]:
    with HttpSrc(tmp_path_factory.mktemp("httpsrc")) as server:
        yield server


@pytest.fixture()
def http_files(httpsrc: HttpSrc) -> Iterator[HttpSrc]:
    """The session's HTTP source with no faults and zeroed counters, restored after the test."""
    from ais_ray.testing.httpsrc import Faults

    httpsrc.faults = Faults()
    httpsrc.reset()
    yield httpsrc
    httpsrc.faults = Faults()


@dataclass
class Remote:
    """One provider's emulator, a bucket in it, and a way to seed objects without our code."""

    provider: Provider
    scheme: str
    config: dict[str, Any]
    bucket: str
    seed: Callable[[str, bytes], None]
    versioned: bool
    endpoint: str

    run: Run[Any]

    @property
    def backend(self) -> Backend:
        """The loop's shared backend (`get_backend` must run inside the loop, as in an actor)."""
        return self.run(_aget(self.provider, self.config))

    def unreachable(self) -> Backend:
        """The same backend config, pointed at a port nothing listens on."""
        text = json.dumps(self.config).replace(self.endpoint, f"http://127.0.0.1:{closed_port()}")
        return self.run(_aget(self.provider, json.loads(text)))


async def _aget(provider: Provider, config: dict[str, Any]) -> Backend:
    return get_backend(provider, config)


def _s3_remote(moto: MotoServer, run: Run[Any]) -> Remote:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    bucket = f"ais-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return Remote(Provider.AWS, "s3", moto.config(), bucket,
                  lambda name, data: s3.put_object(Bucket=bucket, Key=name, Body=data), versioned=True,
                  endpoint=moto.endpoint, run=run)


def _gcs_remote(gcs: FakeGcsServer, run: Run[Any]) -> Remote:
    bucket = f"ais-{uuid.uuid4().hex[:8]}"
    _post(f"{gcs.endpoint}/storage/v1/b?project=test", json.dumps({"name": bucket}).encode(), "application/json")

    def seed(name: str, data: bytes) -> None:
        q = urllib.parse.quote(name, safe="")
        _post(f"{gcs.endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={q}", data,
              "application/octet-stream")

    return Remote(Provider.GCP, "gs", gcs.config(), bucket, seed, versioned=True, endpoint=gcs.endpoint, run=run)


def _azure_remote(azurite: Azurite, run: Run[Any]) -> Remote:
    from azure.storage.blob import BlobServiceClient

    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    bucket = f"ais-{uuid.uuid4().hex[:8]}"
    svc.create_container(bucket)
    return Remote(Provider.AZURE, "az", azurite.config(), bucket,
                  lambda name, data: svc.get_blob_client(bucket, name).upload_blob(data, overwrite=True),
                  versioned=False, endpoint=azurite.endpoint, run=run)


def _post(url: str, data: bytes, content_type: str) -> None:
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


# provider -> (make a Remote with a new bucket, name of the emulator's fixture)
REMOTES: dict[Provider, tuple[Callable[[Any, Run[Any]], Remote], str]] = {
    Provider.AWS: (_s3_remote, "moto"), Provider.GCP: (_gcs_remote, "gcs"), Provider.AZURE: (_azure_remote, "azurite"),
}


def make_remote(request: pytest.FixtureRequest, provider: Provider) -> tuple[Any, Remote]:
    """(the provider's session emulator, a Remote with a new bucket in it)."""
    factory, fixture = REMOTES[provider]
    server = request.getfixturevalue(fixture)
    return server, factory(server, request.getfixturevalue("arun"))


@pytest.fixture(scope="session", params=[Provider.AWS, Provider.GCP, Provider.AZURE], ids=lambda p: p.value)
def remote(request: pytest.FixtureRequest) -> Remote:
    """Each cloud provider in turn, against its emulator (one bucket per provider per session)."""
    return make_remote(request, request.param)[1]


def write_file(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
