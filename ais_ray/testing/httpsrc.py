"""A static file server over one directory, with Range support and fault injection.

The HTTP backend and the downloaders are tested against it: real sockets, real HTTP, and
failures on demand (5xx, a reset mid-body, a server that ignores Range like Python's
`http.server`, a slow first byte, a per-connection rate cap like a real cloud's). It counts
what it served, so tests can assert on retries and concurrency via `GET /_stats`.

    python -m ais_ray.testing.httpsrc --dir D --port 0 --host 127.0.0.1   # prints its URL first

Control endpoints (paths starting with `/_` are never files): `GET /_stats`, `POST /_reset`
(zero the counters), `GET|POST /_faults` (read or replace the fault rules, JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import html
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import weakref
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from aiohttp import web

from ais_ray.testing.httprange import RangeNotSatisfiable, parse_range

READ_CHUNK = 1 << 20
SO_MAX_PACING_RATE = 47  # linux/asm-generic/socket.h; no constant in Python's socket module
_NO_PACING = 0xFFFFFFFF  # ~0U: the kernel's "unlimited"
# How long a reset waits for the client to take the half it was sent. It is bounded, but generous:
# a busy client that reads late must still get every byte before the RST, or a test that counts
# what it resumed from sees a different half (CI, stop 24: 2 s was not enough under load).
_RESET_FLUSH_WAIT_S = 30.0
_SIOCOUTQ = 0x5411  # bytes not yet acknowledged by the peer (TIOCOUTQ)


@dataclass(slots=True)
class Faults:
    """What to break. Paths are relative to the served dir, without a leading `/`."""

    error_prefixes: list[str] = field(default_factory=list)  # answer 500
    reset_prefixes: list[str] = field(default_factory=list)  # send half the body, then RST
    no_range: bool = False  # ignore Range: 200 with the whole body
    no_head: bool = False  # HEAD answers 405, as some servers and signed links do
    first_byte_delay: float = 0.0  # seconds before the status line
    pacing_rate: int = 0  # bytes/s per connection (SO_MAX_PACING_RATE); 0 = uncapped
    fail_ranges: dict[str, int] = field(default_factory=dict)  # path -> first N range GETs answer 500

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise ValueError(f"unknown fault options: {sorted(unknown)}")
        return cls(**obj)


@dataclass(slots=True)
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # per path, every method
    range_requests: int = 0
    in_flight: int = 0
    max_concurrent: int = 0  # most requests in flight at once (one per connection in HTTP/1.1)
    connections: int = 0
    bytes_sent: int = 0
    failed_ranges: Counter[str] = field(default_factory=Counter)  # per path, for Faults.fail_ranges

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["requests"] = dict(self.requests)
        out["failed_ranges"] = dict(self.failed_ranges)
        return out


def etag_of(st: os.stat_result) -> str:
    """Changes whenever the file is rewritten (mtime) or resized, like nginx's ETag."""
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def _index(path: Path) -> str:
    """A directory's entries as links, the shape of a web server's autoindex (rclone's `:http:`
    backend lists a directory from it); sub-directories end in `/`."""
    links = []
    with os.scandir(path) as it:
        for e in sorted(it, key=lambda e: e.name):
            slash = "/" if e.is_dir() else ""
            links.append(f'<a href="{urllib.parse.quote(e.name)}{slash}">{html.escape(e.name)}{slash}</a>')
    return "<html><body>\n" + "\n".join(links) + "\n</body></html>\n"


class FileApp:
    """The aiohttp application and its mutable state (faults, stats)."""

    def __init__(self, root: str | os.PathLike[str], faults: Faults | None = None) -> None:
        self.root = Path(root).resolve()
        self.faults = faults or Faults()
        self.stats = Stats()
        self._paced: weakref.WeakKeyDictionary[asyncio.BaseTransport, int] = weakref.WeakKeyDictionary()
        self.app = web.Application()
        self.app.router.add_route("GET", "/_stats", self._get_stats)
        self.app.router.add_route("POST", "/_reset", self._reset)
        self.app.router.add_route("GET", "/_faults", self._get_faults)
        self.app.router.add_route("POST", "/_faults", self._set_faults)
        self.app.router.add_route("*", "/{path:.*}", self._serve)

    def reset(self) -> None:
        self.stats = Stats()

    async def _get_stats(self, _: web.Request) -> web.Response:
        return web.json_response(self.stats.to_json())

    async def _reset(self, _: web.Request) -> web.Response:
        self.reset()
        return web.json_response({})

    async def _get_faults(self, _: web.Request) -> web.Response:
        return web.json_response(asdict(self.faults))

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            self.faults = Faults.from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(asdict(self.faults))

    def _on_request(self, request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        rate = self.faults.pacing_rate or _NO_PACING
        prev = self._paced.get(transport)
        if prev is None:
            self.stats.connections += 1
        if prev != rate:
            sock = transport.get_extra_info("socket")
            if sock is not None and (prev is not None or rate != _NO_PACING):
                # as an unsigned 32-bit value: "unlimited" (~0U) does not fit the C int an int argument becomes
                sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("I", rate))
            self._paced[transport] = rate

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self._on_request(request)
        st = self.stats
        st.in_flight += 1
        st.max_concurrent = max(st.max_concurrent, st.in_flight)
        try:
            return await self._serve_file(request)
        finally:
            st.in_flight -= 1

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        rel = request.match_info["path"]
        f, st = self.faults, self.stats
        st.requests[rel] += 1
        if request.method not in ("GET", "HEAD") or (request.method == "HEAD" and f.no_head):
            return web.Response(status=405, headers={"Allow": "GET" if f.no_head else "GET, HEAD"})
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.exists():
            return web.Response(status=404)
        if path.is_dir():  # a "bucket": exists, empty body; `dir/` lists it as a web server's index does
            if request.method == "GET" and (not rel or rel.endswith("/")):
                return web.Response(text=_index(path), content_type="text/html")
            return web.Response(status=200)
        range_header = request.headers.get("Range")
        if range_header is not None:
            st.range_requests += 1
        if any(rel.startswith(p) for p in f.error_prefixes):
            return web.Response(status=500, text="injected error")
        if range_header is not None and st.failed_ranges[rel] < f.fail_ranges.get(rel, 0):
            st.failed_ranges[rel] += 1
            return web.Response(status=500, text="injected range failure")

        stat = path.stat()
        size = stat.st_size
        headers = {"ETag": etag_of(stat), "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
                   "Accept-Ranges": "none" if f.no_range else "bytes",
                   "Content-Type": "application/octet-stream"}
        start, end, status = 0, size - 1, 200
        if range_header is not None and not f.no_range:
            try:
                rng = parse_range(range_header, size)
            except RangeNotSatisfiable:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            if rng is not None:
                (start, end), status = rng, 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if f.first_byte_delay > 0:
            await asyncio.sleep(f.first_byte_delay)

        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = end - start + 1
        await resp.prepare(request)
        if request.method == "HEAD":
            return resp
        count = end - start + 1
        reset = any(rel.startswith(p) for p in f.reset_prefixes)
        if reset:
            count //= 2
        await self._send(resp, path, start, count)
        if reset:
            await _reset_connection(request)
            return resp
        await resp.write_eof()
        return resp

    async def _send(self, resp: web.StreamResponse, path: Path, offset: int, count: int) -> None:
        # 1 MiB preads, never the whole file. They run on the loop: from the page cache one
        # costs ~0.1 ms, less than a thread hop per chunk would.
        fd = os.open(path, os.O_RDONLY)
        try:
            while count > 0:
                chunk = os.pread(fd, min(READ_CHUNK, count), offset)
                if not chunk:
                    break
                await resp.write(chunk)
                offset += len(chunk)
                count -= len(chunk)
                self.stats.bytes_sent += len(chunk)
        finally:
            os.close(fd)


async def _reset_connection(request: web.Request) -> None:
    """Abort with RST (SO_LINGER 0) once what was sent has left, so the client sees half a body."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        deadline = time.monotonic() + _RESET_FLUSH_WAIT_S
        while transport.get_write_buffer_size() > 0 or _unacked(sock) > 0:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.005)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _unacked(sock: Any) -> int:
    import fcntl

    try:
        buf = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", buf)[0])


class HttpSrc:
    """The server on its own thread and event loop, for tests in this process.

    `start()` returns once the port is bound; `url` is then `http://127.0.0.1:PORT`.
    `faults` and `stats` can be read and replaced directly (or over HTTP).
    """

    def __init__(self, root: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None) -> None:
        self.files = FileApp(root, faults)
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.files.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self.files.faults = value

    @property
    def stats(self) -> Stats:
        return self.files.stats

    def reset(self) -> None:
        self.files.reset()

    def start(self) -> HttpSrc:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="httpsrc", daemon=True)
        self._thread.start()
        started.wait(30)
        if self._error is not None:
            raise RuntimeError(f"httpsrc failed to start: {self._error}") from self._error
        return self

    def _run(self, started: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._runner, self.port = loop.run_until_complete(serve(self.files, self.host, self.port))
        except BaseException as exc:
            self._error = exc
            started.set()
            loop.close()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> HttpSrc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve(files: FileApp, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Bind and start serving; return the runner (for cleanup) and the bound port."""
    runner = web.AppRunner(files.app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    return runner, int(server.sockets[0].getsockname()[1])


def _parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Faults]:
    p = argparse.ArgumentParser(prog="python -m ais_ray.testing.httpsrc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True, help="directory to serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--error-prefix", action="append", default=[], help="paths answering 500")
    p.add_argument("--reset-prefix", action="append", default=[], help="paths reset after half the body")
    p.add_argument("--no-range", action="store_true", help="ignore Range (200, whole body)")
    p.add_argument("--no-head", action="store_true", help="answer HEAD with 405")
    p.add_argument("--first-byte-delay", type=float, default=0.0, help="seconds")
    p.add_argument("--pacing-rate", type=int, default=0, help="bytes/s per connection")
    p.add_argument("--fail-ranges", action="append", default=[], metavar="PATH=N",
                   help="the first N range GETs of PATH answer 500")
    ns = p.parse_args(argv)
    fail = {}
    for item in ns.fail_ranges:
        path, sep, n = item.rpartition("=")
        if not sep or not n.isdigit():
            p.error(f"--fail-ranges wants PATH=N, got {item!r}")
        fail[path] = int(n)
    faults = Faults(error_prefixes=ns.error_prefix, reset_prefixes=ns.reset_prefix, no_range=ns.no_range,
                    no_head=ns.no_head,
                    first_byte_delay=ns.first_byte_delay, pacing_rate=ns.pacing_rate, fail_ranges=fail)
    return ns, faults


async def _main(ns: argparse.Namespace, faults: Faults) -> None:
    runner, port = await serve(FileApp(ns.dir, faults), ns.host, ns.port)
    print(f"http://{ns.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    ns, faults = _parse_args(argv)
    if not Path(ns.dir).is_dir():
        sys.exit(f"error: {ns.dir} is not a directory")
    asyncio.run(_main(ns, faults))


if __name__ == "__main__":
    main()
