"""Group commit (fs/write.py GroupCommit, write_group): one writer per mountpath, one syncfs per batch."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ais_ray.core.lom import CT_WORK
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs import write as wr
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import GroupCommit, SmallWrite, Source, write_group, write_stream

BCK = Bucket("b")


@pytest.fixture
def store(tmp_path: Path) -> MountpathStore:
    return MountpathStore(str(tmp_path / "mp"), fsync=True)


def work_files(store: MountpathStore) -> list[str]:
    return os.listdir(os.path.join(store.path, CT_WORK))


@pytest.mark.parametrize("mode", ["object", "batch", "off"])
def test_write_group_commits_every_item(store: MountpathStore, mode: str) -> None:
    items = [SmallWrite(BCK, f"o{i}", os.urandom(100 + i), Source("e", "v", 100 + i), "job1") for i in range(20)]
    res = write_group(store, items, Owt.DOWNLOAD, fsync=mode)
    assert all(not isinstance(r, BaseException) for r in res)
    for it, r in zip(items, res, strict=True):
        with open(store.fqn(BCK, it.name), "rb") as f:
            assert f.read() == it.data
        assert store.load(BCK, it.name).size == len(it.data) == r.size
        assert store.load(BCK, it.name).job == "job1"
    assert work_files(store) == []


def test_one_bad_item_fails_alone(store: MountpathStore) -> None:
    write_group(store, [SmallWrite(BCK, "d/x", b"x")], Owt.DOWNLOAD)
    res = write_group(store, [SmallWrite(BCK, "a", b"1"), SmallWrite(BCK, "d", b"conflicts"),
                              SmallWrite(BCK, "c", b"3")], Owt.DOWNLOAD)
    assert not isinstance(res[0], BaseException) and not isinstance(res[2], BaseException)
    assert isinstance(res[1], Exception)
    assert work_files(store) == []


def test_crash_before_rename_leaves_no_visible_object(store: MountpathStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync before the renames fails (a crash-looking batch): nothing is visible, no work file stays."""
    def boom(path: str) -> None:
        raise OSError(5, "I/O error")
    monkeypatch.setattr(wr, "syncfs", boom)
    res = write_group(store, [SmallWrite(BCK, f"o{i}", b"data") for i in range(5)], Owt.DOWNLOAD)
    assert all(isinstance(r, OSError) for r in res)
    assert not any(os.path.exists(store.fqn(BCK, f"o{i}")) for i in range(5))
    assert work_files(store) == []


def test_syncs_once_per_batch_and_batches_concurrent_writes(store: MountpathStore,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = wr.syncfs
    monkeypatch.setattr(wr, "syncfs", lambda p: (calls.append(p), real(p)))

    async def go() -> GroupCommit:
        g = GroupCommit(store, Owt.DOWNLOAD, fsync="batch", max_items=64)
        out = await asyncio.gather(*(g.write(BCK, f"o{i}", b"%d" % i) for i in range(200)))
        assert [a.size for a in out] == [len(b"%d" % i) for i in range(200)]
        return g

    g = asyncio.run(go())
    assert g.batches == 4  # 64 + 64 + 64 + 8
    assert len(calls) == 2 * g.batches  # before the renames and after them
    assert all(store.load(BCK, f"o{i}").size for i in range(200))


def test_write_stream_small_object_goes_through_the_group(store: MountpathStore) -> None:
    async def body():
        yield b"abc"
        yield b"def"

    async def go() -> GroupCommit:
        g = GroupCommit(store, Owt.DOWNLOAD, fsync="off")
        a = await write_stream(store, BCK, "s", body(), Owt.DOWNLOAD, expect_size=6, group=g)
        assert a.size == 6
        return g

    assert asyncio.run(go()).batches == 1
    with open(store.fqn(BCK, "s"), "rb") as f:
        assert f.read() == b"abcdef"


def test_bad_mode_is_refused(store: MountpathStore) -> None:
    with pytest.raises(ValueError):
        GroupCommit(store, Owt.DOWNLOAD, fsync="sometimes")
