"""Erasure coding on the session cluster (3 targets x 2 mountpaths): encode on PUT, restore on GET,
`ec-encode` (+ `--recover`), delete everywhere, validation (issue 12 part 2, ais-wire-2 §4)."""

from __future__ import annotations

import glob
import json
import os
import random
import signal
import time
import uuid
from collections.abc import Iterator

import msgpack
import pytest
import requests
import xxhash

from ais_ray.core.names import Bucket
from tests.integration.conftest import TARGETS, TIDS, LocalCluster
from tests.integration.test_rebalance import member, smap_of, wait_idle, wait_rebalance

SLICED = {"enabled": True, "data_slices": 1, "parity_slices": 1, "objsize_limit": 0}
REPLICATED = {"enabled": True, "data_slices": 1, "parity_slices": 1, "objsize_limit": -1}


def _bucket_url(cluster: LocalCluster, name: str) -> str:
    return f"{cluster.endpoint}/v1/buckets/{name}"


def _obj_url(cluster: LocalCluster, bck: str, name: str) -> str:
    return f"{cluster.endpoint}/v1/objects/{bck}/{name}"


@pytest.fixture()
def new_bucket(cluster: LocalCluster) -> Iterator[callable]:  # type: ignore[valid-type]
    made: list[str] = []

    def make(ec: dict | None = None) -> str:
        name = f"ec-{uuid.uuid4().hex[:8]}"
        value = {"ec": ec} if ec else None
        r = requests.post(_bucket_url(cluster, name), json={"action": "create-bck", "value": value}, timeout=30)
        assert r.status_code == 200, r.text
        made.append(name)
        return name

    yield make
    for name in made:
        requests.delete(_bucket_url(cluster, name), json={"action": "destroy-bck"}, timeout=60)


def _objects(n: int, seed: int) -> dict[str, bytes]:
    """Mixed sizes: empty, tiny, KiBs, and a few of several MiB (more than one 4 MiB segment)."""
    rnd = random.Random(seed)
    sizes = [0, 1, 100] + [rnd.randrange(1, 300_000) for _ in range(n - 6)] + [1 << 20, 5 << 20, (9 << 20) + 7]
    return {f"d{i % 4}/obj-{i:03d}": rnd.randbytes(s) for i, s in enumerate(sizes)}


def _put_all(cluster: LocalCluster, bck: str, objs: dict[str, bytes]) -> None:
    with requests.Session() as s:
        for name, data in objs.items():
            r = s.put(_obj_url(cluster, bck, name), data=data, timeout=120)
            assert r.status_code == 200, (name, r.text)


def _files(cluster: LocalCluster, bck: str, ct: str, name: str) -> list[str]:
    return sorted(glob.glob(os.path.join(cluster.data_dir, "**", "@ais", bck, ct, name), recursive=True))


def _main_file(cluster: LocalCluster, bck: str, name: str) -> str:
    r = requests.head(_obj_url(cluster, bck, name), timeout=30, allow_redirects=True)
    assert r.status_code == 200, r.text
    loc = r.headers["Ais-Location"]  # t[t1]:mp[/path]
    mp = loc[loc.index("mp[") + 3 : -1]
    return os.path.join(mp, "@ais", bck, "%ob", name)


def _listed(cluster: LocalCluster, bck: str) -> list[str]:
    names, token = [], ""
    while True:
        body = {"action": "list", "value": {"props": "name,size", "continuation_token": token}}
        r = requests.get(_bucket_url(cluster, bck), json=body, timeout=60)
        assert r.status_code == 200, r.text
        page = msgpack.unpackb(r.content)
        names += [e["n"] for e in page["Entries"] or []]
        token = page["ContinuationToken"]
        if not token:
            return sorted(names)


def _get_ok(cluster: LocalCluster, bck: str, name: str, data: bytes) -> None:
    r = requests.get(_obj_url(cluster, bck, name), timeout=120)
    assert r.status_code == 200, (name, r.status_code, r.text[:300])
    assert xxhash.xxh64(r.content).hexdigest() == xxhash.xxh64(data).hexdigest() and len(r.content) == len(data), name


def _wait(sdk: object, xid: str) -> None:
    assert xid
    result = sdk.job(job_id=xid).wait(timeout=180, verbose=False)  # type: ignore[attr-defined]
    assert result.success, result


def _ec_encode(cluster: LocalCluster, bck: str, d: int, p: int, recover: bool = False) -> requests.Response:
    body = {"action": "ec-encode", "value": json.dumps({"data_slices": d, "parity_slices": p, "enabled": True})}
    if recover:
        body["name"] = "recover"
    return requests.post(_bucket_url(cluster, bck), json=body, timeout=60)


def _until(cond: callable, timeout: float = 30) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_sliced_put_restore_recover_delete(cluster: LocalCluster, sdk: object, new_bucket: callable) -> None:  # type: ignore[valid-type]
    bck = new_bucket(SLICED)
    objs = _objects(50, seed=1)
    _put_all(cluster, bck, objs)
    assert _listed(cluster, bck) == sorted(objs)  # slices and metafiles are never objects
    for name in objs:  # main + 2 slices on 3 distinct targets, each with its metafile
        assert len(_files(cluster, bck, "%ec", name)) == 2, name
        assert len(_files(cluster, bck, "%mt", name)) == 3, name
        assert len(_files(cluster, bck, "%ob", name)) == 1, name

    big = "d3/obj-047"
    r = requests.head(_obj_url(cluster, bck, big), params={"props": "ec"}, timeout=30, allow_redirects=True)
    assert (r.headers["Ais-Ec-Data"], r.headers["Ais-Ec-Parity"], r.headers["Ais-Ec-Replicated"],
            r.headers["Ais-Ec-Generation"]) == ("1", "1", "false", "1")

    # the main replica lost on disk: GET rebuilds it from a slice, serves the exact bytes, stores it again
    lost = [big, "d2/obj-046", "d0/obj-000", "d1/obj-001", "d0/obj-004"]
    for name in lost:
        main = _main_file(cluster, bck, name)
        os.unlink(main)
        _get_ok(cluster, bck, name, objs[name])
        assert os.path.exists(main), name
    assert _listed(cluster, bck) == sorted(objs)

    # a corrupt slice is detected by its checksum (the other one is used), and replaced after the restore
    name = "d1/obj-005"
    bad = _files(cluster, bck, "%ec", name)[0]
    with open(bad, "r+b") as f:
        f.seek(max(0, os.path.getsize(bad) - 50))
        f.write(b"\xff" * 10)
    with open(bad, "rb") as f:
        corrupt = f.read()
    os.unlink(_main_file(cluster, bck, name))
    _get_ok(cluster, bck, name, objs[name])

    def replaced() -> bool:
        with open(bad, "rb") as f:
            return f.read() != corrupt

    _until(replaced)

    # overwrite: a new generation
    new = os.urandom(70_000)
    r = requests.put(_obj_url(cluster, bck, big), data=new, timeout=60)
    assert r.status_code == 200
    objs[big] = new
    r = requests.head(_obj_url(cluster, bck, big), params={"props": "ec"}, timeout=30, allow_redirects=True)
    assert r.headers["Ais-Ec-Generation"] == "2"
    os.unlink(_main_file(cluster, bck, big))
    _get_ok(cluster, bck, big, new)

    # a slice lost: `ec-encode --recover` sends it again
    name = "d2/obj-010"
    gone = _files(cluster, bck, "%ec", name)[0]
    os.unlink(gone)
    r = _ec_encode(cluster, bck, 1, 1, recover=True)
    assert r.status_code == 200, r.text
    # a job id is text, as AIStore's (Go sniffs "text/plain; charset=utf-8"): with no type at all,
    # a client guesses the charset of ten ASCII letters, and once got "也䥵彖噟穤"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8", r.headers
    _wait(sdk, r.text.strip('"'))
    assert os.path.exists(gone)

    # DELETE removes the object, its slices and every metafile
    for name in (big, "d0/obj-004"):
        assert requests.delete(_obj_url(cluster, bck, name), timeout=30).status_code == 200
        assert not _files(cluster, bck, "%ec", name) and not _files(cluster, bck, "%mt", name)
        assert not _files(cluster, bck, "%ob", name)
        assert requests.get(_obj_url(cluster, bck, name), timeout=30).status_code == 404


def test_replicated_restore(cluster: LocalCluster, new_bucket: callable) -> None:  # type: ignore[valid-type]
    bck = new_bucket(REPLICATED)
    objs = _objects(20, seed=2)
    _put_all(cluster, bck, objs)
    assert _listed(cluster, bck) == sorted(objs)  # the full replica on another target is not listed twice
    for name in objs:
        assert len(_files(cluster, bck, "%ob", name)) == 2 and not _files(cluster, bck, "%ec", name), name
    r = requests.head(_obj_url(cluster, bck, "d1/obj-001"), params={"props": "ec"}, timeout=30, allow_redirects=True)
    assert r.headers["Ais-Ec-Replicated"] == "true"
    for name in ("d3/obj-019", "d2/obj-018", "d1/obj-001"):
        main = _main_file(cluster, bck, name)
        os.unlink(main)
        _get_ok(cluster, bck, name, objs[name])
        assert os.path.exists(main)
    # both gone: a 404, not a 500
    name = "d0/obj-000"
    for path in _files(cluster, bck, "%ob", name):
        os.unlink(path)
    assert requests.get(_obj_url(cluster, bck, name), timeout=30).status_code == 404


def test_ec_encode_existing_bucket_and_bad_requests(cluster: LocalCluster, sdk: object, new_bucket: callable) -> None:  # type: ignore[valid-type]
    bck = new_bucket()
    objs = _objects(20, seed=3)
    _put_all(cluster, bck, objs)
    assert not any(_files(cluster, bck, "%mt", n) for n in objs)

    bad = [
        ({"action": "ec-encode", "value": {"data_slices": 1, "parity_slices": 1}}, "invalid ec-encode request"),
        ({"action": "ec-encode", "value": '{"data_slices": 1}'}, "invalid ec-encode request"),
        ({"action": "ec-encode", "value": '{"data_slices": 3, "parity_slices": 1}'},
         f"requires at least 5 targets (have {TARGETS})"),
    ]
    for body, msg in bad:
        r = requests.post(_bucket_url(cluster, bck), json=body, timeout=30)
        assert r.status_code == 400 and msg in r.json()["message"], (body, r.status_code, r.text)

    p = cluster.cli("start", "ec-encode", f"ais://{bck}", "-d", "1", "-p", "1", "--wait", "--timeout", "3m")
    assert "ec-bucket[" in p.stdout
    for name, data in objs.items():  # default objsize_limit 256 KiB: smaller objects replicated, larger sliced
        sliced = len(data) >= 256 * 1024
        assert len(_files(cluster, bck, "%mt", name)) == (3 if sliced else 2), name
        assert len(_files(cluster, bck, "%ec", name)) == (2 if sliced else 0), name
    os.unlink(_main_file(cluster, bck, "d3/obj-019"))
    _get_ok(cluster, bck, "d3/obj-019", objs["d3/obj-019"])
    # once enabled, D/P cannot change
    r = _ec_encode(cluster, bck, 1, 2)
    assert r.status_code == 400 and "cannot be disabled or changed" in r.json()["message"], r.text
    props = json.loads(requests.head(_bucket_url(cluster, bck), timeout=30).headers["Ais-Bucket-Props"])
    assert props["ec"]["enabled"] and (props["ec"]["data_slices"], props["ec"]["parity_slices"]) == (1, 1)


def test_set_bprops_enabling_ec_starts_ec_encode(cluster: LocalCluster, sdk: object, new_bucket: callable) -> None:  # type: ignore[valid-type]
    bck = new_bucket()
    objs = _objects(8, seed=4)
    _put_all(cluster, bck, objs)
    r = requests.patch(_bucket_url(cluster, bck), json={"action": "set-bprops", "value": {"ec": REPLICATED}}, timeout=30)
    assert r.status_code == 200, r.text
    _wait(sdk, r.text.strip('"'))
    for name in objs:
        assert len(_files(cluster, bck, "%ob", name)) == 2, name
    assert _listed(cluster, bck) == sorted(objs)


def test_holder_killed_and_its_slice_lost(cluster: LocalCluster, sdk: object, new_bucket: callable) -> None:  # type: ignore[valid-type]
    """A slice holder's process killed (Ray restarts it) and its slice gone, the main lost too: the GET
    rebuilds from the remaining slice; `--recover` then gives the holder its slice back."""
    bck = new_bucket(SLICED)
    data = os.urandom((5 << 20) + 3)
    _put_all(cluster, bck, {"victim": data})
    stats = requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "stats"}, timeout=30).json()
    pid_of = {m["path"]: m["pid"] for t in stats["targets"].values() for m in t["mountpaths"]}
    slice_path = _files(cluster, bck, "%ec", "victim")[0]
    holder_mp = slice_path[: slice_path.index("/@ais/")]
    os.unlink(slice_path)
    os.unlink(os.path.join(holder_mp, "@ais", bck, "%mt", "victim"))
    os.kill(pid_of[holder_mp], signal.SIGKILL)
    os.unlink(_main_file(cluster, bck, "victim"))
    _get_ok(cluster, bck, "victim", data)

    def recovered() -> bool:  # the holder may still be restarting: its share of the job fails, try again
        r = _ec_encode(cluster, bck, 1, 1, recover=True)
        if r.status_code != 200:
            return False
        sdk.job(job_id=r.text.strip('"')).wait(timeout=180, verbose=False)  # type: ignore[attr-defined]
        return os.path.exists(slice_path)

    _until(recovered, timeout=90)  # the restarted holder takes its slice again


def _maintenance(cluster: LocalCluster, tid: str, on: bool, *, rebalance: bool = False) -> None:
    """Start maintenance without a rebalance (a lost node, as an operator handles it; `rebalance`:
    with one, waited for), or stop it and wait for the rebalance."""
    deadline = time.monotonic() + 60
    while True:  # the previous change may still be finishing ("busy")
        r = member(cluster, "start-maintenance" if on else "stop-maintenance", tid,
                   **({"skip_rebalance": True} if on and not rebalance else {}))
        if r.status_code != 400 or "busy" not in r.text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert r.status_code == 200, r.text
    if not on or rebalance:
        assert not wait_rebalance(cluster, r.text)["aborted"]


def test_replicas_become_mains_through_two_maintenances(cluster: LocalCluster,
                                                        new_bucket: callable) -> None:  # type: ignore[valid-type]
    """Replicated objects (D=1, P=1 below objsize_limit), two of three targets into maintenance in
    turn and back. A main moved to the target that held its full replica must become the main
    there: its replica's metafile hid it from listings and from every rebalance after (5 of 26
    objects), and a decommission of that node then destroyed it as a mere replica."""
    wait_idle(cluster)
    bck = new_bucket(REPLICATED)
    objs = {f"r{i:02d}": os.urandom(1000 + 37 * i) for i in range(26)}
    _put_all(cluster, bck, objs)
    first, second = sorted(TIDS)[1], sorted(TIDS)[0]
    away: list[str] = []
    try:
        for tid in (first, second):
            _maintenance(cluster, tid, True, rebalance=True)
            away.append(tid)
        assert _listed(cluster, bck) == sorted(objs)  # one target holds everything: each a main
        while away:
            _maintenance(cluster, away[0], False)
            away.pop(0)
    finally:
        for tid in away:
            _maintenance(cluster, tid, False)
    assert _listed(cluster, bck) == sorted(objs)
    for name, data in objs.items():
        _get_ok(cluster, bck, name, data)


def test_restore_takes_the_newest_write_not_the_highest_generation(cluster: LocalCluster,
                                                                   new_bucket: callable) -> None:  # type: ignore[valid-type]
    """Generations count per encoder: an owner that never held the object starts again at 1. Here
    the object's owner A is in maintenance and its new owner B never held it (B was in maintenance
    when v1 was written), so v2 is encoded as generation 1 — the generation A's old main still has.
    B's main then lost: the restore must rebuild v2 (the newer write), never A's v1."""
    wait_idle(cluster)
    bck = new_bucket(REPLICATED)
    name = "o"
    a, b, _ = (t.daemon_id for t in smap_of(cluster).ranked_targets(Bucket(bck).uname(name)))
    _maintenance(cluster, b, True)
    try:
        v1 = os.urandom(3000)
        _put_all(cluster, bck, {name: v1})  # main on A, its replica on C: generation 1
    finally:
        _maintenance(cluster, b, False)
    _maintenance(cluster, a, True)
    try:
        v2 = os.urandom(2000)
        _put_all(cluster, bck, {name: v2})  # to B, which holds nothing of it: generation 1 again
        r = requests.head(_obj_url(cluster, bck, name), params={"props": "ec"}, timeout=30, allow_redirects=True)
        assert r.headers["Ais-Ec-Generation"] == "1", r.headers
        os.unlink(_main_file(cluster, bck, name))
        _get_ok(cluster, bck, name, v2)  # rebuilt from C's replica of v2, not from A's v1
    finally:
        _maintenance(cluster, a, False)
    _get_ok(cluster, bck, name, v2)  # A is back: the rebalance brought v2 over its v1, re-encoded there
    assert len(_files(cluster, bck, "%ob", name)) == 2  # the main on A, its full replica on B
    os.unlink(_main_file(cluster, bck, name))
    _get_ok(cluster, bck, name, v2)


def test_a_write_too_few_targets_could_encode_is_not_restored_as_older_bytes(
        cluster: LocalCluster, new_bucket: callable) -> None:  # type: ignore[valid-type]
    """D=1, P=1 needs all 3 targets: with the owner A in maintenance an overwrite is stored on B
    but cannot be encoded (the PUT succeeds, as AIStore's). B's main then lost: the holders keep
    only v1, and a GET must not answer with it — a 404 saying the object is lost."""
    wait_idle(cluster)
    bck = new_bucket(SLICED)
    name = "o"
    v1 = os.urandom(5000)
    _put_all(cluster, bck, {name: v1})
    a = smap_of(cluster).ranked_targets(Bucket(bck).uname(name))[0].daemon_id
    _maintenance(cluster, a, True)
    try:
        v2 = os.urandom(4000)
        _put_all(cluster, bck, {name: v2})
        _get_ok(cluster, bck, name, v2)
        os.unlink(_main_file(cluster, bck, name))
        for method in (requests.get, requests.head):
            r = method(_obj_url(cluster, bck, name), timeout=60, allow_redirects=True)
            assert r.status_code == 404, (method, r.status_code, r.content[:100])
        r = requests.get(_obj_url(cluster, bck, name), timeout=60)
        assert "is lost" in r.json()["message"], r.text
    finally:
        _maintenance(cluster, a, False)


def _custom_md(cluster: LocalCluster, bck: str, name: str) -> dict[str, str]:
    r = requests.head(_obj_url(cluster, bck, name), timeout=30, allow_redirects=True)
    assert r.status_code == 200, r.text
    return dict(kv.split("=", 1) for kv in r.headers.get("Ais-Custom-Md", "").split(",") if kv)


def _holder_metas(cluster: LocalCluster, bck: str, name: str) -> dict[str, bytes]:
    """Every holder's metafile (path -> bytes), the main's own left out."""
    main_meta = _main_file(cluster, bck, name).replace("/%ob/", "/%mt/")
    return {p: open(p, "rb").read() for p in _files(cluster, bck, "%mt", name) if p != main_meta}


@pytest.mark.parametrize("conf", [SLICED, REPLICATED], ids=["sliced", "replicated"])
def test_custom_metadata_set_after_the_write_survives_a_restore(cluster: LocalCluster, sdk: object,
                                                                 new_bucket: callable, conf: dict) -> None:  # type: ignore[valid-type]
    """A PATCH of the custom metadata (the SDK's `set_custom_props`) changes no bytes and no
    version, so nothing is re-encoded: the holders' metafiles must take it, or an object restored
    from its slices or replica comes back with the metadata it was encoded with. A holder that
    missed it (stale metafile) gets it from `ec-encode --recover`."""
    wait_idle(cluster)
    bck = new_bucket(conf)
    name, data = "m/o", os.urandom(7000)
    _put_all(cluster, bck, {name: data})
    obj = sdk.bucket(bck).object(name)  # type: ignore[attr-defined]
    obj.get_writer().set_custom_props({"k": "v1", "kept": "yes"})
    assert _custom_md(cluster, bck, name) == {"k": "v1", "kept": "yes"}

    os.unlink(_main_file(cluster, bck, name))  # the main's metafile stays: it has the latest
    _get_ok(cluster, bck, name, data)
    assert _custom_md(cluster, bck, name) == {"k": "v1", "kept": "yes"}

    stale = _holder_metas(cluster, bck, name)
    assert stale and all(b'"v1"' in raw for raw in stale.values()), stale
    obj.get_writer().set_custom_props({"k": "v2"}, replace_existing=True)
    main = _main_file(cluster, bck, name)
    os.unlink(main)  # and its metafile: only the holders' metafiles can tell
    os.unlink(main.replace("/%ob/", "/%mt/"))
    _get_ok(cluster, bck, name, data)
    assert _custom_md(cluster, bck, name) == {"k": "v2"}

    # a holder that missed the change (it was down): `ec-encode --recover` brings it up to date
    path, raw = next(iter(stale.items()))
    with open(path, "wb") as f:
        f.write(raw)
    r = _ec_encode(cluster, bck, 1, 1, recover=True)
    assert r.status_code == 200, r.text
    _wait(sdk, r.text.strip('"'))
    _until(lambda: b'"v2"' in open(path, "rb").read() and b'"v1"' not in open(path, "rb").read())
