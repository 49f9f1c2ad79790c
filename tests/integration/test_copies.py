"""A copy job's small objects go many to a request (`PUT /v1/copies`, `actors/copies.py`), the
large ones one by one: both kinds land byte for byte, a re-run skips them all, and the internal
route answers bad input with a 4xx (a bad name per object), writing nothing outside a mountpath."""

from __future__ import annotations

import hashlib
import os
import uuid

import msgspec
import requests

from ais_ray.actors.copies import COPIES_PATH, SMALL
from tests.integration.conftest import LocalCluster
from tests.integration.test_copy_sync import loc_objs, mountpath_counts, snaps_of, stored_files, work_files


def _digest(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_small_and_large_objects_land_and_a_rerun_skips_them(cluster: LocalCluster, sdk: object) -> None:
    src = sdk.bucket(f"cms-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    dst = sdk.bucket(f"cmd-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    src.create()
    data = {f"s/{i:03d}": os.urandom(100 + 97 * i) for i in range(60)}  # small: grouped
    data.update({f"l/{i}": os.urandom(SMALL + 1 + 5000 * i) for i in range(3)})  # larger: one by one
    data["s/empty"] = b""
    try:
        for n, d in data.items():
            src.object(n).get_writer().put_content(d)
        job = src.copy(dst)
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        got = {e.name: _digest(dst.object(e.name).get_reader().read_all()) for e in dst.list_all_objects()}
        assert got == {n: _digest(d) for n, d in data.items()}
        assert loc_objs(cluster, job) == len(data)
        assert sum(int(s["stats"]["loc-bytes"]) for s in snaps_of(cluster, job)) == sum(map(len, data.values()))
        assert all(len(p) == 1 for p in stored_files(cluster, "ais", dst.name).values())
        assert not work_files(cluster)

        puts = mountpath_counts(cluster).get("put.n", 0)
        again = src.copy(dst)
        sdk.job(again).wait(timeout=120)  # type: ignore[attr-defined]
        assert loc_objs(cluster, again) == len(data)  # skipped counts as done
        assert mountpath_counts(cluster).get("put.n", 0) == puts, "a re-run wrote objects"
        for n in data:
            r = requests.head(f"{cluster.endpoint}/v1/objects/{dst.name}/{n}", allow_redirects=True, timeout=60)
            assert r.headers["ais-version"] == "1", (n, r.headers)  # nothing written twice
    finally:
        src.delete(missing_ok=True)
        dst.delete(missing_ok=True)


UPPER = "def transform(data, path, args):\n    return data.upper() * (3000 if path.endswith('grow') else 1)\n"


def test_an_etl_jobs_small_objects_go_many_to_a_request(cluster: LocalCluster, sdk: object, tmp_path: object) -> None:
    """An etl-bck of small objects sends their outputs many to a request: no object PUT between
    data servers at all (each would count its latency, `put.ns.total`), every output written once
    as a new object; an output that grew past `SMALL` goes alone, and lands whole."""
    name = f"grp-{uuid.uuid4().hex[:6]}"
    path = os.path.join(str(tmp_path), "upper.py")
    with open(path, "w") as f:
        f.write(UPPER)
    src = sdk.bucket(f"ces-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    dst = sdk.bucket(f"ced-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    src.create()
    data = {f"s/{i:03d}": f"object {i} ".encode() * (1 + 40 * i) for i in range(48)}
    try:
        for n, d in data.items():
            src.object(n).get_writer().put_content(d)
        cluster.cli("etl", "init", "code", "--name", name, "--from-file", path)
        before = mountpath_counts(cluster).get("put.ns.total", 0)
        job = src.transform(name, dst)
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        assert mountpath_counts(cluster).get("put.ns.total", 0) == before, "outputs were PUT one by one"
        got = {e.name: dst.object(e.name).get_reader().read_all() for e in dst.list_all_objects()}
        assert got == {n: d.upper() for n, d in data.items()}
        assert loc_objs(cluster, job) == len(data)
        assert all(len(p) == 1 for p in stored_files(cluster, "ais", dst.name).values())
        for n in list(data)[:3]:
            r = requests.head(f"{cluster.endpoint}/v1/objects/{dst.name}/{n}", allow_redirects=True, timeout=60)
            assert r.headers["ais-version"] == "1", (n, r.headers)

        src.object("x/grow").get_writer().put_content(b"small in, " * 10)  # out: 3000 x as large, > SMALL
        job = src.transform(name, dst, prefix_filter="x/")
        sdk.job(job).wait(timeout=120)  # type: ignore[attr-defined]
        out = dst.object("x/grow").get_reader().read_all()
        assert len(out) > SMALL and out == b"SMALL IN, " * 10 * 3000
        assert not work_files(cluster)
    finally:
        cluster.cli("etl", "rm", name, check=False)
        src.delete(missing_ok=True)
        dst.delete(missing_ok=True)


def test_the_internal_route_refuses_bad_input(cluster: LocalCluster) -> None:
    b = f"cmx-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{cluster.endpoint}/v1/buckets/{b}", json={"action": "create-bck"}, timeout=60).ok
    try:
        r = requests.head(f"{cluster.endpoint}/v1/objects/{b}/x", allow_redirects=False, timeout=60)
        data_url = r.headers["Location"].split("/v1/")[0]
        url = data_url + COPIES_PATH

        def put(body: bytes) -> requests.Response:
            return requests.put(url, data=body, headers={"Content-Type": "application/msgpack"}, timeout=60)

        for bad in (b"", b"not msgpack", msgspec.msgpack.encode({"bck": 1}),
                    msgspec.msgpack.encode([f"ais/@#/{b}/", [], "", 5])):  # a write type that is not text
            r = put(bad)
            assert r.status_code == 400 and "message" in r.json(), (bad, r.status_code, r.text)
        r = put(msgspec.msgpack.encode([f"ais/@#/no-{b}/", []]))
        assert r.status_code == 404 and "does not exist" in r.json()["message"]

        recs = [["x", "", b"fine"], ["../../escape", "", b"x"], ["a/../b", "", b"y"]]  # `x` is this mountpath's
        r = put(msgspec.msgpack.encode([f"ais/@#/{b}/", recs]))
        assert r.status_code == 200
        answers = msgspec.msgpack.decode(r.content)
        assert [a[0] for a in answers] == ["ok", "error", "error"] and {a[2] for a in answers[1:]} == {400}
        assert requests.get(f"{cluster.endpoint}/v1/objects/{b}/x", timeout=60).content == b"fine"
        # a move (a rebalance's id) must carry the object's metadata
        r = put(msgspec.msgpack.encode([f"ais/@#/{b}/", [["x", "", b"moved", b"not metadata"]], "g99"]))
        assert r.status_code == 200 and msgspec.msgpack.decode(r.content)[0][:3] == ["error", 0, 400]
        assert requests.get(f"{cluster.endpoint}/v1/objects/{b}/x", timeout=60).content == b"fine"
        escaped = [p for p in (os.path.join(cluster.data_dir, "escape"),) if os.path.exists(p)]
        assert not escaped and not work_files(cluster)
    finally:
        requests.delete(f"{cluster.endpoint}/v1/buckets/{b}", json={"action": "destroy-bck"}, timeout=60)
