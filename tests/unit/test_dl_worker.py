"""A mountpath's share of a download (`jobs/dl_worker.py`) against a real HTTP server on 127.0.0.1:
what a batch reports, which failures are retried, and whose failure an error names."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from ais_ray.core.dload import DlItem
from ais_ray.core.names import Bucket
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.dl_source import Sources
from ais_ray.jobs.dl_worker import ERROR, OK, DlJobCtx, DlWorker

BCK = Bucket("dl")
DATA = {f"o{i:02d}": os.urandom(1000 + 37 * i) for i in range(20)}


class Source:
    """Objects by name; `fail[name]` statuses are answered first, one per request; `delay[name]` s before a body."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.fail: dict[str, list[int]] = {}
        self.delay: dict[str, float] = {}
        self.url = ""

    async def handle(self, req: web.Request) -> web.StreamResponse:
        name = req.match_info["name"]
        self.hits[name] += 1
        if self.fail.get(name):
            return web.Response(status=self.fail[name].pop(0))
        if name in self.delay:
            await asyncio.sleep(self.delay[name])
        return web.Response(body=DATA[name])


@asynccontextmanager
async def serving(src: Source) -> AsyncIterator[Source]:
    app = web.Application()
    app.router.add_get("/{name}", src.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # a handler left sleeping does not hold the test
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    src.url = f"http://127.0.0.1:{port}"
    try:
        yield src
    finally:
        await runner.cleanup()


def items(src: Source, names: list[str]) -> list[DlItem]:
    return [DlItem(i, n, f"{src.url}/{n}") for i, n in enumerate(names)]


def run(tmp: Path, body) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        store = MountpathStore(str(tmp / "mp"), fsync=False)
        w = DlWorker(store, Sources())
        try:
            async with serving(Source()) as src:
                await body(src, store, w)
        finally:
            await w.sources.aclose()

    asyncio.run(main())


def test_a_batch_is_stored_and_reported_in_order(tmp_path: Path) -> None:
    async def body(src: Source, store: MountpathStore, w: DlWorker) -> None:
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
    async def body(src: Source, store: MountpathStore, w: DlWorker) -> None:
        src.fail = {"o01": [503, 502], "o02": [404]}
        res = {r.name: r for r in await w.run(DlJobCtx("j2", BCK), items(src, ["o01", "o02"]))}
        assert res["o01"].status == OK and src.hits["o01"] == 3
        assert res["o02"].status == ERROR and src.hits["o02"] == 1
        assert "does not exist" in res["o02"].error, res["o02"].error

    run(tmp_path, body)


def test_a_local_write_failure_is_the_objects_own_error(tmp_path: Path) -> None:
    """The disk fails, not the source: the error says what failed here, and the object is
    fetched once (a source error would be retried, and would blame the source)."""

    async def body(src: Source, store: MountpathStore, w: DlWorker) -> None:
        os.rmdir(store.work_dir)
        Path(store.work_dir).write_bytes(b"")  # no work files can be made: a raw OSError on this disk
        res = await w.run(DlJobCtx("j3", BCK), items(src, ["o03"]))
        assert res[0].status == ERROR and src.hits["o03"] == 1, res[0]
        assert "cannot reach" not in res[0].error and src.url not in res[0].error, res[0].error
        assert res[0].error.startswith("NotADirectoryError"), res[0].error

    run(tmp_path, body)


def test_abort_ends_the_items_under_way(tmp_path: Path) -> None:
    async def body(src: Source, store: MountpathStore, w: DlWorker) -> None:
        src.delay = {"o05": 10}
        batch = asyncio.ensure_future(w.run(DlJobCtx("j4", BCK), items(src, ["o05", "o06"])))
        while not w.progress("j4") or src.hits["o05"] == 0:
            await asyncio.sleep(0.01)
        await asyncio.wait_for(w.abort("j4"), 5)
        res = {r.name: r for r in await asyncio.wait_for(batch, 5)}
        assert res["o05"].status == ERROR and res["o05"].error == "aborted"
        assert res["o06"].status in (OK, ERROR)  # done before the abort, or aborted with it

    run(tmp_path, body)


def test_a_cancelled_caller_leaves_its_items_to_finish(tmp_path: Path) -> None:
    """The target that sent a batch may stop waiting (it restarted): the objects under way are
    still stored, whole."""

    async def body(src: Source, store: MountpathStore, w: DlWorker) -> None:
        src.delay = {"o07": 0.3}
        first = asyncio.ensure_future(w.run(DlJobCtx("j5", BCK), items(src, ["o07"])))
        while src.hits["o07"] == 0:
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
