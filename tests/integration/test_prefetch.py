"""Prefetch jobs (`prefetch-listrange`): CLI, REST, the SDK's object groups and job wait."""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import requests

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES, s3_bucket_of_keys
from tests.integration.test_blob import mountpath_counts
from tests.integration.test_stats import node_status, smap, tracked


def cached(cluster: LocalCluster, uri: str) -> list[str]:
    return [e["n"] for e in json.loads(cluster.cli("ls", uri, "--cached", "--json").stdout)]


def test_prefetch_template_list_prefix_and_latest(cluster: LocalCluster, moto: object) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {f"p-{i}": os.urandom(2000 + i) for i in range(6)} | {"q/x": b"x", "q/y": b"y", "z": b"z"}
    for n, d in data.items():
        remote.seed(n, d)
    uri = f"s3://{remote.bucket}"
    p = cluster.cli("prefetch", uri, "--template", "p-{0..4}", "--wait")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    assert cached(cluster, uri) == [f"p-{i}" for i in range(5)]
    table = cluster.cli("show", "job", xid).stdout
    assert "prefetch-listrange" in table and "Finished" in table
    objs = sum(int(r.split()[4]) for r in table.splitlines()[1:])
    assert objs == 5
    cluster.cli("prefetch", uri, "--list", "z, p-5", "--wait")
    cluster.cli("prefetch", f"{uri}/q/", "--wait")  # a prefix
    assert cached(cluster, uri) == sorted(data)
    assert cluster.cli_bytes("get", f"{uri}/p-3", "-") == data["p-3"]
    # nothing changed: a second prefetch fetches nothing; one change: --latest fetches just that one
    remote.seed("p-2", b"new version")
    p = cluster.cli("prefetch", uri, "--wait")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    assert sum(int(r.split()[4]) for r in cluster.cli("show", "job", xid).stdout.splitlines()[1:]) == 0
    assert cluster.cli_bytes("get", f"{uri}/p-2", "-") == data["p-2"]  # still the cached copy
    p = cluster.cli("prefetch", uri, "--latest", "--wait")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    assert sum(int(r.split()[4]) for r in cluster.cli("show", "job", xid).stdout.splitlines()[1:]) == 1
    assert cluster.cli_bytes("get", f"{uri}/p-2", "-") == b"new version"


def test_sdk_prefetch_and_wait(cluster: LocalCluster, gcs: object, sdk: object) -> None:
    remote = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    for i in range(4):
        remote.seed(f"o{i}", f"object {i}".encode())
    b = sdk.bucket(remote.bucket, provider="gcp")  # type: ignore[attr-defined]
    xid = b.objects(obj_names=["o0", "o2"]).prefetch()
    result = sdk.job(job_id=xid).wait(timeout=30, verbose=False)  # type: ignore[attr-defined]
    assert result.success
    assert [e.name for e in b.list_all_objects() if e.is_cached()] == ["o0", "o2"]
    xid = b.objects(obj_range=__import__("aistore.sdk.multiobj", fromlist=["ObjectRange"]).ObjectRange(
        prefix="o", min_index=0, max_index=3)).prefetch()
    assert sdk.job(job_id=xid, job_kind="prefetch-listrange").wait(timeout=30, verbose=False).success  # type: ignore[attr-defined]
    assert len([e for e in b.list_all_objects() if e.is_cached()]) == 4


def test_prefetch_errors(cluster: LocalCluster, moto: object) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    remote.seed("a", b"a")
    uri = f"s3://{remote.bucket}"
    p = cluster.cli("prefetch", uri, "--list", "a,missing", "--wait", check=False)
    assert p.returncode == 1 and "does not exist" in p.stderr and "Traceback" not in p.stderr
    p = cluster.cli("prefetch", uri, "--list", "a,missing", "--coer", "--wait")
    assert "finished" in p.stdout
    # a range names what may not be there: its missing names are skipped, the job succeeds (Go prefetch)
    remote.seed("r1", b"1")
    remote.seed("r3", b"3")
    p = cluster.cli("prefetch", uri, "--template", "r{0..4}", "--wait")
    assert "finished" in p.stdout and cached(cluster, uri) == ["a", "r1", "r3"]
    bad = cluster.cli("prefetch", uri, "--template", "x-{5..1}", check=False)
    assert bad.returncode == 1 and "greater than end" in bad.stderr
    requests.post(f"{cluster.endpoint}/v1/buckets/local-only", json={"action": "create-bck"})
    p = cluster.cli("prefetch", "ais://local-only", check=False)
    assert p.returncode == 1 and "can only prefetch remote buckets" in p.stderr


def test_prefetch_into_an_ais_bucket_with_a_backend_counts_cold_gets(cluster: LocalCluster, moto: object) -> None:
    """An ais bucket whose `backend_bck` is an S3 bucket: its prefetch asks the backend's bucket,
    lands every object (a batch at a time on each mountpath, at most `--num-workers` in flight)
    and counts each one as a cold GET; a `--latest` prefetch of unchanged objects fetches none."""
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {f"d/{i:03d}": os.urandom(3000 + i) for i in range(40)}
    for n, d in data.items():
        remote.seed(n, d)
    cluster.cli("bucket", "create", "ais://pf-backed")
    cluster.cli("bucket", "props", "set", "ais://pf-backed", f"backend_bck=s3://{remote.bucket}")
    before = mountpath_counts(cluster)
    p = cluster.cli("prefetch", "ais://pf-backed", "--template", "d/{000..039}", "--num-workers", "3", "--wait")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    assert sum(int(r.split()[4]) for r in cluster.cli("show", "job", xid).stdout.splitlines()[1:]) == 40
    after = mountpath_counts(cluster)
    assert after.get("prefetch.cold.n", 0) - before.get("prefetch.cold.n", 0) == 40
    assert after.get("remote.get.n", 0) - before.get("remote.get.n", 0) == 40
    assert after.get("get.cold.n", 0) - before.get("get.cold.n", 0) == 40  # written as cold GETs
    assert cached(cluster, "ais://pf-backed") == sorted(data)
    assert cluster.cli_bytes("get", "ais://pf-backed/d/017", "-") == data["d/017"]
    p = cluster.cli("prefetch", "ais://pf-backed", "--template", "d/{000..039}", "--latest", "--wait")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    assert sum(int(r.split()[4]) for r in cluster.cli("show", "job", xid).stdout.splitlines()[1:]) == 0
    assert mountpath_counts(cluster).get("remote.get.n", 0) == after.get("remote.get.n", 0)


def test_prefetch_and_copy_of_a_prefix_list_it_once_for_all_targets(cluster: LocalCluster, moto: object) -> None:
    """Every target walks the remote listing of a prefetch (or a copy) by prefix, and one of them —
    the job's lister — lists it: two pages of 1,000, two LIST calls (`remote.lst`) across the
    session's targets for each job, not one per target; everything arrives."""
    src, keys = s3_bucket_of_keys(moto, "pf-once", 1050)  # type: ignore[arg-type]
    tids = list(smap(cluster)["tmap"])
    assert len(tids) >= 2

    def lists() -> dict[str, int]:
        return {tid: tracked(node_status(cluster, tid), "remote.lst.n") for tid in tids}

    before = lists()
    cluster.cli("prefetch", f"s3://{src}", "--wait", timeout=300)
    listed = {tid: n - before[tid] for tid, n in lists().items()}
    assert sum(listed.values()) == 2 and max(listed.values()) == 2, listed
    assert cached(cluster, f"s3://{src}") == keys
    before = lists()
    dst = f"pf-once-copy-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{src}", params={"provider": "aws", "bck_to": f"ais/@#/{dst}/",
                                                                   "presence": "0"},
                      json={"action": "copy-bck", "value": {}}, timeout=60)
    assert r.status_code == 200, r.text
    cluster.cli("wait", r.text.strip().strip('"'), "--timeout", "300s", timeout=320)
    listed = {tid: n - before[tid] for tid, n in lists().items()}
    assert sum(listed.values()) == 2 and max(listed.values()) == 2, listed
    assert cluster.cli_bytes("get", f"ais://{dst}/k1049", "-") == b"k1049"


def test_an_aborted_prefetch_writes_no_more(cluster: LocalCluster, moto: object, sdk: object) -> None:
    """Aborted, a job stops on the mountpaths too: the items of its batches already sent there and
    not started are not fetched (they were, for seconds after its status said it was aborted)."""
    bucket, keys = s3_bucket_of_keys(moto, "pf-abort", 800)  # type: ignore[arg-type]
    uri = f"s3://{bucket}"
    p = cluster.cli("prefetch", uri, "--template", "k{0000..0799}", "--num-workers", "1")
    xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    deadline = time.monotonic() + 60
    while not cached(cluster, uri) and time.monotonic() < deadline:
        time.sleep(0.2)
    sdk.job(job_id=xid).abort()  # type: ignore[attr-defined]
    time.sleep(1.0)  # the objects under way when it was aborted finish
    at_abort = len(cached(cluster, uri))
    time.sleep(3.0)
    after = len(cached(cluster, uri))
    assert 0 < at_abort == after < len(keys), (at_abort, after)
