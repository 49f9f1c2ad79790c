"""Bucket metadata (BMD): every bucket the cluster knows, with its properties, versioned.

Go counterpart: `core/meta/bmd.go` and `cmn/api.go` (Bprops).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ais_ray.core.errors import AisError, ErrBadRequest, ErrBckAlreadyExists, ErrBckNotFound, ErrBusy, ErrUnsupported
from ais_ray.core.names import Bucket, Namespace, Provider
from ais_ray.core.redundancy import ECConf, MirrorConf, merge_ec, merge_mirror

DEFAULT_CKSUM = "xxhash2"
HT_ORIGIN = "original_url"  # BucketProps.extra key of an HTTP bucket's base URL  # Go cmn/config.go: default bucket checksum (XXH64, seed 0)


@dataclass(frozen=True, slots=True)
class Moving:
    """A rename in progress (`move-bck`, job `xid`): `src`'s objects are being copied into `dst`.
    Both buckets carry it and are read-only until the job ends: then `src` is gone (done) or
    `dst` is (failed, aborted: rolled back)."""

    xid: str
    src: Bucket
    dst: Bucket

    def refusal(self, bck: Bucket) -> ErrBusy:
        """What a write into either bucket gets while the rename runs."""
        other = f"being renamed to {self.dst}" if bck == self.src else f"being filled by the rename of {self.src}"
        return ErrBusy("bucket", str(bck), f"{other}: move-bck[{self.xid}]")


@dataclass(frozen=True, slots=True)
class BucketProps:
    created: int = 0  # unix ns
    bid: int = 0
    checksum_type: str = DEFAULT_CKSUM
    backend_bck: Bucket | None = None
    versioning: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)  # provider specifics, e.g. ht:// original URL
    mirror: MirrorConf = MirrorConf()
    ec: ECConf = ECConf()
    moving: Moving | None = None  # a rename in progress: read-only (`check_writable`)

    def check_writable(self, bck: Bucket) -> None:
        """Raise ErrBusy while `bck` takes part in a rename (source or destination)."""
        if self.moving is not None:
            raise self.moving.refusal(bck)

    def to_wire(self, bck: Bucket) -> dict[str, Any]:
        """The `Ais-Bucket-Props` JSON (Go `cmn.Bprops`); the SDK passes it through unparsed."""
        backend = self.backend_bck.to_wire() if self.backend_bck else {"name": "", "provider": "", "namespace": {"uuid": "", "name": ""}}
        return {
            "provider": bck.provider.value,
            "backend_bck": backend,
            "checksum": {"type": self.checksum_type, "validate_cold_get": False, "validate_warm_get": False},
            "versioning": {"enabled": self.versioning, "validate_warm_get": False, "synchronize": False},
            "extra": dict(self.extra), "mirror": self.mirror.to_wire(), "ec": self.ec.to_wire(),
            "access": "0", "features": "0", "bid": str(self.bid), "created": str(self.created),
        }


def bucket_key(bck: Bucket) -> str:
    return bck.uname_prefix


def bucket_from_key(key: str) -> Bucket:
    provider, ns, name, _ = key.split("/", 3)
    return Bucket(name, Provider(provider), Namespace.parse(ns) if ns != "@#" else Namespace())


@dataclass(frozen=True, slots=True)
class BMD:
    uuid: str
    version: int = 0
    buckets: Mapping[str, BucketProps] = field(default_factory=dict)

    def get(self, bck: Bucket) -> BucketProps | None:
        return self.buckets.get(bucket_key(bck))

    def must_get(self, bck: Bucket) -> BucketProps:
        props = self.get(bck)
        if props is None:
            raise ErrBckNotFound(bck)
        return props

    def __contains__(self, bck: Bucket) -> bool:
        return bucket_key(bck) in self.buckets

    def list(self, provider: Provider | None = None) -> list[Bucket]:
        bcks = (bucket_from_key(k) for k in self.buckets)
        return sorted((b for b in bcks if provider is None or b.provider == provider), key=str)

    def with_bucket(self, bck: Bucket, props: BucketProps | None = None, *, exist_ok: bool = False) -> BMD:
        """A new version with `bck` added (or its props replaced when `exist_ok`)."""
        key = bucket_key(bck)
        if key in self.buckets and not exist_ok:
            raise ErrBckAlreadyExists(bck)
        if props is None:
            props = BucketProps(created=time.time_ns(), bid=self.version + 1)
        return replace(self, version=self.version + 1, buckets={**self.buckets, key: props})

    def without_bucket(self, bck: Bucket) -> BMD:
        key = bucket_key(bck)
        if key not in self.buckets:
            raise ErrBckNotFound(bck)
        return replace(self, version=self.version + 1, buckets={k: v for k, v in self.buckets.items() if k != key})

    def with_move(self, src: Bucket, dst: Bucket, xid: str) -> BMD:
        """One new version in which `src` is being renamed to `dst` (`move-bck`): `dst` is created
        with `src`'s properties and both carry the rename (read-only until it ends)."""
        props = self.must_get(src)
        if src.is_remote or props.backend_bck is not None or src.provider is not Provider.AIS:
            raise ErrUnsupported(f"cannot rename {src}: only ais buckets without a backend can be renamed")
        if dst.is_remote or dst.provider is not Provider.AIS:
            raise ErrUnsupported(f"cannot rename {src} to {dst}: the new name must be an ais bucket")
        if dst == src:
            raise ErrBadRequest(f"cannot rename {src} to itself")
        props.check_writable(src)
        if dst in self:
            raise ErrBckAlreadyExists(dst)
        m = Moving(xid, src, dst)
        new = replace(props, created=time.time_ns(), bid=self.version + 1, moving=m)
        return replace(self, version=self.version + 1,
                       buckets={**self.buckets, bucket_key(src): replace(props, moving=m), bucket_key(dst): new})

    def with_move_ended(self, m: Moving, *, done: bool) -> BMD:
        """The rename ended: `done`, the source is gone and the new name open; otherwise rolled
        back, the new name gone and the source open again."""
        gone, kept = (m.src, m.dst) if done else (m.dst, m.src)
        buckets = {k: v for k, v in self.buckets.items() if k != bucket_key(gone)}
        if (props := buckets.get(bucket_key(kept))) is not None and props.moving == m:
            buckets[bucket_key(kept)] = replace(props, moving=None)
        return replace(self, version=self.version + 1, buckets=buckets)

    def moves(self) -> list[Moving]:
        """The renames in progress (each once)."""
        return sorted({p.moving for p in self.buckets.values() if p.moving is not None}, key=lambda m: m.xid)

    def to_wire(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "version": self.version,
                "buckets": {k: _props_to_json(v) for k, v in sorted(self.buckets.items())}}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any], *, dropped: list[str] | None = None) -> BMD:
        """Parse a stored or received BMD. A bucket entry that no longer parses (e.g. written
        before validation got stricter) is left out and named in `dropped`: one bad record
        must never stop a node from starting."""
        buckets = {}
        for k, v in d["buckets"].items():
            try:
                bucket_from_key(k)
                buckets[k] = _props_from_json(v)
            except (AisError, ValueError, KeyError, TypeError):
                if dropped is not None:
                    dropped.append(k)
        return cls(d["uuid"], int(d["version"]), buckets)


def _props_to_json(p: BucketProps) -> dict[str, Any]:
    return {"created": p.created, "bid": p.bid, "checksum_type": p.checksum_type, "versioning": p.versioning,
            "backend_bck": bucket_key(p.backend_bck) if p.backend_bck else "", "extra": dict(p.extra),
            "mirror": p.mirror.to_wire(), "ec": p.ec.to_wire(),
            **({"moving": {"xid": p.moving.xid, "src": bucket_key(p.moving.src), "dst": bucket_key(p.moving.dst)}}
               if p.moving is not None else {})}


def _props_from_json(d: Mapping[str, Any]) -> BucketProps:
    backend = bucket_from_key(d["backend_bck"]) if d.get("backend_bck") else None
    mv = d.get("moving")
    moving = Moving(str(mv["xid"]), bucket_from_key(mv["src"]), bucket_from_key(mv["dst"])) if mv else None
    return BucketProps(int(d["created"]), int(d["bid"]), d.get("checksum_type", DEFAULT_CKSUM), backend,
                       bool(d.get("versioning", True)), dict(d.get("extra", {})),
                       merge_mirror(MirrorConf(), d.get("mirror") or {}), merge_ec(ECConf(), d.get("ec") or {}),
                       moving)


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """Where a bucket's objects come from: a display bucket and the backend's bucket string."""

    bck: Bucket  # as errors name it: s3://b, gs://b, ht://id
    name: str  # what the backend calls the bucket (for HTTP: the base URL)


def remote_of(bck: Bucket, props: BucketProps) -> RemoteRef | None:
    if bck.provider is Provider.HT:
        origin = props.extra.get(HT_ORIGIN, "")
        return RemoteRef(bck, origin) if origin else None
    if bck.is_remote:
        return RemoteRef(bck, bck.name)
    if props.backend_bck is not None:
        return RemoteRef(props.backend_bck, props.backend_bck.name)
    return None
