"""A node's `node_status` (AIStore `stats/api_wire.go`): tracker, capacity, sys_info, status.

The `tracker` is cumulative (`{"get.n": {"v": "12"}}`, latencies as total ns, zero counters
omitted) and includes `up.ns.time`, `state.flags` and the disks' `disk.<dev>.*` rates; readers
(`show performance`) take two samples for rates. Built from plain values a target gathers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ais_ray.stats.disk import DiskRates

# `what=` values answered with node_status (the SDK's get_performance sends `node_status`)
NODE_STATUS_WHAT = ("node_status", "node_stats")


def tracker(counters: dict[str, int], *, uptime_ns: int, flags: int, disks: dict[str, DiskRates]) -> dict[str, Any]:
    out: dict[str, Any] = {k: {"v": str(v)} for k, v in sorted(counters.items()) if v}
    out["up.ns.time"] = {"v": str(uptime_ns)}
    out["state.flags"] = {"v": str(flags)}
    for dev, r in sorted(disks.items()):
        for k, v in r.to_wire().items():
            out[f"disk.{dev}.{k}"] = {"v": str(int(v))}
    return out


def _per_fs(mountpaths: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One mountpath's figures per filesystem: mountpaths that are directories on one disk (the
    embedded default) report that disk's numbers each (`fs` from `fs/store.py::capacity`)."""
    return list({str(m.get("fs") or m.get("path") or id(m)): m for m in mountpaths}.values())


def fs_totals(mountpaths: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(used, avail) bytes with each filesystem counted once."""
    fss = _per_fs(mountpaths)
    return sum(int(m["used"]) for m in fss), sum(int(m["avail"]) for m in fss)


def fs_pct_used(mountpaths: Iterable[dict[str, Any]]) -> int:
    """Used of the total size, in percent, each filesystem once: the `pct_used` of `capacity` (a
    filesystem's root reserve is in neither used nor avail, so used / (used + avail) reads higher)."""
    fss = _per_fs(mountpaths)
    used, total = sum(int(m["used"]) for m in fss), sum(int(m.get("total") or 0) for m in fss)
    return round(100 * used / total) if total else 0


def capacity(mountpaths: list[dict[str, Any]], disks: dict[str, str]) -> dict[str, Any]:
    """`capacity` of node_status from each mountpath's `info()` (path, total, used, avail)."""
    mps, pcts = {}, []
    for m in mountpaths:
        pct = round(100 * m["used"] / m["total"]) if m.get("total") else 0
        pcts.append(pct)
        dev = disks.get(m["path"], "")
        mps[m["path"]] = {"mountpath_label": "", "fs": dev, "disks": [dev] if dev else [],
                          "used": str(m["used"]), "avail": str(m["avail"]), "total": str(m["total"]), "pct_used": pct}
    return {"mountpaths": mps, "cs_err": "",
            "total_used": str(fs_totals(mountpaths)[0]), "total_avail": str(fs_totals(mountpaths)[1]),
            "pct_max": max(pcts, default=0), "pct_avg": round(sum(pcts) / len(pcts)) if pcts else 0,
            "pct_min": min(pcts, default=0)}


def sys_info() -> dict[str, Any]:
    """Memory and CPU of this machine (`/proc/meminfo`, load average)."""
    mem: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, rest = line.partition(":")
                mem[k] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    total, avail = mem.get("MemTotal", 0), mem.get("MemAvailable", 0)
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    ncpu = os.cpu_count() or 1
    return {"mem_used": total - avail, "mem_avail": avail, "pct_mem_used": round(100 * (total - avail) / total, 2) if total else 0,
            "pct_cpu_used": round(min(100.0, 100 * load[0] / ncpu), 2), "cpu_count": ncpu,
            "load_avg": {"one": load[0], "five": load[1], "fifteen": load[2]}}


def node_status(snode: dict[str, Any], tracker_: dict[str, Any], capacity_: dict[str, Any], *, status: str,
                smap_version: int, version: str) -> dict[str, Any]:
    return {"snode": snode, "tracker": tracker_, "capacity": capacity_, "status": status,
            "deployment": "ray", "ais_version": version, "build_time": "", "k8s_pod_name": "",
            "sys_info": sys_info(), "smap_version": str(smap_version)}
