"""Ray's node table against the Smap (`core/nodes.py`): pure, no Ray."""

from __future__ import annotations

from ais_ray.core.nodes import JoinPolicy, NodePlan, advertised, plan, target_resource
from ais_ray.core.smap import FLAG_MAINTENANCE, FLAG_OFFLINE, Smap, Snode


def smap_of(**flags: int) -> Smap:
    return Smap("u", 3, Snode("p1", "proxy", "http://h:1"),
                {tid: Snode(tid, "target", f"http://h:{i}", f) for i, (tid, f) in enumerate(flags.items(), 2)})


def node(alive: bool, *tids: str, **extra: float) -> dict[str, object]:
    return {"Alive": alive, "Resources": {"CPU": 1.0, **{target_resource(t): 1.0 for t in tids}, **extra}}


def test_advertised_any_live_node_wins() -> None:
    rows = [node(False, "t2"), node(True, "t2"), node(True, "t1", ais_proxy=1.0), node(False, "t9"),
            {"Alive": True, "Resources": {"ais_target_": 1.0}}]
    assert advertised(rows) == {"t1": True, "t2": True, "t9": False}


def test_plan_join_down_revive() -> None:
    smap = smap_of(t1=0, t2=0, t3=FLAG_OFFLINE, t5=FLAG_MAINTENANCE)
    adv = {"t1": True, "t2": False, "t3": True, "t4": True, "t6": False, "t5": False}
    assert plan(adv, smap) == NodePlan(join=("t4",), down=("t2", "t5"), revive=("t3",))


def test_plan_nothing_to_do() -> None:
    smap = smap_of(t1=0, t2=FLAG_OFFLINE)
    assert not plan({"t1": True, "t2": False}, smap)
    assert not plan({}, smap)  # targets Ray never advertised are the keepalive's


def test_join_policy_mountpaths() -> None:
    assert JoinPolicy("/d", 2).mountpaths_of("t4") == ["/d/t4/mp1", "/d/t4/mp2"]


def test_plan_left_targets_stay_out_until_their_node_goes() -> None:
    smap = smap_of(t1=0, t2=FLAG_OFFLINE | FLAG_MAINTENANCE)
    adv = {"t1": True, "t2": True, "t3": True, "t4": False}
    p = plan(adv, smap, left={"t3", "t4"})
    assert p.join == () and p.revive == ()  # t3 decommissioned, t2 shut down: not brought back
    assert p.forget == ("t4",)  # its node is gone: a node advertising t4 later joins anew
    assert plan(adv, smap, left={"t4"}).join == ("t3",)
