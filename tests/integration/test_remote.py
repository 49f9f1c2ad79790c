"""Remote buckets: cold GET, presence, versions, evict, summary, write-through, HTTP buckets."""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from pathlib import Path

import msgpack
import pytest
import requests

from ais_ray.core.names import Provider
from ais_ray.testing.emulators import closed_port
from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import LocalCluster, Src
from tests.integration.remotes import REMOTES, Remote
from tests.integration.test_download import new_bucket
from tests.integration.test_stats import node_status, smap, tracked


@pytest.fixture(params=[Provider.AWS, Provider.GCP, Provider.AZURE], ids=lambda p: p.value)
def remote(request: pytest.FixtureRequest, cluster: LocalCluster) -> Remote:
    factory, fixture = REMOTES[request.param]
    return factory(request.getfixturevalue(fixture), None)  # type: ignore[arg-type]


def ls(cluster: LocalCluster, uri: str, *extra: str) -> list[dict[str, object]]:
    return list(json.loads(cluster.cli("ls", uri, "--json", "--props", "name,size,version", *extra).stdout))


def test_cold_get_presence_and_cli(cluster: LocalCluster, remote: Remote, tmp_path: Path) -> None:
    data = {f"a/{i}.bin": os.urandom(1000 + i) for i in range(5)}
    for n, d in data.items():
        remote.seed(n, d)
    uri = f"{remote.scheme}://{remote.bucket}"
    table = cluster.cli("ls", uri).stdout.splitlines()
    # nothing cached yet: CACHED would say "no" on every row, so it is left out (only shown for a mix, issue 17.2)
    assert table[0].split() == ["NAME", "SIZE"] and len(table) == 7
    show = json.loads(cluster.cli("object", "show", f"{uri}/a/1.bin", "--json").stdout)
    assert show["present"] == "false" and show["size"] == "1001"
    cluster.cli("get", f"{uri}/a/1.bin", str(tmp_path / "1.bin"))
    assert (tmp_path / "1.bin").read_bytes() == data["a/1.bin"]
    table = cluster.cli("ls", uri).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "CACHED"]
    assert [ln.split()[2] for ln in table[1:6]] == ["no", "yes", "no", "no", "no"]
    cached = [e["n"] for e in ls(cluster, uri, "--cached")]
    assert cached == ["a/1.bin"]
    flags = {e["n"]: e["f"] for e in ls(cluster, uri)}
    assert flags["a/1.bin"] == 64 and flags["a/0.bin"] == 0
    # after a name: S3 and GCS seek there (GCS's `startOffset` includes it), Azure walks from the start
    assert [e["n"] for e in ls(cluster, uri, "--start-after", "a/1.bin")] == ["a/2.bin", "a/3.bin", "a/4.bin"]
    r = requests.get(f"{cluster.endpoint}/v1/buckets/{remote.bucket}", params={"provider": remote.provider.value},
                     json={"action": "list", "value": {"start_after": "a/1.bin", "props": "name"}},
                     headers={"Accept": "application/msgpack"}, timeout=60)  # the API's own answer, unfiltered by a client
    assert r.status_code == 200 and [e["n"] for e in msgpack.unpackb(r.content)["Entries"]] == ["a/2.bin", "a/3.bin", "a/4.bin"]
    show = json.loads(cluster.cli("object", "show", f"{uri}/a/1.bin", "--json").stdout)
    assert show["present"] == "true" and show["checksum"].startswith("xxhash2: ")
    listed = sum(tracked(node_status(cluster, t), "remote.lst.n") for t in smap(cluster)["tmap"])
    summary = json.loads(cluster.cli("storage", "summary", uri, "--json").stdout)
    assert summary["ObjCount"] == {"obj_count_present": "1", "obj_count_remote": "5"}
    # the remote side is listed by one target, and counted (`remote.lst`): one page
    assert sum(tracked(node_status(cluster, t), "remote.lst.n") for t in smap(cluster)["tmap"]) - listed == 1
    assert int(summary["TotalSize"]["size_all_remote_objs"]) == sum(map(len, data.values()))
    # evict one object, then the whole bucket
    cluster.cli("evict", f"{uri}/a/1.bin")
    assert ls(cluster, uri, "--cached") == []
    assert cluster.cli_bytes("get", f"{uri}/a/2.bin", "-") == data["a/2.bin"]
    cluster.cli("evict", uri, "--keep-md")
    assert ls(cluster, uri, "--cached") == []
    assert cluster.cli_bytes("get", f"{uri}/a/2.bin", "-") == data["a/2.bin"]  # cold again


def test_sdk_on_each_provider(cluster: LocalCluster, remote: Remote, sdk: object) -> None:
    remote.seed("x/one", b"one")
    remote.seed("x/two", b"two" * 1000)
    b = sdk.bucket(remote.bucket, provider=remote.provider.value)  # type: ignore[attr-defined]
    entries = b.list_all_objects()
    assert [(e.name, e.is_cached()) for e in entries if e.name.startswith("x/")] == [("x/one", False), ("x/two", False)]
    obj = b.object("x/two")
    assert obj.props.present is False
    assert obj.get_reader().read_all() == b"two" * 1000
    assert obj.props.present is True
    assert obj.get_reader(byte_range="bytes=3-5").read_all() == b"two"
    assert [e.name for e in b.list_all_objects() if e.is_cached()] == ["x/two"]


def test_latest_version_and_remote_delete(cluster: LocalCluster, moto: object) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    remote.seed("v", b"version-1")
    uri = f"s3://{remote.bucket}/v"
    assert cluster.cli("get", uri, "-").stdout == "version-1"
    remote.seed("v", b"version-2")
    assert cluster.cli("get", uri, "-").stdout == "version-1"  # the cached copy
    assert cluster.cli("get", uri, "-", "--latest").stdout == "version-2"
    assert cluster.cli("get", uri, "-").stdout == "version-2"
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.delete_object(Bucket=remote.bucket, Key="v")
    assert cluster.cli("get", uri, "-").stdout == "version-2"  # still cached
    p = cluster.cli("get", uri, "-", "--latest", check=False)
    assert p.returncode == 1 and f'"s3://{remote.bucket}/v" does not exist' in p.stderr
    assert ls(cluster, f"s3://{remote.bucket}", "--cached") == []


def test_put_writes_through(cluster: LocalCluster, moto: object, sdk: object) -> None:
    import boto3

    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    b = sdk.bucket(remote.bucket, provider="aws")  # type: ignore[attr-defined]
    b.object("w/new").get_writer().put_content(b"through")
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    assert s3.get_object(Bucket=remote.bucket, Key="w/new")["Body"].read() == b"through"
    assert b.object("w/new").props.present is True
    b.object("w/new").delete()
    assert "Contents" not in s3.list_objects_v2(Bucket=remote.bucket, Prefix="w/")


def test_ais_bucket_over_a_remote_one(cluster: LocalCluster, gcs: object) -> None:
    remote = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    remote.seed("d/1", b"first")
    remote.seed("d/2", b"second")
    bck = new_bucket()
    cluster.cli("create", f"ais://{bck}")
    cluster.cli("bucket", "props", "set", f"ais://{bck}", f"backend_bck=gs://{remote.bucket}")
    assert cluster.cli("get", f"ais://{bck}/d/2", "-").stdout == "second"
    listed = {e["n"]: e["f"] for e in ls(cluster, f"ais://{bck}")}
    assert listed == {"d/1": 0, "d/2": 64}


def test_concurrent_cold_gets_fetch_once(cluster: LocalCluster, src: Src) -> None:
    data = src.put("dir/big.bin", os.urandom(2 << 20))
    src.server.faults = Faults(pacing_rate=2 << 20)  # ~1 s: the GETs overlap
    url = src.url("dir/big.bin")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: cluster.cli_bytes("get", url, "-"), range(8)))
    assert all(o == data for o in outs)
    gets = src.server.stats.requests[f"{src.dir}/dir/big.bin"]
    assert gets <= 2, gets  # one HEAD + one GET at the source, whatever the number of clients


def test_http_bucket_made_on_first_get(cluster: LocalCluster, src: Src, tmp_path: Path) -> None:
    data = src.put("abc/hello-world", b"hello, world\n")
    url = src.url("abc/hello-world")
    out = tmp_path / "hw"
    cluster.cli("get", url, str(out))
    assert out.read_bytes() == data
    hosts = cluster.cli("ls", "ht://").stdout.split()
    ht = [h for h in hosts if h.startswith("ht://")]
    assert ht, hosts
    before = src.server.stats.requests[f"{src.dir}/abc/hello-world"]
    assert cluster.cli("get", url, "-").stdout == data.decode()  # now from the cluster
    assert src.server.stats.requests[f"{src.dir}/abc/hello-world"] == before
    listed = [name for h in ht for name in (e["n"] for e in ls(cluster, h))]
    assert "hello-world" in listed


def test_unreachable_and_missing(cluster: LocalCluster) -> None:
    t0 = time.monotonic()
    p = cluster.cli("get", f"http://127.0.0.1:{closed_port()}/x/y", "-", check=False)
    assert p.returncode == 1 and "cannot reach" in p.stderr and "127.0.0.1" in p.stderr
    assert time.monotonic() - t0 < 30
    p = cluster.cli("ls", "s3://no-such-remote-bucket", check=False)
    assert p.returncode == 1 and 'bucket "s3://no-such-remote-bucket" does not exist' in p.stderr
    r = requests.get(f"{cluster.endpoint}/v1/objects/no-such-remote-bucket/o", params={"provider": "aws"})
    assert r.status_code == 404 and "s3://no-such-remote-bucket" in r.json()["message"]
    p = cluster.cli("rmb", "s3://whatever", check=False)
    assert p.returncode == 1 and "evict" in p.stderr
