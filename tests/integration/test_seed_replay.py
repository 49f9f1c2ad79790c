"""Issue 17, "done when": the downloader seeds (000, 002, 003) replayed command by command with
`ais-ray` in place of `ais`, against a local HTTP source and the GCS emulator, comparing what
matters in the output (ids, counts, columns, exit codes) with what the seeds show."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from ais_ray.core.names import Provider
from tests.integration.conftest import AIS_RAY, LocalCluster, Src
from tests.integration.remotes import REMOTES

JOB_ID = re.compile(r"^([A-Za-z0-9_-]{6,})$", re.M)


def started_id(out: str) -> str:
    """`ais start download ...` prints the job id alone on its first line, then the hint."""
    m = JOB_ID.search(out)
    assert m, out
    return m.group(1)


def test_seed_000_files_on_premises(cluster: LocalCluster, src: Src, tmp_path: Path) -> None:
    src.put("abc/hello-world", b"hello, world\n")
    shards = {f"abc/shard-{i:03d}.tar": os.urandom(1000 + i) for i in range(1, 11)}
    for name, data in shards.items():
        src.put(name, data)
    # $ ais get http://localhost:51061/abc/hello-world   (a file named like the object, in the cwd)
    p = subprocess.run([*AIS_RAY, "get", src.url("abc/hello-world")], env=cluster.env(), cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "hello-world").read_bytes() == b"hello, world\n"
    # $ ais ls ht://   -> the HTTP bucket made on the fly
    buckets = re.findall(r"ht://\S+", cluster.cli("ls", "ht://").stdout)
    assert buckets
    # $ ais start prefetch ht://<id> --template 'shard-{001..999}.tar'  (here: the bucket of this source)
    listed = cluster.cli("ls", "ht://").stdout
    assert "NAME" in listed.splitlines()[0]
    # $ ais start download "http://hostname:52062/abc/shard-{001..010}.tar" ais://abc  (bucket made iff missing)
    dst = f"abc-{uuid.uuid4().hex[:6]}"
    p = cluster.cli("start", "download", src.url("abc/shard-{001..010}.tar"), f"ais://{dst}")
    job = started_id(p.stdout)
    assert f"ais-ray show job download {job}" in p.stdout
    cluster.cli("wait", job, timeout=120)
    # $ ais ls ais://abc  -> NAME SIZE, shard-001.tar ... shard-010.tar
    lines = cluster.cli("ls", f"ais://{dst}").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE"]
    assert [ln.split()[0] for ln in lines[1:11]] == [f"shard-{i:03d}.tar" for i in range(1, 11)]
    assert lines[11] == "Listed 10 names, 9.82KiB in total"


def test_seed_002_two_range_downloads(cluster: LocalCluster, gcs: object) -> None:
    remote = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    for i in range(1, 21):
        remote.seed(f"train-{i:04d}.tgz", os.urandom(512 + i))
    dst = f"imagenet-{uuid.uuid4().hex[:6]}"
    # $ ais create imagenet   (no scheme: an ais:// bucket)
    assert cluster.cli("create", dst).stdout.strip() == f'"ais://{dst}" created'
    ids = []
    for lo, hi in (("0001", "0010"), ("0011", "0020")):
        # $ ais start download "gs://lpr-imagenet/train-{0001..0010}.tgz" ais://imagenet
        p = cluster.cli("start", "download", f"gs://{remote.bucket}/train-{{{lo}..{hi}}}.tgz", f"ais://{dst}")
        ids.append(started_id(p.stdout))
        assert f"Run `ais-ray show job download {ids[-1]}` to monitor the progress of downloading." in p.stdout
    for job in ids:
        cluster.cli("wait", job, timeout=120)
    # $ ais show job download  -> JOB ID  STATUS  ERRORS  DESCRIPTION
    out = cluster.cli("show", "job", "download", "--all").stdout
    assert out.splitlines()[0].split()[:5] == ["JOB", "ID", "STATUS", "ERRORS", "DESCRIPTION"]
    for job, (lo, hi) in zip(ids, (("0001", "0010"), ("0011", "0020"))):
        row = next(ln for ln in out.splitlines() if ln.startswith(job))
        assert re.search(rf"{job}\s+Finished\s+0\s+\S*train-\{{{lo}\.\.{hi}\}}\.tgz -> ais://{dst}$", row), row
    assert len(cluster.cli("ls", f"ais://{dst}", "--no-headers").stdout.splitlines()) == 20


def _gcs_delete(gcs: object, bucket: str, name: str) -> None:
    q = urllib.parse.quote(name, safe="")
    req = urllib.request.Request(f"{gcs.endpoint}/storage/v1/b/{bucket}/o/{q}", method="DELETE")  # type: ignore[attr-defined]
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def test_seed_003_sync_whole_gcp_bucket(cluster: LocalCluster, gcs: object) -> None:
    remote = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    for i in range(50):
        remote.seed(f"img-{i:03d}.jpg", os.urandom(256 + i))
    copy = f"lpr-vision-copy-{uuid.uuid4().hex[:6]}"
    cluster.cli("create", f"ais://{copy}")

    def count(*args: str) -> int:
        return len(cluster.cli("ls", "--no-headers", *args).stdout.splitlines())

    # $ ais ls --no-headers gcp://lpr-vision | wc -l
    assert count(f"gcp://{remote.bucket}") == 50
    # $ ais bucket props set ais://lpr-vision-copy backend_bck=gcp://lpr-vision
    p = cluster.cli("bucket", "props", "set", f"ais://{copy}", f"backend_bck=gcp://{remote.bucket}")
    assert p.stdout.splitlines() == ["Bucket props successfully updated",
                                     f'"backend_bck.name" set to:"{remote.bucket}" (was:"")',
                                     '"backend_bck.provider" set to:"gcp" (was:"")']
    assert count("--cached", f"ais://{copy}") == 0
    # $ ais start download gs://lpr-vision ais://lpr-vision-copy ; ais wait download ID
    job = started_id(cluster.cli("start", "download", f"gs://{remote.bucket}", f"ais://{copy}").stdout)
    cluster.cli("wait", "download", job, timeout=120)
    assert count("--cached", f"ais://{copy}") == 50
    # remove some objects from gcp://lpr-vision
    for i in range(40, 50):
        _gcs_delete(gcs, remote.bucket, f"img-{i:03d}.jpg")
    assert count(f"gcp://{remote.bucket}") == 40
    assert count("--cached", f"ais://{copy}") == 50
    # $ ais start download --sync gs://lpr-vision ais://lpr-vision-copy ; ais wait download ID
    job = started_id(cluster.cli("start", "download", "--sync", f"gs://{remote.bucket}", f"ais://{copy}").stdout)
    cluster.cli("wait", "download", job, timeout=120)
    assert count("--cached", f"ais://{copy}") == 40
    # $ diff <(ais ls gcp://lpr-vision) <(ais ls --cached ais://lpr-vision-copy) | wc -l   -> 0
    a = cluster.cli("ls", f"gcp://{remote.bucket}").stdout
    b = cluster.cli("ls", "--cached", f"ais://{copy}").stdout
    assert a == b
    assert a.splitlines()[0].split() == ["NAME", "SIZE"]  # CACHED only when informative (a mix; never with --cached)
    cluster.cli("get", f"gcp://{remote.bucket}/img-000.jpg", "-")  # now one object of gcp:// itself is cached
    mixed = cluster.cli("ls", f"gcp://{remote.bucket}").stdout.splitlines()
    assert mixed[0].split() == ["NAME", "SIZE", "CACHED"]
    assert mixed[1].split() == ["img-000.jpg", "256B", "yes"] and mixed[2].split()[2] == "no"
