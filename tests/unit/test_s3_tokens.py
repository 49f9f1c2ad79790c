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


def _utf16(s: str) -> bytes:
    return s.encode("utf-16-be")  # JavaScript's string order (s3rver, Azurite) is this byte order


KEYS = ["a", "a/", "a/b", "a/\ud7ff", "a/\ue000", "a/\uffff", "a/\U00010000", "a/\U0010ffff", "a0", "b", "\ue000",
        "\U0001f600", "\U00010000", "\uffffz", "z"]


@pytest.mark.parametrize("start_after", ["", "a", "a/", "a/\U0010ffff", "a/\ue000", "a/\U00010000x", "\U0001f600",
                                         "\uffff", "b"])
def test_a_remote_seek_lists_no_fewer_names_in_either_order(start_after: str) -> None:
    """A remote that seeks by code point (S3, GCS) or by UTF-16 (the JavaScript emulators) lists
    every name after `start_after` from `remote_seek(start_after)` on; the extra ones are filtered."""
    from ais_ray.serve.listing import remote_seek

    seek = remote_seek(start_after)
    wanted = {k for k in KEYS if k > start_after}
    assert wanted <= {k for k in KEYS if k > seek}  # code point order
    assert wanted <= {k for k in KEYS if _utf16(k) > _utf16(seek)}  # UTF-16 order
    if all(ch < "\ud800" for ch in start_after):
        assert seek == start_after  # nothing to cut: the remote seeks exactly there
    else:
        assert seek < start_after and seek.endswith("\ud7ff")
