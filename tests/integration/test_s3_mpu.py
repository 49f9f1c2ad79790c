"""The S3 API's multipart listings (issue 19): ListParts, ListMultipartUploads, UploadPartCopy,
through boto3, on the one multipart store the native API shares (actors/mpu.py)."""

from __future__ import annotations

import glob
import os
import uuid
from typing import Any

import pytest

from tests.integration.conftest import LocalCluster
from tests.integration.test_s3 import new_bucket, s3  # noqa: F401 - the module's boto3 client fixture

MiB = 1024 * 1024


def upload_dirs(cluster: LocalCluster, upload: str) -> list[str]:
    return glob.glob(os.path.join(cluster.data_dir, "**", "%mu", upload), recursive=True)


def test_list_parts_and_uploads(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    name = new_bucket(s3)
    keys = ["a/one", "a/two", "b/three"]
    ups = {k: s3.create_multipart_upload(Bucket=name, Key=k)["UploadId"] for k in keys}
    second = s3.create_multipart_upload(Bucket=name, Key="a/one")["UploadId"]  # two uploads of one key
    parts = {n: os.urandom(5 * MiB if n < 3 else 1000) for n in (1, 2, 3)}
    etags = {n: s3.upload_part(Bucket=name, Key="a/one", UploadId=ups["a/one"], PartNumber=n, Body=b)["ETag"]
             for n, b in parts.items()}
    assert len(upload_dirs(cluster, ups["a/one"])) == 1  # on the key's owner only

    got = s3.list_parts(Bucket=name, Key="a/one", UploadId=ups["a/one"])
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in got["Parts"]] == \
        [(n, len(parts[n]), etags[n]) for n in (1, 2, 3)]
    assert not got["IsTruncated"]
    page = s3.list_parts(Bucket=name, Key="a/one", UploadId=ups["a/one"], MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2] and page["IsTruncated"]
    rest = s3.list_parts(Bucket=name, Key="a/one", UploadId=ups["a/one"], PartNumberMarker=page["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    assert s3.list_parts(Bucket=name, Key="a/two", UploadId=ups["a/two"]).get("Parts", []) == []
    for bad in ({"Key": "a/two", "UploadId": ups["a/one"]}, {"Key": "a/one", "UploadId": "nope"}):
        with pytest.raises(s3.exceptions.ClientError) as info:
            s3.list_parts(Bucket=name, **bad)
        assert info.value.response["Error"]["Code"] == "NoSuchUpload"

    listed = s3.list_multipart_uploads(Bucket=name)
    assert sorted((u["Key"], u["UploadId"]) for u in listed["Uploads"]) == \
        sorted([(k, u) for k, u in ups.items()] + [("a/one", second)])
    assert [u["Key"] for u in listed["Uploads"]] == ["a/one", "a/one", "a/two", "b/three"]  # by key
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=name, Prefix="a/")["Uploads"]] == \
        ["a/one", "a/one", "a/two"]
    p1 = s3.list_multipart_uploads(Bucket=name, MaxUploads=1)
    assert p1["IsTruncated"] and p1["NextKeyMarker"] == "a/one"
    p2 = s3.list_multipart_uploads(Bucket=name, KeyMarker=p1["NextKeyMarker"],
                                   UploadIdMarker=p1["NextUploadIdMarker"])
    assert [u["Key"] for u in p2["Uploads"]] == ["a/one", "a/two", "b/three"]
    assert {p1["Uploads"][0]["UploadId"], p2["Uploads"][0]["UploadId"]} == {ups["a/one"], second}
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=name, KeyMarker="a/one")["Uploads"]] == \
        ["a/two", "b/three"]
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_multipart_uploads(Bucket=f"nope-{uuid.uuid4().hex[:6]}")

    # complete and abort: the listing empties, the directories go
    s3.complete_multipart_upload(Bucket=name, Key="a/one", UploadId=ups["a/one"], MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
    assert s3.get_object(Bucket=name, Key="a/one")["Body"].read() == parts[1] + parts[2] + parts[3]
    for k, u in [*ups.items(), ("a/one", second)]:
        if k != "a/one" or u == second:
            s3.abort_multipart_upload(Bucket=name, Key=k, UploadId=u)
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    assert not [d for u in [*ups.values(), second] for d in upload_dirs(cluster, u)]


def test_upload_part_copy_and_part_errors(s3: Any, cluster: LocalCluster) -> None:  # noqa: F811
    name = new_bucket(s3)
    src = os.urandom(6 * MiB + 3)
    s3.put_object(Bucket=name, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=name, Key="dst")["UploadId"]
    e1 = s3.upload_part_copy(Bucket=name, Key="dst", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": name, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    e2 = s3.upload_part_copy(Bucket=name, Key="dst", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": name, "Key": "src"})
    e3 = s3.upload_part(Bucket=name, Key="dst", UploadId=up, PartNumber=3, Body=b"tail")
    parts = [{"PartNumber": 1, "ETag": e1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": e2["CopyPartResult"]["ETag"]}, {"PartNumber": 3, "ETag": e3["ETag"]}]
    # errors: a part never uploaded, parts out of order, a part number out of range, a missing source
    for bad in ([*parts, {"PartNumber": 7, "ETag": '"x"'}], [parts[1], parts[0]]):
        with pytest.raises(s3.exceptions.ClientError) as info:
            s3.complete_multipart_upload(Bucket=name, Key="dst", UploadId=up, MultipartUpload={"Parts": bad})
        assert info.value.response["Error"]["Code"] == "InvalidPart"
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.upload_part(Bucket=name, Key="dst", UploadId=up, PartNumber=10001, Body=b"x")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.upload_part_copy(Bucket=name, Key="dst", UploadId=up, PartNumber=4,
                            CopySource={"Bucket": name, "Key": "missing"})
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.upload_part(Bucket=name, Key="other", UploadId=up, PartNumber=1, Body=b"x")  # another key's upload
    assert info.value.response["Error"]["Code"] == "NoSuchUpload"
    # part 3 uploaded again with other bytes: the ETag of the first upload names a part no longer there
    e3b = s3.upload_part(Bucket=name, Key="dst", UploadId=up, PartNumber=3, Body=b"TAIL")
    assert e3b["ETag"] != e3["ETag"]
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.complete_multipart_upload(Bucket=name, Key="dst", UploadId=up, MultipartUpload={"Parts": parts})
    assert info.value.response["Error"]["Code"] == "InvalidPart" and "part 3" in info.value.response["Error"]["Message"]
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=name, Key="dst")  # nothing was written
    parts[2]["ETag"] = e3b["ETag"]
    s3.complete_multipart_upload(Bucket=name, Key="dst", UploadId=up, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=name, Key="dst")["Body"].read() == src[:5 * MiB] + src + b"TAIL"
