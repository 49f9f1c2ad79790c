"""Copy, issue 10 item 5: seed 004's command lines verb for verb (s3 -> gs, nothing present
beforehand), and azure -> s3 on the emulators."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
import uuid

from ais_ray.core.names import Provider
from tests.integration.conftest import TARGETS, LocalCluster
from tests.integration.remotes import REMOTES

N = 60


def gcs_read(gcs: object, bucket: str, name: str) -> bytes:
    """An object as the GCS emulator holds it (not through the cluster)."""
    q = urllib.parse.quote(name, safe="")
    with urllib.request.urlopen(f"{gcs.endpoint}/storage/v1/b/{bucket}/o/{q}?alt=media", timeout=10) as r:  # type: ignore[attr-defined]
        return r.read()  # type: ignore[no-any-return]


def test_seed_004_verb_for_verb(cluster: LocalCluster, moto: object, gcs: object) -> None:
    src = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    dst = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    data = {f"img/{i:04d}.jpg": os.urandom(1024) for i in range(N)}
    for n, d in data.items():
        src.seed(n, d)

    p = cluster.cli("ls", "s3")  # $ ais ls s3
    assert src.bucket not in p.stdout
    if "s3://" not in p.stdout:
        assert p.stdout.strip() == ('No "s3://" matching buckets in the cluster. '
                                    "Use '--all' option to list _all_ buckets.")
    p = cluster.cli("ls", "s3", "--all")  # ... Use '--all' option to list _all_ buckets.
    assert re.search(rf"s3://{src.bucket}\s+no", p.stdout), p.stdout
    p = cluster.cli("storage", "summary", f"s3://{src.bucket}", "--all")  # $ ais storage summary s3://src --all
    assert "OBJECTS (cached, remote)" in p.stdout
    assert re.search(rf"s3://{src.bucket}\s+0 {N}\b", p.stdout), p.stdout
    p = cluster.cli("ls", "gs")  # $ ais ls gs
    assert dst.bucket not in p.stdout
    # $ ais cp s3://src gs://dst --progress --refresh 3 --all
    p = cluster.cli("cp", f"s3://{src.bucket}", f"gs://{dst.bucket}", "--progress", "--refresh", "0.3", "--all")
    assert f"{N}/{N}" in p.stdout and "Copied size:" in p.stdout and "100 %" in p.stdout, p.stdout
    for n, d in data.items():
        assert gcs_read(gcs, dst.bucket, n) == d
    p = cluster.cli("ls", "s3")  # read remotely, hence stored: both buckets are in the cluster now
    assert f"s3://{src.bucket}" in p.stdout
    p = cluster.cli("storage", "summary", f"s3://{src.bucket}", "--all")
    assert re.search(rf"s3://{src.bucket}\s+{N} {N}\b", p.stdout), p.stdout
    # the same copy again, in the background: `show job copy-bucket`, `wait`, `stop`
    p = cluster.cli("cp", f"s3://{src.bucket}", f"gs://{dst.bucket}", "--all")
    m = re.search(r"copy-bucket\[([^\]]+)\]", p.stdout)
    assert m, p.stdout
    xid = m.group(1)
    p = cluster.cli("wait", xid)
    assert f"job {xid} finished" in p.stdout
    p = cluster.cli("show", "job", "copy-bucket", "--all")
    assert "SRC BUCKET" in p.stdout and "DST BUCKET" in p.stdout, p.stdout
    rows = [line for line in p.stdout.splitlines() if xid in line]
    assert len(rows) == TARGETS and all(f"s3://{src.bucket}" in r and f"gs://{dst.bucket}" in r for r in rows), p.stdout
    assert sum(int(r.split()[5]) for r in rows) == N  # a re-run skips every object and counts it as done
    p = cluster.cli("show", "job", xid)
    assert "Finished" in p.stdout
    p = cluster.cli("cp", f"s3://{src.bucket}", f"gs://{dst.bucket}", "--all", "--latest")
    xid = re.search(r"copy-bucket\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
    p = cluster.cli("stop", xid)
    assert p.stdout.startswith("stopped")
    p = cluster.cli("show", "job", xid)
    assert "Aborted" in p.stdout or "Finished" in p.stdout, p.stdout  # it may have ended first
    p = cluster.cli("wait", "copy-bucket", "--timeout", "60s", check=False)  # ais `wait KIND`: all of that kind
    # none running by now (0), or the one stopped still ending: then its outcome, the abort, fails the wait
    assert (p.returncode == 0 or (p.returncode == 1 and "was aborted" in p.stderr)) and "Traceback" not in p.stderr, p
    assert not json.loads(cluster.cli("show", "job", "copy-bucket", "--json").stdout)  # none running now


def test_azure_to_s3(cluster: LocalCluster, azurite: object, moto: object) -> None:
    import boto3

    src = REMOTES[Provider.AZURE][0](azurite, None)  # type: ignore[arg-type]
    dst = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {f"a/{i:02d}": os.urandom(3000 + i) for i in range(12)}
    for n, d in data.items():
        src.seed(n, d)
    cluster.cli("cp", f"az://{src.bucket}", f"s3://{dst.bucket}", "--all", "--wait")
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    for n, d in data.items():
        assert s3.get_object(Bucket=dst.bucket, Key=n)["Body"].read() == d
    # a prefix of it again, with a new name in the source: only that one is new
    src.seed("a/new", b"fresh")
    cluster.cli("cp", f"az://{src.bucket}/a/", f"s3://{dst.bucket}", "--all", "--wait")
    assert s3.get_object(Bucket=dst.bucket, Key="a/new")["Body"].read() == b"fresh"
    tag = uuid.uuid4().hex[:6]
    cluster.cli("cp", f"az://{src.bucket}/a/00", f"s3://{dst.bucket}/one-{tag}")  # one object
    assert s3.get_object(Bucket=dst.bucket, Key=f"one-{tag}")["Body"].read() == data["a/00"]
