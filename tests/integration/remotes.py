"""A bucket in each cloud emulator, seeded with the provider's own SDK (not our code)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ais_ray.backends import Backend, get_backend
from ais_ray.core.names import Provider
from ais_ray.testing.emulators import Azurite, FakeGcsServer, MotoServer, closed_port

T = TypeVar("T")
Run = Callable[[Awaitable[T]], T]


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


def s3_bucket_of_keys(moto: MotoServer, prefix: str, count: int) -> tuple[str, list[str]]:
    """A new moto bucket `<prefix>-<random>` holding `count` objects `k0000`… (each its own name as
    its bytes): more than one listing page from 1,001 on. Returns (bucket, keys)."""
    import boto3
    from concurrent.futures import ThreadPoolExecutor

    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    bucket = f"{prefix}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    keys = [f"k{i:04d}" for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    return bucket, keys
