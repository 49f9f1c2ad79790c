"""GETs and HEADs of http(s) links through libcurl's multi interface, driven by the asyncio loop.

The downloader's transfer loop (issue 16). libcurl does the connections, the HTTP parsing and
the buffering in C; this module drives it from the loop it runs on: libcurl's sockets are
watched by an epoll set of their own, itself one reader of the loop (libcurl's socket callback
is one `epoll_ctl`, not the loop's Python selector bookkeeping twice per transfer: 14 % of a
download's loop thread), its timer callback is `call_later`, and both end in `socket_action`.
A 64 KiB object costs a few Python callbacks instead of aiohttp's per-read protocol, parser and
futures (measured in `benchmarks/README.md`). The kernel drops a closed socket from the set by
itself, so a socket number libcurl closes and the process reuses is never watched stale.

What a link's GET keeps, each on a libcurl option or callback:
- the download address policy on every connection, redirect hops included: the socket-open
  callback refuses a denied address before a socket exists (`guard.refusal`);
- a connect bound, a per-read idle bound (below 1 byte/s for `read_idle` seconds) and the
  object's total bound;
- http and https only, at most MAX_REDIRS hops; no proxy taken from the environment; no
  content decoding (the bytes stored are the bytes sent, sizes equal Content-Length);
- the body streamed with back-pressure: past HIGH_WATER unread bytes the transfer pauses until
  the reader takes them, so a rate-limited job slows its source and a large body is not held;
- a reader that leaves early (its own error, a cancel, a large object handed to the ranged
  readers) removes the transfer: its connection is closed, never reused half-read.

Everything runs on one loop: no thread, no lock. Failures become the backends' typed errors
(`errors.curl_error`), with the link and its endpoint in the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import select
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import pycurl

from ais_ray.backends.errors import Target, curl_error
from ais_ray.backends.guard import ErrSourceRefused, refusal
from ais_ray.backends.http import endpoint_of, split_url
from ais_ray.core.errors import AisError
from ais_ray.core.netpolicy import NetPolicy

MAX_REDIRS = 10
HIGH_WATER = 1 << 20  # unread bytes at which a transfer pauses (the backends' READ_CHUNK)
RECV_BUFFER = 256 << 10  # libcurl's receive buffer per transfer: a 64 KiB body in one or two writes
MAX_CONNS = 256  # idle connections kept for reuse
MAX_FREE_HANDLES = 256  # easy handles kept for reuse
_PROTOCOLS = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS
_IN = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR  # readable, or closed / failed: libcurl reads to find out


def _ca_file() -> str | None:
    """The CA bundle the rest of the process trusts (SSL_CERT_FILE, else OpenSSL's default):
    the libcurl bundled in pycurl's wheel was built with another system's path."""
    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        return paths.cafile
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


class CurlLinks:
    """Transfers of one loop (bound on first use). `get()` starts one; see `Transfer`."""

    def __init__(self, policy: NetPolicy, *, read_idle: float, connect_timeout: float = 30.0,
                 max_connections: int | None = None, cafile: str | None = None, path_as_is: bool = False) -> None:
        """`max_connections`: at most this many open at once (libcurl queues the transfers beyond);
        `cafile`: the CA bundle https trusts (default: the process's, `_ca_file`); `path_as_is`:
        send the path as given (an object key may hold `/../`), not with dot segments squashed."""
        self.policy = policy
        self._read_idle = max(1, math.ceil(read_idle))  # libcurl counts whole seconds
        self._connect_ms = int(connect_timeout * 1000)
        self._max_conns = max_connections
        self._cafile = cafile or _ca_file()
        self._path_as_is = path_as_is
        self._loop: asyncio.AbstractEventLoop | None = None
        self._multi: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._kick: asyncio.Handle | None = None  # a timeout of 0 ("act now"), once per loop turn
        self._want: float | None = None  # loop time of the timeout libcurl asked for last (None: none)
        self._ep: select.epoll | None = None  # libcurl's sockets, watched for the loop (`_on_ready`)
        self._fds: dict[int, int] = {}  # fd -> the epoll events it is registered with
        self._free: list[Any] = []
        self._active: set[Transfer] = set()

    def get(self, url: str, headers: Mapping[str, str], timeout: float | None, *, head: bool = False,
            source: tuple[Target, str | None, str] | None = None) -> Transfer:
        """Start a GET (a HEAD) of `url`; `timeout`: seconds for the whole transfer (None: no
        bound but the idle one); `source`: how errors name what failed (bucket, object, endpoint),
        by default the URL itself."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._multi is None:
            if self._loop is not loop and self._active:
                raise RuntimeError("CurlLinks: transfers of another event loop are under way")
            self._attach(loop)
        c = self._free.pop() if self._free else self._new_handle()
        tr = Transfer(self, c, url, loop, source)
        c.transfer = tr
        c.setopt(pycurl.URL, url)
        ms = 0 if timeout is None else max(1, int(timeout * 1000))
        if ms != c.timeout_ms:  # (a job's items all have the same: set once per handle)
            c.setopt(pycurl.TIMEOUT_MS, ms)
            c.timeout_ms = ms
        if headers:
            c.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers.items()])
            c.headers = True
        elif c.headers:
            c.unsetopt(pycurl.HTTPHEADER)
            c.headers = False
        if head or c.head:
            c.setopt(pycurl.NOBODY, 1 if head else 0)
            if not head:
                c.setopt(pycurl.HTTPGET, 1)
            c.head = head
        c.setopt(pycurl.WRITEFUNCTION, tr._write)
        c.setopt(pycurl.HEADERFUNCTION, tr._lines.append)
        self._active.add(tr)
        self._multi.add_handle(c)
        return tr

    async def aclose(self) -> None:
        for tr in list(self._active):
            tr.close()
        for c in self._free:
            c.close()
        self._free.clear()
        if self._multi is not None:
            self._detach()

    # ---- the loop's side of libcurl ----

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._multi is not None:
            self._detach()
        self._loop = loop
        m = self._multi = pycurl.CurlMulti()
        m.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        m.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        m.setopt(pycurl.M_MAXCONNECTS, MAX_CONNS)
        if self._max_conns:
            m.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, self._max_conns)
        self._ep = select.epoll()
        loop.add_reader(self._ep.fileno(), self._on_ready)

    def _detach(self) -> None:
        for h in (self._timer, self._kick):
            if h is not None:
                h.cancel()
        self._timer = self._kick = self._want = None
        assert self._loop is not None and self._ep is not None
        if not self._loop.is_closed():
            self._loop.remove_reader(self._ep.fileno())
        self._multi.close()  # (its sockets' REMOVEs still come to the set)
        self._multi = None
        self._ep.close()
        self._ep = None
        self._fds.clear()
        for c in self._free:  # their connections were the closed multi's
            c.close()
        self._free.clear()

    def _new_handle(self) -> Any:
        c = pycurl.Curl()
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.FOLLOWLOCATION, 1)
        c.setopt(pycurl.MAXREDIRS, MAX_REDIRS)
        c.setopt(pycurl.PROTOCOLS, _PROTOCOLS)
        c.setopt(pycurl.REDIR_PROTOCOLS, _PROTOCOLS)
        c.setopt(pycurl.PROXY, "")  # never one from the environment (http_proxy ...)
        c.setopt(pycurl.CONNECTTIMEOUT_MS, self._connect_ms)
        c.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        c.setopt(pycurl.LOW_SPEED_TIME, self._read_idle)
        c.setopt(pycurl.BUFFERSIZE, RECV_BUFFER)
        if self._cafile:
            c.setopt(pycurl.CAINFO, self._cafile)
        if self._path_as_is:
            c.setopt(pycurl.PATH_AS_IS, 1)
        c.setopt(pycurl.OPENSOCKETFUNCTION, functools.partial(self._open_socket, c))
        c.headers = False  # has custom headers set
        c.timeout_ms = 0  # TIMEOUT_MS as set
        c.head = False
        c.transfer = None
        return c

    def _open_socket(self, c: Any, purpose: int, addr: Any) -> Any:
        """libcurl's socket(2), for every address it tries: the policy's check before connecting."""
        why = self.policy.refuses(addr.addr[0])
        if why is not None:
            tr = c.transfer
            if tr is not None:
                tr.refused = why, str(addr.addr[0])
            return pycurl.SOCKET_BAD
        return socket.socket(addr.family, addr.socktype, addr.protocol)  # libcurl keeps a dup of it

    def _on_socket(self, what: int, fd: int, multi: Any, data: Any) -> None:
        ep = self._ep
        if ep is None:
            return
        events = (select.EPOLLIN if what & pycurl.POLL_IN else 0) | (select.EPOLLOUT if what & pycurl.POLL_OUT else 0)
        if what == pycurl.POLL_REMOVE or not events:
            if self._fds.pop(fd, None) is not None:
                with contextlib.suppress(OSError):  # closed already: out of the set with it
                    ep.unregister(fd)
            return
        old = self._fds.get(fd)
        if old == events:
            return
        try:
            if old is None:
                ep.register(fd, events)
            else:
                ep.modify(fd, events)
        except FileExistsError:  # a number reused before its REMOVE came: the set holds the new socket
            ep.modify(fd, events)
        except FileNotFoundError:  # closed and reused since registered: the set dropped it
            ep.register(fd, events)
        self._fds[fd] = events

    def _on_ready(self) -> None:
        """The epoll set is readable: act on every ready socket, then read what ended, once."""
        m, ep = self._multi, self._ep
        if m is None or ep is None:
            return
        for fd, ev in ep.poll(0):
            if self._multi is not m:  # closed by a callback meanwhile
                return
            self._act(fd, (pycurl.CSELECT_IN if ev & _IN else 0) | (pycurl.CSELECT_OUT if ev & select.EPOLLOUT else 0)
                      | (pycurl.CSELECT_ERR if ev & select.EPOLLERR else 0))
        self._read_ended()

    def _on_timer(self, ms: int) -> None:
        """libcurl's timer: call it back `ms` from now (0: at once; -1: no timeout). Every
        transfer added asks for 0: those of one loop turn share one call (`call_soon`), and a
        later deadline keeps a timer that fires first (it re-arms itself for the deadline:
        libcurl does not repeat a deadline it has told)."""
        loop = self._loop
        assert loop is not None
        if ms < 0:
            self._want = None  # a timer left set fires once, for nothing
            return
        if ms == 0:
            self._want = loop.time()
            if self._kick is None:
                self._kick = loop.call_soon(self._on_timeout, True)
            return
        self._want = when = loop.time() + ms / 1000
        t = self._timer
        if t is not None:
            if t.when() <= when:
                return
            t.cancel()
        self._timer = loop.call_at(when, self._on_timeout)

    def _on_timeout(self, kick: bool = False) -> None:
        if kick:
            self._kick = None
        else:
            self._timer = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)
        self._read_ended()
        loop, want = self._loop, self._want
        if self._timer is None and want is not None and loop is not None and self._multi is not None \
                and want > loop.time():
            self._timer = loop.call_at(want, self._on_timeout)

    def _act(self, fd: int, events: int) -> None:
        """libcurl's work on `fd` (or its timeouts); the transfers it ended are read by `_read_ended`."""
        m = self._multi
        if m is None:
            return
        while m.socket_action(fd, events)[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass

    def _read_ended(self) -> None:
        m = self._multi
        if m is None:
            return
        while True:
            queued, ok, failed = m.info_read()
            for c in ok:
                c.transfer._end(0, "")
            for c, code, msg in failed:
                c.transfer._end(code, msg)
            if not queued:
                return

    def _release(self, c: Any) -> None:
        """A handle whose transfer ended (or was dropped): out of the multi, back to the pool."""
        self._multi.remove_handle(c)
        c.transfer = None
        if len(self._free) < MAX_FREE_HANDLES:
            self._free.append(c)
        else:
            c.close()


class Transfer:
    """One transfer: `await response()` for the status and headers, then `async for` the body
    (chunks of at most ~HIGH_WATER); `close()` ends it, read or not. Failures raise the
    backends' typed errors."""

    __slots__ = ("_links", "_c", "url", "_loop", "_source", "_lines", "_chunks", "_buffered", "_paused", "_waiter",
                 "_code", "_msg", "done", "refused", "_head", "notify")

    def __init__(self, links: CurlLinks, c: Any, url: str, loop: asyncio.AbstractEventLoop,
                 source: tuple[Target, str | None, str] | None = None) -> None:
        self._links, self._c, self.url, self._loop, self._source = links, c, url, loop, source
        self._lines: list[bytes] = []  # the header lines of the response being received
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._code, self._msg = 0, ""
        self.done = False
        self.refused: tuple[str, str] | None = None  # (category, address) the policy refused
        self._head: tuple[int, dict[str, str]] | None = None
        # Called on the loop, when nobody awaits the transfer, once it ends or pauses (its body
        # reached HIGH_WATER unread): a caller that keeps no coroutine per transfer (`ended`,
        # `head`, `body`; or read it as usual from then on).
        self.notify: Callable[[], None] | None = None

    # ---- libcurl's callbacks (inside socket_action, on the loop) ----

    def _write(self, data: bytes) -> int | None:
        if self._buffered >= HIGH_WATER:
            if not self._paused and self._waiter is None and self.notify is not None:
                self._loop.call_soon(self.notify)  # not from inside libcurl's callback
            self._paused = True
            return pycurl.WRITEFUNC_PAUSE  # libcurl hands `data` again on resume
        self._chunks.append(data)
        self._buffered += len(data)
        if self._waiter is not None:
            self._wake()
        return None

    def _end(self, code: int, msg: str) -> None:
        self._code, self._msg = code, msg
        self._let_go()
        self._wake()

    def _let_go(self) -> None:
        """The handle back to the pool (out of the multi: a transfer under way is dropped)."""
        self.done = True
        self._links._active.discard(self)
        self._links._release(self._c)
        self._c = None

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            if not w.done():
                w.set_result(None)
        elif self.notify is not None and self.done:
            self.notify()

    # ---- the reader's side ----

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def response(self) -> tuple[int, dict[str, str]]:
        """The final response's status and headers (names in lower case), once its body starts
        or the transfer ends; a transfer that failed before any response raises."""
        while not (self._chunks or self.done):
            await self._wait()
        if self._head is None and self._code and not self._chunks:  # failed before any body: no usable response
            raise self._error()
        return self.head()

    # ---- a transfer that has ended (`notify`), read without awaiting ----

    def head(self) -> tuple[int, dict[str, str]]:
        """The final response's status and headers, as `response` gives them (once it has begun)."""
        if self._head is None:
            self._head = _parse_head(self._lines)
        return self._head

    def failure(self) -> AisError | None:
        """Why the transfer failed (None: it ended whole, or is still under way)."""
        return self._error() if self._code else None

    @property
    def source(self) -> tuple[Target, str | None, str] | None:
        """How its errors name what it reads (bucket, object, endpoint), as `CurlLinks.get` was told."""
        return self._source

    @property
    def buffered(self) -> int:
        """Bytes received and not read yet."""
        return self._buffered

    def body(self) -> list[bytes]:
        """Everything received and not read yet, at once: the chunks as they came."""
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        return chunks

    def __aiter__(self) -> Transfer:
        return self

    async def __anext__(self) -> bytes:
        while not self._chunks:
            if self.done:
                if self._code:
                    raise self._error()
                raise StopAsyncIteration
            await self._wait()
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._buffered = 0
        if self._paused and self._c is not None:
            self._paused = False
            self._c.pause(pycurl.PAUSE_CONT)  # may deliver at once, into the fresh list
        return data

    def close(self) -> None:
        if self._c is not None:  # still under way: dropped, its connection with it
            self._let_go()
        self._chunks = []

    def _error(self) -> AisError:
        if self.refused is not None:
            why, address = self.refused
            return ErrSourceRefused(refusal(address, why, self._links.policy))
        if self._source is not None:
            return curl_error(self._code, self._msg, *self._source)
        base, name = split_url(self.url)
        return curl_error(self._code, self._msg, base, name, endpoint_of(self.url))


def _parse_head(lines: list[bytes]) -> tuple[int, dict[str, str]]:
    """Status and headers of the last response in `lines` (`HTTP/1.1 200 OK`, `Name: value`, ...;
    the hops before it, a redirect or a `100 Continue`, come first and are not looked at)."""
    headers: dict[str, str] = {}
    for raw in reversed(lines):
        if raw.startswith(b"HTTP/"):
            parts = raw.split(None, 2)
            return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), headers
        name, sep, value = raw.partition(b":")
        if sep:  # the last of a repeated header wins, as in a dict filled in order
            headers.setdefault(name.strip().lower().decode("latin-1"), value.strip().decode("latin-1"))
    return 0, headers
