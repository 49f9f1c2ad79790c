"""Issue 17 item 1: the shell that ran `up` finds its cluster; plain `down` stops it (`test_restart.py`)."""

from __future__ import annotations

import os
import subprocess

from tests.integration.conftest import AIS_RAY, LocalCluster


def bare_env() -> dict[str, str]:
    """The user's environment after `ais-ray up --data-dir D --port P`: nothing exported."""
    return {k: v for k, v in os.environ.items() if k not in ("AIS_ENDPOINT", "AIS_RAY_DATA_DIR")}


def test_commands_find_the_cluster_up_started_last(cluster: LocalCluster) -> None:
    p = subprocess.run([*AIS_RAY, "show", "cluster"], env=bare_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "t1" in p.stdout and "t2" in p.stdout
