"""Pure parts of rebalance / resilver / membership: what moves where, what a move stores, the
membership request, the mountpath table (no Ray, no servers)."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from ais_ray.fs.fspaths import ATTACH, DETACH, DISABLE, ENABLE, FSPATHS_FILE, Fspaths
from ais_ray.core.errors import AisError, ErrBadRequest, ErrNotFound
from ais_ray.core.lom import XATTR, ObjAttrs
from ais_ray.core.members import DECOMMISSION, START_MAINTENANCE, RmNode
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt, put_owt
from ais_ray.core.smap import FLAG_MAINTENANCE, FLAG_OFFLINE, MP_DETACHED, MP_DISABLED, MP_ENABLED, MountpathInfo, Smap, Snode
from ais_ray.core.xact import XactSnap
from ais_ray.fs.store import MountpathStore
from ais_ray.fs.write import write_bytes, write_stream
from ais_ray.jobs.rebalance import REBALANCE, RESILVER, MoveStats, destination, reb_id, walk_and_move

BCK = Bucket("b")
NAMES = [f"o-{i}" for i in range(500)]


def _smap(n: int = 3, n_mp: int = 2) -> Smap:
    smap = Smap(uuid="u", version=7, primary=Snode("p1", "proxy", "http://p"))
    for i in range(1, n + 1):
        mps = tuple(MountpathInfo(f"/d/t{i}/mp{j}", f"http://t{i}:{j}") for j in range(n_mp))
        smap = smap.with_target(Snode(f"t{i}", "target", f"http://t{i}", 0, mps))
    return smap


def test_destination_rebalance_moves_only_what_another_target_owns() -> None:
    smap = _smap()
    for name in NAMES:
        tsi, mp = smap.locate(BCK.uname(name))
        assert destination(smap, tsi.daemon_id, mp.path, BCK.uname(name), REBALANCE) is None
        other = next(t for t in smap.targets if t != tsi.daemon_id)
        assert destination(smap, other, "/anywhere", BCK.uname(name), REBALANCE) == mp
    # a target in maintenance owns nothing: everything it holds goes to the others
    m = smap.with_target_flags("t2", set_flags=FLAG_MAINTENANCE)
    assert all(destination(m, "t2", "/d/t2/mp0", BCK.uname(n), REBALANCE) is not None for n in NAMES)
    assert reb_id(m.version) == f"g{m.version}"


def test_destination_resilver_moves_within_the_target_only() -> None:
    smap = _smap()
    for name in NAMES[:100]:
        tsi, mp = smap.locate(BCK.uname(name))
        other_mp = next(m.path for m in tsi.mountpaths if m.path != mp.path)
        assert destination(smap, tsi.daemon_id, other_mp, BCK.uname(name), RESILVER) == mp
        assert destination(smap, tsi.daemon_id, mp.path, BCK.uname(name), RESILVER) is None
        other_t = next(t for t in smap.targets if t != tsi.daemon_id)
        assert destination(smap, other_t, "/x", BCK.uname(name), RESILVER) is None  # not ours: rebalance's job


def test_same_placement_ignores_urls_versions_and_offline() -> None:
    smap = _smap()
    t1 = smap.targets["t1"]
    moved_url = smap.with_target(Snode("t1", "target", "http://elsewhere", 0, t1.mountpaths))
    assert smap.same_placement(moved_url) and smap.same_placement(smap.with_target_flags("t1", set_flags=FLAG_OFFLINE))
    assert not smap.same_placement(smap.with_target_flags("t1", set_flags=FLAG_MAINTENANCE))
    assert not smap.same_placement(smap.without_target("t3"))
    assert not smap.same_placement(smap.with_target(t1.with_mountpath_state("/d/t1/mp0", MP_DISABLED)))
    # a mountpath detached and attached back is listed last until its target restarts: HRW does not
    # depend on the order, so a restart with the saved order starts no rebalance
    reordered = smap.with_target(replace(t1, mountpaths=tuple(reversed(t1.mountpaths))))
    assert reordered.targets["t1"].mountpaths != t1.mountpaths and smap.same_placement(reordered)


def test_reported_target_keeps_proxy_flags_and_clears_offline() -> None:
    smap = _smap().with_target_flags("t1", set_flags=FLAG_MAINTENANCE | FLAG_OFFLINE)
    again = smap.with_reported_target(Snode("t1", "target", "http://t1", 0, smap.targets["t1"].mountpaths))
    assert again.targets["t1"].flags == FLAG_MAINTENANCE


def test_mountpath_list() -> None:
    t = _smap(1, 3).targets["t1"].with_mountpath_state("/d/t1/mp1", MP_DISABLED).with_mountpath_state("/d/t1/mp2", MP_DETACHED)
    assert t.mountpath_list() == {"available": ["/d/t1/mp0"], "waiting_dd": ["/d/t1/mp2"], "disabled": ["/d/t1/mp1"]}


def test_rm_node_parsing() -> None:
    assert RmNode.from_wire(START_MAINTENANCE, {"sid": "t[t2]"}) == RmNode("t2")
    assert RmNode.from_wire(DECOMMISSION, {"sid": "", "sids": ["t3"], "rm_user_data": True}) == RmNode("t3", rm_user_data=True)
    for action, value in ((START_MAINTENANCE, {}), (START_MAINTENANCE, {"sid": "t1", "sids": ["t2"]}),
                          (START_MAINTENANCE, {"sids": ["t1", "t2"]}), (START_MAINTENANCE, "t1"),
                          (START_MAINTENANCE, {"sid": "t1", "skip_rebalance": "yes"}), ("join", {"sid": "t1"})):
        with pytest.raises(ErrBadRequest):
            RmNode.from_wire(action, value)


def test_put_owt_and_attrs_header() -> None:
    assert put_owt("rebalance") is Owt.REBALANCE and put_owt("copy") is Owt.COPY and put_owt("") is Owt.PUT
    a = ObjAttrs(size=3, cksum="abc", version="4", custom={"k": "v ü"}, src_etag="e")
    assert ObjAttrs.from_header(a.to_header()) == a
    with pytest.raises(ErrBadRequest):
        ObjAttrs.from_header("not base64!")


async def _one(data: bytes) -> object:
    yield data


def test_move_keeps_metadata_verifies_checksum_and_never_overwrites(tmp_path: Path) -> None:
    src = MountpathStore(str(tmp_path / "a"), fsync=False)
    dst = MountpathStore(str(tmp_path / "b"), fsync=False)
    sent = write_bytes(src, BCK, "x", b"hello", Owt.PUT)
    sent = replace(sent, version="9", custom={"k": "v"})
    got = asyncio.run(write_stream(dst, BCK, "x", _one(b"hello"), Owt.REBALANCE, keep=sent))  # type: ignore[arg-type]
    assert dst.load(BCK, "x") == got and got.version == "9" and got.custom == {"k": "v"}
    with pytest.raises(ErrBadRequest):  # bytes that are not what was sent: nothing stored
        asyncio.run(write_stream(dst, BCK, "y", _one(b"hellO"), Owt.REBALANCE, keep=sent))  # type: ignore[arg-type]
    with pytest.raises(ErrNotFound):
        dst.load(BCK, "y")
    newer = write_bytes(dst, BCK, "z", b"new!", Owt.PUT)  # written at the new owner after the move began
    kept = asyncio.run(write_stream(dst, BCK, "z", _one(b"hello"), Owt.REBALANCE, keep=sent))  # type: ignore[arg-type]
    assert kept == newer and dst.open(BCK, "z")[0].read() == b"new!"


def test_move_replaces_an_older_copy_at_the_receiver(tmp_path: Path) -> None:
    """A node back after its objects were overwritten on their interim owners: the newer write
    moving to it replaces its older copy (kept, it would shadow the newer one, which the sender
    then drops: the write lost)."""
    back = MountpathStore(str(tmp_path / "back"), fsync=False)
    interim = MountpathStore(str(tmp_path / "interim"), fsync=False)
    old = write_bytes(back, BCK, "x", b"v1", Owt.PUT)
    newer = write_bytes(interim, BCK, "x", b"v2 written while it was away", Owt.PUT)
    assert newer.mtime_ns > old.mtime_ns
    got = asyncio.run(write_stream(back, BCK, "x", _one(b"v2 written while it was away"), Owt.REBALANCE,  # type: ignore[arg-type]
                                   keep=interim.open(BCK, "x")[1]))
    assert got.cksum == newer.cksum and back.open(BCK, "x")[0].read() == b"v2 written while it was away"
    # stored before `mtime_ns` existed: the files' own mtimes decide, the same way
    legacy = replace(write_bytes(interim, BCK, "y", b"newer", Owt.PUT), mtime_ns=0)
    write_bytes(back, BCK, "y", b"older", Owt.PUT)
    os.setxattr(back.fqn(BCK, "y"), XATTR, replace(back.load(BCK, "y"), mtime_ns=0).to_bytes())
    os.utime(back.fqn(BCK, "y"), ns=(1, 1))
    os.setxattr(interim.fqn(BCK, "y"), XATTR, legacy.to_bytes())
    sent = interim.open(BCK, "y")[1]
    assert sent.mtime_ns == os.stat(interim.fqn(BCK, "y")).st_mtime_ns  # filled from the file
    asyncio.run(write_stream(back, BCK, "y", _one(b"newer"), Owt.REBALANCE, keep=sent))  # type: ignore[arg-type]
    assert back.open(BCK, "y")[0].read() == b"newer"


def _walked_disk(tmp_path: Path) -> tuple[Smap, str]:
    """A two-target map and t1's one disk holding every one of NAMES (its name as its bytes)."""
    here = str(tmp_path / "mp")
    store = MountpathStore(here, fsync=False)
    for n in NAMES:
        write_bytes(store, BCK, n, n.encode(), Owt.PUT)
    return _smap(2, 1), here


def test_walk_and_move_sends_each_misplaced_object_once(tmp_path: Path) -> None:
    smap, here = _walked_disk(tmp_path)
    sent: list[str] = []

    async def send(bck: Bucket, name: str, mp: MountpathInfo) -> int:
        assert smap.locate(bck.uname(name))[1] == mp
        sent.append(name)
        return len(name)

    stats = MoveStats()
    asyncio.run(walk_and_move(here, "t1", REBALANCE, [BCK], lambda: smap, send, stats, per_mp=4))
    want = sorted(n for n in NAMES if smap.owner(BCK.uname(n)).daemon_id != "t1")
    assert sorted(sent) == want and stats.out_objs == len(want) and stats.done
    snap = XactSnap("g7", REBALANCE)
    stats.add_to(snap)
    assert snap.to_wire()["stats"]["out-objs"] == str(len(want))


def test_walk_and_move_sends_what_it_can_many_at_a_time_the_rest_one_by_one(tmp_path: Path) -> None:
    """`send_many` takes each chunk first (at most `MANY` a call); what it answers is counted — moved
    bytes, a newer object the receiver kept (-1: not counted), an object's error, one gone (not an
    error) — and only what it leaves goes through `send`."""
    from ais_ray.core.errors import ErrObjNotFound
    from ais_ray.jobs.rebalance import MANY

    smap, here = _walked_disk(tmp_path)
    calls: list[int] = []
    one_by_one: list[str] = []

    async def send_many(bck: Bucket, placed: list[tuple[str, MountpathInfo]]) -> dict[int, int | AisError]:
        calls.append(len(placed))
        out: dict[int, int | AisError] = {}
        for i, (name, mp) in enumerate(placed):
            assert smap.locate(bck.uname(name))[1] == mp
            k = int(name.split("-")[1])
            if k % 10 == 1:
                continue  # left for `send`
            out[i] = (-1 if k % 10 == 2 else ErrBadRequest("refused") if k % 10 == 3
                      else ErrObjNotFound(bck, name) if k % 10 == 4 else len(name))
        return out

    async def send(bck: Bucket, name: str, mp: MountpathInfo) -> int:
        one_by_one.append(name)
        return len(name)

    stats = MoveStats()
    asyncio.run(walk_and_move(here, "t1", REBALANCE, [BCK], lambda: smap, send, stats, per_mp=4, send_many=send_many))
    want = sorted(n for n in NAMES if smap.owner(BCK.uname(n)).daemon_id != "t1")
    digit = {n: int(n.split("-")[1]) % 10 for n in want}
    assert sum(calls) == len(want) and max(calls) <= MANY
    assert sorted(one_by_one) == sorted(n for n in want if digit[n] == 1)
    moved = [n for n in want if digit[n] not in (2, 3, 4)]
    assert stats.out_objs == len(moved) and stats.out_bytes == sum(map(len, moved))
    assert stats.errors == sum(1 for n in want if digit[n] == 3) and "refused" in stats.first_err


def test_fspaths_table_survives_restart(tmp_path: Path) -> None:
    mps = [str(tmp_path / f"mp{i}") for i in range(3)]
    for p in mps:
        Path(p).mkdir()
    f = Fspaths(mps, fsync=False)
    assert f.live() == mps
    extra = str(tmp_path / "extra")
    Path(extra).mkdir()
    f.save(extra, f.change(ATTACH, extra, known=False))
    f.save(mps[0], f.change(DETACH, mps[0], known=True))
    f.save(mps[1], f.change(DISABLE, mps[1], known=True))
    again = Fspaths(mps, fsync=False)  # restarted with the original arguments
    # the detached one still holds objects (no resilver emptied it): served and walked again
    assert again.live() == mps + [extra] and again.states[mps[0]] == MP_DETACHED
    again.forgotten([mps[0]])  # its resilver ended
    again = Fspaths(mps, fsync=False)
    assert again.live() == [mps[1], mps[2], extra] and again.states[mps[1]] == MP_DISABLED
    assert json.loads((Path(mps[2]) / FSPATHS_FILE).read_text())["seq"] == 4
    assert again.change(ENABLE, mps[1], known=True) == MP_ENABLED
    with pytest.raises(ErrNotFound):
        again.change(ENABLE, "/nope", known=False)
    with pytest.raises(ErrBadRequest):
        again.change(ATTACH, "relative/path", known=False)


def test_gfn_sees_an_object_that_arrived_while_it_asked() -> None:
    """The get-from-neighbor race (issue 11): the GET misses here, the rebalance commits the
    object here and its sender drops its copy, so every neighbor answers 404 — the object is
    here, and GFN must say so (it once answered 404 during a maintenance move)."""
    from ais_ray.actors.mover import ask_neighbors

    async def main() -> None:
        stored = {"here": False}
        asked: list[str] = []

        async def ask(url: str) -> bool:
            asked.append(url)
            if url == "old":  # the sender: it committed at the owner, then dropped its copy
                stored["here"] = True
            return False

        async def here() -> bool:
            return stored["here"]

        assert await ask_neighbors(["old", "t2", "t3"], ask, here) is True
        assert asked == ["old"]  # found here before asking the others
        stored["here"], asked[:] = False, []

        async def nobody(url: str) -> bool:
            asked.append(url)
            return False

        assert await ask_neighbors(["old", "t2"], nobody, here) is False and asked == ["old", "t2"]

        async def second(url: str) -> bool:
            return url == "t2"

        assert await ask_neighbors(["old", "t2", "t3"], second, here) is True

    asyncio.run(main())


def test_a_placement_change_rebalances_only_a_cluster_with_buckets() -> None:
    """A fresh cluster's first `up` (the map goes from no targets to all of them) starts no
    rebalance: there is nothing to move, and a rebalance would have every disk ask its neighbors
    about each miss (get-from-neighbor) for minutes after. Once a bucket exists, a target joining is one."""
    from types import SimpleNamespace

    from ais_ray.actors.proxy_members import ProxyMembers
    from ais_ray.core.bmd import BMD

    started: list[str] = []

    async def rebalance(reason: str, extra: tuple[str, ...] = ()) -> str:
        started.append(reason)
        return "g9"

    empty = Smap(uuid="u", version=1, primary=Snode("p1", "proxy", "http://p"))
    proxy = SimpleNamespace(smap=_smap(2), bmd=BMD("u"), _rebalance=rebalance)
    assert asyncio.run(ProxyMembers._placement_changed(proxy, empty, True, "join")) == ""  # type: ignore[arg-type]
    proxy.bmd = BMD("u").with_bucket(BCK)
    assert asyncio.run(ProxyMembers._placement_changed(proxy, empty, True, "join")) == "g9"  # type: ignore[arg-type]
    assert asyncio.run(ProxyMembers._placement_changed(proxy, proxy.smap, True, "join")) == ""  # type: ignore[arg-type]
    assert started == ["join"]
