"""Copy bucket (`copy-bck`) and copy objects (`copy-listrange`), issue 10: the SDK 2.0.0 flows,
the REST shapes of ais-wire-2 §1, and AIStore's rules. Every copy is checked byte for byte."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import pytest
import requests
from aistore.sdk.errors import AISError

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES


def digest(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture()
def src(sdk: object) -> Iterator[tuple[object, dict[str, str]]]:
    b = sdk.bucket(f"cps-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    b.create()
    data = {}
    for i in range(24):
        name = f"dir/{i:02d}.jpg" if i % 2 else f"top-{i:02d}.bin"
        body = os.urandom(1000 + 37 * i)
        b.object(name).get_writer().put_content(body)
        data[name] = digest(body)
    yield b, data
    b.delete(missing_ok=True)


def contents(b: object) -> dict[str, str]:
    return {e.name: digest(b.object(e.name).get_reader().read_all())  # type: ignore[attr-defined]
            for e in b.list_all_objects()}  # type: ignore[attr-defined]


def test_sdk_copy_bucket_whole_and_filtered(sdk: object, src: tuple[object, dict[str, str]]) -> None:
    b, data = src
    dst = sdk.bucket(f"cpd-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    try:
        job = b.copy(dst)  # type: ignore[attr-defined]  # the destination is created
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        assert contents(dst) == data
        assert contents(b) == data  # the source is untouched
        snaps = sdk.job(job).get_details().list_snapshots()  # type: ignore[attr-defined]
        assert sum(s.stats.objects for s in snaps) == len(data)
        assert all(s.kind == "copy-bck" for s in snaps)
        # prefix + prepend + ext: the names AIStore would give
        dst2 = sdk.bucket(f"cpe-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
        job = b.copy(dst2, prefix_filter="dir/", prepend="p/", ext={"jpg": "png"})  # type: ignore[attr-defined]
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        want = {"p/" + n[:-3] + "png": d for n, d in data.items() if n.startswith("dir/")}
        assert contents(dst2) == want
        dst2.delete()
        # a dry run counts and creates nothing
        dst3 = sdk.bucket(f"cpf-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
        job = b.copy(dst3, dry_run=True)  # type: ignore[attr-defined]
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        snaps = sdk.job(job).get_details().list_snapshots()  # type: ignore[attr-defined]
        assert sum(s.stats.objects for s in snaps) == len(data)
        with pytest.raises(AISError) as e:  # not created (a HEAD's 404 has no body to type it)
            dst3.head()
        assert e.value.status_code == 404
    finally:
        dst.delete(missing_ok=True)


def test_sdk_copy_objects_by_names_and_template(sdk: object, src: tuple[object, dict[str, str]]) -> None:
    b, data = src
    dst = sdk.bucket(f"cpo-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    dst.create()
    try:
        names = ["top-00.bin", "dir/01.jpg", "top-04.bin"]
        [job] = b.objects(obj_names=names).copy(dst)  # type: ignore[attr-defined]  # a list of ids (one per distinct xaction)
        sdk.job(job).wait_for_idle(timeout=120)  # type: ignore[attr-defined]
        assert contents(dst) == {n: data[n] for n in names}
        [job] = b.objects(obj_template="top-{10..16..2}.bin").copy(dst, prepend="t/")  # type: ignore[attr-defined]
        sdk.job(job).wait_for_idle(timeout=120)  # type: ignore[attr-defined]
        got = contents(dst)
        assert {n: got[n] for n in got if n.startswith("t/")} == {f"t/top-{i:02d}.bin": data[f"top-{i:02d}.bin"]
                                                                  for i in range(10, 17, 2)}
    finally:
        dst.delete(missing_ok=True)


def test_copy_rules(cluster: LocalCluster, sdk: object, src: tuple[object, dict[str, str]]) -> None:
    b, _ = src
    url = f"{cluster.endpoint}/v1/buckets/{b.name}"  # type: ignore[attr-defined]
    body = {"action": "copy-bck", "value": {}}
    r = requests.post(url, params={"bck_to": f"ais/@#/{b.name}/"}, json=body)  # type: ignore[attr-defined]
    assert r.status_code == 400 and "onto itself" in r.json()["message"]
    r = requests.post(url, params={"bck_to": "ais/@#/x/"}, json={"action": "copy-bck",
                                                                   "value": {"synchronize": True, "prepend": "p"}})
    assert r.status_code == 400 and "incompatible" in r.json()["message"]
    r = requests.post(url, json=body)
    assert r.status_code == 400 and "bck_to" in r.json()["message"]
    for bad in ("ais/x", "ais/@../..#x/d/", "zz/@#/d/"):
        assert requests.post(url, params={"bck_to": bad}, json=body).status_code == 400, bad
    r = requests.post(f"{cluster.endpoint}/v1/buckets/no-such-{uuid.uuid4().hex[:6]}",
                      params={"bck_to": "ais/@#/x/"}, json=body)
    assert r.status_code == 404
    with pytest.raises(AISError):
        b.copy(b)  # type: ignore[attr-defined]


def remote_gets(cluster: LocalCluster) -> int:
    """GETs of remote objects made by every mountpath so far (`remote.get`)."""
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()
    return sum(m["stats"].get("remote.get.n", 0) for t in stats["targets"].values() for m in t["mountpaths"])


def test_copy_a_remote_bucket_not_in_the_cluster(cluster: LocalCluster, moto: object, sdk: object) -> None:
    """Seed 004: `s3://src` nobody has read yet, copied whole (`--all`: presence=0) into an ais bucket."""
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {f"r/{i:03d}": os.urandom(500 + i) for i in range(40)}
    for n, d in data.items():
        remote.seed(n, d)
    dst = sdk.bucket(f"cpr-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    try:
        # default presence: only what is cached — nothing yet
        s3 = sdk.bucket(remote.bucket, provider="aws")  # type: ignore[attr-defined]
        s3.object("r/000").get_reader().read_all()  # one object cached
        job = s3.copy(dst)
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        assert sorted(contents(dst)) == ["r/000"]
        # presence=0 (CLI --all): every remote object, listed by the targets themselves; each one
        # not yet stored is read from the remote once (a batch at a time, then copied from here)
        gets = remote_gets(cluster)
        r = requests.post(f"{cluster.endpoint}/v1/buckets/{remote.bucket}", params={
            "provider": "aws", "bck_to": dst.get_path(), "presence": "0"}, json={"action": "copy-bck", "value": {}})
        assert r.status_code == 200, r.text
        sdk.job(r.text).wait(timeout=120)  # type: ignore[attr-defined]
        assert contents(dst) == {n: digest(d) for n, d in data.items()}
        assert remote_gets(cluster) - gets == len(data) - 1
        # and the source objects read remotely are now stored in the cluster too
        cached = [e.name for e in s3.list_all_objects(props="name,cached") if e.is_ok()]  # type: ignore[attr-defined]
        assert len(cached) >= len(data)
    finally:
        dst.delete(missing_ok=True)


def test_cli_cp_bucket_selection_and_progress(cluster: LocalCluster, sdk: object, moto: object,
                                               src: tuple[object, dict[str, str]]) -> None:
    b, data = src
    tag = uuid.uuid4().hex[:6]
    try:
        p = cluster.cli("cp", f"ais://{b.name}", f"ais://cli-a-{tag}", "--wait")  # type: ignore[attr-defined]
        assert "finished" in p.stdout
        assert contents(sdk.bucket(f"cli-a-{tag}")) == data  # type: ignore[attr-defined]
        cluster.cli("cp", f"ais://{b.name}", f"ais://cli-b-{tag}", "--template", "top-{00..04}.bin",  # type: ignore[attr-defined]
                    "--prepend", "old-", "--wait")
        assert contents(sdk.bucket(f"cli-b-{tag}")) == {  # type: ignore[attr-defined]
            f"old-top-{i:02d}.bin": data[f"top-{i:02d}.bin"] for i in (0, 2, 4)}
        cluster.cli("cp", f"ais://{b.name}/dir/", f"ais://cli-c-{tag}", "--wait")  # type: ignore[attr-defined]
        assert contents(sdk.bucket(f"cli-c-{tag}")) == {n: d for n, d in data.items() if n.startswith("dir/")}  # type: ignore[attr-defined]
        # seed 004: a remote bucket nobody has read yet, with the two progress bars
        remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
        for i in range(30):
            remote.seed(f"s/{i:03d}", os.urandom(1024))
        p = cluster.cli("cp", f"s3://{remote.bucket}", f"ais://cli-d-{tag}", "--all", "--progress", "--refresh", "0.2")
        assert "Copied objects:" in p.stdout and "30/30" in p.stdout and "Copied size:" in p.stdout
        assert len(contents(sdk.bucket(f"cli-d-{tag}"))) == 30  # type: ignore[attr-defined]
        # errors: one line, exit 1
        for args in (["cp", f"ais://{b.name}", f"ais://{b.name}"], ["cp", f"ais://{b.name}"],  # type: ignore[attr-defined]
                     ["cp", f"ais://{b.name}", f"ais://x-{tag}/obj"]):  # type: ignore[attr-defined]
            p = cluster.cli(*args, check=False)
            assert p.returncode == 1 and p.stderr.startswith("error:") and "Traceback" not in p.stderr, (args, p.stderr)
    finally:
        for x in "abcd":
            sdk.bucket(f"cli-{x}-{tag}").delete(missing_ok=True)  # type: ignore[attr-defined]


def test_copy_across_providers(cluster: LocalCluster, moto: object, gcs: object, sdk: object,
                               src: tuple[object, dict[str, str]]) -> None:
    """ais -> s3 (written through to the cloud, stored locally) and gs (not in the cluster) -> s3."""
    import boto3

    b, data = src
    s3dst = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    job = b.copy(sdk.bucket(s3dst.bucket, provider="aws"), prefix_filter="dir/")  # type: ignore[attr-defined]
    sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    got = {o["Key"]: digest(s3.get_object(Bucket=s3dst.bucket, Key=o["Key"])["Body"].read())
           for o in s3.list_objects_v2(Bucket=s3dst.bucket).get("Contents", [])}
    assert got == {n: d for n, d in data.items() if n.startswith("dir/")}
    gsrc = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    blobs = {f"g/{i}": os.urandom(700 + i) for i in range(6)}
    for n, d in blobs.items():
        gsrc.seed(n, d)
    r = requests.post(f"{cluster.endpoint}/v1/buckets/{gsrc.bucket}", params={
        "provider": "gcp", "bck_to": f"aws/@#/{s3dst.bucket}/", "presence": "0"}, json={"action": "copy-bck", "value": {}})
    assert r.status_code == 200, r.text
    sdk.job(r.text).wait(timeout=120)  # type: ignore[attr-defined]
    for n, d in blobs.items():
        assert s3.get_object(Bucket=s3dst.bucket, Key=n)["Body"].read() == d


def test_copy_keeps_version_and_metadata(cluster: LocalCluster, sdk: object) -> None:
    """ais-wire-2 §1.3: a copy keeps the source's version and custom metadata (S3's and what PATCH set) — small objects sent
    many to a request, a large one alone, and a single object's copy (the SDK's `copy`)."""
    name = f"cpv-{uuid.uuid4().hex[:8]}"
    b = sdk.bucket(name)  # type: ignore[attr-defined]
    b.create()
    dst, one = sdk.bucket(f"{name}-d"), sdk.bucket(f"{name}-o")  # type: ignore[attr-defined]
    objs = {f"s{i}": 1000 + i for i in range(6)} | {"big": 300 << 10}  # the big one is not sent in a group
    try:
        with requests.Session() as s:
            for o, size in objs.items():
                for v in range(3):  # the third write: version 3
                    r = s.put(f"{cluster.endpoint}/s3/{name}/{o}", data=os.urandom(size), timeout=30,
                              headers={"x-amz-meta-owner": f"ann-{o}", "Content-Type": "text/plain"})
                    assert r.status_code == 200, r.text
        for o in objs:  # the native kind too (SDK `set_custom_props`), not just S3's
            b.object(o).get_writer().set_custom_props({"label": f"cat-{o}"})  # type: ignore[attr-defined]
        job = b.copy(dst)  # type: ignore[attr-defined]
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        one.create()
        b.object("s0").copy(one.object("s0-copy"))  # type: ignore[attr-defined]
        pairs = [(f"{name}/{o}", f"{name}-d/{o}") for o in objs] + [(f"{name}/s0", f"{name}-o/s0-copy")]
        with requests.Session() as s:
            for src_path, dst_path in pairs:
                heads = [s.head(f"{cluster.endpoint}/v1/objects/{p}", timeout=30, allow_redirects=True) for p in
                         (src_path, dst_path)]
                assert [h.status_code for h in heads] == [200, 200]
                assert heads[0].headers["ais-version"] == "3" == heads[1].headers["ais-version"], dst_path
                owner = f"x-amz-meta-owner=ann-{src_path.rsplit('/', 1)[1]}"
                assert owner in heads[1].headers.get("ais-custom-md", ""), (dst_path, heads[1].headers)
                assert f"label=cat-{src_path.rsplit('/', 1)[1]}" in heads[1].headers.get("ais-custom-md", ""), dst_path
                assert heads[1].headers["Content-Type"] == "text/plain"
                assert heads[0].headers["ais-checksum-value"] == heads[1].headers["ais-checksum-value"]
    finally:
        for x in (b, dst, one):
            x.delete(missing_ok=True)
