"""Erasure coding: the codec's MiB/s, and PUT / GET / rebuild on a real cluster, plain vs EC.

    python benchmarks/bench_ec.py --codec-only                 # pyeclib encode/decode MiB/s (~20 s)
    python benchmarks/bench_ec.py                              # + 3 targets: plain, EC 1+1 sliced, EC P=1 replicated
    python benchmarks/bench_ec.py --targets 5 --ec 3+1         # + EC 3+1 sliced on 5 targets

Codec: one thread, an object of --codec-mib MiB coded in 4 MiB segments (as `ec/codec.py` does);
decode from the D data slices (joining, no arithmetic) and with one data slice lost (Reed-Solomon
reconstruction). Cluster: `ais-ray up --targets N --mountpaths 2` in a temp dir; PUT of
--small-n x 1 MiB and --large-n x 64 MiB at --concurrency in flight (the EC PUT returns after the
slices are stored); GET latency: 1 MiB GETs one at a time; rebuild: the main replica's file is
removed on disk, then one GET (restore from slices or a replica, serve, store the main again).
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ais_cluster  # noqa: E402

from ais_ray.ec import codec as C  # noqa: E402

MIB = 1 << 20


def _best(fn, repeat: int) -> float:  # noqa: ANN001
    """Shortest of `repeat` runs: the machine is shared, the codec is not what slows the others."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_codec(mib: int, repeat: int) -> list[tuple[str, str, float, float, float]]:
    data = os.urandom(mib * MIB)
    rows = []
    for d, p in ((1, 1), (2, 1), (3, 1), (2, 2), (4, 2)):
        c = C.codec(d, p)
        frags = list(C.encode_segments(io.BytesIO(data), len(data), c))
        slices = [b"".join(f[i] for f in frags) for i in range(c.slices)]

        def encode() -> None:
            for _ in C.encode_segments(io.BytesIO(data), len(data), c):
                pass

        def decode(ids: range) -> None:
            out: list[bytes] = []
            C.decode_to({i: io.BytesIO(slices[i]) for i in ids}, len(data), c, out.append)
            assert len(out) == len(list(C.segment_lengths(len(data)))) and out[0] == data[: len(out[0])]

        enc = _best(encode, repeat)
        dec_fast = _best(lambda: decode(range(d)), repeat)
        dec_rs = _best(lambda: decode(range(1, d + 1)), repeat)
        rows.append((f"{d}+{p}", c.ec_type, mib / enc, mib / dec_fast, mib / dec_rs))
    return rows


def _url(ep: str, bck: str, name: str) -> str:
    return f"{ep}/v1/objects/{bck}/{name}"


def _put_many(ep: str, bck: str, names: list[str], data: bytes, conc: int) -> float:
    def put(name: str) -> None:
        r = requests.put(_url(ep, bck, name), data=data, timeout=600)
        assert r.status_code == 200, r.text

    t = time.perf_counter()
    with ThreadPoolExecutor(conc) as ex:
        list(ex.map(put, names))
    return time.perf_counter() - t


def _get_ms(ep: str, bck: str, name: str, size: int) -> float:
    t = time.perf_counter()
    r = requests.get(_url(ep, bck, name), timeout=600)
    ms = (time.perf_counter() - t) * 1000
    assert r.status_code == 200 and len(r.content) == size, (r.status_code, r.text[:200])
    return ms


def _main_file(ep: str, bck: str, name: str) -> str:
    loc = requests.head(_url(ep, bck, name), timeout=60, allow_redirects=True).headers["Ais-Location"]
    return os.path.join(loc[loc.index("mp[") + 3 : -1], "@ais", bck, "%ob", name)


def measure_bucket(ep: str, bck: str, props: dict[str, Any] | None, args: argparse.Namespace, small: bytes,
                   large: bytes, *, rebuild_large: bool = False) -> dict[str, Any]:
    """Create `bck` with `props`; PUT args.small_n small and args.large_n large objects, time GETs of
    args.get_n, and, with redundancy, GETs of args.rebuild_n whose main replica was deleted (and
    one large one with `rebuild_large`). Small/large objects per second, latencies in ms."""
    r = requests.post(f"{ep}/v1/buckets/{bck}", json={"action": "create-bck", "value": props}, timeout=60)
    assert r.status_code == 200, r.text
    sn = [f"s/{i:05d}" for i in range(args.small_n)]
    ln = [f"l/{i:03d}" for i in range(args.large_n)]
    ts = _put_many(ep, bck, sn, small, args.concurrency)
    tl = _put_many(ep, bck, ln, large, min(args.concurrency, 4))
    lat = sorted(_get_ms(ep, bck, n, len(small)) for n in sn[: args.get_n])
    out: dict[str, Any] = {"small_s": args.small_n / ts, "large_mib_s": args.large_n * len(large) / MIB / tl,
                           "get_ms": statistics.median(lat), "get_p99_ms": lat[max(int(len(lat) * 0.99) - 1, 0)],
                           "rebuild_ms": None, "rebuild_large_ms": None}
    if props:
        ms = []
        for n in sn[-args.rebuild_n:]:
            os.unlink(_main_file(ep, bck, n))
            ms.append(_get_ms(ep, bck, n, len(small)))
        out["rebuild_ms"] = statistics.median(ms)
        if rebuild_large:
            os.unlink(_main_file(ep, bck, ln[-1]))
            out["rebuild_large_ms"] = _get_ms(ep, bck, ln[-1], len(large))
    return out


def bench_cluster(args: argparse.Namespace) -> list[tuple[str, ...]]:
    d, p = (int(x) for x in args.ec.split("+"))
    kinds = [("plain", None), (f"EC {d}+{p} sliced", {"enabled": True, "data_slices": d, "parity_slices": p,
                                                       "objsize_limit": 0}),
             (f"EC P={p} replicated", {"enabled": True, "data_slices": d, "parity_slices": p, "objsize_limit": -1})]
    small, large = os.urandom(MIB), os.urandom(64 * MIB)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp, \
            ais_cluster(os.path.join(tmp, "ais"), targets=args.targets, mountpaths=2, fsync=not args.no_fsync) as c:
        for label, ec in kinds:
            bck = "b" + label.split()[0].lower() + str(len(rows))
            m = measure_bucket(c.endpoint, bck, {"ec": ec} if ec else None, args, small, large, rebuild_large=True)
            rows.append((label, f"{m['small_s']:.1f}", f"{m['large_mib_s']:.1f}", f"{m['get_ms']:.1f}",
                         f"{m['get_p99_ms']:.1f}", "-" if m["rebuild_ms"] is None else f"{m['rebuild_ms']:.1f}",
                         "-" if m["rebuild_large_ms"] is None else f"{m['rebuild_large_ms']:.0f}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec-only", action="store_true")
    ap.add_argument("--codec-mib", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3, help="codec: best of N runs")
    ap.add_argument("--targets", type=int, default=3)
    ap.add_argument("--ec", default="1+1", help="D+P of the sliced bucket")
    ap.add_argument("--small-n", type=int, default=200)
    ap.add_argument("--large-n", type=int, default=4)
    ap.add_argument("--get-n", type=int, default=100)
    ap.add_argument("--rebuild-n", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--tmp", default="/tmp")
    args = ap.parse_args()
    print(f"codec ({args.codec_mib} MiB object, 4 MiB segments, one thread, best of {args.repeat}), MiB/s of object data\n")
    print("| D+P | backend | encode | decode (data slices) | decode (one data slice lost) |\n|---|---|---|---|---|")
    for r in bench_codec(args.codec_mib, args.repeat):
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.0f} | {r[4]:.0f} |")
    if args.codec_only:
        return
    print(f"\ncluster: {args.targets} targets x 2 mountpaths, fsync {'off' if args.no_fsync else 'on'}\n")
    print("| bucket | PUT 1 MiB MiB/s | PUT 64 MiB MiB/s | GET 1 MiB p50 ms | p99 ms | rebuild GET 1 MiB ms | rebuild GET 64 MiB ms |")
    print("|---|---|---|---|---|---|---|")
    for r in bench_cluster(args):
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
