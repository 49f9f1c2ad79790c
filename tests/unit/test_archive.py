"""Archive members (fs/archive.py) and the listing walk's flags (fs/walk.py) on files in a temp dir."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from ais_ray.core import lsflags as F
from ais_ray.core.errors import ErrBadRequest, ErrNotFound, ErrUnsupported
from ais_ray.fs import archive
from ais_ray.fs.walk import list_page

MEMBERS = {"alpha": b"A" * 700, "dir/beta.txt": b"beta", "dir/beta.cls": b"7", "gamma.jpg": b"G" * 3000}


def make_tar(path: Path, mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in MEMBERS.items():
            zf.writestr(name, data)
    return path


def read_one(path: Path, name: str, member: str) -> bytes:
    with open(path, "rb") as f:
        fmt = archive.resolve_format(name, f)
        with archive.Shard(f, fmt) as shard:
            size, chunks = archive.read_member(shard, member)
            data = b"".join(chunks)
            assert size == len(data)
            return data


@pytest.mark.parametrize("name,mode", [("s.tar", "w"), ("s.tgz", "w:gz"), ("s.tar.gz", "w:gz"), ("noext", "w")])
def test_member_by_path(tmp_path: Path, name: str, mode: str) -> None:
    p = make_tar(tmp_path / name, mode)
    for member, data in MEMBERS.items():
        assert read_one(p, name, member) == data
    with pytest.raises(ErrNotFound):
        read_one(p, name, "missing")


def test_zip_member(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "s.zip")
    assert read_one(p, "s.zip", "dir/beta.txt") == b"beta"


def test_unsupported_and_not_archive(tmp_path: Path) -> None:
    p = tmp_path / "s.tar.lz4"
    p.write_bytes(b"\x04\x22\x4d\x18rest")
    with open(p, "rb") as f, pytest.raises(ErrUnsupported, match="tar.lz4"):
        archive.resolve_format("s.tar.lz4", f)
    q = tmp_path / "plain"
    q.write_bytes(b"hello")
    with open(q, "rb") as f, pytest.raises(ErrBadRequest, match="not an archive"):
        archive.resolve_format("plain", f)


@pytest.mark.parametrize("regex,mode,want", [
    ("beta", "prefix", []), ("dir/", "prefix", ["dir/beta.txt", "dir/beta.cls"]),
    (".txt", "suffix", ["dir/beta.txt"]), ("amm", "substr", ["gamma.jpg"]),
    ("dir/beta", "wdskey", ["dir/beta.txt", "dir/beta.cls"]), (r"^[ag]", "regexp", ["alpha", "gamma.jpg"]),
    (r"^[ag]", "", ["alpha", "gamma.jpg"]),
])
def test_matching_modes(tmp_path: Path, regex: str, mode: str, want: list[str]) -> None:
    p = make_tar(tmp_path / "s.tar")
    with archive.Shard(str(p), archive.TAR) as shard:
        got = archive.matching(shard, regex, mode)
        assert [m.name for m in got] == want
        out = b"".join(archive.read_matching(shard, got))
    with tarfile.open(fileobj=io.BytesIO(out)) as tf:  # the reply is a valid TAR of exactly those members
        assert {t.name: tf.extractfile(t).read() for t in tf.getmembers()} == {n: MEMBERS[n] for n in want}  # type: ignore[union-attr]


def test_query_rules() -> None:
    archive.check_query("a", "", "")
    archive.check_query("", "x", "suffix")
    with pytest.raises(ErrBadRequest, match="together"):
        archive.check_query("a", "x", "prefix")
    with pytest.raises(ErrBadRequest, match="requires archregx"):
        archive.check_query("", "", "prefix")
    with pytest.raises(ErrBadRequest, match="archmode"):
        archive.check_query("", "x", "glob")
    with pytest.raises(ErrBadRequest, match="archregx"):
        archive.check_query("", "([", "regexp")


def test_wds_key() -> None:
    assert archive.wds_key("a/b.cls.txt") == "a/b"
    assert archive.wds_key("a.b/c") == "a.b/c"


@pytest.fixture
def objs(tmp_path: Path) -> str:
    for rel in ("one.txt", "subdir/two.txt", "subdir/deep/three.txt", "zz/four"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    make_tar(tmp_path / "shard.tar")
    (tmp_path / "shard.tar.x").write_bytes(b"y")  # sorts between "shard.tar" and "shard.tar/..."
    return str(tmp_path)


def names(objs: str, **kw: object) -> list[str]:
    return [e.name for e in list_page(objs, limit=100, with_attrs=False, **kw)]  # type: ignore[arg-type]


def test_walk_no_recursion(objs: str) -> None:
    assert names(objs) == ["one.txt", "shard.tar", "shard.tar.x", "subdir/deep/three.txt", "subdir/two.txt", "zz/four"]
    assert names(objs, flags=F.NO_RECURSION) == ["one.txt", "shard.tar", "shard.tar.x", "subdir/", "zz/"]
    assert names(objs, flags=F.NO_RECURSION | F.NO_DIRS) == ["one.txt", "shard.tar", "shard.tar.x"]
    assert names(objs, prefix="subdir/", flags=F.NO_RECURSION) == ["subdir/deep/", "subdir/two.txt"]
    assert names(objs, prefix="subdir/", flags=F.NO_RECURSION | F.NO_DIRS) == ["subdir/two.txt"]
    assert names(objs, prefix="sub", flags=F.NO_RECURSION) == ["subdir/"]
    assert names(objs, start_after="subdir/", flags=F.NO_RECURSION) == ["zz/"]
    dirs = [e for e in list_page(objs, limit=100, with_attrs=False, flags=F.NO_RECURSION) if e.flags & F.ENTRY_IS_DIR]
    assert [d.name for d in dirs] == ["subdir/", "zz/"]


def test_walk_arch_dir(objs: str) -> None:
    got = list_page(objs, prefix="shard", limit=100, with_attrs=False, flags=F.ARCH_DIR)
    assert [e.name for e in got] == ["shard.tar", "shard.tar.x"] + sorted(f"shard.tar/{m}" for m in MEMBERS)
    assert got[0].flags == F.ENTRY_IS_ARCHIVE
    assert all(e.flags == F.ENTRY_IN_ARCH for e in got[2:])
    assert [e.size for e in got[2:]] == [len(MEMBERS[e.name.removeprefix("shard.tar/")]) for e in got[2:]]
    # resumes inside the shard's members
    assert names(objs, prefix="shard", start_after="shard.tar/dir/beta.cls", flags=F.ARCH_DIR) == \
        ["shard.tar/dir/beta.txt", "shard.tar/gamma.jpg"]
    assert names(objs, prefix="shard.tar/d", flags=F.ARCH_DIR) == ["shard.tar/dir/beta.cls", "shard.tar/dir/beta.txt"]
    assert os.path.exists(os.path.join(objs, "shard.tar"))
