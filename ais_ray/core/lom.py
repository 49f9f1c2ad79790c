"""Local object metadata and the on-disk layout of a mountpath (pure: paths and bytes only).

Layout (Go `docs/on_disk_layout.md`, `fs/content.go`):

    <mountpath>/@<provider>/[<ns>/]<bucket>/%ob/<object name>    committed objects
    <mountpath>/%wk/<unique>                                      work files, removed at start
    <mountpath>/%ch/<obj digest>.<src digest>/{data,manifest.json}  partial blob downloads (kept for resume)
    <mountpath>/%mu/<upload id>/<part number>                     parts of an uncompleted multipart upload
    <mountpath>/@<provider>/[<ns>/]<bucket>/%ec/<object name>    an erasure-coded slice (core/ec.py)
    <mountpath>/@<provider>/[<ns>/]<bucket>/%mt/<object name>    its EC metafile
    <mountpath>/.ais.smap, .ais.bmd                                copies of the cluster metadata

Metadata travels with the object in one xattr (`user.ais.lom`), set on the work file before
the rename that commits it, so data and metadata become visible together.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ais_ray.core.errors import ErrBadRequest, ErrInvalidName
from ais_ray.core.names import Bucket, is_plain_obj_name, validate_obj_name

CT_OBJ = "%ob"
CT_WORK = "%wk"
CT_CHUNK = "%ch"
CT_EC = "%ec"  # erasure-coded slices (core/ec.py)
CT_META = "%mt"  # their metafiles
CT_MPU = "%mu"  # parts of multipart uploads not completed yet (actors/mpu.py)
XATTR = "user.ais.lom"
SMAP_FILE = ".ais.smap"
BMD_FILE = ".ais.bmd"


@dataclass(frozen=True, slots=True)
class ObjAttrs:
    """What is known of a stored object beyond its bytes."""

    size: int
    cksum_type: str = "xxhash2"
    cksum: str = ""
    version: str = ""
    atime_ns: int = 0
    # when this version was written (set by every new write; kept by moves and replicas): a move
    # never replaces an object written after it (`fs/store.py` `commit(unless_newer=)`)
    mtime_ns: int = 0
    custom: Mapping[str, str] = field(default_factory=dict)
    # Identity of the remote source it came from: lets a re-download or `--latest` skip it.
    src_etag: str = ""
    src_version: str = ""
    src_size: int = -1
    job: str = ""  # the download job that wrote it: a resumed job counts it once
    copies: tuple[str, ...] = ()  # mirrored: the mountpaths holding a replica, the main first (fs/mirror.py)

    def to_bytes(self) -> bytes:
        # the fields one level deep (no `asdict`: its deep copy cost more than the write of a small object)
        d = {k: v for k in _ATTR_FIELDS if (v := getattr(self, k)) not in ("", {}, -1, ())}
        d["custom"] = dict(self.custom)
        return _COMPACT.encode(d).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, **known: Any) -> ObjAttrs:
        """`known`: fields the caller has from elsewhere (the size from the inode), set in the
        one construction (every GET reads its object's metadata: no second `replace`)."""
        d: dict[str, Any] = json.loads(raw)
        if "copies" in d:
            d["copies"] = tuple(d["copies"])
        d.update(known)
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in fields})

    def to_header(self) -> str:
        """The whole metadata in one header value (an object moving between nodes keeps it)."""
        return base64.b64encode(self.to_bytes()).decode()

    @classmethod
    def from_header(cls, value: str) -> ObjAttrs:
        """Raises ErrBadRequest for a value `to_header` did not make."""
        try:
            return cls.from_bytes(base64.b64decode(value, validate=True))
        except Exception as exc:
            raise ErrBadRequest("invalid object metadata header") from exc

    def touched(self, atime_ns: int) -> ObjAttrs:
        return replace(self, atime_ns=atime_ns)

    def same_source(self, etag: str, version: str, size: int) -> bool:
        """True when the stored copy provably came from this remote object (skip re-download)."""
        if size >= 0 and self.size != size:
            return False
        if version and self.src_version:
            return version == self.src_version
        if etag and self.src_etag:
            return etag == self.src_etag
        return False


_ATTR_FIELDS = tuple(ObjAttrs.__dataclass_fields__)
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # made once: `json.dumps` with options makes one per call


def bucket_dir(mpath: str, bck: Bucket) -> str:
    ns = "" if bck.ns.is_global else f"{bck.ns.uname}/"
    return f"{mpath}/@{bck.provider.value}/{ns}{bck.name}"


def objects_dir(mpath: str, bck: Bucket) -> str:
    return f"{bucket_dir(mpath, bck)}/{CT_OBJ}"


def obj_fqn(mpath: str, bck: Bucket, name: str) -> str:
    """Full path of object `name`; raises ErrInvalidName for anything that could leave the bucket."""
    return ct_fqn(mpath, bck, CT_OBJ, name)


def ct_fqn(mpath: str, bck: Bucket, ct: str, name: str) -> str:
    """Full path of `name` under content type `ct` (`%ob`, `%ec`, `%mt`); never outside the bucket."""
    base = f"{bucket_dir(mpath, bck)}/{ct}"
    if is_plain_obj_name(name):  # valid, and nothing in it to normalize
        return f"{base}/{name}"
    fqn = os.path.normpath(f"{base}/{validate_obj_name(name)}")
    if not fqn.startswith(base + "/"):
        raise ErrInvalidName(f'object name "{name}" resolves outside its bucket')
    return fqn


def obj_name_of(mpath: str, bck: Bucket, fqn: str) -> str:
    return fqn[len(objects_dir(mpath, bck)) + 1 :]
