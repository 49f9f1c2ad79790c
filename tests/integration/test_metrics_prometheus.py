"""A real Prometheus scrapes every node from `ais-ray show prometheus-config`; `show performance` works.

The Prometheus server is Debian's `prometheus` package (`scripts/install-prometheus.sh`, run by
`make setup-test`), started here on 127.0.0.1 with a free port and its own data directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import MOUNTPATHS, TARGETS, LocalCluster, Src, free_port
from tests.integration.test_download import new_bucket

PROMETHEUS = shutil.which("prometheus")


@pytest.fixture()
def prometheus(cluster: LocalCluster, tmp_path: Path) -> Iterator[str]:
    if PROMETHEUS is None:
        pytest.skip("no `prometheus` binary (scripts/install-prometheus.sh)")
    sd = tmp_path / "ais-sd.json"
    sd.write_text(cluster.cli("show", "prometheus-config").stdout)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: ais\n"
        f"    file_sd_configs: [{{files: ['{sd}'], refresh_interval: 5s}}]\n")
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def query(prom: str, promql: str) -> list[dict]:
    r = requests.get(f"{prom}/api/v1/query", params={"query": promql}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def test_prometheus_scrapes_every_node(cluster: LocalCluster, prometheus: str) -> None:
    smap = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}).json()
    sd = json.loads(cluster.cli("show", "prometheus-config").stdout)
    assert {g["labels"]["ais_node"] for g in sd} == {*smap["tmap"], "primary"}
    b = new_bucket()
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{b}", json={"action": "create-bck"}).status_code == 200
    for i in range(8):
        assert requests.put(f"{cluster.endpoint}/v1/objects/{b}/o{i}", data=os.urandom(100)).status_code == 200
        assert requests.get(f"{cluster.endpoint}/v1/objects/{b}/o{i}").status_code == 200
    deadline, up, gets = time.monotonic() + 90, [], []
    while time.monotonic() < deadline:
        up = query(prometheus, 'up{job="ais"} == 1')
        gets = query(prometheus, f'sum(ais_target_get_count{{bucket="ais://{b}"}})')
        if len(up) == len(sd) and gets and float(gets[0]["value"][1]) == 8:
            break
        time.sleep(1)
    assert len(up) == len(sd), up  # every target and the proxy scraped
    assert gets and float(gets[0]["value"][1]) == 8, gets
    by_node = query(prometheus, f'ais_target_get_count{{bucket="ais://{b}"}}')
    assert {r["metric"]["node_id"] for r in by_node} <= set(smap["tmap"])
    assert query(prometheus, "ais_proxy_smap_version")


def test_show_performance_during_a_download(cluster: LocalCluster, src: Src) -> None:
    for i in range(256):
        src.put(f"p{i}", os.urandom(512 << 10))
    src.server.faults = Faults(pacing_rate=256 << 10)  # ~2 s an object, tens at a time: the job lasts > 10 s
    b = new_bucket()
    job = cluster.cli("start", "download", src.url("p{0..255}"), f"ais://{b}").stdout.split()[0]
    out, deadline = "", time.monotonic() + 120
    try:  # sample while the job runs (its start, and the CLI's, take a while on a busy machine)
        while time.monotonic() < deadline:
            out = cluster.cli("show", "performance", "throughput", "--refresh", "1s", "--count", "2").stdout
            if "DOWNLOAD(bw)" in out or "Finished" in cluster.cli("show", "job", "download", job).stdout:
                break
    finally:
        cluster.cli("wait", job, check=False, timeout=180)
    # a column is shown only when some target's value is non-zero: a DOWNLOAD(bw) column is the proof
    assert "DOWNLOAD(bw)" in out and re.search(r"\s[1-9][\d.]*(B|KiB|MiB)/s", out), out
    counters = cluster.cli("show", "performance").stdout
    assert counters.startswith("TARGET") and "DOWNLOAD(n)" in counters and "TOTAL" in counters, counters
    cap = cluster.cli("show", "performance", "capacity").stdout
    assert cap.splitlines()[0].split()[:2] == ["TARGET", "MOUNTPATH"] and len(cap.splitlines()) == 1 + TARGETS * MOUNTPATHS, cap
    assert cluster.cli("show", "performance", "latency", "--refresh", "200ms", "--count", "1").stdout.startswith("TARGET")
    assert cluster.cli("show", "performance", "nope", "t1", check=False).returncode == 1
