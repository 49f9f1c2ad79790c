"""Multipart / append wire words (core/mpu.py) and the stale-upload sweep (actors/mpu.py)."""

from __future__ import annotations

import os
import time

import pytest

from ais_ray.actors.mpu import remove_stale
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.mpu import check_put, completed_parts, part_number, upload_id
from ais_ray.core.params import check


def test_plain_put_part_append_flush() -> None:
    assert check_put({}) == ""
    assert check_put({"uploadId": "abcDEF-_1", "partNumber": "3"}) == "part"
    assert check_put({"append_type": "append", "append_handle": ""}) == "append"
    assert check_put({"append_type": "append", "append_handle": "h1"}) == "append"
    assert check_put({"append_type": "flush", "append_handle": "h1"}) == "flush"
    check("PUT", "/v1/objects/b/o", [("uploadId", "u"), ("partNumber", "1"), ("append_type", "append"),
                                     ("append_handle", "h")])
    check("POST", "/v1/objects/b/o", [("uploadId", "u")])
    check("DELETE", "/v1/objects/b/o", [("uploadId", "u")])


@pytest.mark.parametrize("query,word", [
    ({"append_type": "x"}, "append_type"),
    ({"append_type": "flush"}, "append_handle"),
    ({"append_handle": "h"}, "append_handle"),
    ({"uploadId": "x"}, "uploadId"),
    ({"partNumber": "1"}, "partNumber"),
    ({"uploadId": "u", "partNumber": "0"}, "part number"),
    ({"uploadId": "u", "partNumber": "10001"}, "part number"),
    ({"uploadId": "../etc", "partNumber": "1"}, "upload id"),
    ({"uploadId": "u", "partNumber": "1", "append_type": "append"}, "exclude"),
    ({"append_type": "append", "append_handle": "a/b"}, "append_handle"),
])
def test_bad_combinations_and_values_are_400_naming_them(query: dict[str, str], word: str) -> None:
    with pytest.raises(ErrBadRequest, match=word):
        check_put(query)


def test_completed_parts() -> None:
    assert completed_parts([{"part-number": 1, "etag": ""}, {"part-number": 2}]) == [1, 2]
    assert completed_parts([1, 3]) == [1, 3]
    assert completed_parts([{"part-number": 3}, {"part-number": 1}], ordered=False) == [1, 3]  # the SDK's order
    for bad in ([], [2, 1], [1, 1], "x", [{"etag": ""}], [{"part-number": "a"}]):
        with pytest.raises(ErrBadRequest):
            completed_parts(bad)
    assert part_number("10000") == 10000
    assert upload_id("Abc-_9") == "Abc-_9"
    with pytest.raises(ErrBadRequest):
        upload_id("x" * 65)


def test_remove_stale_drops_only_old_uploads(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "%mu")
    assert remove_stale(root) == 0  # no directory yet
    old, new = os.path.join(root, "old"), os.path.join(root, "new")
    for d in (old, new):
        os.makedirs(d)
        with open(os.path.join(d, "00001"), "wb") as f:
            f.write(b"x")
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert remove_stale(root, older_than=600) == 1
    assert sorted(os.listdir(root)) == ["new"]
