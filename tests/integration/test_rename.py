"""Bucket rename (`move-bck`): the SDK's `Bucket.rename`, the REST call, `ais-ray bucket mv`.

All or nothing: done, every object is under the new name (bytes, version and custom metadata as
they were) and the old name is gone; aborted, the new name is gone and the old one is as it was.
While it runs both buckets are read-only."""

from __future__ import annotations

import hashlib
import os
import signal
import uuid

import pytest
import requests
from aistore.sdk.errors import AISError

from tests.integration.conftest import LocalCluster
from tests.integration.test_copy_restart import final_status


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def digest(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def fill(sdk: object, name: str, n_small: int = 40, n_large: int = 6) -> tuple[object, dict[str, str]]:
    """A bucket of small (many to a request when copied) and large (one PUT each) objects."""
    b = sdk.bucket(name)  # type: ignore[attr-defined]
    b.create()
    data = {}
    for i in range(n_small + n_large):
        body = os.urandom(2048 + i if i < n_small else 200 * 1024 + i)
        key = f"d{i % 3}/obj-{i:03d}"
        b.object(key).get_writer().put_content(body)
        data[key] = digest(body)
    return b, data


def contents(b: object) -> dict[str, str]:
    return {e.name: digest(b.object(e.name).get_reader().read_all())  # type: ignore[attr-defined]
            for e in b.list_all_objects()}  # type: ignore[attr-defined]


def status(b: object) -> int:
    try:
        b.head()  # type: ignore[attr-defined]
        return 200
    except AISError as e:
        return e.status_code
    except Exception as e:  # the SDK's typed 404 (ErrBckNotFound) carries the status as well
        return int(getattr(e, "status_code", 0))


def test_sdk_rename_moves_everything_and_the_old_name_goes(sdk: object, cluster: LocalCluster) -> None:
    b, data = fill(sdk, uniq("mv-src"))
    first = "d0/obj-000"
    body2 = os.urandom(3000)
    b.object(first).get_writer().put_content(body2)  # version 2
    data[first] = digest(body2)
    b.object(first).get_writer().set_custom_props({"owner": "alice"})
    new = uniq("mv-dst")
    old = sdk.bucket(b.name)  # type: ignore[attr-defined]
    job = b.rename(new)  # type: ignore[attr-defined]
    assert b.name == new  # the SDK's own object now names the new bucket
    sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
    dst = sdk.bucket(new)  # type: ignore[attr-defined]
    assert contents(dst) == data
    props = dst.object(first).head()
    assert props.obj_version == "2" and props.custom_metadata.get("owner") == "alice"  # as the source had them
    assert status(old) == 404
    listed = [x.name for x in sdk.cluster().list_buckets()]  # type: ignore[attr-defined]
    assert new in listed and old.name not in listed
    snaps = sdk.job(job).get_details().list_snapshots()  # type: ignore[attr-defined]
    assert {s.kind for s in snaps} == {"move-bck"}
    assert sum(s.stats.objects for s in snaps) == len(data) and not any(s.abort_err or s.aborted for s in snaps)
    # the old name is free again; the new one is an ordinary bucket (writable)
    sdk.bucket(old.name).create()  # type: ignore[attr-defined]
    dst.object("after").get_writer().put_content(b"x")
    assert dst.object("after").get_reader().read_all() == b"x"
    sdk.bucket(old.name).delete()  # type: ignore[attr-defined]
    dst.delete()


def test_both_buckets_are_read_only_while_it_runs_and_an_abort_rolls_back(sdk: object) -> None:
    b, data = fill(sdk, uniq("mv-ro"), n_small=150, n_large=2)
    new = uniq("mv-ro-dst")
    src, dst = sdk.bucket(b.name), sdk.bucket(new)  # type: ignore[attr-defined]
    job = b.rename(new)  # type: ignore[attr-defined]
    # the proxy ends a rename no sooner than half a second after it started: these all land inside
    for bck in (src, dst):
        with pytest.raises(AISError) as e:
            bck.object("new-object").get_writer().put_content(b"refused")
        assert e.value.status_code == 400 and "busy" in str(e.value) and job in str(e.value)
    with pytest.raises(AISError, match="busy"):
        src.object("d0/obj-000").delete()
    with pytest.raises(AISError, match="busy"):
        src.delete()
    with pytest.raises(AISError, match="busy"):
        src.copy(sdk.bucket(uniq("mv-ro-cp")))  # type: ignore[attr-defined]
    assert src.object("d0/obj-000").get_reader().read_all()  # reads go on
    sdk.job(job).abort()  # type: ignore[attr-defined]
    sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
    snaps = sdk.job(job).get_details().list_snapshots()  # type: ignore[attr-defined]
    assert snaps and all(s.aborted for s in snaps)  # ended or not, every share reads aborted: rolled back
    assert status(dst) == 404  # rolled back: the new name is gone ...
    assert contents(src) == data  # ... and the source is as it was, and writable again
    src.object("new-object").get_writer().put_content(b"ok")
    src.delete()


def test_a_rename_survives_a_proxy_restart(sdk: object, cluster: LocalCluster) -> None:
    """The proxy ends a rename (drops the source); killed before it could, the restarted one reads
    the rename from the BMD and ends it. Until then the job reads as running."""
    b, data = fill(sdk, uniq("mv-rs"), n_small=60, n_large=10)
    old, new = sdk.bucket(b.name), uniq("mv-rs-dst")  # type: ignore[attr-defined]
    job = b.rename(new)  # type: ignore[attr-defined]
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()
    os.kill(stats["proxy"]["pid"], signal.SIGKILL)  # within the half second before the proxy could end it
    st = final_status(cluster, job)
    assert not st["err"] and not st["aborted"], st
    assert status(old) == 404  # ended means ended: the source is gone once the job reads so
    dst = sdk.bucket(new)  # type: ignore[attr-defined]
    assert contents(dst) == data
    dst.delete()


def test_refusals(sdk: object, cluster: LocalCluster) -> None:
    a, b = sdk.bucket(uniq("mv-a")), sdk.bucket(uniq("mv-b"))  # type: ignore[attr-defined]
    a.create()
    b.create()
    try:
        base = f"{cluster.endpoint}/v1/buckets"
        cases = [
            (a.name, f"ais/@#/{b.name}/", 409, "already exists"),
            ("mv-missing-x", f"ais/@#/{uniq('y')}/", 404, "does not exist"),
            (a.name, f"ais/@#/{a.name}/", 400, "itself"),
            (a.name, "aws/@#/x/", 400, "must be an ais bucket"),
            (a.name, "ais/@#/bad name/", 400, "bucket name"),
            (a.name, "", 400, "missing the new name"),
        ]
        for src, to, code, text in cases:
            params = {"bck_to": to} if to else {}
            r = requests.post(f"{base}/{src}", json={"action": "move-bck"}, params=params, timeout=30)
            assert r.status_code == code and text in r.json()["message"], (src, to, r.status_code, r.text)
        p = cluster.cli("bucket", "mv", f"ais://{a.name}", f"ais://{b.name}", check=False)
        assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "already exists" in p.stderr
        assert status(a) == 200 and status(b) == 200  # nothing changed
    finally:
        a.delete(missing_ok=True)
        b.delete(missing_ok=True)


def test_cli_bucket_mv(cluster: LocalCluster, tmp_path: os.PathLike[str]) -> None:
    src, dst = uniq("mv-cli"), uniq("mv-cli-dst")
    files = {f"f{i}": os.urandom(500 + i) for i in range(12)}
    d = os.path.join(str(tmp_path), "in")
    os.makedirs(d)
    for k, v in files.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    cluster.cli("create", f"ais://{src}")
    cluster.cli("put", d, f"ais://{src}", "--recursive")
    out = cluster.cli("bucket", "mv", f"ais://{src}", f"ais://{dst}", "--wait").stdout
    assert out.strip() == "job " + out.split()[1] + " finished", out
    listed = cluster.cli("ls").stdout
    assert f"ais://{dst}" in listed and f"ais://{src}" not in listed
    for k, v in files.items():
        assert cluster.cli_bytes("get", f"ais://{dst}/{k}", "-") == v
    p = cluster.cli("ls", f"ais://{src}", check=False)
    assert p.returncode == 1 and "does not exist" in p.stderr
    # without --wait: AIStore's two lines, and the job can be waited for by id
    out = cluster.cli("bucket", "mv", f"ais://{dst}", f"ais://{src}").stdout.splitlines()
    assert out[0] == f'Moving bucket "ais://{dst}" to "ais://{src}" in progress.'
    xid = out[1].split()[-1]
    cluster.cli("wait", xid, "--timeout", "60s")
    assert sorted(e.split()[0] for e in cluster.cli("ls", f"ais://{src}", "-H").stdout.splitlines()) == sorted(files)
    cluster.cli("rmb", f"ais://{src}")
