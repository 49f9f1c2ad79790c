"""The cluster map (Smap): targets, their mountpaths and data URLs, versioned.

Wire shape follows Go `core/meta/smap.go` / `snode_wire.go` as the official SDK reads it
(`tmap`, `pmap`, `proxy_si`, Snode `public_net.direct_url`, `id_digest`); per-target
mountpaths ride along as an extra field the SDK ignores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from ais_ray.core import hrw
from ais_ray.core.errors import ErrNodeNotFound, ErrNoTarget

FLAG_MAINTENANCE = 1 << 2  # Go `meta.SnodeMaint`: the SDK's HRW skips such targets
FLAG_DECOMMISSION = 1 << 3
FLAG_OFFLINE = 1 << 10  # ours: a target that stopped answering keepalives


MP_ENABLED, MP_DISABLED, MP_DETACHED = "enabled", "disabled", "detached"  # Go `fs` mountpath states
MP_STATES = (MP_ENABLED, MP_DISABLED, MP_DETACHED)
TARGET_ACTIVE, TARGET_MAINTENANCE, TARGET_DECOMMISSIONING = "active", "maintenance", "decommissioning"


@dataclass(frozen=True, slots=True)
class MountpathInfo:
    """One disk directory of a target, with the URL of the worker that serves its objects.

    Only an enabled mountpath takes part in placement; a disabled one keeps its data but
    gets nothing new, a detached one is gone from the target (AIStore `fs.MountedFS`).
    """

    path: str
    url: str = ""
    state: str = MP_ENABLED

    @property
    def enabled(self) -> bool:
        return self.state == MP_ENABLED

    @property
    def digest(self) -> int:
        return hrw.node_digest(self.path)


@dataclass(frozen=True, slots=True)
class Snode:
    daemon_id: str
    daemon_type: str  # "target" | "proxy"
    url: str  # public direct URL
    flags: int = 0
    mountpaths: tuple[MountpathInfo, ...] = ()

    @property
    def id_digest(self) -> int:
        return hrw.node_digest(self.daemon_id)

    @property
    def in_maint_or_decomm(self) -> bool:
        return bool(self.flags & (FLAG_MAINTENANCE | FLAG_DECOMMISSION))

    @property
    def state(self) -> str:
        """active | maintenance | decommissioning, from the Snode flags as AIStore keeps them."""
        if self.flags & FLAG_DECOMMISSION:
            return TARGET_DECOMMISSIONING
        return TARGET_MAINTENANCE if self.flags & FLAG_MAINTENANCE else TARGET_ACTIVE

    def mountpath_for(self, uname: str) -> MountpathInfo:
        """HRW choice among this target's enabled mountpaths (Go `fs/hrw.go`)."""
        return self.mountpath_of_digest(hrw.digest(uname), uname)

    def mountpath_of_digest(self, name_digest: int, uname: str) -> MountpathInfo:
        """`mountpath_for` of a name whose digest is known (`uname` names it in the error)."""
        enabled, pairs, _ = _enabled(self.mountpaths)
        if not enabled:
            raise ErrNoTarget(f'no available mountpaths to place "{uname}" on')
        return enabled[hrw.owner_of_digest(name_digest, pairs)]

    def ranked_mountpaths(self, uname: str) -> list[MountpathInfo]:
        """This target's enabled mountpaths in HRW order for `uname`; rank 0 is `mountpath_for`."""
        enabled = {m.path: m for m in self.mountpaths if m.enabled}
        return [enabled[p] for p in hrw.ranked(uname, ((p, m.digest) for p, m in enabled.items()))]

    def mountpath_list(self) -> dict[str, list[str]]:
        """Go `apc.MountpathList` as `GET /v1/reverse/daemon?what=mountpaths` answers it: enabled
        ones, ones being detached (still moving their objects away), disabled ones."""
        by = {MP_ENABLED: "available", MP_DETACHED: "waiting_dd", MP_DISABLED: "disabled"}
        out: dict[str, list[str]] = {"available": [], "waiting_dd": [], "disabled": []}
        for m in sorted(self.mountpaths, key=lambda m: m.path):
            out[by[m.state]].append(m.path)
        return out

    def with_mountpath_state(self, path: str, state: str) -> Snode:
        """This node with mountpath `path` enabled, disabled or detached.

        Raises:
            ValueError: unknown state or path.
        """
        if state not in MP_STATES or path not in {m.path for m in self.mountpaths}:
            raise ValueError(f"mountpath {path!r} state {state!r}: expecting one of {MP_STATES} for a known path")
        return replace(self, mountpaths=tuple(replace(m, state=state) if m.path == path else m for m in self.mountpaths))

    def to_wire(self) -> dict[str, Any]:
        host, _, port = self.url.removeprefix("http://").removeprefix("https://").partition(":")
        net = {"node_ip_addr": host, "daemon_port": port.split("/")[0], "direct_url": self.url}
        out: dict[str, Any] = {
            "daemon_id": self.daemon_id, "daemon_type": self.daemon_type, "flags": self.flags,
            "id_digest": self.id_digest, "public_net": net, "intra_control_net": net, "intra_data_net": net,
        }
        if self.daemon_type == "target":
            out["mountpaths"] = [{"path": m.path, "url": m.url, "enabled": m.enabled, "state": m.state}
                                 for m in self.mountpaths]
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Snode:
        mps = tuple(MountpathInfo(m["path"], m.get("url", ""), _mp_state(m)) for m in d.get("mountpaths", ()))
        return cls(d["daemon_id"], d["daemon_type"], d["public_net"]["direct_url"], int(d.get("flags", 0)), mps)


@functools.lru_cache(maxsize=1024)
def _enabled(mountpaths: tuple[MountpathInfo, ...]) -> tuple[tuple[MountpathInfo, ...], tuple[tuple[int, int], ...],
                                                            tuple[int, ...]]:
    """A target's enabled mountpaths, in order: themselves, (index, digest) pairs, digests (kept
    per mountpath set: placement asks for them per object)."""
    enabled = tuple(m for m in mountpaths if m.enabled)
    return enabled, tuple((i, m.digest) for i, m in enumerate(enabled)), tuple(m.digest for m in enabled)


class _Placement:
    """What HRW needs of one map, built once per map: the active targets (`Smap.active_targets`,
    in the same order) as (index, digest) pairs and digests."""

    __slots__ = ("ids", "pairs", "digests")

    def __init__(self, targets: Mapping[str, Snode]) -> None:
        active = [t for t in targets.values() if not t.in_maint_or_decomm]
        self.ids = tuple(t.daemon_id for t in active)
        self.pairs = tuple((i, t.id_digest) for i, t in enumerate(active))
        self.digests = tuple(t.id_digest for t in active)


def _mp_state(m: Mapping[str, Any]) -> str:
    state = m.get("state")
    if state in MP_STATES:
        return str(state)
    return MP_ENABLED if m.get("enabled", True) else MP_DISABLED


@dataclass(frozen=True, slots=True)
class Smap:
    uuid: str
    version: int
    primary: Snode
    targets: Mapping[str, Snode] = field(default_factory=dict)
    creation_time: str = ""
    _place: _Placement | None = field(default=None, init=False, repr=False, compare=False)  # built on first use

    def __getstate__(self) -> tuple[Any, ...]:  # the placement is rebuilt where the map arrives, not sent
        return self.uuid, self.version, self.primary, self.targets, self.creation_time

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(("uuid", "version", "primary", "targets", "creation_time"), state):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_place", None)

    def _placement(self) -> _Placement:
        p = self._place
        if p is None:
            p = _Placement(self.targets)
            object.__setattr__(self, "_place", p)
        return p

    def active_targets(self) -> dict[str, int]:
        """Target id → digest over targets that take new objects (not in maintenance)."""
        return {t.daemon_id: t.id_digest for t in self.targets.values() if not t.in_maint_or_decomm}

    def owner(self, uname: str) -> Snode:
        """The HRW target of `uname` (Go `Smap.HrwName2T`); raises ErrNoTarget on an empty map."""
        return self._owner_of_digest(hrw.digest(uname), uname)

    def _owner_of_digest(self, name_digest: int, uname: str) -> Snode:
        p = self._placement()
        if not p.ids:
            raise ErrNoTarget(f'no active targets to place "{uname}" on')
        return self.targets[p.ids[hrw.owner_of_digest(name_digest, p.pairs)]]

    def ranked_targets(self, uname: str, n: int = 0) -> list[Snode]:
        """Active targets in HRW order for `uname` (Go `Smap.HrwTargetList`): rank 0 is `owner`,
        the next ones hold mirror copies / EC slices. `n` > 0 keeps the first `n`.

        Raises:
            ErrNoTarget: no active targets, or fewer than `n`.
        """
        ids = hrw.ranked(uname, self.active_targets().items())
        if not ids or len(ids) < n:
            raise ErrNoTarget(f'{len(ids)} active target(s), {max(n, 1)} needed to place "{uname}"')
        return [self.targets[i] for i in (ids[:n] if n > 0 else ids)]

    def locate(self, uname: str) -> tuple[Snode, MountpathInfo]:
        d = hrw.digest(uname)
        tsi = self._owner_of_digest(d, uname)
        return tsi, tsi.mountpath_of_digest(d, uname)

    def own_mountpaths(self, tid: str, unames: list[str]) -> list[str | None]:
        """For each name, the path of its mountpath if target `tid` owns it, else None: `locate`
        of many names at once (a job's share of what it walks).

        Raises:
            ErrNoTarget: no active targets, or `tid` owns some and has no available mountpath.
        """
        p = self._placement()
        if not p.ids:
            raise ErrNoTarget(f"no active targets to place {len(unames)} objects on")
        out: list[str | None] = [None] * len(unames)
        if tid not in p.ids or not unames:
            return out
        digests = hrw.name_digests(unames)
        mine = np.flatnonzero(hrw.owners_of_digests(digests, p.digests) == p.ids.index(tid))
        if len(mine):
            enabled, _, mp_digests = _enabled(self.targets[tid].mountpaths)
            if not enabled:
                raise ErrNoTarget(f'no available mountpaths to place "{unames[int(mine[0])]}" on')
            for j, m in zip(mine.tolist(), hrw.owners_of_digests(digests[mine], mp_digests).tolist()):
                out[j] = enabled[m].path
        return out

    def accepts(self, other: Smap) -> bool:
        """Whether a node holding this map takes `other`: a newer version of the same cluster,
        or any version of another cluster (a re-deployment over the same data dir). Older
        and equal versions are ignored (AIStore metasync)."""
        return other.uuid != self.uuid or other.version > self.version

    def same_placement(self, other: Smap) -> bool:
        """Whether every object has the same HRW place in both maps (targets, their maintenance /
        decommission flags and mountpath states are the same; URLs, versions and the order of
        the mountpaths may differ: a re-attached one is listed last until its target restarts)."""
        def shape(m: Smap) -> dict[str, tuple[int, frozenset[tuple[str, str]]]]:
            return {t: (s.flags & (FLAG_MAINTENANCE | FLAG_DECOMMISSION), frozenset((mp.path, mp.state) for mp in s.mountpaths))
                    for t, s in m.targets.items()}
        return self.uuid == other.uuid and shape(self) == shape(other)

    def with_target(self, tsi: Snode) -> Smap:
        """A new version with `tsi` added or replaced; same version if nothing changed."""
        if self.targets.get(tsi.daemon_id) == tsi:
            return self
        return replace(self, version=self.version + 1, targets={**self.targets, tsi.daemon_id: tsi})

    def without_target(self, tid: str) -> Smap:
        """A new version without target `tid`; same version if it is not in the map."""
        if tid not in self.targets:
            return self
        return replace(self, version=self.version + 1, targets={k: v for k, v in self.targets.items() if k != tid})

    def with_reported_target(self, tsi: Snode) -> Smap:
        """`with_target` for a target's own description (its URL, mountpaths and their states),
        keeping the states the proxy set (maintenance...) and clearing OFFLINE: it answered."""
        old = self.targets.get(tsi.daemon_id)
        return self.with_target(replace(tsi, flags=(old.flags & ~FLAG_OFFLINE) | tsi.flags) if old is not None else tsi)

    def with_probed(self, probed: Smap, answers: Mapping[str, Snode | None]) -> Smap:
        """A keepalive round: each target's own description (`with_reported_target`), OFFLINE for
        one that did not answer (None) — applied only while this is still the map the round started
        from (`probed`). A change committed while the targets answered (a mountpath attached, a
        target's state set) may be newer than what they said: a stale answer would undo it, and the
        map would place objects by a mountpath list the target no longer has until the next round
        (seen: after an attach, both disks of the target were given the detach's list). The next
        round asks again."""
        if (self.uuid, self.version) != (probed.uuid, probed.version):
            return self
        smap = self
        for tid, tsi in answers.items():
            old = smap.targets.get(tid)
            if tsi is None and old is not None and not old.flags & FLAG_OFFLINE:
                smap = smap.with_target(replace(old, flags=old.flags | FLAG_OFFLINE))
            elif tsi is not None:
                smap = smap.with_reported_target(tsi)
        return smap

    def with_target_flags(self, tid: str, *, set_flags: int = 0, clear_flags: int = 0) -> Smap:
        """A new version with target `tid`'s flags changed (maintenance, decommission...).

        Raises:
            ErrNodeNotFound: `tid` is not in the map.
        """
        tsi = self.targets.get(tid)
        if tsi is None:
            raise ErrNodeNotFound(tid)
        return self.with_target(replace(tsi, flags=(tsi.flags | set_flags) & ~clear_flags))

    def with_primary(self, psi: Snode) -> Smap:
        return self if psi == self.primary else replace(self, version=self.version + 1, primary=psi)

    def to_wire(self) -> dict[str, Any]:
        return {
            "tmap": {tid: t.to_wire() for tid, t in sorted(self.targets.items())},
            "pmap": {self.primary.daemon_id: self.primary.to_wire()},
            "proxy_si": self.primary.to_wire(),
            "uuid": self.uuid,
            "creation_time": self.creation_time,
            "version": str(self.version),
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Smap:
        return cls(
            uuid=d["uuid"], version=int(d["version"]), primary=Snode.from_wire(d["proxy_si"]),
            targets={tid: Snode.from_wire(t) for tid, t in d["tmap"].items()},
            creation_time=d.get("creation_time", ""),
        )
