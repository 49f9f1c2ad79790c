"""The S3 gateway's ListObjectsV2 continuation token (pure: no servers)."""

from __future__ import annotations

import base64

import pytest

from ais_ray.serve.s3 import _token_in, _token_out


@pytest.mark.parametrize("last,native", [("a/b/c", ""), ("dir/", "opaque+remote/token=="), ("ünï €", "x" * 300), ("", "")])
def test_round_trip(last: str, native: str) -> None:
    token = _token_out(last, native)
    assert token.isascii() and "/" not in token and "+" not in token  # safe in a query string once encoded
    assert _token_in(token) == (last, native)


@pytest.mark.parametrize("bad", ["", "%%%", base64.urlsafe_b64encode(b"last-key").decode(),
                                 base64.urlsafe_b64encode(b'["a"]').decode(), base64.urlsafe_b64encode(b'["a", 1]').decode(),
                                 base64.urlsafe_b64encode(b'{"k": "a"}').decode(), base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        _token_in(bad)
