"""The blob engine's crash, resume, abort and streaming behaviour (no Ray), against httpsrc.

A crash is a real one: a subprocess downloading the object is SIGKILLed mid-way, and a new
download must fetch only the chunks its manifest lacks.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ais_ray.backends.http import HttpBackend
from ais_ray.core.blob import BlobParams
from ais_ray.core.errors import ErrBackend, ErrObjNotFound
from ais_ray.core.lom import CT_CHUNK
from ais_ray.core.sizes import KIB, MIB
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.blob import BlobDownload, running
from ais_ray.testing.httpsrc import Faults, HttpSrc
from tests.integration.blobs import BCK, Src, blob, fetch, fresh_src, leftovers, manifest_of, run, stored, temp_store


@pytest.fixture()
def src(httpsrc: HttpSrc) -> Iterator[Src]:
    yield from fresh_src(httpsrc)


@pytest.fixture()
def store(tmp_path: Path) -> MountpathStore:
    return temp_store(tmp_path)


_CRASHER = """
import asyncio, sys
from ais_ray.backends.http import HttpBackend
from ais_ray.core.blob import BlobParams
from ais_ray.core.names import parse_bucket_uri
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.blob import BlobDownload, url_reader

async def main(url: str, mp: str, name: str) -> None:
    http = HttpBackend(retries=0)
    obj = await http.head_url(url)
    bd = BlobDownload(MountpathStore(mp, fsync=True), parse_bucket_uri("s3://blobs")[0], name, obj,
                      url_reader(http, url, obj.size), BlobParams(64 * 1024, 2), manifest_every=2)
    await bd.run()

asyncio.run(main(*sys.argv[1:]))
"""


def test_resume_after_a_crash_fetches_only_missing_chunks(src: Src, store: MountpathStore, tmp_path: Path) -> None:
    chunk, size = 64 * KIB, 8 * MIB + 1000  # 129 chunks; at 1 MiB/s per connection ~4 s for 2 workers
    data = src.put("o", size)
    src.server.faults = Faults(pacing_rate=MIB)
    script = tmp_path / "crasher.py"
    script.write_text(_CRASHER)
    proc = subprocess.Popen([sys.executable, str(script), src.url("o"), store.path, "o"],
                            cwd=Path(__file__).parents[2], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:  # let it store a few chunks, then kill it without any chance to clean up
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
            dirs = leftovers(store)[1]
            if dirs and Path(store.path, CT_CHUNK, dirs[0], "manifest.json").exists() and manifest_of(store).low >= 10:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    m = manifest_of(store)  # as the dead process left it
    assert m.chunk_size == chunk and 10 <= m.low < 129
    src.server.faults = Faults()
    bd = run(fetch(store, src, "o", BlobParams(MIB, 4)))  # asks for 1 MiB chunks: the partial file's 64 KiB win
    missing = 129 - m.low - len(m.done)
    assert stored(store, "o") == data
    assert bd.stats.resumed == m.done_bytes() and bd.stats.chunk_size == chunk
    assert src.requests("o") == missing and src.server.stats.range_requests == missing
    assert bd.stats.received == size - m.done_bytes()
    assert leftovers(store) == ([], [])


@pytest.mark.parametrize(("workers", "no_range"), [(4, False), (-1, True), (4, True)])
def test_resume_streams_stored_chunks_from_disk(src: Src, store: MountpathStore, workers: int, no_range: bool) -> None:
    data = src.put("o", 6 * MIB + 1)

    async def first() -> None:  # chunks 0 and 1 arrive, the rest fail transiently: kept for resume
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(MIB, 2), http=http, attempts=1)
            plain = bd._read

            async def failing(off: int, n: int) -> AsyncIterator[bytes]:
                if off >= 2 * MIB:
                    await asyncio.sleep(0.3)
                    raise ErrBackend("injected")
                async for piece in plain(off, n):
                    yield piece

            bd._read = failing
            await bd.run()
        finally:
            await http.aclose()

    async def second() -> tuple[bytes, BlobDownload]:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(MIB, workers), http=http)
            src.server.faults = Faults(no_range=no_range)
            got = bytearray()
            async for piece in bd.stream():
                got += piece
            return bytes(got), bd
        finally:
            await http.aclose()

    with pytest.raises(ErrBackend, match="injected"):
        run(first())
    assert manifest_of(store).low == 2
    got, bd = run(second())
    assert got == data and stored(store, "o") == data and leftovers(store) == ([], [])
    assert bd.stats.resumed == 2 * MIB
    if not no_range:
        assert src.requests("o") == src.server.stats.range_requests == 5 and bd.stats.mode == "parallel"
    else:  # the one stream starts at byte 0 and skips what is stored
        assert bd.stats.mode == ("serial" if workers == -1 else "no-range")
        assert bd.stats.received == len(data)


def test_abort_leaves_nothing(src: Src, store: MountpathStore) -> None:
    src.put("o", 4 * MIB)
    src.server.faults = Faults(pacing_rate=MIB)

    async def go() -> None:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(64 * KIB, 2), http=http, manifest_every=1)
            task = bd.start()
            while bd.stats.chunks_done < 4:
                await asyncio.sleep(0.01)
            assert leftovers(store)[1]  # chunks and manifest are there now
            await bd.abort()
            assert task.cancelled() and running(store, BCK, "o") is None
        finally:
            await http.aclose()

    run(go())
    assert leftovers(store) == ([], [])
    with pytest.raises(ErrObjNotFound):
        store.load(BCK, "o")


def test_stream_yields_the_object_in_order(src: Src, store: MountpathStore) -> None:
    data = src.put("o", 21 * MIB + 99)

    async def go() -> tuple[bytes, BlobDownload]:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(MIB, 8), http=http)
            got = bytearray()
            async for piece in bd.stream():
                got += piece
            return bytes(got), bd
        finally:
            await http.aclose()

    got, bd = run(go())
    assert got == data and stored(store, "o") == data and bd.attrs is not None


def test_slow_consumer_bounds_memory(src: Src, store: MountpathStore) -> None:
    chunk, workers = 64 * KIB, 4
    data = src.put("o", 8 * MIB)

    async def go() -> tuple[bytes, BlobDownload, int]:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(chunk, workers), http=http)
            got, ahead = bytearray(), 0
            async for piece in bd.stream():
                got += piece
                ahead = max(ahead, bd.stats.done - len(got))  # stored but not yet consumed
                await asyncio.sleep(0.003)  # the client is much slower than the source
            return bytes(got), bd, ahead
        finally:
            await http.aclose()

    got, bd, ahead = run(go())
    window = 2 * workers
    assert got == data
    assert bd.stats.buffered_hwm <= (window + 2) * chunk, bd.stats
    assert ahead <= (window + 1) * chunk


@pytest.mark.parametrize("on_disconnect", ["continue", "abort"])
def test_consumer_leaving_early(src: Src, store: MountpathStore, on_disconnect: Any) -> None:
    data = src.put("o", 4 * MIB)

    async def go() -> None:
        http = HttpBackend(retries=0)
        try:
            bd = await blob(store, src, "o", BlobParams(256 * KIB, 2), http=http)
            it = bd.stream(on_disconnect=on_disconnect)
            assert len(await anext(it)) > 0  # some bytes (pieces as they came, not whole chunks)
            await it.aclose()  # type: ignore[attr-defined]
            assert bd._task is not None
            await asyncio.wait([bd._task])
        finally:
            await http.aclose()

    run(go())
    if on_disconnect == "continue":
        assert stored(store, "o") == data
    else:
        with pytest.raises(ErrObjNotFound):
            store.load(BCK, "o")
    assert leftovers(store) == ([], [])


