"""The one authentication check, called by every edge: the REST API (Serve middleware) and the
aiohttp servers of targets and mountpaths (`actors/dataserver.py::error_middleware`).

Auth is on when this process knows the cluster's secret: `ais-ray up --auth` creates it (0600)
under `<data-dir>/auth/secret` and points `AIS_RAY_AUTH_SECRET_FILE` at it in the environment
every Ray process of the cluster inherits. A request then needs either a user token
(`Authorization: Bearer`, checked against `core/auth.py::required_access`) or, on an object
route, the redirect grant (`?ais_grant=`) the API or a target put in its 307's Location.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from ais_ray.auth.tokens import GRANT_PARAM, bearer, issue_token, sign_grant, verify_grant, verify_token
from ais_ray.core.auth import Access, Claims, required_access
from ais_ray.core.errors import ErrAccessDenied, ErrUnauthorized
from ais_ray.core.names import Bucket

ENV_SECRET_FILE = "AIS_RAY_AUTH_SECRET_FILE"
ENV_TOKEN = "AIS_AUTHN_TOKEN"  # the client side: AIStore's CLI and SDK read the same variable
SECRET_PATH = os.path.join("auth", "secret")  # under the data dir
INTERNAL_USER = "ais-ray/internal"  # node-to-node requests (object copy between mountpaths)
INTERNAL_TTL = 3600


def secret_path(data_dir: str) -> str:
    return os.path.join(data_dir, SECRET_PATH)


@functools.lru_cache(maxsize=1)
def cluster_secret() -> str | None:
    """This process's signing secret, or None when auth is off (read once)."""
    path = os.environ.get(ENV_SECRET_FILE, "")
    if not path:
        return None
    with open(path) as f:
        secret = f.read().strip()
    if not secret:
        raise RuntimeError(f"{path}: empty auth secret")
    return secret


def authorize(method: str, path: str, action: str, bck: Bucket | None, authorization: str | None,
              grant: str | None, raw_path: str = "", what: str = "") -> Claims | None:
    """Check one request; return the token's claims (None: auth off, a public route, or a grant).

    Raises:
        ErrUnauthorized: auth is on and the request has no valid token or grant.
        ErrAccessDenied: the token (or grant) does not allow this request.
    """
    secret = cluster_secret()
    if secret is None:
        return None
    need, per_bucket = required_access(method, path, action, what)
    if need is Access.NONE:
        return None
    token = bearer(authorization)
    if token is not None:
        claims = verify_token(secret, token)
        claims.require(need, bck if per_bucket else None)
        return claims
    if grant:
        g = verify_grant(secret, grant, method, raw_path or path)
        if g.access < need:
            raise ErrAccessDenied(f'redirect grant of user "{g.user}" allows {g.access}, this request needs {need}')
        return None
    raise ErrUnauthorized(f"{method} {path}: authentication required (a bearer token: `ais-ray auth token`, "
                          f"then ${ENV_TOKEN} or --token; the SDK's Client(endpoint, token=...))")


def require_write(claims: Claims | None, bck: Bucket) -> None:
    """A request that also writes into a second bucket (a copy's or an archive's destination):
    the token must allow writing there too, not just where the request's path points.

    Raises:
        ErrAccessDenied: it does not.
    """
    if claims is not None:
        claims.require(Access.RW, bck)


def redirect_location(url: str, method: str, raw_path: str, query: str, claims: Claims | None,
                      grant: str | None, bck: Bucket | None) -> str:
    """The Location of a 307 to a data server: with a fresh grant for exactly `method raw_path`
    when auth is on (clients drop `Authorization` when a redirect changes port)."""
    secret = cluster_secret()
    if secret is not None and (claims is not None or grant):
        parts = [p for p in query.split("&") if p and not p.startswith(GRANT_PARAM + "=")]
        if claims is not None:
            access = claims.access(bck)
            grant = sign_grant(secret, claims.user, method, raw_path, access)
        parts.append(f"{GRANT_PARAM}={quote(grant or '', safe='')}")  # a grant is passed on as it came
        query = "&".join(parts)
    return url + raw_path + (f"?{query}" if query else "")


def internal_headers() -> Mapping[str, str]:
    """Headers for a node's own request to another data server (empty when auth is off)."""
    secret = cluster_secret()
    if secret is None:
        return {}
    return {"Authorization": "Bearer " + _internal_token(secret, int(time.time()) // (INTERNAL_TTL // 2))}


async def internal_auth(req: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
    """aiohttp client middleware for node-to-node requests (copy, rebalance moves): adds the
    internal token to every request of the session, renewed as it ages."""
    for k, v in internal_headers().items():
        req.headers[k] = v
    return await handler(req)


@functools.lru_cache(maxsize=2)
def _internal_token(secret: str, epoch: int) -> str:
    """A short-lived admin token, renewed every half TTL (cached per half-TTL epoch)."""
    exp = (epoch + 2) * (INTERNAL_TTL // 2)
    return issue_token(secret, Claims(INTERNAL_USER, exp, admin=True))
