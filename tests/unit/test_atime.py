"""Access times noted in memory and written in batches (fs/atime.py, issue 16.3): real files, no Ray."""

from __future__ import annotations

import os
from pathlib import Path

from ais_ray.core import lom
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket, Provider
from ais_ray.fs.atime import Atimes, write_atime

BCK = Bucket("b", Provider.AIS)


def stored(path: Path, data: bytes, atime_ns: int, cksum: str = "aa") -> None:
    path.write_bytes(data)
    os.setxattr(path, lom.XATTR, ObjAttrs(size=len(data), cksum=cksum, atime_ns=atime_ns).to_bytes())


def attrs_of(path: Path) -> ObjAttrs:
    return ObjAttrs.from_bytes(os.getxattr(path, lom.XATTR))


def test_noted_times_are_seen_at_once_and_written_on_flush(tmp_path: Path) -> None:
    f = tmp_path / "o"
    stored(f, b"abc", 100)
    at = Atimes(lambda bck, name: str(tmp_path / name))
    at.note(BCK, "o", 500)
    at.note(BCK, "o", 300)  # an older access never moves it back
    assert at.merged(BCK, "o", attrs_of(f)).atime_ns == 500
    assert attrs_of(f).atime_ns == 100  # nothing written per access
    assert at.flush() == 1 and len(at) == 0
    assert attrs_of(f).atime_ns == 500 and attrs_of(f).cksum == "aa"


def test_a_replaced_object_keeps_its_own_metadata(tmp_path: Path) -> None:
    """The old per-GET write put the read object's size and checksum on whatever was there after."""
    f = tmp_path / "o"
    stored(f, b"old", 100, cksum="old")
    at = Atimes(lambda bck, name: str(tmp_path / name))
    at.note(BCK, "o", 200)
    new = tmp_path / "o.new"
    stored(new, b"the new bytes", 900, cksum="new")
    os.replace(new, f)  # a PUT commits meanwhile (atime = its write time, later than the GET)
    at.flush()
    a = attrs_of(f)
    assert (a.cksum, a.size, a.atime_ns) == ("new", 13, 900)


def test_a_deleted_object_drops_its_pending_access(tmp_path: Path) -> None:
    assert write_atime(str(tmp_path / "gone"), 5) is False
    at = Atimes(lambda bck, name: str(tmp_path / name))
    at.note(BCK, "gone", 5)
    assert at.flush() == 0 and not (tmp_path / "gone").exists()


def test_times_noted_for_other_mountpaths_go_to_each_ones_files(tmp_path: Path) -> None:
    """`AtimesByPath` (a process reading files of mountpaths it does not own): one `Atimes` per
    mountpath, each writing to that mountpath's object files; the flusher starts on the loop."""
    import asyncio

    from ais_ray.fs.atime import AtimesByPath

    paths = [str(tmp_path / "mp1"), str(tmp_path / "mp2")]
    for mp in paths:
        fqn = Path(lom.obj_fqn(mp, BCK, "d/o"))
        fqn.parent.mkdir(parents=True)
        stored(fqn, b"x", 100)

    async def noted() -> AtimesByPath:
        by = AtimesByPath()
        assert by.of(paths[0]) is by.of(paths[0])  # one per mountpath
        by.of(paths[0]).note(BCK, "d/o", 700)
        by.of(paths[1]).note(BCK, "d/o", 800)
        return by

    by = asyncio.run(noted())
    assert [attrs_of(Path(lom.obj_fqn(mp, BCK, "d/o"))).atime_ns for mp in paths] == [100, 100]
    by.flush()
    assert [attrs_of(Path(lom.obj_fqn(mp, BCK, "d/o"))).atime_ns for mp in paths] == [700, 800]
