"""Nodes join and die under a real multi-node Ray cluster (issue 11 parts 1, 2's node loss, 6, 7).

The tests run in file order on the one package cluster: a download runs across a join of t4,
objects written before the join end up at their HRW owners, then t2's raylet is SIGKILLed and
brought back.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest
import requests

from ais_ray.actors.proxy import _ProxyActor
from ais_ray.core.smap import FLAG_OFFLINE
from ais_ray.testing.httpsrc import Faults, HttpSrc
from tests.integration.multinode.conftest import MultiNode

# the package cluster's start (three raylets, one after another) counts towards the first test
pytestmark = pytest.mark.timeout(1200)
HAS_REBALANCE = hasattr(_ProxyActor, "rebalance_start")  # the reb lane's global rebalance
JOIN_BOUND = 60.0  # node joins -> target in the Smap
LOSS_BOUND = 30.0  # raylet SIGKILLed -> target marked offline
RETURN_BOUND = 150.0  # new raylet with the same resource -> target back online, with its data


def put_all(c: MultiNode, bck: str, objs: dict[str, bytes]) -> None:
    c.cli("create", f"ais://{bck}")
    with requests.Session() as s:
        for name, data in objs.items():
            r = s.put(f"{c.endpoint}/v1/objects/{bck}/{name}", data=data, timeout=30)
            assert r.status_code == 200, r.text


def get(c: MultiNode, bck: str, name: str) -> bytes:
    r = requests.get(f"{c.endpoint}/v1/objects/{bck}/{name}", timeout=30)
    assert r.status_code == 200, f"{bck}/{name}: {r.status_code} {r.text[:200]}"
    return r.content


def listed(c: MultiNode, bck: str) -> list[str]:
    return c.cli("ls", f"ais://{bck}", "--props", "name", "--no-headers", "--no-footer").stdout.split()


def dl_status(c: MultiNode, job: str) -> dict[str, object]:
    r = requests.get(f"{c.endpoint}/v1/download", json={"id": job}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_rebalanced(c: MultiNode, since: int, timeout: float = 180.0) -> None:
    """Until a rebalance `g<N>` with N >= `since` (the Smap version of the change) ran and ended on
    every target that runs it (the reb lane's xaction)."""
    deadline = time.monotonic() + timeout
    while True:
        snaps = rebalances(c)
        mine = [s for s in snaps if int(s["id"].lstrip("g")) >= since]
        if mine and not any(s["end-time"].startswith("0001") for s in mine):
            assert not any(s.get("aborted") for s in mine), mine
            return
        assert time.monotonic() < deadline, f"no finished rebalance since Smap v{since}: {snaps}"
        time.sleep(0.5)


def rebalances(c: MultiNode) -> list[dict[str, Any]]:
    r = requests.get(f"{c.endpoint}/v1/cluster", params={"what": "qryxstats"}, json={"ID": "", "Kind": "rebalance"},
                     timeout=60)
    return [s for part in (r.json() if r.status_code == 200 else {}).values() for s in part]


def joined_at(c: MultiNode) -> int:
    """A number the join's rebalance id `g<N>` reaches: one past every rebalance before the join."""
    return _JOINED["before"] + 1


_JOINED: dict[str, int] = {}


@pytest.fixture(scope="module")
def before_join(multinode: MultiNode) -> dict[str, bytes]:
    """Objects written while the cluster has 3 targets."""
    objs = {f"d{i % 7}/o{i:03d}": os.urandom(1024 + 97 * i) for i in range(150)}
    put_all(multinode, "mn-before", objs)
    return objs


def test_download_spanning_a_join(multinode: MultiNode, httpsrc: HttpSrc, before_join: dict[str, bytes]) -> None:
    """A download running while t4 joins completes, every object present exactly once."""
    c = multinode
    d = f"mn-{uuid.uuid4().hex[:6]}"
    srcdir = os.path.join(httpsrc.files.root, d)
    os.makedirs(srcdir)
    data = {}
    for i in range(150):
        data[f"f{i:03d}"] = os.urandom(8 << 10)
        with open(os.path.join(srcdir, f"f{i:03d}"), "wb") as f:
            f.write(data[f"f{i:03d}"])
    # ~4 s per object, one at a time per target, until t4 has joined: the job is mid-way whatever
    # the join takes (150 objects: ~200 s); then the source speeds up (the objects in flight then
    # finish at the old pace: ~4 s) and the rest (most of it) runs on 4 targets
    httpsrc.faults = Faults(pacing_rate=2 << 10)
    try:
        r = requests.post(f"{c.endpoint}/v1/download", json={
            "type": "range", "bucket": {"name": "mn-dl"}, "template": f"{httpsrc.url}/{d}/f{{000..149}}",
            "limits": {"connections": 1}}, timeout=30)
        assert r.status_code == 200, r.text
        job = r.json()["id"]
        time.sleep(1.0)
        assert dl_status(c, job)["finished_time"].startswith("0001"), "the job must still run when t4 joins"
        _JOINED["before"] = max((int(s["id"].lstrip("g")) for s in rebalances(c)), default=0)
        t0 = time.monotonic()
        c.start_node("t4")
        smap = c.wait_smap(lambda s: "t4" in s.targets, "t4 joined", JOIN_BOUND)
        print(f"t4 joined the Smap (v{smap.version}) {time.monotonic() - t0:.1f}s after `ray start`")
        assert dl_status(c, job)["finished_time"].startswith("0001"), "the job ended before t4 joined: inconclusive"
        httpsrc.faults = Faults()
        deadline = time.monotonic() + 180
        while (st := dl_status(c, job))["finished_time"].startswith("0001"):
            assert time.monotonic() < deadline, st
            time.sleep(0.5)
    finally:
        httpsrc.faults = Faults()
    assert st["error_cnt"] == 0 and not st["aborted"], st
    assert "t4" in c.cli("show", "cluster").stdout
    # the joined target logs to its node's own files (its JoinPolicy), its mountpath workers too, with its share
    joined = c.cli("log", "show", "t4").stdout.splitlines()
    assert {ln.split()[3] for ln in joined if ln[:2] in ("I ", "W ")} >= {"t4", "t4/mp1", "t4/mp2"}, joined
    assert any(f"download[{job}]" in ln and ln.endswith("started") for ln in joined), joined
    assert os.path.isfile(os.path.join(c.data_dir, "log", "t4", "t4.INFO"))
    if HAS_REBALANCE:
        wait_rebalanced(c, joined_at(c))
    smap = c.smap()
    assert listed(c, "mn-dl") == sorted(data)  # each object once
    owners = set()
    for name, want in data.items():
        assert get(c, "mn-dl", name) == want
        fqn = c.hrw_fqn(smap, "mn-dl", name)
        assert fqn in c.copies("mn-dl", name), f"{name} not at its HRW owner {fqn}"
        owners.add(smap.owner(f"ais/@#/mn-dl/{name}").daemon_id)
    assert "t4" in owners  # the new target took its share


def test_join_moves_objects_to_their_owner(multinode: MultiNode, before_join: dict[str, bytes]) -> None:
    """After the join's rebalance every object is byte-identical, once, at its HRW owner."""
    if not HAS_REBALANCE:
        pytest.skip("needs the global rebalance (reb lane)")
    c = multinode
    wait_rebalanced(c, joined_at(c))
    smap = c.smap()
    assert "t4" in smap.targets
    moved = 0
    for name, want in before_join.items():
        fqn = c.hrw_fqn(smap, "mn-before", name)
        assert c.copies("mn-before", name) == [fqn], name
        moved += fqn.startswith(os.path.join(c.data_dir, "t4", ""))
        assert get(c, "mn-before", name) == want
    assert moved > 0
    assert listed(c, "mn-before") == sorted(before_join)


def test_node_loss_and_return(multinode: MultiNode) -> None:
    """t2's raylet SIGKILLed: t2 is marked offline within a bound, placement unchanged, the others
    keep serving; a new raylet with its resource brings it back with its data, and the flag clears."""
    c = multinode
    objs = {f"l{i:03d}": os.urandom(2048 + i) for i in range(60)}
    put_all(c, "mn-loss", objs)
    smap0 = c.smap()
    assert not smap0.targets["t2"].flags & FLAG_OFFLINE
    on_t2 = [n for n in objs if smap0.owner(f"ais/@#/mn-loss/{n}").daemon_id == "t2"]
    assert on_t2
    t0 = time.monotonic()
    c.kill_node("t2")
    smap = c.wait_smap(lambda s: bool(s.targets["t2"].flags & FLAG_OFFLINE), "t2 offline", LOSS_BOUND)
    print(f"t2 marked offline (Smap v{smap.version}) {time.monotonic() - t0:.1f}s after SIGKILL")
    assert set(smap.targets) == set(smap0.targets)  # marked down, not removed: nothing moves
    for name in objs:  # the rest of the cluster keeps serving
        if name not in on_t2:
            assert get(c, "mn-loss", name) == objs[name]
    assert listed(c, "mn-loss") == sorted(set(objs) - set(on_t2))  # listing answers without the lost node
    t0 = time.monotonic()
    c.start_node("t2")
    smap = c.wait_smap(lambda s: not s.targets["t2"].flags & FLAG_OFFLINE, "t2 back online", RETURN_BOUND)
    print(f"t2 back online (Smap v{smap.version}) {time.monotonic() - t0:.1f}s after its raylet restarted")
    for name, want in objs.items():
        assert get(c, "mn-loss", name) == want
