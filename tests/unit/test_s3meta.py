"""core/s3meta.py: which of an S3 PUT's headers an object keeps, and what its GET answers."""

from __future__ import annotations

import pytest

from ais_ray.core import s3meta
from ais_ray.core.errors import ErrBadRequest


def test_kept_and_answered() -> None:
    meta = s3meta.from_request({"Content-Type": "application/json", "x-amz-meta-Mtime": "1700000000.5",
                                "Content-Encoding": "gzip, aws-chunked", "Authorization": "AWS4-HMAC-SHA256 ...",
                                "X-Amz-Content-Sha256": "abc", "cache-control": "no-cache"})
    assert meta == {"Content-Type": "application/json", "x-amz-meta-mtime": "1700000000.5",
                    "Content-Encoding": "gzip", "Cache-Control": "no-cache"}
    assert s3meta.from_wire(s3meta.to_wire(meta)) == meta
    assert s3meta.to_headers({**meta, "src-etag": "x"}) == meta  # other custom metadata is not an S3 header
    assert s3meta.from_request({"Content-Encoding": "aws-chunked"}) == {}


@pytest.mark.parametrize("headers", [{"x-amz-meta-a": "x" * 2100}, {"x-amz-meta-a": "caf\u00e9"},
                                     {"Content-Type": "a\tb"}])
def test_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ErrBadRequest):
        s3meta.from_request(headers)


@pytest.mark.parametrize("wire", ["nope", "[1]", '{"a": 1}'])
def test_wire_refused(wire: str) -> None:
    with pytest.raises(ErrBadRequest):
        s3meta.from_wire(wire)
