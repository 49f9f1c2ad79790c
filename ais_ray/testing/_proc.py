"""One local server process: pick a port, start, wait until it answers, stop it by its PID.

Every emulator in `emulators.py` is this plus an argv and a few client settings. Output goes
to a temporary file, not a pipe: a chatty server writing into a pipe nobody drains blocks.
"""

from __future__ import annotations

import http.client
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 5.0
_POLL_S = 0.05
_STDERR_TAIL = 2000
# Inherited client settings a server must not see: e.g. AWS_ENDPOINT_URL pointing a
# moto server at itself, or a CA bundle that only breaks some tools (test-backends.md #7).
_SCRUBBED_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE", "STORAGE_EMULATOR_HOST")


_S = TypeVar("_S", bound="ServerProcess")


class ServerStartError(RuntimeError):
    """The server exited or did not answer in time; the message ends with its output."""


class ServerStartTimeout(ServerStartError):
    """The server kept running but never answered: a slow start, not a port race."""


# Where a test's or a benchmark's servers listen: ports nothing on the machine takes by itself. A
# port from `bind(("", 0))` is one of the kernel's ephemeral ports, which every other `bind(0)` and
# every outgoing connection draw from: Ray's own servers and raylets take them by the dozen while a
# cluster starts, so the API port a test chose that way could be gone before `up` bound it (CI,
# 12-07: "cannot bind the API port"). Above Ray's worker ports (10002-19999), below that range.
FIXED_PORTS_LOW = 20_000
_EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
_pick = random.Random()  # not the random module's: a test that seeds it must not fix the ports


def _ephemeral_low() -> int:
    try:
        with open(_EPHEMERAL_RANGE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago, outside the kernel's ephemeral range (the server binds
    it; a lost race with another test session is retried)."""
    high = _ephemeral_low()
    for _ in range(100):
        port = _pick.randrange(FIXED_PORTS_LOW, high) if high - FIXED_PORTS_LOW >= 1_000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError(f"no free port on {host} in {FIXED_PORTS_LOW}-{high - 1}")


def closed_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on, for "unreachable endpoint" tests (connect is refused)."""
    return free_port(host)


def answers_http(host: str, port: int, timeout: float = 0.5) -> bool:
    """True once the port speaks HTTP at all: any status counts (azurite answers 403, #5)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class ServerProcess:
    """Base for a server started as a subprocess bound to 127.0.0.1 on a random free port.

    Subclasses set `name` and implement `_argv(port)`; `start()` retries a few times when the
    port was taken between picking and binding it.
    """

    name: ClassVar[str] = "server"
    start_attempts: ClassVar[int] = 3

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, startup_timeout: float = 30.0) -> None:
        self.host = LOOPBACK
        self.port = 0
        self.startup_timeout = startup_timeout
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix=f"ais-{self.name}-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    # -- to implement -------------------------------------------------------------------------
    def _argv(self, port: int) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        return answers_http(self.host, self.port)

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self: _S) -> _S:
        """Start and wait until ready. Raises ServerStartError with the output's tail."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        err: ServerStartError | None = None
        for _ in range(self.start_attempts):
            try:
                self._spawn_and_wait(free_port(self.host))
                return self
            except ServerStartTimeout:
                self.cleanup()  # a server that never started leaves nothing behind
                raise
            except ServerStartError as exc:  # most likely the port was taken meanwhile
                err = exc
                self.stop()
        assert err is not None
        self.cleanup()
        raise err

    def _spawn_and_wait(self, port: int) -> None:
        self.port = port
        argv = self._argv(port)
        self._log = tempfile.NamedTemporaryFile(prefix=f"ais-{self.name}-", suffix=".log")
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=self._env(), cwd=self.data_dir, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {self._proc.returncode}: {argv}\n{self.output_tail()}")
            if self._is_ready():
                return
            if time.monotonic() > deadline:
                raise ServerStartTimeout(
                    f"{self.name} timed out after {self.startup_timeout:.0f}s waiting for "
                    f"{self.endpoint}: {argv}\n{self.output_tail()}")
            time.sleep(_POLL_S)

    def output_tail(self, limit: int = _STDERR_TAIL) -> str:
        """The last `limit` characters the process wrote (stdout and stderr)."""
        if self._log is None:
            return ""
        try:
            with open(self._log.name, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the process by its PID, kill it after a grace period; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_GRACE_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        """Stop and remove the data dir if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint}, pid={self.pid}, dir={self.data_dir})"
