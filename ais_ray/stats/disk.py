"""Per-disk I/O of a node's mountpaths, from the kernel's `/proc/diskstats` (Linux).

Each mountpath directory maps to the block device its filesystem lives on (`st_dev` ->
`/sys/dev/block/M:m`). The kernel's numbers are cumulative; AIStore's disk metrics are rates
(`disk.<dev>.read.bps`, `.write.bps`, `.util`, `.avg.rsize`, `.avg.wsize`), so a `DiskSampler`
keeps the previous sample and reports the change since. No block device (tmpfs, overlay
without one, not Linux): no disk row, never an error.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

DISKSTATS = "/proc/diskstats"
SECTOR = 512


def device_of(path: str) -> str:
    """The block device name (`vda`, `nvme0n1p1`) holding `path`, or "" when there is none."""
    try:
        st = os.stat(path)
        link = os.readlink(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    except OSError:
        return ""
    return os.path.basename(link)


@dataclass(frozen=True)
class DiskCounts:
    """One device's cumulative kernel counters."""

    reads: int = 0
    read_bytes: int = 0
    writes: int = 0
    write_bytes: int = 0
    io_ms: int = 0


def parse_diskstats(text: str) -> dict[str, DiskCounts]:
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 13:
            continue
        try:
            out[f[2]] = DiskCounts(int(f[3]), int(f[5]) * SECTOR, int(f[7]), int(f[9]) * SECTOR, int(f[12]))
        except ValueError:
            continue
    return out


def read_diskstats() -> dict[str, DiskCounts]:
    try:
        with open(DISKSTATS) as f:
            return parse_diskstats(f.read())
    except OSError:
        return {}


@dataclass(frozen=True)
class DiskRates:
    """AIStore's per-disk numbers between two samples."""

    read_bps: float = 0.0
    write_bps: float = 0.0
    util: float = 0.0  # percent of the interval the device was busy
    avg_rsize: float = 0.0
    avg_wsize: float = 0.0

    def to_wire(self) -> dict[str, float]:
        return {"read.bps": self.read_bps, "write.bps": self.write_bps, "util": self.util,
                "avg.rsize": self.avg_rsize, "avg.wsize": self.avg_wsize}


def rates(prev: DiskCounts, cur: DiskCounts, secs: float) -> DiskRates:
    if secs <= 0:
        return DiskRates()
    nr, nw = cur.reads - prev.reads, cur.writes - prev.writes
    rb, wb = cur.read_bytes - prev.read_bytes, cur.write_bytes - prev.write_bytes
    return DiskRates(rb / secs, wb / secs, min(100.0, (cur.io_ms - prev.io_ms) / (secs * 10)),
                     rb / nr if nr > 0 else 0.0, wb / nw if nw > 0 else 0.0)


class DiskSampler:
    """The disks of a set of mountpaths; `sample()` gives each disk's rates since the previous call."""

    def __init__(self, paths: list[str]) -> None:
        self.disks: dict[str, str] = {p: device_of(p) for p in paths}  # mountpath -> device ("" = none)
        self._prev: tuple[float, dict[str, DiskCounts]] = (time.monotonic(), self._read())
        self._last: dict[str, DiskRates] = {}

    def _read(self) -> dict[str, DiskCounts]:
        devs = {d for d in self.disks.values() if d}
        return {d: c for d, c in read_diskstats().items() if d in devs} if devs else {}

    def sample(self, min_interval: float = 1.0) -> dict[str, DiskRates]:
        """Rates per device; samples closer than `min_interval` apart return the previous result."""
        now, cur = time.monotonic(), None
        t0, prev = self._prev
        if now - t0 >= min_interval or not self._last:
            cur = self._read()
            self._last = {d: rates(prev.get(d, c), c, now - t0) for d, c in cur.items()}
            self._prev = (now, cur)
        return self._last
