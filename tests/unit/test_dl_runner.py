"""A target's share of a download (`jobs/download.py::DownloadRunner`): what a status asks of its mountpaths."""

from __future__ import annotations

import asyncio
import time

from ais_ray.core.dload import DlKind, DlSpec, TaskInfo
from ais_ray.core.names import Bucket
from ais_ray.jobs import download
from ais_ray.jobs.download import DownloadRunner, TargetHooks
from ais_ray.jobs.dl_worker import ERROR, OK, DlResult


class _Mountpath:
    """What the runner calls on a mountpath actor for a status: `dl_progress.remote(job_id)`, counted."""

    def __init__(self, name: str) -> None:
        self.name, self.calls = name, 0
        self.dl_progress = self

    async def _progress(self) -> list[TaskInfo]:
        self.calls += 1
        return [TaskInfo(f"{self.name}-obj{self.calls}", 1, 10, time.time())]

    def remote(self, job_id: str) -> asyncio.Future[list[TaskInfo]]:
        return asyncio.ensure_future(self._progress())


def test_status_asks_the_mountpaths_at_most_once_per_ttl() -> None:
    """A client polling every 0.2 s costs each mountpath one call a second, not five; the
    counts stay the target's own and fresh."""
    mps = {"/mp1": _Mountpath("a"), "/mp2": _Mountpath("b")}
    hooks = TargetHooks("t1", lambda: None, mps, [], lambda spec, token: None, lambda spec: None)  # type: ignore[arg-type]
    runner = DownloadRunner(hooks, DlSpec("dnl-x", DlKind.MULTI, Bucket("b"), objects=(("o", "http://h/o"),)))

    async def main() -> None:
        first = await runner.status(only_active=True)
        assert sorted(t.name for t in first.current) == ["a-obj1", "b-obj1"]
        runner.st.finished = 7
        again = await runner.status(only_active=True)
        assert again.finished == 7 and again.current == first.current
        assert [m.calls for m in mps.values()] == [1, 1]
        runner._current = (time.monotonic() - download.PROGRESS_TTL, runner._current[1])  # the TTL passed
        later = await runner.status(only_active=True)
        assert sorted(t.name for t in later.current) == ["a-obj2", "b-obj2"]
        assert [m.calls for m in mps.values()] == [2, 2]

    asyncio.run(main())


def test_a_connection_limit_is_split_among_mountpaths_and_keeps_batches_large() -> None:
    """`limits.connections` per target: never more in flight than the limit, and — when it can be
    split one or more per mountpath — batches as large as without a limit (a batch is one Ray call
    and one group commit: batches of 4 cost 2.7x the CPU of the same job without the limit)."""
    for n_mp in (1, 2, 3, 4):
        for conns in range(1, 70):
            batch, concs, shared = download.limits_plan(conns, n_mp)
            assert len(concs) == n_mp and min(concs) >= 1 and batch >= 1
            if shared:  # one window of `conns` items over the target's mountpaths
                assert conns < n_mp and batch == 1
            else:
                assert sum(concs) <= conns and max(concs) <= download.MP_CONCURRENCY
                assert max(concs) - min(concs) <= 1  # an even split
    assert download.limits_plan(0, 2) == (download.BATCH, [download.MP_CONCURRENCY] * 2, False)
    assert download.limits_plan(32, 2) == (download.BATCH, [16, 16], False)  # the bench's "equal" job
    assert download.limits_plan(3, 2) == (8, [2, 1], False)

    mps = {"/mp1": _Mountpath("a"), "/mp2": _Mountpath("b")}
    hooks = TargetHooks("t1", lambda: None, mps, [], lambda spec, token: None, lambda spec: None)  # type: ignore[arg-type]
    runner = DownloadRunner(hooks, DlSpec("dnl-y", DlKind.MULTI, Bucket("b"), objects=(("o", "http://h/o"),), conns=5))
    assert sorted(c.concurrency for c in runner._ctx.values()) == [2, 3]
    # the first batches are one round of each mountpath's downloads; then sized by how long items take
    assert sorted(z.size for z in runner._sizers.values()) == [2, 3]
    assert sorted(w.size for w in runner._windows.values()) == [8, 12]


def _results(seconds: float, n: int = 8, status: str = OK) -> list[float]:
    return download.download_times([DlResult(i, f"o{i}", status, 1, start=1000.0, end=1000.0 + seconds)
                                    for i in range(n)])


def test_a_batch_is_sized_to_about_a_second_of_its_mountpaths_downloads() -> None:
    """An item counts as done when its batch does (after its group commit): small objects go
    BATCH to a Ray call, slow ones a few, so a job of large objects shows progress every second
    or so instead of after 128 of them."""
    z = download.BatchSizer(16)
    assert z.size == 16  # nothing known yet: one round
    z.observe(_results(0.02))  # 64 KiB from a local source
    assert z.size == download.BATCH
    z.observe(_results(4.0))  # 100 MiB objects
    assert z.size == 4
    z.observe(_results(60.0))
    assert z.size == 1
    z.observe(_results(0.0, status=ERROR) + _results(0.5, n=0))  # nothing downloaded: no new estimate
    assert z.size == 1
    z.observe([*_results(0.01, n=5), *_results(9.0, n=2)])  # the median, not a straggler
    assert z.size == download.BATCH
    assert download.BatchSizer(1, cap=8).size == 1 and download.BatchSizer(40, cap=8).size == 8
