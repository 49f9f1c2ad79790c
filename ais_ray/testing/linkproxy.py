"""A TCP proxy that caps each client connection's rate and delays the first byte of every response.

The per-connection cap is for sources that cannot pace their own sockets (s3rver is Node); the
first-byte delay stands in for a real cloud's time to first byte. The kernel paces each accepted client
socket (SO_MAX_PACING_RATE, exact, no CPU); the delay holds the first bytes the server sends
back after each request for `delay` seconds (the rest of that response then flows at once).
A "request" is whatever the client sends after the previous response started, so HTTP/1.1
keep-alive connections pay the delay once per request, as `httpsrc --first-byte-delay` does.

Both can change while connections are open: a line `RATE [DELAY_S]\\n` (bytes/s, 0 = uncapped;
seconds) sent to the control port applies to every open connection and the ones that follow;
the answer is `ok RATE DELAY_S\\n`. A line `upstream HOST:PORT\\n` points the proxy at another
server (the same benchmark, a second S3 emulator): open connections are closed, so every client
reconnects to the new one; the answer is `ok upstream HOST:PORT\\n`.

    python -m ais_ray.testing.linkproxy --upstream 127.0.0.1:9000 --port P --control-port C [--rate N] [--delay S]

`LinkProxy` starts it as a subprocess (the benchmarks' S3 links; the multi-node tests' slow S3,
so that a job is still under way when its cluster changes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import struct
import sys
from typing import cast

from ais_ray.testing._proc import ServerProcess, answers_http, free_port

SO_MAX_PACING_RATE = 47  # linux/asm-generic/socket.h; Python's socket module has no constant
NO_PACING = 0xFFFFFFFF  # ~0U: the kernel's "unlimited"
WRITE_HIGH_WATER = 1 << 20


class Proxy:
    def __init__(self, upstream: tuple[str, int], rate: int, delay: float) -> None:
        self.upstream = upstream
        self.rate = rate
        self.delay = delay
        self.clients: set[asyncio.Transport] = set()

    def pace(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # uvloop's pseudo-socket takes only bytes: a u32, as the kernel reads it
            sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("I", self.rate or NO_PACING))

    def set_link(self, rate: int, delay: float) -> None:
        self.rate, self.delay = rate, delay
        for t in list(self.clients):
            if not t.is_closing():
                self.pace(t)

    def set_upstream(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        for t in list(self.clients):
            t.close()


class _Upstream(asyncio.Protocol):
    """The server side of one proxied connection: bytes go to the client, with backpressure;
    the first bytes of each response wait `delay`."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.held: list[bytes] | None = None  # a response's first bytes, waiting out the delay
        self.closing = False
        self.paused_by_client = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        if self.held is not None:
            self.held.append(data)
            return
        delay = self.client.proxy.delay
        if self.client.request_pending and delay > 0:
            self.client.request_pending = False
            self.held = [data]
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(delay, self._release)
            return
        self.client.request_pending = False
        self.client.transport.write(data)

    def _release(self) -> None:
        held, self.held = self.held or [], None
        for data in held:
            self.client.transport.write(data)
        if self.closing:
            self.client.transport.close()
        elif not self.paused_by_client and not self.transport.is_closing():
            self.transport.resume_reading()

    def pause_writing(self) -> None:  # our buffer towards the server is full: stop reading the client
        self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        self.client.transport.resume_reading()

    def eof_received(self) -> bool:
        self._close_client()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._close_client()

    def _close_client(self) -> None:
        if self.held is not None:
            self.closing = True  # flushed by _release
        else:
            self.client.transport.close()  # flushes what is buffered first


class _Client(asyncio.Protocol):
    """The client side: paced socket; reading waits until the upstream connection is made."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.up: asyncio.Transport | None = None
        self.upp: _Upstream | None = None
        self.early: list[bytes] = []  # uvloop may deliver data before pause_reading takes effect
        self.request_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.proxy.pace(transport)
        self.proxy.clients.add(self.transport)
        self.transport.pause_reading()
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            up, upp = await asyncio.get_running_loop().create_connection(lambda: _Upstream(self), *self.proxy.upstream)
        except OSError:
            self.transport.close()
            return
        self.up, self.upp = cast(asyncio.Transport, up), upp
        if self.transport.is_closing():
            up.close()
            return
        for data in self.early:
            up.write(data)
        self.early.clear()
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.request_pending = True
        if self.up is None:
            self.early.append(data)
        else:
            self.up.write(data)

    def pause_writing(self) -> None:  # the client reads slower than the server sends
        if self.upp is not None:
            self.upp.paused_by_client = True
        if self.up is not None:
            self.up.pause_reading()

    def resume_writing(self) -> None:
        if self.upp is not None:
            self.upp.paused_by_client = False
            if self.upp.held is not None:
                return  # _release resumes
        if self.up is not None:
            self.up.resume_reading()

    def eof_received(self) -> bool:
        if self.up is not None:
            self.up.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.proxy.clients.discard(self.transport)
        if self.up is not None:
            self.up.close()


async def _control(proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            fields = line.split()
            if fields[:1] == [b"upstream"] and len(fields) == 2:
                host, _, port = fields[1].decode().rpartition(":")
                if host and port.isdigit():
                    proxy.set_upstream((host, int(port)))
                    writer.write(f"ok upstream {host}:{port}\n".encode())
                else:
                    writer.write(b"error: expecting upstream HOST:PORT\n")
                await writer.drain()
                continue
            try:
                rate = int(fields[0])
                delay = float(fields[1]) if len(fields) > 1 else 0.0
            except (ValueError, IndexError):
                writer.write(b"error: expecting RATE [DELAY_S]\n")
                continue
            proxy.set_link(rate, delay)
            writer.write(f"ok {rate} {delay}\n".encode())
            await writer.drain()
    finally:
        writer.close()


async def main(ns: argparse.Namespace) -> None:
    host, _, port = ns.upstream.rpartition(":")
    proxy = Proxy((host, int(port)), ns.rate, ns.delay)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(proxy), ns.host, ns.port, backlog=1024, reuse_address=True)
    control = await asyncio.start_server(lambda r, w: _control(proxy, r, w), ns.host, ns.control_port)
    print(f"http://{ns.host}:{server.sockets[0].getsockname()[1]} control={control.sockets[0].getsockname()[1]}",
          flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    control.close()


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", required=True, help="HOST:PORT of the server behind the proxy")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--rate", type=int, default=0, help="bytes/s per client connection; 0 = uncapped")
    p.add_argument("--delay", type=float, default=0.0, help="first-byte delay of every response, seconds")
    return p.parse_args(argv)


class LinkProxy(ServerProcess):
    """This proxy in front of `upstream` (HOST:PORT), as a subprocess: a per-connection rate cap
    and a first-byte delay, switched at run time for every open connection (`set_link`)."""

    name = "link-proxy"

    def __init__(self, upstream: str, data_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(data_dir)
        self.upstream = upstream
        self.control_port = 0

    def _argv(self, port: int) -> list[str]:
        self.control_port = free_port(self.host)
        return [sys.executable, "-m", "ais_ray.testing.linkproxy", "--upstream", self.upstream, "--host", self.host,
                "--port", str(port), "--control-port", str(self.control_port)]

    def _is_ready(self) -> bool:
        return answers_http(self.host, self.port)

    def set_link(self, rate: int, delay: float = 0.0) -> None:
        """`rate` bytes/s per connection (0 = uncapped), `delay` seconds before each response's first byte."""
        self._control(f"{rate} {delay}")

    def set_upstream(self, upstream: str) -> None:
        """Point the proxy at `upstream` (HOST:PORT); its open connections are closed."""
        self._control(f"upstream {upstream}")
        self.upstream = upstream

    def _control(self, line: str) -> None:
        with socket.create_connection((self.host, self.control_port), timeout=10) as s:
            s.sendall(f"{line}\n".encode())
            answer = s.makefile().readline()
        if not answer.startswith("ok"):
            raise RuntimeError(f"link proxy: {answer!r}")


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(_parse()))
    else:
        uvloop.run(main(_parse()))
