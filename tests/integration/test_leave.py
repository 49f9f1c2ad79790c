"""A target leaves for good (decommission) or stops (shutdown), and comes back with the next `up`
(issue 11 part 2). Each takes the session cluster down and up, so these run last."""

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
def test_decommission_moves_drops_wipes_and_up_brings_it_back(cluster: LocalCluster,
                                                              filled: tuple[Bucket, dict[str, bytes]]) -> None:  # noqa: F811
    bck, data = filled
    before = smap_of(cluster)
    leaves = sorted(before.targets)[-1]
    its_paths = [m.path for m in before.targets[leaves].mountpaths]
    assert _files(its_paths, bck) > 0
    r = member(cluster, "decommission-node", leaves, rm_user_data=True)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    assert not wait_rebalance(cluster, r.text)["aborted"]
    _wait(lambda: leaves not in smap_of(cluster).targets, f"{leaves} dropped from the Smap")
    assert_placed(cluster, bck, data)  # all on the remaining target(s)
    _wait(lambda: _files(its_paths, bck) == 0, f"{leaves} wiped")
    show = cluster.cli("show", "cluster").stdout
    assert leaves not in show.split("Summary")[0] or "offline" in show
    cluster.down()
    cluster.up()  # the node is back (it is in the cluster's config): it joins, and a rebalance fills it
    assert leaves in smap_of(cluster).targets
    wait_idle(cluster)
    assert _files(its_paths, bck) > 0
    assert_placed(cluster, bck, data)


@pytest.mark.restarts_cluster
def test_shutdown_moves_away_stops_and_comes_back_in_maintenance(cluster: LocalCluster,
                                                                 filled: tuple[Bucket, dict[str, bytes]]) -> None:  # noqa: F811
    bck, data = filled
    leaves = sorted(smap_of(cluster).targets)[-1]
    r = member(cluster, "shutdown-node", leaves)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    wait_rebalance(cluster, r.text)
    _wait(lambda: "offline" in cluster.cli("show", "cluster").stdout, f"{leaves} stopped")
    assert_placed(cluster, bck, data)  # served by the others while it is down
    cluster.down()
    cluster.up()
    assert smap_of(cluster).targets[leaves].flags & FLAG_MAINTENANCE  # still in maintenance, as AIStore keeps it
    r = member(cluster, "stop-maintenance", leaves)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    wait_rebalance(cluster, r.text)
    assert_placed(cluster, bck, data)
    assert requests.get(f"{cluster.endpoint}/v1/health", timeout=30).status_code == 200
