"""A mountpath's share of a download (`jobs/dl_worker.py`) against a real HTTP server on 127.0.0.1
(`testing/httpsrc.py`, in-process): what a batch reports, which failures are retried, and whose
failure an error names."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ais_ray.core.dload import DlItem
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.dl_source import Sources
from ais_ray.jobs.dl_worker import ERROR, MAX_ATTEMPTS, OK, SKIPPED, DlJobCtx, DlWorker
from ais_ray.testing.httpsrc import Faults, HttpSrc

BCK = Bucket("dl")
DATA = {f"o{i:02d}": os.urandom(1000 + 37 * i) for i in range(20)}


def items(src: HttpSrc, names: list[str]) -> list[DlItem]:
    return [DlItem(i, n, f"{src.url}/{n}") for i, n in enumerate(names)]


def run(tmp: Path, body) -> None:  # type: ignore[no-untyped-def]
    (tmp / "src").mkdir()
    for name, data in DATA.items():
        (tmp / "src" / name).write_bytes(data)

    async def main(src: HttpSrc) -> None:
        store = MountpathStore(str(tmp / "mp"), fsync=False)
        w = DlWorker(store, Sources())
        try:
            await body(src, store, w)
        finally:
            await w.sources.aclose()

    with HttpSrc(tmp / "src") as src:
        asyncio.run(main(src))


def test_a_batch_is_stored_and_reported_in_order(tmp_path: Path) -> None:
    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        names = sorted(DATA)
        res = await w.run(DlJobCtx("j1", BCK, concurrency=4), items(src, names))
        assert [(r.idx, r.name, r.status, r.size) for r in res] == [(i, n, OK, len(DATA[n])) for i, n in enumerate(names)]
        for n in names:
            f, attrs = store.open(BCK, n)
            with f:
                assert f.read() == DATA[n]
            assert attrs.job == "j1" and attrs.src_size == len(DATA[n])
        assert w.progress("j1") == []  # nothing left in flight

    run(tmp_path, body)


def test_a_5xx_is_retried_a_4xx_is_not(tmp_path: Path) -> None:
    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        src.faults = Faults(error_prefixes=["o01"])  # 500, every time
        res = {r.name: r for r in await w.run(DlJobCtx("j2", BCK), items(src, ["o01", "o02", "missing"]))}
        assert res["o01"].status == ERROR and src.stats.requests["o01"] == MAX_ATTEMPTS
        assert res["o02"].status == OK and src.stats.requests["o02"] == 1
        assert res["missing"].status == ERROR and src.stats.requests["missing"] == 1  # 404
        assert "does not exist" in res["missing"].error, res["missing"].error

    run(tmp_path, body)


def test_a_local_write_failure_is_the_objects_own_error(tmp_path: Path) -> None:
    """The disk fails, not the source: the error says what failed here, and the object is
    fetched once (a source error would be retried, and would blame the source)."""

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        os.rmdir(store.work_dir)
        Path(store.work_dir).write_bytes(b"")  # no work files can be made: a raw OSError on this disk
        res = await w.run(DlJobCtx("j3", BCK), items(src, ["o03"]))
        assert res[0].status == ERROR and src.stats.requests["o03"] == 1, res[0]
        assert "cannot reach" not in res[0].error and src.url not in res[0].error, res[0].error
        assert res[0].error.startswith("NotADirectoryError"), res[0].error

    run(tmp_path, body)


def test_abort_ends_the_items_under_way(tmp_path: Path) -> None:
    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        src.faults = Faults(first_byte_delay=2)
        batch = asyncio.ensure_future(w.run(DlJobCtx("j4", BCK), items(src, ["o05", "o06"])))
        while not w.progress("j4") or src.stats.requests["o05"] == 0:
            await asyncio.sleep(0.01)
        await asyncio.wait_for(w.abort("j4"), 5)
        res = {r.name: r for r in await asyncio.wait_for(batch, 5)}
        assert res["o05"].status == ERROR and res["o05"].error == "aborted"
        assert res["o06"].status in (OK, ERROR)  # done before the abort, or aborted with it

    run(tmp_path, body)


def test_a_cancelled_caller_leaves_its_items_to_finish(tmp_path: Path) -> None:
    """The target that sent a batch may stop waiting (it restarted): the objects under way are
    still stored, whole."""

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        src.faults = Faults(first_byte_delay=0.3)
        first = asyncio.ensure_future(w.run(DlJobCtx("j5", BCK), items(src, ["o07"])))
        while src.stats.requests["o07"] == 0:
            await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        assert w.progress("j5"), "the item stopped with its caller"
        for _ in range(200):
            if not w.progress("j5"):
                break
            await asyncio.sleep(0.025)
        f, attrs = store.open(BCK, "o07")
        with f:
            assert f.read() == DATA["o07"] and attrs.job == "j5"

    run(tmp_path, body)


def test_a_body_past_the_quick_buffer_is_streamed_from_the_same_get(tmp_path: Path) -> None:
    """A small object is fetched and written by callbacks (`_Quick`); one whose body passes
    HIGH_WATER unread is handed to the streaming path, which reads on from the same GET."""
    from ais_ray.backends.curlhttp import HIGH_WATER

    big = os.urandom(3 * HIGH_WATER + 123)

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        (tmp_path / "src" / "big").write_bytes(big)
        res = await w.run(DlJobCtx("j6", BCK), items(src, ["big", "o08"]))
        assert [(r.status, r.size) for r in res] == [(OK, len(big)), (OK, len(DATA["o08"]))], res
        assert src.stats.requests["big"] == 1 and src.stats.requests["o08"] == 1
        f, attrs = store.open(BCK, "big")
        with f:
            assert f.read() == big and attrs.src_size == len(big) and attrs.job == "j6"

    run(tmp_path, body)


def test_one_name_twice_at_once_is_fetched_once(tmp_path: Path) -> None:
    """Two items of one name in flight together (a batch sent again by a restarted target): the
    second joins the first one's fetch through the name lock."""

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        src.faults = Faults(first_byte_delay=0.2)
        job = DlJobCtx("j7", BCK)
        a, b = await asyncio.gather(w.run(job, items(src, ["o09"])), w.run(job, items(src, ["o09"])))
        assert a[0].status == OK and b[0].status == OK and a[0].size == b[0].size == len(DATA["o09"])
        assert src.stats.requests["o09"] == 1

    run(tmp_path, body)


def test_cold_get_mode_keeps_held_copies_and_writes_as_a_cold_get(tmp_path: Path) -> None:
    """A prefetch's batch (`Owt.COLD_GET`, `cached_ok`): a copy held here is reported skipped with
    no request to the source; a new one is written as a cold GET writes it — the source's
    version kept, no job recorded — whereas a download records its job and numbers the version."""

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        ctx = DlJobCtx("p1", BCK, concurrency=4, owt=Owt.COLD_GET, cached_ok=True)
        res = await w.run(ctx, items(src, ["o01", "o02"]))
        assert [(r.status, r.size) for r in res] == [(OK, len(DATA["o01"])), (OK, len(DATA["o02"]))]
        attrs = store.load(BCK, "o01")
        assert attrs.job == "" and attrs.version == "" and attrs.src_size == len(DATA["o01"])
        assert src.stats.requests["o01"] == 1
        res = await w.run(ctx, items(src, ["o01", "o02", "o03"]))
        assert [r.status for r in res] == [SKIPPED, SKIPPED, OK]
        assert src.stats.requests["o01"] == 1 and src.stats.requests["o03"] == 1  # the held ones: not asked
        await w.run(DlJobCtx("d1", BCK), items(src, ["o04"]))
        dl = store.load(BCK, "o04")
        assert dl.job == "d1" and dl.version == "1"
        missing = (await w.run(ctx, items(src, ["missing"])))[0]
        assert missing.status == ERROR and isinstance(missing.cause, ErrNotFound)

    run(tmp_path, body)


def test_a_job_run_until_idle_is_forgotten_after_its_last_batch(tmp_path: Path) -> None:
    """A prefetch's or copy's state here ends with its last batch (`until_idle`); a download's stays
    until `forget` (its abort and progress span batches)."""

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        ctx = DlJobCtx("p2", BCK, concurrency=2, owt=Owt.COLD_GET, cached_ok=True)
        both = await asyncio.gather(w.run(ctx, items(src, ["o05", "o06"]), until_idle=True),
                                    w.run(ctx, items(src, ["o07"]), until_idle=True))
        assert [r.status for rs in both for r in rs] == [OK, OK, OK] and "p2" not in w.jobs
        await w.run(DlJobCtx("d2", BCK), items(src, ["o08"]))
        assert "d2" in w.jobs

    run(tmp_path, body)


def test_a_blob_threshold_leaves_large_sources_unread_and_fetches_the_rest(tmp_path: Path) -> None:
    """A prefetch with a blob threshold (`blob_over`): an object of at least that many bytes is
    answered BLOB with its size once its GET's head is in — streamed or read whole already — and
    nothing of it is stored; the smaller ones of the same batch are fetched as usual, one GET
    each and no HEAD; a held copy stays skipped whatever its size."""
    from ais_ray.backends.curlhttp import HIGH_WATER
    from ais_ray.core.errors import ErrObjNotFound
    from ais_ray.jobs.dl_worker import BLOB

    big, whole = os.urandom(3 * HIGH_WATER + 5), os.urandom(HIGH_WATER // 2)

    async def body(src: HttpSrc, store: MountpathStore, w: DlWorker) -> None:
        (tmp_path / "src" / "big").write_bytes(big)
        (tmp_path / "src" / "whole").write_bytes(whole)
        ctx = DlJobCtx("pb", BCK, concurrency=4, owt=Owt.COLD_GET, cached_ok=True, blob_over=HIGH_WATER // 4)
        res = await w.run(ctx, items(src, ["big", "o09", "whole"]), until_idle=True)
        assert [(r.status, r.size) for r in res] == [(BLOB, len(big)), (OK, len(DATA["o09"])), (BLOB, len(whole))]
        for name in ("big", "whole"):
            with pytest.raises(ErrObjNotFound):
                store.load(BCK, name)
        assert store.load(BCK, "o09").size == len(DATA["o09"])
        assert src.stats.requests["big"] == 1 and src.stats.requests["o09"] == 1  # GETs only: no HEAD first
        assert not os.listdir(store.work_dir)  # no work file left of the ones not fetched
        again = await w.run(DlJobCtx("pb2", BCK, owt=Owt.COLD_GET, cached_ok=True, blob_over=100), items(src, ["o09"]))
        assert [r.status for r in again] == [SKIPPED]

    run(tmp_path, body)
