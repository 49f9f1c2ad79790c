"""Jobs through `/v1/cluster` (what the SDK's `client.job()` speaks): status, details, wait, stop."""

from __future__ import annotations

import os

import pytest
import requests
from aistore.sdk.errors import AISError

from tests.integration.conftest import LocalCluster, Src
from tests.integration.test_download import new_bucket, start


def test_sdk_waits_for_a_download_job(cluster: LocalCluster, sdk: object, src: Src) -> None:
    for i in range(4):
        src.put(f"j{i}", os.urandom(1000))
    job_id = start(cluster, type="range", bucket={"name": new_bucket()}, template=src.url("j{0..3}"))
    job = sdk.job(job_id)  # type: ignore[attr-defined]
    result = job.wait(timeout=30, verbose=False)
    assert result.success, result
    details = job.get_details()
    snaps = details.list_snapshots()
    assert snaps and all(s.kind == "download" and s.is_idle for s in snaps)
    assert sum(s.stats.objects for s in snaps) == 4
    status = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"},
                          json={"ID": job_id, "Kind": ""}).json()
    assert status["uuid"] == job_id and status["end_time"] > 0 and not status["aborted"]


def test_unknown_job_is_404(cluster: LocalCluster, sdk: object) -> None:
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": "nope-123456789"})
    assert r.status_code == 404
    with pytest.raises(AISError):
        sdk.job("nope-123456789").status()  # type: ignore[attr-defined]
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "bogus"})
    assert r.status_code == 400


def test_running_and_all_listings(cluster: LocalCluster) -> None:
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status_all"}, json={"kind": "download"})
    assert r.status_code == 200
    assert all(s["kind"] == "download" for s in r.json() or [])
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "running_all"}, json={"show_active": True})
    assert r.status_code == 200 and isinstance(r.json(), list)
