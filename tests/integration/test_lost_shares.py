"""A target that stops while a job runs (killed; Ray restarts it): the job either finishes its work
or says it did not — never "done" with a share's work missing. A prefetch's share is started again
on the restarted target, a blob download's or an archive's on its one target; a job that cannot be
run again (an append to a shard) ends with the reason."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import requests

from ais_ray.core.names import http_bucket
from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import LocalCluster, Src
from tests.integration.remotes import s3_bucket_of_keys
from tests.integration.test_archive import members
from tests.integration.test_blob import ht_get
from tests.integration.test_copy_restart import final_status
from tests.integration.test_prefetch import cached

MiB = 1 << 20


def _kill_target(cluster: LocalCluster, tid: str) -> None:
    """SIGKILL a target and its mountpaths (Ray restarts them)."""
    t = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()["targets"][tid]
    for pid in [t["pid"], *(m["pid"] for m in t["mountpaths"])]:
        os.kill(pid, signal.SIGKILL)


def _snaps(cluster: LocalCluster, xid: str) -> dict[str, list[dict[str, Any]]]:
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid}, timeout=30)
    return r.json() if r.status_code == 200 else {}


def _done(cluster: LocalCluster, xid: str) -> int:
    return sum(int(s["stats"]["loc-objs"]) for ss in _snaps(cluster, xid).values() for s in ss)


def test_a_prefetch_finishes_across_a_target_restart(cluster: LocalCluster, moto: object) -> None:
    bucket, keys = s3_bucket_of_keys(moto, "pf-restart", 1000)  # type: ignore[arg-type]
    uri = f"s3://{bucket}"
    p = cluster.cli("prefetch", uri, "--template", "k{0000..0999}", "--num-workers", "1")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    deadline = time.monotonic() + 60
    while (done := _done(cluster, xid)) < 20:
        assert time.monotonic() < deadline, "the prefetch did not start"
        time.sleep(0.05)
    _kill_target(cluster, "t1")
    assert done < len(keys) // 2, "the prefetch ran too fast to be interrupted"
    st = final_status(cluster, xid)
    assert not st["err"] and not st["aborted"], st
    assert sorted(cached(cluster, uri)) == sorted(keys)  # t1's share too: it was lost, started again
    assert cluster.cli("wait", xid, "--timeout", "30s").returncode == 0


def _owner_once_running(cluster: LocalCluster, xid: str) -> str:
    deadline = time.monotonic() + 30
    while not (owner := next(iter(_snaps(cluster, xid)), "")):
        assert time.monotonic() < deadline, f"job {xid} did not start"
        time.sleep(0.05)
    return owner


def test_a_blob_download_finishes_across_its_target_restart(cluster: LocalCluster, src: Src) -> None:
    data = src.put("lost.bin", os.urandom(8 * MiB))
    bck, _, _ = http_bucket(src.url("lost.bin"))
    assert ht_get(cluster, src.url("lost.bin"), Range="bytes=0-0").status_code == 206  # the HTTP bucket
    cluster.cli("evict", f"ht://{bck.name}", "--keep-md")
    src.server.faults = Faults(pacing_rate=256 << 10)  # 2 workers: ~16 s
    try:
        xid = cluster.cli("blob-download", f"ht://{bck.name}/lost.bin", "--num-workers", "2"
                          ).stdout.split("[")[1].split("]")[0]
        _kill_target(cluster, _owner_once_running(cluster, xid))
        src.server.faults = Faults()
        st = final_status(cluster, xid)
        assert not st["err"] and not st["aborted"], st
    finally:
        src.server.faults = Faults()
    assert cluster.cli("wait", xid, "--timeout", "30s").returncode == 0
    assert ht_get(cluster, src.url("lost.bin")).content == data


def _archive(cluster: LocalCluster, ht: str, names: list[str], dst: str, shard: str, append: bool) -> str:
    value = {"objnames": names, "archname": shard, "tobck": {"name": dst, "provider": "ais"}}
    if append:
        value["aate"] = True
    r = requests.put(f"{cluster.endpoint}/v1/buckets/{ht}", params={"provider": "ht"},
                     json={"action": "archive", "value": value}, timeout=30)
    assert r.status_code == 200, r.text
    return r.text


def test_an_archive_is_written_again_after_its_target_restart_but_not_an_append(
        cluster: LocalCluster, src: Src, sdk: object) -> None:
    """A new shard is written whole at the end: after a restart it is written again from the start.
    An append is not run twice (it might append twice): its job ends saying why."""
    data = {f"{p}{i:02d}": src.put(f"{p}{i:02d}", os.urandom(MiB)) for p in "ab" for i in range(16)}
    bck, _, _ = http_bucket(src.url("a00"))
    assert ht_get(cluster, src.url("a00"), Range="bytes=0-0").status_code == 206  # the HTTP bucket
    cluster.cli("evict", f"ht://{bck.name}", "--keep-md")
    dst = sdk.bucket(f"lost-{os.urandom(4).hex()}")  # type: ignore[attr-defined]
    dst.create()
    names = {p: [f"{p}{i:02d}" for i in range(16)] for p in "ab"}  # under the source's directory: the HTTP bucket
    src.server.faults = Faults(pacing_rate=512 << 10)  # 8 members read ahead: ~4 s for the 16 MiB
    try:
        xid = _archive(cluster, bck.name, names["a"], dst.name, "s.tar", append=False)
        _kill_target(cluster, _owner_once_running(cluster, xid))
        st = final_status(cluster, xid)
        assert not st["err"] and not st["aborted"], st
        got = members(dst.object("s.tar").get_reader().read_all(), ".tar")
        assert got == {n: data[n] for n in names["a"]}

        xid = _archive(cluster, bck.name, names["b"], dst.name, "s.tar", append=True)
        _kill_target(cluster, _owner_once_running(cluster, xid))
        st = final_status(cluster, xid)
        assert st["aborted"] and "stopped while this job ran" in st["err"], st
        p = cluster.cli("wait", xid, "--timeout", "30s", check=False)
        assert p.returncode != 0 and "stopped while this job ran" in p.stderr, (p.stdout, p.stderr)
        assert "Traceback" not in p.stderr
        assert members(dst.object("s.tar").get_reader().read_all(), ".tar") == got  # the shard as it was
    finally:
        src.server.faults = Faults()
        dst.delete(missing_ok=True)


def test_a_share_that_failed_still_says_so_after_its_target_restart(cluster: LocalCluster, moto: object) -> None:
    """A prefetch of a list naming a missing object: the share that owns the name fails, the
    others succeed. Its target then restarts: the job still reads failed, with that share's error
    (before, the restarted target had forgotten the share, and the job read as successful)."""
    bucket, keys = s3_bucket_of_keys(moto, "pf-failed", 12)  # type: ignore[arg-type]
    p = cluster.cli("prefetch", f"s3://{bucket}", "--list", ",".join([*keys, "no-such-key"]))
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    st = final_status(cluster, xid)
    assert "no-such-key" in str(st["err"]), st
    [owner] = [tid for tid, ss in _snaps(cluster, xid).items() if any(s["err"] for s in ss)]
    pids = {t: v["pid"] for t, v in requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"},
                                                 timeout=30).json()["targets"].items()}
    _kill_target(cluster, owner)
    deadline, snaps = time.monotonic() + 90, {}
    while not snaps.get(owner):  # the restarted target answers, with its share
        assert time.monotonic() < deadline, f"{owner} came back without its share of {xid}: {snaps}"
        time.sleep(0.5)
        try:
            stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=10).json()
            if stats["targets"][owner]["pid"] != pids[owner]:
                snaps = _snaps(cluster, xid)
        except (requests.RequestException, KeyError, ValueError):
            continue
    [share] = snaps[owner]
    assert "no-such-key" in share["err"] and share["end-time"] != "0001-01-01T00:00:00Z", share
    st = final_status(cluster, xid)
    assert "no-such-key" in str(st["err"]), st
    w = cluster.cli("wait", xid, "--timeout", "30s", check=False)
    assert w.returncode != 0 and "no-such-key" in w.stderr and "Traceback" not in w.stderr, (w.stdout, w.stderr)
