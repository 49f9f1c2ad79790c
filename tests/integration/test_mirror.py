"""n-way mirror on the session cluster: replicas on distinct mountpaths of the owning target, made by
the write's commit and by make-n-copies; a lost main served from a replica and restored; listed once."""

from __future__ import annotations

import json
import os
import uuid

import requests

from ais_ray.core.lom import obj_fqn
from ais_ray.core.names import Bucket
from tests.integration.conftest import LocalCluster


def mountpaths(cluster: LocalCluster) -> list[str]:
    info = json.loads(cluster.cli("show", "cluster", "--json").stdout)
    return [m["path"] for t in info["targets"].values() for m in t["mountpaths"]]


def holders(mps: list[str], bck: str, name: str) -> list[str]:
    return [mp for mp in mps if os.path.exists(obj_fqn(mp, Bucket(bck), name))]


def read(mp: str, bck: str, name: str) -> bytes:
    with open(obj_fqn(mp, Bucket(bck), name), "rb") as f:
        return f.read()


def listed(sdk: object, bck: str) -> list[str]:
    return [e.name for e in sdk.bucket(bck).list_all_objects()]  # type: ignore[attr-defined]


def test_mirror_put_get_restore_delete_and_make_n_copies(cluster: LocalCluster, sdk: object) -> None:
    name = f"mir-{uuid.uuid4().hex[:8]}"
    mps = mountpaths(cluster)
    cluster.cli("create", f"ais://{name}", "--props", "mirror.enabled=true mirror.copies=2")
    b = sdk.bucket(name)  # type: ignore[attr-defined]
    try:
        data = {f"d{i % 3}/o{i}": os.urandom(1000 + i * 997) for i in range(30)}
        data["big"] = os.urandom(3 << 20)  # more than one write batch: the streamed path
        for n, d in data.items():
            b.object(n).get_writer().put_content(d)
        for n, d in data.items():
            hs = holders(mps, name, n)
            assert len(hs) == 2 and os.path.dirname(hs[0]) == os.path.dirname(hs[1]), (n, hs)  # same target
            assert all(read(mp, name, n) == d for mp in hs)
        # HEAD shows the replicas; the listing shows each object once, with its copies
        r = requests.head(f"{cluster.endpoint}/v1/objects/{name}/big", params={"props": "copies"}, timeout=30,
                          allow_redirects=True)
        assert r.headers["ais-mirror-copies"] == "2" and len(r.headers["ais-mirror-paths"].split(",")) == 2
        assert sorted(listed(sdk, name)) == sorted(data)
        ls = json.loads(cluster.cli("ls", f"ais://{name}", "--props", "name,copies", "--json").stdout)
        entries = ls["entries"] if isinstance(ls, dict) else ls
        assert len(entries) == len(data) and {e.get("copies", e.get("c")) for e in entries} == {2}

        # the main replica's file is lost: GET serves the bytes and the main is back
        lost = ["d0/o0", "d1/o4", "big"]
        for n in lost:
            main = holders(mps, name, n)
            for mp in main:  # remove the one the listing goes by: the file whose metadata names it first
                if json.loads(os.getxattr(obj_fqn(mp, Bucket(name), n), "user.ais.lom"))["copies"][0] == mp:
                    os.unlink(obj_fqn(mp, Bucket(name), n))
            assert len(holders(mps, name, n)) == 1
        assert sorted(listed(sdk, name)) == sorted(data)  # still listed once while the main is gone
        for n in lost:
            assert b.object(n).get_reader().read_all() == data[n]
            assert len(holders(mps, name, n)) == 2

        # delete removes every replica
        b.object("d2/o2").delete()
        assert holders(mps, name, "d2/o2") == []
        del data["d2/o2"]

        # back to one copy, then to two again, by make-n-copies (CLI and REST)
        cluster.cli("start", "mirror", f"ais://{name}", "--copies", "1", "--wait", "--timeout", "2m")
        assert all(len(holders(mps, name, n)) == 1 for n in data)
        assert json.loads(requests.head(f"{cluster.endpoint}/v1/buckets/{name}", timeout=30)
                          .headers["Ais-Bucket-Props"])["mirror"]["enabled"] is False
        r = requests.post(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "make-n-copies", "value": 2}, timeout=30)
        assert r.status_code == 200, r.text
        sdk.job(r.text).wait(timeout=120)  # type: ignore[attr-defined]
        assert all(len(holders(mps, name, n)) == 2 for n in data)
        assert sorted(listed(sdk, name)) == sorted(data)
        r = requests.post(f"{cluster.endpoint}/v1/buckets/{name}", json={"action": "make-n-copies", "value": "2"}, timeout=30)
        assert r.status_code == 400 and "make-n-copies" in r.json()["message"]
    finally:
        b.delete(missing_ok=True)


def test_set_bprops_mirror_on_existing_objects(cluster: LocalCluster, sdk: object) -> None:
    name = f"mis-{uuid.uuid4().hex[:8]}"
    mps = mountpaths(cluster)
    b = sdk.bucket(name)  # type: ignore[attr-defined]
    b.create()
    try:
        names = [f"x{i}" for i in range(20)]
        for n in names:
            b.object(n).get_writer().put_content(n.encode() * 100)
        assert all(len(holders(mps, name, n)) == 1 for n in names)
        r = requests.patch(f"{cluster.endpoint}/v1/buckets/{name}",
                           json={"action": "set-bprops", "value": {"mirror": {"enabled": True, "copies": 2}}}, timeout=30)
        assert r.status_code == 200 and r.text, r.text  # the make-n-copies job it started
        sdk.job(r.text).wait(timeout=120)  # type: ignore[attr-defined]
        assert all(len(holders(mps, name, n)) == 2 for n in names)
        summ = json.loads(cluster.cli("storage", "summary", f"ais://{name}", "--json").stdout)
        assert int(summ["ObjCount"]["obj_count_present"]) == 20  # replicas are not counted as objects
        # but they are on disk (AIStore's size on disk: every file of the bucket)
        size = sum(len(n.encode() * 100) for n in names)
        assert int(summ["TotalSize"]["size_all_present_objs"]) == size
        assert int(summ["TotalSize"]["size_on_disk"]) == 2 * size
        # the disks' size counts the one filesystem every mountpath of this cluster is a directory on once
        st = os.statvfs(mps[0])
        assert int(summ["TotalSize"]["total_disks_size"]) == st.f_blocks * st.f_frsize
        assert summ["used_pct"] == round(100 * 2 * size / (st.f_blocks * st.f_frsize))
        # more copies than a target has mountpaths (2 here): refused, every way it can be asked
        for args in (("start", "mirror", f"ais://{name}", "--copies", "3"),
                     ("bucket", "props", "set", f"ais://{name}", "mirror.copies=3"),
                     ("create", f"ais://{name}-3", "--props", "mirror.enabled=true mirror.copies=3")):
            p = cluster.cli(*args, check=False)
            assert p.returncode == 1 and "insufficient" in p.stderr, (args, p.stderr)
        p = cluster.cli("bucket", "props", "set", f"ais://{name}", "versioning.enabled=maybe", check=False)
        assert p.returncode == 1 and "true or false" in p.stderr, p.stderr
        r = requests.patch(f"{cluster.endpoint}/v1/buckets/{name}", timeout=30,
                           json={"action": "set-bprops", "value": {"versioning": {"enabled": "junk"}}})
        assert r.status_code == 400 and "versioning.enabled" in r.json()["message"], r.text
    finally:
        b.delete(missing_ok=True)
