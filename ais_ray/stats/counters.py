"""Declared counters of one node or mountpath, named as AIStore names them.

`x.n` counts events, `x.size` their bytes (Prometheus would show `x_count` / `x_bytes`; not
served here). A name not declared below is a bug: `add` raises KeyError rather than invent it.
Thread-safe: the I/O loop and worker threads update the same instance.
"""

from __future__ import annotations

import threading

# op -> help; each op has `<op>.n` and `<op>.size`.
COUNTERS: dict[str, str] = {
    "get": "objects read (GET)",
    "put": "objects written by PUT (and copies, transforms)",
    "head": "HEAD requests",
    "del": "objects deleted",
    "copy": "objects copied out (single-object copy, source side)",
    "get.cold": "cold GETs: remote objects fetched and stored",
    "getblob": "GETs through the blob downloader",
    "dl": "objects stored by download jobs",
    "prefetch.cold": "prefetched objects, one stream",
    "prefetch.blob": "prefetched objects, blob downloader",
    "remote.put": "write-through PUTs to the remote",
    "stream.in": "objects received from other nodes (mirror, rebalance, EC)",
    "ec.encode": "objects erasure-coded by their owner (slices or replicas sent)",
    "ver.change": "cached objects replaced by a newer remote version",
    "get.copied": "GETs sent by copying through Python instead of sendfile",
    "err.get": "failed GETs",
    "err.put": "failed writes (every owt)",
    "err.dl": "failed download items",
    "err.getblob": "failed blob downloads",
    "err.ec.encode": "objects stored but not erasure-coded (a holder could not take its slice)",
}

# Names the CLI and earlier releases read; the snapshot carries them too.
ALIASES: dict[str, str] = {"get.cold": "coldget", "getblob": "blobget"}


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v: dict[str, int] = {}

    def add(self, op: str, nbytes: int = 0) -> None:
        """One `op` event of `nbytes` bytes."""
        if op not in COUNTERS:
            raise KeyError(f"undeclared counter {op!r}")
        with self._lock:
            self._v[f"{op}.n"] = self._v.get(f"{op}.n", 0) + 1
            if nbytes:
                self._v[f"{op}.size"] = self._v.get(f"{op}.size", 0) + nbytes

    def snapshot(self) -> dict[str, int]:
        """Non-zero counters by name (plus their aliases)."""
        with self._lock:
            out = dict(self._v)
        for op, alias in ALIASES.items():
            for sfx in (".n", ".size"):
                if op + sfx in out:
                    out[alias + sfx] = out[op + sfx]
        return out
