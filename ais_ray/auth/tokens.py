"""Bearer tokens and signed redirect URLs, as JWTs signed with the cluster's secret (HS256, PyJWT).

Two kinds, told apart by their audience:
- **user tokens** (`aud` = `ais-ray`): issued by `ais-ray auth token`, sent by clients as
  `Authorization: Bearer <token>` (the SDK's `Client(endpoint, token=...)`), checked by the API
  and by every data server (the SDK's direct mode and `ais_ray.client` reach those themselves);
- **redirect grants** (`aud` = `ais-ray/redirect`): minted by the API for one method and one
  object path, a few minutes long, and put in the 307's Location as `?ais_grant=`. HTTP clients
  drop `Authorization` when a redirect changes host or port (`requests`, `curl -L`), so the
  redirect itself must carry what the data server needs;
- **S3 access keys** (`aud` = `ais-ray/s3`): issued by `ais-ray auth s3-key`; the token itself is
  the access key id S3 clients send in their SigV4 credential, and the secret key is an HMAC of it
  under the cluster's secret (`s3_secret_key`). Nothing is stored: the cluster derives the secret
  of any key it issued (`auth/sigv4.py` checks the signature with it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from ais_ray.core import headers as H
from ais_ray.core.auth import Access, Claims
from ais_ray.core.errors import ErrAccessDenied, ErrInvalidValue, ErrUnauthorized

ALGORITHM = "HS256"
AUD_USER = "ais-ray"
AUD_REDIRECT = "ais-ray/redirect"
AUD_S3 = "ais-ray/s3"
GRANT_PARAM = H.Q_GRANT
GRANT_TTL = 300.0  # seconds a redirect stays usable (a client follows it at once)
LEEWAY = 5.0  # clock skew between nodes


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def load_or_create_secret(path: str) -> str:
    """The cluster's signing secret, created (0600) on first use."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    secret = new_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def issue_token(secret: str, claims: Claims, *, audience: str = AUD_USER) -> str:
    import jwt  # here, not at the top: every CLI command loads this module, few sign (~0.1 s per start)
    return jwt.encode({**claims.to_wire(), "aud": audience, "iat": int(time.time())}, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, *, audience: str = AUD_USER) -> Claims:
    """Raises:
        ErrUnauthorized: a bad signature, an expired or malformed token (or S3 key, `audience` AUD_S3).
    """
    import jwt  # on first use (see issue_token)
    what, cmd = ("S3 access key", "s3-key") if audience == AUD_S3 else ("token", "token")
    try:
        d = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience, leeway=LEEWAY,
                       options={"require": ["exp", "sub"]})
        return Claims.from_wire(d)
    except jwt.ExpiredSignatureError as exc:
        raise ErrUnauthorized(f"{what} expired: get a new one (`ais-ray auth {cmd}`)") from exc
    except (jwt.InvalidTokenError, ErrInvalidValue) as exc:
        raise ErrUnauthorized(f"invalid {what}: {exc}") from exc


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True, slots=True)
class Grant:
    user: str
    method: str
    path: str
    access: Access


def sign_grant(secret: str, user: str, method: str, path: str, access: Access, ttl: float = GRANT_TTL) -> str:
    """A redirect grant for exactly `method path` (the raw, still-quoted path)."""
    import jwt  # on first use (see issue_token)
    now = time.time()
    return jwt.encode({"sub": user, "m": method, "p": path, "acc": str(access), "aud": AUD_REDIRECT,
                       "iat": int(now), "exp": int(now + ttl)}, secret, algorithm=ALGORITHM)


def verify_grant(secret: str, grant: str, method: str, path: str) -> Grant:
    """Raises:
        ErrUnauthorized: bad, expired or malformed grant.
        ErrAccessDenied: a grant for another method or path.
    """
    import jwt  # on first use (see issue_token)
    try:
        d = jwt.decode(grant, secret, algorithms=[ALGORITHM], audience=AUD_REDIRECT, leeway=LEEWAY,
                       options={"require": ["exp", "sub", "m", "p"]})
        g = Grant(str(d["sub"]), str(d["m"]), str(d["p"]), Access.parse(str(d.get("acc", "none"))))
    except jwt.ExpiredSignatureError as exc:
        raise ErrUnauthorized("redirect grant expired: send the request to the API again") from exc
    except (jwt.InvalidTokenError, ErrInvalidValue) as exc:
        raise ErrUnauthorized(f"invalid redirect grant: {exc}") from exc
    if g.method != method or g.path != path:
        raise ErrAccessDenied(f"redirect grant is for {g.method} {g.path}, not {method} {path}")
    return g


def issue_s3_key(secret: str, claims: Claims) -> tuple[str, str]:
    """An S3 access key id and its secret key for `claims`."""
    key_id = issue_token(secret, claims, audience=AUD_S3)
    return key_id, s3_secret_key(secret, key_id)


def s3_secret_key(secret: str, key_id: str) -> str:
    mac = hmac.new(secret.encode(), b"s3-secret-key:" + key_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
