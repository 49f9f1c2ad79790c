"""Shards made in the cluster (`archive`: the SDK's `ObjectGroup.archive`, `ais-ray archive bucket`)
and by the CLI (`ais-ray archive gen-shards`, as AIStore's failure scripts start), read back member
by member (`archive ls`, `archive get`, the SDK's `archive_config`)."""

from __future__ import annotations

import io
import os
import tarfile
import uuid
import zipfile

import pytest
import requests
from aistore.sdk.archive_config import ArchiveConfig
from aistore.sdk.errors import AISError

from tests.integration.conftest import TIDS, LocalCluster


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def members(data: bytes, name: str) -> dict[str, bytes]:
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {n: z.read(n) for n in z.namelist()}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}  # type: ignore[union-attr]


@pytest.fixture()
def src(sdk: object):  # type: ignore[no-untyped-def]
    b = sdk.bucket(uniq("ar-src"))  # type: ignore[attr-defined]
    b.create()
    data = {f"img/{i:03d}.jpg": os.urandom(700 + 13 * i) for i in range(40)}
    data["img/big.bin"] = os.urandom(3 << 20)  # written on a thread
    for k, v in data.items():
        b.object(k).get_writer().put_content(v)
    yield b, data
    b.delete(missing_ok=True)


@pytest.mark.parametrize("ext", [".tar", ".tgz", ".zip"])
def test_sdk_archive_a_selection_into_a_shard(sdk: object, src: tuple[object, dict[str, bytes]], ext: str) -> None:
    b, data = src
    dst = sdk.bucket(uniq("ar-dst"))  # type: ignore[attr-defined]
    dst.create()
    try:
        names = [f"img/{i:03d}.jpg" for i in range(0, 40, 3)] + ["img/big.bin"]
        jobs = b.objects(obj_names=names).archive(f"shard-1{ext}", to_bck=dst)  # type: ignore[attr-defined]
        assert len(jobs) == 1
        sdk.job(jobs[0]).wait(timeout=120)  # type: ignore[attr-defined]
        got = members(dst.object(f"shard-1{ext}").get_reader().read_all(), ext)
        assert got == {n: data[n] for n in names}
        snaps = sdk.job(jobs[0]).get_details().list_snapshots()  # type: ignore[attr-defined]
        assert [s.kind for s in snaps] == ["archive"] and snaps[0].stats.objects == len(names)
        # a member straight from the stored shard (the SDK's archive_config: ?archpath=)
        one = dst.object(f"shard-1{ext}").get_reader(archive_config=ArchiveConfig(archpath="img/003.jpg")).read_all()
        assert one == data["img/003.jpg"]
    finally:
        dst.delete(missing_ok=True)


def test_template_prefix_source_names_and_append(sdk: object, src: tuple[object, dict[str, bytes]]) -> None:
    b, data = src
    jobs = b.objects(obj_template="img/{000..009}.jpg").archive("a.tar", include_source_name=True)  # type: ignore[attr-defined]
    sdk.job(jobs[0]).wait(timeout=120)  # type: ignore[attr-defined]
    got = members(b.object("a.tar").get_reader().read_all(), ".tar")
    assert got == {f"{b.name}/img/{i:03d}.jpg": data[f"img/{i:03d}.jpg"] for i in range(10)}  # type: ignore[attr-defined]
    # allow_append: the shard keeps what it had and takes the new members after
    jobs = b.objects(obj_names=["img/039.jpg"]).archive("a.tar", allow_append=True)  # type: ignore[attr-defined]
    sdk.job(jobs[0]).wait(timeout=120)  # type: ignore[attr-defined]
    got2 = members(b.object("a.tar").get_reader().read_all(), ".tar")
    assert got2 == {**got, "img/039.jpg": data["img/039.jpg"]}
    # without it the shard is replaced
    jobs = b.objects(obj_names=["img/001.jpg"]).archive("a.tar")  # type: ignore[attr-defined]
    sdk.job(jobs[0]).wait(timeout=120)  # type: ignore[attr-defined]
    assert members(b.object("a.tar").get_reader().read_all(), ".tar") == {"img/001.jpg": data["img/001.jpg"]}


def test_missing_members_fail_the_job_or_are_left_out(sdk: object, src: tuple[object, dict[str, bytes]],
                                                      cluster: LocalCluster) -> None:
    b, data = src
    names = ["img/001.jpg", "img/nope.jpg", "img/002.jpg"]
    jobs = b.objects(obj_names=names).archive("x.tar")  # type: ignore[attr-defined]
    sdk.job(jobs[0]).wait(timeout=120)  # type: ignore[attr-defined]  # an idle kind: waits, reports no error
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": jobs[0]}, timeout=30)
    assert "img/nope.jpg" in r.json()["err"]
    with pytest.raises(AISError) as e:  # nothing was written: no torn shard
        b.object("x.tar").head()  # type: ignore[attr-defined]
    assert e.value.status_code == 404
    jobs = b.objects(obj_names=names).archive("x.tar", continue_on_err=True)  # type: ignore[attr-defined]
    sdk.job(jobs[0]).wait(timeout=120)  # type: ignore[attr-defined]
    assert members(b.object("x.tar").get_reader().read_all(), ".tar") == {n: data[n] for n in names if "nope" not in n}
    r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": jobs[0]}, timeout=30)
    assert "left out 1 object" in r.json()["err"]


def test_bad_requests_are_4xx(cluster: LocalCluster, src: tuple[object, dict[str, bytes]]) -> None:
    b, _ = src
    url = f"{cluster.endpoint}/v1/buckets/{b.name}"  # type: ignore[attr-defined]
    cases = [
        ({"objnames": ["img/001.jpg"], "archname": "x.rar"}, 400, ".tar, .tgz"),
        ({"objnames": ["img/001.jpg"], "archname": "x", "mime": "application/x-7z"}, 400, "MIME"),
        ({"objnames": ["img/001.jpg"]}, 400, "archname"),
        ({"objnames": ["img/001.jpg"], "archname": "../x.tar"}, 400, "x.tar"),
        ({"objnames": ["img/001.jpg"], "archname": "x.tar", "aate": "yes"}, 400, "aate"),
        ({"objnames": ["img/001.jpg"], "archname": "x.tar", "tobck": {"name": "ar-missing-x", "provider": "ais"}}, 404,
         "does not exist"),
    ]
    for value, code, text in cases:
        r = requests.put(url, json={"action": "archive", "value": value}, timeout=30)
        assert r.status_code == code and text in r.json()["message"], (value, r.status_code, r.text)


def test_cli_gen_shards_ls_get_and_archive_bucket(cluster: LocalCluster, tmp_path: os.PathLike[str]) -> None:
    b = uniq("ar-cli")
    cluster.cli("create", f"ais://{b}")
    try:
        out = cluster.cli("archive", "gen-shards", f"ais://{b}/shard-{{01..12}}.tgz", "--fcount", "3",
                          "--fext", ".jpg,.cls", "--fsize", "2kib").stdout
        assert out.strip() == "Shards created: 12/12", out
        listed = cluster.cli("ls", f"ais://{b}", "-H").stdout.split()
        assert [n for n in listed if n.startswith("shard-")] == [f"shard-{i:02d}.tgz" for i in range(1, 13)]
        shard = cluster.cli_bytes("get", f"ais://{b}/shard-05.tgz", "-")
        got = members(shard, ".tgz")
        assert len(got) == 6 and all(len(v) == 2048 for v in got.values()), sorted(got)
        assert sorted({n.rsplit(".", 1)[1] for n in got}) == ["cls", "jpg"]
        assert len({n.rsplit(".", 1)[0] for n in got}) == 3  # three samples, each as .jpg and .cls
        # archive ls: the shard's members under it
        rows = cluster.cli("archive", "ls", f"ais://{b}/shard-05.tgz", "-H").stdout.splitlines()
        assert sorted(r.split()[0] for r in rows[1:]) == sorted(f"shard-05.tgz/{n}" for n in got), rows
        # archive get: one member to a file
        member = sorted(got)[0]
        dest = os.path.join(str(tmp_path), "m.bin")
        cluster.cli("archive", "get", f"ais://{b}/shard-05.tgz", dest, "--archpath", member)
        with open(dest, "rb") as f:
            assert f.read() == got[member]
        # archive bucket: the twelve shards into one tar, then read back
        out = cluster.cli("archive", "bucket", f"ais://{b}", f"ais://{b}/all.tar", "--template",
                          "shard-{01..12}.tgz", "--wait").stdout
        assert out.strip().endswith("finished"), out
        whole = members(cluster.cli_bytes("get", f"ais://{b}/all.tar", "-"), ".tar")
        assert sorted(whole) == [f"shard-{i:02d}.tgz" for i in range(1, 13)], sorted(whole)
        assert whole["shard-05.tgz"] == shard
        p = cluster.cli("archive", "gen-shards", f"ais://{b}/x-{{1..2}}.rar", check=False)
        assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and ".tar" in p.stderr, p.stderr
        p = cluster.cli("archive", "gen-shards", "ais://ar-missing-y/s-{1..2}.tar", check=False)
        assert p.returncode == 1 and "does not exist" in p.stderr, p.stderr
        # the failure scripts' other helpers
        node = cluster.cli("advanced", "random-node").stdout.strip()
        assert node in TIDS, node
        mp = cluster.cli("advanced", "random-mountpath", node).stdout.strip()
        assert mp.startswith(cluster.data_dir), (mp, cluster.data_dir)
    finally:
        cluster.cli("rmb", f"ais://{b}")
