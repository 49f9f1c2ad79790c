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

import msgspec

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
        """JSON, the fields one level deep, those at their defaults left out (no `asdict`: its
        deep copy cost more than the write of a small object; msgspec's encoder: the json
        module's was 10 % of a download's writer thread)."""
        d = {k: v for k in _ATTR_FIELDS if (v := getattr(self, k)) not in ("", {}, -1, ())}
        d["custom"] = dict(self.custom)
        try:
            return _encode(d)
        except UnicodeEncodeError:  # a lone surrogate in a custom value: kept as JSON's \u escape
            return _COMPACT.encode(d).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, **known: Any) -> ObjAttrs:
        """`known`: fields the caller has from elsewhere (the size from the inode), set in the
        one construction (every GET reads its object's metadata: no second `replace`).
        Raises ValueError for bytes that are not such a record."""
        try:
            d: dict[str, Any] = _decode(raw)
        except msgspec.DecodeError:  # what the json module reads and msgspec does not (a \u escape of a lone surrogate)
            d = json.loads(raw)
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

    def with_version(self, version: str) -> ObjAttrs:
        """The same with another version: `replace` without its generic field walk (a commit's
        version bump, once per object written)."""
        return ObjAttrs(self.size, self.cksum_type, self.cksum, version, self.atime_ns, self.mtime_ns, self.custom,
                        self.src_etag, self.src_version, self.src_size, self.job, self.copies)

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
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


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
