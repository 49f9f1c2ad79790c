"""Erasure coding, the pure part: the metafile, where slices go, what a restore may use.

Placement (AIStore `ec/ec.go` header): the main replica on the HRW owner; the next targets in
HRW order (`Smap.ranked_targets(uname, D+P+1)`) hold either one slice each (sliced: D+P
targets, slice ids 1..D+P) or a full replica each (objects under `objsize_limit`, or limit
-1: P targets, slice id 0). On each target, the slice or replica lives on that target's HRW
mountpath for the name, next to its metafile:

    <mountpath>/@<provider>/<bucket>/%ec/<object name>    a slice
    <mountpath>/@<provider>/<bucket>/%ob/<object name>    the main, or a full replica (is_copy)
    <mountpath>/@<provider>/<bucket>/%mt/<object name>    its metafile (JSON)

The metafile keeps AIStore's JSON names (`ec/metafile.go`) plus `ec_type` (the pyeclib backend
that coded the slices) and `lom` (the object's own metadata, so a rebuilt main is the same object).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

from ais_ray.core import lom
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.redundancy import ECConf
from ais_ray.core.smap import FLAG_OFFLINE, Smap, Snode

MD_VERSION = 1


@dataclass(frozen=True, slots=True)
class Metafile:
    obj_size: int
    generation: int  # bumps on every overwrite: slices of an older generation are stale
    obj_cksum: str
    obj_version: str
    data_slices: int
    parity_slices: int
    slice_id: int  # 0: a full replica (the main, or a copy); 1..D+P: a slice
    is_copy: bool = False  # a full replica that is not the main
    cksum_type: str = "xxhash2"
    slice_cksum: str = ""  # of this slice's (or replica's) file, computed where it is stored
    nodes: Mapping[str, int] = field(default_factory=dict)  # tid -> slice id, every holder
    replica_node: str = ""  # the main's target
    ec_type: str = ""
    lom: Mapping[str, Any] = field(default_factory=dict)  # ObjAttrs of the object (custom, atime...)
    md_version: int = MD_VERSION

    @property
    def sliced(self) -> bool:
        return any(s > 0 for s in self.nodes.values())

    @property
    def recency(self) -> tuple[int, int]:
        """Which of two metafiles describes the newer data: the object version written later
        (`lom.mtime_ns`, kept by moves and restores), then the higher generation. The generation
        alone cannot tell: it counts per encoder, and an owner that never held the object (its
        previous owner out of placement) starts again at 1 beside an older generation-1 main."""
        return int(self.lom.get("mtime_ns", 0) or 0), self.generation

    def to_bytes(self) -> bytes:
        d = asdict(self)
        d["nodes"], d["lom"] = dict(self.nodes), dict(self.lom)
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Metafile:
        try:
            d: dict[str, Any] = json.loads(raw)
            return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError) as exc:
            raise ErrBadRequest(f"unreadable EC metafile: {exc}") from exc

    def attrs(self) -> lom.ObjAttrs:
        """The object's metadata as the main replica carries it."""
        return lom.ObjAttrs.from_bytes(json.dumps(dict(self.lom)).encode()) if self.lom else \
            lom.ObjAttrs(size=self.obj_size, cksum_type=self.cksum_type, cksum=self.obj_cksum, version=self.obj_version)

    def for_holder(self, slice_id: int, *, is_copy: bool) -> Metafile:
        return replace(self, slice_id=slice_id, is_copy=is_copy, slice_cksum="")


@dataclass(frozen=True, slots=True)
class Placement:
    """Who holds what of one object: the main's target and (tid, slice id) of every other holder."""

    main: str
    holders: tuple[tuple[str, int], ...]

    @property
    def sliced(self) -> bool:
        return any(s > 0 for _, s in self.holders)

    def nodes(self) -> dict[str, int]:
        return {self.main: 0, **dict(self.holders)}


def place(smap: Smap, uname: str, conf: ECConf, size: int) -> Placement:
    """The EC placement of an object of `size` bytes (raises ErrNoTarget with too few targets)."""
    if conf.sliced(size):
        ranked = smap.ranked_targets(uname, conf.data_slices + conf.parity_slices + 1)
        return Placement(ranked[0].daemon_id, tuple((t.daemon_id, i) for i, t in enumerate(ranked[1:], 1)))
    ranked = smap.ranked_targets(uname, conf.parity_slices + 1)
    return Placement(ranked[0].daemon_id, tuple((t.daemon_id, 0) for t in ranked[1:]))


def standin(smap: Smap, uname: str) -> Snode:
    """Who serves an object of an EC bucket: its HRW owner, or while the owner is offline (its
    node lost, placement unchanged) the first target after it in HRW order that is online — a
    holder of a slice or replica, which rebuilds the object for each read without keeping it.

    Raises:
        ErrNoTarget: no active targets.
    """
    ranked = smap.ranked_targets(uname)
    return next((t for t in ranked if not t.flags & FLAG_OFFLINE), ranked[0])


def reachable(smap: Smap, tid: str) -> bool:
    """Whether `tid` may hold slices worth asking for: in the Smap and not marked offline."""
    tsi = smap.targets.get(tid)
    return tsi is not None and not tsi.flags & FLAG_OFFLINE


def outdated(old: Metafile | None, new: Metafile, me: str) -> list[str]:
    """The targets that held a slice or replica of `old` and hold nothing of `new` (a placement
    change moved them out): their slice, replica and metafile are stale once `new` is stored."""
    if old is None:
        return []
    return sorted(t for t in old.nodes if t not in new.nodes and t != me)


def new_meta(plan: Placement, conf: ECConf, attrs: lom.ObjAttrs, generation: int, ec_type: str) -> Metafile:
    """The main's metafile for a fresh encode of an object with metadata `attrs`."""
    return Metafile(obj_size=attrs.size, generation=generation, obj_cksum=attrs.cksum, obj_version=attrs.version,
                    data_slices=conf.data_slices, parity_slices=conf.parity_slices, slice_id=0,
                    cksum_type=attrs.cksum_type, nodes=plan.nodes(), replica_node=plan.main,
                    ec_type=ec_type if plan.sliced else "", lom=json.loads(attrs.to_bytes()))


def newest(metas: Mapping[str, Metafile]) -> dict[str, Metafile]:
    """The metafiles (by holder tid) of the newest data (`Metafile.recency`); older ones are stale leftovers."""
    if not metas:
        return {}
    top = max(m.recency for m in metas.values())
    return {t: m for t, m in metas.items() if m.recency == top}


@dataclass(frozen=True, slots=True)
class RestorePlan:
    replica: str  # a tid holding a full replica ("" when the object must be decoded)
    slices: tuple[tuple[str, int], ...]  # (tid, slice id) to fetch, >= D of them


def restore_plan(metas: Mapping[str, Metafile]) -> RestorePlan | None:
    """How to rebuild a lost main from the holders' metafiles (the newest data only); None: not enough."""
    cur = newest(metas)
    replicas = sorted(t for t, m in cur.items() if m.slice_id == 0)
    if replicas:
        return RestorePlan(replicas[0], ())
    slices = tuple(sorted(((t, m.slice_id) for t, m in cur.items() if m.slice_id > 0), key=lambda x: x[1]))
    d = next(iter(cur.values())).data_slices if cur else 0
    if not slices or len(slices) < d:
        return None
    return RestorePlan("", slices)


@dataclass(frozen=True, slots=True)
class EncodeRequest:
    """`{"action":"ec-encode","name":"recover"?,"value":"{\"data_slices\":D,\"parity_slices\":P}"}`."""

    data_slices: int
    parity_slices: int
    recover: bool = False


def parse_encode(value: Any, name: str = "") -> EncodeRequest:
    """The ec-encode action's value, a JSON *string* as AIStore reads it (`ais/prxtxn.go::parseECConf`):
    a JSON object or anything unparsable is 400 `invalid ec-encode request`."""
    if not isinstance(value, str):
        raise ErrBadRequest(f"invalid ec-encode request: value must be a JSON string, got {type(value).__name__}")
    try:
        d = json.loads(value)
    except ValueError as exc:
        raise ErrBadRequest(f"invalid ec-encode request: {exc}") from exc
    if not isinstance(d, dict):
        raise ErrBadRequest("invalid ec-encode request: expecting an object in the string")
    out = []
    for key in ("data_slices", "parity_slices"):
        v = d.get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            raise ErrBadRequest(f'invalid ec-encode request: "{key}" is required (an integer)')
        out.append(v)
    if name not in ("", "recover"):
        raise ErrBadRequest(f'invalid ec-encode request: name "{name}" (expecting "recover" or none)')
    return EncodeRequest(out[0], out[1], recover=name == "recover")
