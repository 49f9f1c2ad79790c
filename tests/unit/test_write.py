"""The write pipeline (fs/write.py), its owts (core/owt.py), the name lock (fs/namelock.py), counters."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import xxhash

from ais_ray.core.errors import ErrBadRequest, ErrObjNotFound
from ais_ray.core.lom import CT_WORK, ObjAttrs
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.owt import POLICY, Owt
from ais_ray.fs.namelock import NameLocks
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import KEEP_MIN, WRITE_BATCH, Gathered, Source, fill, new_attrs, write_bytes, write_stream
from ais_ray.stats import COUNTERS, Counters

BCK = Bucket("b")
SRC = Source(etag="e1", version="v7", size=5)


@pytest.fixture
def store(tmp_path: Path) -> MountpathStore:
    return MountpathStore(str(tmp_path / "mp"), fsync=False)


async def chunks(data: bytes, n: int = 3) -> AsyncIterator[bytes]:
    step = max(1, len(data) // n)
    for i in range(0, len(data), step):
        await asyncio.sleep(0)
        yield data[i:i + step]


def work_files(store: MountpathStore) -> list[str]:
    return os.listdir(os.path.join(store.path, CT_WORK))


# ---- owt policy ---------------------------------------------------------------------------------
def test_every_owt_has_a_policy_and_a_declared_counter() -> None:
    assert set(POLICY) == set(Owt)
    assert {p.counter for p in POLICY.values()} <= set(COUNTERS)


def test_put_bumps_the_version_and_records_no_source(store: MountpathStore) -> None:
    a1 = write_bytes(store, BCK, "o", b"one", Owt.PUT, src=SRC, job="j")
    a2 = write_bytes(store, BCK, "o", b"two", Owt.PUT)
    assert (a1.version, a2.version) == ("1", "2")
    assert (a2.src_etag, a2.src_version, a2.job) == ("", "", "")
    assert store.load(BCK, "o") == a2


@pytest.mark.parametrize("owt", [Owt.COLD_GET, Owt.BLOB, Owt.REBALANCE, Owt.MIRROR_COPY, Owt.EC_RESTORE])
def test_cached_and_moved_copies_keep_the_source_version(store: MountpathStore, owt: Owt) -> None:
    for _ in range(2):
        a = write_bytes(store, BCK, "o", b"hello", owt, src=SRC, job="j")
    assert a.version == "v7" and (a.src_etag, a.src_version, a.src_size) == ("e1", "v7", 5)
    assert a.job == ("j" if POLICY[owt].job else "")


def test_download_bumps_and_keeps_source_identity_and_job(store: MountpathStore) -> None:
    a = write_bytes(store, BCK, "o", b"hello", Owt.DOWNLOAD, src=Source("e", "", -1), job="dl-1")
    assert (a.version, a.src_etag, a.src_size, a.job) == ("1", "e", 5, "dl-1")
    assert a.cksum == xxhash.xxh64(b"hello", seed=0).hexdigest()


def test_a_new_object_is_linked_into_place_and_a_stale_hint_still_bumps(store: MountpathStore) -> None:
    """`new=True` (a download's pre-check found none): linked into place as version 1, nothing
    left in the work directory; where an object was written since, the hint is wrong and the
    write is the usual one (version 2, the new bytes); a name that is a virtual directory is
    the same client error either way."""
    a = write_bytes(store, BCK, "d/o", b"first", Owt.DOWNLOAD, src=Source("e", "", -1), job="j", new=True)
    assert (a.version, a.src_etag, a.job) == ("1", "e", "j")
    assert store.load(BCK, "d/o") == a and os.stat(store.fqn(BCK, "d/o")).st_nlink == 1
    assert work_files(store) == []
    b = write_bytes(store, BCK, "d/o", b"second", Owt.DOWNLOAD, src=Source("e2", "", -1), job="j", new=True)
    assert b.version == "2" and store.load(BCK, "d/o") == b
    with open(store.fqn(BCK, "d/o"), "rb") as f:
        assert f.read() == b"second"
    with pytest.raises(ErrBadRequest):
        write_bytes(store, BCK, "d", b"x", Owt.DOWNLOAD, src=Source("e", "", -1), new=True)
    with pytest.raises(ErrBadRequest):
        write_bytes(store, BCK, "d/o/x", b"x", Owt.DOWNLOAD, src=Source("e", "", -1), new=True)
    assert work_files(store) == []


def test_write_through_keeps_the_remote_identity() -> None:
    a = new_attrs(Owt.PUT, 5, "c", src=SRC, through=True)
    assert (a.version, a.src_etag, a.src_version) == ("v7", "e1", "v7")


# ---- streaming, batching, write-through ---------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 10, WRITE_BATCH - 1, WRITE_BATCH * 2 + 17])
def test_stream_stores_exact_bytes(store: MountpathStore, size: int) -> None:
    data = os.urandom(size)
    seen = []
    a = asyncio.run(write_stream(store, BCK, "d/o", chunks(data), Owt.PUT, expect_size=size, on_chunk=seen.append))
    f, got = store.open(BCK, "d/o")
    with f:
        assert f.read() == data
    assert b"".join(seen) == data and got.cksum == a.cksum == xxhash.xxh64(data, seed=0).hexdigest()
    assert work_files(store) == []


def test_chunks_are_gathered_as_they_came_and_small_or_reusable_ones_copied() -> None:
    """`Gathered`: a large `bytes` chunk is kept (not copied); small chunks go onto one part; a
    buffer its source may fill again is copied at once, so a later change of it is not stored."""
    big = os.urandom(KEEP_MIN)
    reused = bytearray(b"x" * KEEP_MIN)
    g = Gathered()
    for c in (b"a", b"b", big, b"c", reused, memoryview(b"d" * 10)):
        g.add(c)
    reused[:] = b"y" * KEEP_MIN
    assert g.size == 3 + 2 * KEEP_MIN + 10
    assert len(g.parts) == 3 and g.parts[1] is big
    assert b"".join(g.parts) == b"ab" + big + b"c" + b"x" * KEEP_MIN + b"d" * 10
    many = Gathered()
    for _ in range(10_000):  # a body of tiny chunks: its bytes, not an object each
        many.add(b"z")
    assert len(many.parts) == 1 and many.size == 10_000
    assert many.take() == [bytearray(b"z" * 10_000)] and many.parts == [] and many.size == 0


@pytest.mark.parametrize("size", [10, WRITE_BATCH + 5, 3 * WRITE_BATCH + KEEP_MIN])
def test_a_source_that_refills_one_buffer_is_stored_as_sent(store: MountpathStore, size: int) -> None:
    """A body yielded as one buffer filled again for every chunk (as a reader with a fixed buffer
    would): every chunk's bytes are stored as they were when yielded, by the PUT path and `fill`."""
    data = os.urandom(size)

    async def refilled() -> AsyncIterator[bytearray]:
        buf = bytearray(KEEP_MIN * 2)
        for i in range(0, size, len(buf)):
            part = data[i:i + len(buf)]
            buf[:len(part)] = part
            yield buf if len(part) == len(buf) else buf[:len(part)]

    a = asyncio.run(write_stream(store, BCK, "r/o", refilled(), Owt.PUT, expect_size=size))
    f, got = store.open(BCK, "r/o")
    with f:
        assert f.read() == data
    assert a.cksum == xxhash.xxh64(data, seed=0).hexdigest()
    w = store.new_writer(fsync=False)
    assert asyncio.run(fill(w, refilled(), expect_size=size)) == a.cksum
    with open(w.path, "rb") as f2:
        assert f2.read() == data
    w.abort()


def test_write_through_runs_on_the_finished_work_file_before_commit(store: MountpathStore) -> None:
    seen: list[bytes] = []

    async def through(path: str, size: int) -> Source:
        seen.append(Path(path).read_bytes())
        with pytest.raises(ErrObjNotFound):
            store.load(BCK, "o")  # not visible here yet
        return Source("remote-etag", "3", size)

    a = asyncio.run(write_stream(store, BCK, "o", chunks(b"abc"), Owt.PUT, write_through=through))
    assert seen == [b"abc"] and (a.version, a.src_etag) == ("3", "remote-etag")
    with pytest.raises(ValueError):
        asyncio.run(write_stream(store, BCK, "o", chunks(b"abc"), Owt.COLD_GET, write_through=through))


# ---- crashes leave nothing visible ----------------------------------------------------------------------
@pytest.mark.parametrize("size", [10, WRITE_BATCH * 2])
def test_failure_mid_stream_leaves_no_object_and_no_work_file(store: MountpathStore, size: int) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(size)
        raise ConnectionResetError("source went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(write_stream(store, BCK, "o", broken(), Owt.DOWNLOAD))
    with pytest.raises(ErrObjNotFound):
        store.load(BCK, "o")
    assert work_files(store) == []
    assert store.stats.snapshot().get("err.put.n") == 1


def test_short_body_is_an_error_and_keeps_the_old_object(store: MountpathStore) -> None:
    write_bytes(store, BCK, "o", b"old", Owt.PUT)
    with pytest.raises(ErrBadRequest):
        asyncio.run(write_stream(store, BCK, "o", chunks(b"new"), Owt.PUT, expect_size=100))
    f, _ = store.open(BCK, "o")
    with f:
        assert f.read() == b"old"


def test_work_file_left_by_a_crash_is_invisible_and_cleaned_at_start(store: MountpathStore) -> None:
    w = store.new_writer()  # a writer that died between write and rename
    w.write(b"partial")
    w.finish()
    with pytest.raises(ErrObjNotFound):
        store.load(BCK, "o")
    assert len(work_files(store)) == 1
    restarted = MountpathStore(store.path, fsync=False)
    assert restarted.cleanup_work() == 1 and work_files(restarted) == []


# ---- one writer per name ------------------------------------------------------------------------------
def test_concurrent_fetchers_of_one_name_fetch_once(store: MountpathStore) -> None:
    fetches = 0

    async def fetch() -> ObjAttrs:  # a source that counts how often it is read
        nonlocal fetches
        fetches += 1
        return await write_stream(store, BCK, "o", chunks(b"x" * 1000, 10), Owt.COLD_GET, src=SRC)

    async def main() -> list[ObjAttrs]:
        return await asyncio.gather(*(store.locks.once(BCK.uname("o"), fetch) for _ in range(5)))

    results = asyncio.run(main())
    assert fetches == 1 and len({r.cksum for r in results}) == 1
    assert store.stats.snapshot()["get.cold.n"] == 1
    assert store.locks.held(BCK.uname("o")) is None


def test_a_waiter_gets_the_writers_error_then_the_name_is_free() -> None:
    locks = NameLocks()

    async def fail() -> ObjAttrs:
        await asyncio.sleep(0.01)
        raise ErrBadRequest("nope")

    async def ok() -> ObjAttrs:
        return ObjAttrs(size=1)

    async def main() -> None:
        results = await asyncio.gather(locks.once("k", fail), locks.once("k", ok), return_exceptions=True)
        assert all(isinstance(r, ErrBadRequest) for r in results)
        assert (await locks.once("k", ok)).size == 1

    asyncio.run(main())


def test_a_cancelled_writer_lets_a_waiter_write() -> None:
    locks = NameLocks()

    async def slow() -> ObjAttrs:
        await asyncio.sleep(10)
        return ObjAttrs(size=0)

    async def ok() -> ObjAttrs:
        return ObjAttrs(size=2)

    async def main() -> None:
        first = asyncio.ensure_future(locks.once("k", slow))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(locks.once("k", ok))
        await asyncio.sleep(0)
        first.cancel()
        assert (await second).size == 2

    asyncio.run(main())


def test_claim_is_exclusive_and_names_its_owner() -> None:
    locks = NameLocks()

    async def main() -> None:
        h = locks.claim("k", owner="bd")
        assert h is not None and locks.claim("k") is None and locks.owner("k") == "bd"
        locks.release("k", h, ObjAttrs(size=3))
        assert locks.held("k") is None and (await locks.wait(h)).size == 3

    asyncio.run(main())


# ---- counters ------------------------------------------------------------------------------------------
def test_counters_are_declared_thread_safe_and_aliased() -> None:
    c = Counters()

    def work() -> None:
        for _ in range(1000):
            c.add("get", 2)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.add("getblob", 10)
    snap = c.snapshot()
    assert (snap["get.n"], snap["get.size"]) == (4000, 8000)
    assert snap["getblob.n"] == snap["blobget.n"] == 1  # the name earlier releases showed
    with pytest.raises(KeyError):
        c.add("made.up")


def test_pipeline_counts_per_owt(store: MountpathStore) -> None:
    write_bytes(store, BCK, "a", b"12345", Owt.PUT)
    write_bytes(store, Bucket("r", Provider.AWS), "a", b"12", Owt.COLD_GET, src=SRC)
    snap = store.stats.snapshot()
    assert (snap["put.n"], snap["put.size"], snap["get.cold.n"], snap["coldget.size"]) == (1, 5, 1, 2)


def test_a_file_filled_by_offset_is_committed_at_its_full_size(store: MountpathStore) -> None:
    from ais_ray.fs.write import commit

    w = store.new_writer()
    w.pwrite(b"world", 5)
    w.pwrite(b"hello", 0)
    a = commit(store, w, BCK, "o", Owt.BLOB, w.finish(rehash=True), src=Source("e", "v1", 10))
    assert a.size == store.load(BCK, "o").size == 10


# ---- group commit (downloads' --fsync=batch) ---------------------------------------------------
@pytest.mark.parametrize(("size", "own_fsync", "expected"), [
    (10, True, 1), (10, False, 0), (3 * WRITE_BATCH + 1, True, 1), (3 * WRITE_BATCH + 1, False, 0)])
def test_a_write_without_its_own_fsync_leaves_it_to_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                size: int, own_fsync: bool, expected: int) -> None:
    store = MountpathStore(str(tmp_path / "mp"), fsync=True)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    data = os.urandom(size)
    attrs = asyncio.run(write_stream(store, BCK, "o", chunks(data), Owt.DOWNLOAD, fsync=own_fsync))
    assert len(synced) == expected
    store.sync_fs()  # the batch's one syncfs: durable data, xattrs and renames
    f, got = store.open(BCK, "o")
    with f:
        assert f.read() == data and got.cksum == attrs.cksum == xxhash.xxh64(data, seed=0).hexdigest()
    assert work_files(store) == []


def test_a_cluster_without_fsync_never_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MountpathStore(str(tmp_path / "mp"), fsync=False)
    called: list[str] = []
    monkeypatch.setattr("ais_ray.fs.store.syncfs", lambda path: called.append(path))
    write_bytes(store, BCK, "o", b"x", Owt.DOWNLOAD)
    store.sync_fs()
    assert called == []
    store.fsync = True
    store.sync_fs()
    assert called == [store.path]


# ---- the mountpath's writer thread (fs/writer.py) ------------------------------------------------
def commit_threads(store: MountpathStore) -> list[str]:
    """The names of the threads `store`'s commits ran on, in order (filled as they happen)."""
    threads: list[str] = []
    real = store.commit

    def commit(*args: object, **kwargs: object) -> ObjAttrs:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    store.commit = commit  # type: ignore[method-assign]
    return threads


@pytest.mark.parametrize(("store_fsync", "own_fsync", "on_writer"), [
    (True, True, False), (True, False, True), (False, True, True), (False, False, True)])
def test_a_small_write_without_its_own_fsync_goes_to_the_writer_thread(tmp_path: Path, store_fsync: bool,
                                                                        own_fsync: bool, on_writer: bool) -> None:
    store = MountpathStore(str(tmp_path / "mp"), fsync=store_fsync)
    threads = commit_threads(store)
    asyncio.run(write_stream(store, BCK, "o", chunks(b"hello"), Owt.DOWNLOAD, fsync=own_fsync))
    assert (threads == [store.writer.name]) is on_writer, threads
    assert store.load(BCK, "o").size == 5


def test_a_mirrored_buckets_small_write_keeps_a_thread_of_its_own(tmp_path: Path) -> None:
    """Its replicas are written and synced in the same call: behind the one writer, every write
    would wait for those queued before it."""
    from ais_ray.fs.mirror import Mirror

    paths = [str(tmp_path / f"mp{i}") for i in range(2)]
    store = MountpathStore(paths[0], fsync=True)
    copies = {BCK: 2}
    store.replicas = Mirror(store, lambda b: copies.get(b, 1), lambda: paths)
    threads = commit_threads(store)
    attrs = asyncio.run(write_stream(store, BCK, "o", chunks(b"hello"), Owt.DOWNLOAD, fsync=False))
    assert len(attrs.copies) == 2 and threads and threads[0] != store.writer.name
    plain = Bucket("plain")
    asyncio.run(write_stream(store, plain, "o", chunks(b"hello"), Owt.DOWNLOAD, fsync=False))
    assert threads[-1] == store.writer.name  # a bucket without copies: the writer


def test_the_writer_thread_runs_calls_in_order_answers_each_and_keeps_going_after_an_error() -> None:
    from ais_ray.fs.writer import WriterThread

    w = WriterThread("t-writer")
    ran: list[int] = []
    gate = threading.Event()

    def call(i: int) -> int:
        gate.wait(5)  # the first call holds the thread: the rest queue up and drain as one batch
        ran.append(i)
        if i == 3:
            raise ValueError("three")
        return i * 10

    async def main() -> list[object]:
        futs = [asyncio.ensure_future(w.run(call, i)) for i in range(8)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*futs, return_exceptions=True)

    out = asyncio.run(main())
    assert ran == list(range(8))
    assert [o if not isinstance(o, ValueError) else "err" for o in out] == [0, 10, 20, "err", 40, 50, 60, 70]
    assert w.batches <= 3  # 8 calls, not 8 wakeups: the ones queued behind the first went in one drain
    assert asyncio.run(w.run(call, 9)) == 90  # a new event loop, the same thread


def test_the_calls_of_one_loop_turn_reach_the_writer_thread_at_once() -> None:
    """Calls submitted in one turn of the loop are one put to the thread (one wakeup), run in
    order, each answered through its own callback."""
    from ais_ray.fs.writer import WriterThread

    w = WriterThread("t-writer-turn")
    got: list[tuple[object, BaseException | None]] = []

    async def main() -> None:
        done = asyncio.Event()

        def sink(value: object, exc: BaseException | None) -> None:
            got.append((value, exc))
            if len(got) == 50:
                done.set()

        for i in range(50):  # one turn: no await between them
            w.submit(sink, lambda i: i + 1, i)
        await asyncio.wait_for(done.wait(), 5)

    asyncio.run(main())
    assert got == [(i + 1, None) for i in range(50)]
    assert w.batches == 1


def test_a_cancelled_caller_does_not_stop_the_write_and_the_others_are_answered(tmp_path: Path) -> None:
    store = MountpathStore(str(tmp_path / "mp"), fsync=False)
    gate = threading.Event()

    async def main() -> ObjAttrs:
        hold = asyncio.ensure_future(store.writer.run(gate.wait, 5))
        first = asyncio.ensure_future(store.writer.run(write_bytes, store, BCK, "a", b"aaa", Owt.DOWNLOAD))
        second = asyncio.ensure_future(store.writer.run(write_bytes, store, BCK, "b", b"bb", Owt.DOWNLOAD))
        await asyncio.sleep(0.02)
        first.cancel()
        gate.set()
        await hold
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert asyncio.run(main()).size == 2
    assert store.load(BCK, "a").size == 3  # written all the same, as asyncio.to_thread would have


def test_work_file_names_are_unique_across_threads_and_a_forked_child() -> None:
    """Work files are named from a per-process random part and a counter (no uuid4 per object):
    no two writers of one mountpath — threads, or a child forked from this process — share one."""
    from ais_ray.fs.store import work_name

    got: list[list[str]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=lambda out: out.extend(work_name() for _ in range(2000)), args=(got[k],))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [n for part in got for n in part]
    assert len(set(names)) == len(names) == 8000
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its names, whatever counter it inherited
        os.write(w, work_name().encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    child = os.read(r, 200).decode()
    os.close(r)
    assert child.split(".")[0] != names[0].split(".")[0] and child not in names


@pytest.mark.parametrize("n", [1, 4, 1100])  # 1,100: more chunks than one writev takes (IOV_MAX)
def test_a_body_as_chunks_is_stored_as_one(store: MountpathStore, n: int) -> None:
    """`write_bytes` of a list of chunks (a download's body as the network gave it): the object is
    their concatenation, its checksum theirs."""
    chunks = [os.urandom(50 + i % 7) for i in range(n)]
    attrs = write_bytes(store, BCK, f"c{n}", chunks, Owt.DOWNLOAD, src=SRC, fsync=False)
    data = b"".join(chunks)
    f, got = store.open(BCK, f"c{n}")
    with f:
        assert f.read() == data
    assert got.size == attrs.size == len(data) and attrs.cksum == xxhash.xxh64(data).hexdigest()
