"""The on-disk state of one resumable blob download: `<mountpath>/%ch/<key>/{data,manifest.json}`.

`data` is the partial object at its final size (sparse where chunks are missing); chunks are
written into it at their offsets, so completing it needs no concatenation and committing it
is the same atomic rename as any other object (`MountpathStore.commit`). `manifest.json`
lists the chunks known to be in `data` (`core.blob.ChunkManifest`), saved atomically (temp
file + rename, after an fdatasync of `data` when the store fsyncs), so after a crash it
never claims a chunk that is not on disk.

`<key>` is `<digest of the object's uname>.<digest of the source identity>` (ETag, version,
size): a download of a changed source gets another directory and never resumes stale chunks,
and the first thing a new download of an object does is drop its other directories.

Lives under `%ch`, not `%wk`, because `MountpathStore.cleanup_work` empties `%wk` at every
start; `%ch` survives restarts and is pruned by age (`remove_stale`). Blocking: callers use
`asyncio.to_thread`.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Collection

from ais_ray.core import lom
from ais_ray.core.blob import ChunkManifest, chunk_dir_name, chunk_dir_prefix
from ais_ray.fs.store import MountpathStore, ObjWriter, write_file_atomic

DATA = "data"
MANIFEST = "manifest.json"
# Partial downloads nobody resumed for this long are removed (`remove_stale`): a day covers an
# outage or a restart, and bounds the space held by sources that changed or went away.
STALE_AFTER_S = 24 * 3600.0


class ChunkDir:
    """One object's partial download on one mountpath."""

    def __init__(self, store: MountpathStore, uname: str, identity: str) -> None:
        self.store = store
        self.identity = identity
        # Without a source identity nothing proves old chunks are the current bytes: such a
        # download gets a one-off directory and is never resumed.
        self.resumable = bool(identity)
        self.prefix = chunk_dir_prefix(uname)
        self.name = chunk_dir_name(uname, identity or uuid.uuid4().hex)
        self.root = os.path.join(store.path, lom.CT_CHUNK)
        self.path = os.path.join(self.root, self.name)
        self.data_path = os.path.join(self.path, DATA)
        self.manifest_path = os.path.join(self.path, MANIFEST)

    def open(self, size: int) -> tuple[ObjWriter, ChunkManifest | None]:
        """Open the partial file (creating it at `size`); return it and the manifest to resume from.

        The manifest is None (start over) unless it is readable, for this source and size, and
        `data` is there at full size.
        """
        self._drop_other_downloads()
        os.makedirs(self.path, exist_ok=True)
        manifest = self._load(size) if self.resumable else None
        w = ObjWriter(self.data_path, self.store.fsync, keep=manifest is not None)
        try:
            os.truncate(self.data_path, size)
        except BaseException:
            w.abort()
            raise
        return w, manifest

    def _load(self, size: int) -> ChunkManifest | None:
        try:
            with open(self.manifest_path, "rb") as f:
                m = ChunkManifest.from_bytes(f.read())
            data_size = os.stat(self.data_path).st_size
        except FileNotFoundError:
            return None
        if m is None or m.identity != self.identity or m.size != size or data_size != size:
            return None
        return m

    def _drop_other_downloads(self) -> None:
        """Remove this object's directories of other source versions (or of unresumable runs)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(self.prefix) and entry.name != self.name:
                shutil.rmtree(entry.path, ignore_errors=True)

    def save(self, manifest: ChunkManifest) -> None:
        """Persist which chunks are on disk: data first (fdatasync), then the manifest (atomic)."""
        if self.store.fsync:
            fd = os.open(self.data_path, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        write_file_atomic(self.manifest_path, manifest.to_bytes(), fsync=self.store.fsync)

    def pread(self, offset: int, length: int) -> bytes:
        """A chunk an earlier attempt stored (the in-order reader hashes and streams it)."""
        with open(self.data_path, "rb") as f:
            data = os.pread(f.fileno(), length, offset)
        if len(data) != length:
            raise OSError(f"{self.data_path}: {len(data)} bytes at offset {offset}, expected {length}")
        return data

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def remove_object(store: MountpathStore, uname: str) -> None:
    """Remove every partial download of one object (its job gave up on it for good)."""
    prefix = chunk_dir_prefix(uname)
    try:
        entries = list(os.scandir(os.path.join(store.path, lom.CT_CHUNK)))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(prefix):
            shutil.rmtree(entry.path, ignore_errors=True)


def remove_stale(store: MountpathStore, *, older_than: float = STALE_AFTER_S, busy: Collection[str] = ()) -> int:
    """Remove partial downloads untouched for `older_than` seconds, except `busy` directory names.

    For a mountpath's start-up (after `cleanup_work`) or a periodic sweep; returns how many.
    """
    root = os.path.join(store.path, lom.CT_CHUNK)
    deadline = time.time() - older_than
    n = 0
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if entry.name in busy or not entry.is_dir(follow_symlinks=False):
            continue
        if _newest_mtime(entry.path) < deadline:
            shutil.rmtree(entry.path, ignore_errors=True)
            n += 1
    return n


def _newest_mtime(path: str) -> float:
    newest = 0.0
    try:
        newest = os.stat(path).st_mtime
        for entry in os.scandir(path):
            newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    except FileNotFoundError:
        pass
    return newest
