"""The cluster map: versions, target and mountpath states, ranked placement, wire round-trip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ais_ray.core import hrw
from ais_ray.core.errors import ErrNodeNotFound, ErrNoTarget
from ais_ray.core.smap import (
    FLAG_DECOMMISSION, FLAG_MAINTENANCE, FLAG_OFFLINE, MP_DETACHED, MP_DISABLED, MountpathInfo, Smap, Snode,
)

NAMES = [f"ais/@#/b/obj-{i}" for i in range(2000)]


def _target(tid: str, n_mp: int = 3) -> Snode:
    mps = tuple(MountpathInfo(f"/data/{tid}/mp{i}", f"http://127.0.0.1:{9000 + i}") for i in range(n_mp))
    return Snode(tid, "target", f"http://127.0.0.1:8080/{tid}", 0, mps)


def _smap(n: int = 5) -> Smap:
    smap = Smap(uuid="u1", version=1, primary=Snode("p1", "proxy", "http://127.0.0.1:8080"))
    for i in range(n):
        smap = smap.with_target(_target(f"t{i}"))
    return smap


def test_add_and_remove_target_bump_version() -> None:
    smap = _smap(3)
    assert smap.version == 4
    added = smap.with_target(_target("t9"))
    assert added.version == 5 and "t9" in added.targets and "t9" not in smap.targets
    assert added.with_target(_target("t9")) is added  # no change, no new version
    removed = added.without_target("t9")
    assert removed.version == 6 and "t9" not in removed.targets
    assert removed.without_target("nope") is removed


def test_unrelated_target_leaving_keeps_owners() -> None:
    smap = _smap(5)
    before = {n: smap.owner(n).daemon_id for n in NAMES}
    after = smap.without_target("t3")
    for n in NAMES:
        if before[n] != "t3":
            assert after.owner(n).daemon_id == before[n]
    moved = sum(before[n] == "t3" for n in NAMES)
    assert 0 < moved < len(NAMES) // 2


def test_maintenance_and_decommission_targets_get_no_new_objects() -> None:
    smap = _smap(4)
    maint = smap.with_target_flags("t1", set_flags=FLAG_MAINTENANCE)
    assert maint.version == smap.version + 1 and maint.targets["t1"].state == "maintenance"
    decom = maint.with_target_flags("t2", set_flags=FLAG_DECOMMISSION)
    assert decom.targets["t2"].state == "decommissioning"
    for n in NAMES:
        assert decom.owner(n).daemon_id not in ("t1", "t2")
        assert {t.daemon_id for t in decom.ranked_targets(n)} == {"t0", "t3"}
    back = decom.with_target_flags("t1", clear_flags=FLAG_MAINTENANCE)
    assert back.targets["t1"].state == "active"
    assert any(back.owner(n).daemon_id == "t1" for n in NAMES)
    with pytest.raises(ErrNodeNotFound):
        smap.with_target_flags("t42", set_flags=FLAG_MAINTENANCE)


def test_own_mountpaths_place_many_names_as_locate_does() -> None:
    """A target's share of many names at once (`own_mountpaths`) is, name for name, `locate`'s
    answer — with a target in maintenance and disabled / detached mountpaths; a map's placement
    is built once, not sent with it, and a changed copy builds its own."""
    import pickle

    smap = _smap(4).with_target_flags("t1", set_flags=FLAG_MAINTENANCE)
    t2 = smap.targets["t2"].with_mountpath_state("/data/t2/mp0", MP_DISABLED)
    smap = smap.with_target(t2.with_mountpath_state("/data/t2/mp2", MP_DETACHED))
    where = [smap.locate(n) for n in NAMES]
    for tid in smap.targets:
        got = smap.own_mountpaths(tid, NAMES)
        assert got == [mp.path if t.daemon_id == tid else None for t, mp in where], tid
    assert smap.own_mountpaths("t1", NAMES) == [None] * len(NAMES)  # in maintenance: owns nothing new
    assert smap.own_mountpaths("t9", NAMES[:3]) == [None] * 3 and smap.own_mountpaths("t0", []) == []
    sent = pickle.loads(pickle.dumps(smap))
    assert sent == smap and sent._place is None and smap._place is not None
    moved = smap.with_target_flags("t1", clear_flags=FLAG_MAINTENANCE)
    assert moved._place is None and any(moved.owner(n).daemon_id == "t1" for n in NAMES)
    # a target whose disks are all out owns names it cannot place: an error, not a silent drop
    dead = smap.targets["t3"]
    for m in dead.mountpaths:
        dead = dead.with_mountpath_state(m.path, MP_DISABLED)
    with pytest.raises(ErrNoTarget, match="no available mountpaths"):
        smap.with_target(dead).own_mountpaths("t3", NAMES)
    with pytest.raises(ErrNoTarget, match="no active targets"):
        Smap("u", 1, Snode("p1", "proxy", "")).own_mountpaths("t0", NAMES)


def test_disabled_and_detached_mountpaths_get_none() -> None:
    tsi = _target("t0", 4)
    off = tsi.with_mountpath_state("/data/t0/mp1", MP_DISABLED).with_mountpath_state("/data/t0/mp2", MP_DETACHED)
    assert [m.state for m in off.mountpaths] == ["enabled", "disabled", "detached", "enabled"]
    for n in NAMES[:500]:
        assert off.mountpath_for(n).path in ("/data/t0/mp0", "/data/t0/mp3")
        assert [m.path for m in off.ranked_mountpaths(n)] in (
            ["/data/t0/mp0", "/data/t0/mp3"], ["/data/t0/mp3", "/data/t0/mp0"])
    with pytest.raises(ValueError):
        tsi.with_mountpath_state("/data/t0/mp1", "broken")
    with pytest.raises(ValueError):
        tsi.with_mountpath_state("/elsewhere", MP_DISABLED)


def test_ranked_targets_rank0_is_owner_and_order_is_by_score() -> None:
    smap = _smap(6)
    for n in NAMES[:300]:
        ranked = smap.ranked_targets(n)
        assert ranked[0] == smap.owner(n) and len(ranked) == 6
        nd = hrw.digest(n)
        scores = [hrw.xoshiro256_hash(t.id_digest ^ nd) for t in ranked]
        assert scores == sorted(scores, reverse=True)
        assert smap.ranked_targets(n, 2) == ranked[:2]
    with pytest.raises(ErrNoTarget):
        smap.ranked_targets("ais/@#/b/x", 7)
    empty = Smap(uuid="u", version=1, primary=smap.primary)
    with pytest.raises(ErrNoTarget):
        empty.ranked_targets("ais/@#/b/x")


def test_ranked_mountpaths_rank0_is_mountpath_for() -> None:
    tsi = _target("t0", 5)
    for n in NAMES[:300]:
        assert tsi.ranked_mountpaths(n)[0] == tsi.mountpath_for(n)


def test_ranked_agrees_with_owner_on_ties_and_order() -> None:
    cands = [("a", 7), ("b", 7)]
    assert hrw.ranked("x", cands)[0] == hrw.owner("x", cands) == "b"


def test_version_acceptance_newer_only() -> None:
    smap = _smap(2)
    newer = smap.with_target(_target("t5"))
    assert smap.accepts(newer)
    assert not newer.accepts(smap)
    assert not newer.accepts(newer)
    assert newer.accepts(replace(smap, uuid="other-cluster"))


def test_wire_round_trip_keeps_states() -> None:
    smap = _smap(3).with_target_flags("t1", set_flags=FLAG_MAINTENANCE)
    t0 = smap.targets["t0"].with_mountpath_state("/data/t0/mp2", MP_DETACHED)
    smap = smap.with_target(t0.with_mountpath_state("/data/t0/mp1", MP_DISABLED))
    back = Smap.from_wire(json.loads(json.dumps(smap.to_wire())))
    assert back == smap
    wire = smap.to_wire()
    assert wire["version"] == str(smap.version) and wire["tmap"]["t1"]["flags"] & FLAG_MAINTENANCE
    old = {"path": "/x", "url": "u", "enabled": False}  # a copy written before states existed
    mps = Smap.from_wire({**wire, "tmap": {"t0": {**wire["tmap"]["t0"], "mountpaths": [old]}}}).targets["t0"].mountpaths
    assert mps[0].state == MP_DISABLED


def test_keepalive_answers_older_than_the_map_are_not_applied() -> None:
    """A keepalive round applies the targets' answers only to the map it started from: an attach
    committed while they answered stays (the stale answer, the mountpath still detached, is dropped)."""
    def t1(state: str, url: str = "http://t1") -> Snode:
        return Snode("t1", "target", url, 0, (MountpathInfo("/a", "http://a", state), MountpathInfo("/b", "http://b")))

    t2 = Snode("t2", "target", "http://t2", 0, (MountpathInfo("/c", "http://c"),))
    probed = Smap("u", 5, Snode("p1", "proxy", ""), {"t1": t1(MP_DETACHED), "t2": t2})
    attached = replace(probed, version=6, targets={"t1": t1("enabled"), "t2": t2})
    assert attached.with_probed(probed, {"t1": t1(MP_DETACHED), "t2": None}) is attached
    got = attached.with_probed(attached, {"t1": t1("enabled", "http://t1-new"), "t2": None})
    assert got.version > attached.version and got.targets["t1"].url == "http://t1-new"
    assert got.targets["t2"].flags & FLAG_OFFLINE and [m.enabled for m in got.targets["t1"].mountpaths] == [True, True]
    assert attached.with_probed(attached, {"t1": t1("enabled"), "t2": t2}) is attached  # nothing new: the same map
