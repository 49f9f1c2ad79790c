"""The cluster map changes: maintenance is a new Smap version, pushed to every target (kept over down/up:
`test_restart.py`)."""

from __future__ import annotations

import uuid

import requests

from ais_ray.core.smap import FLAG_MAINTENANCE
from tests.integration.conftest import LocalCluster
from tests.integration.test_http import WAITS
from tests.integration.test_rebalance import member, smap_of


def target_versions(cluster: LocalCluster) -> dict[str, int]:
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()
    return {tid: t["smap_version"] for tid, t in stats["targets"].items()}


def _maintenance(cluster: LocalCluster, sid: str, on: bool) -> requests.Response:
    return member(cluster, "start-maintenance" if on else "stop-maintenance", sid)


def test_maintenance_is_a_new_version_every_target_sees(cluster: LocalCluster) -> None:
    before = smap_of(cluster)
    leaves = sorted(before.targets)[1]
    assert _maintenance(cluster, leaves, True).status_code == 200
    try:
        smap = smap_of(cluster)
        assert smap.version == before.version + 1 and smap.targets[leaves].flags & FLAG_MAINTENANCE
        assert set(target_versions(cluster).values()) == {smap.version}
        # no new object goes to the target in maintenance: every PUT is redirected to another target
        bucket = f"m-{uuid.uuid4().hex[:8]}"
        assert requests.post(f"{cluster.endpoint}/v1/buckets/{bucket}", json={"action": "create-bck"}, timeout=60).ok
        stays_urls = {m.url for tid, t in smap.targets.items() if tid != leaves for m in t.mountpaths}
        for i in range(20):
            r = requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/o{i}", data=b"", allow_redirects=False, timeout=30,
                             headers=WAITS)
            assert r.status_code == 307 and r.headers["Location"].split("/v1/")[0] in stays_urls
            assert requests.put(r.headers["Location"], data=b"x", timeout=30).ok
        assert requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/o7", timeout=30).content == b"x"
    finally:
        assert _maintenance(cluster, leaves, False).status_code == 200
    after = smap_of(cluster)
    assert after.version == before.version + 2 and not after.targets[leaves].flags & FLAG_MAINTENANCE
    assert set(target_versions(cluster).values()) == {after.version}


def test_maintenance_of_unknown_node_is_404_and_missing_sid_400(cluster: LocalCluster) -> None:
    version = smap_of(cluster).version
    r = _maintenance(cluster, "t-nope", True)
    assert r.status_code == 404 and "t-nope" in r.json()["message"]
    r = requests.put(f"{cluster.endpoint}/v1/cluster", json={"action": "start-maintenance", "value": {}}, timeout=30)
    assert r.status_code == 400
    assert smap_of(cluster).version == version
