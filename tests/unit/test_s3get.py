"""Pure helpers of the signed S3 GET: a bucket's route from a presigned URL, error codes, reply headers."""

from __future__ import annotations

from ais_ray.backends.s3get import Route, described, error_code, route_of


def test_route_from_sigv4_and_sigv2_presigns() -> None:
    v4 = ("https://bkt.s3.eu-west-1.amazonaws.com/ais-ray-probe?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          "&X-Amz-Credential=AKID%2F20261204%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=x")
    assert route_of(v4, "us-east-1") == Route("https://bkt.s3.eu-west-1.amazonaws.com/", "eu-west-1")
    v2 = "http://127.0.0.1:9000/bkt/ais-ray-probe?AWSAccessKeyId=k&Signature=s&Expires=1"
    assert route_of(v2, "us-west-2") == Route("http://127.0.0.1:9000/bkt/", "us-west-2")


def test_error_code_and_described() -> None:
    assert error_code(b"<?xml?><Error><Code>NoSuchBucket</Code><Message>m</Message></Error>") == "NoSuchBucket"
    assert error_code(b"") == ""
    out = described({"Content-Length": "7", "ETag": '"abc"', "x-amz-version-id": "v1",
                     "Last-Modified": "Fri, 04 Dec 2026 16:00:00 GMT"})
    assert (out["ContentLength"], out["ETag"], out["VersionId"]) == (7, '"abc"', "v1")
    assert out["LastModified"].timestamp() == 1796400000.0
    assert described({"Last-Modified": "garbage"}) == {"ContentLength": 0}
