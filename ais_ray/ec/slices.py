"""A mountpath's EC content: metafiles (`%mt`), slices (`%ec`), full replicas held for another target.

Blocking (plain syscalls), like `fs/store.py`: async callers go through `asyncio.to_thread`.
Every file arrives as a work file (`%wk`, removed at start) and is renamed into place; the
metafile goes first, so a full replica in `%ob` is never seen without the metafile that marks it
a copy (listing hides copies: `keep`).
"""

from __future__ import annotations

import os

import xxhash
from dataclasses import replace
from collections.abc import Iterator
from typing import BinaryIO

from ais_ray.core import lom
from ais_ray.core.ec import Metafile
from ais_ray.core.errors import AisError, ErrObjNotFound
from ais_ray.core.names import Bucket
from ais_ray.fs.store import MountpathStore, ObjWriter, prune_empty_dirs
from ais_ray.fs.walk import Keep, walk_names


READ_BLOCK = 4 << 20


class ErrSliceCorrupt(AisError):
    status = 500


class ECSlices:
    def __init__(self, store: MountpathStore) -> None:
        self.store = store

    def _fqn(self, bck: Bucket, ct: str, name: str) -> str:
        return lom.ct_fqn(self.store.path, bck, ct, name)

    # ---- metafiles ----------------------------------------------------------------------------
    def load_meta(self, bck: Bucket, name: str) -> Metafile | None:
        try:
            with open(self._fqn(bck, lom.CT_META, name), "rb") as f:
                return Metafile.from_bytes(f.read())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def save_meta(self, bck: Bucket, name: str, meta: Metafile) -> None:
        w = self.store.new_writer()
        try:
            w.write(meta.to_bytes())
            w.finish()
            _rename_into(w, self._fqn(bck, lom.CT_META, name))
        except BaseException:
            w.abort()
            raise

    def metas(self, bck: Bucket, prefix: str = "") -> Iterator[tuple[str, Metafile]]:
        """(object name, metafile) of every metafile held here for `bck` under `prefix`, in name order."""
        for name, entry in walk_names(f"{lom.bucket_dir(self.store.path, bck)}/{lom.CT_META}", prefix):
            try:
                with open(entry.path, "rb") as f:
                    yield name, Metafile.from_bytes(f.read())
            except (OSError, AisError):
                continue  # removed meanwhile, or being replaced

    # ---- receiving ------------------------------------------------------------------------------
    def commit(self, w: ObjWriter, cksum: str, bck: Bucket, name: str, meta: Metafile) -> Metafile:
        """A received slice or full replica (finished work file `w`) into place with its metafile."""
        meta = replace(meta, slice_cksum=cksum)
        try:
            if meta.slice_id == 0 and meta.obj_cksum and cksum != meta.obj_cksum:
                raise ErrSliceCorrupt(f"{bck}/{name}: replica does not match the object's checksum")
            self.save_meta(bck, name, meta)
            if meta.slice_id == 0:
                self.store.commit(w, bck, name, meta.attrs(), bump_version=False)
            else:
                _rename_into(w, self._fqn(bck, lom.CT_EC, name))
        except BaseException:
            w.abort()
            raise
        return meta

    # ---- serving --------------------------------------------------------------------------------
    def open(self, bck: Bucket, name: str) -> tuple[BinaryIO, Metafile]:
        """This mountpath's slice (or full replica) of the object, with its metafile."""
        meta = self.load_meta(bck, name)
        if meta is None:
            raise ErrObjNotFound(bck, name)
        fqn = self._fqn(bck, lom.CT_EC if meta.slice_id else lom.CT_OBJ, name)
        try:
            return open(fqn, "rb"), meta  # noqa: SIM115 - caller closes
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ErrObjNotFound(bck, name) from None

    def usable_meta(self, bck: Bucket, name: str, *, verify: bool = False) -> Metafile | None:
        """The metafile, if the slice or replica it describes is here too (and, with `verify`, still
        matches the checksum recorded when it was stored): what a holder offers for a restore."""
        try:
            f, meta = self.open(bck, name)
        except ErrObjNotFound:
            return None
        with f:
            if not verify or not meta.slice_cksum:
                return meta
            return meta if _cksum(f) == meta.slice_cksum else None

    def slice_cksum(self, bck: Bucket, name: str) -> str:
        """The checksum of the slice file held here ("" if there is none)."""
        try:
            with open(self._fqn(bck, lom.CT_EC, name), "rb") as f:
                return _cksum(f)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return ""

    def delete(self, bck: Bucket, name: str, *, main: bool) -> bool:
        """Drop the slice or replica and the metafile (`main`: the object itself is the caller's)."""
        meta = self.load_meta(bck, name)
        found = False
        paths = [self._fqn(bck, lom.CT_EC, name)]
        if meta is not None and meta.is_copy and not main:
            paths.append(self._fqn(bck, lom.CT_OBJ, name))
        paths.append(self._fqn(bck, lom.CT_META, name))
        for p in paths:
            try:
                os.unlink(p)
                found = True
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
            prune_empty_dirs(os.path.dirname(p), lom.bucket_dir(self.store.path, bck))
        return found

    def is_copy(self, bck: Bucket, name: str) -> bool:
        meta = self.load_meta(bck, name)
        return meta is not None and meta.is_copy

    def keep(self, bck: Bucket) -> Keep:
        """A walk filter: list objects, not the full replicas this target holds for another one."""
        def keep(name: str, fqn: str) -> bool:
            return not self.is_copy(bck, name)

        return keep


def _cksum(f: BinaryIO) -> str:
    """xxhash of the rest of `f`, as `slice_cksum` records it."""
    h = xxhash.xxh64(seed=0)
    while block := f.read(READ_BLOCK):
        h.update(block)
    return h.hexdigest()


def _rename_into(w: ObjWriter, fqn: str) -> None:
    os.makedirs(os.path.dirname(fqn), exist_ok=True)
    os.rename(w.path, fqn)

