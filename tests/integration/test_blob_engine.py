"""The blob downloader engine (no Ray) against real servers: httpsrc with faults, moto, fake-gcs-server, Azurite.

Every download goes into a temporary mountpath; a test checks the committed bytes, what the
source was asked for (httpsrc counts requests), and what is left on disk. Crash, resume,
abort and streaming: `test_blob_resume.py`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ais_ray.backends import new_backend
from ais_ray.backends.http import HttpBackend
from ais_ray.core.blob import BlobParams
from ais_ray.core.errors import ErrBackend, ErrJobRunning, ErrObjNotFound, ErrTimeout
from ais_ray.core.lom import CT_CHUNK
from ais_ray.core.names import Provider
from ais_ray.core.sizes import KIB, MIB
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.blob import BlobDownload, backend_reader, remove_stale_chunks, running, url_reader
from ais_ray.jobs.blob_io import Piece
from ais_ray.testing.httpsrc import Faults, HttpSrc
from tests.integration.blobs import BCK, Src, blob, fetch, fresh_src, leftovers, run, stored, temp_store
from tests.integration.remotes import REMOTES


@pytest.fixture()
def src(httpsrc: HttpSrc) -> Iterator[Src]:
    yield from fresh_src(httpsrc)


@pytest.fixture()
def store(tmp_path: Path) -> MountpathStore:
    return temp_store(tmp_path)


@pytest.mark.parametrize("size", [0, 1, MIB - 1, MIB, MIB + 1, 37 * MIB + 12345])
def test_bytes_equal_for_any_size(src: Src, store: MountpathStore, size: int) -> None:
    data = src.put("o", size)
    bd = run(fetch(store, src, "o", BlobParams(MIB, 4), job="j1"))
    assert stored(store, "o") == data
    assert bd.attrs is not None and bd.attrs.src_size == size and bd.attrs.job == "j1" and bd.attrs.src_etag
    chunks = -(-size // MIB)
    assert src.requests("o") == chunks and bd.stats.retries == 0
    assert src.server.stats.range_requests == (chunks if chunks > 1 else 0)  # one chunk: a plain GET
    assert bd.stats.done == bd.stats.received == size and bd.stats.buffered == 0
    assert bd.stats.buffered_hwm <= 2 * 4 * MIB
    assert leftovers(store) == ([], [])


def test_serial_reads_one_stream_without_ranges(src: Src, store: MountpathStore) -> None:
    data = src.put("o", 5 * MIB + 3)
    bd = run(fetch(store, src, "o", BlobParams(MIB, -1)))
    assert stored(store, "o") == data and bd.stats.mode == "serial"
    assert src.requests("o") == 1 and src.server.stats.range_requests == 0


def test_failed_range_is_retried(src: Src, store: MountpathStore) -> None:
    data = src.put("o", 4 * MIB)
    src.server.faults = Faults(fail_ranges={src.path("o"): 2})
    bd = run(fetch(store, src, "o", BlobParams(MIB, 4)))
    assert stored(store, "o") == data
    assert bd.stats.retries == 2 and src.server.stats.failed_ranges[src.path("o")] == 2
    assert src.requests("o") == 4 + 2


def test_range_that_always_fails_keeps_chunks_for_resume(src: Src, store: MountpathStore) -> None:
    data = src.put("o", 4 * MIB)
    src.server.faults = Faults(fail_ranges={src.path("o"): 10**9})
    with pytest.raises(ErrBackend, match="500"):
        run(fetch(store, src, "o", BlobParams(MIB, 2), attempts=3))
    with pytest.raises(ErrObjNotFound):
        store.load(BCK, "o")
    work, chunks = leftovers(store)
    assert work == [] and len(chunks) == 1  # a transient failure: the chunk directory stays
    assert sorted(os.listdir(Path(store.path, CT_CHUNK, chunks[0]))) == ["data", "manifest.json"]
    src.server.faults = Faults()
    bd = run(fetch(store, src, "o", BlobParams(MIB, 2)))
    assert stored(store, "o") == data and leftovers(store) == ([], [])
    assert bd.stats.resumed == 0 and src.requests("o") == 4


def test_4xx_is_not_retried_and_leaves_nothing(src: Src, store: MountpathStore) -> None:
    src.put("o", 4 * MIB)

    async def gone() -> None:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(MIB, 2), http=http)
            (src.root / "o").unlink()
            await bd.run()
        finally:
            await http.aclose()

    with pytest.raises(ErrObjNotFound):
        run(gone())
    assert src.requests("o") <= 2 and leftovers(store) == ([], [])


@pytest.mark.parametrize("workers", [4, -1])
def test_reset_mid_range_is_retried(src: Src, store: MountpathStore, workers: int) -> None:
    data = src.put("ok/o", 6 * MIB + 77)
    (src.root / "flaky").mkdir()
    os.link(src.root / "ok/o", src.root / "flaky/o")  # same bytes and ETag; reads of it break halfway
    src.server.faults = Faults(reset_prefixes=[src.path("flaky/")])

    async def go() -> tuple[BlobDownload, list[tuple[int, int]]]:
        http = HttpBackend(retries=0)
        calls: list[tuple[int, int]] = []
        try:
            bd = await blob(store, src, "ok/o", BlobParams(MIB, workers), http=http)
            plain = bd._read

            def first_one_flaky(off: int, n: int) -> Any:
                calls.append((off, n))
                if len(calls) == 1:
                    return url_reader(http, src.url("flaky/o"), len(data))(off, n)
                return plain(off, n)

            bd._read = first_one_flaky
            await bd.run()
            return bd, calls
        finally:
            await http.aclose()

    bd, calls = run(go())
    assert stored(store, "ok/o") == data and bd.stats.retries == 1
    if workers == -1:  # the stream resumes from the first chunk it did not finish: with a Range past 0
        resumed = calls[1][0]
        assert len(calls) == 2 and resumed % MIB == 0 and resumed < len(data) // 2
        # (how much of the half sent before the RST the client took depends on the machine's load:
        # aiohttp raises the reset at once, unread bytes are lost, so a loaded run may resume at 0)
        assert src.server.stats.range_requests == (1 if resumed else 0) and src.requests("ok/o") == 1


def test_source_without_range_falls_back_to_one_stream(src: Src, store: MountpathStore) -> None:
    data = src.put("o", 9 * MIB + 5)
    src.server.faults = Faults(no_range=True)
    bd = run(fetch(store, src, "o", BlobParams(MIB, 4)))
    assert stored(store, "o") == data and bd.stats.mode == "no-range"
    assert src.server.stats.range_requests <= 4  # the first ranges tried, before the switch
    assert src.requests("o") == src.server.stats.range_requests + 1  # ... then one plain GET
    assert bd.stats.received == len(data)  # the ignored answers were dropped unread


@pytest.mark.parametrize("workers", [-1, 4])
def test_disk_error_fails_the_download_and_leaves_nothing(src: Src, store: MountpathStore, workers: int) -> None:
    src.put("o", 2 * MIB)
    chunk = 64 * KIB

    async def go() -> None:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(chunk, workers), http=http)
            pwrite = bd._pwrite

            def full_disk(pieces: list[Piece], off: int) -> None:
                if off == 3 * chunk:
                    raise OSError(errno.ENOSPC, "No space left on device")
                pwrite(pieces, off)

            bd._pwrite = full_disk  # type: ignore[method-assign]
            await asyncio.wait_for(bd.run(), 20)  # raises, never hangs waiting for the lost chunk
        finally:
            await http.aclose()

    with pytest.raises(OSError, match="No space"):
        run(go())
    assert leftovers(store) == ([], [])  # a local error: nothing kept


def test_chunk_timeout(src: Src, store: MountpathStore) -> None:
    src.put("o", 2 * MIB)

    async def go() -> float:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(MIB, 2), http=http, chunk_timeout=0.2, attempts=2)
            src.server.faults = Faults(first_byte_delay=1.0)
            t0 = time.monotonic()
            with pytest.raises(ErrTimeout, match="within 0.2s"):
                await bd.run()
            return time.monotonic() - t0
        finally:
            await http.aclose()

    assert run(go()) < 0.9  # two attempts of 0.2 s and a backoff, not the source's 1 s
    assert len(leftovers(store)[1]) == 1  # a timeout may pass: chunks kept for resume


def test_workers_really_read_concurrently(src: Src, store: MountpathStore) -> None:
    rate, delay = 4 * MIB, 0.1  # per connection, like a cloud: paced, and slow to the first byte
    data = src.put("o", 8 * MIB)

    async def go() -> tuple[BlobDownload, float]:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(512 * KIB, 8), http=http)
            # set after the HEAD; the delay keeps each request in the server's handler long
            # enough for its in-flight count to see the overlap (a paced body itself sits in
            # the socket buffer, so the handler returns before the transfer ends)
            src.server.faults = Faults(pacing_rate=rate, first_byte_delay=delay)
            t0 = time.monotonic()
            await bd.run()
            return bd, time.monotonic() - t0
        finally:
            await http.aclose()

    bd, elapsed = run(go())
    assert stored(store, "o") == data
    assert src.server.stats.max_concurrent >= 8
    assert elapsed < 0.5 * (delay + len(data) / rate), elapsed  # one stream: 2.1 s; 8 workers: ~0.45 s
    assert bd.stats.buffered_hwm <= 16 * 512 * KIB


def test_one_download_per_object_and_changed_sources_start_over(src: Src, store: MountpathStore) -> None:
    src.put("o", 2 * MIB)
    src.server.faults = Faults(fail_ranges={src.path("o"): 10**9})
    with pytest.raises(ErrBackend):
        run(fetch(store, src, "o", BlobParams(MIB, 2), attempts=1))
    (old,) = leftovers(store)[1]
    src.server.faults = Faults()
    time.sleep(0.01)
    data = src.put("o", 2 * MIB)  # rewritten: a new ETag, so the old chunks must not be used

    async def go() -> BlobDownload:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(MIB, 2), http=http)
            twin = await blob(store, src, "o", BlobParams(MIB, 2), http=http)
            task = bd.start()
            assert running(store, BCK, "o") is bd
            with pytest.raises(ErrJobRunning):
                twin.start()
            await task
            return bd
        finally:
            await http.aclose()

    bd = run(go())
    assert stored(store, "o") == data and bd.stats.resumed == 0 and leftovers(store) == ([], [])
    assert old not in leftovers(store)[1]


def test_stale_chunks_are_removed(src: Src, store: MountpathStore) -> None:
    src.put("o", 2 * MIB)
    src.server.faults = Faults(fail_ranges={src.path("o"): 10**9})
    with pytest.raises(ErrBackend):
        run(fetch(store, src, "o", BlobParams(MIB, 2), attempts=1))
    assert run(remove_stale_chunks(store)) == 0  # fresh
    (d,) = leftovers(store)[1]
    old = time.time() - 2 * 24 * 3600
    for p in (Path(store.path, CT_CHUNK, d), *Path(store.path, CT_CHUNK, d).iterdir()):
        os.utime(p, (old, old))
    assert run(remove_stale_chunks(store)) == 1 and leftovers(store) == ([], [])


@pytest.mark.parametrize("provider", [Provider.AWS, Provider.GCP, Provider.AZURE], ids=lambda p: p.value)
def test_cloud_objects(request: pytest.FixtureRequest, store: MountpathStore, provider: Provider) -> None:
    factory, fixture = REMOTES[provider]
    remote = factory(request.getfixturevalue(fixture), run)
    data = os.urandom(5 * MIB + 4321)
    remote.seed("dir/big.bin", data)

    async def go() -> BlobDownload:
        backend = new_backend(provider, remote.config)
        try:
            obj = await backend.head_object(remote.bucket, "dir/big.bin")
            bd = BlobDownload(store, BCK, "dir/big.bin", obj, backend_reader(backend, remote.bucket, "dir/big.bin",
                                                                            obj.size), BlobParams(MIB, 4))
            await bd.run()
            return bd
        finally:
            await backend.aclose()

    bd = run(go())
    assert stored(store, "dir/big.bin") == data and bd.stats.mode == "parallel"
    assert bd.attrs is not None and bd.attrs.src_etag
    assert bool(bd.attrs.src_version) == remote.versioned  # S3 VersionId, GCS generation; Azurite has none
    assert leftovers(store) == ([], [])
