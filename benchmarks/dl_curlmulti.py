"""How much of a small download is aiohttp's: the same write pipeline fed by libcurl's multi interface.

One process fetches N × 64 KiB files from the bench's HTTP source (`httpsrc`, its own process),
16 in flight, and stores each through ais-ray's own write path (`fs/write.py::write_bytes`: work
file, checksum, metadata xattr, rename; no per-object fsync, one `syncfs` per 64 objects — the
group commit). Rounds alternate between two transfer loops:

- aiohttp, as the downloader and `dl_bare.py` read a body (`write_stream` on the writer thread);
- pycurl's `CurlMulti` (libcurl does the connections, HTTP parsing and buffering in C; Python sees
  one callback per body chunk and one call per finished object).

Prints objects/s and this process's user / system CPU per object for each round: the floor the
downloader's transfer loop would have outside Python (issue 16). Needs pycurl (the bench extra).

    .venv/bin/python benchmarks/dl_curlmulti.py --count 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import pycurl

from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt
from ais_ray.fs.store import MountpathStore, syncfs
from ais_ray.fs.write import write_bytes

from dl_bare import BATCH, IN_FLIGHT, one_run, rate_line, small_source  # the same 16 in flight and objects per syncfs
from dlsources import DataSet


def curl_run(url: str, ds: DataSet, store: MountpathStore) -> str:
    """Every object of `ds` through one CurlMulti, IN_FLIGHT easy handles reused."""
    bck, multi = Bucket("b"), pycurl.CurlMulti()
    free = []
    for _ in range(IN_FLIGHT):
        c = pycurl.Curl()
        c.setopt(pycurl.NOSIGNAL, 1)
        free.append(c)
    bodies: dict[int, tuple[str, list[bytes]]] = {}  # id(handle) -> (name, chunks)

    def start(i: int, c: pycurl.Curl) -> None:
        chunks: list[bytes] = []
        bodies[id(c)] = (ds.obj(i), chunks)
        c.setopt(pycurl.URL, f"{url}/{ds.name}/{ds.obj(i)}")
        c.setopt(pycurl.WRITEFUNCTION, chunks.append)
        multi.add_handle(c)

    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    nxt = done = 0
    while done < ds.count:
        while free and nxt < ds.count:
            start(nxt, free.pop())
            nxt += 1
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        _, ok, failed = multi.info_read()
        if failed:
            raise RuntimeError(f"{len(failed)} transfers failed: {failed[0][1:]}")
        for c in ok:
            if c.getinfo(pycurl.RESPONSE_CODE) != 200:
                raise RuntimeError(f"HTTP {c.getinfo(pycurl.RESPONSE_CODE)}")
            multi.remove_handle(c)
            name, chunks = bodies.pop(id(c))
            write_bytes(store, bck, name, b"".join(chunks), Owt.DOWNLOAD)
            free.append(c)
            done += 1
            if done % BATCH == 0:
                syncfs(store.path)
        if not ok:
            multi.select(0.05)
    syncfs(store.path)
    dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    for c in free:
        c.close()
    multi.close()
    return rate_line(ds.count, dt, r0, r1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3, help="pairs of runs, the order alternated")
    ns = p.parse_args()
    with small_source(ns.count, "dl-curlmulti-") as (http, ds, tmp):
        k = 0
        for r in range(ns.rounds):
            for kind in (("aiohttp", "libcurl") if r % 2 == 0 else ("libcurl", "aiohttp")):
                k += 1
                root = tmp / f"mp{k}"
                (root / "%wk").mkdir(parents=True)
                if kind == "aiohttp":  # dl_bare's loop: fsync on, one sync_fs per batch
                    out = asyncio.run(one_run(http.endpoint, ds, MountpathStore(str(root), fsync=True)))
                else:  # no fsync per object, a syncfs per batch: the same durability
                    out = curl_run(http.endpoint, ds, MountpathStore(str(root), fsync=False))
                print(f"round {r + 1} {kind:8} {out}", flush=True)

if __name__ == "__main__":
    main()
