"""Redundancy for every way an object lands (issue 12): a cold GET, prefetch and blob download
into a remote bucket with EC on, a download job into an ais bucket with EC or a mirror on — each
gets its slices (the write pipeline's commit hook, `MountpathStore.on_commit`) or its mirror
copies (`MountpathStore.replicas`) like a PUT does."""

from __future__ import annotations

import glob
import os
import time
import uuid

import pytest
import requests

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster, Src
from tests.integration.remotes import REMOTES

EC_PROPS = "ec.enabled=true ec.data_slices=1 ec.parity_slices=1 ec.objsize_limit=0"  # 1 data + 1 parity slice
MIRROR_PROPS = "mirror.enabled=true mirror.copies=2"


def _ct_files(cluster: LocalCluster, bck: str, ct: str, name: str) -> list[str]:
    """Files of content type `ct` (`%ec` slices, `%mt` metafiles) of `bck/name` on every disk, any provider."""
    return glob.glob(os.path.join(cluster.data_dir, "**", "@*", bck, ct, name), recursive=True)


def _sliced(cluster: LocalCluster, bck: str, names: list[str], timeout: float = 30) -> None:
    """Every object of `names` has its 2 slices and a metafile next to each and its main (3 in all)."""
    deadline = time.monotonic() + timeout
    missing = names
    while missing:
        missing = [n for n in names if len(_ct_files(cluster, bck, "%ec", n)) != 2
                   or len(_ct_files(cluster, bck, "%mt", n)) != 3]
        assert time.monotonic() < deadline or not missing, f"not erasure-coded: {missing}"
        time.sleep(0.2)


def test_cold_get_prefetch_blob_into_ec_remote_bucket(cluster: LocalCluster, moto: object) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = {f"o-{i}": os.urandom(1000 + 7000 * i) for i in range(6)} | {"big": os.urandom(3 << 20)}
    for n, d in data.items():
        remote.seed(n, d)
    uri = f"s3://{remote.bucket}"
    cluster.cli("bucket", "props", "set", uri, *EC_PROPS.split())
    assert cluster.cli_bytes("get", f"{uri}/o-0", "-") == data["o-0"]  # cold GET
    _sliced(cluster, remote.bucket, ["o-0"])
    cluster.cli("prefetch", uri, "--template", "o-{1..5}", "--wait")
    _sliced(cluster, remote.bucket, [f"o-{i}" for i in range(1, 6)])
    cluster.cli("blob-download", f"{uri}/big", "--chunk-size", "1mb", "--wait")
    _sliced(cluster, remote.bucket, ["big"])
    assert cluster.cli_bytes("get", f"{uri}/big", "-") == data["big"]


@pytest.mark.parametrize("props", [EC_PROPS, MIRROR_PROPS])
def test_download_job_into_redundant_bucket(cluster: LocalCluster, src: Src, props: str) -> None:
    """Into an EC bucket: slices; into a mirrored one: a copy on each of the owner's 2 mountpaths."""
    bck = f"dl-red-{uuid.uuid4().hex[:8]}"
    cluster.cli("create", f"ais://{bck}", "--props", props)
    try:
        files = {f"f{i}.bin": src.put(f"f{i}.bin", os.urandom(500 + 3000 * i)) for i in range(4)}
        r = requests.post(f"{cluster.endpoint}/v1/download", json={
            "type": "range", "bucket": {"name": bck}, "template": src.url("f{0..3}.bin")}, timeout=30)
        assert r.status_code == 200, r.text
        job = str(r.json()["id"])
        deadline = time.monotonic() + 60
        while True:
            st = requests.get(f"{cluster.endpoint}/v1/download", json={"id": job}, timeout=30).json()
            if not st["finished_time"].startswith("0001"):
                break
            assert time.monotonic() < deadline, st
            time.sleep(0.2)
        assert (st["finished_cnt"], st["error_cnt"]) == (len(files), 0), st
        if props == EC_PROPS:
            _sliced(cluster, bck, sorted(files))
        else:
            assert all(len(_ct_files(cluster, bck, "%ob", n)) == 2 for n in files), \
                {n: _ct_files(cluster, bck, "%ob", n) for n in files}
        for n, d in files.items():
            assert cluster.cli_bytes("get", f"ais://{bck}/{n}", "-") == d
    finally:
        requests.delete(f"{cluster.endpoint}/v1/buckets/{bck}", json={"action": "destroy-bck"}, timeout=60)
