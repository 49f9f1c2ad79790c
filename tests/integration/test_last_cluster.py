"""Issue 17 item 1: the shell that ran `up` finds its cluster; plain `down` stops it (`test_restart.py`)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.integration.conftest import AIS_RAY, LocalCluster


def bare_env() -> dict[str, str]:
    """The user's environment after `ais-ray up --data-dir D --port P`: nothing exported."""
    return {k: v for k, v in os.environ.items() if k not in ("AIS_ENDPOINT", "AIS_RAY_DATA_DIR")}


def test_commands_find_the_cluster_up_started_last(cluster: LocalCluster) -> None:
    p = subprocess.run([*AIS_RAY, "show", "cluster"], env=bare_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "t1" in p.stdout and "t2" in p.stdout


def test_up_on_a_running_cluster_makes_it_the_last(cluster: LocalCluster, tmp_path: Path) -> None:
    """`up` pointed at a cluster that already runs: the next commands find that one, even when another
    cluster was `up` later (its note says so) and a stale default data dir claims an endpoint."""
    env = {**bare_env(), "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "share")}
    os.makedirs(tmp_path / "state" / "ais-ray")
    (tmp_path / "state" / "ais-ray" / "last.json").write_text(json.dumps({"data_dir": str(tmp_path / "gone")}))
    os.makedirs(tmp_path / "share" / "ais-ray" / "run")  # a default cluster that died without a word
    (tmp_path / "share" / "ais-ray" / "run" / "state.json").write_text(
        json.dumps({"status": "ready", "pid": 2**22 + 1, "endpoint": "http://127.0.0.1:9"}))
    p = subprocess.run([*AIS_RAY, "show", "cluster"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "127.0.0.1:8080" in p.stderr  # nothing running that it knows of
    up = subprocess.run([*AIS_RAY, "up", "--data-dir", cluster.data_dir, "--port", str(cluster.port)], env=env,
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0 and "already running" in up.stdout, up.stdout + up.stderr
    p = subprocess.run([*AIS_RAY, "show", "cluster"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "t1" in p.stdout and "t2" in p.stdout, p.stderr
