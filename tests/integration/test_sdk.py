"""The official `aistore` SDK (2.0.0), unmodified, against ais-ray."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aistore.sdk.errors import AISError, ErrBckAlreadyExists, ErrBckNotFound, ErrObjNotFound

from tests.integration.conftest import TIDS, LocalCluster


@pytest.fixture()
def bck(sdk: object) -> Iterator[object]:
    b = sdk.bucket(f"sdk-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    b.create()
    yield b
    b.delete(missing_ok=True)


def test_cluster_map_and_ready(sdk: object, cluster: LocalCluster) -> None:
    smap = sdk.cluster().get_info()  # type: ignore[attr-defined]
    assert set(smap.tmap) == TIDS
    assert smap.proxy_si.public_net.direct_url == cluster.endpoint
    assert sdk.cluster().is_ready()  # type: ignore[attr-defined]


def test_create_exist_ok_and_delete_missing_ok(sdk: object) -> None:
    b = sdk.bucket(f"sdk-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    b.create()
    b.create(exist_ok=True)
    with pytest.raises(ErrBckAlreadyExists):
        b.create()
    assert any(x.name == b.name for x in sdk.cluster().list_buckets())  # type: ignore[attr-defined]
    b.delete()
    b.delete(missing_ok=True)
    with pytest.raises(ErrBckNotFound):
        b.delete()


@pytest.mark.parametrize("name", ["*", "bucket/badname", " ", "x" * 65])
def test_create_invalid_name(sdk: object, name: str) -> None:
    with pytest.raises(AISError) as ei:
        sdk.bucket(name).create()  # type: ignore[attr-defined]
    assert 400 <= ei.value.status_code < 500


def test_put_get_range_raw_head(bck: object, tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    obj = bck.object("dir/big file.bin")  # type: ignore[attr-defined]
    obj.get_writer().put_content(data)
    assert obj.get_reader().read_all() == data
    assert obj.get_reader(byte_range="bytes=5-100").read_all() == data[5:101]
    assert obj.get_reader(byte_range="bytes=-10").read_all() == data[-10:]
    assert obj.get_reader().raw().read() == data
    assert obj.get_reader(direct=True).read_all() == data
    props = obj.head()
    assert props.size == len(data) and props.present
    p = tmp_path / "f.bin"
    p.write_bytes(b"file contents")
    bck.object("from-file").get_writer().put_file(str(p))  # type: ignore[attr-defined]
    assert bck.object("from-file").get_reader().read_all() == b"file contents"  # type: ignore[attr-defined]
    with_props = bck.object("from-file").props  # type: ignore[attr-defined]
    assert with_props.checksum_type == "xxhash2" and with_props.obj_version == "1"
    assert with_props.name == "from-file" and with_props.bucket_name == bck.name  # type: ignore[attr-defined]


def test_listing_with_small_pages(bck: object) -> None:
    names = [f"o/{i:03d}" for i in range(23)]
    for n in names:
        bck.object(n).get_writer().put_content(n.encode())  # type: ignore[attr-defined]
    assert [e.name for e in bck.list_all_objects(page_size=5)] == names  # type: ignore[attr-defined]
    assert [e.name for e in bck.list_objects_iter(page_size=4)] == names  # type: ignore[attr-defined]
    page = bck.list_objects(page_size=10)  # type: ignore[attr-defined]
    assert [e.name for e in page.entries] == names[:10] and page.continuation_token and page.uuid
    assert all(e.is_ok() and e.size == len(e.name) for e in page.entries)
    assert [e.name for e in bck.list_all_objects(prefix="o/01")] == names[10:20]  # type: ignore[attr-defined]
    # `target`: only what that target holds (each name on exactly one of them)
    by_target = {t: [e.name for e in bck.list_all_objects(target=t, props="name,location")]  # type: ignore[attr-defined]
                 for t in sorted(TIDS)}
    assert sorted(n for ns in by_target.values() for n in ns) == names and all(by_target.values())
    for t, ns in by_target.items():
        assert all(e.location.startswith(f"t[{t}]") for e in bck.list_all_objects(target=t, props="name,location"))  # type: ignore[attr-defined]
    with pytest.raises(AISError) as info:
        bck.list_all_objects(target="t9")  # type: ignore[attr-defined]
    assert info.value.status_code == 404


def test_delete_and_errors(sdk: object, bck: object) -> None:
    obj = bck.object("x")  # type: ignore[attr-defined]
    obj.get_writer().put_content(b"x")
    obj.delete()
    with pytest.raises(ErrObjNotFound):
        obj.get_reader().read_all()
    with pytest.raises(ErrObjNotFound):
        obj.delete()
    with pytest.raises(ErrBckNotFound):
        sdk.bucket("no-such-bucket-sdk").list_all_objects()  # type: ignore[attr-defined]
    with pytest.raises(ErrBckNotFound):
        sdk.bucket("no-such-bucket-sdk").object("o").get_reader().read_all()  # type: ignore[attr-defined]


def test_custom_props_merged_replaced_and_refused(bck: object, cluster: LocalCluster) -> None:
    """The SDK's `set_custom_props` (PATCH): merged into the object's custom metadata, or instead of
    it; the bytes and version stay; a malformed value is a 400 that changes nothing."""
    import requests

    obj = bck.object("meta.bin")  # type: ignore[attr-defined]
    obj.get_writer().put_content(b"abc")
    w = obj.get_writer()
    w.set_custom_props({"owner": "ann", "team": "ml"})
    assert obj.head().custom_metadata == {"owner": "ann", "team": "ml"}
    w.set_custom_props({"team": "data"})
    assert obj.head().custom_metadata == {"owner": "ann", "team": "data"}
    w.set_custom_props({"only": "this"}, replace_existing=True)
    head = obj.head()
    assert head.custom_metadata == {"only": "this"} and head.obj_version == "1"
    assert obj.get_reader().read_all() == b"abc"
    url = f"{cluster.endpoint}/v1/objects/{bck.name}/meta.bin"  # type: ignore[attr-defined]
    for body in ([1, 2], {"action": "", "value": {"k": 1}}, {"action": "", "value": {"a\nb": "x"}},
                 {"action": "", "value": {"a=b": "x"}}, {"action": "", "value": {"k": "x" * 5000}}):
        r = requests.patch(url, json=body, params={"provider": "ais"}, timeout=30)
        assert r.status_code == 400 and "custom metadata" in r.json()["message"], (body, r.status_code, r.text)
    assert obj.head().custom_metadata == {"only": "this"}
    w.set_custom_props({"big1": "x" * 3000})
    r = requests.patch(url, json={"action": "", "value": {"big2": "y" * 3000}}, params={"provider": "ais"}, timeout=30)
    assert r.status_code == 400 and "too large" in r.json()["message"], (r.status_code, r.text)  # merged: > one xattr
    assert obj.head().custom_metadata == {"only": "this", "big1": "x" * 3000}
    with pytest.raises(AISError) as e:
        bck.object("missing").get_writer().set_custom_props({"a": "b"})  # type: ignore[attr-defined]
    assert e.value.status_code == 404


def test_info_of_a_prefix(bck: object) -> None:
    """The SDK's `bucket.info(prefix=...)`: HEAD /v1/buckets/<b>/<prefix>, a summary of what is under it."""
    for name in ("a/1", "a/2", "b/1"):
        bck.object(name).get_writer().put_content(b"xy")  # type: ignore[attr-defined]
    _, under_a = bck.info(prefix="a/")  # type: ignore[attr-defined]
    assert under_a["ObjCount"]["obj_count_present"] == "2" and under_a["TotalSize"]["size_all_present_objs"] == "4"
    _, whole = bck.info()  # type: ignore[attr-defined]
    assert whole["ObjCount"]["obj_count_present"] == "3"
