"""A bounded schemathesis run over `/openapi.json` (issue 15): no input may answer 5xx.

The document declares every route's query parameters (`core/params.py`) and bodies
(`serve/msgs.py`), so generated requests get past the first check into the handlers and, through
the 307s, to the data servers. A cluster of its own (fuzzing creates, changes and destroys
buckets and jobs), with the session's emulators as S3 / GCS / Azure so that a remote bucket that
does not exist is a 404 rather than an unreachable cloud. `AIS_RAY_FUZZ_TIME` (seconds, default
40) sets the budget: `make fuzz` runs it for 10 minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ais_ray.testing.emulators import Azurite, FakeGcsServer, MotoServer
from tests.integration.conftest import LocalCluster, free_port

FUZZ_TIME = float(os.environ.get("AIS_RAY_FUZZ_TIME", "40"))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer, gcs: FakeGcsServer,
           azurite: Azurite) -> Iterator[LocalCluster]:
    data_dir = str(tmp_path_factory.mktemp("ais-fuzz"))
    port = free_port()
    env = {**moto.env(), **gcs.env(), **azurite.env(), "XDG_STATE_HOME": str(tmp_path_factory.mktemp("fuzz-state"))}
    c = LocalCluster(f"http://127.0.0.1:{port}", data_dir, port, env)
    c.cli("up", "--data-dir", data_dir, "--port", str(port), "--targets", "1", "--mountpaths", "2", "--no-fsync",
          timeout=300)
    try:
        yield c
    finally:
        c.down()


@pytest.mark.timeout(FUZZ_TIME + 240)
def test_no_input_answers_5xx(fuzzed: LocalCluster, tmp_path: Path) -> None:
    cmd = [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run", f"{fuzzed.endpoint}/openapi.json",
           "--checks", "not_a_server_error", "--phases", "examples,coverage,fuzzing",
           "--max-time", str(int(FUZZ_TIME)), "--max-examples", "50", "--request-timeout", "30",
           "--generation-database", "none", "--no-color", "--seed", os.environ.get("AIS_RAY_FUZZ_SEED", "1"),
           "--max-failures", "10"]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_TIME + 180,
                       env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    tail = p.stdout[-6000:]
    assert p.returncode == 0, f"schemathesis found server errors:\n{tail}\n{p.stderr[-2000:]}"
    assert "generated" in tail and " passed" in tail, tail
