"""Node state on every mountpath: the newest readable copy wins, a lost or torn disk loses nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ais_ray.fs.replicas import load_newest, save_everywhere


def test_any_one_mountpath_can_go(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"mp{i}") for i in range(3)]
    for p in paths:
        os.makedirs(p)
    assert save_everywhere(paths, ".ais.tport", b"4242", fsync=False) == 3
    shutil.rmtree(paths[0])
    assert load_newest(paths, ".ais.tport", int) == 4242
    assert save_everywhere(paths, ".ais.tport", b"1", fsync=False) == 2  # the lost disk is skipped


def test_newest_version_wins_and_torn_copies_are_skipped(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"mp{i}") for i in range(3)]
    for p, data in zip(paths, (b"3", b"7", b"not-a-number")):
        os.makedirs(p)
        (Path(p) / "v").write_bytes(data)
    assert load_newest(paths, "v", int, lambda v: v) == 7
    assert load_newest(paths, "missing", int) is None
