"""The download worker's group commit across batches (`jobs/dl_worker.py::GroupSync`)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ais_ray.jobs.dl_worker import GroupSync


def test_callers_during_a_sync_share_the_next_one() -> None:
    started: list[float] = []
    running = threading.Lock()

    def sync() -> None:
        assert running.acquire(blocking=False), "two syncs at once"
        started.append(time.monotonic())
        time.sleep(0.05)
        running.release()

    async def main() -> list[tuple[float, float]]:
        gs = GroupSync(sync)

        async def one(delay: float) -> tuple[float, float]:
            await asyncio.sleep(delay)
            asked = time.monotonic()
            await gs.sync()
            return asked, time.monotonic()

        out = await asyncio.gather(*(one(0.01 * i) for i in range(10)))
        # ten callers over 0.09 s, a round each 0.05 s: 3 here, a few more on a busy machine, never ten
        assert gs.rounds == len(started) <= 5
        return out

    spans = asyncio.run(main())
    for asked, back in spans:  # each caller waited for a sync that started after it asked, and ended
        assert any(asked <= s and s + 0.05 <= back + 1e-3 for s in started)


def test_a_failed_sync_fails_its_callers_and_the_next_round_runs() -> None:
    calls = []

    def sync() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk gone")

    async def main() -> None:
        gs = GroupSync(sync)
        with pytest.raises(OSError):
            await gs.sync()
        await gs.sync()

    asyncio.run(main())
    assert len(calls) == 2
