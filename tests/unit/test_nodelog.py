"""A node's log files (core/nodelog.py): several processes of one node writing and rotating them,
what `what=log` reads and archives, and the refusals — real files, real processes, no Ray."""

from __future__ import annotations

import io
import logging
import multiprocessing as mp
import os
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from ais_ray.cli.cluster_cmds import flatten
from ais_ray.core import nodelog
from ais_ray.core.errors import ErrBadRequest, ErrNotFound
from ais_ray.core.params import check, check_not_log
from ais_ray.core.smap import Smap, Snode
from ais_ray.serve.config import cluster_config

RECORDS = 1500


def _writer(log_dir: str, who: str, n: int, max_size: int) -> None:
    nodelog.setup("t1", log_dir, who, max_size=max_size)
    lg = logging.getLogger("ais_ray.test")
    for i in range(n):
        lg.info("%s record %05d %s", who, i, "x" * 60)
    lg.warning("%s a warning", who)
    lg.error("%s an error\nsecond line", who)


def _run_writers(log_dir: str, whos: list[str], n: int, max_size: int) -> None:
    ctx = mp.get_context("spawn")  # each a fresh process with its own root logger, as Ray's workers are
    procs = [ctx.Process(target=_writer, args=(log_dir, w, n, max_size)) for w in whos]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def _all_lines(d: Path, sev: str) -> list[str]:
    out: list[str] = []
    for f in sorted(d.iterdir()):
        if f.name.startswith(f"t1.{sev}"):
            out += f.read_text().splitlines()
    return out


def test_processes_of_a_node_share_its_files_through_rotations(tmp_path: Path) -> None:
    whos = ["t1", "t1/mp1", "t1/mp2"]
    _run_writers(str(tmp_path), whos, RECORDS, max_size=64 << 10)
    d = tmp_path / "t1"
    infos = sorted(f.name for f in d.iterdir() if f.name.startswith("t1.INFO"))
    assert len(infos) >= 5, infos  # ~300 KB through 64 KiB files: rotated, older ones kept as .1, .2, ...
    lines = _all_lines(d, "INFO")
    # "I <date> <time> <who> <logger:line> <who> record <n> xxx"
    records = Counter((ln.split()[3], ln.split()[7]) for ln in lines if " record " in ln)
    # every record of every process exactly once, whole: nothing lost or torn by the shared rotation
    assert len(records) == len(whos) * RECORDS and set(records.values()) == {1}
    for w in whos:
        mine = [int(ln.split()[7]) for ln in lines if " record " in ln and ln.split()[3] == w]
        assert sorted(mine) == list(range(RECORDS))
        assert any("started (pid" in ln and ln.split()[3] == w for ln in lines)
    errors = _all_lines(d, "ERROR")  # warnings and errors only, each continuation line with its record
    assert sorted(ln.split(" ", 5)[5] for ln in errors if ln[:2] in ("W ", "E ")) == sorted(
        f"{w} {what}" for w in whos for what in ("a warning", "an error"))
    assert errors.count("second line") == len(whos)
    assert all(ln[:2] in ("W ", "E ") or ln == "second line" for ln in errors)


def test_a_percent_sign_in_a_writer_name_is_kept(tmp_path: Path) -> None:
    _run_writers(str(tmp_path), ["t1/mp%d"], 2, max_size=nodelog.MAX_SIZE)  # a mountpath directory named so
    lines = (tmp_path / "t1" / "t1.INFO").read_text().splitlines()
    assert [ln.split()[3] for ln in lines if ln[:2] in ("I ", "W ", "E ")] == ["t1/mp%d"] * 5  # started, 2, W, E


def test_read_by_severity_and_offset(tmp_path: Path) -> None:
    _run_writers(str(tmp_path), ["t1"], 10, max_size=nodelog.MAX_SIZE)
    info = (tmp_path / "t1" / "t1.INFO").read_bytes()
    err = (tmp_path / "t1" / "t1.ERROR").read_bytes()
    assert info.count(b" record ") == 10 and b"a warning" in info
    assert b" record " not in err and b"a warning" in err and b"an error" in err
    for sev in ("", "i", "info", "INFO"):
        assert nodelog.read(str(tmp_path), "t1", sev) == info
    for sev in ("w", "warning", "e", "error", "Error"):
        assert nodelog.read(str(tmp_path), "t1", sev) == err
    assert nodelog.read(str(tmp_path), "t1", "", 100) == info[100:]  # `--refresh`: what came after
    assert nodelog.read(str(tmp_path), "t1", "", len(info)) == b""
    with pytest.raises(ErrBadRequest, match="rotated"):
        nodelog.read(str(tmp_path), "t1", "", len(info) + 1)
    with pytest.raises(ErrBadRequest, match="offset"):
        nodelog.read(str(tmp_path), "t1", "", -1)
    with pytest.raises(ErrBadRequest, match='severity "debug"'):
        nodelog.read(str(tmp_path), "t1", "debug")
    assert nodelog.read(str(tmp_path), "t2", "") == b""  # a node that logged nothing yet: empty, not an error


def test_archive_holds_the_node_files_of_its_severity(tmp_path: Path) -> None:
    _run_writers(str(tmp_path), ["t1"], 400, max_size=8 << 10)
    (tmp_path / "t2").mkdir()
    (tmp_path / "t2" / "t2.INFO").write_text("another node\n")
    d = tmp_path / "t1"
    tar = tarfile.open(fileobj=io.BytesIO(nodelog.archive(str(tmp_path), "t1", "info")))
    names = sorted(tar.getnames())
    want = sorted(f.name for f in d.iterdir() if f.name.startswith("t1.INFO") and not f.name.endswith(".lock"))
    assert names == want and len(names) >= 3  # rotated ones too; no ERROR file, no lock file, no other node
    assert tar.extractfile("t1.INFO").read() == (d / "t1.INFO").read_bytes()  # type: ignore[union-attr]
    tar = tarfile.open(fileobj=io.BytesIO(nodelog.answer(str(tmp_path), "t1", "e", all_logs=True)))
    assert tar.getnames() == ["t1.ERROR"]
    empty = tarfile.open(fileobj=io.BytesIO(nodelog.archive(str(tmp_path), "t3", "")))
    assert empty.getnames() == []  # nothing logged yet: an empty archive


@pytest.mark.parametrize("node", ["", ".", "..", "../t1", "a/b", "t1\0"])
def test_node_names_never_leave_the_log_dir(tmp_path: Path, node: str) -> None:
    with pytest.raises(ErrBadRequest, match="invalid node ID"):
        nodelog.read(str(tmp_path), node)


def test_no_log_dir_is_not_found_and_setup_without_one_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ErrNotFound, match="no log files"):
        nodelog.read("", "t1")
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_writer, args=("", "t1", 3, nodelog.MAX_SIZE))
    p.start()
    p.join(60)
    assert p.exitcode == 0 and not os.listdir(tmp_path)


def test_an_unwritable_log_dir_never_stops_the_node(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _run_writers(str(blocker), ["t1"], 3, max_size=nodelog.MAX_SIZE)  # exit code 0: logged to stderr only


def test_log_parameters_belong_to_what_log() -> None:
    for path in ("/v1/daemon", "/v1/reverse/daemon"):
        check("GET", path, [("what", "log"), ("severity", "error"), ("offset", "10"), ("all", "true")])
    check_not_log("log", {"severity": "e"})
    check_not_log("smap", {"severity": ""})  # empty: absent
    for key in ("severity", "offset", "all"):
        with pytest.raises(ErrBadRequest, match=f'"{key}" applies to what=log only'):
            check_not_log("smap", {key: "1"})


def test_cluster_config_log_section_and_flatten() -> None:
    conf = cluster_config(Smap(uuid="u", version=1, primary=Snode("p1", "proxy", "http://127.0.0.1:1"))).model_dump()
    assert conf["log"] == {"level": "3", "max_size": "4MiB", "max_total": "128MiB", "flush_time": "0s",
                           "to_stderr": True}  # 2 files x (1 + 15 older) x 4 MiB
    rows = dict(flatten(conf))
    assert rows["log.max_size"] == "4MiB" and rows["net.l4.proto"] == "tcp" and rows["log.to_stderr"] == "true"
    assert rows["rebalance.enabled"] == "true" and rows["auth.enabled"] == "false"
