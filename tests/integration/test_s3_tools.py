"""The S3 API as more tools drive it (issue 19): virtual-host addressing, rclone, pandas and Ray Data
reading parquet, a 200 MiB multipart upload read back with ranged GETs."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import LocalCluster
from tests.integration.test_s3 import new_bucket, s3  # noqa: F401 - the module's boto3 client fixture

MiB = 1024 * 1024


def test_virtual_host_addressing(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    """`Host: <bucket>.localhost`: the bucket comes from the Host (127.0.0.1 cannot carry one, and
    *.localhost does not resolve here: the requests go to 127.0.0.1 with the Host set)."""
    import boto3
    from botocore.config import Config

    name = new_bucket(s3)
    s3.put_object(Bucket=name, Key="dir/v.txt", Body=b"virtual")
    host = f"{name}.localhost:{cluster.port}"
    r = requests.get(f"{cluster.endpoint}/s3/dir/v.txt", headers={"Host": host}, timeout=30)
    assert r.status_code == 200 and r.content == b"virtual"
    r = requests.get(f"{cluster.endpoint}/s3/", params={"list-type": "2"}, headers={"Host": host}, timeout=30)
    assert r.status_code == 200 and b"<Key>dir/v.txt</Key>" in r.content
    r = requests.get(f"{cluster.endpoint}/s3/", headers={"Host": f"localhost:{cluster.port}"}, timeout=30)
    assert r.status_code == 200 and b"ListAllMyBucketsResult" in r.content  # plain localhost: path style

    vs3 = boto3.client("s3", endpoint_url=f"http://localhost:{cluster.port}/s3", aws_access_key_id="x",
                       aws_secret_access_key="x", region_name="us-east-1",
                       config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))

    def to_loopback(request: Any, **_: Any) -> None:  # connect to 127.0.0.1, keep the signed Host
        url = request.url
        netloc = url.split("/")[2]
        assert netloc.startswith(f"{name}.localhost")
        request.headers["Host"] = netloc
        request.url = url.replace(netloc, f"127.0.0.1:{cluster.port}", 1)

    vs3.meta.events.register("before-send.s3", to_loopback)
    vs3.put_object(Bucket=name, Key="vk", Body=b"from a virtual-host client")
    assert vs3.get_object(Bucket=name, Key="vk")["Body"].read() == b"from a virtual-host client"
    assert sorted(o["Key"] for o in vs3.list_objects_v2(Bucket=name)["Contents"]) == ["dir/v.txt", "vk"]
    assert s3.get_object(Bucket=name, Key="vk")["Body"].read() == b"from a virtual-host client"


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not installed (scripts/install-rclone.sh)")
def test_rclone_copy_both_ways(s3: Any, cluster: LocalCluster, tmp_path: Path) -> None:  # noqa: F811
    name = new_bucket(s3)
    src = tmp_path / "src"
    files = {"a.bin": os.urandom(3 * MiB + 1), "sub/b.txt": b"hello rclone", "sub/deeper/c.bin": os.urandom(70_000),
             "empty": b""}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"""[ais-s3]
type = s3
provider = Other
access_key_id = x
secret_access_key = x
region = us-east-1
endpoint = {cluster.endpoint}/s3
force_path_style = true
""")

    def rclone(*args: str) -> None:
        # a plain-http endpoint: no CA bundle (rclone's S3 client fails on one set for its transport)
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        p = subprocess.run(["rclone", "--config", str(conf), "--retries", "1", *args], capture_output=True,
                           text=True, timeout=300, env=env)
        assert p.returncode == 0, p.stdout + p.stderr

    rclone("copy", str(src), f"ais-s3:{name}/dir")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]) == sorted(f"dir/{k}" for k in files)
    rclone("copy", f"ais-s3:{name}/dir", str(tmp_path / "back"))
    for rel, data in files.items():
        assert (tmp_path / "back" / rel).read_bytes() == data, rel
    rclone("check", str(src), f"ais-s3:{name}/dir", "--size-only")


def test_pandas_and_ray_data_read_parquet(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    import pandas as pd

    name = new_bucket(s3)
    df = pd.DataFrame({"id": range(500), "name": [f"row-{i}" for i in range(500)]})
    for i in range(2):
        buf = io.BytesIO()
        df.iloc[i * 250:(i + 1) * 250].to_parquet(buf, index=False)
        s3.put_object(Bucket=name, Key=f"t/part-{i}.parquet", Body=buf.getvalue())
    opts = {"key": "x", "secret": "x", "client_kwargs": {"endpoint_url": f"{cluster.endpoint}/s3",
                                                         "region_name": "us-east-1"}}
    got = pd.read_parquet(f"s3://{name}/t/part-0.parquet", storage_options=opts)
    assert got.equals(df.iloc[:250].reset_index(drop=True))

    import pyarrow.fs
    import ray

    fs = pyarrow.fs.S3FileSystem(access_key="x", secret_key="x", region="us-east-1", scheme="http",
                                 endpoint_override=f"127.0.0.1:{cluster.port}/s3")
    ds = ray.data.read_parquet(f"{name}/t/", filesystem=fs)
    rows = sorted(r["id"] for r in ds.take_all())
    assert rows == list(range(500))


def test_200mib_multipart_and_ranged_gets(s3: Any, tmp_path: Path) -> None:  # noqa: F811
    """The issue's size: a 200 MiB file up in 16 MiB parts, back whole and in ranges, byte-equal."""
    from boto3.s3.transfer import TransferConfig

    name = new_bucket(s3)
    src = tmp_path / "200m.bin"
    block = os.urandom(MiB)
    with open(src, "wb") as f:
        for i in range(200):
            f.write(block[i:] + block[:i])  # 200 distinct MiBs
    data = src.read_bytes()
    cfg = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4)
    s3.upload_file(str(src), name, "big", Config=cfg)
    assert s3.head_object(Bucket=name, Key="big")["ContentLength"] == 200 * MiB
    for start, end in ((0, 99), (16 * MiB - 10, 16 * MiB + 10), (123_456_789, 123_456_789 + 5 * MiB),
                       (200 * MiB - 7, 200 * MiB - 1)):
        got = s3.get_object(Bucket=name, Key="big", Range=f"bytes={start}-{end}")["Body"].read()
        assert got == data[start:end + 1], (start, end)
    out = tmp_path / "back.bin"
    s3.download_file(name, "big", str(out), Config=cfg)  # parallel ranged GETs
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    s3.delete_object(Bucket=name, Key="big")
