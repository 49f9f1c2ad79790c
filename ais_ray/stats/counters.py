"""Declared counters of one node or mountpath, named as AIStore names them.

`x.n` counts events, `x.size` their bytes, `x.ns.total` their summed latency (Prometheus:
`ais_target_x_count`, `_bytes`, `_ns_total`; see `stats/prom.py`). Cumulative, as AIStore's:
rates come from two samples. A name not declared below is a bug: `add` raises KeyError rather
than invent it. Thread-safe: the I/O loop and worker threads update the same instance.

Some ops carry one variable label (`LABELS`: `bucket` for object ops, `backend` for remote
calls), as AIStore's Prometheus metrics do; the flat `snapshot()` sums over it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from ais_ray.core.errors import ErrNotFound

# op -> help; each op has `<op>.n`, `<op>.size` and `<op>.ns.total` (the last two when non-zero).
COUNTERS: dict[str, str] = {
    "get": "objects read (GET)",
    "put": "objects written by PUT (and copies, transforms)",
    "head": "HEAD requests",
    "del": "objects deleted",
    "lst": "list-objects pages served",
    "copy": "objects copied out (single-object copy, source side)",
    "get.cold": "cold GETs: remote objects fetched and stored",
    "getblob": "GETs through the blob downloader",
    "dl": "objects stored by download jobs",
    "prefetch.cold": "prefetched objects, one stream",
    "prefetch.blob": "prefetched objects, blob downloader",
    "remote.get": "objects read from a remote backend",
    "remote.put": "write-through PUTs to the remote",
    "remote.head": "HEADs sent to a remote backend",
    "remote.lst": "list-objects pages fetched from a remote backend by jobs (a backend download's one listing)",
    "stream.in": "objects received from other nodes (mirror, rebalance, EC)",
    "ec.encode": "objects erasure-coded by their owner (slices or replicas sent)",
    "stream.out": "objects sent to other nodes (rebalance, EC, copy)",
    "ver.change": "cached objects replaced by a newer remote version",
    "get.copied": "GETs sent by copying through Python instead of sendfile",
    "getbatch": "GetBatch requests answered by this target's designated mountpath (latency: the whole reply)",
    "getbatch.obj": "whole objects sent in GetBatch replies",
    "getbatch.file": "files from shards (archpath) sent in GetBatch replies",
    "etl.inline": "objects transformed inline (GET with an ETL)",
    "etl.offline": "objects transformed by offline ETL jobs",
    "ec.stale.del": "outdated slices/replicas dropped at holders a placement change moved out (after the re-encode)",
    "ec.restore": "objects restored from slices",
    "ec.degraded": "reads of an offline owner's objects rebuilt from slices by a stand-in (not kept)",
    "err.get": "failed GETs (not counting 404)",
    "err.put": "failed writes (every owt)",
    "err.head": "failed HEADs (not counting 404)",
    "err.del": "failed deletes (not counting 404)",
    "err.lst": "failed list-objects pages",
    "err.dl": "failed download items",
    "err.getblob": "failed blob downloads",
    "err.getbatch": "failed GetBatch requests (an error reply, or a reply cut: an item failed without coer)",
    "err.soft.getbatch": "GetBatch items that failed under coer (empty __404__/ members)",
    "err.ec.encode": "objects stored but not erasure-coded (a holder could not take its slice)",
    "err.remote": "failed remote backend calls",
}

# op -> its one variable label, as AIStore's `stats/common_prom.go` labels them.
LABELS: dict[str, str] = {
    "get": "bucket", "put": "bucket", "head": "bucket", "del": "bucket", "lst": "bucket",
    "remote.get": "backend", "remote.put": "backend", "remote.head": "backend", "remote.lst": "backend",
    "err.remote": "backend",
}

# Names the CLI and earlier releases read; the snapshot carries them too.
ALIASES: dict[str, str] = {"get.cold": "coldget", "getblob": "blobget"}

SUFFIXES = (".n", ".size", ".ns.total")

Labeled = dict[str, dict[str, int]]  # metric name -> label value ("" when none) -> value


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v: dict[tuple[str, str], int] = {}

    def add(self, op: str, nbytes: int = 0, *, ns: int = 0, label: str = "") -> None:
        """One `op` event of `nbytes` bytes that took `ns` nanoseconds; `label`: its bucket or backend."""
        if op not in COUNTERS:
            raise KeyError(f"undeclared counter {op!r}")
        if label and op not in LABELS:
            label = ""
        v = self._v
        with self._lock:
            k = (op + ".n", label)
            v[k] = v.get(k, 0) + 1
            if nbytes:
                k = (op + ".size", label)
                v[k] = v.get(k, 0) + nbytes
            if ns:
                k = (op + ".ns.total", label)
                v[k] = v.get(k, 0) + ns

    @contextlib.contextmanager
    def remote_call(self, op: str, backend: str) -> Iterator[list[int]]:
        """Count one remote call `op{backend}` (`remote.get|put|head|lst`) with its latency, or
        `err.remote` if it raises — not for a not-found, which is an answer; the caller sets
        its bytes in the yielded cell."""
        t0, nbytes = time.perf_counter_ns(), [0]
        try:
            yield nbytes
        except ErrNotFound:
            raise
        except Exception:
            self.add("err.remote", label=backend)
            raise
        self.add(op, nbytes[0], ns=time.perf_counter_ns() - t0, label=backend)

    def add_ns(self, op: str, ns: int, *, label: str = "") -> None:
        """Latency of an event counted elsewhere (a PUT is counted by the write pipeline)."""
        if op not in COUNTERS:
            raise KeyError(f"undeclared counter {op!r}")
        k = (op + ".ns.total", label if op in LABELS else "")
        with self._lock:
            self._v[k] = self._v.get(k, 0) + ns

    def take(self) -> Labeled:
        """Every non-zero counter (as `labeled`), and zero them: what was counted since the last take."""
        with self._lock:
            items, self._v = list(self._v.items()), {}
        return _by_name(items)

    def add_labeled(self, counts: Labeled) -> None:
        """Add counts taken elsewhere (`take`): reads another process served for this node."""
        with self._lock:
            for name, by_label in counts.items():
                for label, val in by_label.items():
                    self._v[(name, label)] = self._v.get((name, label), 0) + int(val)

    def labeled(self) -> Labeled:
        """Every non-zero counter by name and label value (the wire form between actors)."""
        with self._lock:
            items = list(self._v.items())
        return _by_name(items)

    def snapshot(self) -> dict[str, int]:
        """Non-zero counters by name, summed over labels (plus their aliases)."""
        return flat(self.labeled())

    def reset(self, errors_only: bool = False) -> None:
        """Zero every counter (`reset-stats`), or only the `err.*` ones."""
        with self._lock:
            if errors_only:
                for k in [k for k in self._v if k[0].startswith("err.")]:
                    del self._v[k]
            else:
                self._v.clear()


def _by_name(items: list[tuple[tuple[str, str], int]]) -> Labeled:
    out: Labeled = {}
    for (name, label), val in items:
        out.setdefault(name, {})[label] = val
    return out


def merge(parts: list[Labeled]) -> Labeled:
    """Sum labeled counters of several mountpaths (or nodes)."""
    out: Labeled = {}
    for part in parts:
        for name, by_label in part.items():
            dst = out.setdefault(name, {})
            for label, val in by_label.items():
                dst[label] = dst.get(label, 0) + val
    return out


def flat(labeled: Labeled) -> dict[str, int]:
    """Sum over labels, add the aliases: the `{name: value}` of the REST `tracker` and the CLI."""
    out = {name: sum(by_label.values()) for name, by_label in labeled.items()}
    for op, alias in ALIASES.items():
        for sfx in SUFFIXES:
            if op + sfx in out:
                out[alias + sfx] = out[op + sfx]
    return out


def split(name: str) -> tuple[str, str]:
    """`get.ns.total` -> (`get`, `.ns.total`): the op and its suffix."""
    for sfx in SUFFIXES:
        if name.endswith(sfx):
            return name[: -len(sfx)], sfx
    raise ValueError(f"not a counter name: {name!r}")
