"""Promote (ais-wire-2 §7): files under the cluster's promote root become objects — through the
official SDK's `Object.promote`, the HTTP API and `ais-ray object promote`.

The session cluster's targets share one filesystem: a file share, so each target promotes the
names it owns (every file once); `not_file_share` makes every target promote all it sees.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from aistore.sdk.errors import AISError

from ais_ray.core.names import Bucket, Provider
from ais_ray.core.promote import ROOT_ENV
from ais_ray.core.smap import Smap
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES
from tests.integration.test_sdk import bck  # noqa: F401 - a fresh bucket per test


@pytest.fixture()
def tree(cluster: LocalCluster) -> Iterator[Path]:
    """A fresh directory under the promote root: 13 files, a subdirectory, a link out of the root."""
    top = Path(cluster.backend_env[ROOT_ENV]) / f"ds-{uuid.uuid4().hex[:8]}"
    (top / "sub").mkdir(parents=True)
    for i in range(12):
        (top / f"f{i:02d}.bin").write_bytes(os.urandom(1000 + 997 * i))
    (top / "large.bin").write_bytes(os.urandom(300_000))  # over `copies.SMALL`: streamed, not in the group commit
    (top / "sub" / "deep.txt").write_bytes(b"deep")
    (top / "link").symlink_to("/etc/hostname")  # a symbolic link: never promoted
    yield top


def stored(b: object) -> dict[str, bytes]:
    return {e.name: b.object(e.name).get_reader().read_all() for e in b.list_all_objects()}  # type: ignore[attr-defined]


def job_shares(endpoint: str, xid: str) -> dict[str, tuple[str, int]]:
    """tid -> (kind, objects) of job `xid`, as `ais show job` reads them."""
    r = requests.get(f"{endpoint}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid}, timeout=10)
    assert r.status_code == 200, r.text
    return {tid: (snaps[0]["kind"], int(snaps[0]["stats"]["loc-objs"])) for tid, snaps in r.json().items() if snaps}


def test_sdk_promotes_a_directory_once_per_file(sdk: object, cluster: LocalCluster, tree: Path, bck: object) -> None:
    xid = bck.object("data/").promote(str(tree))  # type: ignore[attr-defined]
    assert xid, "a file share is a job"
    sdk.job(job_id=xid).wait(timeout=60)  # type: ignore[attr-defined]
    want = {f"data/{p.name}": p.read_bytes() for p in tree.iterdir() if p.is_file() and not p.is_symlink()}
    assert stored(bck) == want  # not the subdirectory (not recursive), not the link
    shares = job_shares(cluster.endpoint, xid)
    assert {k for k, _ in shares.values()} == {"promote"}
    assert sum(n for _, n in shares.values()) == len(want)  # each file by one target: its owner
    smap = Smap.from_wire(requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}, timeout=10).json())
    owned = Counter(smap.locate(Bucket(bck.name).uname(n))[0].daemon_id for n in want)  # type: ignore[attr-defined]
    assert {tid: n for tid, (_, n) in shares.items() if n} == dict(owned)  # ... and each exactly the names it owns
    assert all(p.exists() for p in tree.iterdir())  # the sources stay


def test_recursive_overwrite_and_delete_source(sdk: object, tree: Path, bck: object) -> None:
    sdk.job(job_id=bck.object("").promote(str(tree), recursive=True)).wait(timeout=60)  # type: ignore[attr-defined]
    before = stored(bck)
    assert before["sub/deep.txt"] == b"deep" and len(before) == 14
    (tree / "f00.bin").write_bytes(b"changed")
    xid = bck.object("").promote(str(tree), recursive=True)  # type: ignore[attr-defined]  # again: kept
    sdk.job(job_id=xid).wait(timeout=60)  # type: ignore[attr-defined]
    assert bck.object("f00.bin").get_reader().read_all() == before["f00.bin"]  # type: ignore[attr-defined]
    xid = bck.object("").promote(str(tree), recursive=True, overwrite_dest=True,  # type: ignore[attr-defined]
                                    delete_source=True)
    sdk.job(job_id=xid).wait(timeout=60)  # type: ignore[attr-defined]
    after = stored(bck)
    assert after["f00.bin"] == b"changed" and len(after) == 14
    assert sorted(p.name for p in tree.rglob("*") if not p.is_dir()) == ["link"]  # every promoted file gone


def test_one_file_by_one_target_is_done_before_the_answer(sdk: object, tree: Path, bck: object) -> None:
    src = str(tree / "f03.bin")
    assert bck.object("named.bin").promote(src, target_id="t2") == ""  # type: ignore[attr-defined]
    assert bck.object("named.bin").get_reader().read_all() == (tree / "f03.bin").read_bytes()  # type: ignore[attr-defined]
    assert bck.object("dir/").promote(src, target_id="t1") == ""  # type: ignore[attr-defined]  # a prefix: its base name
    assert bck.object("dir/f03.bin").get_reader().read_all() == (tree / "f03.bin").read_bytes()  # type: ignore[attr-defined]


def test_not_a_file_share_every_target_sends_to_the_owner(sdk: object, tree: Path, bck: object) -> None:
    xid = bck.object("").promote(str(tree), src_not_file_share=True)  # type: ignore[attr-defined]
    sdk.job(job_id=xid).wait(timeout=60)  # type: ignore[attr-defined]
    want = {p.name: p.read_bytes() for p in tree.iterdir() if p.is_file() and not p.is_symlink()}
    assert stored(bck) == want


@pytest.mark.parametrize("src, status, msg", [
    ("/etc/hostname", 400, "not under the promote root"),
    ("{tree}/../escape", 400, '".." components'),
    ("relative/path", 400, "not an absolute path"),
    ("{tree}/missing", 404, "does not exist"),
    ("{tree}/link", 400, "symbolic link"),
])
def test_bad_sources_are_refused(cluster: LocalCluster, tree: Path, bck: object, src: str, status: int,
                                 msg: str) -> None:
    body = {"action": "promote", "name": src.format(tree=tree), "value": {"src": src.format(tree=tree)}}
    r = requests.post(f"{cluster.endpoint}/v1/objects/{bck.name}", json=body, timeout=30)  # type: ignore[attr-defined]
    assert r.status_code == status, r.text
    assert msg in r.json()["message"]
    assert stored(bck) == {}


def test_bad_requests_are_refused(cluster: LocalCluster, tree: Path, bck: object) -> None:
    url = f"{cluster.endpoint}/v1/objects/{bck.name}"  # type: ignore[attr-defined]
    for value, status, msg in [({"src": str(tree), "rcr": "yes"}, 400, "rcr"),
                               ({"src": str(tree / "other")}, 400, "differ"),
                               ({"src": str(tree), "tid": "t99"}, 404, "t99")]:
        r = requests.post(url, json={"action": "promote", "name": str(tree), "value": value}, timeout=30)
        assert r.status_code == status, r.text
        assert msg in r.json()["message"]
    r = requests.post(f"{cluster.endpoint}/v1/objects/nope-{uuid.uuid4().hex[:6]}", timeout=30,
                      json={"action": "promote", "name": str(tree), "value": {"src": str(tree)}})
    assert r.status_code == 404 and "does not exist" in r.json()["message"]
    assert stored(bck) == {}


def test_sdk_sees_the_error(tree: Path, bck: object) -> None:
    with pytest.raises(AISError, match="not under the promote root"):
        bck.object("x").promote("/etc/hostname")  # type: ignore[attr-defined]


def test_cli_object_promote(cluster: LocalCluster, tree: Path, bck: object) -> None:
    name = bck.name  # type: ignore[attr-defined]
    p = cluster.cli("object", "promote", str(tree), f"ais://{name}/cli/", "--recursive", "--wait")
    assert f'promoted "{tree}" => ais://{name}, xaction ID "' in p.stdout
    assert len(stored(bck)) == 14
    p = cluster.cli("object", "promote", str(tree / "f01.bin"), f"ais://{name}/one.bin", "--target-id", "t1")
    assert p.stdout.strip() == f'promoted "{tree / "f01.bin"}" => ais://{name}'
    p = cluster.cli("object", "promote", "/etc/hostname", f"ais://{name}", check=False)
    assert p.returncode == 1
    assert p.stderr.strip().startswith("error: promote:") and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert bck.object("one.bin").get_reader().read_all() == (tree / "f01.bin").read_bytes()  # type: ignore[attr-defined]


def test_promote_into_a_remote_bucket_writes_through(sdk: object, moto: object, tree: Path) -> None:
    import boto3

    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    s3b = sdk.bucket(remote.bucket, provider="aws")  # type: ignore[attr-defined]
    xid = s3b.object("p/").promote(str(tree))
    sdk.job(job_id=xid).wait(timeout=60)  # type: ignore[attr-defined]
    s3 = boto3.client("s3", endpoint_url=remote.endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    for p in tree.iterdir():
        if p.is_file() and not p.is_symlink():  # at the remote itself, not only cached here
            assert s3.get_object(Bucket=remote.bucket, Key=f"p/{p.name}")["Body"].read() == p.read_bytes()
