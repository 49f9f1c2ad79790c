"""The Internet downloader over the REST API: job types, sources, skip, errors, limits, abort."""

from __future__ import annotations

import glob
import os
import time
import uuid
from typing import Any

import pytest
import requests
import xxhash

from ais_ray.testing.emulators import closed_port
from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import TARGETS, LocalCluster, Src


def new_bucket() -> str:
    return f"dl-{uuid.uuid4().hex[:8]}"


def start(cluster: LocalCluster, **body: Any) -> str:
    r = requests.post(f"{cluster.endpoint}/v1/download", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def status(cluster: LocalCluster, job_id: str, **extra: Any) -> dict[str, Any]:
    r = requests.get(f"{cluster.endpoint}/v1/download", json={"id": job_id, **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait(cluster: LocalCluster, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = status(cluster, job_id)
        if not st["finished_time"].startswith("0001"):
            return st
        time.sleep(0.2)
    raise AssertionError(f"{job_id} not finished after {timeout}s: {status(cluster, job_id, only_active_tasks=True)}")


def get(cluster: LocalCluster, bucket: str, name: str, provider: str = "ais") -> requests.Response:
    return requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/{name}", params={"provider": provider})


def names(cluster: LocalCluster, bucket: str) -> list[str]:
    import msgpack

    r = requests.get(f"{cluster.endpoint}/v1/buckets/{bucket}", json={"action": "list", "value": {"props": "name", "flags": "1"}})  # cached only
    assert r.status_code == 200, r.text
    return [e["n"] for e in msgpack.unpackb(r.content)["Entries"] or []]


def no_work_files(cluster: LocalCluster) -> bool:
    return not glob.glob(os.path.join(cluster.data_dir, "*", "*", "%wk", "*"))


def test_range_download_then_skip(cluster: LocalCluster, src: Src) -> None:
    sizes = [0, 1, 4095, 4096, 3 * (1 << 20) + 7] + [1000 + 37 * i for i in range(15)]
    data = {f"shard-{i:03d}.tar": src.put(f"shard-{i:03d}.tar", os.urandom(n)) for i, n in enumerate(sizes)}
    b = new_bucket()  # not created: the downloader creates it
    job = start(cluster, type="range", bucket={"name": b}, template=src.url("shard-{000..024}.tar"), subdir="train/")
    st = wait(cluster, job)
    assert (st["total"], st["finished_cnt"], st["error_cnt"], st["skipped_cnt"]) == (25, 20, 5, 0)
    assert st["all_dispatched"] and not st["aborted"] and st["scheduled_cnt"] == 25
    assert sorted(e["name"] for e in st["download_errors"]) == [f"train/shard-{i:03d}.tar" for i in range(20, 25)]
    assert all("does not exist" in e["error"] for e in st["download_errors"])
    assert len(st["finished_tasks"]) == 20
    assert names(cluster, b) == sorted(f"train/{n}" for n in data)
    for n, d in data.items():
        assert get(cluster, b, f"train/{n}").content == d
    # the same job again: nothing changed at the source, nothing is downloaded
    before = {n: requests.head(f"{cluster.endpoint}/v1/objects/{b}/train/{n}", allow_redirects=True).headers["ais-version"]
              for n in data}
    st2 = wait(cluster, start(cluster, type="range", bucket={"name": b}, template=src.url("shard-{000..019}.tar"),
                              subdir="train"))
    assert (st2["finished_cnt"], st2["skipped_cnt"], st2["error_cnt"]) == (0, 20, 0)
    after = {n: requests.head(f"{cluster.endpoint}/v1/objects/{b}/train/{n}", allow_redirects=True).headers["ais-version"]
             for n in data}
    assert before == after
    # one source file changes: only it is fetched again (new version)
    data["shard-003.tar"] = src.put("shard-003.tar", os.urandom(5000))
    st3 = wait(cluster, start(cluster, type="range", bucket={"name": b}, template=src.url("shard-{000..019}.tar"),
                              subdir="train"))
    assert (st3["finished_cnt"], st3["skipped_cnt"]) == (1, 19)
    assert get(cluster, b, "train/shard-003.tar").content == data["shard-003.tar"]
    assert no_work_files(cluster)


def test_single_and_multi(cluster: LocalCluster, src: Src) -> None:
    a, b2, c = src.put("dir/a.bin", b"a" * 100), src.put("dir/b.bin", b"bb"), src.put("c.bin", os.urandom(10_000))
    bck = new_bucket()
    st = wait(cluster, start(cluster, type="single", bucket={"name": bck}, link=src.url("dir/a.bin"), object_name="x/renamed"))
    assert st["finished_cnt"] == 1 and get(cluster, bck, "x/renamed").content == a
    no_scheme = src.url("c.bin").removeprefix("http://")
    st = wait(cluster, start(cluster, type="multi", bucket={"name": bck},
                             objects=[src.url("dir/b.bin") + "?sig=abc&x=/y", no_scheme]))
    assert st["finished_cnt"] == 2, st
    assert get(cluster, bck, "b.bin").content == b2 and get(cluster, bck, "c.bin").content == c
    st = wait(cluster, start(cluster, type="multi", bucket={"name": bck},
                             objects={"m/one": src.url("dir/a.bin"), "m/two": src.url("c.bin")}))
    assert st["finished_cnt"] == 2 and get(cluster, bck, "m/two").content == c


def test_failing_sources_are_per_object_errors(cluster: LocalCluster, src: Src) -> None:
    good = src.put("good.bin", os.urandom(200_000))
    src.put("err/x.bin", os.urandom(10))
    src.put("reset/big.bin", os.urandom(2 << 20))
    src.server.faults = Faults(error_prefixes=[f"{src.dir}/err/"], reset_prefixes=[f"{src.dir}/reset/"])
    bck = new_bucket()
    links = {"good": src.url("good.bin"), "e500": src.url("err/x.bin"), "reset": src.url("reset/big.bin"),
             "missing": src.url("nope.bin"), "refused": f"http://127.0.0.1:{closed_port()}/x.bin"}
    st = wait(cluster, start(cluster, type="multi", bucket={"name": bck}, objects=links))
    assert st["finished_cnt"] == 1 and st["error_cnt"] == 4
    errors = {e["name"]: e["error"] for e in st["download_errors"]}
    assert "500" in errors["e500"] and "does not exist" in errors["missing"]
    assert "cannot reach" in errors["refused"] and errors["reset"]
    assert names(cluster, bck) == ["good"] and get(cluster, bck, "good").content == good
    # 5xx and resets were retried, 404 was not
    stats = src.server.stats
    assert stats.requests[f"{src.dir}/err/x.bin"] >= 3
    assert stats.requests[f"{src.dir}/reset/big.bin"] >= 3
    assert stats.requests[f"{src.dir}/nope.bin"] == 1
    assert no_work_files(cluster)


def test_connection_limit_is_observed(cluster: LocalCluster, src: Src) -> None:
    for i in range(12):
        src.put(f"f{i:02d}", os.urandom(256 << 10))
    src.server.faults = Faults(pacing_rate=512 << 10)  # ~0.5 s per object
    bck = new_bucket()
    job = start(cluster, type="range", bucket={"name": bck}, template=src.url("f{00..11}"), limits={"connections": 1})
    most = 0
    while True:
        st = status(cluster, job, only_active_tasks=True)
        most = max(most, len(st["current_tasks"]))
        if not st["finished_time"].startswith("0001"):
            break
        time.sleep(0.05)
    assert st["finished_cnt"] == 12
    assert 1 <= most <= TARGETS  # one per target
    assert src.server.stats.max_concurrent <= TARGETS


def test_byte_rate_limit_is_observed(cluster: LocalCluster, src: Src) -> None:
    for i in range(6):
        src.put(f"r{i}", os.urandom(1 << 20))
    bck = new_bucket()
    bph = 2 * (1 << 20) * 3600  # 2 MiB/s for the whole cluster
    t0 = time.monotonic()
    st = wait(cluster, start(cluster, type="range", bucket={"name": bck}, template=src.url("r{0..5}"),
                             limits={"bytes_per_hour": bph}))
    elapsed = time.monotonic() - t0
    assert st["finished_cnt"] == 6
    # 6 MiB at 2 MiB/s, minus the one-second bursts the mountpaths' buckets start with (2 MiB in all)
    assert elapsed >= 1.5, elapsed


def test_abort_leaves_no_partial_objects(cluster: LocalCluster, src: Src) -> None:
    sizes = {f"big{i}": 1 << 20 for i in range(8)}
    for n, size in sizes.items():
        src.put(n, os.urandom(size))
    src.server.faults = Faults(pacing_rate=128 << 10)  # ~8 s per object
    bck = new_bucket()
    job = start(cluster, type="range", bucket={"name": bck}, template=src.url("big{0..7}"))
    deadline = time.monotonic() + 20
    while not any(int(t["downloaded"]) > 0 for t in status(cluster, job, only_active_tasks=True)["current_tasks"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert requests.delete(f"{cluster.endpoint}/v1/download/abort", json={"id": job}).status_code == 200
    st = wait(cluster, job, timeout=30)
    assert st["aborted"] and st["current_tasks"] == []
    assert names(cluster, bck) == []  # nothing half-visible
    deadline = time.monotonic() + 10
    while not no_work_files(cluster):
        assert time.monotonic() < deadline, "work files left behind"
        time.sleep(0.1)
    assert requests.delete(f"{cluster.endpoint}/v1/download/remove", json={"id": job}).status_code == 200
    assert requests.get(f"{cluster.endpoint}/v1/download", json={"id": job}).status_code == 404


def test_destroying_the_bucket_aborts_its_download(cluster: LocalCluster, src: Src) -> None:
    """A bucket destroyed under a running download: the job is aborted, and a new bucket of the same
    name gets none of its objects (they appeared there: the job wrote on)."""
    for i in range(6):
        src.put(f"rm{i}", os.urandom(1 << 20))
    src.server.faults = Faults(pacing_rate=128 << 10)  # ~8 s per object (past the first window's burst)
    bck = new_bucket()
    job = start(cluster, type="range", bucket={"name": bck}, template=src.url("rm{0..5}"))
    deadline = time.monotonic() + 30
    while not status(cluster, job, only_active_tasks=True)["current_tasks"]:  # under way
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = requests.delete(f"{cluster.endpoint}/v1/buckets/{bck}", json={"action": "destroy-bck"}, timeout=60)
    assert r.status_code == 200, r.text
    assert wait(cluster, job, timeout=30)["aborted"]
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{bck}", json={"action": "create-bck"}).status_code == 200
    time.sleep(9)  # longer than one object takes at this pace
    assert names(cluster, bck) == []


def test_remove_running_job_is_400_and_list_filters(cluster: LocalCluster, src: Src) -> None:
    src.put("slow", os.urandom(512 << 10))
    src.server.faults = Faults(pacing_rate=64 << 10)
    bck = new_bucket()
    desc = f"slow-one-{uuid.uuid4().hex[:6]}"
    job = start(cluster, type="single", bucket={"name": bck}, link=src.url("slow"), description=desc)
    r = requests.delete(f"{cluster.endpoint}/v1/download/remove", json={"id": job})
    assert r.status_code == 400 and "still running" in r.json()["message"]
    listed = requests.get(f"{cluster.endpoint}/v1/download", json={"regex": f"^{desc}$"}).json()
    assert [j["id"] for j in listed] == [job]
    assert requests.delete(f"{cluster.endpoint}/v1/download/abort", json={"id": job}).status_code == 200
    wait(cluster, job)
    assert requests.delete(f"{cluster.endpoint}/v1/download/remove", json={"id": job}).status_code == 200
    assert requests.get(f"{cluster.endpoint}/v1/download", json={"regex": f"^{desc}$"}).json() == []
    r = requests.delete(f"{cluster.endpoint}/v1/download/abort", json={"id": "dnl-nope12345"})
    assert r.status_code == 404


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "range", "template": "h/a-{5..1}"}, "greater than end"),
    ({"type": "range", "template": "h/a-{a..z}"}, "not a valid integer"),
    ({"type": "range", "template": "h/a-{1..5"}, "unbalanced"),
    ({"type": "range", "template": "h/a-{1..5..0}"}, "step 0"),
    ({"type": "range", "template": "h/no-range"}, "range"),
    ({"type": "multi", "objects": []}, "empty"),
    ({"type": "multi", "objects": {"../x": "http://h/a"}}, "is invalid"),
    ({"type": "single", "link": "ftp://h/a"}, "unsupported link scheme"),
    ({"type": "single", "link": ""}, "empty link"),
    ({"type": "single", "link": "http://h/a", "limits": {"connections": -1}}, "negative"),
    ({"type": "single", "link": "http://h/a", "limits": {"bytes_per_hour": -5}}, "negative"),
    ({"type": "single", "link": "http://h/a", "timeout": "xyz"}, "invalid duration"),
    ({"type": "bogus"}, "type"),
    ({"type": "backend"}, "does not exist"),  # 404: a backend download needs an existing bucket
])
def test_bad_requests(cluster: LocalCluster, body: dict[str, Any], message: str) -> None:
    bck = new_bucket()
    r = requests.post(f"{cluster.endpoint}/v1/download", json={"bucket": {"name": bck}, **body})
    assert r.status_code == (404 if body["type"] == "backend" else 400), r.text
    assert message in r.json()["message"]
    assert bck not in [x["name"] for x in requests.get(f"{cluster.endpoint}/v1/buckets").json()]


def test_backend_download_needs_a_remote_source(cluster: LocalCluster) -> None:
    bck = new_bucket()
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{bck}", json={"action": "create-bck"}).status_code == 200
    r = requests.post(f"{cluster.endpoint}/v1/download", json={"type": "backend", "bucket": {"name": bck}})
    assert r.status_code == 400 and "not a remote bucket" in r.json()["message"]


def test_bad_destination_names(cluster: LocalCluster) -> None:
    for bad in ("b*d", "a/b", ""):
        r = requests.post(f"{cluster.endpoint}/v1/download", json={"type": "single", "bucket": {"name": bad},
                                                                 "link": "http://h/a"})
        assert r.status_code == 400, (bad, r.text)


def test_large_objects_are_read_as_parallel_ranges(cluster: LocalCluster, src: Src) -> None:
    """Objects of 32 MiB and more: the blob engine's ranges, unless the job has limits; abort leaves nothing."""
    data = src.put("huge/L.bin", os.urandom((40 << 20) + 7))
    src.server.faults = Faults(pacing_rate=32 << 20)
    ranges = src.server.stats.range_requests
    bck = new_bucket()
    st = wait(cluster, start(cluster, type="single", bucket={"name": bck}, link=src.url("huge/L.bin"), object_name="L"))
    assert st["finished_cnt"] == 1 and st["error_cnt"] == 0, st
    assert src.server.stats.range_requests - ranges >= 5  # 8 MiB chunks
    assert get(cluster, bck, "L").content == data

    ranges = src.server.stats.range_requests
    st = wait(cluster, start(cluster, type="single", bucket={"name": bck}, link=src.url("huge/L.bin"),
                             object_name="L1", limits={"connections": 1}))
    assert st["finished_cnt"] == 1 and src.server.stats.range_requests == ranges  # one stream
    assert get(cluster, bck, "L1").content == data

    src.server.faults = Faults(pacing_rate=1 << 20)  # ~10 s for 4 ranges of the first 40 MiB
    job = start(cluster, type="single", bucket={"name": bck}, link=src.url("huge/L.bin"), object_name="L2")
    deadline = time.monotonic() + 20
    while not any(int(t["downloaded"]) > 0 for t in status(cluster, job, only_active_tasks=True)["current_tasks"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert requests.delete(f"{cluster.endpoint}/v1/download/abort", json={"id": job}).status_code == 200
    assert wait(cluster, job, timeout=30)["aborted"]
    assert "L2" not in names(cluster, bck)
    deadline = time.monotonic() + 10
    while not no_work_files(cluster) or glob.glob(os.path.join(cluster.data_dir, "*", "*", "%ch", "*")):
        assert time.monotonic() < deadline, "work or chunk files left behind"
        time.sleep(0.1)


@pytest.mark.parametrize("mode", ["object", "batch", "off"])
def test_every_fsync_mode_stores_every_object_whole(cluster: LocalCluster, src: Src, mode: str) -> None:
    """`fsync`: one fsync per object, one syncfs per batch (the group commit, the default) or none:
    either way every object is complete, with its checksum, and nothing is left half-written."""
    data = {f"fs-{mode}-{i:03d}": src.put(f"fs-{mode}-{i:03d}", os.urandom(1000 + 97 * i)) for i in range(150)}
    data[f"fs-{mode}-big"] = src.put(f"fs-{mode}-big", os.urandom(3 * (1 << 20) + 5))  # over WRITE_BATCH: streamed
    b = new_bucket()
    job = start(cluster, type="multi", bucket={"name": b}, objects=[src.url(n) for n in data], fsync=mode)
    st = wait(cluster, job)
    assert (st["finished_cnt"], st["error_cnt"]) == (len(data), 0), st.get("download_errors")
    assert names(cluster, b) == sorted(data)
    for n, d in data.items():
        r = get(cluster, b, n)
        assert r.content == d and r.headers["ais-checksum-value"] == xxhash.xxh64(d, seed=0).hexdigest()
    assert no_work_files(cluster)


def test_a_bad_fsync_mode_is_400(cluster: LocalCluster, src: Src) -> None:
    r = requests.post(f"{cluster.endpoint}/v1/download", json={"type": "single", "bucket": {"name": new_bucket()},
                                                               "link": src.url("x"), "fsync": "sometimes"})
    assert r.status_code == 400 and "fsync" in r.json()["message"]
