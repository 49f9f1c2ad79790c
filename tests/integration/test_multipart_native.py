"""AIStore's native multipart upload and append (issue 19 part 2), through the unmodified SDK:
`Object.multipart_upload()` and `ObjectWriter.append_content` / `ObjectFile` in 'w' and 'a' modes.
The parts live in the one multipart store the S3 API uses (actors/mpu.py)."""

from __future__ import annotations

import glob
import os
import uuid
from typing import Any

import pytest
import requests

from tests.integration.conftest import LocalCluster

MiB = 1024 * 1024


@pytest.fixture()
def bck(sdk: Any) -> Any:
    b = sdk.bucket(f"mpn-{uuid.uuid4().hex[:8]}").create()
    yield b
    b.delete(missing_ok=True)


def leftovers(cluster: LocalCluster) -> set[str]:
    return {os.path.basename(d) for d in glob.glob(os.path.join(cluster.data_dir, "**", "%mu", "*"), recursive=True)}


def test_sdk_multipart_upload(bck: Any, cluster: LocalCluster) -> None:
    before = leftovers(cluster)
    parts = [os.urandom(3 * MiB + 1), os.urandom(17), os.urandom(2 * MiB)]
    mpu = bck.object("dir/big.bin").multipart_upload().create()
    assert mpu.upload_id
    for n in (3, 1, 2):  # parts may arrive in any order (and complete lists them in that order)
        mpu.add_part(n).put_content(parts[n - 1])
    assert mpu.complete().status_code == 200
    obj = bck.object("dir/big.bin")
    assert obj.get_reader().read_all() == b"".join(parts)
    assert obj.head().size == sum(map(len, parts))
    # abort: nothing left; completing the aborted one is a 404
    ab = bck.object("never").multipart_upload().create()
    ab.add_part(1).put_content(b"x" * 10)
    ab.abort()
    with pytest.raises(Exception) as info:
        ab.complete()
    assert getattr(info.value, "status_code", None) == 404 or "404" in str(info.value)
    with pytest.raises(Exception):
        bck.object("never").head()
    assert leftovers(cluster) == before


def test_native_multipart_errors(bck: Any, cluster: LocalCluster) -> None:
    url = f"{cluster.endpoint}/v1/objects/{bck.name}/o"
    up = requests.post(url, json={"action": "mpt-upload"}, timeout=30)
    assert up.status_code == 200 and up.text
    for params, code in [({"uploadId": up.text, "partNumber": "0"}, 400), ({"uploadId": up.text}, 400),
                         ({"uploadId": "nosuchupload1", "partNumber": "1"}, 404)]:
        r = requests.put(url, params=params, data=b"x", timeout=30)
        assert r.status_code == code, (params, r.status_code, r.text)
        assert r.json()["message"]
    r = requests.post(url, params={"uploadId": up.text}, json={"action": "mpt-complete", "value": [
        {"part-number": 1, "etag": ""}]}, timeout=30)
    assert r.status_code == 400 and "no part 1" in r.json()["message"]  # never uploaded
    r = requests.post(url, json={"action": "bogus"}, timeout=30)
    assert r.status_code == 400 and "bogus" in r.json()["message"]
    r = requests.delete(url, params={"uploadId": up.text}, json={"action": "mpt-abort"}, timeout=30)
    assert r.status_code == 200
    r = requests.delete(url, params={"uploadId": up.text}, timeout=30)
    assert r.status_code == 404


def test_sdk_append_and_object_file(bck: Any, cluster: LocalCluster) -> None:
    before = leftovers(cluster)
    w = bck.object("log.txt").get_writer()
    h = w.append_content(b"one ")
    assert h
    h = w.append_content(b"two ", handle=h)
    with pytest.raises(Exception):
        bck.object("log.txt").head()  # not visible before the flush
    w.append_content(b"", handle=h, flush=True)
    assert bck.object("log.txt").get_reader().read_all() == b"one two "
    # ObjectFile 'a' keeps what is there, 'w' starts empty
    with bck.object("log.txt").get_writer().as_file(mode="a") as f:
        f.write(b"three")
        f.write(b"!")
    assert bck.object("log.txt").get_reader().read_all() == b"one two three!"
    with bck.object("log.txt").get_writer().as_file(mode="w") as f:
        f.write(b"fresh")
    assert bck.object("log.txt").get_reader().read_all() == b"fresh"
    big = os.urandom(5 * MiB + 3)
    h = w.append_content(big[:MiB])  # a new handle on an existing object: appended to it
    w.append_content(big[MiB:], handle=h)
    w.append_content(b"", handle=h, flush=True)
    assert bck.object("log.txt").get_reader().read_all() == b"fresh" + big
    # a flush of an unknown handle: 404; a bad append_type: 400 naming it
    url = f"{cluster.endpoint}/v1/objects/{bck.name}/log.txt"
    r = requests.put(url, params={"append_type": "flush", "append_handle": "gone12345"}, data=b"", timeout=30)
    assert r.status_code == 404
    r = requests.put(url, params={"append_type": "bogus"}, data=b"", timeout=30, allow_redirects=False)
    assert r.status_code == 400 and "append_type" in r.json()["message"]
    assert leftovers(cluster) == before
