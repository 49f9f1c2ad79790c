"""Copy, issue 10 item 4: a target (and its mountpaths) killed mid-copy. Ray restarts them; the
target resumes its saved share; the job completes with every object present exactly once, the
bytes right, and the counts those of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import time
import uuid

import requests

from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import TARGETS, LocalCluster, Src
from tests.integration.test_blob import ht_get
from tests.integration.test_copy_bucket import contents, digest
from tests.integration.test_copy_sync import loc_objs, snaps_of, stored_files

N = 40


def final_status(cluster: LocalCluster, xid: str, timeout: float = 240) -> dict[str, object]:
    """The job's status once ended, asking again while killed processes come back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": xid}, timeout=10)
            if r.status_code == 200 and r.json()["end_time"]:
                return r.json()  # type: ignore[no-any-return]
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"copy {xid} did not end")


def test_copy_survives_a_target_restart(cluster: LocalCluster, sdk: object, src: Src, httpsrc: object) -> None:
    data = {f"s{i:02d}": src.put(f"s{i:02d}", os.urandom(192 << 10)) for i in range(N)}
    assert ht_get(cluster, src.url("s00")).status_code == 200  # the HTTP bucket exists now
    from ais_ray.core.names import http_bucket

    ht = http_bucket(src.url("s00"))[0]
    dst = sdk.bucket(f"cyk-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    dst.create()
    httpsrc.faults = Faults(pacing_rate=256 << 10)  # type: ignore[attr-defined]  # ~0.75 s per source object
    try:
        r = requests.post(f"{cluster.endpoint}/v1/buckets/{ht.name}", params={"provider": "ht"}, json={
            "action": "copy-listrange", "value": {"tobck": {"name": dst.name, "provider": "ais"},  # type: ignore[attr-defined]
                                                  "template": f"s{{00..{N - 1}}}", "num-workers": 1}})
        assert r.status_code == 200, r.text
        xid = r.text
        deadline = time.monotonic() + 60
        while loc_objs(cluster, xid) < 4:
            assert time.monotonic() < deadline, "the copy did not start"
            time.sleep(0.2)
        stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()
        t1 = stats["targets"]["t1"]
        for pid in [t1["pid"], *(m["pid"] for m in t1["mountpaths"])]:
            os.kill(pid, signal.SIGKILL)
        st = final_status(cluster, xid)
        assert not st["err"] and not st["aborted"], st
        assert contents(dst) == {n: digest(d) for n, d in data.items()}
        assert all(len(paths) == 1 for paths in stored_files(cluster, "ais", dst.name).values())  # type: ignore[attr-defined]
        assert loc_objs(cluster, xid) == N  # counted once each: what the restarted share finds done counts as done
        assert len(snaps_of(cluster, xid)) == TARGETS
    finally:
        httpsrc.faults = Faults()  # type: ignore[attr-defined]
        dst.delete(missing_ok=True)
