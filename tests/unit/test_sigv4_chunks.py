"""auth/sigv4.py `chunk_signer`: the chunk signatures of a SigV4 streaming upload, against AWS's
own worked example ("Signature Calculation: Transfer Payload in Multiple Chunks", S3 API docs):
a 66,560-byte object of "a" sent as 65,536 + 1,024 bytes and the final empty chunk."""

from __future__ import annotations

import hashlib

import pytest

from ais_ray.auth import sigv4

SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
HEADERS = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                     "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                     f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}",
    "x-amz-date": "20130524T000000Z",
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
}


def test_the_worked_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sigv4, "s3_secret_key", lambda secret, key_id: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    got = sigv4.chunk_signer("cluster-secret", HEADERS, [])
    assert got is not None
    sign, seed = got
    assert seed == SEED
    first = sign(seed, hashlib.sha256(b"a" * 65536).digest())
    assert first == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    second = sign(first, hashlib.sha256(b"a" * 1024).digest())
    assert second == "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    assert sign(second, hashlib.sha256(b"").digest()) == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"


def test_unsigned_request_has_no_signer() -> None:
    assert sigv4.chunk_signer("cluster-secret", {"x-amz-date": "20130524T000000Z"}, []) is None
