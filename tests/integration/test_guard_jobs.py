"""Issue 15 items 6, 8 and 9: set-bprops checks its backend, downloads are bounded in time,
a blob download that failed for good leaves nothing behind."""

from __future__ import annotations

import glob
import json
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from ais_ray.core.blob import BlobParams
from ais_ray.core.dload import DEFAULT_TIMEOUT, READ_IDLE_TIMEOUT, object_timeout
from ais_ray.core.errors import ErrBackend, ErrTimeout
from ais_ray.core.names import http_bucket
from ais_ray.core.sizes import MIB
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.dl_source import Sources
from ais_ray.testing.httpsrc import Faults, HttpSrc
from tests.integration.blobs import Src, fetch, fresh_src, leftovers, run, temp_store
from tests.integration.conftest import LocalCluster


@pytest.fixture()
def bsrc(httpsrc: HttpSrc) -> Iterator[Src]:
    yield from fresh_src(httpsrc)


@pytest.fixture()
def ais_bck(cluster: LocalCluster) -> Iterator[str]:
    name = f"guard-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "create-bck"}).status_code == 200
    yield name
    requests.delete(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "destroy-bck"})


def set_backend(cluster: LocalCluster, bck: str, backend: object) -> requests.Response:
    return requests.patch(f"{cluster.endpoint}/v1/buckets/{bck}",
                          json={"action": "set-bprops", "value": {"backend_bck": backend}}, timeout=60)


def backend_of(cluster: LocalCluster, bck: str) -> str:
    """The name of the bucket's backend ("" for none), from its HEAD props."""
    r = requests.head(f"{cluster.endpoint}/v1/buckets/{bck}", timeout=30)
    return str((json.loads(r.headers["Ais-Bucket-Props"]).get("backend_bck") or {}).get("name") or "")


# ---- item 6 ----

@pytest.mark.parametrize("backend", [{"name": 5, "provider": "aws"}, {"name": "b", "provider": 5}, "s3://b",
                                     {"name": "b", "provider": "nope"}, {"name": "b", "provider": "ht"}])
def test_set_bprops_bad_backend_types_are_400(cluster: LocalCluster, ais_bck: str, backend: object) -> None:
    r = set_backend(cluster, ais_bck, backend)
    assert r.status_code == 400, r.text
    assert not backend_of(cluster, ais_bck)


@pytest.mark.parametrize("provider", ["aws", "gcp", "azure"])
def test_set_bprops_missing_remote_is_refused_before_commit(cluster: LocalCluster, ais_bck: str,
                                                            provider: str) -> None:
    r = set_backend(cluster, ais_bck, {"name": f"no-such-{uuid.uuid4().hex[:8]}", "provider": provider})
    assert r.status_code == 404, r.text
    assert not backend_of(cluster, ais_bck)  # the BMD did not change
    r = requests.get(f"{cluster.endpoint}/v1/buckets/{ais_bck}", json={"action": "list"}, timeout=30)
    assert r.status_code == 200  # and listing still works (no 502 from a phantom backend)


def test_set_bprops_existing_remote(cluster: LocalCluster, ais_bck: str, moto: object) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    name = f"be-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    r = set_backend(cluster, ais_bck, {"name": name, "provider": "aws"})
    assert r.status_code == 200, r.text
    assert backend_of(cluster, ais_bck) == name


# ---- item 8 ----

def test_download_timeouts_default() -> None:
    assert object_timeout(0) == DEFAULT_TIMEOUT == 3600.0  # Go downloader.timeout
    assert object_timeout(5.0) == 5.0 and READ_IDLE_TIMEOUT == 60.0


@pytest.mark.parametrize("fault,timeout", [(Faults(first_byte_delay=30.0), 0.0),  # stalled: the read-idle bound
                                           (Faults(pacing_rate=64 << 10), 1.0)])  # trickling: the total bound
def test_stalled_source_times_out(bsrc: Src, fault: Faults, timeout: float) -> None:
    bsrc.put("slow", 4 * MIB)
    bsrc.server.faults = fault

    async def main() -> None:
        sources = Sources(read_idle=1.0)
        try:
            async with sources.open(bsrc.url("slow"), {}, timeout) as (_, body):
                async for _ in body:
                    pass
        finally:
            await sources.aclose()

    t0 = time.monotonic()
    with pytest.raises(ErrTimeout):
        run(main())
    assert time.monotonic() - t0 < 10


# ---- item 9 ----

def test_engine_failed_for_good_leaves_nothing(bsrc: Src, tmp_path: object) -> None:
    store: MountpathStore = temp_store(tmp_path)  # type: ignore[arg-type]
    bsrc.put("o", 4 * MIB)
    bsrc.server.faults = Faults(fail_ranges={bsrc.path("o"): 10**9})
    with pytest.raises(ErrBackend):
        run(fetch(store, bsrc, "o", BlobParams(MIB, 2), attempts=2, keep_failed=False))
    assert leftovers(store) == ([], [])


def test_blob_download_job_failed_for_good_leaves_nothing(cluster: LocalCluster, bsrc: Src) -> None:
    bsrc.put("small", 1000)
    bsrc.put("big", 6 * MIB)
    bck, _, _ = http_bucket(bsrc.url("small"))
    r = requests.get(f"{cluster.endpoint}/v1/objects/{bck.name}/small",
                     params={"provider": "ht", "original_url": bsrc.url("small")}, timeout=60)
    assert r.status_code == 200  # the HTTP bucket exists now
    bsrc.server.faults = Faults(fail_ranges={bsrc.path("big"): 10**9})  # every range answers 500
    before = set(glob.glob(os.path.join(cluster.data_dir, "*", "*", "%ch", "*")))
    r = requests.post(f"{cluster.endpoint}/v1/objects/{bck.name}", params={"provider": "ht"},
                      json={"action": "blob-download", "name": "big", "value": {"chunk-size": "1MiB",
                                                                               "num-workers": 2}}, timeout=60)
    assert r.status_code == 200, r.text
    xid = r.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": xid},
                          timeout=30).json()
        if st.get("end_time"):
            break
        time.sleep(0.5)
    assert st.get("err"), st  # the job failed
    after = set(glob.glob(os.path.join(cluster.data_dir, "*", "*", "%ch", "*")))
    assert after - before == set()  # no partial file, no manifest
