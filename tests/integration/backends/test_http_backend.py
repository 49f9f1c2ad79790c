"""The HTTP backend against the fault-injecting httpsrc: reads, ranges, errors and every fault mode."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ais_ray.backends import Backend, get_backend, new_backend
from ais_ray.backends.base import READ_CHUNK, open_object
from ais_ray.core.errors import (
    ErrBackend,
    ErrInvalidURL,
    ErrObjNotFound,
    ErrRangeNotSatisfiable,
    ErrRemoteBckNotFound,
    ErrTimeout,
    ErrUnsupported,
)
from ais_ray.core.names import Provider
from ais_ray.testing.emulators import closed_port
from ais_ray.testing.httpsrc import Faults, HttpSrc
from tests.integration.backends.conftest import Run, write_file

ODD = 2 * READ_CHUNK + 4321


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


async def _get(config: dict[str, Any] | None = None) -> Backend:
    return get_backend(Provider.HT, config or {})


@pytest.fixture()
def ht(arun: Run[Any]) -> Any:
    return arun(_get())


@pytest.fixture()
def files(http_files: HttpSrc) -> tuple[HttpSrc, str, str]:
    """(server, base URL of a fresh directory, that directory's name)."""
    d = f"d-{uuid.uuid4().hex[:8]}"
    (http_files.files.root / d).mkdir()
    return http_files, f"{http_files.url}/{d}", d


def test_head_read_and_ranges(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    data = os.urandom(ODD)
    write_file(srv.files.root, f"{d}/sub dir/obj.bin", data)
    write_file(srv.files.root, f"{d}/empty", b"")
    assert isinstance(ht, Backend)
    arun(ht.head_bucket(base))
    obj = arun(ht.head_object(base, "sub dir/obj.bin"))
    assert (obj.name, obj.size) == ("sub dir/obj.bin", ODD) and obj.etag and obj.last_modified > 0
    raw = arun(ht.head_url(f"{base}/sub%20dir/obj.bin"))
    assert (raw.name, raw.size, raw.etag) == (f"{base}/sub%20dir/obj.bin", ODD, obj.etag)
    assert arun(collect(ht.read(base, "sub dir/obj.bin"))) == data
    for off, n in [(0, 1), (ODD - 1, 1), (7, 13), (READ_CHUNK - 1, READ_CHUNK + 2), (5, ODD - 5), (9, 0)]:
        assert arun(collect(ht.read(base, "sub dir/obj.bin", (off, n)))) == data[off : off + n]
    assert arun(collect(ht.read_url(f"{base}/sub%20dir/obj.bin", (3, 4)))) == data[3:7]
    assert arun(collect(ht.read(base, "empty"))) == b""
    assert arun(ht.head_object(base, "empty")).size == 0
    with pytest.raises(ErrRangeNotSatisfiable):
        arun(collect(ht.read(base, "sub dir/obj.bin", (ODD, 1))))


def test_not_found_and_unsupported(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    _, base, _ = files
    for call in (ht.head_object(base, "nope"), collect(ht.read(base, "nope"))):
        with pytest.raises(ErrObjNotFound) as exc:
            arun(call)
        assert str(exc.value) == f'object "{base}/nope" does not exist'
    with pytest.raises(ErrRemoteBckNotFound) as bck:
        arun(ht.head_bucket(f"{base}-missing"))
    assert str(bck.value) == f'bucket "{base}-missing" does not exist'
    for call in (ht.list_objects(base), ht.put_object(base, "x", b"x"), ht.delete_object(base, "x")):
        with pytest.raises(ErrUnsupported):
            arun(call)
    for bad in ("ftp://127.0.0.1/x", "not a url"):
        with pytest.raises(ErrInvalidURL):
            arun(ht.head_url(bad))


def test_unreachable_fails_fast(ht: Any, arun: Run[Any]) -> None:
    base = f"http://127.0.0.1:{closed_port()}/d"
    for call in (ht.head_object(base, "o"), collect(ht.read(base, "o")), ht.head_bucket(base)):
        t0 = time.monotonic()
        with pytest.raises(ErrBackend) as exc:
            arun(call)
        assert time.monotonic() - t0 < 3
        assert base.rsplit("/", 1)[0] in str(exc.value)


def test_changed_file_has_new_etag(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    path = write_file(srv.files.root, f"{d}/f", b"one")
    before = arun(ht.head_object(base, "f"))
    path.write_bytes(b"two!")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    after = arun(ht.head_object(base, "f"))
    assert before.etag != after.etag and after.size == 4


def test_error_prefix_is_retried_then_502(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    write_file(srv.files.root, f"{d}/bad/x", b"x")
    srv.faults = Faults(error_prefixes=[f"{d}/bad/"])
    with pytest.raises(ErrBackend) as exc:
        arun(ht.head_object(base, "bad/x"))
    assert "500" in str(exc.value)
    assert srv.stats.requests[f"{d}/bad/x"] == 3  # the first try and DEFAULT_RETRIES more


def test_reset_mid_body(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    data = os.urandom(ODD)
    write_file(srv.files.root, f"{d}/rst/x", data)
    srv.faults = Faults(reset_prefixes=[f"{d}/rst/"])
    got = bytearray()

    async def read() -> None:
        async for chunk in ht.read(base, "rst/x"):
            got.extend(chunk)

    with pytest.raises(ErrBackend):
        arun(read())
    assert srv.stats.bytes_sent == ODD // 2  # what the client got before the RST may be less
    assert len(got) <= ODD // 2 and data.startswith(bytes(got))


def test_open_object_is_one_get_described_like_a_head(files: tuple[HttpSrc, str, str], ht: Any,
                                                      arun: Run[Any]) -> None:
    srv, base, d = files
    data = os.urandom(ODD)
    write_file(srv.files.root, f"{d}/o/x", data)
    write_file(srv.files.root, f"{d}/rst/x", data)

    async def go(name: str) -> tuple[Any, bytes]:
        async with open_object(ht, base, name) as (meta, body):
            return meta, await collect(body)

    head = arun(ht.head_object(base, "o/x"))
    requests = srv.stats.requests[f"{d}/o/x"]
    meta, got = arun(go("o/x"))
    assert got == data and srv.stats.requests[f"{d}/o/x"] == requests + 1
    assert (meta.name, meta.size, meta.etag, meta.last_modified) == ("o/x", ODD, head.etag, head.last_modified)
    with pytest.raises(ErrObjNotFound, match=f"{base}/nope"):
        arun(go("nope"))
    srv.faults = Faults(reset_prefixes=[f"{d}/rst/"])
    with pytest.raises(ErrBackend):
        arun(go("rst/x"))


def test_no_range_server_still_serves_ranges(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    data = os.urandom(ODD)
    write_file(srv.files.root, f"{d}/f", data)
    srv.faults = Faults(no_range=True)

    async def raw() -> tuple[int, int]:
        async with aiohttp.ClientSession() as s, s.get(f"{base}/f", headers={"Range": "bytes=0-9"}) as r:
            return r.status, len(await r.read())

    assert arun(raw()) == (200, ODD)
    assert arun(collect(ht.read(base, "f", (READ_CHUNK + 5, 10)))) == data[READ_CHUNK + 5 : READ_CHUNK + 15]


def test_head_falls_back_to_get_without_head(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    write_file(srv.files.root, f"{d}/f", b"0123456789")
    write_file(srv.files.root, f"{d}/empty", b"")
    before = arun(ht.head_object(base, "f"))
    srv.faults = Faults(no_head=True)
    assert arun(ht.head_object(base, "f")) == before
    assert arun(ht.head_object(base, "empty")).size == 0
    with pytest.raises(ErrObjNotFound):
        arun(ht.head_object(base, "missing"))


def test_first_byte_delay_and_read_timeout(files: tuple[HttpSrc, str, str], arun: Run[Any]) -> None:
    srv, base, d = files
    write_file(srv.files.root, f"{d}/f", b"abc")
    srv.faults = Faults(first_byte_delay=0.4)
    t0 = time.monotonic()
    assert arun(collect(arun(_get()).read(base, "f"))) == b"abc"
    assert time.monotonic() - t0 >= 0.4
    impatient = arun(_get({"read_timeout": 0.1, "retries": 0}))
    with pytest.raises(ErrTimeout):
        arun(collect(impatient.read(base, "f")))


def test_pacing_caps_each_connection(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    write_file(srv.files.root, f"{d}/f", os.urandom(2 << 20))
    rate = 8 << 20
    srv.faults = Faults(pacing_rate=rate)
    fresh = new_backend(Provider.HT)  # new connections, so the cap applies from their first byte
    t0 = time.monotonic()
    assert len(arun(collect(fresh.read(base, "f")))) == 2 << 20
    elapsed = time.monotonic() - t0
    arun(fresh.aclose())
    assert 0.15 < elapsed < 2.0, elapsed  # ~0.25 s at 8 MiB/s; uncapped it takes ~2 ms


def test_fail_first_ranges_then_succeed(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    data = os.urandom(1000)
    write_file(srv.files.root, f"{d}/f", data)
    srv.faults = Faults(fail_ranges={f"{d}/f": 2})
    assert arun(collect(ht.read(base, "f"))) == data  # not a range request: unaffected
    assert arun(collect(ht.read(base, "f", (10, 20)))) == data[10:30]  # 2 failures, retried
    assert (srv.stats.range_requests, srv.stats.failed_ranges[f"{d}/f"]) == (3, 2)
    srv.reset()
    srv.faults = Faults(fail_ranges={f"{d}/f": 5})
    with pytest.raises(ErrBackend):
        arun(collect(ht.read(base, "f", (10, 20))))


def test_stats_endpoint_counts_concurrency(files: tuple[HttpSrc, str, str], ht: Any, arun: Run[Any]) -> None:
    srv, base, d = files
    data = os.urandom(4096)
    write_file(srv.files.root, f"{d}/f", data)
    srv.faults = Faults(first_byte_delay=0.2)

    async def four_at_once() -> dict[str, Any]:
        parts = await asyncio.gather(*(collect(ht.read(base, "f", (i * 1024, 1024))) for i in range(4)))
        assert b"".join(parts) == data
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{srv.url}/_stats") as r:
                stats: dict[str, Any] = await r.json()
            async with s.post(f"{srv.url}/_reset"):
                pass
        return stats

    stats = arun(four_at_once())
    assert stats["range_requests"] == 4 and stats["max_concurrent"] >= 4
    assert stats["requests"][f"{d}/f"] == 4  # "connections" counts new ones: these may be pooled
    assert srv.stats.range_requests == 0  # reset over HTTP
