"""Walk a bucket's objects on one mountpath in lexicographic order, a page at a time.

Sorting each directory by `name + "/"` for subdirectories (and `name` for files) makes a
depth-first walk yield full object names in plain string order, so pages from every
mountpath merge with a k-way merge and a page can resume after any name without a cache.

Listing flags (core/lsflags.py): NO_RECURSION stops at the prefix's directory level and
yields each deeper directory once as a `dir/` entry (NO_DIRS drops those); ARCH_DIR adds
a shard's members as `shard.tar/member` entries, sorted at the key `shard.tar/` like a
directory so the order stays plain string order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from collections.abc import Callable, Iterator

from ais_ray.core import lom
from ais_ray.core import lsflags as F
from ais_ray.core import shardfmt
from ais_ray.core.errors import AisError
from ais_ray.core.lom import ObjAttrs
from ais_ray.fs import archive


@dataclass(frozen=True, slots=True)
class LsEntry:
    name: str
    size: int
    attrs: ObjAttrs | None = None
    flags: int = 0  # lsflags.ENTRY_IS_DIR / ENTRY_IN_ARCH / ENTRY_IS_ARCHIVE


# which object files a walk shows: (name, path) -> bool; e.g. a mirror replica whose twin is listed
# elsewhere is not (fs/mirror.py `listed_here`)
Keep = Callable[[str, str], bool]


def all_of(*keeps: Keep | None) -> Keep | None:
    """One walk filter from several (None: no filter); a name is kept when every filter keeps it."""
    ks = [k for k in keeps if k is not None]
    if len(ks) < 2:
        return ks[0] if ks else None
    return lambda name, fqn: all(k(name, fqn) for k in ks)


def walk_names(objs_dir: str, prefix: str = "", start_after: str = "", keep: Keep | None = None
               ) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Yield (object name, dir entry) in order, for names with `prefix` and > `start_after`."""
    for name, entry, kind in _walk(objs_dir, "", prefix, start_after, 0):
        if kind == "" and (keep is None or keep(name, entry.path)):
            yield name, entry


def _walk(path: str, rel: str, prefix: str, start_after: str, flags: int) -> Iterator[tuple[str, os.DirEntry[str], str]]:
    """(name, dir entry, kind): kind "" = object, "dir" = virtual directory, "arch" = a shard to expand."""
    try:
        with os.scandir(path) as it:
            entries = []
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    entries.append((e.name + "/", e, "dir"))
                else:
                    entries.append((e.name, e, ""))
                    if flags & F.ARCH_DIR and shardfmt.format_of(e.name) in shardfmt.SUPPORTED:
                        entries.append((e.name + "/", e, "arch"))
    except (FileNotFoundError, NotADirectoryError):
        return
    entries.sort(key=lambda x: x[0])
    for key, entry, kind in entries:
        name = rel + key
        if kind == "dir":
            if not (name.startswith(prefix) or prefix.startswith(name)):
                continue
            if flags & F.NO_RECURSION and not prefix.startswith(name):  # below the listed level
                if name > start_after and not flags & F.NO_DIRS:
                    yield name, entry, "dir"
                continue
            if name < start_after and not start_after.startswith(name):
                continue  # every name below sorts before start_after
            yield from _walk(entry.path, name, prefix, start_after, flags)
        elif kind == "arch":
            if (name.startswith(prefix) or prefix.startswith(name)) and (name > start_after or start_after.startswith(name)):
                yield name, entry, "arch"
        elif name > start_after and name.startswith(prefix):
            yield name, entry, ""


def _members(shard: str, entry: os.DirEntry[str], prefix: str, start_after: str) -> list[LsEntry]:
    try:
        members = archive.list_members(entry.path, shardfmt.format_of(entry.name))
    except (AisError, OSError):  # not readable as an archive: listed as a plain object only
        return []
    out = [LsEntry(shard + m.name, m.size, None, F.ENTRY_IN_ARCH) for m in members]
    return sorted((e for e in out if e.name > start_after and e.name.startswith(prefix)), key=lambda e: e.name)


def list_page(objs_dir: str, *, prefix: str = "", start_after: str = "", limit: int, with_attrs: bool,
              flags: int = 0, keep: Keep | None = None) -> list[LsEntry]:
    out: list[LsEntry] = []
    for name, entry, kind in _walk(objs_dir, "", prefix, start_after, flags):
        if kind == "dir":
            out.append(LsEntry(name, 0, None, F.ENTRY_IS_DIR))
        elif kind == "arch":
            if keep is None or keep(name[:-1], entry.path):
                out.extend(_members(name, entry, prefix, start_after))
        elif keep is not None and not keep(name, entry.path):
            continue
        else:
            try:
                if with_attrs:
                    attrs = ObjAttrs.from_bytes(os.getxattr(entry.path, lom.XATTR))
                    size = entry.stat().st_size
                else:
                    attrs, size = None, entry.stat().st_size
            except OSError:  # deleted while walking
                continue
            arch = F.ENTRY_IS_ARCHIVE if flags & F.ARCH_DIR and shardfmt.format_of(name) in shardfmt.SUPPORTED else 0
            out.append(LsEntry(name, size, attrs, arch))
        if len(out) >= limit:
            return out[:limit]
    return out
