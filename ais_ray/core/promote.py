"""Promote: files on the targets' own filesystems become objects (ais-wire-2 §7; AIStore's
`apc.PromoteArgs`, `xs.XactDirPromote`, `xs.PrmObjName`).

The request names a file or a directory under the promote root (AIStore 5.0: `/var/lib/ais/promote`;
here `$AIS_PROMOTE_ROOT` of the cluster's processes, that path by default). Every target looks at
it; when all of them see the same names (a file share: NFS, SMB, or the one filesystem of a local
cluster) each promotes only the names it owns by HRW, else each promotes all it sees and sends
every object to its owner. Pure: parsing, checks, naming; the walk is `files`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import xxhash

from ais_ray.core.errors import ErrBadRequest, ErrNotFound

ROOT_ENV = "AIS_PROMOTE_ROOT"
DEFAULT_ROOT = "/var/lib/ais/promote"
SYNC_MAX = 16  # at most this many files and no file share: promoted before the answer, no job (AIStore)
KIND = "promote"


class ErrSourceGone(ErrNotFound):
    """A file found by the walk was gone at its turn: skipped, not an error (as AIStore)."""


def promote_root() -> str:
    """The directory promoted files must be under, as this process sees it."""
    return os.path.abspath(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


@dataclass(frozen=True, slots=True)
class PromoteArgs:
    """One promote request (`value` of `{"action": "promote", "name": src, "value": ...}`)."""

    src: str  # an absolute path under the root: a file or a directory
    obj: str = ""  # the object's name (a file), or the names' prefix (a directory; a file when it ends in "/")
    tid: str = ""  # only this target looks (and sends what it finds to the owners)
    recursive: bool = False
    overwrite: bool = False  # replace objects of the same name (else they stay, the file skipped)
    delete_src: bool = False  # remove each file once its object is stored
    not_share: bool = False  # do not look for a file share: every target promotes all it sees

    @classmethod
    def parse(cls, name: str, value: Any) -> PromoteArgs:
        """The action's `name` and `value` as the SDK and the CLI send them.

        Raises:
            ErrBadRequest: a malformed value, no source, `name` and `value.src` that disagree.
        """
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ErrBadRequest(f"promote: invalid value {value!r} (expecting an object with src, obj, rcr, ...)")
        src = value.get("src") or ""
        if not isinstance(src, str) or not isinstance(name, str):
            raise ErrBadRequest("promote: the source path must be a string")
        if name and src and name != src:
            raise ErrBadRequest(f'promote: name "{name}" and source "{src}" differ')
        obj, tid = value.get("obj") or "", value.get("tid") or ""
        if not isinstance(obj, str) or not isinstance(tid, str):
            raise ErrBadRequest("promote: obj and tid must be strings")
        flags = {k: value.get(k, False) for k in ("rcr", "ovw", "dls", "notshr")}
        for k, v in flags.items():
            if not isinstance(v, bool):
                raise ErrBadRequest(f"promote: {k} must be true or false, got {v!r}")
        args = cls(src=src or name, obj=obj.lstrip("/"), tid=tid, recursive=flags["rcr"], overwrite=flags["ovw"],
                   delete_src=flags["dls"], not_share=flags["notshr"])
        if not args.src:
            raise ErrBadRequest("promote: missing the source path (a file or directory under the promote root)")
        return args

    def to_wire(self) -> dict[str, Any]:
        return {"src": self.src, "obj": self.obj, "tid": self.tid, "rcr": self.recursive, "ovw": self.overwrite,
                "dls": self.delete_src, "notshr": self.not_share}


def check_source(src: str, root: str) -> str:
    """`src` as a real path under `root`: absolute, no `.` or `..`, no symbolic link on the way out.

    Raises:
        ErrBadRequest: not absolute, a `.`/`..` component, outside the root, the root missing.
        ErrNotFound: nothing at `src`.
    """
    if not os.path.isabs(src):
        raise ErrBadRequest(f'promote: source "{src}" is not an absolute path')
    if any(part in (".", "..") for part in src.split("/")):
        raise ErrBadRequest(f'promote: source "{src}" must not contain "." or ".." components')
    if not os.path.isdir(root):
        raise ErrBadRequest(f'promote root "{root}" does not exist')
    real_root = os.path.realpath(root)
    path = os.path.normpath(src)
    if not is_under(path, root) and not is_under(path, real_root):
        raise ErrBadRequest(f'promote: source "{src}" is not under the promote root "{root}"')
    if not os.path.lexists(path):
        raise ErrNotFound(f'promote: source "{src}" does not exist')
    real = os.path.realpath(path)
    if not is_under(real, real_root):
        raise ErrBadRequest(f'promote: source "{src}" leads outside the promote root "{root}" (a symbolic link)')
    return real


def is_under(path: str, root: str) -> bool:
    """`path` is `root` or below it (both normalized, no `..`)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def obj_name(path: str, top: str, prefix: str) -> str:
    """The object name of file `path` found under directory `top` ("" when the source is the file
    itself): AIStore's `PrmObjName` — a file keeps a name that does not end in "/" as given, else
    prefix + its base name; a directory's file is prefix + its path below the directory."""
    if not top:
        if prefix and not prefix.endswith("/"):
            return prefix
        return prefix + os.path.basename(path)
    return prefix + os.path.relpath(path, top)


def files(real_src: str, recursive: bool) -> Iterator[str]:
    """The regular files to promote, in a stable order: the source itself if it is one, else
    those in the directory (and below it, `recursive`). Symbolic links are not followed (AIStore:
    not supported), other kinds of file are left out."""
    st = os.lstat(real_src)
    if stat.S_ISREG(st.st_mode):
        yield real_src
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    stack = [real_src]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        subdirs = []
        for e in entries:
            if e.is_file(follow_symlinks=False):
                yield e.path
            elif recursive and e.is_dir(follow_symlinks=False):
                subdirs.append(e.path)
        stack.extend(reversed(subdirs))


def names_digest(names: Iterator[str]) -> tuple[int, str]:
    """How many names and a digest of them: targets that see the same files report the same pair
    (AIStore's file-share test: `Ais-Promote-Names-Num` and a hash of the names)."""
    h, n = xxhash.xxh64(), 0
    for name in names:
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        n += 1
    return n, h.hexdigest()
