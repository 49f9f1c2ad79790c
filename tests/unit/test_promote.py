"""Promote's request, checks, naming and walk (`core/promote.py`): pure, real files, no Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ais_ray.core.errors import ErrBadRequest, ErrNotFound
from ais_ray.core.promote import PromoteArgs, check_source, files, names_digest, obj_name


def test_parse_the_sdks_body() -> None:
    value = {"tid": "", "src": "/r/d", "obj": "p/", "rcr": True, "ovw": False, "dls": True, "notshr": False}
    a = PromoteArgs.parse("/r/d", value)
    assert (a.src, a.obj, a.recursive, a.overwrite, a.delete_src, a.not_share) == ("/r/d", "p/", True, False, True, False)
    assert PromoteArgs.parse("/r/f", None).src == "/r/f"  # the name alone
    assert PromoteArgs.parse("", {"src": "/r/f"}).src == "/r/f"
    assert PromoteArgs.parse("/r/f", {"obj": "/lead"}).obj == "lead"


@pytest.mark.parametrize("name, value, msg", [
    ("/r/a", {"src": "/r/b"}, "differ"),
    ("", {}, "missing the source"),
    ("/r/a", {"rcr": "yes"}, "rcr must be true or false"),
    ("/r/a", ["src"], "invalid value"),
    ("/r/a", {"obj": 3}, "must be strings"),
])
def test_parse_refuses(name: str, value: object, msg: str) -> None:
    with pytest.raises(ErrBadRequest, match=msg):
        PromoteArgs.parse(name, value)


def test_check_source(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"x")
    outside = tmp_path / "secret"
    outside.write_bytes(b"s")
    (root / "out").symlink_to(outside)
    (root / "in").symlink_to(root / "d")
    assert check_source(str(root / "d" / "f"), str(root)) == os.path.realpath(root / "d" / "f")
    assert check_source(str(root / "in"), str(root)) == os.path.realpath(root / "d")  # a link inside the root
    for src, err, msg in [("d/f", ErrBadRequest, "not an absolute path"),
                          (f"{root}/d/../d/f", ErrBadRequest, '"." or ".."'),
                          (f"{root}/./d", ErrBadRequest, '"." or ".."'),
                          (str(outside), ErrBadRequest, "not under the promote root"),
                          (f"{root}x/d", ErrBadRequest, "not under the promote root"),
                          (str(root / "out"), ErrBadRequest, "symbolic link"),
                          (str(root / "nope"), ErrNotFound, "does not exist")]:
        with pytest.raises(err, match=msg):
            check_source(src, str(root))
    with pytest.raises(ErrBadRequest, match="promote root .* does not exist"):
        check_source(str(tmp_path / "none" / "f"), str(tmp_path / "none"))


def test_obj_name_as_aistore() -> None:
    assert obj_name("/r/a.jpg", "", "") == "a.jpg"  # a file: its base name
    assert obj_name("/r/a.jpg", "", "b.jpg") == "b.jpg"  # ... or the name given
    assert obj_name("/r/a.jpg", "", "dir/") == "dir/a.jpg"  # ... or under a prefix ending in "/"
    assert obj_name("/r/d/s/a.jpg", "/r/d", "") == "s/a.jpg"  # a directory's file: its path below it
    assert obj_name("/r/d/a.jpg", "/r/d", "p/") == "p/a.jpg"
    assert obj_name("/r/d/a.jpg", "/r/d", "p-") == "p-a.jpg"  # the prefix as given


def test_files_regular_only_and_recursive_on_request(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "sub" / "deeper").mkdir(parents=True)
    for p in ("b", "a", "sub/c", "sub/deeper/e"):
        (d / p).write_bytes(b"1")
    (d / "link").symlink_to(d / "a")  # not followed, not promoted
    (d / "dirlink").symlink_to(d / "sub")
    os.mkfifo(d / "fifo")  # not a regular file
    assert [os.path.relpath(p, d) for p in files(str(d), False)] == ["a", "b"]
    assert [os.path.relpath(p, d) for p in files(str(d), True)] == ["a", "b", "sub/c", "sub/deeper/e"]
    assert list(files(str(d / "a"), False)) == [str(d / "a")]
    assert list(files(str(d / "fifo"), True)) == []


def test_digest_tells_a_file_share() -> None:
    assert names_digest(iter(["/r/a", "/r/b"])) == names_digest(iter(["/r/a", "/r/b"]))
    assert names_digest(iter(["/r/a", "/r/b"])) != names_digest(iter(["/r/a", "/r/c"]))
    assert names_digest(iter(["/r/ab"]))[1] != names_digest(iter(["/r/a", "b"]))[1]
    assert names_digest(iter([]))[0] == 0
