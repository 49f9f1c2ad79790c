"""A client's connection handed to another server's loop (actors/handoff.py), with real sockets and aiohttp."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from aiohttp import web

from ais_ray.actors import handoff


def _url() -> str:
    """A data server's URL no other test process uses (abstract addresses are the machine's)."""
    return f"http://127.0.0.1:{os.getpid()}{id(object()) % 100_000:05d}"


async def _put(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(text=f"{request.path_qs} {len(body)} {hash(body)} {request.host}")


def _client(port: int, head: bytes, body: bytes) -> bytes:
    """Blocking: send a PUT of `body` to `port` in pieces, read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head)
        for i in range(0, len(body), 50_000):
            s.sendall(body[i:i + 50_000])
        answer = b""
        while part := s.recv(1 << 16):
            answer += part
        return answer


async def _front(listener: socket.socket, url: str, *, read: int) -> None:
    """Take one connection, read its head and `read` more bytes, hand it over as the front door does."""
    loop = asyncio.get_running_loop()
    conn, _ = await loop.sock_accept(listener)
    got = b""
    while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < read:
        got += await loop.sock_recv(conn, 1 << 16)
    head, _, pre = got.partition(b"\r\n\r\n")
    length = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    u = await handoff.connect(url)
    await handoff.send(u, conn.fileno(), b"PUT /other?x=1 HTTP/1.1\r\nHost: mp\r\n" + length +
                       b"\r\nConnection: close\r\n\r\n" + pre)
    conn.close()  # the data server's descriptor keeps the connection


def test_a_handed_connection_is_answered_by_the_receiving_server() -> None:
    """The receiver's aiohttp server reads the handed head and body bytes first, then the rest of
    the body from the client, answers the client itself and closes the connection; a connection
    arriving with no descriptor, or with no request, is dropped — the sender told it was not
    taken — and the next one still taken."""
    body = os.urandom(700_000)

    async def main() -> tuple[bytes, int]:
        server = web.Server(_put)
        url = _url()
        rx = handoff.Receiver(server)
        rx.start(url)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setblocking(False)
        port = listener.getsockname()[1]
        try:
            bare = await handoff.connect(url)  # a message with no connection in it: dropped
            await asyncio.get_running_loop().sock_sendall(bare, b"PUT / HTTP/1.1\r\n\r\n")
            bare.close()
            empty = await handoff.connect(url)  # a connection with no request: dropped, and said so
            a, b = socket.socketpair()
            with pytest.raises(ConnectionError):  # not taken: the sender's to answer still
                await handoff.send(empty, a.fileno(), b"")
            a.close()
            b.settimeout(10)
            assert b.recv(10) == b""  # the receiver's copy closed, not kept
            b.close()
            head = f"PUT /first HTTP/1.1\r\nHost: front\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            client = asyncio.create_task(asyncio.to_thread(_client, port, head, body))
            await _front(listener, url, read=60_000)
            return await asyncio.wait_for(client, 30), rx.taken
        finally:
            rx.close()
            listener.close()
            await server.shutdown()

    answer, taken = asyncio.run(main())
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(f"/other?x=1 {len(body)} {hash(body)} mp".encode()), answer[-200:]
    assert taken == 1


def test_nobody_to_hand_to_is_an_error_before_anything_is_given() -> None:
    async def main() -> None:
        await handoff.connect(_url())

    with pytest.raises(OSError):
        asyncio.run(main())


def test_primed_feeds_its_bytes_before_the_transports_and_bounds_reads() -> None:
    """`Primed`: what was read before the handoff reaches the protocol first; `read_size` bounds
    the transport's reads (the front door's small read-ahead)."""
    seen: list[bytes] = []

    class Inner(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            seen.append(b"made:%d" % getattr(transport, "max_size", -1))

        def data_received(self, data: bytes) -> None:
            seen.append(data)

    async def main() -> None:
        a, b = socket.socketpair()
        a.sendall(b"later")
        tr, _ = await asyncio.get_running_loop().connect_accepted_socket(
            lambda: handoff.Primed(Inner(), b"first", read_size=4096), b)
        for _ in range(100):
            if len(seen) >= 3:
                break
            await asyncio.sleep(0.01)
        tr.close()
        a.close()

    asyncio.run(main())
    assert seen == [b"made:4096", b"first", b"later"]
