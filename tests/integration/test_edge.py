"""Issue 18 items 2-6 through the official SDK and raw requests: listing flags, archive members
on GET, HEAD props, the cluster config, and the accepted-parameter rule at both edges."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import requests
from aistore.sdk.archive_config import ArchiveConfig, ArchiveMode
from aistore.sdk.errors import AISError
from aistore.sdk.list_object_flag import ListObjectFlag

from tests.integration.conftest import LocalCluster

MEMBERS = {"alpha": b"alpha-bytes" * 50, "beta/b.txt": b"beta", "beta/b.cls": b"3"}


def tar_bytes(mode: str = "w", members: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in (MEMBERS if members is None else members).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture()
def bck(sdk: Any) -> Iterator[Any]:
    b = sdk.bucket(f"edge-{uuid.uuid4().hex[:8]}")
    b.create()
    for name in ("one.txt", "subdir/two.txt", "subdir/deep/three.txt"):
        b.object(name).get_writer().put_content(name.encode())
    b.object("shard.tar").get_writer().put_content(tar_bytes())
    b.object("shard.tgz").get_writer().put_content(tar_bytes("w:gz"))
    yield b
    b.delete(missing_ok=True)


def ls(b: Any, prefix: str = "", flags: list[ListObjectFlag] | None = None) -> list[str]:
    return [e.name for e in b.list_all_objects(prefix=prefix, flags=flags or [])]


def test_listing_no_recursion_and_no_dirs(bck: Any) -> None:
    assert "subdir/deep/three.txt" in ls(bck)
    assert ls(bck, flags=[ListObjectFlag.NO_RECURSION]) == ["one.txt", "shard.tar", "shard.tgz", "subdir/"]
    assert ls(bck, flags=[ListObjectFlag.NO_RECURSION, ListObjectFlag.NO_DIRS]) == ["one.txt", "shard.tar", "shard.tgz"]
    assert ls(bck, "subdir/", [ListObjectFlag.NO_RECURSION]) == ["subdir/deep/", "subdir/two.txt"]
    assert ls(bck, "subdir/", [ListObjectFlag.NO_RECURSION, ListObjectFlag.NO_DIRS]) == ["subdir/two.txt"]
    entries = bck.list_objects(flags=[ListObjectFlag.NO_RECURSION]).entries
    assert [e.name for e in entries if e.f & 256] == ["subdir/"]  # apc.EntryIsDir


def test_listing_arch_dir(bck: Any) -> None:
    names = ls(bck, "shard.tar", [ListObjectFlag.ARCH_DIR])
    assert names == ["shard.tar"] + sorted(f"shard.tar/{m}" for m in MEMBERS)
    assert len(ls(bck, "shard.tgz/", [ListObjectFlag.ARCH_DIR])) == len(MEMBERS)
    assert ls(bck, "shard", []) == ["shard.tar", "shard.tgz"]


@pytest.mark.parametrize("flag", [ListObjectFlag.MISSING, ListObjectFlag.DELETED, ListObjectFlag.DIFF,
                                  ListObjectFlag.NOT_CACHED, ListObjectFlag.NBI])
def test_listing_unsupported_flag_is_400_naming_it(bck: Any, flag: ListObjectFlag) -> None:
    with pytest.raises(AISError) as ei:
        bck.list_objects(flags=[flag])
    assert ei.value.status_code == 400
    assert flag.name in str(ei.value)


def test_listing_start_after_and_time_format(bck: Any, cluster: LocalCluster) -> None:
    """AIStore's `LsoMsg.start_after` (ais buckets) and `time_format` (a Go layout; RFC822 by default)."""
    def page(**value: Any) -> list[dict[str, Any]]:
        r = requests.get(f"{cluster.endpoint}/v1/buckets/{bck.name}", params={"provider": "ais"},
                         json={"action": "list", "value": {"props": "name,atime", **value}})
        assert r.status_code == 200, r.text
        return list(msgpack.unpackb(r.content)["Entries"] or [])

    assert [e["n"] for e in page(start_after="shard.tgz")] == ["subdir/deep/three.txt", "subdir/two.txt"]
    assert [e["n"] for e in page(start_after="subdir/deep/three.txt", pagesize=1)] == ["subdir/two.txt"]
    atime = int(requests.head(f"{cluster.endpoint}/v1/objects/{bck.name}/one.txt", params={"provider": "ais"},
                              allow_redirects=True).headers["ais-atime"])
    secs, ms = divmod(atime // 1_000_000, 1000)
    when = time.gmtime(secs)
    formats = {"": time.strftime("%d %b %y %H:%M UTC", when), "02 Jan 06 15:04 MST": time.strftime("%d %b %y %H:%M UTC", when),
               "2006-01-02T15:04:05.000Z": time.strftime("%Y-%m-%dT%H:%M:%S", when) + f".{ms:03d}Z",
               "Mon, 17 Dec 2012 02:14:10 GMT": time.strftime("%a, %d %b %Y %H:%M:%S GMT", when)}
    for layout, want in formats.items():
        assert [e["a"] for e in page(prefix="one.txt", time_format=layout)] == [want], layout
    r = requests.get(f"{cluster.endpoint}/v1/buckets/{bck.name}", params={"provider": "ais"},
                     json={"action": "list", "value": {"time_format": "2006-01-02"}})
    assert r.status_code == 400 and 'time_format "2006-01-02" is not supported' in r.json()["message"], r.text


@pytest.mark.parametrize("shard", ["shard.tar", "shard.tgz"])
def test_get_archpath(bck: Any, shard: str) -> None:
    obj = bck.object(shard)
    for name, data in MEMBERS.items():
        assert obj.get_reader(archive_config=ArchiveConfig(archpath=name)).read_all() == data
    with pytest.raises(AISError) as ei:
        obj.get_reader(archive_config=ArchiveConfig(archpath="nope")).read_all()
    assert ei.value.status_code == 404
    assert obj.get_reader().read_all() == bck.object(shard).get_reader().read_all()  # whole shard unchanged


@pytest.mark.parametrize("regex,mode,want", [
    ("beta/", ArchiveMode.PREFIX, ["beta/b.txt", "beta/b.cls"]),
    (".txt", ArchiveMode.SUFFIX, ["beta/b.txt"]),
    ("beta/b", ArchiveMode.WDSKEY, ["beta/b.txt", "beta/b.cls"]),
    ("^al", ArchiveMode.REGEXP, ["alpha"]),
])
def test_get_archregx_returns_tar_of_matches(bck: Any, regex: str, mode: ArchiveMode, want: list[str]) -> None:
    raw = bck.object("shard.tgz").get_reader(archive_config=ArchiveConfig(regex=regex, mode=mode)).read_all()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        got = {t.name: tf.extractfile(t).read() for t in tf.getmembers()}  # type: ignore[union-attr]
    assert got == {n: MEMBERS[n] for n in want}


def test_get_archive_errors(bck: Any, cluster: LocalCluster) -> None:
    base = f"{cluster.endpoint}/v1/objects/{bck.name}"
    r = requests.get(f"{base}/one.txt", params={"archpath": "x"}, timeout=30)
    assert r.status_code == 400 and "not an archive" in r.text
    bck.object("s.tar.lz4").get_writer().put_content(b"\x04\x22\x4d\x18xx")
    r = requests.get(f"{base}/s.tar.lz4", params={"archpath": "x"}, timeout=30)
    assert r.status_code == 400 and "tar.lz4" in r.text
    r = requests.get(f"{base}/shard.tar", params={"archregx": "zzz", "archmode": "prefix"}, timeout=30)
    assert r.status_code == 404
    r = requests.get(f"{base}/shard.tar", params={"archregx": "a", "archmode": "glob"}, timeout=30)
    assert r.status_code == 400 and "archmode" in r.text


def test_head_props_last_modified_and_etag(bck: Any) -> None:
    attrs = bck.object("one.txt").head(props="last-modified,etag")
    assert attrs.last_modified.endswith("GMT")
    assert attrs.etag and attrs.etag == bck.object("one.txt").head(props="checksum").checksum_value
    assert attrs.size == len(b"one.txt")


def test_cluster_config(sdk: Any, cluster: LocalCluster) -> None:
    for what in ("config", "cluster_config"):
        r = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": what}, timeout=30)
        assert r.status_code == 200, r.text
        conf = r.json()
        assert conf["uuid"] == sdk.cluster().get_info().uuid
        assert conf["checksum"]["type"] == "xxhash2"
        assert conf["proxy"]["primary_url"] == cluster.endpoint


@pytest.mark.parametrize("method,key", [
    ("GET", "etl_name"), ("GET", "etl_pipeline"), ("PUT", "append_type"), ("PUT", "set-new-custom"),
    ("PUT", "uploadId"), ("HEAD", "archpath"), ("GET", "bogus"), ("DELETE", "object_to"),
])
def test_unsupported_parameter_is_refused_at_both_edges(bck: Any, cluster: LocalCluster, method: str, key: str) -> None:
    """Never ignored: the API and the data server (the redirect target) both answer 400."""
    url = f"{cluster.endpoint}/v1/objects/{bck.name}/one.txt"
    r = requests.request(method, url, params={"provider": "ais", key: "x"}, data=b"", timeout=30,
                         allow_redirects=False)
    assert r.status_code == 400, (r.status_code, r.text)
    if method != "HEAD":
        assert key in r.json()["message"]
    # straight to the owning data server (what a stale or hand-made redirect would reach)
    # (a HEAD for a GET or a PUT: a plain GET of a stored object is answered by the front door itself)
    ok = requests.request(method if method not in ("PUT", "GET") else "HEAD", url, params={"provider": "ais"}, timeout=30,
                          allow_redirects=False)
    loc = ok.headers["Location"].split("?")[0]
    r = requests.request(method, loc, params={"provider": "ais", key: "x"}, data=b"", timeout=30)
    assert r.status_code == 400, (r.status_code, r.text)
    assert bck.object("one.txt").get_reader().read_all() == b"one.txt"  # nothing half-done


def test_bucket_routes_refuse_unknown_parameters(bck: Any, cluster: LocalCluster) -> None:
    r = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap", "severity": "x"}, timeout=30)
    assert r.status_code == 400 and "severity" in r.text
    r = requests.head(f"{cluster.endpoint}/v1/buckets/{bck.name}", params={"provider": "ais", "bogus": "1"}, timeout=30)
    assert r.status_code == 400
    assert bck.head()  # the SDK's own parameters pass
