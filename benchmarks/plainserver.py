"""The baseline: a plain aiohttp file server over one directory, in a process of its own.

GET is aiohttp's own static-file path (`web.FileResponse`: sendfile). PUT streams the body to a
temp file in ~1 MiB writes on a thread, fsyncs it (unless `--no-fsync`) and renames it into
place: the least a durable upload costs, with none of ais-ray's metadata, checksums or redirects.

`ais_ray.testing.httpsrc` is not used: it has no PUT, and it sends with 1 MiB preads on the
loop (it is built for fault injection), not sendfile.

    python benchmarks/plainserver.py --dir D [--port 0] [--no-fsync]   # prints its URL first
    python benchmarks/plainserver.py --redirect-to URL [--port 0]      # the redirecting peer

`--redirect-to` is the fair peer of any redirecting design (ais-ray's API answers a 307 to the
owning mountpath): a server that answers every request with a 307 to the same path on URL,
from memory, in a process of its own: two requests per object, like ais-ray's API path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import uuid

from aiohttp import web

WRITE_BATCH = 1 << 20


class PlainFiles:
    def __init__(self, root: str, fsync: bool) -> None:
        self.root = os.path.realpath(root)
        self.fsync = fsync
        self.app = web.Application(client_max_size=0)
        self.app.router.add_route("GET", "/{path:.+}", self.get)
        self.app.router.add_route("PUT", "/{path:.+}", self.put)

    def _path(self, req: web.Request) -> str:
        path = os.path.realpath(os.path.join(self.root, req.match_info["path"]))
        if not path.startswith(self.root + os.sep):
            raise web.HTTPForbidden()
        return path

    async def get(self, req: web.Request) -> web.StreamResponse:
        path = self._path(req)
        if not os.path.isfile(path):
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def put(self, req: web.Request) -> web.Response:
        path = self._path(req)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        await asyncio.to_thread(os.makedirs, os.path.dirname(path), exist_ok=True)
        f = await asyncio.to_thread(open, tmp, "wb")
        try:
            buf = bytearray()
            async for chunk in req.content.iter_any():
                buf += chunk
                if len(buf) >= WRITE_BATCH:
                    data, buf = buf, bytearray()
                    await asyncio.to_thread(f.write, data)
            if buf:
                await asyncio.to_thread(f.write, buf)
            await asyncio.to_thread(self._finish, f)
            await asyncio.to_thread(os.rename, tmp, path)
        except BaseException:
            f.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return web.Response(status=200)

    def _finish(self, f: object) -> None:
        f.flush()  # type: ignore[attr-defined]
        if self.fsync:
            os.fsync(f.fileno())  # type: ignore[attr-defined]
        f.close()  # type: ignore[attr-defined]


class Redirector:
    def __init__(self, to: str) -> None:
        self.to = to.rstrip("/")
        self.app = web.Application()
        for method in ("GET", "HEAD", "PUT"):
            self.app.router.add_route(method, "/{path:.+}", self.redirect)

    async def redirect(self, req: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(self.to + req.raw_path)


async def _main(ns: argparse.Namespace) -> None:
    app = Redirector(ns.redirect_to).app if ns.redirect_to else PlainFiles(ns.dir, fsync=not ns.no_fsync).app
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, ns.host, ns.port, backlog=1024, reuse_address=True)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"http://{ns.host}:{port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir")
    p.add_argument("--redirect-to", default="", help="answer every request with a 307 to this URL + its path")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--no-fsync", action="store_true")
    ns = p.parse_args()
    if not (ns.dir or ns.redirect_to):
        p.error("one of --dir or --redirect-to is required")
    asyncio.run(_main(ns))
