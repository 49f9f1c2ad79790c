"""Issue 17 item 1: the shell that ran `up` finds its cluster; plain `down` stops it."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from tests.integration.conftest import AIS_RAY, LocalCluster


def bare_env() -> dict[str, str]:
    """The user's environment after `ais-ray up --data-dir D --port P`: nothing exported."""
    return {k: v for k, v in os.environ.items() if k not in ("AIS_ENDPOINT", "AIS_RAY_DATA_DIR")}


def test_commands_find_the_cluster_up_started_last(cluster: LocalCluster) -> None:
    p = subprocess.run([*AIS_RAY, "show", "cluster"], env=bare_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "t1" in p.stdout and "t2" in p.stdout


@pytest.mark.restarts_cluster
def test_plain_down_stops_the_cluster_up_started_last(cluster: LocalCluster) -> None:
    p = subprocess.run([*AIS_RAY, "down"], env=bare_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert f"in {cluster.data_dir}" in p.stdout and "ais-ray stopped" in p.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{cluster.endpoint}/v1/health", timeout=5)
    # item 6: a clean teardown: no signal dumps in the log, no state claiming a dead daemon is ready
    log = open(os.path.join(cluster.data_dir, "run", "daemon.log"), errors="replace").read()
    assert "SIGTERM received" not in log and "PC: @" not in log, log[-2000:]
    state_file = os.path.join(cluster.data_dir, "run", "state.json")
    assert not os.path.exists(state_file) or '"ready"' not in open(state_file).read()
    p = subprocess.run([*AIS_RAY, "down"], env=bare_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "no ais-ray cluster is running" in p.stdout
    cluster.up()
