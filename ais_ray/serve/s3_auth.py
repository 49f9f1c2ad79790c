"""Who sent an S3 request and what it may do, when auth is on (`ais-ray up --auth`).

A request signed with an S3 key of this cluster (`ais-ray auth s3-key`: an access key id and a
secret key) carries the key's claims — user, access level, buckets — as a native token does;
`auth/sigv4.py` checks the signature. The gateway then asks `allow` before each call, with the
levels the native API uses (`core/auth.py`): reads need ro, writes rw, creating or destroying a
bucket rw cluster-wide. Unsigned requests are refused. With auth off, nothing is checked.
"""

from __future__ import annotations

from aiohttp import web

from ais_ray.auth import sigv4
from ais_ray.core.auth import Access, Claims
from ais_ray.core.names import Bucket
from ais_ray.serve.s3_xml import S3Error

PREFIX = "/s3"  # where the S3 API is served (`serve/s3.py`)
CLAIMS = "s3_claims"  # the request's verified key (auth on)


def authenticate(req: web.Request, secret: str, *, resource: str) -> Claims:
    """Auth on: the claims of the S3 key that signed this request (`auth/sigv4.py`), else 403.
    `resource`: the raw `/bucket/key` (virtual-host style: the bucket comes from the Host)."""
    url = f"{req.scheme}://{req.host}{req.raw_path.split('?', 1)[0]}"
    try:
        claims = sigv4.verify(secret, req.method, url, req.headers, req.query.items(), resource=resource)
    except sigv4.SigV4Error as e:
        raise S3Error(403, e.code, e.message) from None
    if claims is None:
        raise S3Error(403, "AccessDenied", "anonymous access is off: sign requests with an S3 key "
                                           "(`ais-ray auth s3-key`)")
    return claims


def allow(req: web.Request, need: Access, bck: Bucket | None = None) -> None:
    """The signing key allows `need` (on `bck`, else cluster-wide); a no-op with auth off."""
    claims: Claims | None = req.get(CLAIMS)
    if claims is not None:
        claims.require(need, bck)
