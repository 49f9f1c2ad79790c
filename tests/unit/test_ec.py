"""Erasure coding without Ray: the codec (pyeclib), the metafile and placement, slices on disk."""

from __future__ import annotations

import io
import itertools
import json
import os
import random
from dataclasses import replace

import pytest
import xxhash

from ais_ray.core.ec import (Metafile, RestorePlan, new_meta, outdated, parse_encode, place, reachable, restore_plan,
                             standin)
from ais_ray.core.errors import ErrBadRequest, ErrNoTarget, ErrObjNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.redundancy import ECConf
from ais_ray.core.smap import FLAG_OFFLINE, MountpathInfo, Smap, Snode
from ais_ray.ec import codec as C
from ais_ray.ec.slices import ECSlices, ErrSliceCorrupt
from ais_ray.fs.store import MountpathStore


@pytest.fixture()
def small_segments(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(C, "SEGMENT", 64 << 10)  # many segments per object, fast
    return 64 << 10


def _slices(data: bytes, c: C.Codec) -> list[bytes]:
    frags = list(C.encode_segments(io.BytesIO(data), len(data), c))
    return [b"".join(f[i] for f in frags) for i in range(c.slices)]


def _decode(slices: dict[int, bytes], size: int, c: C.Codec) -> bytes:
    out: list[bytes] = []
    C.decode_to({i: io.BytesIO(b) for i, b in slices.items()}, size, c, out.append)
    return b"".join(out)


@pytest.mark.parametrize("d,p", [(1, 1), (2, 1), (3, 1), (2, 2), (4, 2)])
def test_round_trip_with_any_parity_slices_lost(small_segments: int, d: int, p: int) -> None:
    c = C.codec(d, p)
    rnd = random.Random(d * 10 + p)
    for size in (0, 1, 1000, small_segments, 2 * small_segments + 17):
        data = rnd.randbytes(size)
        slices = _slices(data, c)
        assert all(len(s) == c.slice_size(size) for s in slices)
        for lost in itertools.combinations(range(d + p), p):  # any P slices gone
            left = {i: s for i, s in enumerate(slices) if i not in lost}
            assert _decode(left, size, c) == data, (size, lost)


def test_too_few_slices_is_an_error(small_segments: int) -> None:
    c = C.codec(2, 1)
    data = os.urandom(100_000)
    slices = _slices(data, c)
    with pytest.raises(C.ErrDecode):
        _decode({0: slices[0]}, len(data), c)
    with pytest.raises(C.ErrDecode):  # truncated slice
        _decode({0: slices[0][:-10], 1: slices[1]}, len(data), c)


def test_reconstruct_a_lost_slice(small_segments: int) -> None:
    c = C.codec(2, 2)
    data = os.urandom(3 * small_segments)
    frags = c.encode(data[:small_segments])
    assert c.reconstruct({0: frags[0], 3: frags[3]}, [1])[0] == frags[1]


def test_backend_is_reed_solomon() -> None:
    assert C.default_type(1) in ("isa_l_rs_vand", "isa_l_rs_cauchy", "liberasurecode_rs_vand")
    assert C.default_type(8) in ("isa_l_rs_cauchy", "liberasurecode_rs_vand")


def _smap(n: int) -> Smap:
    nodes = {f"t{i}": Snode(f"t{i}", "target", f"http://t{i}", 0, (MountpathInfo(f"/m{i}", f"http://m{i}"),))
             for i in range(1, n + 1)}
    return Smap("u", 1, Snode("p", "proxy", "http://p", 0), nodes)


def test_placement_follows_hrw_order() -> None:
    smap = _smap(5)
    uname = "ais/@#/b/obj"
    ranked = [t.daemon_id for t in smap.ranked_targets(uname)]
    sliced = place(smap, uname, ECConf(enabled=True, data_slices=3, parity_slices=1, objsize_limit=0), 10)
    assert sliced.main == ranked[0] and sliced.holders == tuple((t, i) for i, t in enumerate(ranked[1:5], 1))
    assert sliced.sliced and sliced.nodes()[ranked[0]] == 0
    repl = place(smap, uname, ECConf(enabled=True, data_slices=3, parity_slices=2, objsize_limit=1000), 10)
    assert not repl.sliced and repl.holders == ((ranked[1], 0), (ranked[2], 0))
    with pytest.raises(ErrNoTarget):
        place(_smap(3), uname, ECConf(enabled=True, data_slices=3, parity_slices=1, objsize_limit=0), 10)


def _meta(gen: int, sid: int, **kw: object) -> Metafile:
    return Metafile(obj_size=10, generation=gen, obj_cksum="c", obj_version="1", data_slices=2, parity_slices=1,
                    slice_id=sid, **kw)  # type: ignore[arg-type]


def test_restore_plan_prefers_a_replica_and_the_newest_generation() -> None:
    assert restore_plan({"t2": _meta(1, 0, is_copy=True), "t3": _meta(1, 0, is_copy=True)}) == RestorePlan("t2", ())
    plan = restore_plan({"t2": _meta(2, 2), "t3": _meta(2, 1), "t4": _meta(1, 3)})
    assert plan == RestorePlan("", (("t3", 1), ("t2", 2)))  # generation 1 is stale
    assert restore_plan({"t2": _meta(2, 2), "t4": _meta(1, 1)}) is None  # one current slice of D=2
    assert restore_plan({}) is None


def test_restore_plan_takes_the_newer_write_over_a_higher_generation() -> None:
    """Generations count per encoder: a new owner that never held the object encodes a newer write
    as generation 1 beside an old main of generation 2; the write time decides, then the generation."""
    old_main = _meta(2, 0, lom={"size": 10, "mtime_ns": 100})
    new_copy = _meta(1, 0, is_copy=True, lom={"size": 10, "mtime_ns": 200})
    assert restore_plan({"t1": old_main, "t3": new_copy}) == RestorePlan("t3", ())
    assert restore_plan({"t1": _meta(1, 0, lom={"mtime_ns": 100}), "t3": new_copy}) == RestorePlan("t3", ())
    # the same write re-encoded: the higher generation; no write time (stored before it was kept): generation
    assert restore_plan({"t1": _meta(1, 0, lom={"mtime_ns": 200}), "t3": _meta(2, 0, is_copy=True, lom={"mtime_ns": 200})}) \
        == RestorePlan("t3", ())
    assert restore_plan({"t2": _meta(2, 0, is_copy=True), "t3": _meta(1, 0, is_copy=True)}) == RestorePlan("t2", ())


def test_metafile_round_trip_and_object_attrs() -> None:
    attrs = ObjAttrs(size=10, cksum="abc", version="3", custom={"k": "v"})
    conf = ECConf(enabled=True, data_slices=1, parity_slices=1, objsize_limit=0)
    m = new_meta(place(_smap(3), "ais/@#/b/o", conf, 10), conf, attrs, 4, "isa_l_rs_vand")
    back = Metafile.from_bytes(m.to_bytes())
    assert back == m and back.generation == 4 and back.ec_type == "isa_l_rs_vand"
    assert back.attrs().custom == {"k": "v"} and back.attrs().cksum == "abc"
    wire = json.loads(m.to_bytes())
    for key in ("obj_size", "generation", "obj_cksum", "obj_version", "cksum_type", "slice_cksum", "nodes",
                "data_slices", "parity_slices", "slice_id", "is_copy"):
        assert key in wire
    with pytest.raises(ErrBadRequest):
        Metafile.from_bytes(b"{not json")


@pytest.mark.parametrize("value,name,msg", [
    ({"data_slices": 1, "parity_slices": 1}, "", "must be a JSON string"),
    ('{"data_slices": 1}', "", '"parity_slices" is required'),
    ("nope", "", "invalid ec-encode request"),
    ('{"data_slices": 1, "parity_slices": 1}', "other", 'name "other"'),
])
def test_parse_encode_refuses(value: object, name: str, msg: str) -> None:
    with pytest.raises(ErrBadRequest, match="invalid ec-encode request") as e:
        parse_encode(value, name)
    assert msg in e.value.message


def test_parse_encode() -> None:
    r = parse_encode('{"data_slices":2,"parity_slices":1,"enabled":true}', "recover")
    assert (r.data_slices, r.parity_slices, r.recover) == (2, 1, True)


def _received(store: MountpathStore, data: bytes):  # noqa: ANN202
    w = store.new_writer()
    w.write(data)
    return w, w.finish()


def test_slices_on_disk(tmp_path: object) -> None:
    store = MountpathStore(str(tmp_path), fsync=False)
    sl = ECSlices(store)
    bck = Bucket("b")
    # a slice: %ec + %mt, never an object
    w, ck = _received(store, b"slice-bytes")
    sl.commit(w, ck, bck, "d/x", _meta(1, 2))
    f, m = sl.open(bck, "d/x")
    with f:
        assert f.read() == b"slice-bytes" and m.slice_cksum == xxhash.xxh64(b"slice-bytes").hexdigest()
    with pytest.raises(ErrObjNotFound):
        store.load(bck, "d/x")
    # a full replica held for another target: %ob, hidden from walks by `keep`
    data = b"whole object"
    meta = _meta(1, 0, is_copy=True, lom={"size": len(data), "cksum": xxhash.xxh64(data).hexdigest(), "version": "7"})
    meta = Metafile(**{**json.loads(meta.to_bytes()), "obj_cksum": xxhash.xxh64(data).hexdigest()})
    w, ck = _received(store, data)
    sl.commit(w, ck, bck, "r", meta)
    assert store.load(bck, "r").version == "7"
    keep = sl.keep(bck)
    assert not keep("r", store.fqn(bck, "r")) and keep("plain", store.fqn(bck, "plain"))
    # a replica that does not match the object's checksum is refused and leaves nothing
    w, ck = _received(store, b"other bytes")
    with pytest.raises(ErrSliceCorrupt):
        sl.commit(w, ck, bck, "bad", meta)
    assert sl.load_meta(bck, "bad") is None and not os.listdir(os.path.join(str(tmp_path), "%wk"))
    # delete drops slice/replica and metafile
    assert sl.delete(bck, "d/x", main=False) and sl.load_meta(bck, "d/x") is None
    assert sl.delete(bck, "r", main=False)
    with pytest.raises(ErrObjNotFound):
        store.load(bck, "r")
    assert not sl.delete(bck, "never", main=False)


def test_standin_is_the_first_online_target_after_an_offline_owner() -> None:
    smap = _smap(4)
    uname = "ais/@#/b/obj"
    ranked = [t.daemon_id for t in smap.ranked_targets(uname)]
    assert standin(smap, uname).daemon_id == ranked[0] and reachable(smap, ranked[0])
    down = smap.with_target_flags(ranked[0], set_flags=FLAG_OFFLINE)
    assert standin(down, uname).daemon_id == ranked[1]  # placement unchanged: the owner is still ranked[0]
    assert down.owner(uname).daemon_id == ranked[0] and not reachable(down, ranked[0]) and not reachable(down, "t9")
    both = down.with_target_flags(ranked[1], set_flags=FLAG_OFFLINE)
    assert standin(both, uname).daemon_id == ranked[2]


def test_metafiles_walk_in_name_order(tmp_path: object) -> None:
    store = MountpathStore(str(tmp_path), fsync=False)
    sl, bck = ECSlices(store), Bucket("b")
    for name in ("z", "d/y", "d/x", "a"):
        sl.save_meta(bck, name, _meta(1, 1, replica_node="t1"))
    assert [n for n, _ in sl.metas(bck)] == ["a", "d/x", "d/y", "z"]
    assert [(n, m.replica_node) for n, m in sl.metas(bck, "d/")] == [("d/x", "t1"), ("d/y", "t1")]
    assert list(sl.metas(Bucket("other"))) == []


def test_outdated_holders_after_a_placement_change() -> None:
    old = _meta(1, 0, nodes={"t1": 0, "t2": 1, "t3": 2, "t4": 3})
    new = _meta(2, 0, nodes={"t2": 0, "t3": 1, "t5": 2, "t1": 3})  # t2 owns it now; t4 is out
    assert outdated(old, new, "t2") == ["t4"]
    assert outdated(None, new, "t2") == []  # a first encode: nothing to drop
    assert outdated(old, _meta(2, 0, nodes={"t9": 0, "t8": 1}), "t9") == ["t1", "t2", "t3", "t4"]
    assert outdated(old, _meta(2, 0, nodes={"t8": 1}), "t1") == ["t2", "t3", "t4"]  # never the encoder itself


def test_a_holder_that_kept_a_restored_main_is_a_holder_again_once_it_moved_away(tmp_path: object) -> None:
    """A holder that rebuilt and kept a lost owner's main (its metafile now the main's) gets, when the
    main moves back to its owner, the metafile of what the placement has it hold: its slice (still on
    disk), its full replica (the file stays), or nothing."""
    from types import SimpleNamespace

    from ais_ray.core.bmd import BMD, BucketProps
    from ais_ray.ec.manager import ECManager

    smap, bck, data = _smap(3), Bucket("b"), b"the object"
    sliced = ECConf(enabled=True, data_slices=1, parity_slices=1, objsize_limit=0)
    replicated = ECConf(enabled=True, data_slices=1, parity_slices=1, objsize_limit=-1)
    attrs = ObjAttrs(size=len(data), cksum=xxhash.xxh64(data).hexdigest())
    for conf in (sliced, replicated):
        name = f"o-{conf.objsize_limit}"
        plan = place(smap, bck.uname(name), conf, len(data))
        owner, (h1, s1), nodes = plan.main, plan.holders[0], plan.nodes()
        store = MountpathStore(os.path.join(str(tmp_path), name), fsync=False)
        mgr = ECManager(h1, store, SimpleNamespace(smap=smap, bmd=BMD("u").with_bucket(bck, BucketProps(ec=conf))))
        held = replace(_meta(1, s1, nodes=nodes, replica_node=owner, is_copy=not s1), obj_cksum=attrs.cksum)
        w, ck = _received(store, b"slice-bytes" if s1 else data)
        mgr.slices.commit(w, ck, bck, name, held)
        # the owner was lost: h1 rebuilt the main and kept it, its metafile now the main's
        w, _ = _received(store, data)
        store.commit(w, bck, name, attrs, bump_version=False)
        mgr.slices.save_meta(bck, name, replace(held, slice_id=0, is_copy=False, replica_node=h1, slice_cksum=""))
        kept = mgr.moved_away(bck, name, attrs)
        m = mgr.slices.load_meta(bck, name)
        assert m is not None and m.replica_node == owner and m.slice_id == s1 and m.is_copy == (not s1), m
        assert kept == (not s1) and mgr.slices.usable_meta(bck, name, verify=True) == m
        # a target the placement has hold nothing: its metafile goes
        other = ECManager("t9", store, mgr._meta)
        other.slices.save_meta(bck, name, replace(m, slice_id=0, is_copy=False))
        assert not other.moved_away(bck, name, attrs) and other.slices.load_meta(bck, name) is None
