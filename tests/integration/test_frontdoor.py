"""The public port's front door (serve/frontdoor.py): a PUT's 307 is sent without reading its body."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import requests

from tests.integration.conftest import LocalCluster
from tests.integration.test_http import bucket  # noqa: F401  (the fixture: a fresh ais bucket)

BODY = 64 << 20


def raw_put(cluster: LocalCluster, path: str) -> tuple[bytes, int]:
    """PUT `path` with a BODY-byte body sent without waiting for an answer (no `Expect:
    100-continue`, as `requests` and the SDK do); the answer and how much of the body went."""
    u = urlsplit(cluster.endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {BODY}\r\n\r\n".encode())
        sent, chunk = 0, bytes(1 << 20)
        try:
            while sent < BODY:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while part := s.recv(1 << 16):
                answer += part
        except ConnectionResetError:
            pass
    return answer, sent


def test_put_redirect_closes_without_reading_the_body(cluster: LocalCluster, bucket: str) -> None:  # noqa: F811
    """A client that sends its body without waiting gets the 307 and a closed connection: the front
    door does not read (drain) the body — 64 MiB never all go through. Following the 307 stores the
    object (the data server)."""
    answer, sent = raw_put(cluster, f"/v1/objects/{bucket}/big?provider=ais")
    assert answer.startswith(b"HTTP/1.1 307"), answer[:200]
    assert b"\r\nLocation: http://" in answer and b"/v1/objects/" + bucket.encode() + b"/big" in answer
    assert sent < BODY  # closed unread (aiohttp's lingering close would have read all 64 MiB)
    data = os.urandom(3 << 20)
    r = requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/big", data=data, timeout=60)  # follows the 307
    assert r.status_code == 200, r.text
    assert requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/big", timeout=60).content == data


def test_s3_put_refused_closes_without_reading_the_body(cluster: LocalCluster) -> None:
    """The S3 gateway's refusal of a PUT (here: no such bucket) is answered and the connection
    closed, the body unread, as the native 307 is."""
    answer, sent = raw_put(cluster, "/s3/no-such-bucket-fd/obj")
    assert answer.startswith(b"HTTP/1.1 404") and b"NoSuchBucket" in answer, answer[:300]
    assert sent < BODY


def test_a_plain_get_of_an_object_on_this_machine_is_answered_in_one_request(cluster: LocalCluster,
                                                                               bucket: str) -> None:  # noqa: F811
    """The front door sends a stored object on its own machine from the file (no 307: one request
    instead of two), counted at the owning target; what the mountpath must decide is still a 307."""
    from tests.integration.test_stats import settled_status, tracked
    from tests.integration.test_target_reads import owner

    data = os.urandom(200_003)
    url = f"{cluster.endpoint}/v1/objects/{bucket}/near/o.bin"
    assert requests.put(url, data=data, timeout=30).status_code == 200
    tid, _ = owner(cluster, bucket, "near/o.bin")
    before = settled_status(cluster, tid)
    r = requests.get(url, params={"provider": "ais"}, allow_redirects=False, timeout=30)
    assert r.status_code == 200 and r.content == data, r.status_code
    assert r.headers["ais-location"].startswith(f"t[{tid}]:mp[") and r.headers["ais-version"] == "1"
    r = requests.get(url, headers={"Range": "bytes=10-19"}, allow_redirects=False, timeout=30)
    assert r.status_code == 206 and r.content == data[10:20]
    assert requests.put(url, data=b"v2", timeout=30).status_code == 200  # replaced: nothing is cached here
    r = requests.get(url, allow_redirects=False, timeout=30)
    assert r.status_code == 200 and r.content == b"v2" and r.headers["ais-version"] == "2"
    assert tracked(settled_status(cluster, tid), "get.n") - tracked(before, "get.n") == 3  # the owner's GETs
    for params, path in (({"latest-ver": "true"}, "near/o.bin"),  # the mountpath decides these
                         ({}, "near/missing")):
        r = requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/{path}", params=params, allow_redirects=False,
                         timeout=30)
        assert r.status_code == 307, (params, path, r.status_code)
    assert requests.head(url, allow_redirects=False, timeout=30).status_code == 307
