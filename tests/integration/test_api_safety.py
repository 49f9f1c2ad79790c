"""Requests through the native API and the SDK that used to lose data or hang the cluster: an
evict of an ais bucket (its objects have no other copy), a lone surrogate in a JSON body, names
whose bytes are not UTF-8 (two names, one object), a newline in a name; and the SDK's delete of a
selection (`delete-listrange`), which was refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.conftest import LocalCluster


@pytest.fixture()
def bck(sdk: Any) -> Iterator[Any]:
    b = sdk.bucket(f"safe-{uuid.uuid4().hex[:8]}")
    b.create()
    yield b
    b.delete(missing_ok=True)


def _put(cluster: LocalCluster, bucket: str, raw_name: str, data: bytes) -> requests.Response:
    return requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/{raw_name}", params={"provider": "ais"}, data=data,
                        timeout=30)


def test_evict_of_an_ais_bucket_is_refused_and_deletes_nothing(bck: Any, cluster: LocalCluster) -> None:
    for n in ("keep1", "keep2"):
        bck.object(n).get_writer().put_content(n.encode())
    url = f"{cluster.endpoint}/v1/buckets/{bck.name}"
    for body in ({"action": "evict-listrange", "value": {"objnames": ["keep1"]}}, {"action": "evict-remote-bck"}):
        r = requests.delete(url, params={"provider": "ais"}, json=body, timeout=30)
        assert r.status_code == 400 and "not a remote bucket" in r.json()["message"], (body, r.status_code, r.text)
    r = requests.delete(url, params={"provider": "ais", "keep_bck_md": "true"}, json={"action": "evict-remote-bck"},
                        timeout=30)
    assert r.status_code == 400
    assert sorted(e.name for e in bck.list_all_objects()) == ["keep1", "keep2"]
    assert bck.object("keep1").get_reader().read_all() == b"keep1"


def test_sdk_deletes_a_selection(bck: Any, sdk: Any) -> None:
    for i in range(12):
        bck.object(f"d/{i:02d}").get_writer().put_content(b"x" * i)
    job = bck.objects(obj_names=["d/00", "d/01", "nope"]).delete()
    sdk.job(job_id=job).wait(timeout=60)
    job = bck.objects(obj_template="d/{05..09}").delete()
    sdk.job(job_id=job).wait(timeout=60)
    assert sorted(e.name for e in bck.list_all_objects()) == ["d/02", "d/03", "d/04", "d/10", "d/11"]


def test_bad_strings_are_refused_not_stored_or_crashed_on(bck: Any, cluster: LocalCluster) -> None:
    # a lone surrogate in a body: 400 at once (it used to crash the proxy actor over and over)
    for method, path, body in (("GET", "/v1/cluster?what=status", '{"ID":"\\ud800"}'),
                               ("PUT", "/v1/cluster", '{"action":"stop","value":{"ID":"\\ud800","Kind":""}}'),
                               ("POST", f"/v1/buckets/{bck.name}?provider=ais",
                                '{"action":"copy-listrange","value":{"objnames":["\\ud800"],'
                                '"tobck":{"name":"sg","provider":"ais"}}}')):
        r = requests.request(method, cluster.endpoint + path, data=body, timeout=20)
        assert r.status_code == 400 and "surrogate" in r.json()["message"], (path, r.status_code, r.text)
    assert requests.get(f"{cluster.endpoint}/v1/health", timeout=10).status_code == 200
    # bytes that are not UTF-8 would all decode to U+FFFD: one name for three objects
    for raw in ("%FF%FE", "%FE%FF", "%C0%80"):
        r = _put(cluster, bck.name, raw, b"x")
        assert r.status_code == 400 and "U+FFFD" in r.json()["message"], (raw, r.status_code, r.text)
    # a newline: a JSON 400 naming the name (it was a plain-text 404 from the router)
    r = _put(cluster, bck.name, "nl%0Ax", b"x")
    assert r.status_code == 400 and "control character" in r.json()["message"], (r.status_code, r.text)
    r = requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/nl%0Ax", params={"provider": "ais"}, timeout=30)
    assert r.status_code == 400 and r.json()["message"], r.text
    assert list(bck.list_all_objects()) == []


def test_bucket_head_with_a_bad_presence_is_a_400(bck: Any, cluster: LocalCluster) -> None:
    url = f"{cluster.endpoint}/v1/buckets/{bck.name}"
    for bad in ("abc", "9", "-1"):
        r = requests.head(url, params={"provider": "ais", "presence": bad}, timeout=30)
        assert r.status_code == 400, (bad, r.status_code)  # not a summary started (202)
    r = requests.head(url, params={"provider": "ais", "presence": "2"}, timeout=30)
    assert r.status_code == 202 and r.headers.get("ais-xaction-id")
