"""The providers' own SDKs for `bench_remote.py`: upload the object to each emulator, then one plain read each.

Each reader is what a user of that SDK writes for one object, at the SDK's defaults, and drops
the bytes into a `Sink` (no disk): boto3 `get_object` streamed in 1 MiB chunks,
google-cloud-storage `download_to_file` (one GET, crc32c checked), azure-storage-blob
`download_blob().chunks()` (one connection, 32 MiB first GET then 4 MiB ranges in sequence).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1 << 20


class Sink:
    """A binary file object that counts what is written and keeps nothing."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, b: bytes) -> int:
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        pass


def _make_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 * MIB)
            f.write(os.urandom(n))
            left -= n


def make_sdks(path: Path, size: int, key: str, s3: Any, gcs: Any, az: Any) -> dict[str, Callable[[Sink], int]]:
    """Write a `size`-byte file, upload it as bench/`key` to each emulator; return a reader per provider."""
    import boto3
    from azure.storage.blob import BlobServiceClient
    from botocore.config import Config
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    _make_file(path, size)
    s3c = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
                       aws_secret_access_key=s3.access_key, region_name="us-east-1",
                       config=Config(s3={"addressing_style": "path"}, max_pool_connections=4))
    s3c.upload_file(str(path), "bench", key)

    gcsc = storage.Client(project="test", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": gcs.endpoint})
    gbck = gcsc.create_bucket("bench")
    gbck.blob(key).upload_from_filename(str(path))

    azc = BlobServiceClient.from_connection_string(az.connection_string)
    ctr = azc.create_container("bench")
    with open(path, "rb") as f:
        ctr.upload_blob(key, f, overwrite=True, max_concurrency=2)
    path.unlink()

    def read_s3(sink: Sink) -> int:
        body = s3c.get_object(Bucket="bench", Key=key)["Body"]
        for chunk in body.iter_chunks(MIB):
            sink.write(chunk)
        return sink.n

    def read_gcs(sink: Sink) -> int:
        gbck.blob(key).download_to_file(sink)
        return sink.n

    def read_azure(sink: Sink) -> int:
        for chunk in ctr.get_blob_client(key).download_blob(max_concurrency=1).chunks():
            sink.write(chunk)
        return sink.n

    return {"s3": read_s3, "gcp": read_gcs, "azure": read_azure}
