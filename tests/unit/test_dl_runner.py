"""A target's share of a download (`jobs/download.py::DownloadRunner`): what a status asks of its mountpaths."""

from __future__ import annotations

import asyncio
import time

from ais_ray.core.dload import DlKind, DlSpec, TaskInfo
from ais_ray.core.names import Bucket
from ais_ray.jobs import download
from ais_ray.jobs.download import DownloadRunner, TargetHooks


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
