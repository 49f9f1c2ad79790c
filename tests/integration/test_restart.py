"""One `down` and `up` of the session cluster, and everything it must keep (issues 1, 11, 15, 17).

A restart costs most of a minute on this machine, so the checks that need one share it: the
objects and an ETL's definition survive (issue 1); a target in maintenance stays in maintenance
with the same Smap version on every target, and a restart that changed nothing starts no
rebalance (issue 11); damaged records written while the
cluster was down are set aside instead of stopping it (issue 15 item 1); and plain `down`, from a
shell with nothing exported, stops the cluster `up` started last, cleanly (issue 17 items 1, 6).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from ais_ray.core.smap import FLAG_MAINTENANCE
from tests.integration.conftest import AIS_RAY, LocalCluster
from tests.integration.test_faults import put_objects, read_all
from tests.integration.test_last_cluster import bare_env
from tests.integration.test_rebalance import member, smap_of, wait_idle
from tests.integration.test_resilver import mp_action
from tests.integration.test_smap_versions import target_versions


def _bare_down() -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AIS_RAY, "down"], env=bare_env(), capture_output=True, text=True, check=False, timeout=120)


def _plain_down(cluster: LocalCluster) -> None:
    """`ais-ray down` with nothing exported: it finds the cluster `up` started last and stops it cleanly."""
    p = _bare_down()
    assert p.returncode == 0, p.stderr
    assert f"in {cluster.data_dir}" in p.stdout and "ais-ray stopped" in p.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{cluster.endpoint}/v1/health", timeout=5)
    # a clean teardown: no signal dumps in the log, no state claiming a dead daemon is ready
    with open(os.path.join(cluster.data_dir, "run", "daemon.log"), errors="replace") as f:
        log = f.read()
    assert "SIGTERM received" not in log and "PC: @" not in log, log[-2000:]
    state_file = os.path.join(cluster.data_dir, "run", "state.json")
    if os.path.exists(state_file):
        with open(state_file) as f:
            assert '"ready"' not in f.read()
    p = _bare_down()
    assert p.returncode == 0 and "no ais-ray cluster is running" in p.stdout


def _damage_records(cluster: LocalCluster) -> str:
    """What an older version could have stored: a job record and a BMD entry with a bad namespace, a torn record."""
    proxy_dir = os.path.join(cluster.data_dir, "proxy")
    evil_key = "ais/@../..#x/b/"
    job_dir = os.path.join(proxy_dir, "download")
    os.makedirs(job_dir, exist_ok=True)
    with open(os.path.join(job_dir, "dnl-evil.json"), "w") as f:
        json.dump(
            {
                "spec": {"id": "dnl-evil", "kind": "single", "bck": evil_key},
                "aborted": False,
                "final": None,
            },
            f,
        )
    with open(os.path.join(job_dir, "dnl-torn.json"), "w") as f:
        f.write('{"spec": {"id": "dnl-to')
    with open(os.path.join(proxy_dir, "bmd.json")) as f:
        bmd = json.load(f)
    some_props = next(iter(bmd["buckets"].values()))
    bmd["buckets"][evil_key] = some_props
    bmd["version"] += 1
    with open(os.path.join(proxy_dir, "bmd.json"), "w") as f:
        json.dump(bmd, f)
    return job_dir


def _reb_done(cluster: LocalCluster, xid: str, timeout: float = 120) -> None:
    """Until the proxy's record says rebalance `xid` ended (else a restart would start it again)."""
    path = os.path.join(cluster.data_dir, "proxy", "rebalance.json")
    deadline = time.monotonic() + timeout
    while True:
        with open(path) as f:
            rec = json.load(f)
        if rec["id"] == xid and rec["done"]:
            return
        assert time.monotonic() < deadline, rec
        time.sleep(0.3)


def _rebalances(cluster: LocalCluster) -> list[str]:
    """The ids of the rebalances the targets ran or run since they started."""
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status_all"},
                     json={"Kind": "rebalance"}, timeout=30)
    assert r.status_code == 200, r.text
    return sorted(s["uuid"] for s in r.json() or [])


@pytest.mark.restarts_cluster
def test_one_restart_keeps_objects_etl_maintenance_and_survives_damaged_records(
    cluster: LocalCluster, other_ray: object
) -> None:
    import ray

    bucket = f"r-{uuid.uuid4().hex[:8]}"
    digests = put_objects(cluster, bucket, 30)
    etl = f"md5-{uuid.uuid4().hex[:6]}"  # an ETL's definition survives too: its workers are made again
    r = requests.put(
        f"{cluster.endpoint}/v1/etl",
        json={"name": etl, "runtime": {"image": "aistorage/transformer_md5"}},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    targets = sorted(smap_of(cluster).targets)
    tid, other = targets[-1], targets[0]
    wait_idle(cluster)  # one membership change at a time: an earlier test's rebalance may still run
    # a mountpath detached and attached back (no resilver) is listed last until its target restarts;
    # that order is no change of placement: the restart must not rebalance for it
    path = smap_of(cluster).targets[other].mountpaths[0].path
    for method, action in (("DELETE", "detach-mp"), ("PUT", "attach-mp")):
        r = mp_action(cluster, other, method, action, path, dntres="true")
        assert r.status_code == 200, r.text
    assert smap_of(cluster).targets[other].mountpaths[-1].path == path
    r = member(cluster, "start-maintenance", tid)
    assert r.status_code == 200 and r.text, r.text
    try:
        _reb_done(cluster, r.text)
        version = smap_of(cluster).version
        ran_before = set(_rebalances(cluster))  # a failed or aborted one's record outlives the restart
        _plain_down(cluster)
        # the unrelated Ray instance of this process is untouched by `down`
        assert ray.get(other_ray.remote(), timeout=30) == "pong"  # type: ignore[attr-defined]
        job_dir = _damage_records(cluster)
        cluster.up()

        r = requests.get(f"{cluster.endpoint}/v1/buckets")
        assert r.status_code == 200, r.text
        assert bucket in [b["name"] for b in r.json()]
        assert read_all(cluster, bucket, list(digests)) == digests
        mine = sorted(
            f for f in os.listdir(job_dir) if f.startswith(("dnl-evil", "dnl-torn"))
        )
        assert mine == [
            "dnl-evil.json.bad",
            "dnl-torn.json.bad",
        ]  # set aside, kept to inspect
        assert (
            requests.get(f"{cluster.endpoint}/v1/download").status_code == 200
        )  # the job list answers

        smap = smap_of(cluster)
        assert smap.version >= version and smap.targets[tid].flags & FLAG_MAINTENANCE
        assert set(target_versions(cluster).values()) == {smap.version}

        name = next(iter(digests))
        deadline = time.monotonic() + 60
        while True:  # the proxy re-creates the workers in the background after its join
            r = requests.get(
                f"{cluster.endpoint}/v1/objects/{bucket}/{name}",
                params={"etl_name": etl},
                timeout=30,
            )
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 200 and len(r.content) == 32, r.text
        assert (
            requests.delete(f"{cluster.endpoint}/v1/etl/{etl}", timeout=60).status_code
            == 200
        )
        # nothing changed placement while it was down (the re-attached mountpath is listed in
        # its place again): no rebalance walked the cluster's objects after the restart
        assert set(_rebalances(cluster)) - ran_before == set()
    finally:
        r = member(cluster, "stop-maintenance", tid)
        assert r.status_code == 200, r.text
    assert not smap_of(cluster).targets[tid].flags & FLAG_MAINTENANCE
