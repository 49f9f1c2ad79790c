"""ETL on Ray (issue 13): the official SDK 2.0.0's `init_class` end to end on the session cluster —
inline GET (args, pipeline), bucket and objects transforms, per-object errors, list, stop,
start, delete — and the REST edge's refusals (duplicate, unknown, an image it cannot run)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aistore.sdk.errors import AISError
from aistore.sdk.etl import ETLConfig
from aistore.sdk.etl.webserver.http_multi_threaded_server import HTTPMultiThreadedServer as EtlBase

from tests.integration.conftest import LocalCluster


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _upper_class() -> type:
    class UpperETL(EtlBase):  # defined in a function: cloudpickled by value, as from __main__
        def transform(self, data: bytes, path: str, etl_args: str) -> bytes:
            if data.startswith(b"boom"):
                raise ValueError(f"cannot transform {path}")
            return data.upper() + (f"|{etl_args}".encode() if etl_args else b"")

    return UpperETL


def _reverse_class() -> type:
    class ReverseETL(EtlBase):
        def transform_stream(self, reader: Any, path: str, etl_args: str) -> Iterator[bytes]:
            yield reader.read()[::-1]

    return ReverseETL


@pytest.fixture(scope="module")
def etls(sdk: Any) -> Iterator[tuple[str, str]]:
    upper, rev = _name("upper"), _name("rev")
    sdk.etl(upper).init_class(NUM_WORKERS=2)(_upper_class())
    sdk.etl(rev).init_class()(_reverse_class())
    yield upper, rev
    for n in (upper, rev):
        try:
            sdk.etl(n).delete()
        except AISError:
            pass


@pytest.fixture()
def bck(sdk: Any) -> Iterator[Any]:
    b = sdk.bucket(f"etl-{uuid.uuid4().hex[:8]}")
    b.create()
    for i in range(20):
        b.object(f"o{i:02d}.txt").get_writer().put_content(f"object {i}".encode())
    yield b
    b.delete(missing_ok=True)


def test_inline_args_pipeline(sdk: Any, etls: tuple[str, str], bck: Any) -> None:
    upper, rev = etls
    obj = bck.object("o03.txt")
    assert obj.get_reader(etl=ETLConfig(upper)).read_all() == b"OBJECT 3"
    assert obj.get_reader(etl=ETLConfig(upper, args="x1")).read_all() == b"OBJECT 3|x1"
    assert obj.get_reader(etl=ETLConfig(upper, args={"k": "v"})).read_all() == b'OBJECT 3|{"k":"v"}'
    assert obj.get_reader(etl=ETLConfig(sdk.etl(upper) >> sdk.etl(rev))).read_all() == b"3 TCEJBO"
    assert obj.get_reader().read_all() == b"object 3"  # the stored object is untouched


def test_list_view_and_unknown(sdk: Any, cluster: LocalCluster, etls: tuple[str, str], bck: Any) -> None:
    upper, _ = etls
    infos = {e.id: e for e in sdk.cluster().list_etls()}
    assert infos[upper].stage == "Running" and infos[upper].xaction_id.startswith("etl-")
    assert sdk.etl(upper).view().init_msg.name == upper
    r = requests.get(f"{cluster.endpoint}/v1/etl/nosuch-etl", timeout=30)
    assert r.status_code == 404 and "etl job nosuch-etl does not exist" in r.text
    r = requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/o01.txt", params={"etl_name": "nosuch-etl"}, timeout=30)
    assert r.status_code == 404, r.text
    health = requests.get(f"{cluster.endpoint}/v1/etl/{upper}/health", timeout=30).json()
    assert {h["health_status"] for h in health} == {"Running"} and len(health) == 3
    logs = requests.get(f"{cluster.endpoint}/v1/etl/{upper}/logs", timeout=30).json()
    assert any(b"ready" in base64.b64decode(x["logs"]) for x in logs)


def test_duplicate_and_unrunnable_image(sdk: Any, cluster: LocalCluster, etls: tuple[str, str]) -> None:
    upper, _ = etls
    with pytest.raises(AISError) as e:
        sdk.etl(upper).init_class()(_upper_class())
    assert e.value.status_code == 409 and "already exists" in str(e.value)
    with pytest.raises(AISError) as e:
        sdk.etl(_name("img")).init(image="aistorage/transformer_tar2tf:latest")
    assert 400 <= e.value.status_code < 500 and "cannot run container image" in str(e.value)
    assert not [x for x in sdk.cluster().list_etls() if x.id.startswith("img-")]  # nothing left behind
    r = requests.put(f"{cluster.endpoint}/v1/etl", json={"name": "Bad_Name", "runtime": {"image": "x"}}, timeout=30)
    assert r.status_code == 400 and "Bad_Name" in r.text


def test_bucket_transform_and_objects(sdk: Any, etls: tuple[str, str], bck: Any) -> None:
    upper, rev = etls
    dst = sdk.bucket(f"etld-{uuid.uuid4().hex[:8]}")
    try:
        job = bck.transform(upper, dst, ext={"txt": "up"}, prepend="u/")
        sdk.job(job).wait(timeout=120)
        got = {e.name: dst.object(e.name).get_reader().read_all() for e in dst.list_all_objects()}
        assert got == {f"u/o{i:02d}.up": f"OBJECT {i}".encode() for i in range(20)}
        job = bck.objects(obj_names=["o01.txt", "o02.txt"]).transform(dst, etl_name=upper, etl_pipeline=[rev])
        sdk.job(job).wait(timeout=120)
        assert dst.object("o02.txt").get_reader().read_all() == b"2 TCEJBO"
        assert sdk.cluster().list_etls()[0].obj_count >= 0
    finally:
        dst.delete(missing_ok=True)


def test_errors_kept_per_job(sdk: Any, etls: tuple[str, str], bck: Any) -> None:
    upper, _ = etls
    bck.object("boom1.txt").get_writer().put_content(b"boom!")
    dst = sdk.bucket(f"etle-{uuid.uuid4().hex[:8]}")
    try:
        job = bck.transform(upper, dst, cont_on_err=True)
        sdk.job(job).wait(timeout=120)
        assert "failed to transform 1 object(s)" in sdk.job(job).status().err  # the rest went on
        names = {e.name for e in dst.list_all_objects()}
        assert len(names) == 20 and "boom1.txt" not in names  # the rest went on, nothing partial
        errs = sdk.etl(upper).view(job_id=job).obj_errors
        assert [e.obj_name for e in errs] == [f"ais://{bck.name}/boom1.txt"]
        assert "cannot transform" in errs[0].msg
        with pytest.raises(AISError) as e:  # inline: the transform's error, not a retried 5xx
            bck.object("boom1.txt").get_reader(etl=ETLConfig(upper)).read_all()
        assert e.value.status_code == 422
        assert any(x.obj_name.endswith("/boom1.txt") for x in sdk.etl(upper).view().obj_errors)
    finally:
        dst.delete(missing_ok=True)


def test_stop_start_delete(sdk: Any, cluster: LocalCluster, bck: Any) -> None:
    name = _name("cycle")
    etl = sdk.etl(name)
    etl.init_class()(_reverse_class())
    obj = bck.object("o05.txt")
    assert obj.get_reader(etl=ETLConfig(name)).read_all() == b"5 tcejbo"
    etl.stop()
    assert {e.id: e.stage for e in sdk.cluster().list_etls(stages=["Aborted"])}[name] == "Aborted"
    with pytest.raises(AISError) as e:
        obj.get_reader(etl=ETLConfig(name)).read_all()
    assert e.value.status_code == 404
    with pytest.raises(AISError) as e:
        bck.transform(name, sdk.bucket("etl-never"))
    assert e.value.status_code == 400 and "not running" in str(e.value)
    r = requests.post(f"{cluster.endpoint}/v1/etl/{name}/start", timeout=120)
    assert r.status_code == 200 and r.text.startswith("etl-")
    assert obj.get_reader(etl=ETLConfig(name)).read_all() == b"5 tcejbo"
    r = requests.post(f"{cluster.endpoint}/v1/etl/{name}/start", timeout=30)
    assert r.status_code == 400 and "during Running stage" in r.text
    etl.delete()
    assert name not in {e.id for e in sdk.cluster().list_etls(stages=["Running", "Aborted"])}
    with pytest.raises(AISError) as e:
        etl.view()
    assert e.value.status_code == 404
    # the same name again at once, no request in between: the mountpaths' cached worker handles
    # are stale (dead actors) and must be looked up again, not reported as a dying transform
    etl.init_class()(_reverse_class())
    assert obj.get_reader(etl=ETLConfig(name)).read_all() == b"5 tcejbo"
    etl.delete()
    assert json.loads(requests.get(f"{cluster.endpoint}/v1/etl", timeout=30).text) is not None
