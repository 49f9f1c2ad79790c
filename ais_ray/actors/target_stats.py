"""A target's statistics: its mountpaths' counters summed, its disks, its `node_status` and `/metrics`.

Each mountpath process counts its own requests (`ais_ray/stats`); the target sums them on
demand (one `info()` per mountpath per request: a scrape every few seconds, not the hot path)
and adds its own (list pages), its uptime, its Smap flags and its disks' rates. Served on the
target's own URL (`GET /metrics`, `GET /v1/daemon?what=node_status`) and through the proxy.
"""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ais_ray.core.smap import Smap, Snode
from ais_ray.stats import Counters
from ais_ray.stats.counters import Labeled, flat, merge
from ais_ray.stats.disk import DiskSampler
from ais_ray.stats.prom import Gauge, render
from ais_ray.stats.status import capacity, node_status, tracker

try:
    VERSION = version("ais-ray")
except PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0"


class TargetStats:
    def __init__(self, tid: str, paths: list[str]) -> None:
        self.tid = tid
        self.counters = Counters()  # the target actor's own (list pages)
        self.started = time.monotonic_ns()
        self.disks = DiskSampler(paths)

    def flags(self, smap: Smap | None) -> int:
        tsi = smap.targets.get(self.tid) if smap is not None else None
        return tsi.flags if tsi is not None else 0

    async def gather(self, mps: dict[str, Any]) -> tuple[Labeled, list[dict[str, Any]]]:
        infos = list(await asyncio.gather(*(h.info.remote() for h in mps.values())))
        return merge([self.counters.labeled(), *(i.get("counters", {}) for i in infos)]), infos

    async def node_status(self, mps: dict[str, Any], snode: Snode, smap: Smap | None) -> dict[str, Any]:
        counters, infos = await self.gather(mps)
        tr = tracker(flat(counters), uptime_ns=time.monotonic_ns() - self.started, flags=self.flags(smap),
                     disks=self.disks.sample())
        status = "online" if not snode.in_maint_or_decomm else snode.state  # maintenance | decommissioning
        return node_status(snode.to_wire(), tr, capacity(infos, self.disks.disks), status=status,
                           smap_version=smap.version if smap is not None else 0, version=VERSION)

    async def metrics(self, mps: dict[str, Any], smap: Smap | None) -> bytes:
        counters, _ = await self.gather(mps)
        gauges = {"uptime": Gauge("time since the target started, ns", values={"": time.monotonic_ns() - self.started}),
                  "state_flags": Gauge("node state flags (Smap: maintenance 4, decommission 8, offline 1024)",
                                       values={"": self.flags(smap)})}
        rates = self.disks.sample()
        for key, help_ in (("read.bps", "disk read, bytes/s"), ("write.bps", "disk write, bytes/s"),
                           ("util", "disk utilization, %"), ("avg.rsize", "average read size, bytes"),
                           ("avg.wsize", "average write size, bytes")):
            gauges["disk_" + key.replace(".", "_")] = Gauge(help_, "disk", {d: r.to_wire()[key] for d, r in rates.items()})
        return render("target", self.tid, counters, gauges)

    async def reset(self, mps: dict[str, Any], errors_only: bool) -> None:
        self.counters.reset(errors_only)
        await asyncio.gather(*(h.reset_stats.remote(errors_only) for h in mps.values()))
