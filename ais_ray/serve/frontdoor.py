"""The public API port: object requests answered here, every other route passed to Ray Serve.

Ray Serve stays the home of the REST API (routes, validation, `/openapi.json`), on an internal
port of 127.0.0.1. In front of it, this small aiohttp server owns the public port and answers
the one hot request itself: `GET|HEAD|PUT|DELETE|POST /v1/objects/<bucket>/<object>` gets its 307 to
the owning mountpath from the cached Smap / BMD (`serve/state.py`, the same cache, the same
`serve/objects.py::owner_mountpath` and the same checks as Serve's handler: query parameters, auth, bucket lookup, remote bucket on first use),
at a fraction of the CPU of Serve's Python proxy + replica (issue 16, `benchmarks/README.md`).
A plain GET of an object stored on this machine is sent from its file (`NearReads`). A PUT is
answered before its body is read and the connection is closed rather than drained
(`close_unread`), so the body is sent once, to the data server, by clients that wait for the
307 (`Expect: 100-continue`, AisClient); one from a client that does not (`requests`, the SDK)
to a mountpath on this machine has its connection handed to that mountpath's data server
(`hands`, `actors/handoff.py`), or is relayed there when chunked (`relays`), so its body is not
sent twice. Anything else — and any object request with a rarer parameter (`original_url`,
`obj_to`) — is streamed to Serve and its answer streamed back.

One `FrontDoor` actor per cluster, named, detached, restarted by Ray, on the proxy's node.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ray
from aiohttp import web

from ais_ray.actors import handoff
from ais_ray.actors.dataserver import bind_socket, error_response
from ais_ray.actors.getbatch import ROUTE as BATCH_ROUTE
from ais_ray.actors.ioloop import IoLoop
from ais_ray.actors.target import actor_options
from ais_ray.actors.hosts import is_local
from ais_ray.actors.target_reads import NEAR_MAX
from ais_ray.auth.gate import authorize, cluster_secret, redirect_location, require_write
from ais_ray.core import headers as H
from ais_ray.core import nodelog, params
from ais_ray.core.etl import check_query as check_etl_query
from ais_ray.core.mpu import check_put as check_mpu_put
from ais_ray.core.errors import AisError, ErrTargetOffline
from ais_ray.core.nodes import PRIMARY_ID
from ais_ray.core.names import (Bucket, Namespace, Provider, parse_uname, split_obj_path, validate_bucket_name,
                                validate_obj_name)
from ais_ray.serve.errors import NODE
from ais_ray.serve.ml import designated
from ais_ray.serve.objects import owner_of
from ais_ray.serve.s3 import PREFIX as S3_PREFIX
from ais_ray.serve.s3 import S3Gateway
from ais_ray.serve.state import init_state

log = logging.getLogger(__name__)

FRONT_DOOR_NAME = "ais-front-door"
FAST_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
CHANGES = frozenset({"PUT", "POST", "DELETE", "PATCH"})  # forwarded requests that may change the Smap or BMD
RELAY_MAX = NEAR_MAX  # PUTs relayed at a time; past it, the 307 (the client sends its body again)
RELAY_BELOW = 4 << 20  # the largest body relayed (`relays`); a larger one gets the 307
SLOW_PARAMS = frozenset({"original_url", H.Q_OBJ_TO})  # object requests Serve's handler checks further
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length"})
# a handed request's head: the client's headers but the hop-by-hop ones, with its own Host and `Connection: close`
# (its Content-Length stays: the rest of the body follows on the connection)
_NOT_HANDED = frozenset(h.encode() for h in HOP_BY_HOP - {"content-length"})
_HANDED = "ais-handed"  # request key: its connection was handed to a data server (`hand_over`)


def front_door_options(resource: str) -> dict[str, Any]:
    return actor_options(FRONT_DOOR_NAME, resource)


async def _no_continue(req: web.Request) -> None:
    """`Expect: 100-continue` (curl's large PUTs): an object request gets no 100 — its 307 comes
    first, so the client sends the body to the data server only; a forwarded request gets the
    100 as aiohttp's default handler would send it."""
    if req.method in FAST_METHODS and req.path.startswith("/v1/objects/"):
        return
    if req.version == aiohttp.HttpVersion11 and req.headers.get("Expect", "").lower() == "100-continue":
        await req.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def _get_batch(req: web.Request) -> bool:
    return req.method == "GET" and (req.path == BATCH_ROUTE or req.path.startswith(BATCH_ROUTE + "/"))


def _maps(req: web.Request) -> bool:
    """The cluster map or bucket metadata asked of the API (answered here: `FrontDoorServer.maps`)."""
    return req.method == "GET" and req.path == "/v1/daemon" and req.query.get(H.Q_WHAT, "smap") in ("smap", "bmd")


def _redirected(req: web.Request) -> bool:
    """An object request answered here with its 307 (POST: the native multipart actions)."""
    if not req.path.startswith("/v1/objects/") or SLOW_PARAMS & req.query.keys():
        return False
    return req.method in FAST_METHODS or (req.method == "POST" and params.route_of(req.path) == "object")


class FrontDoorServer:
    """The aiohttp app; `start` binds the public port (the same one again after a restart)."""

    def __init__(self, serve_url: str) -> None:
        self.serve_url = serve_url.rstrip("/")
        self.state = init_state()
        self.s3 = S3Gateway(self.serve_url, self.state)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.relaying = 0  # PUTs relayed now (`relays`)
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application(client_max_size=0)
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.handle, expect_handler=_no_continue)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                              timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                                              auto_decompress=False)
        # small reads ahead of a request's handler (`handoff.Primed`): a PUT handed to its data server
        # leaves little of its body read here (`hand_over`)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, read_bufsize=handoff.READ_BUFSIZE)
        await self._runner.setup()
        for attempt in range(60):  # a restarted actor: the old socket may linger a moment
            try:
                sock = bind_socket(host, port)
                if sock.getsockname()[1] == port:
                    break
                sock.close()
            except OSError:
                pass
            await asyncio.sleep(0.5)
        else:
            raise OSError(f"cannot bind the API port {host}:{port}")
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: handoff.Primed(server(), read_size=handoff.READ_SIZE), sock=sock, backlog=1024)

    async def handle(self, req: web.Request) -> web.StreamResponse:
        if req.path == S3_PREFIX or req.path.startswith(S3_PREFIX + "/"):
            resp = await self.s3.handle(req)
        elif _redirected(req) or _get_batch(req) or _maps(req):
            try:
                resp = await (self.redirect(req) if _redirected(req) else
                              self.batch_redirect(req) if _get_batch(req) else self.maps(req))
            except AisError as err:
                resp = self.error(req, err)
        else:
            return await self.forward(req)
        if req.get(_HANDED):  # the connection is the data server's now: nothing more is written here
            return resp
        if not resp.prepared and req.can_read_body:  # a body left unread (a PUT's 307 or refusal): never drained
            return await close_unread(req, resp)
        return resp

    async def redirect(self, req: web.Request) -> web.StreamResponse:
        """The 307 Serve's `serve/objects.py::redirect_to_owner` gives, without Serve — or, for a
        plain GET of an object stored on this machine, the object itself, sent from its file as the
        S3 gateway sends it (`target_reads.NearReads`: one request instead of two, counted at its
        target; anything the mountpath must decide, or past `NEAR_MAX` at a time, still gets the 307)."""
        raw = req.raw_path
        params.check(req.method, req.path, req.query.items())  # core/params.py: the accepted-query table
        check_etl_query(req.query)  # a bad ETL name (inline transform) is a 400 here, as in Serve's handler
        if req.method == "PUT":
            check_mpu_put(req.query)  # a part / append with a bad combination or value: 400 here too
        bucket, obj = split_obj_path(raw)
        bck = Bucket(validate_bucket_name(bucket), Provider.parse(req.query.get("provider") or "ais"),
                     Namespace.parse(req.query.get("namespace", "")))
        claims = None
        if cluster_secret() is not None:
            claims = authorize(req.method, req.path, "", bck, req.headers.get("Authorization"), None)
            if H.Q_OBJ_TO in req.query:  # a copy writes into its destination's bucket
                require_write(claims, parse_uname(req.query[H.Q_OBJ_TO])[0])
        validate_obj_name(obj)
        tsi, mp = await owner_of(bck, obj, req.method)
        near = self.s3.near
        if req.method == "GET" and near.reads.plain(req):  # stored on this machine: sent from its file, no 307
            if (sent := await near.send(req, bck, obj, mp.url, mp.path, tsi.daemon_id)) is not None:
                return sent
        query = raw.split("?", 1)[1] if "?" in raw else ""
        path = raw.split("?", 1)[0]
        location = redirect_location(mp.url, req.method, path, query, claims, None, bck)
        if req.method == "PUT" and self.hands(req, mp.url):  # the body is on its way: its connection handed over
            handed = await self.hand_over(req, mp.url, location)
            if handed is not None:
                return handed
        if req.method == "PUT" and self.relays(req, mp.url):  # the body is on its way: passed on, not sent twice
            return await self.relay(req, location)
        return web.Response(status=307, headers={"Location": location})

    def hands(self, req: web.Request, mp_url: str) -> bool:
        """A PUT whose client sends its body without waiting for an answer (no `Expect: 100-continue`:
        `requests`, the SDK, curl's small PUTs), of a stated length, to a mountpath on this machine:
        its connection is handed to that mountpath's data server (`actors/handoff.py`), whatever the
        size of the body — the client sends it once, and only its first ~64 KiB pass through here."""
        return (req.content_length is not None and req.version == aiohttp.HttpVersion11
                and req.headers.get("Expect", "").lower() != "100-continue" and is_local(mp_url, self.s3.near.hosts))

    async def hand_over(self, req: web.Request, mp_url: str, location: str) -> web.StreamResponse | None:
        """Hand the PUT's connection to the data server at `mp_url`: its request head rewritten to
        `location` (the 307's URL: the same handler, checks and grant) with `Connection: close`, and
        the body bytes read so far. None: that data server takes no connections now (restarting, or
        not this user's): nothing is given away, the caller relays. Once the body is partly taken, a
        failure is AIStore's JSON 503 and the connection is closed."""
        tr = req.transport
        sock = tr.get_extra_info("socket") if tr is not None else None
        if tr is None or sock is None:
            return None
        try:
            u = await handoff.connect(mp_url)
        except OSError:
            return None
        target = urlsplit(location)
        path = f"{target.path}?{target.query}" if target.query else target.path
        head = [f"PUT {path} HTTP/1.1\r\nHost: {target.netloc}\r\n".encode()]
        head += [k + b": " + v + b"\r\n" for k, v in req.raw_headers if k.lower() not in _NOT_HANDED]
        head.append(b"Connection: close\r\n\r\n")
        try:
            pre = req.content.read_nowait(-1)  # what aiohttp has read of the body (it may resume reading: then
            tr.pause_reading()                 # paused at once, before the loop can read more)
        except Exception:  # the client is gone (its body's error is set): nothing to hand, the relay reports it
            u.close()
            return None
        try:
            await handoff.send(u, sock.fileno(), b"".join(head) + pre)
        except TimeoutError:  # no word from the data server: it may still answer, so nothing is written here
            log.warning("PUT %s: the data server at %s did not confirm a handed connection", req.path, mp_url)
        except OSError as exc:  # not taken (died meanwhile): the connection is still this one's to answer
            raise ErrTargetOffline(f"PUT {req.path}: the mountpath's data server did not take it: {exc}") from exc
        tr.abort()  # this process's descriptor closed; the socket lives on in the data server
        req[_HANDED] = True
        return web.Response(status=200)  # (not sent: the data server answers the client)

    def relays(self, req: web.Request, mp_url: str) -> bool:
        """A PUT whose client sends its body without waiting for an answer (no `Expect:
        100-continue`: `requests`, the SDK, curl's small PUTs), of up to `RELAY_BELOW` bytes or of
        a length not given (chunked), to a mountpath on this machine, not handed over (`hands`:
        chunked, or its data server takes no connections now): relayed here, at most `RELAY_MAX`
        at a time.

        After a 307 such a client sends a small body whole a second time (it is all in the socket
        buffers before the 307 is read): `requests` spends twice its CPU per PUT
        (`benchmarks/put_redirect.py`), and a chunked body from a generator cannot be sent again at
        all. Relaying costs this process about what the second send costs the client, so for a
        larger body — of which the client sends only a socket buffer's worth before the 307 —
        the 307 is cheaper. A client that waits (AisClient, curl's large PUTs) gets the 307 and
        sends its body once, to the data server."""
        size = req.content_length
        return (self.relaying < RELAY_MAX and (size is None or size <= RELAY_BELOW)
                and req.headers.get("Expect", "").lower() != "100-continue" and is_local(mp_url, self.s3.near.hosts))

    async def relay(self, req: web.Request, location: str) -> web.StreamResponse:
        """The PUT sent on, body streamed as it comes, to the URL its 307 would have named: the
        same data server, handler, checks and grant; its answer (status, headers, body) back as is."""
        assert self._session is not None
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP}
        if req.content_length is not None:
            headers["Content-Length"] = str(req.content_length)
        self.relaying += 1
        try:
            async with self._session.put(location, headers=headers, data=req.content if req.can_read_body else b"",
                                         allow_redirects=False) as up:
                body = await up.read()
                return web.Response(status=up.status, body=body,
                                    headers={k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP})
        except aiohttp.ClientError as exc:  # the data server restarting: as its 307 would have failed, a retry may not
            log.warning("PUT %s: relay to %s failed: %s", req.path, location.split("?", 1)[0], exc)
            raise ErrTargetOffline(f"PUT {req.path}: the mountpath's data server did not answer: {exc}") from exc
        finally:
            self.relaying -= 1

    async def batch_redirect(self, req: web.Request) -> web.StreamResponse:
        """GetBatch's 307 to its designated data server (`serve/ml.py`), the body unread: its list of
        items may be larger than Serve's bound on control bodies, and goes along with the 307."""
        params.check(req.method, req.path, req.query.items())
        claims = None
        if cluster_secret() is not None:
            claims = authorize(req.method, req.path, "", None, req.headers.get("Authorization"), None)
        mp = designated(await self.state.smap())
        raw = req.raw_path
        query = raw.split("?", 1)[1] if "?" in raw else ""
        return web.Response(status=307, headers={"Location": redirect_location(mp.url, req.method, raw.split("?", 1)[0],
                                                                               query, claims, None, None)})

    async def maps(self, req: web.Request) -> web.Response:
        """`GET /v1/daemon?what=smap|bmd` as Serve's handler answers it (`serve/cluster.py::daemon`:
        the current map, fetched from the proxy now, not a cached one), without Serve. The SDK
        asks for the Smap from each thread's first `direct=True` GET, and again after every 404
        of one: through Serve's proxy and replica each cost ~6 ms of CPU, here one call to the
        proxy actor (`state.refresh`, which answers "unchanged" without sending the map)."""
        params.check(req.method, req.path, req.query.items())
        params.check_not_log(req.query.get(H.Q_WHAT, "smap"), req.query)
        if cluster_secret() is not None:
            authorize(req.method, req.path, "", None, req.headers.get("Authorization"), None)
        await self.state.refresh(force=True)
        meta = await (self.state.smap() if req.query.get(H.Q_WHAT, "smap") == "smap" else self.state.bmd())
        return web.json_response(meta.to_wire())

    def error(self, req: web.Request, err: AisError) -> web.Response:
        """AIStore's JSON error, as Serve and the data servers answer it (`dataserver.error_response`)."""
        return error_response(err, req, NODE)

    async def forward(self, req: web.Request) -> web.StreamResponse:
        """Stream the request to Serve and its answer back (redirects are the client's to follow)."""
        assert self._session is not None
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP}
        if req.remote:
            headers["X-Forwarded-For"] = req.remote
        body = req.content if req.can_read_body else None
        try:
            async with self._session.request(req.method, self.serve_url + req.raw_path, headers=headers, data=body,
                                             allow_redirects=False) as up:
                if req.method in CHANGES and up.status < 400:
                    # read your writes: a client that just changed the cluster (membership, buckets)
                    # must not be redirected by the map from before its change
                    await self.state.refresh(force=True)
                resp = web.StreamResponse(status=up.status, reason=up.reason)
                for k, v in up.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        resp.headers.add(k, v)
                if up.content_length is not None:  # HEAD too: without it the client's connection is lost
                    resp.content_length = up.content_length
                await resp.prepare(req)
                if req.method != "HEAD":
                    async for chunk in up.content.iter_any():
                        await resp.write(chunk)
                await resp.write_eof()
                return resp
        except aiohttp.ClientError as exc:  # Serve restarting: the client may retry
            log.warning("%s %s: the API behind the front door did not answer: %s", req.method, req.path, exc)
            return web.json_response({"message": f"API not ready: {exc}", "status": 503}, status=503)


async def close_unread(req: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Send `resp`, then close the connection at once, the request's body unread (a PUT's 307:
    the body goes to the data server only). `StreamResponse.force_close` alone only ends
    keep-alive: aiohttp would then read and drop the rest of the body ("lingering", up to 10 s)
    — for a client that sends its body without waiting for the 307 (`requests`, the SDK), the
    whole body, at ~1.5 ms of this process's CPU per 1 MiB PUT."""
    resp.force_close()
    await resp.prepare(req)
    await resp.write_eof()
    req.protocol.force_close()  # the answer is written (flushed by the transport), then the socket closed
    return resp


@ray.remote
class FrontDoor:
    """The public port's actor (`deploy.py` starts it beside Serve, with Serve's internal URL, chosen first); a
    restarted one binds the same port again from `__init__`, on a loop of its own."""

    def __init__(self, host: str, port: int, serve_url: str, log_dir: str = "") -> None:
        nodelog.setup(PRIMARY_ID, log_dir, f"{PRIMARY_ID}/front-door")  # the proxy's log (core/nodelog.py)
        self.io = IoLoop("front-door")
        self.url = f"http://{host}:{port}"
        self.server = self.io.run_sync(_make(serve_url, host, port), timeout=60)

    async def ready(self) -> str:
        return self.url


async def _make(serve_url: str, host: str, port: int) -> FrontDoorServer:
    server = FrontDoorServer(serve_url)
    await server.start(host, port)
    return server
