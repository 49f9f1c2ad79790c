"""ETL offline jobs under churn (issue 13): an ETL removed and re-created under the same name at
once, with batches of multi-MiB objects of a CPU-bound transform queued on every mountpath (the
`bench_etl.py --quick` stall: a batch in flight when the stale pool was closed was never
answered)."""

from __future__ import annotations

import glob
import os
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.integration.conftest import LocalCluster

CPU = ("import hashlib\n\ndef transform(data, path, args):\n    d = data\n    for _ in range(4):\n"
       "        d = hashlib.sha256(data + d[:32]).digest()\n    return data + d\n")
SIZE = 3 << 20


def _etl_bucket(cluster: LocalCluster, name: str, src: str, dst: str) -> str:
    p = cluster.cli("etl", "bucket", name, f"ais://{src}", f"ais://{dst}")
    return re.search(r"etl-bucket\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]


def test_reinit_under_load_never_stalls(cluster: LocalCluster, sdk: Any, tmp_path: Path) -> None:
    name = f"cpu-{uuid.uuid4().hex[:6]}"
    (tmp_path / "cpu.py").write_text(CPU)
    src = sdk.bucket(f"etls-{uuid.uuid4().hex[:6]}")
    src.create()
    data = {f"o{i:02d}": os.urandom(SIZE) for i in range(18)}  # 3 per mountpath: batches of ~9 MiB
    for n, d in data.items():
        src.object(n).get_writer().put_content(d)
    dsts = []
    try:
        for _ in range(2):  # the second round finds the first round's (dead) workers cached
            cluster.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "cpu.py"),
                        "--num-workers", "1", "--object-timeout", "5m")
            dst = sdk.bucket(f"etlt-{uuid.uuid4().hex[:6]}")
            dsts.append(dst)
            xid = _etl_bucket(cluster, name, src.name, dst.name)
            p = cluster.cli("wait", xid, "--timeout", "80s", check=False, timeout=90)  # was: Running forever
            assert p.returncode == 0, p.stdout + p.stderr
            got = {e.name: len(dst.object(e.name).get_reader().read_all()) for e in dst.list_all_objects()}
            assert got == {n: SIZE + 32 for n in data}
            cluster.cli("etl", "rm", name)
    finally:
        cluster.cli("etl", "rm", name, check=False)
        for b in (src, *dsts):
            b.delete(missing_ok=True)


SLOW = "import time\n\ndef transform(data, path, args):\n    time.sleep(0.3)\n    return data.upper()\n"


def test_stop_aborts_its_jobs(cluster: LocalCluster, sdk: Any, tmp_path: Path) -> None:
    name = f"slow-{uuid.uuid4().hex[:6]}"
    (tmp_path / "slow.py").write_text(SLOW)
    src, dst = sdk.bucket(f"etla-{uuid.uuid4().hex[:6]}"), sdk.bucket(f"etlb-{uuid.uuid4().hex[:6]}")
    src.create()
    for i in range(60):  # 60 × 0.3 s on one worker per target: ~6 s a target, stopped long before
        src.object(f"o{i:02d}").get_writer().put_content(f"obj {i}".encode())
    try:
        cluster.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "slow.py"),
                    "--num-workers", "1")
        xid = _etl_bucket(cluster, name, src.name, dst.name)
        time.sleep(0.5)  # the workers are mid-transform: each holds a busy marker
        cluster.cli("etl", "stop", name)
        # stopped on purpose: no marker is left to blame a crash on (it was 3 stray files per run)
        assert glob.glob(os.path.join(tempfile.gettempdir(), f"ais-etl-{name}-*.busy")) == []
        cluster.cli("wait", xid, "--timeout", "30s", check=False, timeout=40)
        st = sdk.job(xid).status()
        assert st.aborted and st.end_time, st  # ended by the stop, not left running or failed
        for e in dst.list_all_objects():  # whatever got there is whole
            assert dst.object(e.name).get_reader().read_all() == f"OBJ {int(e.name[1:])}".encode()
        assert len(dst.list_all_objects()) < 60
        assert "Aborted" in cluster.cli("etl", "show").stdout
        p = cluster.cli("etl", "object", name, f"ais://{src.name}/o01", "-", check=False)
        assert p.returncode != 0  # its workers are gone
    finally:
        cluster.cli("etl", "rm", name, check=False)
        for b in (src, dst):
            b.delete(missing_ok=True)


FLAKY = ("import os\n\ndef transform(data, path, args):\n    if path.endswith('boom'):\n"
         "        raise ValueError('no boom today')\n    if path.endswith('kill'):\n        os._exit(3)\n"
         "    return data\n")


def test_inline_errors_outlive_the_worker(cluster: LocalCluster, sdk: Any, tmp_path: Path) -> None:
    name = f"flaky-{uuid.uuid4().hex[:6]}"
    (tmp_path / "flaky.py").write_text(FLAKY)
    b = sdk.bucket(f"etlf-{uuid.uuid4().hex[:6]}")
    b.create()
    try:
        for n in ("boom", "kill", "fine"):
            b.object(n).get_writer().put_content(b"x")
        cluster.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "flaky.py"),
                    "--num-workers", "1")
        for n in ("boom", "kill"):  # the second takes its worker down (restarted)
            assert cluster.cli("etl", "object", name, f"ais://{b.name}/{n}", "-", check=False).returncode != 0
        assert cluster.cli_bytes("etl", "object", name, f"ais://{b.name}/fine", "-") == b"x"  # back
        p = cluster.cli("etl", "view-errors", name)
        assert re.search(r"boom\s+422\s+.*no boom today", p.stdout), p.stdout  # kept by the proxy
        assert re.search(r"kill\s+422\s+.*killed its process", p.stdout), p.stdout
    finally:
        cluster.cli("etl", "rm", name, check=False)
        b.delete(missing_ok=True)


BIG = ("def transform(data, path, args):\n    for i in range(64):  # 64 MiB out of a few bytes in\n"
       "        yield bytes([i]) * (1 << 20)\n")


def _worker_peak_rss(cluster: LocalCluster, name: str) -> float:
    r = requests.get(f"{cluster.endpoint}/v1/etl/{name}/metrics", timeout=30)
    r.raise_for_status()
    return max(m["mem"] for m in r.json())


def test_streaming_output_keeps_memory_bounded(cluster: LocalCluster, sdk: Any, tmp_path: Path) -> None:
    """A generator's 64 MiB (twice the batch cap) go to the destination chunk by chunk: the
    worker's peak RSS does not grow by the object's size (it would, joined into one bytes)."""
    name = f"big-{uuid.uuid4().hex[:6]}"
    (tmp_path / "big.py").write_text(BIG)
    src, dst = sdk.bucket(f"etlg-{uuid.uuid4().hex[:6]}"), sdk.bucket(f"etlh-{uuid.uuid4().hex[:6]}")
    src.create()
    want = b"".join(bytes([i]) * (1 << 20) for i in range(64))
    try:
        src.object("seed").get_writer().put_content(b"x")
        cluster.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "big.py"),
                    "--num-workers", "1")
        before = _worker_peak_rss(cluster, name)
        xid = _etl_bucket(cluster, name, src.name, dst.name)
        assert cluster.cli("wait", xid, "--timeout", "100s", check=False, timeout=110).returncode == 0
        assert dst.object("seed").get_reader().read_all() == want
        assert cluster.cli_bytes("etl", "object", name, f"ais://{src.name}/seed", "-") == want  # inline too
        grew = _worker_peak_rss(cluster, name) - before
        assert grew < 24 * (1 << 20), f"the worker's peak RSS grew by {grew / (1 << 20):.0f} MiB"
    finally:
        cluster.cli("etl", "rm", name, check=False)
        for b in (src, dst):
            b.delete(missing_ok=True)
