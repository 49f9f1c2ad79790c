"""n-way mirror: replicas of an object on other mountpaths of the same target (AIStore `mirror`).

A mirrored object lives at the same relative path (`%ob/<name>`) on `copies` distinct mountpaths
of its owning target; every replica carries the same metadata, whose `copies` lists the holders,
the main replica (the HRW mountpath when written) first. Replicas are made as part of the write's
commit (`replicate`, AIStore's put-copies), added or dropped for existing objects by the
make-n-copies job (`set_copies`), and a GET whose main replica is missing is served from a
replica after the main is restored from it (`restore_main`).

All mountpaths of a target are on one node, so a replica is a local file copy from one
mountpath directory to another: the bytes never leave the machine. Each replica is written to
the destination's work directory, checksum-verified against the main's, and renamed into place —
never a torn replica. Blocking (plain syscalls), like `fs/store.py`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from ais_ray.core import lom
from ais_ray.core.errors import AisError, ErrObjNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.fs.store import MountpathStore

COPY_BLOCK = 4 << 20


class ErrCopyCorrupt(AisError):
    status = 500


class Siblings:
    """Stores for the other mountpaths of this target, opened by path (same node), cached."""

    def __init__(self, fsync: bool) -> None:
        self._fsync = fsync
        self._stores: dict[str, MountpathStore] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> MountpathStore:
        with self._lock:
            s = self._stores.get(path)
            if s is None:
                s = self._stores[path] = MountpathStore(path, fsync=self._fsync)
            return s


def pick(main: str, enabled: Sequence[str], n: int, have: Sequence[str] = ()) -> list[str]:
    """The n-1 mountpaths (other than `main`) to hold replicas: current holders first, then the rest
    in a stable order (AIStore picks the least utilized; here all mountpaths are alike)."""
    others = [p for p in enabled if p != main]
    keep = [p for p in have if p in others]
    rest = sorted(p for p in others if p not in keep)
    return (keep + rest)[: max(0, n - 1)]


def _copy_file(src_fqn: str, dst: MountpathStore, bck: Bucket, name: str, attrs: ObjAttrs, *,
               if_absent: bool = False) -> None:
    w = dst.new_writer()
    try:
        with open(src_fqn, "rb") as f:
            while block := f.read(COPY_BLOCK):
                w.write(block)
        cksum = w.finish()
        if attrs.cksum and cksum != attrs.cksum:
            raise ErrCopyCorrupt(f"{bck}/{name}: replica on {dst.path} does not match the checksum ({cksum} != {attrs.cksum})")
        dst.commit(w, bck, name, attrs, bump_version=False, if_absent=if_absent)
    except BaseException:
        w.abort()
        raise


def _drop(store: MountpathStore, bck: Bucket, name: str) -> None:
    try:
        store.delete(bck, name)
    except ErrObjNotFound:
        pass


def set_copies(main: MountpathStore, siblings: Siblings, bck: Bucket, name: str, attrs: ObjAttrs,
               enabled: Sequence[str], n: int) -> ObjAttrs:
    """Make the object held by `main` have exactly `n` replicas (including itself) among the
    `enabled` mountpaths; returns its metadata (with `copies`). Replicas beyond `n` are removed.

    The caller holds the object's name lock on `main` (a writer, or the make-n-copies job)."""
    rel = main.fqn(bck, name)[len(main.path):]
    have = [p for p in attrs.copies if p != main.path]
    have += [p for p in enabled if p != main.path and p not in have and os.path.exists(p + rel)]
    targets = pick(main.path, enabled, n, have)
    holders = (main.path, *targets) if targets else ()
    new = replace(attrs, copies=holders)
    src = main.fqn(bck, name)
    for p in targets:
        _copy_file(src, siblings.get(p), bck, name, new)
    for p in have:
        if p not in targets:
            _drop(siblings.get(p), bck, name)
    if new.copies != attrs.copies:
        main.set_attrs(bck, name, new)
    return new


def drop_everywhere(siblings: Siblings, bck: Bucket, name: str, paths: Sequence[str]) -> int:
    """Remove the object's replicas on `paths` (a delete of a mirrored object); how many were there."""
    n = 0
    for p in paths:
        try:
            siblings.get(p).delete(bck, name)
            n += 1
        except ErrObjNotFound:
            pass
    return n


def find_replica(siblings: Siblings, bck: Bucket, name: str, paths: Sequence[str]) -> tuple[MountpathStore, ObjAttrs] | None:
    """The first of `paths` holding a replica of the object whose checksum metadata is readable."""
    for p in paths:
        try:
            return siblings.get(p), siblings.get(p).load(bck, name)
        except ErrObjNotFound:
            continue
    return None


def restore_main(main: MountpathStore, siblings: Siblings, bck: Bucket, name: str, enabled: Sequence[str],
                 n: int) -> ObjAttrs | None:
    """The main replica is missing: copy it back from a surviving replica (verified), then bring the
    replica count back to `n`. None when no replica survives. The caller holds the name lock."""
    found = find_replica(siblings, bck, name, [p for p in enabled if p != main.path])
    if found is None:
        return None
    store, attrs = found
    _copy_file(store.fqn(bck, name), main, bck, name, attrs, if_absent=True)  # a writer's new object wins
    return set_copies(main, siblings, bck, name, replace(attrs, copies=tuple(p for p in attrs.copies if p != main.path)),
                      enabled, n)


def listed_here(here: str, hrw_path: Callable[[str], str], enabled: Sequence[str]) -> Callable[[str, str], bool]:
    """For a walk of mountpath `here`: whether the object `name` whose file is `fqn` is the one to
    list, not a replica whose twin is listed elsewhere. Of the holders that still have the file, in
    the order HRW mountpath first then by path, the first lists it (the main, or while the main is
    lost and not yet restored, the next surviving replica)."""
    def keep(name: str, fqn: str) -> bool:
        hrw = hrw_path(name)
        if here == hrw:
            return True
        try:
            attrs = ObjAttrs.from_bytes(os.getxattr(fqn, lom.XATTR))
        except OSError:
            return False
        holders = [p for p in attrs.copies if p in enabled]
        if here not in holders:
            return True  # not a replica (or one this node no longer tracks): a plain object
        rel = fqn[len(here):]
        for p in sorted(holders, key=lambda p: (p != hrw, p)):
            if p == here:
                return True
            if os.path.exists(p + rel):
                return False
        return True

    return keep


class Mirror:
    """The mirror hooks of one mountpath's store (`MountpathStore.replicas`): replicate after a
    commit, restore a missing main on a read, drop the replicas with the object. `copies_of` reads
    the bucket's current props, `enabled` and `hrw` the target's current mountpaths."""

    def __init__(self, store: MountpathStore, copies_of: Callable[[Bucket], int],
                 enabled: Callable[[], list[str]]) -> None:
        self.store = store
        self.siblings = Siblings(store.fsync)
        self.copies_of = copies_of
        self.enabled = enabled

    def after_commit(self, bck: Bucket, name: str, attrs: ObjAttrs) -> ObjAttrs:
        n = self.copies_of(bck)
        if n <= 1:
            return attrs
        return set_copies(self.store, self.siblings, bck, name, attrs, self.enabled(), n)

    def set_copies(self, bck: Bucket, name: str, n: int) -> ObjAttrs:
        """make-n-copies of one object held here (main)."""
        return set_copies(self.store, self.siblings, bck, name, self.store.load(bck, name), self.enabled(), n)

    def restore(self, bck: Bucket, name: str) -> bool:
        n = self.copies_of(bck)
        if n <= 1:
            return False
        return restore_main(self.store, self.siblings, bck, name, self.enabled(), n) is not None

    def after_set_attrs(self, bck: Bucket, name: str, attrs: ObjAttrs) -> None:
        """The main's metadata changed in place (custom metadata): its replicas carry the same."""
        for p in attrs.copies:
            if p != self.store.path:
                try:
                    self.siblings.get(p).set_attrs(bck, name, attrs)
                except ErrObjNotFound:  # a replica lost meanwhile: the mirror restores it from the main
                    pass

    def after_delete(self, bck: Bucket, name: str, copies: Sequence[str]) -> int:
        paths = copies or (self.enabled() if self.copies_of(bck) > 1 else ())
        return drop_everywhere(self.siblings, bck, name, [p for p in paths if p != self.store.path])
