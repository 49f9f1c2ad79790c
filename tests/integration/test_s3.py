"""The S3 API at /s3 (issue 19) with boto3, as S3 users drive it: buckets, objects, listings, errors."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import LocalCluster


@pytest.fixture(scope="module")
def s3(cluster: LocalCluster) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=f"{cluster.endpoint}/s3", aws_access_key_id="any", aws_secret_access_key="any",
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                               retries={"max_attempts": 1}))


def new_bucket(s3: Any) -> str:
    name = f"s3-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def test_buckets(s3: Any, cluster: LocalCluster) -> None:
    name = new_bucket(s3)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert f"ais://{name}" in cluster.cli("ls").stdout  # the same bucket, natively
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.delete_bucket(Bucket=name)
    assert info.value.response["Error"]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.head_bucket(Bucket=name)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket=name)


def test_objects_put_get_range_head_delete(s3: Any, cluster: LocalCluster) -> None:
    name = new_bucket(s3)
    data = os.urandom(3 * 1024 * 1024 + 7)
    put = s3.put_object(Bucket=name, Key="dir/a b+c.bin", Body=data)
    assert put["ETag"]
    got = s3.get_object(Bucket=name, Key="dir/a b+c.bin")
    assert got["Body"].read() == data and got["ContentLength"] == len(data)
    assert got["ETag"] == put["ETag"] and got["LastModified"]
    # the mountpath is on this machine: sent from the file by the gateway, not relayed (target_reads.py)
    assert got["ResponseMetadata"]["HTTPHeaders"]["ais-location"].startswith("t[")
    part = s3.get_object(Bucket=name, Key="dir/a b+c.bin", Range="bytes=100-199")
    assert part["Body"].read() == data[100:200] and part["ContentRange"] == f"bytes 100-199/{len(data)}"
    with pytest.raises(s3.exceptions.ClientError) as bad_range:
        s3.get_object(Bucket=name, Key="dir/a b+c.bin", Range=f"bytes={len(data) + 5}-")
    assert bad_range.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    head = s3.head_object(Bucket=name, Key="dir/a b+c.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"] and head["LastModified"]
    # the same object through the native API: one engine
    assert hashlib.sha256(cluster.cli_bytes("get", f"ais://{name}/dir/a b+c.bin", "-")).digest() == \
        hashlib.sha256(data).digest()
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=name, Key="nope")
    s3.delete_object(Bucket=name, Key="dir/a b+c.bin")
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.head_object(Bucket=name, Key="dir/a b+c.bin")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_listings_v1_v2_delimiter_and_pages(s3: Any, cluster: LocalCluster) -> None:
    name = new_bucket(s3)
    keys = [f"a/{i:02d}" for i in range(7)] + ["b/x", "b/y/z", "top"]
    for k in keys:
        s3.put_object(Bucket=name, Key=k, Body=k.encode())
    v2 = s3.list_objects_v2(Bucket=name)
    assert [o["Key"] for o in v2["Contents"]] == sorted(keys) and v2["KeyCount"] == len(keys)
    assert {o["Key"]: o["Size"] for o in v2["Contents"]}["b/y/z"] == 5
    assert all(o["LastModified"].year >= 2026 for o in v2["Contents"])
    # to the millisecond, as S3 lists it (not the native listing's minutes): the object's own time
    for o in v2["Contents"][:3]:
        atime = int(requests.head(f"{cluster.endpoint}/v1/objects/{name}/{o['Key']}", params={"provider": "ais"},
                                  timeout=30, allow_redirects=True).headers["ais-atime"])
        assert o["LastModified"] == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=atime // 1_000_000)
    d = s3.list_objects_v2(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in d["CommonPrefixes"]] == ["a/", "b/"] and [o["Key"] for o in d["Contents"]] == ["top"]
    d = s3.list_objects_v2(Bucket=name, Prefix="b/", Delimiter="/")
    assert [p["Prefix"] for p in d["CommonPrefixes"]] == ["b/y/"] and [o["Key"] for o in d["Contents"]] == ["b/x"]
    d = s3.list_objects_v2(Bucket=name, Prefix="b", Delimiter="/")  # a prefix that is not a whole level
    assert [p["Prefix"] for p in d["CommonPrefixes"]] == ["b/"] and "Contents" not in d
    d = s3.list_objects_v2(Bucket=name, Prefix="b/y", Delimiter="/")
    assert [p["Prefix"] for p in d["CommonPrefixes"]] == ["b/y/"] and "Contents" not in d
    d = s3.list_objects_v2(Bucket=name, Prefix="t", Delimiter="/")
    assert "CommonPrefixes" not in d and [o["Key"] for o in d["Contents"]] == ["top"]
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=name, PaginationConfig={"PageSize": 3}))
    assert len(pages) == 4 and [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket=name, PaginationConfig={"PageSize": 4}))
    assert [o["Key"] for p in v1 for o in p.get("Contents", [])] == sorted(keys)
    # pages with a delimiter: a common prefix once, then on past everything under it
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=name, Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert [[p["Prefix"] for p in pg.get("CommonPrefixes", [])] + [o["Key"] for o in pg.get("Contents", [])]
            for pg in pages] == [["a/"], ["b/"], ["top"]]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name, StartAfter="a/03")["Contents"]] == \
        [k for k in sorted(keys) if k > "a/03"]
    gone = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "a/00"}, {"Key": "a/01"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in gone["Deleted"]) == ["a/00", "a/01", "never"]
    assert s3.list_objects_v2(Bucket=name, Prefix="a/")["KeyCount"] == 5


def test_a_remote_bucket_listed_through_the_s3_api(s3: Any, cluster: LocalCluster, moto: object) -> None:
    """A name the cluster knows as s3://<name> (a remote bucket, cached here in part): its listing is the
    remote's (no seek by name there), paged and folded by the delimiter the same way."""
    from ais_ray.core.names import Provider
    from tests.integration.remotes import REMOTES

    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    keys = [f"d{i % 3}/k{i:02d}" for i in range(12)] + ["top"]
    for k in keys:
        remote.seed(k, k.encode())
    cluster.cli("get", f"s3://{remote.bucket}/top", "-")  # the cluster knows the bucket now (one object cached)
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=remote.bucket, PaginationConfig={"PageSize": 5}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys) and len(pages) == 3
    # an object not cached here is listed with the remote's own time, not the epoch
    assert all(o["LastModified"].year >= 2026 for p in pages for o in p["Contents"])
    d = list(s3.get_paginator("list_objects_v2").paginate(Bucket=remote.bucket, Delimiter="/",
                                                          PaginationConfig={"PageSize": 2}))
    assert [[p["Prefix"] for p in pg.get("CommonPrefixes", [])] + [o["Key"] for o in pg.get("Contents", [])]
            for pg in d] == [["d0/", "d1/"], ["d2/", "top"]]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=remote.bucket, StartAfter="d1/k07")["Contents"]] == \
        [k for k in sorted(keys) if k > "d1/k07"]


def test_copy_object(s3: Any) -> None:
    src, dst = new_bucket(s3), new_bucket(s3)
    s3.put_object(Bucket=src, Key="o", Body=b"copy me")
    r = s3.copy_object(Bucket=dst, Key="o2", CopySource={"Bucket": src, "Key": "o"})
    assert r["CopyObjectResult"]["ETag"]
    assert s3.get_object(Bucket=dst, Key="o2")["Body"].read() == b"copy me"


def test_multipart_upload_and_abort(s3: Any, tmp_path: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    name = new_bucket(s3)
    data = os.urandom(22 * 1024 * 1024 + 5)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=3)
    s3.upload_file(str(src), name, "big.bin", Config=cfg)  # 5 parts, 3 at a time
    head = s3.head_object(Bucket=name, Key="big.bin")
    listed = s3.list_objects_v2(Bucket=name)["Contents"][0]
    assert head["ContentLength"] == len(data) == listed["Size"] and head["ETag"] == listed["ETag"]
    assert s3.get_object(Bucket=name, Key="big.bin")["Body"].read() == data
    assert s3.get_object(Bucket=name, Key="big.bin", Range="bytes=10485760-10485769")["Body"].read() == \
        data[10485760:10485770]
    # an aborted upload leaves nothing; completing it afterwards is NoSuchUpload
    up = s3.create_multipart_upload(Bucket=name, Key="never")["UploadId"]
    etag = s3.upload_part(Bucket=name, Key="never", UploadId=up, PartNumber=1, Body=b"x" * 100)["ETag"]
    s3.abort_multipart_upload(Bucket=name, Key="never", UploadId=up)
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.complete_multipart_upload(Bucket=name, Key="never", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert info.value.response["Error"]["Code"] == "NoSuchUpload"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])] == ["big.bin"]


def tool_runner(env: dict[str, str]) -> Any:
    """run(*cmd) -> stdout, asserting the tool succeeded (the aws CLI, s5cmd: test_s3_auth.py too)."""

    def run(*cmd: str) -> str:
        p = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    return run


def test_aws_cli_and_s5cmd(cluster: LocalCluster, tmp_path: Path) -> None:
    """The tools users reach for, with nothing but the endpoint: multipart up, ranged parallel down."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
    endpoint = f"{cluster.endpoint}/s3"
    run = tool_runner(env)

    name = f"s3-{uuid.uuid4().hex[:8]}"
    data = os.urandom(20_000_000)
    (tmp_path / "big.bin").write_bytes(data)
    aws = [str(bin_dir / "aws"), "--endpoint-url", endpoint, "s3"]
    run(*aws, "mb", f"s3://{name}")
    run(*aws, "cp", str(tmp_path / "big.bin"), f"s3://{name}/big.bin")  # 8 MiB parts: multipart
    run(*aws, "cp", f"s3://{name}/big.bin", str(tmp_path / "aws.out"))
    assert (tmp_path / "aws.out").read_bytes() == data
    assert "20000000 big.bin" in run(*aws, "ls", f"s3://{name}")
    s5 = [str(bin_dir / "s5cmd"), "--endpoint-url", endpoint]
    run(*s5, "cp", str(tmp_path / "big.bin"), f"s3://{name}/s5/big.bin")
    (tmp_path / "out").mkdir()
    run(*s5, "cp", f"s3://{name}/*", str(tmp_path / "out") + "/")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data
    assert (tmp_path / "out" / "s5" / "big.bin").read_bytes() == data


def test_s3fs_and_pyarrow_read_parquet(s3: Any, cluster: LocalCluster) -> None:
    """What pandas, pyarrow and Ray Data do underneath: s3fs (ranged reads) at the endpoint."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    import s3fs

    name = new_bucket(s3)
    table = pa.table({"id": list(range(1000)), "name": [f"row-{i}" for i in range(1000)]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    s3.put_object(Bucket=name, Key="t/part-0.parquet", Body=buf.getvalue())
    fs = s3fs.S3FileSystem(key="x", secret="x", client_kwargs={"endpoint_url": f"{cluster.endpoint}/s3",
                                                                "region_name": "us-east-1"})
    assert fs.ls(f"{name}/t") == [f"{name}/t/part-0.parquet"]
    assert pq.read_table(f"{name}/t/part-0.parquet", filesystem=fs).equals(table)
    with fs.open(f"{name}/t/new.txt", "wb") as f:
        f.write(b"written through s3fs")
    assert s3.get_object(Bucket=name, Key="t/new.txt")["Body"].read() == b"written through s3fs"


def test_s3_gets_sent_from_the_file_are_counted_at_their_target(s3: Any, cluster: LocalCluster) -> None:
    """A GET the gateway sends from the owning mountpath's file is that target's GET: `get.n` and
    `get.size` there move by exactly the GETs done (before, they were counted nowhere)."""
    from tests.integration.test_stats import node_status, settled_status, tracked
    from tests.integration.test_target_reads import owner

    name = new_bucket(s3)
    data = os.urandom(100_003)
    s3.put_object(Bucket=name, Key="counted", Body=data)
    tid, _ = owner(cluster, name, "counted")
    before = settled_status(cluster, tid)
    for _ in range(5):
        got = s3.get_object(Bucket=name, Key="counted")
        assert got["Body"].read() == data and got["ResponseMetadata"]["HTTPHeaders"]["ais-location"].startswith(f"t[{tid}]")
    deadline = time.monotonic() + 20
    while (n := tracked(node_status(cluster, tid), "get.n") - tracked(before, "get.n")) < 5:
        assert time.monotonic() < deadline, f"{tid} counted {n} of the 5 S3 GETs"
        time.sleep(0.3)
    after = node_status(cluster, tid)
    assert tracked(after, "get.n") - tracked(before, "get.n") == 5
    assert tracked(after, "get.size") - tracked(before, "get.size") == 5 * len(data)
