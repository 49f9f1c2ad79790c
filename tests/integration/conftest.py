"""One real ais-ray cluster per test session, started the way a user starts it: `ais-ray up`.

An unrelated local Ray instance is started first in this process, so every session also
proves that `up` neither joins nor disturbs another Ray on the machine, and `down` leaves it
running. Tests that restart the cluster are marked `restarts_cluster` and run last.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ais_ray.core.promote import ROOT_ENV as PROMOTE_ROOT_ENV
from ais_ray.testing.emulators import Azurite, FakeGcsServer, MotoServer, free_port
from ais_ray.testing.httpsrc import Faults, HttpSrc

AIS_RAY = [sys.executable, "-m", "ais_ray.cli.main"]


# the session cluster: 3 targets (erasure coding D=1,P=1 needs D+P+1) of 2 mountpaths (a 2-way mirror)
TARGETS, MOUNTPATHS = 3, 2
TIDS = {f"t{i}" for i in range(1, TARGETS + 1)}


@dataclass
class LocalCluster:
    endpoint: str
    data_dir: str
    port: int
    backend_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.backend_env, "AIS_ENDPOINT": self.endpoint, "AIS_RAY_DATA_DIR": self.data_dir}

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `ais-ray ARGS` against this cluster; return the completed process (text)."""
        p = subprocess.run([*AIS_RAY, *args], env=self.env(), capture_output=True, timeout=timeout, text=True,
                           errors="replace")
        if check and p.returncode != 0:
            raise AssertionError(f"ais-ray {' '.join(args)} -> {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def cli_bytes(self, *args: str, timeout: float = 120) -> bytes:
        """`ais-ray ARGS` that must succeed; its stdout as bytes (e.g. `get ... -`)."""
        p = subprocess.run([*AIS_RAY, *args], env=self.env(), capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"ais-ray {' '.join(args)} -> {p.returncode}: {p.stderr.decode(errors='replace')}")
        return p.stdout

    def up(self) -> None:
        self.cli("up", "--data-dir", self.data_dir, "--port", str(self.port), "--targets", str(TARGETS),
                 "--mountpaths", str(MOUNTPATHS),
                 "--no-fsync", timeout=300)

    def down(self) -> None:
        self.cli("down", "--data-dir", self.data_dir, timeout=120)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda it: it.get_closest_marker("restarts_cluster") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "restarts_cluster: takes the session cluster down and up (runs last)")


@pytest.fixture(scope="session")
def other_ray() -> Iterator[object]:
    """An unrelated Ray instance in this process (what a user may already be running)."""
    import ray

    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="unrelated")

    @ray.remote
    def ping() -> str:
        return "pong"

    yield ping
    ray.shutdown()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def gcs() -> Iterator[FakeGcsServer]:
    with FakeGcsServer(backend="memory") as server:  # memory keeps generations
        yield server


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite(in_memory=True) as server:  # installs the node tools first if missing
        yield server


@pytest.fixture(scope="session")
def httpsrc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpSrc]:
    with HttpSrc(tmp_path_factory.mktemp("httpsrc")) as server:
        yield server


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, other_ray: object, moto: MotoServer, gcs: FakeGcsServer,
            azurite: Azurite) -> Iterator[LocalCluster]:
    """The cluster, with the emulators as its S3 / GCS / Azure (the SDKs' usual environment)."""
    data_dir = str(tmp_path_factory.mktemp("ais"))
    # `up` notes the cluster it started last under $XDG_STATE_HOME: keep that inside the session
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    port = free_port()
    promote_root = str(tmp_path_factory.mktemp("promote"))  # where `object promote` may read (core/promote.py)
    c = LocalCluster(f"http://127.0.0.1:{port}", data_dir, port, {**moto.env(), **gcs.env(), **azurite.env(),
                                                                  PROMOTE_ROOT_ENV: promote_root})
    c.up()
    try:
        yield c
    finally:
        c.down()


@pytest.fixture(scope="session")
def sdk(cluster: LocalCluster) -> object:
    from aistore import Client

    return Client(cluster.endpoint, timeout=(5, 60))


class Src:
    """The session's HTTP source, with a fresh directory per test and faults reset afterwards."""

    def __init__(self, server: HttpSrc) -> None:
        self.server = server
        self.dir = f"t-{uuid.uuid4().hex[:8]}"
        self.root = Path(server.files.root) / self.dir

    def put(self, name: str, data: bytes) -> bytes:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def url(self, name: str = "") -> str:
        return f"{self.server.url}/{self.dir}/{name}"


@pytest.fixture()
def src(httpsrc: HttpSrc) -> Iterator[Src]:
    httpsrc.faults = Faults()
    httpsrc.reset()
    yield Src(httpsrc)
    httpsrc.faults = Faults()


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One small `ais-ray up --auth` cluster for the session (the native API's and the S3 API's
    authentication tests share it; neither changes its membership)."""
    data_dir = str(tmp_path_factory.mktemp("ais-auth"))
    port = free_port()
    state = str(tmp_path_factory.mktemp("auth-state"))  # not the session cluster's "last cluster" note
    c = LocalCluster(f"http://127.0.0.1:{port}", data_dir, port, {"XDG_STATE_HOME": state})
    p = c.cli("up", "--auth", "--data-dir", data_dir, "--port", str(port), "--targets", "1", "--mountpaths", "1",
              "--no-fsync", timeout=300)
    assert "auth: on" in p.stdout
    try:
        yield c
    finally:
        c.down()
