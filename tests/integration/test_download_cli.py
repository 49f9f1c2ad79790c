"""`ais-ray start download` / `show job download` / `wait` / `stop` / `job rm`, as a user types them."""

from __future__ import annotations

import json
import os
import re
import time

from ais_ray.testing.httpsrc import Faults
from tests.integration.conftest import LocalCluster, Src
from tests.integration.test_download import get, names, new_bucket


def test_progress_then_show(cluster: LocalCluster, src: Src) -> None:
    data = {f"train-{i:03d}.tgz": src.put(f"imagenet/train-{i:03d}.tgz", os.urandom(300_000 + i)) for i in range(6)}
    src.server.faults = Faults(pacing_rate=1 << 20)  # slow enough to see bars
    b = new_bucket()
    p = cluster.cli("start", "download", src.url("imagenet/train-{000..005}.tgz"), f"ais://{b}/imagenet/", "--progress",
                    "--progress-interval", "200ms")
    job = p.stdout.splitlines()[0]
    assert re.fullmatch(r"dnl-[A-Za-z0-9_-]{9,}", job), p.stdout
    # off a terminal: one summary line per change, not every bar again (issue 17.4); the last one is complete
    progress = [ln for ln in p.stdout.splitlines() if ln.startswith("Download progress:")]
    assert progress and progress[-1] == "Download progress: 6/6 (100.00%)", p.stdout
    assert len(progress) == len(set(progress)) and "[" not in p.stdout, p.stdout
    assert "All files successfully downloaded." in p.stdout
    assert names(cluster, b) == sorted(f"imagenet/{n}" for n in data)
    assert get(cluster, b, "imagenet/train-002.tgz").content == data["train-002.tgz"]

    table = cluster.cli("show", "job", "download").stdout
    assert re.search(rf"^{job}\s+Finished\s+0\s+", table, re.M), table
    assert cluster.cli("show", "job", "download", job).stdout.startswith("Done: 6 files downloaded, 0 errors")
    desc = cluster.cli("show", "job", "download", "--regex", re.escape(src.dir)).stdout
    assert job in desc
    # the all-kinds table (one row per target): OBJECTS and BYTES of what was downloaded
    parts = json.loads(cluster.cli("show", "job", "--all", "--json").stdout)
    stats = [s["stats"] for snaps in parts.values() for s in snaps if s["id"] == job]
    assert sum(int(s["loc-objs"]) for s in stats) == 6
    assert sum(int(s["loc-bytes"]) for s in stats) == sum(300_000 + i for i in range(6))


def test_errors_exit_1_and_are_listed(cluster: LocalCluster, src: Src) -> None:
    src.put("ok.bin", b"ok")
    b = new_bucket()
    p = cluster.cli("start", "download", src.url("{ok,no}.bin").replace("{ok,no}", "x{0..1}"), f"ais://{b}", "--wait",
                    check=False)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "2 of 2 objects failed" in p.stderr
    job = p.stdout.splitlines()[0]
    v = cluster.cli("show", "job", "download", job, "-v").stdout
    assert "Errors:" in v and "x0.bin: " in v and "does not exist" in v
    ok = cluster.cli("start", "download", src.url("ok.bin"), f"ais://{b}/renamed.bin", "--wait")
    assert "All files successfully downloaded." in ok.stdout
    assert names(cluster, b) == ["renamed.bin"]


def test_stop_wait_and_rm(cluster: LocalCluster, src: Src) -> None:
    src.put("slow.bin", os.urandom(1 << 20))
    src.server.faults = Faults(pacing_rate=64 << 10)  # ~16 s
    b = new_bucket()
    job = cluster.cli("start", "download", src.url("slow.bin"), f"ais://{b}").stdout.splitlines()[0]
    p = cluster.cli("wait", "download", job, "--timeout", "1s", check=False)
    assert p.returncode == 1 and "timed out" in p.stderr
    p = cluster.cli("job", "rm", "download", job, check=False)
    assert p.returncode == 1 and "still running" in p.stderr
    cluster.cli("stop", "download", job)
    deadline = time.monotonic() + 30
    while "Aborted" not in cluster.cli("show", "job", "download", job).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    cluster.cli("job", "rm", "download", job)
    p = cluster.cli("show", "job", "download", job, check=False)
    assert p.returncode == 1 and f'job "{job}" not found' in p.stderr
    assert names(cluster, b) == []


def test_bad_source_is_one_line(cluster: LocalCluster) -> None:
    for src_arg, message in (("http://h/x-{5..1}.tgz", "greater than end"), ("ftp://h/x", "ftp"),
                             ("gs://", "missing bucket name")):
        p = cluster.cli("start", "download", src_arg, "ais://whatever", check=False)
        assert p.returncode == 1 and message in p.stderr and "Traceback" not in p.stderr, (src_arg, p.stderr)


def test_download_from_another_ais_cluster(cluster: LocalCluster, tmp_path: object) -> None:
    """`ais://host:port/bucket/...` sources: any AIS-compatible cluster (here: this one)."""
    import requests

    src_bck = new_bucket()
    data = {f"train-{i:04d}.tgz": os.urandom(3000 + i) for i in range(22, 26)}
    requests.post(f"{cluster.endpoint}/v1/buckets/{src_bck}", json={"action": "create-bck"})
    for n, d in data.items():
        assert requests.put(f"{cluster.endpoint}/v1/objects/{src_bck}/{n}", data=d).status_code == 200
    dst = new_bucket()
    host = cluster.endpoint.removeprefix("http://")
    p = cluster.cli("start", "download", f"ais://{host}/{src_bck}/train-{{0022..0025}}.tgz", f"ais://{dst}/set_1/",
                    "--wait")
    assert "All files successfully downloaded." in p.stdout, p.stdout + p.stderr
    assert names(cluster, dst) == sorted(f"set_1/{n}" for n in data)
    assert get(cluster, dst, "set_1/train-0024.tgz").content == data["train-0024.tgz"]


def test_object_list_from_a_cloud_bucket(cluster: LocalCluster, moto: object, tmp_path: object) -> None:
    import json
    from pathlib import Path

    from ais_ray.core.names import Provider
    from tests.integration.remotes import REMOTES

    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    for n in ("imagenet/train-13.tgz", "imagenet/train-24.tgz", "other"):
        remote.seed(n, n.encode())
    listing = Path(str(tmp_path)) / "objects.txt"
    listing.write_text(json.dumps(["imagenet/train-13.tgz", "imagenet/train-24.tgz"]))
    dst = new_bucket()
    cluster.cli("start", "download", f"s3://{remote.bucket}", f"ais://{dst}", "--object-list", str(listing), "--wait")
    assert names(cluster, dst) == ["train-13.tgz", "train-24.tgz"]
    bad = Path(str(tmp_path)) / "bad.txt"
    bad.write_text("not json")
    p = cluster.cli("start", "download", f"s3://{remote.bucket}", f"ais://{dst}", "--object-list", str(bad), check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr


def test_object_list_from_an_http_base(cluster: LocalCluster, src: Src, tmp_path: object) -> None:
    """`--object-list` with an http source: the base URL and each name joined with "/" (it was
    ignored: the base URL alone was downloaded)."""
    from pathlib import Path

    data = {n: src.put(f"shards/{n}", os.urandom(1000 + i)) for i, n in enumerate(("a 1.tgz", "sub/b.tgz", "c.tgz"))}
    listing = Path(str(tmp_path)) / "objects.txt"
    listing.write_text(json.dumps(["a 1.tgz", "sub/b.tgz"]))
    b = new_bucket()
    cluster.cli("start", "download", src.url("shards/"), f"ais://{b}", "--object-list", str(listing), "--wait")
    assert names(cluster, b) == ["a 1.tgz", "b.tgz"]  # named as a bucket's list is: the last path element
    assert get(cluster, b, "a 1.tgz").content == data["a 1.tgz"] and get(cluster, b, "b.tgz").content == data["sub/b.tgz"]
    p = cluster.cli("start", "download", src.url("shards/"), f"ais://{b}", "--object-list", str(tmp_path) + "/none",
                    check=False)
    assert p.returncode == 1 and "expecting a JSON array" in p.stderr and "Traceback" not in p.stderr
