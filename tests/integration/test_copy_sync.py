"""Copy, issue 10 items 1–3: unchanged destination objects are skipped, `--sync` prunes what the
source no longer has, and faults (source gone, destination failing) end as AIStore ends them."""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Iterator

import pytest
import requests

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES
from tests.integration.test_blob import mountpath_counts
from tests.integration.test_copy_bucket import contents, digest


def stored_files(cluster: LocalCluster, provider: str, bucket: str) -> dict[str, list[str]]:
    """name -> every file holding it on any mountpath (a name must have exactly one)."""
    out: dict[str, list[str]] = {}
    for root in glob.glob(os.path.join(cluster.data_dir, "*", "*", f"@{provider}", bucket, "%ob")):
        for path in glob.glob(os.path.join(root, "**"), recursive=True):
            if os.path.isfile(path):
                out.setdefault(os.path.relpath(path, root), []).append(path)
    return out


def work_files(cluster: LocalCluster) -> list[str]:
    return [p for p in glob.glob(os.path.join(cluster.data_dir, "*", "*", "%wk", "*")) if os.path.isfile(p)]


def snaps_of(cluster: LocalCluster, xid: str) -> list[dict[str, object]]:
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid})
    return [s for ss in r.json().values() for s in ss or []]


def loc_objs(cluster: LocalCluster, xid: str) -> int:
    return sum(int(s["stats"]["loc-objs"]) for s in snaps_of(cluster, xid))  # type: ignore[index]


@pytest.fixture()
def src(sdk: object) -> Iterator[tuple[object, dict[str, bytes]]]:
    b = sdk.bucket(f"cys-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    b.create()
    data = {f"d/{i:02d}": os.urandom(2000 + 11 * i) for i in range(20)}
    for n, d in data.items():
        b.object(n).get_writer().put_content(d)
    yield b, data
    b.delete(missing_ok=True)


def test_rerun_writes_nothing_and_changed_objects_are_copied(cluster: LocalCluster, sdk: object,
                                                             src: tuple[object, dict[str, bytes]]) -> None:
    b, data = src
    dst = sdk.bucket(f"cyd-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    try:
        sdk.job(b.copy(dst)).wait(timeout=120)  # type: ignore[attr-defined]
        assert contents(dst) == {n: digest(d) for n, d in data.items()}
        before = {n: os.stat(p[0]).st_mtime_ns for n, p in stored_files(cluster, "ais", dst.name).items()}
        puts = mountpath_counts(cluster).get("put.n", 0)
        job = b.copy(dst)  # type: ignore[attr-defined]  # the same copy again: every destination is current
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        assert mountpath_counts(cluster).get("put.n", 0) == puts, "a re-run wrote objects"
        assert {n: os.stat(p[0]).st_mtime_ns for n, p in stored_files(cluster, "ais", dst.name).items()} == before
        assert loc_objs(cluster, job) == len(data)  # skipped counts as done (AIStore's no-op copy)
        # one source object changes: exactly that one is copied again
        b.object("d/03").get_writer().put_content(b"changed")  # type: ignore[attr-defined]
        sdk.job(b.copy(dst)).wait(timeout=120)  # type: ignore[attr-defined]
        assert mountpath_counts(cluster).get("put.n", 0) == puts + 2  # the source PUT + one copy
        assert dst.object("d/03").get_reader().read_all() == b"changed"  # type: ignore[attr-defined]
        # --latest re-checks: nothing is skipped
        puts = mountpath_counts(cluster).get("put.n", 0)
        sdk.job(b.copy(dst, latest=True)).wait(timeout=120)  # type: ignore[attr-defined]
        assert mountpath_counts(cluster).get("put.n", 0) == puts + len(data)
        assert all(len(p) == 1 for p in stored_files(cluster, "ais", dst.name).values())
    finally:
        dst.delete(missing_ok=True)


def test_sync_removes_what_the_source_no_longer_has(cluster: LocalCluster, sdk: object,
                                                    src: tuple[object, dict[str, bytes]]) -> None:
    b, data = src
    tag = uuid.uuid4().hex[:6]
    dst = sdk.bucket(f"cyp-{tag}")  # type: ignore[attr-defined]
    try:
        cluster.cli("cp", f"ais://{b.name}", f"ais://{dst.name}", "--wait")  # type: ignore[attr-defined]
        dst.object("d/extra").get_writer().put_content(b"not in the source")  # type: ignore[attr-defined]
        dst.object("other/kept").get_writer().put_content(b"outside the prefix")  # type: ignore[attr-defined]
        for n in ("d/00", "d/07", "d/19"):
            b.object(n).delete()  # type: ignore[attr-defined]
        cluster.cli("cp", f"ais://{b.name}", f"ais://{dst.name}", "--prefix", "d/", "--sync", "--wait")  # type: ignore[attr-defined]
        want = {n: digest(d) for n, d in data.items() if n not in ("d/00", "d/07", "d/19")}
        got = contents(dst)
        assert {n: d for n, d in got.items() if n.startswith("d/")} == want
        assert "other/kept" in got  # not under the prefix: untouched
        # a named selection with --sync: a source that is gone takes its destination copy along
        cluster.cli("cp", f"ais://{b.name}", f"ais://{dst.name}", "--list", "d/01,d/00", "--sync", "--wait")  # type: ignore[attr-defined]
        dst.object("d/01").head()  # type: ignore[attr-defined]
        # the whole bucket: exactly the source's names
        b.object("d/01").delete()  # type: ignore[attr-defined]
        cluster.cli("cp", f"ais://{b.name}", f"ais://{dst.name}", "--sync", "--wait")  # type: ignore[attr-defined]
        assert sorted(contents(dst)) == sorted(contents(b))
    finally:
        dst.delete(missing_ok=True)


def test_sync_from_a_remote_source(cluster: LocalCluster, moto: object, sdk: object) -> None:
    import boto3

    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {f"r/{i:02d}": os.urandom(900 + i) for i in range(15)}
    for n, d in data.items():
        remote.seed(n, d)
    dst = f"cyr-{uuid.uuid4().hex[:8]}"
    try:
        cluster.cli("cp", f"s3://{remote.bucket}", f"ais://{dst}", "--all", "--wait")
        s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                          aws_secret_access_key="testing", region_name="us-east-1")
        for n in ("r/02", "r/05", "r/11"):
            s3.delete_object(Bucket=remote.bucket, Key=n)
        cluster.cli("cp", f"s3://{remote.bucket}", f"ais://{dst}", "--all", "--sync", "--wait")
        assert contents(sdk.bucket(dst)) == {n: digest(d) for n, d in data.items()  # type: ignore[attr-defined]
                                             if n not in ("r/02", "r/05", "r/11")}
    finally:
        sdk.bucket(dst).delete(missing_ok=True)  # type: ignore[attr-defined]


def test_source_gone_is_skipped_and_missing_source_is_404(cluster: LocalCluster, sdk: object,
                                                          src: tuple[object, dict[str, bytes]]) -> None:
    b, data = src
    dst = sdk.bucket(f"cyg-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    dst.create()
    try:
        # a named source that is not there (gone before its turn) is skipped, not an error
        [job] = b.objects(obj_names=["d/01", "gone", "d/02"]).copy(dst)  # type: ignore[attr-defined]
        sdk.job(job).wait_for_idle(timeout=120)  # type: ignore[attr-defined]
        assert sorted(contents(dst)) == ["d/01", "d/02"]
        assert not any(s["err"] for s in snaps_of(cluster, job))
        # a missing bucket is a 404 that names it
        for provider, name in (("ais", f"no-such-{uuid.uuid4().hex[:6]}"), ("aws", f"no-such-{uuid.uuid4().hex[:6]}")):
            r = requests.post(f"{cluster.endpoint}/v1/buckets/{name}", params={"provider": provider, "bck_to": "ais/@#/x/"},
                              json={"action": "copy-bck", "value": {}})
            assert r.status_code == 404 and name in r.json()["message"], r.text
        p = cluster.cli("cp", f"ais://no-such-{uuid.uuid4().hex[:6]}", f"ais://{dst.name}", check=False)
        assert p.returncode == 1 and "does not exist" in p.stderr and "Traceback" not in p.stderr
    finally:
        dst.delete(missing_ok=True)


def test_failing_destination(cluster: LocalCluster, moto: object, sdk: object,
                             src: tuple[object, dict[str, bytes]]) -> None:
    """The destination's cloud bucket removed under the cluster: every write fails; the job ends
    with the error (or, with `coer`, counts each one); nothing half-written anywhere."""
    import boto3

    b, data = src
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    s3dst = sdk.bucket(remote.bucket, provider="aws")  # type: ignore[attr-defined]
    sdk.job(b.objects(obj_names=["d/00"]).copy(s3dst)[0]).wait_for_idle(timeout=60)  # type: ignore[attr-defined]  # in the BMD now
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    for v in s3.list_object_versions(Bucket=remote.bucket).get("Versions", []):
        s3.delete_object(Bucket=remote.bucket, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=remote.bucket)
    before = set(stored_files(cluster, "aws", remote.bucket))
    job = b.copy(s3dst, prefix_filter="d/1")  # type: ignore[attr-defined]
    sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]  # the SDK logs the job's error
    snaps = snaps_of(cluster, job)
    assert any(s["err"] for s in snaps) and all(s["end-time"] != "0001-01-01T00:00:00Z" for s in snaps)
    # continue on error: every object is its own error, the job still ends
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{b.name}", params={"bck_to": f"aws/@#/{remote.bucket}/"},  # type: ignore[attr-defined]
                      json={"action": "copy-bck", "value": {"prefix": "d/1", "coer": True}})
    assert r.status_code == 200, r.text
    sdk.job(r.text).wait(timeout=120)  # type: ignore[attr-defined]
    errs = [s["err"] for s in snaps_of(cluster, r.text) if s["err"]]
    assert errs and sum(int(str(e).split()[3]) for e in errs) == 10, errs  # "failed to copy N object(s), ..."
    assert set(stored_files(cluster, "aws", remote.bucket)) == before  # nothing committed locally either
    assert not work_files(cluster)
