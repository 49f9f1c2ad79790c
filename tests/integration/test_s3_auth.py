"""The S3 API with auth on (issue 19): SigV4 signatures checked with the keys `ais-ray auth s3-key`
issues, presigned URLs and their expiry, access levels; unsigned requests refused.

A cluster of its own (1 target x 1 mountpath), started with `--auth` for this module only.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.integration.conftest import LocalCluster
from tests.integration.test_s3 import tool_runner


def s3_key(c: LocalCluster, *args: str) -> tuple[str, str]:
    out = c.cli("auth", "s3-key", "--data-dir", c.data_dir, *args).stdout
    env = dict(line.split("=", 1) for line in out.split())
    return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]


def client(c: LocalCluster, key_id: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=f"{c.endpoint}/s3", aws_access_key_id=key_id, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                               retries={"max_attempts": 1}))


def code(exc: Any) -> str:
    return exc.value.response["Error"]["Code"]


def test_sigv4_keys_and_access(secured: LocalCluster) -> None:
    rw = client(secured, *s3_key(secured, "--user", "ann", "--access", "rw"))
    name = f"s3a-{uuid.uuid4().hex[:8]}"
    rw.create_bucket(Bucket=name)
    rw.put_object(Bucket=name, Key="dir/a b.txt", Body=b"hello")
    assert rw.get_object(Bucket=name, Key="dir/a b.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in rw.list_objects_v2(Bucket=name, Prefix="dir/")["Contents"]] == ["dir/a b.txt"]
    assert name in [b["Name"] for b in rw.list_buckets()["Buckets"]]
    up = rw.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    etag = rw.upload_part(Bucket=name, Key="mp", UploadId=up, PartNumber=1, Body=b"x" * 10)["ETag"]
    assert [p["PartNumber"] for p in rw.list_parts(Bucket=name, Key="mp", UploadId=up)["Parts"]] == [1]
    rw.complete_multipart_upload(Bucket=name, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert rw.get_object(Bucket=name, Key="mp")["Body"].read() == b"x" * 10

    key_id, secret = s3_key(secured, "--user", "ann", "--access", "rw")
    with pytest.raises(rw.exceptions.ClientError) as info:
        client(secured, key_id, secret + "x").get_object(Bucket=name, Key="dir/a b.txt")
    assert code(info) == "SignatureDoesNotMatch"
    with pytest.raises(rw.exceptions.ClientError) as info:
        client(secured, "AKIANOTOURS", secret).list_buckets()
    assert code(info) == "InvalidAccessKeyId"
    r = requests.get(f"{secured.endpoint}/s3/{name}/dir/a%20b.txt", timeout=30)  # unsigned
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content

    ro = client(secured, *s3_key(secured, "--user", "bob", "--access", "ro"))
    assert ro.get_object(Bucket=name, Key="dir/a b.txt")["Body"].read() == b"hello"
    for call in (lambda: ro.put_object(Bucket=name, Key="no", Body=b"x"), lambda: ro.delete_object(Bucket=name, Key="mp"),
                 lambda: ro.create_bucket(Bucket=f"{name}-2")):
        with pytest.raises(rw.exceptions.ClientError) as info:
            call()
        assert code(info) == "AccessDenied"
    other = f"s3a-{uuid.uuid4().hex[:8]}"
    rw.create_bucket(Bucket=other)
    scoped = client(secured, *s3_key(secured, "--user", "cy", "--access", "rw", "--bucket", f"ais://{name}"))
    scoped.put_object(Bucket=name, Key="mine", Body=b"ok")
    with pytest.raises(rw.exceptions.ClientError) as info:
        scoped.put_object(Bucket=other, Key="theirs", Body=b"no")
    assert code(info) == "AccessDenied"
    with pytest.raises(rw.exceptions.ClientError) as info:  # copying needs read access to the source too
        scoped.copy_object(Bucket=name, Key="c", CopySource={"Bucket": other, "Key": "x"})
    assert code(info) == "AccessDenied"


@pytest.mark.parametrize("version", ["s3", "s3v4"])  # boto3's default presign (V2) and SigV4's
def test_presigned_urls(secured: LocalCluster, version: str) -> None:
    import boto3
    from botocore.config import Config

    key_id, secret = s3_key(secured, "--user", "ann", "--access", "rw")
    rw = boto3.client("s3", endpoint_url=f"{secured.endpoint}/s3", aws_access_key_id=key_id,
                      aws_secret_access_key=secret, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, signature_version=version))
    name = f"s3p-{uuid.uuid4().hex[:8]}"
    client(secured, key_id, secret).create_bucket(Bucket=name)
    client(secured, key_id, secret).put_object(Bucket=name, Key="k+1.bin", Body=b"presigned")
    url = rw.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k+1.bin"}, ExpiresIn=300)
    assert ("X-Amz-Signature" in url) == (version == "s3v4")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned"
    put = rw.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "up"}, ExpiresIn=300)
    assert requests.put(put, data=b"via url", timeout=30).status_code == 200
    assert client(secured, key_id, secret).get_object(Bucket=name, Key="up")["Body"].read() == b"via url"
    r = requests.get(url.replace("k%2B1.bin", "up"), timeout=30)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    short = rw.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k+1.bin"}, ExpiresIn=1)
    time.sleep(2.5)
    r = requests.get(short, timeout=30)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content and b"expired" in r.content


def test_signed_tools(secured: LocalCluster, tmp_path: Any) -> None:
    """The aws CLI (botocore) and s5cmd (aws-sdk-go) sign their own way: both verify."""
    import os
    import subprocess
    import sys

    key_id, secret = s3_key(secured, "--user", "ann", "--access", "rw")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    env.pop("AWS_CA_BUNDLE", None)
    bin_dir = os.path.dirname(sys.executable)
    endpoint = f"{secured.endpoint}/s3"

    run = tool_runner(env)
    name = f"s3t-{uuid.uuid4().hex[:8]}"
    data = os.urandom(12 * 1024 * 1024 + 3)
    (tmp_path / "f.bin").write_bytes(data)
    aws = [os.path.join(bin_dir, "aws"), "--endpoint-url", endpoint, "s3"]
    run(*aws, "mb", f"s3://{name}")
    run(*aws, "cp", str(tmp_path / "f.bin"), f"s3://{name}/d/f 1.bin")  # multipart (8 MiB parts)
    assert "f 1.bin" in run(*aws, "ls", f"s3://{name}/d/")
    s5 = [os.path.join(bin_dir, "s5cmd"), "--endpoint-url", endpoint]
    run(*s5, "cp", f"s3://{name}/d/f 1.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    run(*s5, "cp", str(tmp_path / "f.bin"), f"s3://{name}/s5/f.bin")
    assert "f.bin" in run(*s5, "ls", f"s3://{name}/s5/*")
    env["AWS_SECRET_ACCESS_KEY"] = secret + "x"
    p = subprocess.run([*aws, "ls", f"s3://{name}"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "SignatureDoesNotMatch" in p.stderr
