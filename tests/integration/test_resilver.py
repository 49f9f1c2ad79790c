"""Mountpaths at run time and resilver (issue 11 part 4) on the session cluster: detach → every
object moves to the target's remaining mountpaths, readable throughout; attach back → back at its
HRW mountpath. The cluster's mountpaths are restored at the end."""

from __future__ import annotations

import os
import time
import uuid

import requests

from ais_ray.core.names import Bucket
from tests.integration.conftest import LocalCluster
from tests.integration.test_rebalance import Reader, assert_placed, filled, on_disk, smap_of, wait_idle  # noqa: F401


def mp_action(cluster: LocalCluster, tid: str, method: str, action: str, path: str, **params: str) -> requests.Response:
    return requests.request(method, f"{cluster.endpoint}/v1/reverse/daemon/mountpaths", params=params,
                            headers={"Ais-Node-Id": tid}, json={"action": action, "value": path}, timeout=120)


def wait_job(cluster: LocalCluster, xid: str, timeout: float = 180) -> dict[str, object]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": xid}, timeout=30)
        if r.status_code == 200 and r.json()["end_time"]:
            return dict(r.json())
        time.sleep(0.3)
    raise AssertionError(f"job {xid} did not end in {timeout}s")


def mountpaths(cluster: LocalCluster, tid: str) -> dict[str, list[str]]:
    r = requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "mountpaths"},
                     headers={"Ais-Node-Id": tid}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_listed(cluster: LocalCluster, tid: str, path: str, key: str, present: bool) -> None:
    for _ in range(100):
        if (path in mountpaths(cluster, tid).get(key, [])) == present:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} {'not ' if present else ''}in {key} of {tid}: {mountpaths(cluster, tid)}")


def test_detach_resilver_attach_back(cluster: LocalCluster, filled: tuple[Bucket, dict[str, bytes]]) -> None:  # noqa: F811
    bck, data = filled
    smap = smap_of(cluster)
    tid = sorted(smap.targets)[0]
    path = sorted(m.path for m in smap.targets[tid].mountpaths)[0]
    held = [n for n, v in on_disk(smap, bck).items() if v == [f"{tid}:{path}"]]
    assert held
    everything = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "mountpaths"}, timeout=30).json()
    assert path in everything[tid]["available"]
    reader = Reader(cluster, bck, data)
    reader.start()
    try:
        r = mp_action(cluster, tid, "DELETE", "detach-mp", path)
        assert r.status_code == 200 and r.text, r.text
        st = wait_job(cluster, r.text)
        assert not st["err"] and not st["aborted"], st
        wait_listed(cluster, tid, path, "available", False)
        wait_listed(cluster, tid, path, "waiting_dd", False)
        assert_placed(cluster, bck, data)
        assert all(f"{tid}:{path}" not in v for v in on_disk(smap_of(cluster), bck).values())
        cli = cluster.cli("storage", "mountpath", "show", tid).stdout
        assert path not in cli and tid in cli
    finally:
        r = mp_action(cluster, tid, "PUT", "attach-mp", path)
        try:
            assert r.status_code == 200 and r.text, r.text
            wait_job(cluster, r.text)
        finally:
            reader.stop.set()
            reader.join(timeout=120)
    wait_listed(cluster, tid, path, "available", True)
    assert_placed(cluster, bck, data)
    assert reader.gets > 0 and reader.failures == [], reader.failures[:5]
    # the held objects are back on the re-attached mountpath
    where = on_disk(smap_of(cluster), bck)
    assert all(where[n] == [f"{tid}:{path}"] for n in held)


def test_disable_enable_and_errors(cluster: LocalCluster, filled: tuple[Bucket, dict[str, bytes]]) -> None:  # noqa: F811
    bck, data = filled
    smap = smap_of(cluster)
    tid = sorted(smap.targets)[-1]
    path = sorted(m.path for m in smap.targets[tid].mountpaths)[-1]
    assert mp_action(cluster, tid, "POST", "enable-mp", "/no/such/mp").status_code == 404
    assert mp_action(cluster, tid, "POST", "attach-mp", path).status_code == 400  # attach is a PUT
    assert mp_action(cluster, "t-nope", "POST", "disable-mp", path).status_code == 404
    typo = os.path.join(os.path.dirname(path), "no-such-disk")  # a typo: refused, not made an empty mountpath
    p = cluster.cli("storage", "mountpath", "attach", tid, typo, check=False)
    assert p.returncode == 1 and "no such directory" in p.stderr and not os.path.exists(typo), p.stderr
    cluster.cli("storage", "mountpath", "disable", tid, path)
    try:
        wait_listed(cluster, tid, path, "disabled", True)
        cluster.cli("wait", "resilver", "--timeout", "120")
        assert_placed(cluster, bck, data)
    finally:
        cluster.cli("storage", "mountpath", "enable", tid, path)
    wait_listed(cluster, tid, path, "available", True)
    cluster.cli("wait", "resilver", "--timeout", "120")
    assert_placed(cluster, bck, data)
    out = cluster.cli("start", "resilver", tid).stdout
    assert "Job ID" in out
    cluster.cli("wait", "resilver", "--timeout", "120")


def test_mirrored_bucket_through_maintenance_and_detach(cluster: LocalCluster, sdk: object) -> None:
    """A 2-way mirrored bucket: each object moves once (its main), arrives mirrored at its new
    owner, and neither a rebalance nor a resilver ever drops the last good copy."""
    wait_idle(cluster)
    bck = Bucket(f"rmir-{uuid.uuid4().hex[:8]}")
    cluster.cli("create", f"ais://{bck.name}", "--props", "mirror.enabled=true mirror.copies=2")
    data = {f"m/{i:03d}": os.urandom(500 + 331 * i) for i in range(60)}
    for n, d in data.items():
        assert requests.put(f"{cluster.endpoint}/v1/objects/{bck.name}/{n}", data=d, timeout=60).ok

    def check() -> None:
        smap = smap_of(cluster)
        where = on_disk(smap, bck)
        for n, d in data.items():
            tsi, mp = smap.locate(bck.uname(n))
            assert f"{tsi.daemon_id}:{mp.path}" in where[n], (n, where[n])
            assert all(w.startswith(tsi.daemon_id + ":") for w in where[n]), (n, where[n])  # none left elsewhere
            got = requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/{n}", timeout=60)
            assert got.status_code == 200 and got.content == d, n
        assert sorted(e.name for e in sdk.bucket(bck.name).list_all_objects()) == sorted(data)  # type: ignore[attr-defined]

    try:
        smap = smap_of(cluster)
        leaves = sorted(smap.targets)[1]
        r = requests.put(f"{cluster.endpoint}/v1/cluster", json={"action": "start-maintenance", "value": {"sid": leaves}},
                         timeout=60)
        assert r.status_code == 200, r.text
        try:
            wait_job(cluster, r.text)
            check()
        finally:
            r = requests.put(f"{cluster.endpoint}/v1/cluster",
                             json={"action": "stop-maintenance", "value": {"sid": leaves}}, timeout=60)
            assert r.status_code == 200, r.text
            wait_job(cluster, r.text)
        check()
        tid = sorted(smap.targets)[0]
        path = sorted(m.path for m in smap.targets[tid].mountpaths)[0]
        r = mp_action(cluster, tid, "DELETE", "detach-mp", path)
        try:
            wait_job(cluster, r.text)
            check()
        finally:
            r = mp_action(cluster, tid, "PUT", "attach-mp", path)
            wait_job(cluster, r.text)
        check()
    finally:
        cluster.cli("rmb", f"ais://{bck.name}", check=False)


def test_a_resilver_finishes_across_its_target_restart(cluster: LocalCluster,
                                                       filled: tuple[Bucket, dict[str, bytes]]) -> None:  # noqa: F811
    """A detach's resilver whose target is SIGKILLed (with its mountpaths) as it starts: Ray
    restarts them, the target finds its share's mark, and the proxy starts the same resilver there
    again; it ends without an error, every object at its HRW mountpath, the detached one empty and
    forgotten. Before, the resilver ended aborted, "target stopped while this job ran"."""
    import signal

    bck, data = filled
    smap = smap_of(cluster)
    tid = sorted(smap.targets)[0]
    path = sorted(m.path for m in smap.targets[tid].mountpaths)[-1]
    t = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()["targets"][tid]
    r = mp_action(cluster, tid, "DELETE", "detach-mp", path)
    assert r.status_code == 200 and r.text, r.text
    xid = r.text
    for pid in [t["pid"], *(m["pid"] for m in t["mountpaths"])]:
        os.kill(pid, signal.SIGKILL)
    try:
        deadline, snaps = time.monotonic() + 120, {}
        while tid not in snaps:  # the restarted target's share, started again
            assert time.monotonic() < deadline, f"{tid} came back without its share of resilver {xid}: {snaps}"
            time.sleep(0.5)
            try:
                q = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"},
                                 json={"ID": xid}, timeout=10)
                snaps = q.json() if q.status_code == 200 else {}
            except (requests.RequestException, ValueError):
                continue
        st = wait_job(cluster, xid)
        assert not st["err"] and not st["aborted"], st
        wait_listed(cluster, tid, path, "available", False)
        wait_listed(cluster, tid, path, "waiting_dd", False)
        assert_placed(cluster, bck, data)
        assert all(f"{tid}:{path}" not in v for v in on_disk(smap_of(cluster), bck).values())
    finally:
        r = mp_action(cluster, tid, "PUT", "attach-mp", path)
        assert r.status_code == 200 and r.text, r.text
        wait_job(cluster, r.text)
    wait_listed(cluster, tid, path, "available", True)
    assert_placed(cluster, bck, data)
