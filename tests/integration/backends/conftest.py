"""One event loop shared by every backend test; the emulators are the session's (../conftest.py).

The loop is an `asyncio.Runner` (no pytest-asyncio): backends are cached per loop, as they
are in an actor, so the tests exercise the same reuse of clients and connections.
Objects are seeded with each provider's own sync SDK, so reads are checked against data
our backends did not write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ais_ray.backends import close_backends
from ais_ray.core.names import Provider
from ais_ray.testing.httpsrc import HttpSrc
from tests.integration.remotes import REMOTES, Remote

T = TypeVar("T")
Run = Callable[[Awaitable[T]], T]


@pytest.fixture(scope="session")
def arun() -> Iterator[Run[Any]]:
    """Run a coroutine on the session's one event loop."""
    with asyncio.Runner() as runner:
        yield runner.run
        runner.run(close_backends())


@pytest.fixture()
def http_files(httpsrc: HttpSrc) -> Iterator[HttpSrc]:
    """The session's HTTP source with no faults and zeroed counters, restored after the test."""
    from ais_ray.testing.httpsrc import Faults

    httpsrc.faults = Faults()
    httpsrc.reset()
    yield httpsrc
    httpsrc.faults = Faults()


def make_remote(request: pytest.FixtureRequest, provider: Provider) -> tuple[Any, Remote]:
    """(the provider's session emulator, a Remote with a new bucket in it)."""
    factory, fixture = REMOTES[provider]
    server = request.getfixturevalue(fixture)
    return server, factory(server, request.getfixturevalue("arun"))


@pytest.fixture(scope="session", params=[Provider.AWS, Provider.GCP, Provider.AZURE], ids=lambda p: p.value)
def remote(request: pytest.FixtureRequest) -> Remote:
    """Each cloud provider in turn, against its emulator (one bucket per provider per session)."""
    return make_remote(request, request.param)[1]


def write_file(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
