"""Global rebalance and membership changes (issue 11 parts 2, 3, 5) on the session cluster.

Every test leaves the membership as it found it (other tests share the cluster). Objects are
checked on disk: after a rebalance each one is at its HRW place under the current Smap and
nowhere else, byte-identical; a reader running during the move never sees a failed GET.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from ais_ray.core.lom import objects_dir
from ais_ray.core.names import Bucket
from ais_ray.core.smap import FLAG_MAINTENANCE, Smap
from tests.integration.conftest import LocalCluster

N_OBJECTS = 200


def smap_of(cluster: LocalCluster) -> Smap:
    return Smap.from_wire(requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}, timeout=30).json())


def member(cluster: LocalCluster, action: str, sid: str, **opts: bool) -> requests.Response:
    return requests.put(f"{cluster.endpoint}/v1/cluster", json={"action": action, "value": {"sid": sid, **opts}},
                        timeout=60)


def wait_rebalance(cluster: LocalCluster, xid: str, timeout: float = 180) -> dict[str, object]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"},
                         json={"ID": xid, "Kind": "rebalance"}, timeout=30)
        if r.status_code == 200 and r.json()["end_time"]:
            return dict(r.json())
        time.sleep(0.3)
    raise AssertionError(f"rebalance {xid} did not end in {timeout}s")


def wait_idle(cluster: LocalCluster) -> None:
    """No rebalance running (the previous test's may still be finishing)."""
    for _ in range(600):
        r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "running_all"},
                         json={"Kind": "rebalance"}, timeout=30)
        if r.status_code in (200, 404) and not (r.status_code == 200 and r.json()):
            return
        time.sleep(0.3)
    raise AssertionError("a rebalance is still running")


def on_disk(smap: Smap, bck: Bucket) -> dict[str, list[str]]:
    """name -> every `tid:mountpath` that holds a copy of it."""
    out: dict[str, list[str]] = {}
    for tid, t in smap.targets.items():
        for mp in t.mountpaths:
            root = objects_dir(mp.path, bck)
            for d, _, files in os.walk(root):
                for f in files:
                    name = os.path.relpath(os.path.join(d, f), root)
                    out.setdefault(name, []).append(f"{tid}:{mp.path}")
    return out


def assert_placed(cluster: LocalCluster, bck: Bucket, data: dict[str, bytes]) -> None:
    smap = smap_of(cluster)
    where = on_disk(smap, bck)
    assert set(where) == set(data)
    for name in data:
        tsi, mp = smap.locate(bck.uname(name))
        assert where[name] == [f"{tsi.daemon_id}:{mp.path}"], name
    for name, body in data.items():
        got = requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/{name}", timeout=60)
        assert got.status_code == 200 and hashlib.sha256(got.content).digest() == hashlib.sha256(body).digest(), name


@pytest.fixture()
def filled(cluster: LocalCluster) -> Iterator[tuple[Bucket, dict[str, bytes]]]:
    wait_idle(cluster)
    bck = Bucket(f"reb-{uuid.uuid4().hex[:8]}")
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{bck.name}", json={"action": "create-bck"}, timeout=60).ok
    data = {f"d{i % 7}/o{i:03d}": os.urandom(100 + 997 * i) for i in range(N_OBJECTS)}
    data["big"] = os.urandom(3 << 20)  # several write batches: streamed, never whole in memory
    with requests.Session() as s:
        for name, body in data.items():
            assert s.put(f"{cluster.endpoint}/v1/objects/{bck.name}/{name}", data=body, timeout=60).ok
    yield bck, data
    requests.delete(f"{cluster.endpoint}/v1/buckets/{bck.name}", timeout=60)


class Reader(threading.Thread):
    """GETs every object over and over; counts failures and wrong bytes."""

    def __init__(self, cluster: LocalCluster, bck: Bucket, data: dict[str, bytes]) -> None:
        super().__init__(daemon=True)
        self.url = f"{cluster.endpoint}/v1/objects/{bck.name}/"
        self.data = data
        self.stop = threading.Event()
        self.gets = 0
        self.failures: list[str] = []

    def run(self) -> None:
        names = sorted(self.data)
        with requests.Session() as s:
            while not self.stop.is_set():
                for name in names[::3]:
                    if self.stop.is_set():
                        return
                    r = s.get(self.url + name, timeout=60)
                    self.gets += 1
                    if r.status_code != 200 or r.content != self.data[name]:
                        self.failures.append(f"{name}: {r.status_code} {r.text[:200] if r.status_code != 200 else ''}")


def test_a_node_back_gets_the_writes_made_while_it_was_out(cluster: LocalCluster) -> None:
    """A target out of placement without a rebalance (what an operator does to a lost node), its
    objects overwritten on their interim owners, then back: the rebalance brings the newer writes
    to it over its older copies (kept, they would shadow the newer ones, which the senders drop)."""
    wait_idle(cluster)
    bck = Bucket(f"back-{uuid.uuid4().hex[:8]}")
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{bck.name}", json={"action": "create-bck"}, timeout=60).ok
    v1 = {f"o{i:02d}": os.urandom(1000 + i) for i in range(24)}
    with requests.Session() as s:
        for name, body in v1.items():
            assert s.put(f"{cluster.endpoint}/v1/objects/{bck.name}/{name}", data=body, timeout=60).ok
    smap = smap_of(cluster)
    out = max(smap.targets)
    its = [n for n in v1 if smap.locate(bck.uname(n))[0].daemon_id == out]
    assert its
    r = member(cluster, "start-maintenance", out, skip_rebalance=True)
    assert r.status_code == 200, r.text
    want = dict(v1)
    try:
        with requests.Session() as s:
            for name in its:  # to the interim owners; the old copies stay on the target that is out
                want[name] = b"v2 " + os.urandom(500)
                assert s.put(f"{cluster.endpoint}/v1/objects/{bck.name}/{name}", data=want[name], timeout=60).ok
        assert len(on_disk(smap_of(cluster), bck)[its[0]]) == 2  # two copies now: the old one and the newer
    finally:
        r = member(cluster, "stop-maintenance", out)
        assert r.status_code == 200 and r.text.startswith("g"), r.text
        assert not wait_rebalance(cluster, r.text)["aborted"]
    assert_placed(cluster, bck, want)  # one copy each, where HRW puts it, the newer bytes
    requests.delete(f"{cluster.endpoint}/v1/buckets/{bck.name}", timeout=60)


def test_maintenance_moves_every_object_away_and_back(cluster: LocalCluster,
                                                      filled: tuple[Bucket, dict[str, bytes]]) -> None:
    bck, data = filled
    before = smap_of(cluster)
    leaves = sorted(before.targets)[-1]
    moved = sum(1 for v in on_disk(before, bck).values() if v[0].startswith(leaves + ":"))
    assert moved
    reader = Reader(cluster, bck, data)
    reader.start()
    try:
        r = member(cluster, "start-maintenance", leaves)
        assert r.status_code == 200 and r.text.startswith("g"), r.text
        xid = r.text
        assert int(xid[1:]) >= smap_of(cluster).version
        # one membership change at a time: another one while this runs is refused (or, once
        # the move is over, is a plain 404 / new change: here it is asked at once)
        busy = member(cluster, "start-maintenance", sorted(before.targets)[0])
        assert busy.status_code == 400 and "busy" in busy.json()["message"], busy.text
        st = wait_rebalance(cluster, xid)
        assert not st["aborted"] and not st["err"], st
        smap = smap_of(cluster)
        assert smap.targets[leaves].flags & FLAG_MAINTENANCE
        assert_placed(cluster, bck, data)
        assert all(not v[0].startswith(leaves + ":") for v in on_disk(smap, bck).values())
        snaps = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"},
                             json={"ID": xid, "Kind": "rebalance"}, timeout=30).json()
        out = sum(int(s["stats"]["out-objs"]) for part in snaps.values() for s in part)
        inn = sum(int(s["stats"]["in-objs"]) for part in snaps.values() for s in part)
        assert out >= moved and inn == out, (out, inn, moved)  # other tests' buckets move too
    finally:
        r = member(cluster, "stop-maintenance", leaves)
        try:
            assert r.status_code == 200 and r.text.startswith("g"), r.text
            wait_rebalance(cluster, r.text)
        finally:
            reader.stop.set()
            reader.join(timeout=120)
    assert_placed(cluster, bck, data)
    assert reader.gets > 0 and reader.failures == [], reader.failures[:5]


def test_start_rebalance_rest_and_cli(cluster: LocalCluster, filled: tuple[Bucket, dict[str, bytes]]) -> None:
    bck, data = filled
    r = requests.put(f"{cluster.endpoint}/v1/cluster", json={"action": "start", "value": {"ID": "", "Kind": "rebalance"}},
                     timeout=60)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    st = wait_rebalance(cluster, r.text)
    assert not st["aborted"]
    assert_placed(cluster, bck, data)  # nothing was misplaced: nothing moved, nothing lost
    out = cluster.cli("start", "rebalance")
    xid = out.stdout.strip().split()[-1]
    assert xid.startswith("g") and xid != r.text, out.stdout
    cluster.cli("wait", "rebalance", "--timeout", "120")
    show = cluster.cli("show", "rebalance").stdout
    assert "REB ID" in show and "TX OBJECTS" in show and xid in show, show
    cluster.cli("stop", "rebalance")  # none running: still fine


def test_membership_errors(cluster: LocalCluster) -> None:
    wait_idle(cluster)
    version = smap_of(cluster).version
    r = member(cluster, "decommission-node", "t-nope")
    assert r.status_code == 404
    r = requests.put(f"{cluster.endpoint}/v1/cluster",
                     json={"action": "shutdown-node", "value": {"sid": "t1", "sids": ["t2"]}}, timeout=30)
    assert r.status_code == 400 and "exclusive" in r.json()["message"]
    r = requests.put(f"{cluster.endpoint}/v1/cluster",
                     json={"action": "start-maintenance", "value": {"sid": "t1", "skip_rebalance": "yes"}}, timeout=30)
    assert r.status_code == 400
    assert smap_of(cluster).version == version


def test_skip_rebalance_then_gfn_serves_every_object(cluster: LocalCluster, sdk: object,
                                                     filled: tuple[Bucket, dict[str, bytes]]) -> None:
    """Maintenance with `skip_rebalance`: nothing moves, yet every GET is served (get-from-neighbor)
    and the object is then stored at its new owner."""
    bck, data = filled
    smap0 = smap_of(cluster)
    leaves = sorted(smap0.targets)[-1]
    r = member(cluster, "start-maintenance", leaves, skip_rebalance=True)
    assert r.status_code == 200 and r.text == ""
    try:
        smap = smap_of(cluster)
        moved = [n for n, v in on_disk(smap, bck).items() if v[0].startswith(leaves + ":")]
        assert moved
        for name in moved[:20]:
            got = requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/{name}", timeout=60)
            assert got.status_code == 200 and got.content == data[name]
            tsi, mp = smap.locate(bck.uname(name))
            assert f"{tsi.daemon_id}:{mp.path}" in on_disk(smap, bck)[name]
        names = [e.name for e in sdk.bucket(bck.name).list_all_objects()]  # type: ignore[attr-defined]
        assert sorted(names) == sorted(data)  # each object once, though some are on two targets now
    finally:
        r = member(cluster, "stop-maintenance", leaves)
        assert r.status_code == 200
        if r.text:
            wait_rebalance(cluster, r.text)
    assert_placed(cluster, bck, data)



def test_rebalance_resumes_after_proxy_and_target_restart(cluster: LocalCluster,
                                                          filled: tuple[Bucket, dict[str, bytes]]) -> None:
    """A maintenance's rebalance cut by SIGKILL of the proxy and of the leaving target (and its
    mountpaths): Ray restarts them, the proxy finds its rebalance record not done and the target
    without the xaction, starts the rebalance again, and every object ends once at its owner."""
    bck, data = filled
    before = smap_of(cluster)
    leaves = sorted(before.targets)[-1]
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()
    t = stats["targets"][leaves]
    pids = [stats["proxy"]["pid"], t["pid"], *(m["pid"] for m in t["mountpaths"])]
    r = member(cluster, "start-maintenance", leaves)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    first = int(r.text[1:])
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                assert_placed(cluster, bck, data)
                break
            except (AssertionError, requests.RequestException) as exc:
                assert time.monotonic() < deadline, f"not placed after the restarts: {str(exc)[:300]}"
                time.sleep(2)
        rebs = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"},
                            json={"ID": "", "Kind": "rebalance"}, timeout=60).json()
        ids = sorted({int(s["id"][1:]) for part in rebs.values() for s in part})
        print(f"rebalances after the restart: {ids} (cut: g{first})")
        assert any(i > first for i in ids) or first in ids, ids
    finally:
        deadline = time.monotonic() + 240
        while True:  # while Ray restarts the proxy; never busy: it undoes the maintenance, resumed or not yet
            try:
                back = member(cluster, "stop-maintenance", leaves)
            except requests.RequestException as exc:
                back = requests.Response()
                back.status_code, back._content = 503, repr(exc).encode()
            if back.status_code == 200:
                break
            assert back.status_code >= 500, back.text
            assert time.monotonic() < deadline, back.text
            time.sleep(1)
        if back.text.startswith("g"):
            wait_rebalance(cluster, back.text, timeout=240)
    wait_idle(cluster)
    assert not smap_of(cluster).targets[leaves].flags & FLAG_MAINTENANCE
    assert_placed(cluster, bck, data)


def test_a_rebalance_finishes_across_its_target_restart(cluster: LocalCluster,
                                                        filled: tuple[Bucket, dict[str, bytes]]) -> None:
    """The leaving target of a maintenance SIGKILLed (with its mountpaths) right as the rebalance
    starts: Ray restarts it, it finds its share's mark, and the proxy starts its share of the
    same rebalance again. Before, the rebalance read as done, without an error, with a quarter of
    the objects still on the target in maintenance."""
    bck, data = filled
    leaves = sorted(smap_of(cluster).targets)[-1]
    t = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()["targets"][leaves]
    r = member(cluster, "start-maintenance", leaves)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    xid = r.text
    for pid in [t["pid"], *(m["pid"] for m in t["mountpaths"])]:
        os.kill(pid, signal.SIGKILL)
    try:
        deadline = time.monotonic() + 120
        while True:  # while the target is away, its share is not there to say the rebalance runs
            st = wait_rebalance(cluster, xid)
            assert not st["aborted"] and not st["err"], st
            snaps = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"},
                                 json={"ID": xid, "Kind": "rebalance"}, timeout=30).json()
            if leaves in snaps or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert sorted(snaps) == sorted(smap_of(cluster).targets), snaps  # the restarted target's share too
        st = wait_rebalance(cluster, xid)
        assert not st["aborted"] and not st["err"], st
        assert_placed(cluster, bck, data)
        assert all(not v[0].startswith(leaves + ":") for v in on_disk(smap_of(cluster), bck).values())
    finally:
        r = member(cluster, "stop-maintenance", leaves)
        assert r.status_code == 200, r.text
        if r.text.startswith("g"):
            wait_rebalance(cluster, r.text)
    assert_placed(cluster, bck, data)
