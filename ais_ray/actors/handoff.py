"""A client's connection handed from the front door to a data server on the same machine.

A PUT from a client that sends its body without waiting for an answer (`requests`, the SDK)
reaches the front door with its body on the way. A 307 makes the client send the body a
second time; relaying it costs the front door what that second send would have cost the
client (1.0–1.4 ms of CPU per MiB, `benchmarks/README.md`). Instead, the front door hands the
connection itself to the owning mountpath's data server: the socket's descriptor goes over a
Unix socket (`SCM_RIGHTS`), with the request's head rewritten to the URL its 307 would have
named (the same handler, checks and auth grant) and the few body bytes the front door had read
already. The data server reads the rest of the body from the client itself, answers it, and
closes the connection (`Connection: close`: a next request on it must reach the front door
again, by a new connection). The front door's part is one small message, whatever the size
of the body, and waiting for the data server's one-byte answer that it took the connection: a
data server that dies before it does (killed, restarting) leaves the connection the front
door's, which answers AIStore's JSON 503 as a failed relay does.

Local only (a descriptor does not cross machines); a body of no stated length (chunked: part of
it is decoded already) is relayed instead. Each data server listens on an abstract Unix
address named after its own URL (`address`); each side checks that the other runs as the same
user (`SO_PEERCRED`), so no other user's process can take or hand in connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

_PREFIX = "\0ais-ray-conn:"  # abstract Unix addresses (no file, gone with the process that binds it)
_CRED = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
MAX_MESSAGE = 1 << 20  # a handed connection's head and read-ahead at most (the front door reads ~64 KiB ahead)
READ_SIZE = 64 << 10  # the front door's reads of its connections (`Primed`): a PUT's read-ahead stays small
READ_BUFSIZE = 16 << 10  # aiohttp's buffered body bytes per request before it pauses reading (`web.Server`)
TAKEN = b"\x01"  # the data server's answer to a handoff: the connection is its now
ACK_WAIT = 30.0  # seconds the front door waits for TAKEN


def address(url: str) -> str:
    """The Unix address of the data server at `url` (`http://host:port`): one per port of this machine."""
    return _PREFIX + urlsplit(url).netloc


def same_user(sock: socket.socket) -> bool:
    """Whether the process at the other end of the Unix socket `sock` runs as this process's user."""
    _, uid, _ = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    return uid == os.getuid()


class Primed(asyncio.Protocol):
    """`inner` (an aiohttp request handler) as the protocol of a connection, with `pre` — the bytes
    read from the connection before it was handed here — fed to it first, ahead of anything the
    transport reads; `read_size`: the transport's reads at most that many bytes each."""

    __slots__ = ("inner", "pre", "read_size")

    def __init__(self, inner: asyncio.Protocol, pre: bytes = b"", read_size: int = 0) -> None:
        self.inner, self.pre, self.read_size = inner, pre, read_size

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.read_size and hasattr(transport, "max_size"):  # (asyncio's selector transport: its recv size)
            transport.max_size = self.read_size  # type: ignore[attr-defined]
        self.inner.connection_made(transport)
        if self.pre:
            pre, self.pre = self.pre, b""
            self.inner.data_received(pre)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


async def connect(url: str) -> socket.socket:
    """A Unix connection to the data server at `url`, to hand it one connection (`send`). Raises
    OSError when none listens there (not started, restarting) or it is not this user's: nothing
    is given away yet, the caller can still relay."""
    loop = asyncio.get_running_loop()
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        await loop.sock_connect(u, address(url))
        if not same_user(u):
            raise PermissionError(f"{address(url)[1:]}: not this user's data server")
    except BaseException:
        u.close()
        raise
    return u


async def send(u: socket.socket, fd: int, message: bytes) -> None:
    """Hand the connection `fd` (the kernel passes the data server its own descriptor of it) with
    `message` — the request's head and the body bytes read so far — over `u` (`connect`), and wait
    for the data server to say it took it; `u` is closed.

    Raises ConnectionError when the data server did not take it (it died between `connect` and
    now: the connection is the caller's still, to answer); TimeoutError when it said nothing within
    ACK_WAIT (it may yet take it: the caller must write nothing more to the connection)."""
    loop = asyncio.get_running_loop()
    try:
        n = socket.send_fds(u, [message], [fd])
        if n < len(message):
            await loop.sock_sendall(u, message[n:])
        u.shutdown(socket.SHUT_WR)  # the end of the message
        if await asyncio.wait_for(loop.sock_recv(u, 1), ACK_WAIT) != TAKEN:
            raise ConnectionError("the data server closed without taking the connection")
    finally:
        u.close()


class Receiver:
    """A data server's end: connections handed to it become connections of its aiohttp server
    (`factory`: its protocol factory, `web.AppRunner.server`), the handed bytes read first."""

    def __init__(self, factory: Callable[[], asyncio.Protocol]) -> None:
        self.factory = factory
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.taken = 0  # connections taken over so far

    def start(self, url: str) -> None:
        """Listen at `address(url)` on the running loop. A failure to bind (another process holds
        the address) is logged, not raised: the front door then relays, as to another machine."""
        self._loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            s.bind(address(url))
            s.listen(1024)
        except OSError as exc:
            s.close()
            log.warning("%s: no connections handed here: %s", url, exc)
            return
        self._sock = s
        self._loop.add_reader(s.fileno(), self._accept)

    def close(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _accept(self) -> None:
        assert self._sock is not None and self._loop is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors: the sender's connect fails, and it relays
                log.warning("handoff accept: %s", exc)
                return
            conn.setblocking(False)
            if not same_user(conn):
                conn.close()
                continue
            self._loop.add_reader(conn.fileno(), self._read, conn, bytearray(), [])

    def _read(self, conn: socket.socket, buf: bytearray, fds: list[int]) -> None:
        assert self._loop is not None
        while True:
            try:
                data, got, _, _ = socket.recv_fds(conn, 1 << 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, got = b"", []
                buf.clear()  # a broken handoff: nothing is taken
            fds.extend(got)
            if data and len(buf) + len(data) <= MAX_MESSAGE:
                buf += data
                continue
            self._loop.remove_reader(conn.fileno())
            if data or len(fds) != 1 or not buf:  # too long, or not one connection with its request: dropped
                for fd in fds:
                    os.close(fd)
            elif self._take(fds[0], bytes(buf)):
                with contextlib.suppress(OSError):  # (the sender gone: it wrote nothing more to the client)
                    conn.send(TAKEN)
            conn.close()
            return

    def _take(self, fd: int, pre: bytes) -> bool:
        assert self._loop is not None
        try:
            client = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            return False
        self.taken += 1
        task = self._loop.create_task(self._loop.connect_accepted_socket(lambda: Primed(self.factory(), pre), client))
        task.add_done_callback(_closed_on_error(client))
        return True


def _closed_on_error(client: socket.socket) -> Callable[[asyncio.Task[object]], None]:
    def done(t: asyncio.Task[object]) -> None:
        if t.cancelled() or t.exception() is not None:
            if not t.cancelled():
                log.warning("handed connection not taken: %s", t.exception())
            with contextlib.suppress(OSError):
                client.close()

    return done
