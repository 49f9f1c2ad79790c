"""Access times kept in memory and written in batches, as AIStore keeps them (issue 16.3).

A GET used to rewrite the object's metadata xattr after every read: a syscall per GET, and a
race — the attributes read at open were written back after the read, so an object replaced
meanwhile got the old object's size and checksum. Here a GET only notes the time; `flush`
(every few seconds, when many are pending, and at shutdown) writes each noted time onto the
file's own inode (fgetxattr + fsetxattr on one open fd: a concurrent replace is never touched)
and only ever moves an atime forward. Reads of the metadata (`Store.load` / `open`) see the
pending time at once; the listing sees it after the next flush.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from ais_ray.core import lom
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket

FLUSH_EVERY = 10.0  # seconds between flushes of a mountpath's pending access times
FLUSH_AT = 4096  # pending entries that make the next GET flush at once

Key = tuple[Bucket, str]


class Atimes:
    def __init__(self, fqn: Callable[[Bucket, str], str]) -> None:
        self._fqn = fqn
        self._pending: dict[Key, int] = {}
        self._mu = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def note(self, bck: Bucket, name: str, atime_ns: int) -> bool:
        """Remember an access; True when enough are pending that the caller should `flush`."""
        with self._mu:
            if atime_ns > self._pending.get((bck, name), 0):
                self._pending[(bck, name)] = atime_ns
            return len(self._pending) >= FLUSH_AT

    def merged(self, bck: Bucket, name: str, attrs: ObjAttrs) -> ObjAttrs:
        """`attrs` with the access noted since they were stored, if later."""
        ns = self._pending.get((bck, name), 0)
        return attrs.touched(ns) if ns > attrs.atime_ns else attrs

    def flush(self) -> int:
        """Write every pending access time; the number written (blocking: call in a thread)."""
        with self._mu:
            pending, self._pending = self._pending, {}
        return sum(write_atime(self._fqn(bck, name), ns) for (bck, name), ns in pending.items())


class AtimesByPath:
    """Access times a process notes for objects of mountpaths it does not own (the target's URL and
    the front door sending plain GETs from files, GetBatch's designated server reading its machine's
    files): one `Atimes` per mountpath, all written every `FLUSH_EVERY` seconds by a flusher the
    first `of` starts (call it on the loop)."""

    def __init__(self) -> None:
        self._by: dict[str, Atimes] = {}
        self._flusher: asyncio.Future[None] | None = None

    def of(self, mpath: str) -> Atimes:
        if mpath not in self._by:
            self._by[mpath] = Atimes(lambda bck, name: lom.obj_fqn(mpath, bck, name))
            if self._flusher is None:
                self._flusher = asyncio.ensure_future(self._flush_every())
        return self._by[mpath]

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        """Write every pending access time (blocking: at shutdown, or in a thread)."""
        for a in list(self._by.values()):
            if len(a):
                a.flush()


def write_atime(fqn: str, atime_ns: int) -> bool:
    """Move the stored atime of the file at `fqn` forward to `atime_ns`; False if nothing to do or
    the file is gone (deleted objects drop their pending access)."""
    try:
        fd = os.open(fqn, os.O_RDONLY)
    except OSError:
        return False
    try:
        attrs = ObjAttrs.from_bytes(os.getxattr(fd, lom.XATTR))
        if attrs.atime_ns >= atime_ns:
            return False
        os.setxattr(fd, lom.XATTR, attrs.touched(atime_ns).to_bytes())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
