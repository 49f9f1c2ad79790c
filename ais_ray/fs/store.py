"""Objects on one mountpath: atomic writes, metadata in xattrs, reads, deletes.

Blocking by design (plain syscalls): async callers run these through `asyncio.to_thread`.
A write goes to a work file, is checksummed while written, fsynced, gets its metadata xattr,
and is renamed into place under a lock that also assigns the next version, so a reader
sees either the old object or the new one, never a torn one, and a crash leaves only a
work file that `cleanup_work` removes at the next start.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import socket
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, replace
from collections.abc import Callable, Mapping, Sequence
from typing import BinaryIO, Protocol

import xxhash

from ais_ray.core import lom
from ais_ray.core.errors import ErrBadRequest, ErrObjNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.fs.atime import Atimes
from ais_ray.fs.namelock import NameLocks
from ais_ray.fs.writer import WriterThread
from ais_ray.stats import Counters

_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 16
COMMIT_STRIPES = 64  # commit locks per mountpath, by object path

# Work files' names: unique per process (a random part drawn once, again in a forked child) and
# per file (a counter) — a uuid4 per small object cost a getrandom(2) and more Python than the
# name is worth.
_work_prefix = uuid.uuid4().hex[:16]
_work_seq = itertools.count()


def _redraw_work_prefix() -> None:
    global _work_prefix
    _work_prefix = uuid.uuid4().hex[:16]


os.register_at_fork(after_in_child=_redraw_work_prefix)


def work_name() -> str:
    """A fresh work file name; unique across processes, restarts and threads."""
    return f"{_work_prefix}.{next(_work_seq):x}"


@dataclass(frozen=True, slots=True)
class Capacity:
    total: int
    used: int
    avail: int
    fs: str = ""  # which filesystem ("<host>:<st_dev>"): mountpaths on one disk count once in totals


class Replicas(Protocol):
    """Mirror hooks (fs/mirror.py `Mirror`): replicas of this store's objects on sibling mountpaths."""

    def copies_of(self, bck: Bucket) -> int: ...

    def after_commit(self, bck: Bucket, name: str, attrs: ObjAttrs) -> ObjAttrs: ...

    def restore(self, bck: Bucket, name: str) -> bool: ...

    def after_delete(self, bck: Bucket, name: str, copies: Sequence[str]) -> int: ...

    def after_set_attrs(self, bck: Bucket, name: str, attrs: ObjAttrs) -> None: ...


class ObjWriter:
    """A work file being filled; `MountpathStore.commit` makes it an object, `abort` drops it.

    Plain file-descriptor I/O (no buffered file object: its setup and flush cost more than the
    write of a small object, and every write here is already a large batch)."""

    def __init__(self, path: str, fsync: bool, *, keep: bool = False) -> None:
        """`keep`: open `path` as it is, creating it if missing, instead of truncating it (a
        resumed blob download fills in the chunks its partial file still lacks)."""
        self.path = path
        self._fsync = fsync
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC if keep else os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self._fd = os.open(path, flags, 0o644)
        self._hash = xxhash.xxh64(seed=0)
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        _write_all(self._fd, data)
        self._hash.update(data)
        self.size += len(data)

    def writev(self, chunks: Sequence[bytes | bytearray]) -> None:
        """`write` of the chunks in order, in one system call (a body as the network gave it,
        not joined into one buffer first)."""
        if len(chunks) > _IOV_MAX:  # more buffers than one writev takes (1,024 on Linux)
            self.write(b"".join(chunks))
            return
        n = os.writev(self._fd, chunks)
        total = 0
        for c in chunks:
            self._hash.update(c)
            total += len(c)
        if n < total:  # a short write (a signal, a full disk): the rest, or raise
            _write_all(self._fd, b"".join(chunks)[n:])
        self.size += total

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        """Write at an offset (parallel chunk readers); the checksum is computed at finish."""
        _write_all(self._fd, data, offset)

    def finish(self, *, rehash: bool = False) -> str:
        """fsync and close; return the xxhash64 hex of the content."""
        try:
            if rehash:
                self._hash = xxhash.xxh64(seed=0)
                with open(self.path, "rb") as f:
                    while block := f.read(4 << 20):
                        self._hash.update(block)
            self.size = os.fstat(self._fd).st_size  # also what pwrite (parallel chunks) filled
            if self._fsync:
                os.fsync(self._fd)
        finally:
            self._close()
        return self._hash.hexdigest()

    def abort(self) -> None:
        self._close()
        _unlink_quiet(self.path)

    def _close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _write_all(fd: int, data: bytes | bytearray | memoryview, offset: int | None = None) -> None:
    """All of `data` (at `offset`, else at the file position); a short write (a signal, a full
    disk) goes on with the rest, or raises."""
    n = os.write(fd, data) if offset is None else os.pwrite(fd, data, offset)
    if n < len(data):
        view = memoryview(data)
        while n < len(view):
            n += os.write(fd, view[n:]) if offset is None else os.pwrite(fd, view[n:], offset + n)


class MountpathStore:
    def __init__(self, path: str, *, fsync: bool = True) -> None:
        self.path = os.path.abspath(path)
        self.fsync = fsync
        # commits of one name are serialized (version bump, `if_absent`); different names rename in
        # parallel: a rename can wait on the filesystem's journal, and one lock queued every PUT behind it
        self._commit_locks = tuple(threading.Lock() for _ in range(COMMIT_STRIPES))
        self.locks = NameLocks()  # one writer per object name (fs/namelock.py)
        self.atimes = Atimes(self.fqn)  # access times noted by GETs, written in batches
        self.writer = WriterThread(f"writer:{os.path.basename(self.path)}")  # small writes without an fsync each (fs/writer.py)
        self.stats = Counters()  # this mountpath's counters (ais_ray/stats)
        self.replicas: Replicas | None = None  # n-way mirror hooks (fs/mirror.py), set by the mountpath actor
        # called (from any thread) after every object commit whose owt has redundancy (fs/write.py): the
        # erasure coding of an EC bucket's new object (`ECServer.committed`), set by the mountpath actor
        self.on_commit: Callable[[Bucket, str], None] | None = None
        # raises while a bucket refuses new content (a rename's source, `BucketProps.check_writable`); set by the
        # mountpath actor, asked under the commit's lock (`commit(gate=True)`), so `drain_commits` is a barrier
        self.writable: Callable[[Bucket], None] | None = None
        for sub in (lom.CT_WORK, lom.CT_CHUNK):
            os.makedirs(os.path.join(self.path, sub), exist_ok=True)

    @property
    def work_dir(self) -> str:
        """Scratch files of this mountpath (what a crash leaves is removed at start: `cleanup_work`)."""
        return os.path.join(self.path, lom.CT_WORK)

    # ---- start-up -----------------------------------------------------------------------
    def cleanup_work(self) -> int:
        """Remove work files left by a crash; return how many."""
        wk = os.path.join(self.path, lom.CT_WORK)
        n = 0
        for entry in os.scandir(wk):
            _unlink_quiet(entry.path) if not entry.is_dir() else shutil.rmtree(entry.path, ignore_errors=True)
            n += 1
        return n

    def capacity(self) -> Capacity:
        st = os.statvfs(self.path)
        total, avail = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        return Capacity(total, total - st.f_bfree * st.f_frsize, avail, f"{socket.gethostname()}:{os.stat(self.path).st_dev}")

    # ---- metadata copies (.ais.smap / .ais.bmd) -------------------------------------------
    def save_meta(self, name: str, data: bytes) -> None:
        write_file_atomic(os.path.join(self.path, name), data, fsync=self.fsync)

    def load_meta(self, name: str) -> bytes | None:
        try:
            with open(os.path.join(self.path, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    # ---- objects --------------------------------------------------------------------------
    def fqn(self, bck: Bucket, name: str) -> str:
        return lom.obj_fqn(self.path, bck, name)

    def new_writer(self, *, fsync: bool = True) -> ObjWriter:
        """A work file; `fsync=False`: not synced on finish (the caller syncs a batch, `sync_fs`)."""
        return ObjWriter(os.path.join(self.path, lom.CT_WORK, work_name()), self.fsync and fsync)

    def sync_fs(self) -> None:
        """Blocking. Make everything written to this mountpath's filesystem durable — data,
        metadata xattrs and renames — in one `syncfs(2)`: a group commit of many objects written
        with `new_writer(fsync=False)`. A no-op on a cluster without fsync (`up --no-fsync`)."""
        if self.fsync:
            syncfs(self.path)

    def commit(self, w: ObjWriter, bck: Bucket, name: str, attrs: ObjAttrs, *, bump_version: bool,
               if_absent: bool = False, unless_newer: bool = False, new: bool = False,
               precondition: Callable[[ObjAttrs | None], None] | None = None, gate: bool = False) -> ObjAttrs:
        """Rename a finished work file into place with its metadata; assign the next version.

        The one rename into the objects directory: writers reach it through `fs/write.py`.
        `if_absent`: only when no object is there (a restored replica); `unless_newer`: only when
        none is there or the one there was written before `attrs.mtime_ns` (an object moving to
        its owner never replaces a later write, and replaces an older copy). Otherwise the work
        file is dropped and the stored object's metadata returned.

        `new`: the caller found no object of this name (a download's batch pre-check) — a hint, not
        a promise: the work file is linked into place only where no name is (one `link` that fails
        if an object was written since), version "1", with no read of the previous metadata;
        otherwise the usual way below.

        `precondition(the object there or None)`: a conditional write's test, made under the commit's
        lock (no other commit of the name between it and the rename); what it raises drops the work file.

        `gate`: new content, refused (the work file dropped) while the bucket is not `writable`."""
        fqn = self.fqn(bck, name)
        with self._commit_locks[hash(fqn) % COMMIT_STRIPES]:
            if gate and self.writable is not None:
                try:
                    self.writable(bck)
                except BaseException:
                    w.abort()
                    raise
            if precondition is not None:
                try:
                    precondition(_read_attrs(fqn))
                except BaseException:
                    w.abort()
                    raise
                new = False
            if new and bump_version and not (if_absent or unless_newer):
                first = attrs if attrs.version == "1" else attrs.with_version("1")
                os.setxattr(w.path, lom.XATTR, first.to_bytes())
                if _link_new(w.path, fqn):
                    _unlink_quiet(w.path)  # (a crash before it: `cleanup_work` removes the work name)
                    return first
            if (if_absent or unless_newer) and os.path.exists(fqn):
                have = _read_attrs(fqn)
                if if_absent or (have is not None and written_ns(fqn, have) >= attrs.mtime_ns):
                    w.abort()
                    return have or attrs
            if bump_version:
                prev = _read_attrs(fqn)
                version = str(int(prev.version or 0) + 1) if prev else "1"
                if attrs.version != version:
                    attrs = attrs.with_version(version)
            os.setxattr(w.path, lom.XATTR, attrs.to_bytes())
            try:
                _place(os.rename, w.path, fqn)
            except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
                w.abort()
                raise ErrBadRequest(f'object name "{name}" conflicts with an existing object or virtual directory') from exc
        return attrs

    def drain_commits(self) -> None:
        """Blocking. Wait out every commit in progress: one that asked `writable` before a change
        of it has renamed its object into place when this returns (a rename's walk starts after)."""
        for lock in self._commit_locks:
            with lock:
                pass

    def load(self, bck: Bucket, name: str) -> ObjAttrs:
        attrs = self.find(bck, name)
        if attrs is None:
            raise ErrObjNotFound(bck, name)
        return attrs

    def find(self, bck: Bucket, name: str) -> ObjAttrs | None:
        """`load`, None where it raises not-found (a batch's pre-check: most names are new)."""
        fqn = self.fqn(bck, name)
        attrs = _read_attrs(fqn)
        if attrs is None and self.replicas is not None and not os.path.exists(fqn) and self.replicas.restore(bck, name):
            attrs = _read_attrs(fqn)
        return None if attrs is None else self.atimes.merged(bck, name, attrs)

    def open(self, bck: Bucket, name: str) -> tuple[BinaryIO, ObjAttrs]:
        """Open for reading; data and metadata come from the same inode even if replaced meanwhile.
        A mirrored object whose main replica is missing is restored from a replica first."""
        fqn = self.fqn(bck, name)
        try:
            f = open(fqn, "rb")  # noqa: SIM115 - caller closes
        except FileNotFoundError:
            if self.replicas is None or not self.replicas.restore(bck, name):
                raise ErrObjNotFound(bck, name) from None
            return self.open_here(bck, name)
        except (IsADirectoryError, NotADirectoryError):
            raise ErrObjNotFound(bck, name) from None
        return self._with_attrs(f, bck, name)

    def open_here(self, bck: Bucket, name: str) -> tuple[BinaryIO, ObjAttrs]:
        """Open what this mountpath holds, no restore."""
        opened = open_stored(self.fqn(bck, name))
        if opened is None:
            raise ErrObjNotFound(bck, name)
        return opened[0], self.atimes.merged(bck, name, opened[1])

    def _with_attrs(self, f: BinaryIO, bck: Bucket, name: str) -> tuple[BinaryIO, ObjAttrs]:
        attrs = _fd_attrs(f)
        if attrs is None:
            raise ErrObjNotFound(bck, name)
        return f, self.atimes.merged(bck, name, attrs)

    def set_attrs(self, bck: Bucket, name: str, attrs: ObjAttrs) -> None:
        try:
            os.setxattr(self.fqn(bck, name), lom.XATTR, attrs.to_bytes())
        except FileNotFoundError:
            raise ErrObjNotFound(bck, name) from None

    def set_custom(self, bck: Bucket, name: str, custom: Mapping[str, str], *, replace_all: bool) -> ObjAttrs:
        """An object's custom metadata: `custom` merged into what it has, or (`replace_all`) instead
        of it; the bytes, checksum and version stay. Under the commit's lock (no write of the name
        in between); a mirror's replicas get the same metadata. Raises ErrObjNotFound."""
        fqn = self.fqn(bck, name)
        with self._commit_locks[hash(fqn) % COMMIT_STRIPES]:
            attrs = _read_attrs(fqn)
            if attrs is None:
                raise ErrObjNotFound(bck, name)
            new = replace(attrs, custom=dict(custom) if replace_all else {**attrs.custom, **custom})
            try:
                self.set_attrs(bck, name, new)
            except OSError as exc:
                if exc.errno not in (errno.E2BIG, errno.ENOSPC):
                    raise
                raise ErrBadRequest(f'"{bck}/{name}": custom metadata too large for the object\'s metadata '
                                    f"({len(new.to_bytes())} bytes with what it had)") from None
            if self.replicas is not None:
                self.replicas.after_set_attrs(bck, name, new)
        return new

    def touch(self, bck: Bucket, name: str) -> bool:
        """Note an access now (written in batches, `fs/atime.py`); True when the caller should flush."""
        return self.atimes.note(bck, name, time.time_ns())

    def delete(self, bck: Bucket, name: str, *, replicas: bool = True) -> None:
        """Remove the object (and, mirrored, its replicas on the other mountpaths unless
        `replicas` is False: a resilver moved it to a sibling, whose replicas stay valid)."""
        fqn = self.fqn(bck, name)
        if not replicas:
            try:
                os.unlink(fqn)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise ErrObjNotFound(bck, name) from None
            prune_empty_dirs(os.path.dirname(fqn), lom.objects_dir(self.path, bck))
            return
        attrs = _read_attrs(fqn) if self.replicas is not None else None
        try:
            os.unlink(fqn)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            if self.replicas is None or not self.replicas.after_delete(bck, name, ()):
                raise ErrObjNotFound(bck, name) from None
            return
        prune_empty_dirs(os.path.dirname(fqn), lom.objects_dir(self.path, bck))
        if self.replicas is not None:
            self.replicas.after_delete(bck, name, attrs.copies if attrs else ())

    def destroy_bucket(self, bck: Bucket) -> None:
        """Move the bucket's directory aside (instant), then remove it."""
        src = lom.bucket_dir(self.path, bck)
        trash = os.path.join(self.path, lom.CT_WORK, "rmb-" + uuid.uuid4().hex)
        try:
            os.rename(src, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)


def open_stored(fqn: str) -> tuple[BinaryIO, ObjAttrs] | None:
    """The object file at `fqn` and its metadata, both from the one open inode (a concurrent
    replace is never half seen); None if there is no committed object there. The caller closes."""
    try:
        f = open(fqn, "rb")  # noqa: SIM115 - caller closes
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    attrs = _fd_attrs(f)
    return (f, attrs) if attrs is not None else None


def _fd_attrs(f: BinaryIO) -> ObjAttrs | None:
    """The metadata of the open object file `f` (its size from the inode); closes `f` if it has none."""
    try:
        raw = os.getxattr(f.fileno(), lom.XATTR)
    except OSError:  # a file without our metadata (never committed)
        f.close()
        return None
    st = os.fstat(f.fileno())
    attrs = ObjAttrs.from_bytes(raw, size=st.st_size)
    # stored before `mtime_ns` existed: the file's mtime (what an object moving from here carries)
    return attrs if attrs.mtime_ns else replace(attrs, mtime_ns=st.st_mtime_ns)


def syncfs(path: str) -> None:
    """`syncfs(2)` on the filesystem holding `path` (Linux; elsewhere the global `sync`)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _LIBC is None or _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "syncfs") else None
    except OSError:
        return None


_LIBC = _libc()


def written_ns(fqn: str, attrs: ObjAttrs) -> int:
    """When the object at `fqn` was written: its metadata's `mtime_ns`, else (stored before that
    field) the file's own mtime."""
    if attrs.mtime_ns:
        return attrs.mtime_ns
    try:
        return os.stat(fqn).st_mtime_ns
    except OSError:
        return 0


def _read_attrs(fqn: str) -> ObjAttrs | None:
    try:
        raw = os.getxattr(fqn, lom.XATTR)
    except OSError:  # missing, a directory, or a file without our metadata (never committed)
        return None
    return ObjAttrs.from_bytes(raw)


def _link_new(src: str, dst: str) -> bool:
    """Hard-link `src` as `dst` where nothing is named `dst` (its directory made if missing);
    False when something is there, or the filesystem will not link: the caller renames."""
    try:
        _place(os.link, src, dst)
    except OSError:  # there already, a conflicting path, or no hard links here
        return False
    return True


def _place(op: Callable[[str, str], None], src: str, dst: str) -> None:
    """`op(src, dst)` (a rename, a link) into an object's directory, made first where it is new
    (found only then: a mkdir per object costs)."""
    try:
        op(src, dst)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        op(src, dst)


def prune_empty_dirs(d: str, stop: str) -> None:
    while d != stop and d.startswith(stop):
        try:
            os.rmdir(d)
        except OSError:
            return
        d = os.path.dirname(d)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_file_atomic(path: str, data: bytes, *, fsync: bool = True) -> None:
    """Temp file + fsync + rename: readers see the old content or the new, never a mix."""
    tmp = f"{path}.tmp.{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)

