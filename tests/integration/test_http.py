"""The REST API over raw HTTP: redirects, ranges, headers, listing, and every bad input."""

from __future__ import annotations

import glob
import http.client
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import msgpack
import pytest
import requests
import xxhash

from tests.integration.conftest import LocalCluster

# a client that waits for an answer before sending its body: its PUT gets the 307 (the front door
# relays a small PUT whose client sends the body at once: serve/frontdoor.py `relays`)
WAITS = {"Expect": "100-continue"}


@pytest.fixture()
def bucket(cluster: LocalCluster) -> Iterator[str]:
    name = f"h-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "create-bck"})
    assert r.status_code == 200, r.text
    yield name
    requests.delete(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "destroy-bck"})


def obj_url(cluster: LocalCluster, bucket: str, name: str) -> str:
    return f"{cluster.endpoint}/v1/objects/{bucket}/{name}"


def test_data_requests_redirect_to_a_mountpath(cluster: LocalCluster, bucket: str) -> None:
    r = requests.put(obj_url(cluster, bucket, "o"), data=b"", allow_redirects=False, headers=WAITS)
    assert r.status_code == 307
    loc = r.headers["Location"]
    smap = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}).json()
    mp_urls = {m["url"] for t in smap["tmap"].values() for m in t["mountpaths"]}
    assert f"{urlsplit(loc).scheme}://{urlsplit(loc).netloc}" in mp_urls
    assert urlsplit(loc).path == f"/v1/objects/{bucket}/o"


def test_put_get_range_head(cluster: LocalCluster, bucket: str) -> None:
    data = os.urandom(100_003)
    url = obj_url(cluster, bucket, quote("dir/obj name?#%.bin"))  # as the SDK quotes names
    assert requests.put(url, data=data).status_code == 200
    r = requests.get(url)
    assert r.status_code == 200 and r.content == data
    assert r.headers["ais-checksum-type"] == "xxhash2"
    assert r.headers["ais-checksum-value"] == xxhash.xxh64(data, seed=0).hexdigest()
    assert r.headers["ais-version"] == "1"
    r = requests.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = requests.get(url, headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = requests.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and "not satisfiable" in r.json()["message"]
    r = requests.get(url, headers={"Range": "bytes=5-1"})
    assert r.status_code == 400
    h = requests.head(url, allow_redirects=True, params={"props": "name,size,checksum,version,atime"})
    assert h.status_code == 200 and int(h.headers["Content-Length"]) == len(data)
    assert h.headers["Ais-Present"] == "true" and int(h.headers["ais-atime"]) > 0
    h = requests.head(url, allow_redirects=True, params={"props": "name,bogus"})
    assert h.status_code == 400
    listed = list_names(cluster, bucket)
    assert listed == ["dir/obj name?#%.bin"]


def list_names(cluster: LocalCluster, bucket: str, **value: object) -> list[str]:
    names, token = [], ""
    while True:
        body = {"action": "list", "value": {"props": "name,size", "continuation_token": token, **value}}
        r = requests.get(f"{cluster.endpoint}/v1/buckets/{bucket}", json=body)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/msgpack"
        page = msgpack.unpackb(r.content)
        assert page["UUID"]
        names += [e["n"] for e in page["Entries"] or []]
        token = page["ContinuationToken"]
        if not token:
            return names


def test_listing_pages_prefix_and_order(cluster: LocalCluster, bucket: str) -> None:
    names = [f"p/{i:03d}" for i in range(37)] + ["p-", "p/x/y", "q", "a/b/c", "a-b", "a/b-c"]
    for n in names:
        assert requests.put(obj_url(cluster, bucket, n), data=n.encode()).status_code == 200
    assert list_names(cluster, bucket, pagesize=5) == sorted(names)
    assert list_names(cluster, bucket, pagesize=4, prefix="p/") == sorted(n for n in names if n.startswith("p/"))
    assert list_names(cluster, bucket, start_after="p/035") == ["p/036", "p/x/y", "q"]


@pytest.mark.parametrize("name", ["*", "a b", "x..y", "é", "a" * 65])
def test_invalid_bucket_names(cluster: LocalCluster, name: str) -> None:
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "create-bck"})
    assert r.status_code == 400 and "bucket name" in r.json()["message"]


def test_bucket_name_with_slash_is_4xx(cluster: LocalCluster) -> None:
    r = requests.post(f"{cluster.endpoint}/v1/buckets/a%2Fb", json={"action": "create-bck"})
    assert r.status_code == 400 and "is invalid" in r.json()["message"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "%2Fetc%2Fpasswd", "a/../../x", "a/%2E%2E/%2E%2E/x", "a/./b", "ends/"])
def test_path_traversal_is_rejected(cluster: LocalCluster, bucket: str, name: str) -> None:
    # http.client sends the path exactly as given (requests/urllib3 would remove dot segments)
    conn = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=30)
    conn.request("PUT", f"/v1/objects/{bucket}/{name}", body=b"evil")
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 400, body
    assert "is invalid" in body["message"]
    # nothing escaped: no such file in this bucket, nor anywhere that is not some bucket's objects dir
    for leaf in ("passwd", "x", "b", "evil"):
        for path in glob.glob(os.path.join(cluster.data_dir, "**", leaf), recursive=True):
            assert "/%ob/" in path and f"/@ais/{bucket}/" not in path, path


def test_missing_bucket_and_object_404(cluster: LocalCluster, bucket: str) -> None:
    r = requests.get(obj_url(cluster, bucket, "missing"))
    assert r.status_code == 404 and f'ais://{bucket}/missing' in r.json()["message"]
    r = requests.get(obj_url(cluster, "no-such-bck", "o"))
    assert r.status_code == 404 and 'bucket "ais://no-such-bck" does not exist' in r.json()["message"]
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{bucket}", json={"action": "create-bck"})
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    r = requests.head(f"{cluster.endpoint}/v1/buckets/no-such-bck")
    assert r.status_code == 404


def test_truncated_put_leaves_nothing(cluster: LocalCluster, bucket: str) -> None:
    loc = requests.put(obj_url(cluster, bucket, "cut.bin"), data=b"", allow_redirects=False,
                       headers=WAITS).headers["Location"]
    u = urlsplit(loc)
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall(f"PUT {u.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {8 << 20}\r\n\r\n".encode() + b"x" * (1 << 20))
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and glob.glob(os.path.join(cluster.data_dir, "*", "*", "%wk", "*")):
        time.sleep(0.1)
    assert requests.get(obj_url(cluster, bucket, "cut.bin")).status_code == 404
    assert not glob.glob(os.path.join(cluster.data_dir, "**", "cut.bin"), recursive=True)
    assert not glob.glob(os.path.join(cluster.data_dir, "*", "*", "%wk", "*"))


def test_bucket_head_props_and_list_buckets(cluster: LocalCluster, bucket: str) -> None:
    r = requests.head(f"{cluster.endpoint}/v1/buckets/{bucket}")
    assert r.status_code == 200
    props = json.loads(r.headers["Ais-Bucket-Props"])
    assert props["provider"] == "ais" and props["checksum"]["type"] == "xxhash2"
    r = requests.get(f"{cluster.endpoint}/v1/buckets", params={"provider": "ais"}, json={"action": "list"})
    assert {"name": bucket, "provider": "ais", "namespace": {"uuid": "", "name": ""}} in r.json()


def test_openapi_documents_the_api(cluster: LocalCluster) -> None:
    spec = requests.get(f"{cluster.endpoint}/openapi.json").json()
    for path in ("/v1/daemon", "/v1/health", "/v1/buckets/{bucket}", "/v1/objects/{bucket}/{obj}"):
        assert path in spec["paths"], path


def test_bad_json_body_is_400(cluster: LocalCluster, bucket: str) -> None:
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{bucket}", data=b"{not json")
    assert r.status_code == 400 and "invalid JSON" in r.json()["message"]
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{bucket}", json={"action": "no-such-action"})
    assert r.status_code == 400


def test_gets_go_out_zero_copy(cluster: LocalCluster, bucket: str) -> None:
    """The mountpath's data server sends a GET with sendfile, not a copy through Python."""
    data = os.urandom(4 << 20)
    assert requests.put(obj_url(cluster, bucket, "big"), data=data).status_code == 200
    loc = requests.head(obj_url(cluster, bucket, "big"), allow_redirects=False).headers["Location"]

    def counts() -> list[dict]:
        stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()
        return [m["stats"] for t in stats["targets"].values() for m in t["mountpaths"]]

    before = counts()
    assert requests.get(loc).content == data  # at the data server (the front door sends its own: test_frontdoor)
    after = counts()
    assert sum(c.get("get.n", 0) for c in after) - sum(c.get("get.n", 0) for c in before) == 1
    assert sum(c.get("get.copied.n", 0) for c in after) == sum(c.get("get.copied.n", 0) for c in before), after
