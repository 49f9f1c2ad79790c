"""Which cluster a command with nothing exported talks to (no Ray: the daemons' state files only).

The cluster `ais-ray up` started, or was pointed at, last, while it runs; else the one running
from the default data dir; else AIStore's default endpoint. A state left by a daemon that died
(its pid gone) never wins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ais_ray.cli.common import DEFAULT_ENDPOINT, endpoint
from ais_ray.cli.daemon import remember_last, write_state


@pytest.fixture()
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AIS_ENDPOINT", raising=False)
    monkeypatch.delenv("AIS_RAY_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    return tmp_path


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def ready(data_dir: Path, port: int, pid: int) -> None:
    write_state(str(data_dir), status="ready", pid=pid, endpoint=f"http://127.0.0.1:{port}")


def test_the_last_running_cluster_first_then_the_default(dirs: Path) -> None:
    default, other = dirs / "share" / "ais-ray", dirs / "pg"
    assert endpoint() == DEFAULT_ENDPOINT  # nothing anywhere
    ready(default, 51001, os.getpid())
    assert endpoint() == "http://127.0.0.1:51001"
    ready(other, 51002, os.getpid())
    remember_last(str(other))
    assert endpoint() == "http://127.0.0.1:51002"  # the last one, though the default runs too
    ready(other, 51002, dead_pid())  # it died without saying so
    assert endpoint() == "http://127.0.0.1:51001"
    ready(default, 51001, dead_pid())
    assert endpoint() == DEFAULT_ENDPOINT  # a stale state is not a cluster
    with open(dirs / "state" / "ais-ray" / "last.json", "w") as f:
        json.dump({"data_dir": 5}, f)  # whatever is there, never a traceback
    assert endpoint() == DEFAULT_ENDPOINT
    write_state(str(default), status="ready", pid="not-a-pid", endpoint="http://127.0.0.1:51001")
    assert endpoint() == DEFAULT_ENDPOINT


def test_ais_endpoint_wins(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ready(dirs / "share" / "ais-ray", 51001, os.getpid())
    monkeypatch.setenv("AIS_ENDPOINT", "10.0.0.1:8080")
    assert endpoint() == "http://10.0.0.1:8080"


def test_a_named_data_dir_is_that_cluster_for_every_command_and_down(dirs: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`AIS_RAY_DATA_DIR` names the cluster: never the one started last elsewhere (a plain `down`
    with it set once stopped that other cluster)."""
    from ais_ray.cli.main import main

    mine, last = dirs / "mine", dirs / "pg"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the other cluster's "daemon"
    try:
        ready(last, 51002, other.pid)
        remember_last(str(last))
        monkeypatch.setenv("AIS_RAY_DATA_DIR", str(mine))
        assert endpoint() == DEFAULT_ENDPOINT  # nothing runs from mine
        ready(mine, 51003, dead_pid())
        assert main(["down"]) == 0
        out = capsys.readouterr().out
        assert "was not running" in out and str(last) not in out, out
        assert other.poll() is None  # not signalled
    finally:
        other.kill()
        other.wait()
