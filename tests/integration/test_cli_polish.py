"""Issue 17: what a user trips over when pasting the seeds' command lines (items 2, 3, 5)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ais_ray.core.names import Provider
from tests.integration.conftest import TARGETS, LocalCluster
from tests.integration.remotes import REMOTES
from tests.integration.test_cli import uniq


def test_get_blob_download_streams_and_stores(cluster: LocalCluster, moto: object, tmp_path: Path) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    data = os.urandom(3 * 1024 * 1024 + 17)
    remote.seed("large", data)
    out = tmp_path / "large"
    # seed 001: ais get s3://ab/largefile --blob-download (chunk size out of range: said, then used clamped)
    p = cluster.cli("get", f"s3://{remote.bucket}/large", str(out), "--blob-download", "--chunk-size", "16kb",
                    "--num-workers", "3")
    assert out.read_bytes() == data
    assert "note: chunk size 15.62KiB is outside 32.00KiB..16.00MiB: using 32.00KiB" in p.stderr
    # stored in the cluster by the blob downloader
    assert cluster.cli("ls", f"s3://{remote.bucket}", "--cached", "--no-headers").stdout.split()[:2] == ["large", "3.00MiB"]
    p = cluster.cli("get", f"s3://{remote.bucket}/large", str(out), "--num-workers", "3", check=False)
    assert p.returncode == 1 and p.stderr.strip() == "error: --chunk-size and --num-workers go with --blob-download"


def test_ls_summary_columns_and_counts(cluster: LocalCluster, tmp_path: Path) -> None:
    b = uniq()
    cluster.cli("create", f"ais://{b}")
    for i in range(7):
        (tmp_path / f"f{i}").write_bytes(b"x" * 1000)
    cluster.cli("put", str(tmp_path), f"ais://{b}", "--recursive")
    p = cluster.cli("ls", f"ais://{b}", "--summary")
    assert p.stdout.splitlines()[0].split() == ["NAME", "PRESENT", "OBJECTS", "SIZE", "ON", "DISK", "USAGE(%)"]
    # the seed scripts' count: ais ls B --summary --no-headers | awk '{print $3}'
    row = cluster.cli("ls", f"ais://{b}", "--summary", "--no-headers").stdout.split()
    assert row[:4] == [f"ais://{b}", "yes", "7", "6.84KiB"]
    assert f"ais://{b}" in cluster.cli("ls", "--summary").stdout


def test_props_set_prints_changes_and_names_the_fix(cluster: LocalCluster) -> None:
    b = uniq()
    p = cluster.cli("bucket", "props", "set", f"ais://{b}", "versioning.enabled=false", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (f'error: bucket "ais://{b}" does not exist: create it first '
                                f"(`ais-ray create ais://{b}`), then set its props")
    cluster.cli("create", f"ais://{b}")
    p = cluster.cli("bucket", "props", "set", f"ais://{b}", "versioning.enabled=false")
    assert p.stdout.splitlines() == ["Bucket props successfully updated",
                                     '"versioning.enabled" set to:"false" (was:"true")']


def test_object_show_atime_is_a_date(cluster: LocalCluster, tmp_path: Path) -> None:
    b = uniq()
    cluster.cli("create", f"ais://{b}")
    (tmp_path / "o").write_bytes(b"abc")
    cluster.cli("put", str(tmp_path / "o"), f"ais://{b}/o")
    cluster.cli("get", f"ais://{b}/o", "-")
    row = next(ln for ln in cluster.cli("object", "show", f"ais://{b}/o").stdout.splitlines() if ln.startswith("atime"))
    assert re.fullmatch(r"atime\s+\d\d [A-Z][a-z]{2} \d\d \d\d:\d\d UTC", row), row


def test_capacity_counts_each_filesystem_once(cluster: LocalCluster) -> None:
    info = json.loads(cluster.cli("show", "cluster", "--json").stdout)
    mps = [m for t in info["targets"].values() for m in t["mountpaths"]]
    assert all(m["fs"] for m in mps)
    by_fs = {m["fs"]: m for m in mps}
    assert len(by_fs) < len(mps)  # the test cluster's mountpaths are directories of one disk
    st = os.statvfs(mps[0]["path"])
    disk_avail = st.f_bavail * st.f_frsize
    out = cluster.cli("show", "cluster").stdout
    m = re.search(r"Capacity:\s+used (\S+), available (\S+)", out)
    assert m, out
    from ais_ray.core.sizes import parse_size
    avail = parse_size(m.group(2))
    assert abs(avail - disk_avail) < 0.02 * disk_avail + 2**30, (m.group(0), disk_avail)  # not TARGETS*MOUNTPATHS x
    assert TARGETS > 1


def test_tab_completes_buckets_and_nodes(cluster: LocalCluster, tmp_path: Path) -> None:
    """A TAB where a command takes a BUCKET offers the cluster's buckets, where it takes a TARGET its
    node ids (argcomplete, as the shell hook runs the console script)."""
    import subprocess
    import sys

    from tests.integration.conftest import TIDS

    b = uniq("cmpl")
    cluster.cli("create", f"ais://{b}")

    def complete(line: str) -> list[str]:
        out = tmp_path / "completions"
        env = {**os.environ, "AIS_ENDPOINT": cluster.endpoint, "_ARGCOMPLETE": "1", "COMP_LINE": line,
               "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "_ARGCOMPLETE_IFS": "\n"}
        p = subprocess.run([str(Path(sys.executable).with_name("ais-ray"))], env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return [w.strip() for w in out.read_text().split("\n") if w.strip()]

    assert complete(f"ais-ray ls ais://{b[:6]}") == [f"ais://{b}"]
    assert complete("ais-ray ls ais://zzz-none") == []
    assert TIDS <= set(complete("ais-ray start resilver "))
    cluster.cli("rmb", f"ais://{b}", "-y")
