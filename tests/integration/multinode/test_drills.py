"""Redundancy under seed 004's failure drills, on the shared multi-node playground (issue 12).

First a whole node of an erasure-coded bucket is lost: every object whose main lived there is
still read back exact (its stand-in rebuilds it from the slices), listings answer, and it all
stays consistent when the node returns. Then the three drills (`ais_ray/testing/drills.py`, the
same code `scripts/drills.py` runs): a copy while a node goes to maintenance / is lost / loses a
mountpath. The playground has 3 targets × 2 mountpaths: EC is 1+1 (D+P+1 targets), the mirror
2-way (one copy per mountpath). Every test leaves every node online, nothing in maintenance.
"""

from __future__ import annotations

import glob
import os
import random
import time

import pytest
import requests

from ais_ray.core.ec import Metafile
from ais_ray.core.lom import CT_EC, CT_META, CT_OBJ, ct_fqn
from ais_ray.core.names import Bucket
from ais_ray.core.smap import FLAG_MAINTENANCE, FLAG_OFFLINE
from ais_ray.serve.state import REFRESH_INTERVAL
from ais_ray.testing.drills import SRC, Cluster, names, rmb, run
from tests.integration.multinode.conftest import MultiNode

pytestmark = pytest.mark.timeout(900)
ROUNDS = {"ec": 1, "rmdisk": 2, "rebalance": 1}  # a lost node's round is the long one (~2 min)
SHARDS = 30
MAX_DELAY = 2.0
SEEDS = {"ec": 4, "rmdisk": 40, "rebalance": 400}


def drill_cluster(c: MultiNode) -> Cluster:
    return Cluster(c.endpoint, c.env(), c.data_dir)


def healthy(c: MultiNode) -> None:
    smap = c.smap()
    assert not any(t.flags & (FLAG_OFFLINE | FLAG_MAINTENANCE) for t in smap.targets.values()), \
        {t: s.flags for t, s in smap.targets.items()}


EC11 = "ec.enabled=true ec.data_slices=1 ec.parity_slices=1 ec.objsize_limit=0"
MIRROR2 = "mirror.enabled=true mirror.copies=2"


def test_ec_survives_node_loss(multinode: MultiNode) -> None:
    """t3's raylet SIGKILLed: the objects it owned are read back exact from slices (HEAD too) while it
    is down, placement unchanged and nothing kept by the stand-ins; back, it serves its own again.
    A mirror-only bucket (copies local to a target) cannot serve t3's objects meanwhile: a 503
    naming the offline target, never a 404; its listing holds the rest; back, all are intact. A
    bucket with both mirror and EC serves everything throughout."""
    c = multinode
    bck, mirrored, both = "ec-loss", "mirror-loss", "mirror-ec-loss"
    c.cli("create", f"ais://{bck}", "--props", EC11)
    c.cli("create", f"ais://{mirrored}", "--props", MIRROR2)
    c.cli("create", f"ais://{both}", "--props", f"{MIRROR2} {EC11}")
    objs = {f"o{i:03d}": os.urandom(3000 + 97 * i) for i in range(30)}
    with requests.Session() as s:
        for b in (bck, mirrored, both):
            for name, data in objs.items():
                r = s.put(f"{c.endpoint}/v1/objects/{b}/{name}", data=data, timeout=30)
                assert r.status_code == 200, r.text
    smap0 = c.smap()
    on_t3 = [n for n in objs if smap0.owner(f"ais/@#/{bck}/{n}").daemon_id == "t3"]
    mirror_on_t3 = [n for n in objs if smap0.owner(f"ais/@#/{mirrored}/{n}").daemon_id == "t3"]
    assert on_t3 and mirror_on_t3
    c.kill_node("t3")
    try:
        c.wait_smap(lambda s: bool(s.targets["t3"].flags & FLAG_OFFLINE), "t3 offline", 60)
        time.sleep(2 * REFRESH_INTERVAL)  # the API's cached Smap (serve/state.py) catches up
        with requests.Session() as s:
            for name, data in objs.items():
                r = s.get(f"{c.endpoint}/v1/objects/{bck}/{name}", timeout=60)
                assert r.status_code == 200 and r.content == data, (name, r.status_code, r.text[:200])
            h = s.head(f"{c.endpoint}/v1/objects/{bck}/{on_t3[0]}", timeout=60, allow_redirects=True)
            assert h.status_code == 200 and int(h.headers["Content-Length"]) == len(objs[on_t3[0]])
        for name in on_t3:  # rebuilt for the read, not kept: the lost owner's main stays the object
            assert all("/t3/" in p for p in c.copies(bck, name)), c.copies(bck, name)
        with requests.Session() as s:
            for name, data in objs.items():
                r = s.get(f"{c.endpoint}/v1/objects/{both}/{name}", timeout=60)
                assert r.status_code == 200 and r.content == data, (both, name, r.status_code, r.text[:200])
                r = s.get(f"{c.endpoint}/v1/objects/{mirrored}/{name}", timeout=60)
                if name in mirror_on_t3:
                    assert r.status_code == 503 and "t3 is offline" in r.json()["message"], (name, r.status_code, r.text)
                else:
                    assert r.status_code == 200 and r.content == data, (mirrored, name, r.status_code)
        assert names(drill_cluster(c), f"ais://{mirrored}") == sorted(set(objs) - set(mirror_on_t3))
    finally:
        c.start_node("t3")
        c.wait_smap(lambda s: not s.targets["t3"].flags & FLAG_OFFLINE, "t3 back online", 180)
    assert names(drill_cluster(c), f"ais://{bck}") == sorted(objs)  # each once: nothing kept elsewhere
    for b in (bck, mirrored, both):
        assert names(drill_cluster(c), f"ais://{b}") == sorted(objs)
        for name, data in objs.items():
            assert requests.get(f"{c.endpoint}/v1/objects/{b}/{name}", timeout=60).content == data, (b, name)
        c.cli("rmb", f"ais://{b}")
    healthy(c)


@pytest.mark.parametrize("drill", ["ec", "rmdisk", "rebalance"])
def test_drill(multinode: MultiNode, tmp_path: os.PathLike[str], drill: str) -> None:
    """cp-rmnode-ec / cp-rmdisk / cp-rmnode-rebalance: a few rounds, 0 lost, 0 duplicated, 0 mismatched."""
    c = drill_cluster(multinode)
    results = run(c, drill, ROUNDS[drill], SHARDS, str(tmp_path), random.Random(SEEDS[drill]), max_delay=MAX_DELAY,
                  keep_src=True)
    print(drill, [f"{r.disrupt_at:.1f}s/{r.copy_s:.1f}s/{r.total_s:.1f}s" for r in results])
    healthy(multinode)
    if drill == "ec":  # the rebalances moved objects back and forth: their slices followed them
        slices_follow_placement(multinode, SRC[drill].split("://")[1])
    rmb(c, SRC[drill])


def slices_follow_placement(c: MultiNode, bck: str) -> None:
    """Every object's current slices (the newest generation, the main's) are on the targets HRW ranks
    right after its owner (EC 1+1: two of them), each on its HRW mountpath."""
    smap = c.smap()
    for fqn in glob.glob(os.path.join(c.data_dir, "t*", "mp*", "@ais", bck, "%ob", "*")):
        name = os.path.basename(fqn)
        uname = Bucket(bck).uname(name)
        owner, *holders = smap.ranked_targets(uname, 3)
        main = _meta(ct_fqn(owner.mountpath_for(uname).path, Bucket(bck), CT_META, name))
        for h in holders:
            mp = h.mountpath_for(uname).path
            meta = _meta(ct_fqn(mp, Bucket(bck), CT_META, name))
            assert meta.generation == main.generation and os.path.exists(ct_fqn(mp, Bucket(bck), CT_EC, name)), \
                (name, h.daemon_id, meta.generation, main.generation)
    no_stale_slices(c, bck)


def no_stale_slices(c: MultiNode, bck: str) -> None:
    """On disk, every slice and metafile of `bck` is where the current placement puts one — the
    owner's or a holder's HRW mountpath — of the main's generation, and belongs to a stored object;
    every metafile's slice or replica is there beside it."""
    smap = c.smap()
    for ct in (CT_EC, CT_META):
        for fqn in glob.glob(os.path.join(c.data_dir, "t*", "mp*", "@ais", bck, ct, "*")):
            name = os.path.basename(fqn)
            uname = Bucket(bck).uname(name)
            placed = smap.ranked_targets(uname, 3)
            owner_meta = ct_fqn(placed[0].mountpath_for(uname).path, Bucket(bck), CT_META, name)
            where = {ct_fqn(t.mountpath_for(uname).path, Bucket(bck), ct, name) for t in placed[int(ct == CT_EC):]}
            assert fqn in where, f"stale {ct} of {name}: {fqn} (placement: {sorted(where)})"
            own = fqn if ct == CT_META else ct_fqn(fqn[:fqn.index("/@ais/")], Bucket(bck), CT_META, name)
            assert os.path.exists(owner_meta) and _meta(own).generation == _meta(owner_meta).generation, fqn
            if ct == CT_META:  # and what a metafile names is there: its slice, or its main / full replica
                m = _meta(fqn)
                held = ct_fqn(fqn[:fqn.index("/@ais/")], Bucket(bck), CT_EC if m.slice_id else CT_OBJ, name)
                assert os.path.exists(held), f"{fqn} names slice {m.slice_id}, not on disk"


def _meta(fqn: str) -> Metafile:
    with open(fqn, "rb") as f:
        return Metafile.from_bytes(f.read())
