"""The blob downloader through the cluster: the job (SDK, CLI), GET with `ais-blob-*` headers, prefetch."""

from __future__ import annotations

import glob
import json
import os
import signal
import time

import pytest
import requests

from ais_ray.core.names import Provider, http_bucket
from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import LocalCluster, Src
from tests.integration.remotes import REMOTES

MiB = 1 << 20


def ht_get(cluster: LocalCluster, url: str, **headers: str) -> requests.Response:
    """GET an http(s) URL through the cluster (its HTTP bucket), optionally with blob headers."""
    bck, _, name = http_bucket(url)
    return requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/{name}", headers=headers,
                        params={"provider": "ht", "original_url": url})


def mountpath_counts(cluster: LocalCluster) -> dict[str, int]:
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()
    out: dict[str, int] = {}
    for t in stats["targets"].values():
        for m in t["mountpaths"]:
            for k, v in m["stats"].items():
                out[k] = out.get(k, 0) + v
    return out


def chunk_dirs(cluster: LocalCluster) -> list[str]:
    return glob.glob(os.path.join(cluster.data_dir, "*", "*", "%ch", "*"))


def test_sdk_blob_download_job(cluster: LocalCluster, moto: object, sdk: object) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = os.urandom(5 * MiB + 12345)
    remote.seed("large.bin", data)
    obj = sdk.bucket(remote.bucket, provider="aws").object("large.bin")  # type: ignore[attr-defined]
    xid = obj.blob_download(chunk_size=MiB, num_workers=4)
    result = sdk.job(job_id=xid).wait(timeout=60, verbose=False)  # type: ignore[attr-defined]
    assert result.success, result
    snaps = sdk.job(job_id=xid).get_details().list_snapshots()  # type: ignore[attr-defined]
    assert [s.kind for s in snaps] == ["blob-download"] and snaps[0].stats.bytes == len(data)
    assert obj.props.present and obj.get_reader().read_all() == data


def test_sdk_get_reader_with_blob_config_and_prefetch_threshold(cluster: LocalCluster, moto: object,
                                                                sdk: object) -> None:
    from aistore.sdk.blob_download_config import BlobDownloadConfig

    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {n: os.urandom(size) for n, size in (("r.bin", 3 * MiB + 5), ("L.bin", 2 * MiB + 1), ("s.bin", 1000))}
    for n, d in data.items():
        remote.seed(n, d)
    b = sdk.bucket(remote.bucket, provider="aws")  # type: ignore[attr-defined]

    before = mountpath_counts(cluster)
    reader = b.object("r.bin").get_reader(blob_download_config=BlobDownloadConfig(chunk_size="1MiB", num_workers="4"))
    assert reader.read_all() == data["r.bin"]
    assert b.object("r.bin").props.present
    # the blob GET path, not a plain cold GET (the SDK sends the ais-blob-* headers)
    assert mountpath_counts(cluster).get("blobget.n", 0) - before.get("blobget.n", 0) == 1

    xid = b.objects(obj_names=["L.bin", "s.bin"]).prefetch(blob_threshold=MiB)
    assert sdk.job(job_id=xid).wait(timeout=60, verbose=False).success  # type: ignore[attr-defined]
    after = mountpath_counts(cluster)
    assert after.get("prefetch.blob.n", 0) - before.get("prefetch.blob.n", 0) == 1  # L.bin
    assert after.get("prefetch.cold.n", 0) - before.get("prefetch.cold.n", 0) == 1  # s.bin
    assert {e.name for e in b.list_all_objects() if e.is_cached()} >= {"r.bin", "L.bin", "s.bin"}
    # the blob work of the prefetch is a blob-download job of its own, as AIStore shows it (issue 17.3)
    table = cluster.cli("show", "job", "blob-download", "--all").stdout
    rows = [ln for ln in table.splitlines() if "blob-download" in ln and f"s3://{remote.bucket}" in ln]
    assert len(rows) == 1 and "Finished" in rows[0] and "2.00MiB" in rows[0], table
    for n in ("L.bin", "s.bin"):
        assert b.object(n).get_reader().read_all() == data[n]


def test_cli_blob_download_list_with_progress(cluster: LocalCluster, gcs: object) -> None:
    remote = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    data = {f"f{i}": os.urandom(2 * MiB + i) for i in range(2)}
    for n, d in data.items():
        remote.seed(n, d)
    uri = f"gs://{remote.bucket}"
    p = cluster.cli("blob-download", uri, "--list", "f0, f1", "--chunk-size", "512KiB", "--num-workers", "4",
                    "--progress", "--refresh", "200ms")
    assert p.stdout.count("blob-download[") == 2 and "downloaded 2 object(s)" in p.stdout, p.stdout
    for n, d in data.items():
        assert cluster.cli_bytes("get", f"{uri}/{n}", "-") == d
    assert "blob-download" in cluster.cli("show", "job", "blob-download", "--all").stdout


def test_get_with_blob_headers_streams_and_stores(cluster: LocalCluster, src: Src) -> None:
    data = src.put("big/obj.bin", os.urandom(6 * MiB + 7))
    src.server.faults = Faults(pacing_rate=8 * MiB)  # per connection: parallel ranges are what make it fast
    r = ht_get(cluster, src.url("big/obj.bin"), **{"ais-blob-download": "true", "ais-blob-chunk": "1MiB",
                                                 "ais-blob-workers": "6"})
    assert r.status_code == 200, r.text
    assert r.content == data
    # parallel readers: a sequential reader would reuse one keep-alive connection
    assert src.server.stats.range_requests >= 6 and src.server.stats.connections >= 4
    before = src.server.stats.requests[f"{src.dir}/big/obj.bin"]
    assert ht_get(cluster, src.url("big/obj.bin")).content == data  # stored: served by the cluster now
    assert src.server.stats.requests[f"{src.dir}/big/obj.bin"] == before
    assert not chunk_dirs(cluster)


@pytest.mark.parametrize(("headers", "message"), [
    ({"ais-blob-chunk": "abc"}, "invalid blob chunk size"),
    ({"ais-blob-workers": "500"}, "invalid blob workers"),
    ({"Range": "bytes=0-10"}, "cannot be combined with a Range"),
])
def test_blob_get_bad_input(cluster: LocalCluster, src: Src, headers: dict[str, str], message: str) -> None:
    src.put("o.bin", os.urandom(1000))
    r = ht_get(cluster, src.url("o.bin"), **{"ais-blob-download": "true", **headers})
    assert r.status_code == 400 and message in r.json()["message"]


def test_blob_get_of_an_ais_bucket_is_400(cluster: LocalCluster) -> None:
    requests.post(f"{cluster.endpoint}/v1/buckets/plain-local", json={"action": "create-bck"})
    requests.put(f"{cluster.endpoint}/v1/objects/plain-local/o", data=b"x")
    r = requests.get(f"{cluster.endpoint}/v1/objects/plain-local/o", headers={"ais-blob-download": "true"})
    assert r.status_code == 400 and "ais bucket" in r.json()["message"]
    r = requests.post(f"{cluster.endpoint}/v1/objects/plain-local",
                      json={"action": "blob-download", "name": "o", "value": {}})
    assert r.status_code == 400


def test_prefetch_threshold_picks_blob_or_plain(cluster: LocalCluster, src: Src) -> None:
    sizes = {"s0": 100_000, "s1": 200_000, "L0": 3 * MiB, "L1": 3 * MiB + 1}
    data = {n: src.put(n, os.urandom(size)) for n, size in sizes.items()}
    bck, _, _ = http_bucket(src.url("s0"))
    assert ht_get(cluster, src.url("s0")).content == data["s0"]  # makes the HTTP bucket
    before = mountpath_counts(cluster)
    p = cluster.cli("prefetch", f"ht://{bck.name}", "--list", "s1,L0,L1", "--blob-threshold", "1MiB", "--wait")
    assert "finished" in p.stdout, p.stdout + p.stderr
    after = mountpath_counts(cluster)
    assert after.get("prefetch.blob.n", 0) - before.get("prefetch.blob.n", 0) == 2  # L0, L1
    assert after.get("prefetch.cold.n", 0) - before.get("prefetch.cold.n", 0) == 1  # s1
    cached = {e["n"] for e in json.loads(cluster.cli("ls", f"ht://{bck.name}", "--json").stdout)}
    assert {"s0", "s1", "L0", "L1"} <= cached
    for n in ("L0", "L1", "s1"):
        assert ht_get(cluster, src.url(n)).content == data[n]


def test_abort_leaves_nothing(cluster: LocalCluster, src: Src) -> None:
    src.put("slow.bin", os.urandom(8 * MiB))
    bck, _, _ = http_bucket(src.url("slow.bin"))
    ht_get(cluster, src.url("slow.bin"), Range="bytes=0-0")  # makes the HTTP bucket (and caches the object)
    cluster.cli("evict", f"ht://{bck.name}", "--keep-md")
    src.server.faults = Faults(pacing_rate=256 << 10)  # the blob download only: the cold GET above fetched it all
    xid = cluster.cli("blob-download", f"ht://{bck.name}/slow.bin", "--num-workers", "2").stdout.split("[")[1].split("]")[0]
    deadline = time.monotonic() + 30
    while not chunk_dirs(cluster):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cluster.cli("stop", xid)
    deadline = time.monotonic() + 30
    while chunk_dirs(cluster):
        assert time.monotonic() < deadline, chunk_dirs(cluster)
        time.sleep(0.1)
    assert "Aborted" in cluster.cli("show", "job", xid).stdout
    assert json.loads(cluster.cli("ls", f"ht://{bck.name}", "--json").stdout) == []


def test_resumes_after_the_mountpath_dies(cluster: LocalCluster, src: Src) -> None:
    size = 8 * MiB
    data = src.put("resume.bin", os.urandom(size))
    bck, _, _ = http_bucket(src.url("resume.bin"))
    assert ht_get(cluster, src.url("resume.bin"), Range="bytes=0-0").status_code == 206
    cluster.cli("evict", f"ht://{bck.name}", "--keep-md")
    src.server.reset()
    src.server.faults = Faults(pacing_rate=256 << 10)  # 4 workers: ~8 s (the cold GET above fetched it all, unpaced)
    xid = cluster.cli("blob-download", f"ht://{bck.name}/resume.bin", "--num-workers", "4", "--chunk-size", "512KiB"
                      ).stdout.split("[")[1].split("]")[0]
    deadline = time.monotonic() + 30
    done = 0
    while done < size // 4:
        assert time.monotonic() < deadline
        snaps = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid}).json()
        done = sum(int(s["stats"]["loc-bytes"]) for ss in snaps.values() for s in ss)
        time.sleep(0.1)
    location = None
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}).json()
    for t in stats["targets"].values():
        for m in t["mountpaths"]:
            if glob.glob(os.path.join(m["path"], "%ch", "*")):
                location = m
    assert location is not None
    os.kill(location["pid"], signal.SIGKILL)
    assert cluster.cli("wait", xid, "--timeout", "60s").returncode == 0
    assert ht_get(cluster, src.url("resume.bin")).content == data
    served = src.server.stats.bytes_sent
    assert served < 2 * size, served  # chunks stored before the crash were not fetched again
