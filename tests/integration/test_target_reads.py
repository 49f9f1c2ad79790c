"""The target's own URL answers a plain GET itself (one request, as the SDK's direct=True expects);
everything the mountpath must decide still gets the 307 (actors/target_reads.py)."""

from __future__ import annotations

import os
import time
import uuid
from urllib.parse import urlsplit

import requests

from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from tests.integration.conftest import LocalCluster
from tests.integration.test_http import bucket  # noqa: F401  (the fixture: a fresh ais bucket)
from tests.integration.test_stats import node_status, settled_status, tracked


def owner(cluster: LocalCluster, bucket: str, name: str) -> tuple[str, str]:
    """(tid, target URL) HRW picks for the object, computed as the SDK computes it."""
    smap = Smap.from_wire(requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}).json())
    tsi, _ = smap.locate(Bucket(bucket).uname(name))
    return tsi.daemon_id, tsi.url


def test_plain_get_is_answered_by_the_target_in_one_request(cluster: LocalCluster, bucket: str) -> None:
    data = os.urandom(300_001)
    assert requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/d/o.bin", data=data).status_code == 200
    tid, turl = owner(cluster, bucket, "d/o.bin")
    before = tracked(settled_status(cluster, tid), "get.n")
    url = f"{turl}/v1/objects/{bucket}/d/o.bin"
    r = requests.get(url, params={"provider": "ais"}, allow_redirects=False, timeout=30)
    assert r.status_code == 200 and r.content == data
    assert r.headers["ais-location"].startswith(f"t[{tid}]:mp[") and r.headers["ais-version"] == "1"
    r = requests.get(url, headers={"Range": "bytes=7-106"}, allow_redirects=False, timeout=30)
    assert r.status_code == 206 and r.content == data[7:107]
    assert r.headers["Content-Range"] == f"bytes 7-106/{len(data)}"
    assert tracked(node_status(cluster, tid), "get.n") - before == 2  # counted like the mountpath's GETs
    # replaced: the next read is the new object (nothing is cached in the target)
    assert requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/d/o.bin", data=b"v2").status_code == 200
    r = requests.get(url, allow_redirects=False, timeout=30)
    assert r.status_code == 200 and r.content == b"v2" and r.headers["ais-version"] == "2"


def test_what_the_mountpath_decides_is_still_redirected(cluster: LocalCluster, bucket: str) -> None:
    assert requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/x", data=b"x").status_code == 200
    _, turl = owner(cluster, bucket, "x")
    smap = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}).json()
    mp_urls = {m["url"] for t in smap["tmap"].values() for m in t["mountpaths"]}
    for url, params in ((f"{turl}/v1/objects/{bucket}/x", {"latest-ver": "true"}),  # a query it does not know
                        (f"{turl}/v1/objects/{bucket}/missing", {}),  # not stored: GFN, cold GET, EC are the mountpath's
                        (f"{turl}/v1/objects/nope-{uuid.uuid4().hex[:6]}/x", {})):  # no such bucket
        r = requests.get(url, params=params, allow_redirects=False, timeout=30)
        assert r.status_code == 307, (url, r.status_code, r.text)
        loc = urlsplit(r.headers["Location"])
        assert f"{loc.scheme}://{loc.netloc}" in mp_urls
    r = requests.get(f"{turl}/v1/objects/{bucket}/missing", timeout=30)
    assert r.status_code == 404 and "missing" in r.json()["message"]
    r = requests.head(f"{turl}/v1/objects/{bucket}/x", allow_redirects=False, timeout=30)
    assert r.status_code == 307  # only GETs are answered here


def test_access_time_of_a_target_read_reaches_the_object(cluster: LocalCluster, bucket: str) -> None:
    url = f"{cluster.endpoint}/v1/objects/{bucket}/t"
    assert requests.put(url, data=b"t").status_code == 200
    stored = int(requests.head(url, timeout=30, allow_redirects=True).headers["ais-atime"])
    time.sleep(0.01)
    _, turl = owner(cluster, bucket, "t")
    assert requests.get(f"{turl}/v1/objects/{bucket}/t", allow_redirects=False, timeout=30).status_code == 200
    deadline = time.monotonic() + 30  # written in batches: within one flush period (fs/atime.py)
    while int(requests.head(url, timeout=30, allow_redirects=True).headers["ais-atime"]) <= stored:
        assert time.monotonic() < deadline, "the access time of a read on the target's URL never reached the object"
        time.sleep(1)
