"""GetBatch (`GET /v1/ml/moss`, the SDK's `client.batch(...)`): many objects and files inside shards
in one archive, in the order asked, streamed or with per-item metadata."""

from __future__ import annotations

import io
import os
import tarfile
import uuid

import pytest
import requests
from aistore.sdk.batch.types import MossIn

from tests.integration.conftest import LocalCluster
from tests.integration.test_edge import tar_bytes


@pytest.fixture()
def data(sdk: object):  # type: ignore[no-untyped-def]
    b = sdk.bucket(f"gb-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    b.create()
    objs = {f"o/{i:03d}": os.urandom(500 + 97 * i) for i in range(30)}
    objs["big"] = os.urandom(3 << 20)
    for n, d in objs.items():
        b.object(n).get_writer().put_content(d)
    shard = {"s/a.jpg": b"A" * 1000, "s/a.cls": b"7", "s/b.jpg": b"B" * 2000}
    b.object("shard.tar").get_writer().put_content(tar_bytes(members=shard))
    yield b, objs, shard
    b.delete(missing_ok=True)


def test_objects_in_the_order_asked(sdk: object, data) -> None:  # type: ignore[no-untyped-def]
    b, objs, _ = data
    objs["huge"] = os.urandom(9 << 20)  # past what one holder's answer carries: read by its own GET
    b.object("huge").get_writer().put_content(objs["huge"])
    names = ["o/017", "big", "o/003", "huge", "o/029", "o/000", "o/017"]  # any order, repeats too
    got = list(sdk.batch(names, b).get())  # type: ignore[attr-defined]
    assert [m.obj_name for m, _ in got] == names
    assert [c for _, c in got] == [objs[n] for n in names]
    raw = sdk.batch(names[:2], b).get(raw=True)  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(raw.read()), mode="r|") as t:
        assert [m.name for m in t] == [f"{b.name}/o/017", f"{b.name}/big"]  # type: ignore[attr-defined]


def test_many_large_and_small_items_across_windows(sdk: object) -> None:
    """Windows sized by the bytes read so far, holders' answers mixing items sent from their files
    (300 KiB) with small ones read and sent together, several answers past a holder's 8 MiB: every
    item whole and in its place."""
    b = sdk.bucket(f"gbw-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    b.create()
    try:
        objs = {f"w/{i:03d}": os.urandom((300 << 10) + i if i % 3 else 100 + i) for i in range(150)}
        for n, d in objs.items():
            b.object(n).get_writer().put_content(d)
        names = sorted(objs, reverse=True) + sorted(objs)[:40]
        got = list(sdk.batch(names, b).get())  # type: ignore[attr-defined]
        assert [m.obj_name for m, _ in got] == names
        assert all(c == objs[m.obj_name] for m, c in got)
    finally:
        b.delete(missing_ok=True)


@pytest.mark.parametrize("fmt", [".tgz", ".zip"])
def test_formats(sdk: object, data, fmt: str) -> None:  # type: ignore[no-untyped-def]
    b, objs, _ = data
    names = [f"o/{i:03d}" for i in range(0, 30, 4)]
    got = list(sdk.batch(names, b, output_format=fmt).get())  # type: ignore[attr-defined]
    assert [c for _, c in got] == [objs[n] for n in names]


def _batch_counts(cluster: LocalCluster) -> dict[str, int]:
    """GetBatch's counters summed over the targets (the designated one is any)."""
    from tests.integration.test_stats import node_status, tracked

    tids = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}, timeout=30).json()["tmap"]
    names = ("getbatch.n", "getbatch.obj.n", "getbatch.obj.size", "getbatch.file.n", "getbatch.file.size",
             "err.soft.getbatch.n", "err.getbatch.n")
    statuses = [node_status(cluster, tid) for tid in tids]
    return {n: sum(tracked(st, n) for st in statuses) for n in names}


def test_files_from_shards_missing_items_and_metadata(sdk: object, cluster: LocalCluster, data) -> None:  # type: ignore[no-untyped-def]
    b, objs, shard = data
    before = _batch_counts(cluster)
    batch = sdk.batch(bucket=b, streaming_get=False)  # type: ignore[attr-defined]
    batch.add("shard.tar", archpath="s/b.jpg")
    batch.add("o/005", opaque=b"sample-5")
    batch.add("nope")  # missing: under __404__/ (cont_on_err, the SDK's default)
    batch.add("shard.tar", archpath="s/a.cls")
    got = list(batch.get())
    assert [c for _, c in got] == [shard["s/b.jpg"], objs["o/005"], b"", shard["s/a.cls"]]
    outs = [m for m, _ in got]
    assert [o.size for o in outs] == [2000, len(objs["o/005"]), 0, 1]
    assert outs[2].err_msg and "nope" in outs[2].err_msg and not outs[0].err_msg
    assert outs[0].archpath == "s/b.jpg" and outs[1].opaque == b"sample-5"
    # counted at the designated target as AIStore counts them: the request, its objects and files, the soft error
    after = _batch_counts(cluster)
    assert after["getbatch.n"] - before["getbatch.n"] == 1
    assert (after["getbatch.obj.n"] - before["getbatch.obj.n"], after["getbatch.obj.size"] - before["getbatch.obj.size"]) \
        == (1, len(objs["o/005"]))
    assert (after["getbatch.file.n"] - before["getbatch.file.n"], after["getbatch.file.size"] - before["getbatch.file.size"]) \
        == (2, 2001)
    assert after["err.soft.getbatch.n"] - before["err.soft.getbatch.n"] == 1
    raw = sdk.batch(bucket=b, only_obj_name=True)  # type: ignore[attr-defined]
    raw.add("shard.tar", archpath="s/a.jpg")
    raw.add("nope")
    with tarfile.open(fileobj=io.BytesIO(raw.get(raw=True).read()), mode="r|") as t:
        assert [m.name for m in t] == ["shard.tar/s/a.jpg", "__404__/nope"]


def test_remote_items_are_fetched(sdk: object, cluster: LocalCluster, moto: object) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",  # type: ignore[attr-defined]
                      aws_secret_access_key="testing", region_name="us-east-1")
    name = f"gbr-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    objs = {f"r/{i}": os.urandom(1000 + i) for i in range(5)}
    for k, v in objs.items():
        s3.put_object(Bucket=name, Key=k, Body=v)
    for _ in range(2):  # cold (each fetched by its own GET), then cached (many to a holder's request)
        r = requests.get(f"{cluster.endpoint}/v1/ml/moss/{name}", params={"provider": "aws"}, timeout=60,
                         json={"in": [{"objname": k} for k in reversed(objs)], "onob": True, "strm": True})
        assert r.status_code == 200, r.text
        with tarfile.open(fileobj=io.BytesIO(r.content), mode="r|") as t:
            got = [(m.name, t.extractfile(m).read()) for m in t]  # type: ignore[union-attr]
        assert got == [(k, objs[k]) for k in reversed(objs)]


def test_strict_and_bad_requests(cluster: LocalCluster, sdk: object, data) -> None:  # type: ignore[no-untyped-def]
    b, objs, _ = data
    url = f"{cluster.endpoint}/v1/ml/moss/{b.name}"  # type: ignore[attr-defined]
    # without coer the first missing item fails the request: a 404, nothing sent (a failed request, counted)
    before = _batch_counts(cluster)
    r = requests.get(url, json={"in": [{"objname": "nope"}, {"objname": "o/001"}], "strm": True}, timeout=60)
    assert r.status_code == 404 and "nope" in r.json()["message"]
    after = _batch_counts(cluster)
    assert after["err.getbatch.n"] - before["err.getbatch.n"] == 1 and after["getbatch.n"] == before["getbatch.n"]
    # cross-bucket: an item names its bucket; the path's is the default
    other = sdk.bucket(f"gb2-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    other.create()
    try:
        other.object("x").get_writer().put_content(b"from the other bucket")
        r = requests.get(f"{cluster.endpoint}/v1/ml/moss", timeout=60, json={
            "in": [{"objname": "o/002", "bucket": b.name}, {"objname": "x", "bucket": other.name}], "strm": True})  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        with tarfile.open(fileobj=io.BytesIO(r.content), mode="r|") as t:
            got = {m.name: t.extractfile(m).read() for m in t}  # type: ignore[union-attr]
        assert got == {f"{b.name}/o/002": objs["o/002"], f"{other.name}/x": b"from the other bucket"}  # type: ignore[attr-defined]
    finally:
        other.delete()
    cases = [
        ({"in": []}, 400, '"in"'),
        ({"in": [{"objname": "o/001"}], "mime": ".rar"}, 400, "MIME"),
        ({"in": [{"objname": "../x"}]}, 400, "x"),
        ({"in": [{"objname": "o/001", "archpath": "../../etc/passwd"}]}, 400, "archpath"),
        ({"in": [{"objname": "o/001", "start": 5, "length": 10}]}, 400, "byte ranges"),
        ({"in": [{"objname": "o/001"}], "coer": "yes"}, 400, "coer"),
    ]
    for body, code, text in cases:
        r = requests.get(url, json=body, timeout=60)
        assert r.status_code == code and text in r.json()["message"], (body, r.status_code, r.text)
    r = requests.get(f"{cluster.endpoint}/v1/ml/moss", json={"in": [{"objname": "o/001"}]}, timeout=60)
    assert r.status_code == 400 and "no bucket" in r.json()["message"]
    assert MossIn(obj_name="o/001").dict() == {"objname": "o/001"}  # what the SDK sends, as parsed above


def test_cli_ml_get_batch(cluster: LocalCluster, data, tmp_path: os.PathLike[str]) -> None:  # type: ignore[no-untyped-def]
    b, objs, shard = data
    out = os.path.join(str(tmp_path), "out.tar")
    p = cluster.cli("ml", "get-batch", f"ais://{b.name}", "--list", "o/007,o/001", out)  # type: ignore[attr-defined]
    assert p.stdout.startswith(f"GET-BATCH: 2 items => {out}"), p.stdout
    with tarfile.open(out) as t:
        assert [(m.name, t.extractfile(m).read()) for m in t] == [  # type: ignore[union-attr]
            (f"{b.name}/o/007", objs["o/007"]), (f"{b.name}/o/001", objs["o/001"])]  # type: ignore[attr-defined]
    z = os.path.join(str(tmp_path), "out.zip")
    cluster.cli("ml", "get-batch", f"ais://{b.name}/shard.tar/s/a.jpg", f"ais://{b.name}/o/003", z,  # type: ignore[attr-defined]
                "--omit-src-bck")
    import zipfile

    with zipfile.ZipFile(z) as zf:
        assert [(n, zf.read(n)) for n in zf.namelist()] == [("shard.tar/s/a.jpg", shard["s/a.jpg"]),
                                                            ("o/003", objs["o/003"])]
    raw = cluster.cli_bytes("ml", "get-batch", f"ais://{b.name}", "--template", "o/{000..004}", "-", "--streaming")  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as t:
        assert [m.name for m in t] == [f"{b.name}/o/{i:03d}" for i in range(5)]  # type: ignore[attr-defined]
    p = cluster.cli("ml", "get-batch", f"ais://{b.name}/nope", out, check=False)  # type: ignore[attr-defined]
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "nope" in p.stderr, p.stderr
    p = cluster.cli("ml", "get-batch", f"ais://{b.name}/nope", f"ais://{b.name}/o/002", out, "--cont-on-err")  # type: ignore[attr-defined]
    assert "1 missing" in p.stdout, p.stdout
    p = cluster.cli("ml", "get-batch", f"ais://{b.name}/o/002", os.path.join(str(tmp_path), "x.rar"), check=False)  # type: ignore[attr-defined]
    assert p.returncode == 1 and ".tar" in p.stderr, p.stderr


def test_items_on_this_machine_are_read_from_their_files(sdk: object, cluster: LocalCluster, data) -> None:  # type: ignore[no-untyped-def]
    """Holders on the designated server's machine (every one, here) are not asked over HTTP: their
    stored items are read from the files, counted as GetBatch's and not as the holders' GETs. An
    item that is not a committed file there (missing) still takes its own GET."""
    from tests.integration.test_stats import settled_status, tracked

    b, objs, _ = data
    tids = list(requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}, timeout=30).json()["tmap"])
    before = {tid: settled_status(cluster, tid) for tid in tids}
    names = [f"o/{i:03d}" for i in range(10)] + ["big"]
    got = list(sdk.batch(names, b).get())  # type: ignore[attr-defined]
    assert [c for _, c in got] == [objs[n] for n in names]
    after = {tid: settled_status(cluster, tid) for tid in tids}
    assert sum(tracked(after[t], "get.n") - tracked(before[t], "get.n") for t in tids) == 0
    assert sum(tracked(after[t], "getbatch.obj.n") - tracked(before[t], "getbatch.obj.n") for t in tids) == 11


def test_a_holder_answers_many_items_in_one_request(cluster: LocalCluster, sdk: object, data) -> None:  # type: ignore[no-untyped-def]
    """The route a designated server on another machine asks a holder by (`READ_ROUTE`): its stored
    items in one answer — small ones read, large ones sent from their files, up to `GROUP_BYTES` —
    and None for the rest (not there, past the answer's bytes), each of which the asker then GETs."""
    import asyncio

    import aiohttp

    from ais_ray.actors.getbatch import GROUP_BYTES, _ask
    from ais_ray.core.names import Bucket
    from ais_ray.core.smap import Smap

    b, objs, _ = data
    bck = Bucket(b.name)  # type: ignore[attr-defined]
    smap = Smap.from_wire(requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}, timeout=30).json())
    mp = smap.locate(bck.uname("big"))[1]
    here = [n for n in objs if smap.locate(bck.uname(n))[1].url == mp.url]
    big = [n for n in (f"g/{i}" for i in range(400)) if smap.locate(bck.uname(n))[1].url == mp.url][:4]
    every = {**objs, **{n: os.urandom(3 << 20) for n in big}}  # 3 + 12 MiB on one holder: past one answer
    for n in big:
        b.object(n).get_writer().put_content(every[n])  # type: ignore[attr-defined]
    names = ["nope", *big, *here]
    room, expected = GROUP_BYTES, []  # the holder's rule: in order, whole, while they fit
    for n in names:
        if n in every and len(every[n]) <= room:
            expected.append(every[n])
            room -= len(every[n])
        else:
            expected.append(None)
    assert None in expected[1:] and any(e is not None and len(e) >= 256 << 10 for e in expected)

    class Asker:
        def __init__(self, s: aiohttp.ClientSession) -> None:
            self.s = s

        def session(self) -> aiohttp.ClientSession:
            return self.s

    async def ask() -> list[bytes | None]:
        async with aiohttp.ClientSession() as s:
            return await _ask(Asker(s), mp.url, bck, names)

    assert asyncio.run(ask()) == expected
