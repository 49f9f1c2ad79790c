"""SigV4 verification (auth/sigv4.py) against requests signed by botocore, and S3 access keys."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ais_ray.auth.sigv4 import SigV4Error, verify
from ais_ray.auth.tokens import issue_s3_key
from ais_ray.core.auth import Access, Claims

SECRET = "cluster-secret"


def key(**kw: object) -> tuple[str, str]:
    return issue_s3_key(SECRET, Claims("ann", int(time.time()) + 3600, cluster=Access.RW, **kw))  # type: ignore[arg-type]


def signed(key_id: str, secret_key: str, url: str, method: str = "GET", body: bytes = b"") -> AWSRequest:
    req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "text/plain"})
    S3SigV4Auth(Credentials(key_id, secret_key), "s3", "us-east-1").add_auth(req)
    return req


def check(req: AWSRequest, **kw: object) -> Claims | None:
    parts = urlsplit(req.url)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = parts.netloc
    return verify(SECRET, req.method, f"{parts.scheme}://{parts.netloc}{parts.path}", headers,
                  parse_qsl(parts.query, keep_blank_values=True), **kw)  # type: ignore[arg-type]


def test_header_signature_checked() -> None:
    kid, sk = key()
    url = "http://localhost:8080/s3/b/dir/a%20b.txt?list-type=2&prefix=a%2Fb&uploads="
    claims = check(signed(kid, sk, url, "PUT", b"data"))
    assert claims is not None and claims.user == "ann" and claims.cluster is Access.RW
    with pytest.raises(SigV4Error) as info:
        check(signed(kid, "wrong", url))
    assert info.value.code == "SignatureDoesNotMatch"
    req = signed(kid, sk, url)
    req.headers["X-Amz-Date"] = "20200101T000000Z"  # signed header changed after signing
    with pytest.raises(SigV4Error) as info:
        check(req)
    assert info.value.code in ("SignatureDoesNotMatch", "RequestTimeTooSkewed")
    with pytest.raises(SigV4Error) as info:
        check(signed("not-a-key", sk, url))
    assert info.value.code == "InvalidAccessKeyId"
    with pytest.raises(SigV4Error) as info:
        check(signed(kid, sk, url), now=time.time() + 3600)
    assert info.value.code == "RequestTimeTooSkewed"
    assert check(AWSRequest(method="GET", url=url)) is None  # unsigned


def test_presigned_url_and_expiry() -> None:
    kid, sk = key()
    req = AWSRequest(method="GET", url="http://127.0.0.1:9/s3/b/k.bin")
    S3SigV4QueryAuth(Credentials(kid, sk), "s3", "us-east-1", expires=60).add_auth(req)
    assert check(req) is not None
    with pytest.raises(SigV4Error) as info:
        check(req, now=time.time() + 120)
    assert info.value.code == "AccessDenied" and "expired" in info.value.message
    bad = AWSRequest(method="GET", url=req.url.replace("k.bin", "other.bin"))
    with pytest.raises(SigV4Error) as info:
        check(bad)
    assert info.value.code == "SignatureDoesNotMatch"


def test_expired_key_is_invalid() -> None:
    kid, sk = issue_s3_key(SECRET, Claims("old", int(time.time()) - 60, cluster=Access.RO))
    with pytest.raises(SigV4Error) as info:
        check(signed(kid, sk, "http://h/s3"))
    assert info.value.code == "InvalidAccessKeyId"


def test_v2_presigned_url() -> None:
    """boto3's default presigned URL (Signature V2) at an endpoint with a path: signs /bucket/key."""
    import boto3
    from botocore.config import Config

    kid, sk = key()
    c = boto3.client("s3", endpoint_url="http://127.0.0.1:5555/s3", aws_access_key_id=kid, aws_secret_access_key=sk,
                     region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    url = c.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k+1.bin"}, ExpiresIn=60)
    parts = urlsplit(url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    assert "AWSAccessKeyId" in dict(q)

    def run(path: str, **kw: object) -> Claims | None:
        return verify(SECRET, "GET", f"http://{parts.netloc}{path}", {"Host": parts.netloc}, q,
                      resource=path[len("/s3"):], **kw)  # type: ignore[arg-type]

    assert run(parts.path) is not None
    with pytest.raises(SigV4Error) as info:
        run(parts.path.replace("k%2B1", "other"))
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(SigV4Error) as info:
        run(parts.path, now=time.time() + 120)
    assert info.value.code == "AccessDenied" and "expired" in info.value.message
