"""AWS Signature V4 on the S3 API (`serve/s3.py`), when auth is on: who sent this request.

The signature is recomputed with botocore's own signer (`S3SigV4Auth` for an `Authorization`
header, `S3SigV4QueryAuth` for a presigned URL) over the request as received — its method, raw
path, query, the headers it says it signed, its `X-Amz-Date` — with the secret key this cluster
derives for the access key id (`auth/tokens.py::s3_secret_key`), and compared in constant time.
No canonicalization is written here. The payload hash is taken from `X-Amz-Content-SHA256` (it
is one of the signed headers); the body is hashed as it streams to its mountpath and refused before
its last bytes if it does not match (`serve/s3_body.py`, which also checks the chunk signatures of
a streaming upload with `chunk_signer`).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from urllib.parse import urlsplit
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from ais_ray.auth.tokens import AUD_S3, s3_secret_key, verify_token
from ais_ray.core.auth import Claims
from ais_ray.core.errors import ErrUnauthorized

ALGORITHM = "AWS4-HMAC-SHA256"
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"  # an aws-chunked body's chunk signatures
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = 15 * 60  # seconds between the client's clock and ours (S3's RequestTimeTooSkewed)
MAX_EXPIRES = 7 * 24 * 3600  # a presigned URL lives at most a week (S3's limit)
AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SigV4Error(Exception):
    """Denied; `code` is S3's error code (the gateway answers it as XML, 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Signed:
    """What a request says about its signature (from its Authorization header or its query)."""

    key_id: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int = -1  # presigned: seconds the URL is valid for


def parse(headers: Mapping[str, str], query: Mapping[str, str]) -> Signed | None:
    """The signature fields of a request (`headers` keyed in lower case); None if it is unsigned."""
    auth = headers.get("authorization", "")
    if auth:
        algo, _, rest = auth.partition(" ")
        if algo != ALGORITHM:
            raise SigV4Error("AccessDenied" if algo != "AWS" else "InvalidRequest",
                             f"unsupported authorization {algo!r}: sign with {ALGORITHM} (Signature Version 4)")
        fields = dict(p.strip().partition("=")[::2] for p in rest.split(","))
        cred, signed, sig = fields.get("Credential", ""), fields.get("SignedHeaders", ""), fields.get("Signature", "")
        amz_date, expires = headers.get("x-amz-date", ""), -1
    elif "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise SigV4Error("AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {ALGORITHM}")
        cred, signed, sig = query.get("X-Amz-Credential", ""), query.get("X-Amz-SignedHeaders", ""), \
            query["X-Amz-Signature"]
        amz_date = query.get("X-Amz-Date", "")
        try:
            expires = int(query.get("X-Amz-Expires", ""))
        except ValueError:
            raise SigV4Error("AuthorizationQueryParametersError", "X-Amz-Expires must be a number") from None
        if not 0 < expires <= MAX_EXPIRES:
            raise SigV4Error("AuthorizationQueryParametersError",
                             f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds")
    else:
        return None
    scope = cred.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not signed or not sig or not amz_date:
        raise SigV4Error("AuthorizationHeaderMalformed", f"malformed SigV4 credential or signature: {cred!r}")
    return Signed(scope[0], scope[1], scope[2], scope[3], tuple(signed.split(";")), sig, amz_date, expires)


def verify(secret: str, method: str, url: str, headers: Mapping[str, str], query: Iterable[tuple[str, str]], *,
           resource: str = "", now: float | None = None) -> Claims | None:
    """The claims of the key that signed this request, None if it is unsigned.

    `url`: scheme, the Host header and the raw path, as the client addressed the request;
    `resource`: the raw `/bucket/key` path (a V2 presigned URL signs that, not the endpoint's path).

    Raises:
        SigV4Error: an unknown key, a signature that does not match, a stale date or URL.
    """
    pairs = list(query)
    low = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    if "AWSAccessKeyId" in dict(pairs) and not low.get("authorization"):
        return _verify_v2_url(secret, method, resource or url, low, pairs, now)
    s = parse(low, dict(pairs))
    if s is None:
        return None
    try:
        t = calendar.timegm(time.strptime(s.amz_date, AMZ_DATE))
    except ValueError:
        raise SigV4Error("AccessDenied", f"invalid X-Amz-Date {s.amz_date!r}") from None
    if s.expires >= 0:
        if now > t + s.expires:
            raise SigV4Error("AccessDenied", "Request has expired")
    elif abs(now - t) > MAX_SKEW:
        raise SigV4Error("RequestTimeTooSkewed", "The difference between the request time and the server's "
                                                 "time is too large")
    claims = _claims(secret, s.key_id)
    request = AWSRequest(method=method, url=url, headers={h: low.get(h, "") for h in s.signed_headers})
    request.params = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    request.context["timestamp"] = s.amz_date
    creds = Credentials(s.key_id, s3_secret_key(secret, s.key_id))
    signer = (S3SigV4QueryAuth(creds, s.service, s.region, expires=s.expires) if s.expires >= 0
              else S3SigV4Auth(creds, s.service, s.region))
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, s.signature):
        raise SigV4Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                  "signature you provided. Check your key and signing method.")
    return claims


def chunk_signer(secret: str, headers: Mapping[str, str], query: Iterable[tuple[str, str]]
                 ) -> tuple[Callable[[str, bytes], str], str] | None:
    """A signed streaming upload (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, already `verify`d): the
    signature each chunk must carry, `sign(previous signature, sha256 of its data)`, and the seed
    (the request's own signature, the first "previous"); None if the request is not signed so. The
    key is derived by botocore's signer, as `verify`'s."""
    s = parse({k.lower(): v for k, v in headers.items()}, dict(query))
    if s is None:
        return None
    signer = S3SigV4Auth(Credentials(s.key_id, s3_secret_key(secret, s.key_id)), s.service, s.region)
    request = AWSRequest(method="PUT", url="http://chunk/")
    request.context["timestamp"] = s.amz_date
    scope = f"{s.date}/{s.region}/{s.service}/aws4_request"

    def sign(prev: str, digest: bytes) -> str:
        return signer.signature("\n".join((CHUNK_ALGORITHM, s.amz_date, scope, prev, EMPTY_SHA256, digest.hex())),
                                request)

    return sign, s.signature


def _claims(secret: str, key_id: str) -> Claims:
    try:
        return verify_token(secret, key_id, audience=AUD_S3)
    except ErrUnauthorized as exc:
        raise SigV4Error("InvalidAccessKeyId", exc.message) from None


class _V2Url(HmacV1QueryAuth):
    """botocore's V2 presigned-URL signer with the URL's own `Expires` as its date."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._at = expires

    def _get_date(self) -> str:
        return self._at


def _verify_v2_url(secret: str, method: str, resource: str, headers: Mapping[str, str],
                   pairs: list[tuple[str, str]], now: float) -> Claims:
    """A Signature V2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`: boto3's
    `generate_presigned_url` unless told `signature_version="s3v4"`), checked by botocore's signer."""
    q = dict(pairs)
    try:
        expires = int(q.get("Expires", ""))
    except ValueError:
        raise SigV4Error("AccessDenied", "Expires must be a number") from None
    if now > expires:
        raise SigV4Error("AccessDenied", "Request has expired")
    key_id = q["AWSAccessKeyId"]
    claims = _claims(secret, key_id)
    signed = HTTPHeaders()
    for k, v in headers.items():
        if k in ("content-md5", "content-type") or k.startswith("x-amz-"):
            signed[k] = v
    rest = "&".join(f"{k}={v}" for k, v in pairs if k not in ("AWSAccessKeyId", "Signature", "Expires"))
    signer = _V2Url(Credentials(key_id, s3_secret_key(secret, key_id)), str(expires))
    expected = signer.get_signature(method, urlsplit(f"http://h{resource}" + (f"?{rest}" if rest else "")), signed)
    if not hmac.compare_digest(expected, q.get("Signature", "")):
        raise SigV4Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                  "signature you provided. Check your key and signing method.")
    return claims
