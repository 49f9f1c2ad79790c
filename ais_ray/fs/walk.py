"""Walk a bucket's objects on one mountpath in lexicographic order, a page at a time.

Sorting each directory by `name + "/"` for subdirectories (and `name` for files) makes a
depth-first walk yield full object names in plain string order, so pages from every
mountpath merge with a k-way merge and a page can resume after any name without a cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from ais_ray.core import lom
from ais_ray.core.lom import ObjAttrs


@dataclass(frozen=True, slots=True)
class LsEntry:
    name: str
    size: int
    attrs: ObjAttrs | None = None


def walk_names(objs_dir: str, prefix: str = "", start_after: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Yield (object name, dir entry) in order, for names with `prefix` and > `start_after`."""
    yield from _walk(objs_dir, "", prefix, start_after)


def _walk(path: str, rel: str, prefix: str, start_after: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    try:
        with os.scandir(path) as it:
            entries = [(e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e) for e in it]
    except (FileNotFoundError, NotADirectoryError):
        return
    entries.sort(key=lambda x: x[0])
    for key, entry in entries:
        name = rel + key
        if key.endswith("/"):
            if not (name.startswith(prefix) or prefix.startswith(name)):
                continue
            if name < start_after and not start_after.startswith(name):
                continue  # every name below sorts before start_after
            yield from _walk(entry.path, name, prefix, start_after)
        elif name > start_after and name.startswith(prefix):
            yield name, entry


def list_page(objs_dir: str, *, prefix: str = "", start_after: str = "", limit: int, with_attrs: bool) -> list[LsEntry]:
    out: list[LsEntry] = []
    for name, entry in walk_names(objs_dir, prefix, start_after):
        try:
            if with_attrs:
                attrs = ObjAttrs.from_bytes(os.getxattr(entry.path, lom.XATTR))
                size = entry.stat().st_size
            else:
                attrs, size = None, entry.stat().st_size
        except OSError:  # deleted while walking
            continue
        out.append(LsEntry(name, size, attrs))
        if len(out) >= limit:
            break
    return out
