"""Processes die and clusters restart; objects stay, byte for byte."""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid

import pytest
import requests

from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from tests.integration.conftest import LocalCluster


def put_objects(cluster: LocalCluster, bucket: str, n: int) -> dict[str, str]:
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{bucket}", json={"action": "create-bck"}).status_code == 200
    digests = {}
    for i in range(n):
        data = os.urandom(1000 + i * 997)
        name = f"obj/{i:03d}"
        assert requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/{name}", data=data).status_code == 200
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def read_all(cluster: LocalCluster, bucket: str, names: list[str], timeout: float = 60) -> dict[str, str]:
    """Digests of every object, retrying while a restarted process comes back."""
    out: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            try:
                r = requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/{name}", timeout=10)
                if r.status_code == 200:
                    out[name] = hashlib.sha256(r.content).hexdigest()
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"{name} not served within {timeout}s"
            time.sleep(0.3)
    return out


def test_killed_target_and_mountpaths_come_back(cluster: LocalCluster) -> None:
    bucket = f"f-{uuid.uuid4().hex[:8]}"
    digests = put_objects(cluster, bucket, 20)
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()
    t1 = stats["targets"]["t1"]
    victims = [t1["pid"]] + [m["pid"] for m in t1["mountpaths"]]
    urls = sorted(m["url"] for m in t1["mountpaths"])
    smap = Smap.from_wire(requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}).json())
    during = next(n for n in (f"during/{i}" for i in range(1000))
                  if smap.locate(Bucket(bucket).uname(n))[0].daemon_id == "t1")  # stored on a victim
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    # a small PUT sent without waiting, to a mountpath not back yet: its connection cannot be handed
    # over, so the front door relays it — AIStore's JSON 503 (the SDK retries it), never another 5xx
    # or a reset; stored once the mountpath is back
    deadline = time.monotonic() + 60
    url = f"{cluster.endpoint}/v1/objects/{bucket}/{during}"
    while (r := requests.put(url, data=b"during", timeout=30)).status_code != 200:
        assert r.status_code == 503 and r.json()["status"] == 503, (r.status_code, r.text)
        assert time.monotonic() < deadline, "the PUT was not stored within 60 s"
        time.sleep(0.2)
    assert read_all(cluster, bucket, list(digests)) == digests
    assert requests.get(url, timeout=30).content == b"during"
    t1_after = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()["targets"]["t1"]
    assert t1_after["pid"] not in victims
    assert sorted(m["url"] for m in t1_after["mountpaths"]) == urls  # same ports: client-side HRW stays valid
    # still writable, and listing sees everything
    assert requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/after", data=b"x").status_code == 200


def wait_after_restart(cluster: LocalCluster, job: str, timeout: float = 120) -> dict[str, object] | None:
    """A download job's final status, retrying while killed processes come back; None on timeout."""
    from tests.integration.test_download import wait

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return wait(cluster, job, timeout=5)
        except (AssertionError, requests.RequestException):
            time.sleep(0.5)
    return None


def test_download_survives_target_and_proxy_restarts(cluster: LocalCluster, httpsrc: object) -> None:
    from ais_ray.testing.httpsrc import Faults
    from tests.integration.conftest import Src
    from tests.integration.test_download import get, names, new_bucket, start, status

    src = Src(httpsrc)  # type: ignore[arg-type]
    data = {f"s{i:02d}": src.put(f"s{i:02d}", os.urandom(192 << 10)) for i in range(24)}
    httpsrc.faults = Faults(pacing_rate=256 << 10)  # type: ignore[attr-defined]  # ~0.75 s per object
    try:
        b = new_bucket()
        job = start(cluster, type="range", bucket={"name": b}, template=src.url("s{00..23}"), limits={"connections": 2})
        deadline = time.monotonic() + 60
        while status(cluster, job, only_active_tasks=True)["finished_cnt"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()
        t1 = stats["targets"]["t1"]
        for pid in [t1["pid"], *(m["pid"] for m in t1["mountpaths"]), stats["proxy"]["pid"]]:
            os.kill(pid, signal.SIGKILL)
        st = wait_after_restart(cluster, job)
        assert st is not None, "job did not finish after the restarts"
        assert (st["finished_cnt"], st["error_cnt"], st["total"]) == (24, 0, 24), st
        assert names(cluster, b) == sorted(data)
        for n, d in data.items():
            assert get(cluster, b, n).content == d
    finally:
        httpsrc.faults = Faults()  # type: ignore[attr-defined]


def _corrupt_garbage(doc: bytes) -> bytes:
    return b"\x00{not json" + doc[: len(doc) // 2]


def _corrupt_shape(doc: bytes) -> bytes:
    import json

    return json.dumps({"spec": {"id": json.loads(doc)["spec"]["id"]}, "status": [], "progress": 7}).encode()


def _corrupt_progress(doc: bytes) -> bytes:
    import json

    d = json.loads(doc)
    d["progress"]["next_idx"] = "not an index"  # parses; resuming it fails inside the job
    return json.dumps(d).encode()


@pytest.mark.parametrize("corrupt", [_corrupt_garbage, _corrupt_shape, _corrupt_progress], ids=["garbage", "shape", "progress"])
def test_download_share_that_cannot_resume_is_an_error(cluster: LocalCluster, httpsrc: object, corrupt: object) -> None:
    """A target killed mid-job whose saved share is damaged reports an error, never "no share, done"."""
    from ais_ray.testing.httpsrc import Faults
    from tests.integration.conftest import Src
    from tests.integration.test_download import get, names, new_bucket, start, status

    src = Src(httpsrc)  # type: ignore[arg-type]
    data = {f"c{i:02d}": src.put(f"c{i:02d}", os.urandom(192 << 10)) for i in range(24)}
    httpsrc.faults = Faults(pacing_rate=256 << 10)  # type: ignore[attr-defined]
    try:
        b = new_bucket()
        job = start(cluster, type="range", bucket={"name": b}, template=src.url("c{00..23}"), limits={"connections": 2})
        deadline = time.monotonic() + 60
        while status(cluster, job, only_active_tasks=True)["finished_cnt"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        t1 = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()["targets"]["t1"]
        saved = [p for m in t1["mountpaths"] if os.path.exists(p := os.path.join(m["path"], ".ais.dl", f"{job}.json"))]
        assert saved, "the target keeps no saved state for its share"
        docs = {p: open(p, "rb").read() for p in saved}
        for pid in [t1["pid"], *(m["pid"] for m in t1["mountpaths"])]:
            os.kill(pid, signal.SIGKILL)
        for p, doc in docs.items():
            with open(p, "wb") as f:
                f.write(corrupt(doc))  # type: ignore[operator]
        st = wait_after_restart(cluster, job)
        assert st is not None, "job did not finish after the restart"
        # truthful: the lost share is an error, in the counts and in the list `show job -v` prints
        assert st["error_cnt"] > 0, st
        errs = [e["error"] for e in st["download_errors"]]
        assert any("t[t1]" in e and ("resume" in e or "job failed" in e) for e in errs), errs
        # 0 duplicated, nothing torn: every stored object once and byte-exact; every reported one stored
        stored = names(cluster, b)
        assert len(stored) == len(set(stored)) and set(stored) <= set(data), stored
        done = {t["name"] for t in st["finished_tasks"]}
        assert done <= set(stored), done - set(stored)
        for n in stored:
            assert get(cluster, b, n).content == data[n]
    finally:
        httpsrc.faults = Faults()  # type: ignore[attr-defined]
