"""What a redirected PUT costs the client itself: `requests` PUTs straight to a sink, and through a 307.

Two bare aiohttp servers, each in its own process on 127.0.0.1: a sink that reads a PUT's body
and answers 200, and a redirector that answers every PUT with a 307 to the sink the way the
front door does (`serve/frontdoor.py::close_unread`: the answer sent, the body left unread, the
connection closed). One `requests.Session` in this process (as the SDK sends its PUTs) PUTs
`--count` bodies of `--size` bytes to each in turn, `--rounds` times, with and without
`trust_env` (requests scans the environment for proxies on every request and every redirect).
Prints objects/s and this process's user / system CPU per PUT: the client's share of the SDK
PUT row of `bench_objects.py` (issue 16, goal 4), with no cluster at all.

    .venv/bin/python benchmarks/put_redirect.py
    .venv/bin/python benchmarks/put_redirect.py --count 500 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import time

import requests
from aiohttp import web


def _listen() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def _serve(sock: socket.socket, redirect_to: int) -> None:
    from ais_ray.serve.frontdoor import close_unread

    async def sink(req: web.Request) -> web.Response:
        n = 0
        async for chunk in req.content.iter_any():
            n += len(chunk)
        return web.Response(text=str(n))

    async def redirect(req: web.Request) -> web.StreamResponse:
        resp = web.Response(status=307, headers={"Location": f"http://127.0.0.1:{redirect_to}{req.path_qs}"})
        return await close_unread(req, resp)

    async def main() -> None:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("PUT", "/{p:.*}", redirect if redirect_to else sink)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def _run(sess: requests.Session, url: str, body: bytes, count: int) -> tuple[float, float, float]:
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(count):
        r = sess.put(f"{url}/o{i}", data=body, timeout=60)
        if r.status_code != 200 or r.text != str(len(body)):
            raise RuntimeError(f"PUT {url}: {r.status_code} {r.text[:200]}")
    dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    return count / dt, 1e3 * (r1.ru_utime - r0.ru_utime) / count, 1e3 * (r1.ru_stime - r0.ru_stime) / count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sink, redir = _listen(), _listen()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_serve, args=(sink, 0), daemon=True),
             ctx.Process(target=_serve, args=(redir, sink.getsockname()[1]), daemon=True)]
    for p in procs:
        p.start()
    try:
        time.sleep(1.5)
        body = os.urandom(args.size)
        urls = {"plain": f"http://127.0.0.1:{sink.getsockname()[1]}", "307": f"http://127.0.0.1:{redir.getsockname()[1]}"}
        print(f"{args.count} PUTs of {args.size} bytes per row; {len(os.environ)} environment variables")
        print("round trust_env row    PUTs/s  user ms/PUT  sys ms/PUT")
        for rnd in range(args.rounds):
            for trust in (True, False):
                sess = requests.Session()
                sess.trust_env = trust
                for label, url in urls.items():
                    rate, user, system = _run(sess, url, body, args.count)
                    print(f"{rnd:5d} {trust!s:9} {label:6} {rate:7.0f}  {user:11.2f}  {system:10.2f}", flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.join(5)


if __name__ == "__main__":
    main()
