"""The S3 API where a client's request means something other than a plain call: subresources,
versions, framed (aws-chunked) bodies, checksums, names no XML or header carries, ranges to ignore,
pages of common prefixes. Each answer is S3's, or a refusal that leaves everything as it was —
never the object overwritten or deleted, or the bytes stored with their framing."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.conftest import LocalCluster
from tests.integration.test_s3 import new_bucket, s3  # noqa: F401  (the module's boto3 client fixture)


def _code(info: pytest.ExceptionInfo[Any]) -> tuple[int, str]:
    r = info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def test_subresources_are_never_the_plain_call(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="w", Body=b"PRECIOUS")
    for call in (lambda: s3.put_object_tagging(Bucket=b, Key="w", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
                 lambda: s3.put_object_acl(Bucket=b, Key="w", ACL="private"),
                 lambda: s3.delete_object_tagging(Bucket=b, Key="w"),
                 lambda: s3.get_object_tagging(Bucket=b, Key="w"),
                 lambda: s3.get_object_acl(Bucket=b, Key="w"),
                 lambda: s3.delete_bucket_policy(Bucket=b),
                 lambda: s3.delete_bucket_cors(Bucket=b),
                 lambda: s3.delete_bucket_lifecycle(Bucket=b),
                 lambda: s3.get_bucket_policy(Bucket=b),
                 lambda: s3.list_object_versions(Bucket=b)):
        with pytest.raises(s3.exceptions.ClientError) as info:
            call()
        assert _code(info) == (501, "NotImplemented")
    assert s3.get_object(Bucket=b, Key="w")["Body"].read() == b"PRECIOUS"  # neither overwritten nor deleted
    s3.head_bucket(Bucket=b)
    with pytest.raises(s3.exceptions.ClientError) as info:  # a tag on a key that is not there makes no object
        s3.put_object_tagging(Bucket=b, Key="none", Tagging={"TagSet": []})
    assert _code(info)[0] == 501 and "none" not in [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]]
    with pytest.raises(s3.exceptions.NoSuchBucket):  # a bucket that is not there is still a 404
        s3.delete_bucket_policy(Bucket=f"nope-{uuid.uuid4().hex[:6]}")
    # ?versioning is the bucket's versioning.enabled, both ways
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)
    assert json.loads(cluster.cli("bucket", "props", "show", f"ais://{b}", "--json").stdout)["versioning"]["enabled"] is False
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"


def test_a_version_is_the_current_one_or_no_such_version(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="v", Body=b"v1")
    s3.put_object(Bucket=b, Key="v", Body=b"v2")
    current = requests.head(f"{cluster.endpoint}/v1/objects/{b}/v", params={"provider": "ais"}, timeout=30,
                            allow_redirects=True).headers["ais-version"]  # the object's version, natively
    assert current == "2"
    for call in (lambda: s3.get_object(Bucket=b, Key="v", VersionId="1"),
                 lambda: s3.delete_object(Bucket=b, Key="v", VersionId="1")):
        with pytest.raises(s3.exceptions.ClientError) as info:
            call()
        assert _code(info) == (404, "NoSuchVersion")
    got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "v", "VersionId": "bogus"}]})
    assert [e["Code"] for e in got["Errors"]] == ["NoSuchVersion"] and "Deleted" not in got
    assert s3.get_object(Bucket=b, Key="v")["Body"].read() == b"v2"  # the current version: untouched
    assert s3.get_object(Bucket=b, Key="v", VersionId=current)["Body"].read() == b"v2"
    s3.delete_object(Bucket=b, Key="v", VersionId="null")  # S3's one version of an unversioned object
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=b, Key="v")
    assert s3.delete_object(Bucket=b, Key="v")["ResponseMetadata"]["HTTPStatusCode"] == 204  # idempotent
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert _code(info) == (400, "MalformedXML")


def _framed(chunks: list[bytes], trailer: str = "") -> bytes:
    out = b"".join(f"{len(c):x};chunk-signature={'0' * 64}\r\n".encode() + c + b"\r\n" for c in chunks)
    return out + b"0;chunk-signature=" + b"0" * 64 + b"\r\n" + trailer.encode() + b"\r\n"


def _raw_put(cluster: LocalCluster, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    u = urlsplit(cluster.endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        c.request("PUT", path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_aws_chunked_bodies_are_stored_unframed_and_checked(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    b = new_bucket(s3)
    data = [os.urandom(70_000), os.urandom(65_536), b"tail"]
    whole = b"".join(data)
    streaming = {"Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                 "x-amz-decoded-content-length": str(len(whole))}
    assert _raw_put(cluster, f"/s3/{b}/signed", _framed(data), streaming)[0] == 200
    assert s3.get_object(Bucket=b, Key="signed")["Body"].read() == whole
    crc = base64.b64encode(zlib.crc32(whole).to_bytes(4, "big")).decode()
    trailed = {**streaming, "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
               "x-amz-trailer": "x-amz-checksum-crc32"}
    assert _raw_put(cluster, f"/s3/{b}/trailer", _framed(data, f"x-amz-checksum-crc32:{crc}\r\n"), trailed)[0] == 200
    assert s3.get_object(Bucket=b, Key="trailer")["Body"].read() == whole
    # refused, and nothing stored: a wrong trailer checksum, a body cut short, a missing decoded length
    bad = base64.b64encode(b"\0\0\0\0").decode()
    status, body = _raw_put(cluster, f"/s3/{b}/badcrc", _framed(data, f"x-amz-checksum-crc32:{bad}\r\n"), trailed)
    assert status == 400 and b"BadDigest" in body
    status, body = _raw_put(cluster, f"/s3/{b}/short", _framed(data)[:80_000],
                            {**streaming, "Content-Length": "80000"})
    assert status == 400 and b"IncompleteBody" in body, body
    no_len = {k: v for k, v in streaming.items() if k != "x-amz-decoded-content-length"}
    assert _raw_put(cluster, f"/s3/{b}/nolen", _framed(data), no_len)[0] == 411
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["signed", "trailer"]


def test_checksums_the_client_sent_are_checked(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    b = new_bucket(s3)
    data = os.urandom(300_000)
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    s3.put_object(Bucket=b, Key="ok", Body=data, ContentMD5=md5)
    s3.put_object(Bucket=b, Key="crc", Body=data, ChecksumAlgorithm="CRC32")  # botocore computes it
    s3.put_object(Bucket=b, Key="sha", Body=data, ChecksumAlgorithm="SHA256")
    for key, headers in (("md5", {"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}),
                         ("crc32", {"x-amz-checksum-crc32": "AAAAAA=="}),
                         ("sha256", {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()}),
                         ("empty", {"Content-MD5": md5})):
        body = b"" if key == "empty" else data
        r = requests.put(f"{cluster.endpoint}/s3/{b}/{key}", data=body, headers=headers, timeout=60)
        assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text, (key, r.status_code, r.text)
    r = requests.put(f"{cluster.endpoint}/s3/{b}/x", data=data, headers={"Content-MD5": "not base64!"}, timeout=60)
    assert r.status_code == 400 and "InvalidDigest" in r.text
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]) == ["crc", "ok", "sha"]
    # a multipart upload's part is checked the same way
    up = s3.create_multipart_upload(Bucket=b, Key="mpu")["UploadId"]
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.upload_part(Bucket=b, Key="mpu", UploadId=up, PartNumber=1, Body=data,
                       ContentMD5=base64.b64encode(hashlib.md5(b"x").digest()).decode())
    assert _code(info) == (400, "BadDigest")
    assert s3.list_parts(Bucket=b, Key="mpu", UploadId=up).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=b, Key="mpu", UploadId=up)


def test_names_ranges_and_pages_of_common_prefixes(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    b = new_bucket(s3)
    for key in ("bad\x01", "cr\rx", "tab\tx"):  # a name no header or XML 1.0 carries: refused, nothing stored
        with pytest.raises(s3.exceptions.ClientError) as info:
            s3.put_object(Bucket=b, Key=key, Body=b"x")
        assert _code(info)[0] == 400
    odd = ["a+b c", "x%41y", "ü/ñ", "q?&=#"]
    for key in odd:
        s3.put_object(Bucket=b, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=b)  # boto3 asks encoding-type=url and decodes the names back
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(odd)
    raw = requests.get(f"{cluster.endpoint}/s3/{b}", params={"list-type": "2", "encoding-type": "url"}, timeout=30).text
    assert "<EncodingType>url</EncodingType>" in raw and "<Key>a%2Bb%20c</Key>" in raw
    # a Range S3 does not serve is ignored: the whole object, 200
    for rng in ("bytes=5-2", "bytes=abc", "items=0-1", "bytes=0-1,3-4"):
        got = s3.get_object(Bucket=b, Key="a+b c", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["Body"].read() == b"a+b c", rng
    # 10 directories of 6 objects each, on every target and mountpath: pages of common prefixes lose none
    d = new_bucket(s3)
    for i in range(10):
        for j in range(6):
            s3.put_object(Bucket=d, Key=f"d{i:02d}/o{j}", Body=b"x")
    dirs = [f"d{i:02d}/" for i in range(10)]
    for size in (1, 3, 5, 8):
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=d, Delimiter="/",
                                                                   PaginationConfig={"PageSize": size}))
        assert [p["Prefix"] for pg in pages for p in pg.get("CommonPrefixes", [])] == dirs, size
        pages = list(s3.get_paginator("list_objects").paginate(Bucket=d, Delimiter="/",
                                                                PaginationConfig={"PageSize": size}))
        assert [p["Prefix"] for pg in pages for p in pg.get("CommonPrefixes", [])] == dirs, size
    # and the native listing one level deep, in pages of 3
    out = cluster.cli("ls", f"ais://{d}", "--nr", "--page-size", "3").stdout
    assert [ln.split()[0] for ln in out.splitlines()[1:] if ln.strip() and not ln.startswith("Listed")] == dirs, out


def test_metadata_and_content_type_are_kept(s3: Any, cluster: LocalCluster, tmp_path: Any) -> None:  # noqa: F811
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="doc.json", Body=b"{}", ContentType="application/json", CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="d.json"', Metadata={"owner": "ann", "mtime": "1700000000.5"})
    for got in (s3.head_object(Bucket=b, Key="doc.json"), s3.get_object(Bucket=b, Key="doc.json")):
        assert got["ContentType"] == "application/json" and got["Metadata"] == {"owner": "ann", "mtime": "1700000000.5"}
        assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == 'attachment; filename="d.json"'
    # natively too: the object's custom metadata
    r = requests.get(f"{cluster.endpoint}/v1/objects/{b}/doc.json", params={"provider": "ais"}, timeout=30)
    assert r.headers["Content-Type"] == "application/json" and "x-amz-meta-owner=ann" in r.headers["ais-custom-md"]
    s3.copy_object(Bucket=b, Key="copy.json", CopySource={"Bucket": b, "Key": "doc.json"})
    assert s3.head_object(Bucket=b, Key="copy.json")["Metadata"]["owner"] == "ann"
    # MetadataDirective=REPLACE: the request's metadata instead of the source's, onto another key or the same one
    s3.copy_object(Bucket=b, Key="copy2.json", CopySource={"Bucket": b, "Key": "doc.json"}, MetadataDirective="REPLACE",
                   ContentType="text/html", Metadata={"owner": "bob"})
    head = s3.head_object(Bucket=b, Key="copy2.json")
    assert head["Metadata"] == {"owner": "bob"} and head["ContentType"] == "text/html" and "CacheControl" not in head
    with pytest.raises(s3.exceptions.ClientError) as info:  # too much metadata: refused before anything is copied
        s3.copy_object(Bucket=b, Key="copy3.json", CopySource={"Bucket": b, "Key": "doc.json"},
                       MetadataDirective="REPLACE", Metadata={"a": "x" * 3000})
    assert _code(info)[0] == 400
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=b, Key="copy3.json")
    with pytest.raises(s3.exceptions.ClientError) as info:  # onto itself, nothing changed: S3's 400
        s3.copy_object(Bucket=b, Key="doc.json", CopySource={"Bucket": b, "Key": "doc.json"})
    assert _code(info) == (400, "InvalidRequest")
    s3.copy_object(Bucket=b, Key="doc.json", CopySource={"Bucket": b, "Key": "doc.json"}, MetadataDirective="REPLACE",
                   Metadata={"owner": "ann", "mtime": "1800000000"})
    head = s3.head_object(Bucket=b, Key="doc.json")
    assert head["Metadata"] == {"owner": "ann", "mtime": "1800000000"} and head["ContentLength"] == 2
    assert s3.get_object(Bucket=b, Key="doc.json")["Body"].read() == b"{}"
    up = s3.create_multipart_upload(Bucket=b, Key="big.bin", ContentType="text/plain", Metadata={"k": "v"})["UploadId"]
    part = s3.upload_part(Bucket=b, Key="big.bin", UploadId=up, PartNumber=1, Body=b"x" * 100)["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="big.bin", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
    head = s3.head_object(Bucket=b, Key="big.bin")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"k": "v"}
    # an object without any: octet-stream, no metadata
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    assert s3.head_object(Bucket=b, Key="plain")["Metadata"] == {}
    with pytest.raises(s3.exceptions.ClientError) as info:  # more than S3's 2 KiB of user metadata
        s3.put_object(Bucket=b, Key="fat", Body=b"x", Metadata={"a": "x" * 3000})
    assert _code(info)[0] == 400
    # rclone keeps a file's mtime in the metadata: a second sync of an unchanged tree uploads nothing
    src = tmp_path / "tree"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}.txt").write_bytes(os.urandom(100 + i))
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"[ais]\ntype = s3\nprovider = Other\naccess_key_id = x\nsecret_access_key = x\n"
                    f"region = us-east-1\nendpoint = {cluster.endpoint}/s3\nforce_path_style = true\n")
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # plain http (see test_s3_tools.py)

    def sync() -> str:
        p = subprocess.run(["rclone", "--config", str(conf), "--retries", "1", "sync", str(src), f"ais:{b}/tree", "-v"],
                           capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0, p.stderr
        return p.stderr

    assert sync().count("Copied") == 5
    assert "Copied" not in sync()  # unchanged: its mtime was kept


def test_conditional_requests(s3: Any) -> None:  # noqa: F811
    b = new_bucket(s3)
    etag = s3.put_object(Bucket=b, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=b, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    for call in (lambda: s3.get_object(Bucket=b, Key="c", IfMatch='"nomatch"'),
                 lambda: s3.head_object(Bucket=b, Key="c", IfMatch='"nomatch"'),
                 lambda: s3.get_object(Bucket=b, Key="c", IfUnmodifiedSince=datetime(2000, 1, 1, tzinfo=timezone.utc))):
        with pytest.raises(s3.exceptions.ClientError) as info:
            call()
        assert _code(info)[0] == 412
    for call in (lambda: s3.get_object(Bucket=b, Key="c", IfNoneMatch=etag),
                 lambda: s3.get_object(Bucket=b, Key="c", IfModifiedSince=datetime.now(timezone.utc) + timedelta(days=1))):
        with pytest.raises(s3.exceptions.ClientError) as info:
            call()
        assert _code(info)[0] == 304
    assert s3.get_object(Bucket=b, Key="c", IfNoneMatch='"other"')["Body"].read() == b"v1"
    # conditional writes, tested where the object is committed: never an overwrite they forbid
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.put_object(Bucket=b, Key="c", Body=b"v2", IfNoneMatch="*")
    assert _code(info) == (412, "PreconditionFailed")
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.put_object(Bucket=b, Key="c", Body=b"v2", IfMatch='"nomatch"')
    assert _code(info) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=b, Key="c")["Body"].read() == b"v1"
    s3.put_object(Bucket=b, Key="c", Body=b"v2", IfMatch=etag)
    s3.put_object(Bucket=b, Key="new", Body=b"n", IfNoneMatch="*")
    assert s3.get_object(Bucket=b, Key="c")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=b, Key="new")["Body"].read() == b"n"


def test_response_overrides_and_head_range(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    """A GET's response-* parameters set its answer's headers (a presigned link that downloads as a
    file name); a HEAD with a Range answers as that range's GET would: 206, its length and range."""
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="r.bin", Body=b"0123456789abcdef", ContentType="application/octet-stream")
    got = s3.get_object(Bucket=b, Key="r.bin", ResponseContentType="text/plain", ResponseCacheControl="no-cache",
                        ResponseContentDisposition='attachment; filename="x.txt"')
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "no-cache"
    assert got["ContentDisposition"] == 'attachment; filename="x.txt"' and got["Body"].read() == b"0123456789abcdef"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "r.bin",
                                                          "ResponseContentDisposition": "inline"}, ExpiresIn=60)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Disposition"] == "inline" and r.content == b"0123456789abcdef"
    r = requests.get(f"{cluster.endpoint}/s3/{b}/r.bin", params={"response-content-type": "a\r\nX-Evil: 1"}, timeout=30)
    assert r.status_code == 400 and "X-Evil" not in r.headers
    head = s3.head_object(Bucket=b, Key="r.bin", Range="bytes=2-5")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 4 and head["ContentRange"] == "bytes 2-5/16"
    assert s3.head_object(Bucket=b, Key="r.bin", Range="bytes=-3")["ContentRange"] == "bytes 13-15/16"
    assert s3.head_object(Bucket=b, Key="r.bin")["ContentLength"] == 16  # no Range: the whole object
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.head_object(Bucket=b, Key="r.bin", Range="bytes=100-")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_max_keys_zero_is_an_empty_page_not_truncated(s3: Any) -> None:  # noqa: F811
    b = new_bucket(s3)
    for k in ("a", "b/c"):
        s3.put_object(Bucket=b, Key=k, Body=b"x")
    v2 = s3.list_objects_v2(Bucket=b, MaxKeys=0)
    assert v2["KeyCount"] == 0 and v2["IsTruncated"] is False and "NextContinuationToken" not in v2
    assert "Contents" not in v2 and v2["MaxKeys"] == 0
    v1 = s3.list_objects(Bucket=b, MaxKeys=0, Delimiter="/")
    assert v1["IsTruncated"] is False and "Contents" not in v1 and "CommonPrefixes" not in v1
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b, MaxKeys=1)["Contents"]] == ["a"]


def test_copy_source_conditions(s3: Any) -> None:  # noqa: F811
    """CopyObject / UploadPartCopy with x-amz-copy-source-if-*: a condition that does not hold is a
    412 and nothing is copied (they were ignored); a part's source range past the end is a 400."""
    b = new_bucket(s3)
    etag = s3.put_object(Bucket=b, Key="src", Body=b"0123456789")["ETag"]
    src = {"Bucket": b, "Key": "src"}
    for cond in ({"CopySourceIfMatch": '"other"'}, {"CopySourceIfNoneMatch": etag},
                 {"CopySourceIfModifiedSince": "2100-01-01T00:00:00Z"},
                 {"CopySourceIfUnmodifiedSince": "2000-01-01T00:00:00Z"}):
        with pytest.raises(s3.exceptions.ClientError) as info:
            s3.copy_object(Bucket=b, Key="dst", CopySource=src, **cond)
        assert _code(info) == (412, "PreconditionFailed"), cond
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=b, Key="dst")  # none of them copied it
    s3.copy_object(Bucket=b, Key="dst", CopySource=src, CopySourceIfMatch=etag,
                   CopySourceIfModifiedSince="2000-01-01T00:00:00Z")
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == b"0123456789"
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=1, CopySource=src, CopySourceIfMatch='"x"')
    assert _code(info) == (412, "PreconditionFailed")
    with pytest.raises(s3.exceptions.ClientError) as info:  # the source has 10 bytes: 5-20 is not a range of it
        s3.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=1, CopySource=src, CopySourceRange="bytes=5-20")
    assert _code(info) == (400, "InvalidArgument")
    part = s3.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=1, CopySource=src,
                               CopySourceRange="bytes=2-5")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == b"2345"
