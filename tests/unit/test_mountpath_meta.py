"""A mountpath adopts cluster maps in version order, however their pushes interleave (no Ray:
the actor's class is driven directly, its data server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from ais_ray.actors.mountpath import _MountpathActor
from ais_ray.core import lom
from ais_ray.core.smap import MP_DETACHED, MountpathInfo, Smap, Snode


def smap(version: int, mp1: str, mp2: str, mp1_state: str) -> Smap:
    t1 = Snode("t1", "target", "", 0, (MountpathInfo(mp1, state=mp1_state), MountpathInfo(mp2)))
    return Smap("u", version, Snode("p1", "proxy", ""), {"t1": t1})


def test_an_older_map_finishing_last_never_replaces_a_newer_one(tmp_path: Path) -> None:
    """The proxy stops waiting for a busy node after a few seconds and pushes the next map: a
    detach's map still being written when the attach's map arrives must not win (seen as a
    bucket summary that counted every mirror replica of a target twice after the attach)."""
    mp1, mp2 = str(tmp_path / "mp1"), str(tmp_path / "mp2")
    a = _MountpathActor("t1", mp2, "127.0.0.1", fsync=False)
    try:
        real = a.ctx.store.save_meta

        def slow_for_v1(name: str, data: bytes) -> None:
            if name == lom.SMAP_FILE and int(json.loads(data)["version"]) == 1:
                time.sleep(0.3)
            real(name, data)

        a.ctx.store.save_meta = slow_for_v1  # type: ignore[method-assign]
        detached, attached = smap(1, mp1, mp2, MP_DETACHED), smap(2, mp1, mp2, "enabled")

        async def pushes() -> None:
            first = asyncio.create_task(a.update_meta(detached, None))
            await asyncio.sleep(0.05)  # the older push is writing its copy
            await a.update_meta(attached, None)
            await first

        asyncio.run(pushes())
        assert a.ctx.meta.smap is not None and a.ctx.meta.smap.version == 2
        assert a.ctx.enabled_paths() == [mp1, mp2]
        assert int(json.loads((tmp_path / "mp2" / lom.SMAP_FILE).read_bytes())["version"]) == 2
        asyncio.run(a.update_meta(detached, None))  # an old map arriving late is ignored
        assert a.ctx.meta.smap.version == 2
    finally:
        a.io.run_sync(a.server.stop())


def test_a_renamed_source_takes_no_new_content_and_commits_in_flight_land_first(tmp_path: Path) -> None:
    """A rename (`move-bck`) closes its source at the commit itself: what a client, a download or a
    copy would add is refused and leaves nothing; a replica, a move or a restore of what the bucket
    holds passes; the rename's own copies into the new name pass. A commit that found the source
    open has landed before the mountpath answers the push (the copy's walk starts after)."""
    import threading

    import pytest

    from ais_ray.core.bmd import BMD
    from ais_ray.core.errors import ErrBusy
    from ais_ray.core.names import Bucket
    from ais_ray.core.owt import Owt
    from ais_ray.fs.write import write_bytes

    src, dst = Bucket("src"), Bucket("dst")
    a = _MountpathActor("t1", str(tmp_path / "mp1"), "127.0.0.1", fsync=False)
    try:
        store = a.ctx.store
        bmd = BMD(uuid="u").with_bucket(src)
        asyncio.run(a.update_meta(None, bmd))
        write_bytes(store, src, "before", b"x", Owt.PUT)
        moving = bmd.with_move(src, dst, "mv1")
        lock = store._commit_locks[0]  # a commit in progress holds its lock
        lock.acquire()
        threading.Timer(0.3, lock.release).start()
        t0 = time.monotonic()
        asyncio.run(a.update_meta(None, moving))
        assert time.monotonic() - t0 >= 0.25  # waited for it
        for owt in (Owt.PUT, Owt.DOWNLOAD, Owt.COPY, Owt.TRANSFORM):
            with pytest.raises(ErrBusy, match=r"move-bck\[mv1\]"):
                write_bytes(store, src, f"new-{owt.value}", b"y", owt)
            assert not (tmp_path / "mp1" / lom.CT_WORK).exists() or not any((tmp_path / "mp1" / lom.CT_WORK).iterdir())
        with pytest.raises(ErrBusy):  # over an existing object too
            write_bytes(store, src, "before", b"z", Owt.PUT)
        assert store.load(src, "before").size == 1
        write_bytes(store, src, "restored", b"r", Owt.EC_RESTORE)  # what the bucket holds, rebuilt: passes
        write_bytes(store, dst, "before", b"x", Owt.COPY)  # the rename's own copy
        asyncio.run(a.update_meta(None, moving.with_move_ended(moving.must_get(src).moving, done=False)))
        write_bytes(store, src, "after", b"a", Owt.PUT)  # rolled back: open again
    finally:
        a.io.run_sync(a.server.stop())
