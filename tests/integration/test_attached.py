"""`ais-ray up --address`: deploy onto a Ray cluster someone else started (`ray start`, as cluster.yaml does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import AIS_RAY, free_port

RAY = str(Path(sys.executable).parent / "ray")


@pytest.fixture()
def ray_head(tmp_path: Path) -> Iterator[str]:
    """`ray start --head --block`: SIGTERM to its PID stops every process it started."""
    port = free_port()
    resources = json.dumps({"ais_target_n1": 1, "ais_proxy": 1})
    proc = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             f"--resources={resources}", "--include-dashboard=false", "--num-cpus=2"],
                            stdout=open(tmp_path / "ray.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"block forever" not in (tmp_path / "ray.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "ray.log").read_text()
            time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_up_address_deploys_and_down_leaves_ray(ray_head: str, tmp_path: Path) -> None:
    port = free_port()
    # a user of its own (its own state dir): its `up` is not the session's last cluster (`test_last_cluster.py`)
    env = {**os.environ, "AIS_ENDPOINT": f"http://127.0.0.1:{port}", "AIS_RAY_DATA_DIR": str(tmp_path / "ais"),
           "XDG_STATE_HOME": str(tmp_path / "state")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([*AIS_RAY, *args], env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        return p

    up = cli("up", "--address", ray_head, "--port", str(port), "--mountpaths", "2")
    assert "(1 targets)" in up.stdout
    info = requests.get(f"http://127.0.0.1:{port}/v1/daemon", params={"what": "stats"}).json()
    assert list(info["targets"]) == ["n1"] and len(info["targets"]["n1"]["mountpaths"]) == 2
    cli("create", "ais://att")
    (tmp_path / "f").write_bytes(b"attached")
    cli("put", str(tmp_path / "f"), "ais://att/f")
    assert cli("get", "ais://att/f", "-").stdout == "attached"
    assert "keeps running" in cli("down").stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
    cli("up", "--address", ray_head, "--port", str(port), "--mountpaths", "2")  # again: the data is there
    assert cli("get", "ais://att/f", "-").stdout == "attached"
    cli("down")
