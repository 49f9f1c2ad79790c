"""A job's items to their mountpaths many to a call (`jobs/batches.py`), in-process: the target's
`MountpathBatches` against a mountpath's `Gates`, as `run_batch` joins them over Ray."""

from __future__ import annotations

import asyncio
import functools
from types import SimpleNamespace
from typing import Any

import pytest

from ais_ray.core.errors import ErrObjNotFound
from ais_ray.jobs.batches import BATCH, BatchSizer, Gates, MountpathBatches


class Mountpath:
    """`run_batch` of a mountpath actor, in-process: each item's op is `work(name, *args)`."""

    def __init__(self, seconds: float = 0.0, fail: set[str] | None = None) -> None:
        self.gates = Gates()
        self.calls: list[int] = []  # items per call
        self.running = self.peak = 0
        self.seconds, self.fail = seconds, fail or set()
        self.run_batch = SimpleNamespace(remote=self._run_batch)

    async def _work(self, name: str, tag: str) -> tuple[str, str]:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.seconds)
            if name in self.fail:
                raise ErrObjNotFound("b", name)
            if name == "bug":
                raise RuntimeError("not an object's error")
            return tag, name
        finally:
            self.running -= 1

    async def _run_batch(self, op: str, key: str, workers: int, args: tuple[Any, ...],
                         items: list[tuple[Any, ...]]) -> list[Any]:
        self.calls.append(len(items))
        return await self.gates.run(key, workers, [functools.partial(self._work, *item, *args) for item in items])


def _run(mps: dict[str, Mountpath], names: list[str], per_mp: int = 8, flush: bool = True) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    async def main() -> None:
        batches = MountpathBatches(mps, "op", "job-1", per_mp, ("tag",),
                                   lambda item, note, value, err: seen.append((item, note, value, err)))
        for i, name in enumerate(names):
            await batches.submit(f"/mp{i % len(mps)}", (name,), i)
        await batches.join(flush=flush)

    asyncio.run(main())
    return seen


def test_many_items_few_calls_each_item_answered_once() -> None:
    mps = {"/mp0": Mountpath(), "/mp1": Mountpath()}
    names = [f"o{i}" for i in range(1000)]
    seen = _run(mps, names)
    assert sorted(item[0] for item, *_ in seen) == sorted(names)
    assert all(value == ("tag", item[0]) and err is None for item, _, value, err in seen)
    assert {note for _, note, _, _ in seen} == set(range(1000))  # the target's note comes back with its item
    calls = mps["/mp0"].calls + mps["/mp1"].calls
    assert sum(calls) == 1000 and len(calls) < 50, calls  # not one call per object
    assert max(calls) <= BATCH


def test_num_workers_bounds_a_job_on_its_mountpath_over_all_its_batches() -> None:
    mp = Mountpath(seconds=0.002)
    _run({"/mp0": mp}, [f"o{i}" for i in range(200)], per_mp=3)
    assert mp.peak == 3 and len(mp.calls) > 1
    assert not mp.gates.running()  # the job's bound is gone with its last batch


def test_an_objects_error_is_its_own_a_calls_error_is_the_jobs() -> None:
    seen = _run({"/mp0": Mountpath(fail={"o3"})}, [f"o{i}" for i in range(10)])
    errs = [(item, type(err)) for item, _, _, err in seen if err is not None]
    assert errs == [(("o3",), ErrObjNotFound)] and len(seen) == 10
    with pytest.raises(RuntimeError):
        _run({"/mp0": Mountpath()}, ["a", "bug", "c"])


def test_a_job_that_stops_drops_what_it_has_not_sent() -> None:
    mp = Mountpath(seconds=0.01)
    seen = _run({"/mp0": mp}, [f"o{i}" for i in range(40)], flush=False)
    assert 0 < len(seen) < 40 and sum(mp.calls) == len(seen)


def test_the_sizer_takes_about_a_second_of_work() -> None:
    z = BatchSizer(8)
    assert z.size == 8
    z.observe([0.01] * 8)
    assert z.size == BATCH
    z.observe([])  # nothing done: no new estimate
    assert z.size == BATCH
    z.observe([4.0, 4.0, 0.01])
    assert z.size == 2
