"""The public port's front door (serve/frontdoor.py): a PUT handed over, relayed or redirected, its body never sent twice."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import requests

from ais_ray.serve.frontdoor import RELAY_BELOW
from tests.integration.conftest import LocalCluster
from tests.integration.test_http import bucket  # noqa: F401  (the fixture: a fresh ais bucket)

BODY = 64 << 20


def raw_put(cluster: LocalCluster, path: str, *, expect: bool = False, size: int = BODY) -> tuple[bytes, int]:
    """PUT `path` with a `size`-byte body (zeros) sent without waiting for an answer (no `Expect:
    100-continue`, as `requests` and the SDK do) — or, `expect`, with it and only after a 100;
    the answer and how much of the body went."""
    u = urlsplit(cluster.endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        hdrs = "Expect: 100-continue\r\n" if expect else ""
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {size}\r\n{hdrs}\r\n".encode())
        sent, chunk, answer = 0, bytes(1 << 20), b""
        if expect:
            answer = s.recv(1 << 16)
        try:
            while sent < size and not answer:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while part := s.recv(1 << 16):  # the answer: its head and Content-Length bytes, or until closed
                answer += part
                head, _, rest = answer.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if _ and length and len(rest) >= length[0]:
                    break
        except ConnectionResetError:
            pass
    return answer, sent


def test_a_put_sent_without_waiting_is_handed_to_its_data_server(cluster: LocalCluster,
                                                                  bucket: str) -> None:  # noqa: F811
    """A client that sends a body of a stated length without waiting (`requests`, the SDK) has its
    connection handed to the owning mountpath's data server (`actors/handoff.py`), whatever the
    size: one request, the body sent once, not through the front door. The answer is the data
    server's own, which then closes the connection — a next request on it must reach the front
    door again — so a client's pooled connection is not reused after it, and the client's next
    requests go on over new ones."""
    answer, sent = raw_put(cluster, f"/v1/objects/{bucket}/big?provider=ais")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b"\r\nConnection: close\r\n" in answer and b"\r\nETag: " in answer, answer[:300]  # the data server's
    assert sent == BODY
    r = requests.head(f"{cluster.endpoint}/v1/objects/{bucket}/big", allow_redirects=True, timeout=30)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == BODY, r.headers
    url = f"{cluster.endpoint}/v1/objects/{bucket}/handed"
    with requests.Session() as s:
        for i in range(3):  # PUT, GET, PUT, ... on one session: each PUT's connection ends with its answer
            data = os.urandom(RELAY_BELOW + 1 + i)
            r = s.put(url, data=data, allow_redirects=False, timeout=60)
            assert r.status_code == 200 and r.headers.get("Connection") == "close", (r.status_code, r.headers)
            assert s.get(url, timeout=60).content == data


def test_a_handed_put_cut_short_leaves_nothing(cluster: LocalCluster, bucket: str) -> None:  # noqa: F811
    """A client that stops sending after its connection was handed over (the data server reads
    the rest of the body itself): no object, no work file left, and the name takes a PUT after."""
    import glob
    import time

    u = urlsplit(cluster.endpoint)
    path = f"/v1/objects/{bucket}/cut-handed"
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {8 << 20}\r\n\r\n".encode()
                  + bytes(3 << 20))
        time.sleep(0.5)
    work = os.path.join(cluster.data_dir, "*", "*", "%wk", "*")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and glob.glob(work):
        time.sleep(0.1)
    url = f"{cluster.endpoint}{path}"
    assert requests.get(url, timeout=30).status_code == 404
    assert not glob.glob(os.path.join(cluster.data_dir, "**", "cut-handed"), recursive=True)
    assert not glob.glob(work)
    assert requests.put(url, data=b"whole", timeout=30).status_code == 200
    assert requests.get(url, timeout=30).content == b"whole"


def test_a_small_put_sent_without_waiting_is_relayed_not_sent_twice(cluster: LocalCluster,
                                                                    bucket: str) -> None:  # noqa: F811
    """A client that sends a body without waiting (`requests`, the SDK) to an object on this
    machine has it taken by the owning mountpath in one request, the body sent once (after a 307
    it would send it whole again): a body of a stated length by its connection handed over, a
    chunked one — which a client sending from a generator could not send again at all — relayed
    by the front door. Stored whole, counted once at the owner; a refusal from the data server
    comes back as it was answered."""
    from tests.integration.test_stats import settled_status, tracked
    from tests.integration.test_target_reads import owner

    answer, sent = raw_put(cluster, f"/v1/objects/{bucket}/zeros?provider=ais", size=RELAY_BELOW)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert sent == RELAY_BELOW
    r = requests.head(f"{cluster.endpoint}/v1/objects/{bucket}/zeros", allow_redirects=True, timeout=30)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == RELAY_BELOW, r.headers
    data = os.urandom(3 << 20)
    url = f"{cluster.endpoint}/v1/objects/{bucket}/relayed"
    assert requests.put(url, data=b"first", timeout=30).status_code == 200
    tid, _ = owner(cluster, bucket, "relayed")
    before = settled_status(cluster, tid)
    r = requests.put(url, data=data, allow_redirects=False, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("ETag"), r.headers  # the data server's answer, passed back
    assert requests.get(url, timeout=60).content == data
    assert tracked(settled_status(cluster, tid), "put.n") - tracked(before, "put.n") == 1
    r = requests.put(url, data=b"x" * 1000, headers={"If-None-Match": "*"}, allow_redirects=False, timeout=30)
    assert r.status_code == 412 and r.json()["status"] == 412, (r.status_code, r.text)  # exists: not replaced
    assert requests.get(url, timeout=60).content == data
    r = requests.put(url, data=(data[i:i + 100_000] for i in range(0, len(data), 100_000)),  # chunked
                     allow_redirects=False, timeout=60)
    assert r.status_code == 200 and r.headers.get("Connection") != "close", (r.status_code, r.headers)  # relayed
    assert requests.get(url, timeout=60).content == data
    r = requests.put(url + "?partNumber=2", data=b"x", allow_redirects=False, timeout=30)
    assert r.status_code == 400, (r.status_code, r.text)  # refused before any relay (core/mpu.py check)


def test_a_put_that_waits_gets_the_307_and_the_body_stays_unread(cluster: LocalCluster,
                                                                  bucket: str) -> None:  # noqa: F811
    """A client that waits (`Expect: 100-continue`: AisClient, curl's large PUTs) gets the 307
    before any of its body, and the connection is closed rather than the body drained: the body
    goes once, to the data server. Following the 307 stores the object."""
    answer, sent = raw_put(cluster, f"/v1/objects/{bucket}/waits?provider=ais", expect=True)
    assert answer.startswith(b"HTTP/1.1 307"), answer[:200]
    assert b"\r\nLocation: http://" in answer and b"/v1/objects/" + bucket.encode() + b"/waits" in answer
    assert sent == 0
    data = os.urandom(3 << 20)
    r = requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/waits", data=data, headers={"Expect": "100-continue"},
                     allow_redirects=False, timeout=60)
    assert r.status_code == 307, r.status_code
    assert requests.put(r.headers["Location"], data=data, timeout=60).status_code == 200
    assert requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/waits", timeout=60).content == data


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
