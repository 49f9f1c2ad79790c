"""A target leaves for good (decommission) or stops (shutdown), and comes back with the next `up`
(issue 11 part 2). The test takes the session cluster down and up, so it runs last."""

from __future__ import annotations

import os
import time

import pytest
import requests

from ais_ray.core.lom import objects_dir
from ais_ray.core.names import Bucket
from ais_ray.core.smap import FLAG_MAINTENANCE
from tests.integration.conftest import LocalCluster
from tests.integration.test_rebalance import assert_placed, filled, member, smap_of, wait_idle, wait_rebalance  # noqa: F401


def _wait(cond: object, what: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out: {what}")


def _files(paths: list[str], bck: Bucket) -> int:
    return sum(len(f) for p in paths for _, _, f in os.walk(objects_dir(p, bck)))


@pytest.mark.restarts_cluster
def test_decommission_and_shutdown_then_up_brings_both_back(cluster: LocalCluster,
                                                            filled: tuple[Bucket, dict[str, bytes]]) -> None:  # noqa: F811
    """One target leaves for good (moved away, dropped, wiped), another stops (moved away, offline); the next
    `up` brings back the first (it is in the cluster's config: it joins and a rebalance fills it) and the
    second in maintenance, as AIStore keeps it. One down/up for both: a restart is most of a minute."""
    bck, data = filled
    before = smap_of(cluster)
    leaves, stops = sorted(before.targets)[-1], sorted(before.targets)[-2]
    its_paths = [m.path for m in before.targets[leaves].mountpaths]
    assert _files(its_paths, bck) > 0
    r = member(cluster, "decommission-node", leaves, rm_user_data=True)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    assert not wait_rebalance(cluster, r.text)["aborted"]
    _wait(lambda: leaves not in smap_of(cluster).targets, f"{leaves} dropped from the Smap")
    assert_placed(cluster, bck, data)  # all on the remaining targets
    _wait(lambda: _files(its_paths, bck) == 0, f"{leaves} wiped")
    show = cluster.cli("show", "cluster").stdout
    assert leaves not in show.split("Summary")[0] or "offline" in show

    r = member(cluster, "shutdown-node", stops)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    wait_rebalance(cluster, r.text)
    _wait(lambda: "offline" in cluster.cli("show", "cluster").stdout, f"{stops} stopped")
    assert_placed(cluster, bck, data)  # served by the one left while the other two are away
    r = member(cluster, "stop-maintenance", stops)  # it is not there to take its objects back
    assert r.status_code == 400 and "offline" in r.text, r.text

    cluster.down()
    cluster.up()
    smap = smap_of(cluster)
    assert leaves in smap.targets and not smap.targets[leaves].flags & FLAG_MAINTENANCE
    assert smap.targets[stops].flags & FLAG_MAINTENANCE  # still in maintenance, as AIStore keeps it
    wait_idle(cluster)  # the returning node's rebalance first: one membership change at a time
    r = member(cluster, "stop-maintenance", stops)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    wait_rebalance(cluster, r.text)
    wait_idle(cluster)
    assert _files(its_paths, bck) > 0
    assert_placed(cluster, bck, data)
    assert requests.get(f"{cluster.endpoint}/v1/health", timeout=30).status_code == 200
