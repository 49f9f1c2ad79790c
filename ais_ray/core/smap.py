"""The cluster map (Smap): targets, their mountpaths and data URLs, versioned.

Wire shape follows Go `core/meta/smap.go` / `snode_wire.go` as the official SDK reads it
(`tmap`, `pmap`, `proxy_si`, Snode `public_net.direct_url`, `id_digest`); per-target
mountpaths ride along as an extra field the SDK ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ais_ray.core import hrw

FLAG_MAINTENANCE = 1 << 2  # Go `meta.SnodeMaint`: the SDK's HRW skips such targets
FLAG_DECOMMISSION = 1 << 3
FLAG_OFFLINE = 1 << 10  # ours: a target that stopped answering keepalives


@dataclass(frozen=True, slots=True)
class MountpathInfo:
    """One disk directory of a target, with the URL of the worker that serves its objects."""

    path: str
    url: str = ""
    enabled: bool = True

    @property
    def digest(self) -> int:
        return hrw.digest(self.path)


@dataclass(frozen=True, slots=True)
class Snode:
    daemon_id: str
    daemon_type: str  # "target" | "proxy"
    url: str  # public direct URL
    flags: int = 0
    mountpaths: tuple[MountpathInfo, ...] = ()

    @property
    def id_digest(self) -> int:
        return hrw.digest(self.daemon_id)

    @property
    def in_maint_or_decomm(self) -> bool:
        return bool(self.flags & (FLAG_MAINTENANCE | FLAG_DECOMMISSION))

    def mountpath_for(self, uname: str) -> MountpathInfo:
        """HRW choice among this target's enabled mountpaths (Go `fs/hrw.go`)."""
        enabled = {m.path: m for m in self.mountpaths if m.enabled}
        return enabled[hrw.mountpath_for(uname, {p: m.digest for p, m in enabled.items()})]

    def to_wire(self) -> dict[str, Any]:
        host, _, port = self.url.removeprefix("http://").removeprefix("https://").partition(":")
        net = {"node_ip_addr": host, "daemon_port": port.split("/")[0], "direct_url": self.url}
        out: dict[str, Any] = {
            "daemon_id": self.daemon_id, "daemon_type": self.daemon_type, "flags": self.flags,
            "id_digest": self.id_digest, "public_net": net, "intra_control_net": net, "intra_data_net": net,
        }
        if self.daemon_type == "target":
            out["mountpaths"] = [{"path": m.path, "url": m.url, "enabled": m.enabled} for m in self.mountpaths]
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Snode:
        mps = tuple(MountpathInfo(m["path"], m.get("url", ""), m.get("enabled", True)) for m in d.get("mountpaths", ()))
        return cls(d["daemon_id"], d["daemon_type"], d["public_net"]["direct_url"], int(d.get("flags", 0)), mps)


@dataclass(frozen=True, slots=True)
class Smap:
    uuid: str
    version: int
    primary: Snode
    targets: Mapping[str, Snode] = field(default_factory=dict)
    creation_time: str = ""

    def active_targets(self) -> dict[str, int]:
        """Target id → digest over targets that take new objects (not in maintenance)."""
        return {t.daemon_id: t.id_digest for t in self.targets.values() if not t.in_maint_or_decomm}

    def owner(self, uname: str) -> Snode:
        """The HRW target of `uname` (Go `Smap.HrwName2T`); raises ErrNoTarget on an empty map."""
        return self.targets[hrw.target_for(uname, self.active_targets())]

    def locate(self, uname: str) -> tuple[Snode, MountpathInfo]:
        tsi = self.owner(uname)
        return tsi, tsi.mountpath_for(uname)

    def with_target(self, tsi: Snode) -> Smap:
        """A new version with `tsi` added or replaced; same version if nothing changed."""
        if self.targets.get(tsi.daemon_id) == tsi:
            return self
        return replace(self, version=self.version + 1, targets={**self.targets, tsi.daemon_id: tsi})

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
