"""Each node's log (AIStore's `ais log`): read through the official SDK, the HTTP API
(`GET /v1/reverse/daemon?what=log`) and `ais-ray log show|get`, `ais-ray cluster download-logs`.

The session cluster: a proxy `p1` (its actor, front door and API replica) and three targets, each
with its mountpath workers, all writing their node's files under `<data dir>/log/<node>/`.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from aistore.sdk.enums import LogSeverity, NodeFilter
from aistore.sdk.errors import AISError

from tests.integration.conftest import TIDS, LocalCluster
from tests.integration.test_sdk import bck  # noqa: F401 - a fresh bucket per test


def _log(cluster: LocalCluster, node: str, **params: str) -> requests.Response:
    return requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "log", **params},
                        headers={"Ais-Node-Id": node}, timeout=60)


def _who(text: str) -> set[str]:
    """The processes that wrote records: the 4th field of "I <date> <time> <who> ..." lines."""
    return {ln.split()[3] for ln in text.splitlines() if ln[:2] in ("I ", "W ", "E ") and len(ln.split()) > 4}


def test_sdk_reads_every_node_log(sdk: object, cluster: LocalCluster) -> None:
    logs = sdk.cluster().get_cluster_logs(role=NodeFilter.ALL)  # type: ignore[attr-defined]
    assert set(logs) == TIDS | {"p1"}
    assert {"p1/proxy", "p1/front-door", "p1/api"} <= _who(logs["p1"])
    for tid in TIDS:  # the target and each of its mountpath workers, in one log
        who = _who(logs[tid])
        assert tid in who and len({w for w in who if w.startswith(f"{tid}/")}) == 2, who
        assert logs[tid] == sdk.cluster().get_node_log(tid)[:len(logs[tid])]  # type: ignore[attr-defined]
    on_disk = (Path(cluster.data_dir) / "log" / "t1" / "t1.INFO").read_text()
    assert on_disk.startswith(logs["t1"][:200])


def test_a_job_is_in_its_targets_logs_and_a_failed_one_in_the_error_log(sdk: object, cluster: LocalCluster,
                                                                        bck: object) -> None:
    sizes = {tid: len(_log(cluster, tid).content) for tid in TIDS}
    missing = f"http://127.0.0.1:9/missing-{uuid.uuid4().hex[:6]}-{{00..59}}"  # nothing listens on port 9
    job = cluster.cli("start", "download", missing, f"ais://{bck.name}/dl/").stdout.split()[0]  # type: ignore[attr-defined]
    cluster.cli("wait", job, check=False, timeout=120)
    deadline = time.monotonic() + 30
    while True:  # the end line comes right after the job's last status
        new = {tid: _log(cluster, tid, offset=str(sizes[tid])).text for tid in TIDS}  # only what came since
        errs = {tid: sdk.cluster().get_node_log(tid, severity=LogSeverity.ERROR) for tid in TIDS}  # type: ignore[attr-defined]
        ended = [tid for tid in TIDS if f"download[{job}]" in errs[tid] and " errors in " in errs[tid]]
        if len(ended) == len(TIDS) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(ended) == sorted(TIDS)  # 60 failed items by HRW over 3 targets: each has some (but ~1e-10)
    for tid in TIDS:
        lines = [ln for ln in new[tid].splitlines() if f"download[{job}]" in ln]
        assert any(ln.startswith("I ") and ln.endswith("started") for ln in lines), new[tid]
        assert any(ln.startswith("W ") and " done: 0 objects" in ln for ln in lines), new[tid]
        assert all(f"download[{job}]" not in ln for ln in errs[tid].splitlines() if ln.startswith("I "))


def test_offset_archive_and_refusals_through_the_api(cluster: LocalCluster) -> None:
    full = _log(cluster, "t1")
    assert full.status_code == 200 and full.headers["Content-Type"].startswith("text/plain")
    assert _log(cluster, "t1", offset="10").content.startswith(full.content[10:])  # from that byte on (the log grows)
    tail = _log(cluster, "t1", offset=str(len(full.content) - 40))
    assert tail.status_code == 200 and full.content.endswith(tail.content[:40])
    arch = _log(cluster, "t1", all="true")
    assert arch.status_code == 200 and arch.headers["Content-Type"] == "application/gzip"
    tar = tarfile.open(fileobj=io.BytesIO(arch.content))
    assert "t1.INFO" in tar.getnames() and all(n.startswith("t1.INFO") for n in tar.getnames())
    assert tar.extractfile("t1.INFO").read().startswith(full.content[:500])  # type: ignore[union-attr]
    bad = [
        (_log(cluster, "t1", offset=str(len(full.content) + 10**9)), 400, "rotated"),
        (_log(cluster, "t1", offset="abc"), 400, "offset"),
        (_log(cluster, "t1", severity="debug"), 400, "severity"),
        (_log(cluster, "tX"), 404, "tX"),
        (_log(cluster, "../log"), 404, "../log"),
        (requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "log"}, timeout=30), 400, "Ais-Node-Id"),
        (requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap", "severity": "e"}, timeout=30), 400,
         "severity"),  # answered by the front door
        (requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "config", "all": "true"}, timeout=30), 400, "all"),
        (_log(cluster, "t1", bogus="1"), 400, "bogus"),
    ]
    for r, status, word in bad:
        assert r.status_code == status and word in r.json()["message"], (r.status_code, r.text)
    own = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "log"}, timeout=30)  # the proxy's own
    assert own.status_code == 200 and "p1/proxy" in _who(own.text)


def test_sdk_archive_and_unknown_node(sdk: object) -> None:
    tar = tarfile.open(fileobj=io.BytesIO(sdk.cluster().get_node_log_archive("p1")))  # type: ignore[attr-defined]
    assert "p1.INFO" in tar.getnames()
    with pytest.raises(AISError) as exc:
        sdk.cluster().get_node_log("t404")  # type: ignore[attr-defined]
    assert exc.value.status_code == 404 and "t404" in str(exc.value)


def test_cli_log_show_get_and_download_logs(cluster: LocalCluster, tmp_path: Path) -> None:
    shown = cluster.cli("log", "show", "t2").stdout
    assert "t2" in _who(shown)
    assert "t2" in _who(cluster.cli("show", "log", "t2").stdout)
    followed = cluster.cli("log", "show", "p1", "--refresh", "200ms", "--count", "2").stdout
    assert "p1/proxy" in _who(followed)
    out = tmp_path / "t3.log"
    assert "saved t3's log" in cluster.cli("log", "get", "t3", str(out)).stdout
    assert "t3" in _who(out.read_text())
    assert "t3" in _who(cluster.cli("log", "get", "t3", "-").stdout)
    cluster.cli("log", "get", "t3", str(tmp_path), "--all", "--severity", "error")
    assert tarfile.open(tmp_path / "t3.ERROR.tar.gz").getnames() in ([], ["t3.ERROR"])
    res = cluster.cli("cluster", "download-logs", str(tmp_path / "all"))
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(f"{n}.INFO.tar.gz" for n in TIDS | {"p1"})
    assert res.stdout.count("saved") == len(TIDS) + 1
    for args in (("log", "show", "t404"), ("log", "show", "t1", "--severity", "debug"),
                 ("log", "get", "cluster", "-"), ("log", "show", "t1", "--refresh", "1parsec")):
        p = cluster.cli(*args, check=False)
        assert p.returncode == 1 and p.stderr.startswith("error: ") and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "Traceback" not in p.stderr


def test_cli_config_cluster(cluster: LocalCluster) -> None:
    conf = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "config"}, timeout=30).json()
    assert conf["log"]["max_size"] == "4MiB" and conf["auth"]["enabled"] is False
    assert conf["rebalance"]["enabled"] is True and conf["resilver"]["enabled"] is True  # both happen on their own
    assert json.loads(cluster.cli("config", "cluster", "--json").stdout) == conf
    rows = cluster.cli("config", "cluster", "log").stdout.splitlines()
    assert rows[0].split() == ["PROPERTY", "VALUE"]
    assert {tuple(r.split()) for r in rows[1:]} == {(f"log.{k}", json.dumps(v) if isinstance(v, bool) else str(v))
                                                   for k, v in conf["log"].items()}
    assert json.loads(cluster.cli("show", "config", "cluster", "checksum.type", "--json").stdout) == {
        "checksum.type": "xxhash2"}
    for args, word in ((("config", "cluster", "log.level=4"), "read-only"), (("config", "cluster", "bogus"), "bogus")):
        p = cluster.cli(*args, check=False)
        assert p.returncode == 1 and word in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
