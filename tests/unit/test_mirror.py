"""n-way mirror on plain directories (fs/mirror.py): replicas, verification, restore, listing once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs import mirror, walk
from ais_ray.core import lom
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import write_bytes

B = Bucket("m")


def stores(tmp_path: Path, n: int) -> tuple[list[MountpathStore], mirror.Siblings]:
    paths = [str(tmp_path / f"mp{i}") for i in range(n)]
    return [MountpathStore(p, fsync=False) for p in paths], mirror.Siblings(fsync=False)


def test_pick_is_stable_and_keeps_holders() -> None:
    assert mirror.pick("/a", ["/a", "/b", "/c", "/d"], 3) == ["/b", "/c"]
    assert mirror.pick("/a", ["/a", "/b", "/c", "/d"], 3, have=["/d"]) == ["/d", "/b"]
    assert mirror.pick("/a", ["/a", "/b"], 3) == ["/b"]  # as many as there are mountpaths
    assert mirror.pick("/a", ["/a", "/b"], 1) == []


def test_set_copies_up_and_down(tmp_path: Path) -> None:
    (a, b, c), sib = stores(tmp_path, 3)
    data = os.urandom(100_000)
    attrs = write_bytes(a, B, "x/y", data, Owt.PUT)
    enabled = [a.path, b.path, c.path]
    three = mirror.set_copies(a, sib, B, "x/y", attrs, enabled, 3)
    assert three.copies == (a.path, b.path, c.path)
    for s in (a, b, c):
        f, got = s.open(B, "x/y")
        with f:
            assert f.read() == data
        assert got.copies == three.copies and got.cksum == attrs.cksum and got.version == attrs.version
    one = mirror.set_copies(a, sib, B, "x/y", three, enabled, 1)
    assert one.copies == () and a.load(B, "x/y").copies == ()
    for s in (b, c):
        with pytest.raises(Exception):
            s.load(B, "x/y")


def test_corrupt_main_is_not_replicated(tmp_path: Path) -> None:
    (a, b), sib = stores(tmp_path, 2)
    attrs = write_bytes(a, B, "o", b"hello world", Owt.PUT)
    with open(a.fqn(B, "o"), "r+b") as f:
        f.write(b"J")
    with pytest.raises(mirror.ErrCopyCorrupt):
        mirror.set_copies(a, sib, B, "o", attrs, [a.path, b.path], 2)
    assert not os.listdir(os.path.join(b.path, lom.CT_WORK))  # nothing half-written left behind
    with pytest.raises(Exception):
        b.load(B, "o")


def test_restore_main_from_a_replica(tmp_path: Path) -> None:
    (a, b, c), sib = stores(tmp_path, 3)
    data = os.urandom(50_000)
    attrs = mirror.set_copies(a, sib, B, "o", write_bytes(a, B, "o", data, Owt.PUT), [a.path, b.path, c.path], 3)
    os.unlink(a.fqn(B, "o"))
    back = mirror.restore_main(a, sib, B, "o", [a.path, b.path, c.path], 3)
    assert back is not None and back.copies == attrs.copies
    f, _ = a.open(B, "o")
    with f:
        assert f.read() == data
    # nothing left anywhere: nothing to restore
    for s in (a, b, c):
        s.delete(B, "o")
    assert mirror.restore_main(a, sib, B, "o", [a.path, b.path, c.path], 3) is None


def test_listing_shows_each_object_once(tmp_path: Path) -> None:
    (a, b), sib = stores(tmp_path, 2)
    enabled = [a.path, b.path]
    names = [f"f{i}" for i in range(40)]
    hrw = {n: (a if i % 2 else b) for i, n in enumerate(names)}  # stand-in for HRW: any fixed choice
    for n in names:
        main = hrw[n]
        mirror.set_copies(main, sib, B, n, write_bytes(main, B, n, n.encode(), Owt.PUT), enabled, 2)

    def listed(s: MountpathStore) -> list[str]:
        keep = mirror.listed_here(s.path, lambda n: hrw[n].path, enabled)
        return [e.name for e in walk.list_page(lom.objects_dir(s.path, B), limit=1000, with_attrs=False, keep=keep)]

    assert sorted(listed(a) + listed(b)) == sorted(names)
    # the main of f1 (on a) is lost: its replica on b is listed instead, still exactly once
    os.unlink(a.fqn(B, "f1"))
    assert sorted(listed(a) + listed(b)) == sorted(names)
    # b detached: a alone lists every object it holds, main or replica
    keep_a = mirror.listed_here(a.path, lambda n: a.path, [a.path])
    got = [e.name for e in walk.list_page(lom.objects_dir(a.path, B), limit=1000, with_attrs=False, keep=keep_a)]
    assert sorted(got) == sorted(n for n in names if n != "f1")
