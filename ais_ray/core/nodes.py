"""Ray's node table against the Smap (pure): which targets join, which are down.

A Ray node hosts target `<id>` when it advertises the custom resource `ais_target_<id>`
(`ray start --resources='{"ais_target_t4": 1}'`). The proxy reads Ray's node table every few
seconds and reconciles it with the Smap, the way an operator reconciles pods: a live node
whose target is not in the map joins; a target whose every node is dead is marked down
(`FLAG_OFFLINE`, placement unchanged) until a node with its resource comes back.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ais_ray.core.smap import FLAG_OFFLINE, Smap

TARGET_RESOURCE_PREFIX = "ais_target_"


NAMESPACE = "ais"  # the Ray namespace of every ais-ray actor
PROXY_NAME = "ais-proxy"  # the proxy actor's name there
PRIMARY_ID = "p1"  # the proxy's node ID in the Smap (its log's name too: core/nodelog.py)


def target_resource(tid: str) -> str:
    """The custom resource that pins target `tid` (and its mountpath workers) to its node."""
    return f"{TARGET_RESOURCE_PREFIX}{tid}"


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """How a target that joins by its resource alone is set up: mountpath directories
    `<root>/<tid>/mp1..mp<mountpaths>` (made on its own node), its data servers bound to `host`."""

    root: str
    mountpaths: int = 2
    host: str = "127.0.0.1"
    fsync: bool = True
    log_dir: str = ""  # its log's directory (core/nodelog.py); "": stderr only

    def mountpaths_of(self, tid: str) -> list[str]:
        return [os.path.join(self.root, tid, f"mp{j}") for j in range(1, self.mountpaths + 1)]


def advertised(nodes: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """Target id -> whether some live node advertises it, from `ray.nodes()` rows.

    A dead node stays in Ray's table for a while: its targets show as not alive unless
    another (returned) node advertises the same resource.
    """
    out: dict[str, bool] = {}
    for node in nodes:
        alive = bool(node.get("Alive"))
        for res in node.get("Resources") or {}:
            if res.startswith(TARGET_RESOURCE_PREFIX) and len(res) > len(TARGET_RESOURCE_PREFIX):
                tid = res[len(TARGET_RESOURCE_PREFIX):]
                out[tid] = out.get(tid, False) or alive
    return out


@dataclass(frozen=True, slots=True)
class NodePlan:
    join: tuple[str, ...] = ()  # live, not in the Smap: start a target, add it
    down: tuple[str, ...] = ()  # in the Smap, no live node: mark offline now
    revive: tuple[str, ...] = ()  # in the Smap as offline, a live node again: make sure its actor exists
    forget: tuple[str, ...] = ()  # left the cluster and no live node advertises it any more

    def __bool__(self) -> bool:
        return bool(self.join or self.down or self.revive or self.forget)


def plan(adv: Mapping[str, bool], smap: Smap, left: Collection[str] = ()) -> NodePlan:
    """What the proxy does about Ray's node table `adv` (from `advertised`) and `smap`.

    `left`: targets taken out of the cluster on purpose (decommissioned, removed) whose node may
    still advertise them: they do not join again until no live node advertises them (then they
    are forgotten, and a node started later with that resource is a new join). A target in
    maintenance or shut down is not revived. Targets no Ray node ever advertised (ones Ray
    already forgot) are left to the keepalive.
    """
    join = tuple(sorted(t for t, alive in adv.items() if alive and t not in smap.targets and t not in left))
    forget = tuple(sorted(t for t in left if not adv.get(t)))
    down, revive = [], []
    for tid, alive in sorted(adv.items()):
        tsi = smap.targets.get(tid)
        if tsi is None:
            continue
        offline = bool(tsi.flags & FLAG_OFFLINE)
        if not alive and not offline:
            down.append(tid)
        elif alive and offline and not tsi.in_maint_or_decomm:
            revive.append(tid)
    return NodePlan(join, tuple(down), tuple(revive), forget)
