"""A plain asyncio HTTP fetcher: the baseline a user would write instead of a download job.

One aiohttp session, `-c` GETs in flight (16 by default), each body streamed into its own
file in 1 MiB chunks (plain buffered writes, no fsync). Prints `{"count", "bytes", "errors"}`
as JSON and exits 1 if any GET failed.

    python benchmarks/dlfetch.py --url http://127.0.0.1:P/small/obj- --count 10000 --width 5 --out DIR -c 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import aiohttp

CHUNK = 1 << 20


async def fetch_all(url: str, count: int, width: int, out: str, concurrency: int) -> dict[str, int]:
    names = iter(range(count))
    done = {"count": 0, "bytes": 0, "errors": 0}
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, auto_decompress=False,
                                     timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as s:

        async def worker() -> None:
            for i in names:
                name = url.rsplit("/", 1)[-1] + f"{i:0{width}d}"
                try:
                    async with s.get(f"{url}{i:0{width}d}") as r:
                        r.raise_for_status()
                        with open(os.path.join(out, name), "wb") as f:
                            async for chunk in r.content.iter_chunked(CHUNK):
                                f.write(chunk)
                                done["bytes"] += len(chunk)
                    done["count"] += 1
                except (aiohttp.ClientError, OSError) as exc:
                    done["errors"] += 1
                    print(f"{name}: {exc}", file=sys.stderr)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="URL prefix; the zero-padded index is appended")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--width", type=int, default=5)
    p.add_argument("--out", required=True)
    p.add_argument("-c", "--concurrency", type=int, default=16)
    ns = p.parse_args()
    os.makedirs(ns.out, exist_ok=True)
    res = asyncio.run(fetch_all(ns.url, ns.count, ns.width, ns.out, ns.concurrency))
    print(json.dumps(res))
    sys.exit(1 if res["errors"] else 0)


if __name__ == "__main__":
    main()
