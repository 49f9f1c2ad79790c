"""The disk's own sequential bandwidth, measured with plain syscalls: the ceiling for any server.

Writes are buffered and end with fsync (the time includes it), as a durable PUT does. Reads use
O_DIRECT with a page-aligned buffer, so they come from the disk, not the page cache: dropping
the page cache (`/proc/sys/vm/drop_caches`) is not permitted in this container, and O_DIRECT
needs no privilege. `evict` drops one file's clean pages (`posix_fadvise(DONTNEED)`) for cold
reads through a server.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from common import MIB, Measurement, Stopwatch

BLOCK = MIB


def seq_write(path: str, size: int, *, block: int = BLOCK) -> Measurement:
    """Write `size` bytes in `block` writes, then fsync; time it all."""
    data = os.urandom(block)
    with Stopwatch() as sw:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            left = size
            while left > 0:
                left -= os.write(fd, data[:min(block, left)])
            os.fsync(fd)
        finally:
            os.close(fd)
    return Measurement(1, size, sw.seconds)


def direct_read(path: str, *, block: int = BLOCK) -> int:
    """Read a whole file with O_DIRECT (from the disk, never the page cache); return its size."""
    buf = mmap.mmap(-1, block)  # page-aligned, as O_DIRECT requires
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    total = 0
    try:
        while n := os.readv(fd, [buf]):
            total += n
            if n < block:
                break
    finally:
        os.close(fd)
        buf.close()
    return total


def seq_read_direct(path: str, *, block: int = BLOCK) -> Measurement:
    with Stopwatch() as sw:
        n = direct_read(path, block=block)
    return Measurement(1, n, sw.seconds)


def write_files_fsync(paths: Iterable[str], size: int, concurrency: int) -> Measurement:
    """Many files, each written and fsynced on its own, `concurrency` at a time (a PUT each)."""
    data = os.urandom(size)

    def one(path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    paths = list(paths)
    with Stopwatch() as sw, ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, paths))
    return Measurement(len(paths), len(paths) * size, sw.seconds)


def read_files_direct(paths: Iterable[str], concurrency: int) -> Measurement:
    paths = list(paths)
    with Stopwatch() as sw, ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(direct_read, paths))
    return Measurement(len(paths), total, sw.seconds)


def evict(path: str) -> None:
    """Drop a file's pages from the page cache (dirty pages are written first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def evict_tree(root: str) -> int:
    """Evict every regular file under `root`; return how many."""
    n = 0
    for d, _, files in os.walk(root):
        for name in files:
            try:
                evict(os.path.join(d, name))
                n += 1
            except OSError:  # a work file renamed or removed meanwhile
                pass
    return n
