"""Downloads from S3 (moto), GCS (fake-gcs-server) and Azure (azurite), through the CLI and the API."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import requests

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES, Remote, s3_bucket_of_keys
from tests.integration.test_download import get, names, new_bucket, start, wait
from tests.integration.test_stats import node_status, smap, tracked


@pytest.fixture(params=[Provider.AWS, Provider.GCP, Provider.AZURE], ids=lambda p: p.value)
def remote(request: pytest.FixtureRequest, cluster: LocalCluster) -> Remote:
    factory, fixture = REMOTES[request.param]
    return factory(request.getfixturevalue(fixture), None)  # type: ignore[arg-type]


def test_single_range_multi_from_cloud(cluster: LocalCluster, remote: Remote) -> None:
    data = {f"imagenet/train-{i:03d}.tgz": os.urandom(1000 * (i + 1)) for i in range(6)}
    for n, d in data.items():
        remote.seed(n, d)
    src = f"{remote.scheme}://{remote.bucket}"
    bck = new_bucket()
    st = wait(cluster, start(cluster, type="single", bucket={"name": bck}, link=f"{src}/imagenet/train-000.tgz"))
    assert st["finished_cnt"] == 1, st
    assert get(cluster, bck, "train-000.tgz").content == data["imagenet/train-000.tgz"]
    st = wait(cluster, start(cluster, type="range", bucket={"name": bck}, template=f"{src}/imagenet/train-{{001..006}}.tgz",
                             subdir="r"))
    assert (st["finished_cnt"], st["error_cnt"]) == (5, 1), st  # 006 does not exist
    assert 'does not exist' in st["download_errors"][0]["error"]
    for i in range(1, 6):
        assert get(cluster, bck, f"r/train-{i:03d}.tgz").content == data[f"imagenet/train-{i:03d}.tgz"]
    st = wait(cluster, start(cluster, type="multi", bucket={"name": bck},
                             objects={"m/a": f"{src}/imagenet/train-004.tgz", "m/b": f"{src}/imagenet/train-005.tgz"}))
    assert st["finished_cnt"] == 2 and get(cluster, bck, "m/b").content == data["imagenet/train-005.tgz"]


def test_backend_download_with_prefix_and_cli(cluster: LocalCluster, remote: Remote) -> None:
    data = {f"dir/prefix-{i}": os.urandom(500 + i) for i in range(7)} | {"other/x": b"not me"}
    for n, d in data.items():
        remote.seed(n, d)
    bck = new_bucket()
    cluster.cli("create", f"ais://{bck}")
    cluster.cli("bucket", "props", "set", f"ais://{bck}", f"backend_bck={remote.scheme}://{remote.bucket}")
    p = cluster.cli("start", "download", f"{remote.scheme}://{remote.bucket}/dir/prefix-", f"ais://{bck}", "--wait")
    assert "All files successfully downloaded" in p.stdout, p.stdout + p.stderr
    assert names(cluster, bck) == sorted(n for n in data if n.startswith("dir/prefix-"))
    for n in names(cluster, bck):
        assert get(cluster, bck, n).content == data[n]
    # without the link, the same SOURCE names one object (which does not exist)
    other = new_bucket()
    p = cluster.cli("start", "download", f"{remote.scheme}://{remote.bucket}/dir/prefix-", f"ais://{other}", "--wait",
                    check=False)
    assert p.returncode == 1 and "1 of 1 objects failed" in p.stderr
    # a whole bucket: the CLI links an unlinked destination itself
    whole = new_bucket()
    p = cluster.cli("start", "download", f"{remote.scheme}://{remote.bucket}", f"ais://{whole}", "--wait")
    assert "now has backend_bck" in p.stderr
    assert names(cluster, whole) == sorted(data)
    props = json.loads(requests.head(f"{cluster.endpoint}/v1/buckets/{whole}").headers["Ais-Bucket-Props"])
    assert props["backend_bck"]["name"] == remote.bucket


def test_backend_sync_removes_what_is_gone(cluster: LocalCluster, moto: object) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    src = f"sync-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=src)
    for i in range(10):
        s3.put_object(Bucket=src, Key=f"o{i}", Body=f"v1-{i}".encode())
    bck = new_bucket()
    assert cluster.cli("create", f"ais://{bck}").returncode == 0
    cluster.cli("bucket", "props", "set", f"ais://{bck}", f"backend_bck=s3://{src}")
    st = wait(cluster, start(cluster, type="backend", bucket={"name": bck}))
    assert st["finished_cnt"] == 10 and st["total"] == 10
    for i in (2, 5, 7):
        s3.delete_object(Bucket=src, Key=f"o{i}")
    s3.put_object(Bucket=src, Key="o1", Body=b"v2-changed")
    s3.put_object(Bucket=src, Key="new", Body=b"new")
    st = wait(cluster, start(cluster, type="backend", bucket={"name": bck}, synchronize=True))
    assert (st["finished_cnt"], st["skipped_cnt"]) == (2, 6), st  # o1 changed + new; the rest unchanged
    remote = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=src)["Contents"])
    assert names(cluster, bck) == remote
    assert get(cluster, bck, "o1").content == b"v2-changed"


def test_backend_job_lists_once_for_all_targets(cluster: LocalCluster, moto: object) -> None:
    """Every target walks the remote listing, and one of them lists it: two pages of 1,000, two
    LIST calls counted (`remote.lst`) across the three targets, not six; everything arrives."""
    src, keys = s3_bucket_of_keys(moto, "once", 1050)  # type: ignore[arg-type]
    bck = new_bucket()
    assert cluster.cli("create", f"ais://{bck}").returncode == 0
    cluster.cli("bucket", "props", "set", f"ais://{bck}", f"backend_bck=s3://{src}")
    tids = list(smap(cluster)["tmap"])
    assert len(tids) == 3
    before = {tid: tracked(node_status(cluster, tid), "remote.lst.n") for tid in tids}
    st = wait(cluster, start(cluster, type="backend", bucket={"name": bck}))
    assert (st["finished_cnt"], st["error_cnt"]) == (1050, 0), st
    listed = {tid: tracked(node_status(cluster, tid), "remote.lst.n") - before[tid] for tid in tids}
    assert sum(listed.values()) == 2 and sorted(listed.values()) == [0, 0, 2], listed
    assert names(cluster, bck) == keys
    assert get(cluster, bck, "k1049").content == b"k1049"


def test_missing_remote_bucket_fails_the_job_clearly(cluster: LocalCluster, moto: object) -> None:
    import boto3

    # set-bprops checks the backend exists (issue 15 item 6): it goes missing afterwards
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket="no-such-src")
    bck = new_bucket()
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{bck}", json={"action": "create-bck"}).status_code == 200
    r = requests.patch(f"{cluster.endpoint}/v1/buckets/{bck}",
                       json={"action": "set-bprops", "value": {"backend_bck": {"name": "no-such-src", "provider": "aws"}}})
    assert r.status_code == 200, r.text
    s3.delete_bucket(Bucket="no-such-src")
    st = wait(cluster, start(cluster, type="backend", bucket={"name": bck}))
    assert st["error_cnt"] >= 1 and "s3://no-such-src" in json.dumps(st["download_errors"])
    # into a remote bucket that is not there: refused at start (it reported success, the objects stranded)
    r = requests.post(f"{cluster.endpoint}/v1/download", timeout=60,
                      json={"type": "single", "bucket": {"name": "no-such-dst", "provider": "aws"},
                            "link": "http://127.0.0.1:1/x", "object_name": "x"})
    assert r.status_code == 404 and "no-such-dst" in r.json()["message"], r.text
