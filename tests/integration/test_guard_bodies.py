"""Issue 15 items 4 and 5: every JSON body is validated at the edge (400 with AIStore's error
body, never 500) and control bodies are bounded (413 before they are read)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.conftest import LocalCluster

JSON_ENDPOINTS = [  # the 11 routes that read a JSON body
    ("GET", "/v1/buckets/{b}"), ("POST", "/v1/buckets/{b}"), ("DELETE", "/v1/buckets/{b}"),
    ("PATCH", "/v1/buckets/{b}"), ("GET", "/v1/cluster"), ("PUT", "/v1/cluster"), ("POST", "/v1/objects/{b}"),
    ("POST", "/v1/download"), ("GET", "/v1/download"), ("DELETE", "/v1/download/abort"),
    ("DELETE", "/v1/download/remove"),
]
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJ = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.fixture()
def bck(cluster: LocalCluster) -> Iterator[str]:
    name = f"guard-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "create-bck"}, timeout=30)
    assert r.status_code == 200, r.text
    yield name
    requests.delete(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "destroy-bck"}, timeout=30)


def send(cluster: LocalCluster, method: str, path: str, body: str | bytes, **kw: Any) -> requests.Response:
    return requests.request(method, cluster.endpoint + path, data=body, timeout=60, **kw)


def assert_400(r: requests.Response, *words: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    err = r.json()
    assert err["status"] == 400 and err["tcode"] and err["url_path"], err  # AIStore's error body
    for w in words:
        assert w in err["message"], err["message"]


@pytest.mark.parametrize("method,path", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJ], ids=["array", "object"])
def test_deep_json_is_400(cluster: LocalCluster, bck: str, method: str, path: str, body: str) -> None:
    assert_400(send(cluster, method, path.format(b=bck), body), "nested deeper")


@pytest.mark.parametrize("method,path", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", ["5", '"s"', "[1]", "true"])
def test_non_object_body_is_400(cluster: LocalCluster, bck: str, method: str, path: str, body: str) -> None:
    assert_400(send(cluster, method, path.format(b=bck), body))


@pytest.mark.parametrize("method,action", [("GET", "list"), ("POST", "prefetch-listrange"),
                                           ("DELETE", "evict-listrange"), ("PATCH", "set-bprops")])
def test_value_as_list_is_400(cluster: LocalCluster, bck: str, method: str, action: str) -> None:
    assert_400(requests.request(method, f"{cluster.endpoint}/v1/buckets/{bck}",
                                json={"action": action, "value": [1, 2]}, timeout=30), "value")


@pytest.mark.parametrize("method,action", [("POST", "prefetch-listrange"), ("DELETE", "evict-listrange")])
def test_objnames_not_a_list_is_400(cluster: LocalCluster, bck: str, method: str, action: str) -> None:
    assert_400(requests.request(method, f"{cluster.endpoint}/v1/buckets/{bck}",
                                json={"action": action, "value": {"objnames": 5}}, timeout=30), "objnames")


@pytest.mark.parametrize("bckarg", [{"name": 5, "provider": "ais"}, {"name": "b", "provider": 5},
                                    {"name": "b", "namespace": [1]}])
def test_qryxstats_typed_bucket(cluster: LocalCluster, bckarg: dict[str, Any]) -> None:
    r = requests.get(f"{cluster.endpoint}/v1/cluster?what=qryxstats", json={"kind": "download", "bck": bckarg},
                     timeout=30)
    assert_400(r, "Bck")


@pytest.mark.parametrize("value", [{"chunk-size": 1.5}, {"chunk-size": [1]}, {"num-workers": {"a": 1}},
                                   {"latest-ver": "maybe"}])
def test_blob_download_typed_value(cluster: LocalCluster, bck: str, value: dict[str, Any]) -> None:
    r = requests.post(f"{cluster.endpoint}/v1/objects/{bck}", json={"action": "blob-download", "name": "o",
                                                                    "value": value}, timeout=30)
    assert_400(r)


@pytest.mark.parametrize("body", [{"action": 5}, {"action": "list", "name": ["x"]},
                                  {"action": "stop", "value": {"ID": 7}}])
def test_action_msg_typed(cluster: LocalCluster, body: dict[str, Any]) -> None:
    assert_400(requests.put(f"{cluster.endpoint}/v1/cluster", json=body, timeout=30))


@pytest.mark.parametrize("body", [{"type": "single", "bucket": {"name": 5}, "link": "http://x/y"},
                                  {"type": "single", "bucket": "b"}, {"type": "nope", "bucket": {"name": "b"}},
                                  {"type": "multi", "bucket": {"name": "b"}, "objects": 5},
                                  {"type": "single", "bucket": {"name": "b"}, "limits": {"connections": -1}}])
def test_download_body_typed(cluster: LocalCluster, body: dict[str, Any]) -> None:
    assert_400(requests.post(f"{cluster.endpoint}/v1/download", json=body, timeout=30))


def test_good_bodies_still_work(cluster: LocalCluster, bck: str) -> None:
    r = requests.get(f"{cluster.endpoint}/v1/cluster?what=status_all", json={"ID": "", "Kind": "download"}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.get(f"{cluster.endpoint}/v1/buckets/{bck}", json={"action": "list", "value": {"flags": "0"}},
                     timeout=30)
    assert r.status_code == 200, r.text


# ---- item 5: control bodies are bounded ----

def test_big_body_is_413_from_content_length(cluster: LocalCluster, bck: str) -> None:
    body = b'{"action": "create-bck", "name": "' + b"x" * (2 << 20) + b'"}'
    r = send(cluster, "POST", f"/v1/buckets/{bck}", body)
    assert r.status_code == 413, r.text[:200]
    assert r.json()["tcode"] == "ErrEntityTooLarge"


def test_big_chunked_body_is_413_while_streaming(cluster: LocalCluster, bck: str) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        nonlocal sent
        yield b'{"action": "create-bck", "name": "'
        for _ in range(64):  # up to 64 MiB, stopped early by the server
            sent += 1 << 20
            yield b"x" * (1 << 20)
        yield b'"}'

    try:
        r = requests.post(f"{cluster.endpoint}/v1/buckets/{bck}", data=chunks(), timeout=60)
        assert r.status_code == 413, r.text[:200]
    except requests.ConnectionError:
        pass  # the server answered and closed while we were still sending: also refused
    r = requests.get(f"{cluster.endpoint}/v1/health", timeout=30)
    assert r.status_code == 200


def test_object_put_is_not_bounded(cluster: LocalCluster, bck: str) -> None:
    data = b"z" * (3 << 20)
    r = requests.put(f"{cluster.endpoint}/v1/objects/{bck}/big", data=data, timeout=60)
    assert r.status_code == 200, r.text[:200]
    r = requests.get(f"{cluster.endpoint}/v1/objects/{bck}/big", timeout=60)
    assert r.content == data
