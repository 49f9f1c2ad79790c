"""An S3 upload's body as the gateway streams it on (PutObject, UploadPart): its bytes, unframed
and checked.

- **aws-chunked** (`Content-Encoding: aws-chunked`, `X-Amz-Content-SHA256: STREAMING-...`: SigV4
  streaming, sent by several AWS SDKs and `mc`): the framing `<hex size>[;chunk-signature=..]\\r\\n
  <data>\\r\\n ... 0\\r\\n[trailers]\\r\\n` is removed, as S3 and AIStore (`ais/s3/chunked.go`) do, so
  the object is the payload only; its size is `X-Amz-Decoded-Content-Length`. With auth on, each
  chunk's signature is checked (the chain seeded by the request's own, `auth/sigv4.py`).
- **Checksums the client sent** (`Content-MD5`, `x-amz-checksum-crc32|crc32c|sha1|sha256` as a
  header or a trailer; with auth on, a signed `X-Amz-Content-SHA256`) are computed over the bytes
  as they pass. The last piece is held back until they match: the data server commits only a whole
  body (its Content-Length), so a body that does not match is refused (400 `BadDigest`,
  `XAmzContentSHA256Mismatch`, `SignatureDoesNotMatch`) and no object or part is written.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import google_crc32c
from aiohttp import web

from ais_ray.auth import sigv4
from ais_ray.auth.gate import cluster_secret
from ais_ray.serve.s3_xml import S3Error

T = TypeVar("T")
STREAMING = "STREAMING-"
UNSIGNED = "UNSIGNED-PAYLOAD"
PIECE = 1 << 20  # the most bytes of one chunk read at a time
MAX_HEX = 16  # a chunk size is a 64-bit number


class _Crc32:
    def __init__(self) -> None:
        self.v = 0

    def update(self, b: bytes) -> None:
        self.v = zlib.crc32(b, self.v)

    def digest(self) -> bytes:
        return self.v.to_bytes(4, "big")


# x-amz-checksum-<algorithm>: its hasher (base64 of the digest on the wire); CRC64NVME has no library
# here and is taken unchecked, as a header S3 would check
CHECKSUMS: dict[str, Callable[[], Any]] = {
    "crc32": _Crc32, "crc32c": google_crc32c.Checksum, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


class _Check:
    def __init__(self, what: str, hasher: Any, expected: bytes, code: str) -> None:
        self.what, self.hasher, self.expected, self.code = what, hasher, expected, code


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise S3Error(400, "InvalidDigest", f"{what} is not base64: {value!r}") from None


class UploadBody:
    """One upload's body: `length` (the payload's bytes, None if unknown) and `chunks()`.

    `chunk_signer(prev_signature, data) -> signature`: auth on and a signed streaming body."""

    def __init__(self, req: web.Request, *, signed: bool = False,
                 chunk_signer: Callable[[str, bytes], str] | None = None, seed: str = "") -> None:
        self.req = req
        sha = req.headers.get("x-amz-content-sha256", "")
        encodings = [e.strip().lower() for e in req.headers.get("Content-Encoding", "").split(",")]
        self.chunked = sha.startswith(STREAMING) or "aws-chunked" in encodings
        self.signer = chunk_signer if sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" else None
        self.prev_sig = seed
        self.checks: list[_Check] = []
        self.error: S3Error | None = None
        if self.chunked:
            decoded = req.headers.get("x-amz-decoded-content-length", "")
            if not decoded.isdigit():
                raise S3Error(411, "MissingContentLength",
                              "an aws-chunked body needs X-Amz-Decoded-Content-Length")
            self.length: int | None = int(decoded)
        else:
            self.length = req.content_length
        if md5 := req.headers.get("Content-MD5"):
            expected = _b64(md5, "Content-MD5")
            if len(expected) != 16:
                raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
            self.checks.append(_Check("Content-MD5", hashlib.md5(usedforsecurity=False), expected, "BadDigest"))
        for algo, make in CHECKSUMS.items():
            if value := req.headers.get(f"x-amz-checksum-{algo}"):
                self.checks.append(_Check(f"x-amz-checksum-{algo}", make(), _b64(value, algo), "BadDigest"))
        # a checksum sent as a trailer (after the data, `X-Amz-Trailer` names it): computed as the data
        # passes, compared once the trailer has come
        self.trailer: _Check | None = None
        trailer = req.headers.get("x-amz-trailer", "").strip().lower()
        if self.chunked and trailer.startswith("x-amz-checksum-") and trailer[15:] in CHECKSUMS:
            self.trailer = _Check(trailer, CHECKSUMS[trailer[15:]](), b"", "BadDigest")
            self.checks.append(self.trailer)
        if signed and not self.chunked and sha and sha != UNSIGNED:
            try:
                expected = bytes.fromhex(sha)
            except ValueError:
                raise S3Error(400, "InvalidArgument", f"x-amz-content-sha256 is not a hex SHA-256: {sha!r}") from None
            self.checks.append(_Check("x-amz-content-sha256", hashlib.sha256(), expected,
                                      "XAmzContentSHA256Mismatch"))

    def fail(self, code: str, message: str) -> S3Error:
        self.error = S3Error(400, code, message)
        return self.error

    async def chunks(self) -> AsyncIterator[bytes]:
        """The payload's bytes; raises (and keeps in `error`: whoever sends them on sees only its own
        failure) where the body is refused, before its last piece has gone on."""
        try:
            async for piece in self._checked():
                yield piece
        except asyncio.IncompleteReadError:
            raise self.fail("IncompleteBody", "the body ended early") from None
        except S3Error as e:
            self.error = e
            raise

    def headers(self) -> dict[str, str]:
        """The payload's Content-Length, for the request that sends it on."""
        return {} if self.length is None else {"Content-Length": str(self.length)}

    async def relay(self, send: Callable[[Any], Awaitable[T]]) -> T:
        """`send(data)`: the request that takes the payload on (to its mountpath); if the body was
        refused on its way, that refusal (400) instead of the failure `send` saw. A body of no bytes
        is checked before it is sent: a data server would commit it as soon as it is asked."""
        data: Any = b"".join([p async for p in self.chunks()]) if self.length == 0 else self.chunks()
        try:
            return await send(data)
        except S3Error:
            raise
        except Exception:
            if self.error is not None:
                raise self.error from None
            raise

    async def _checked(self) -> AsyncIterator[bytes]:
        held = b""
        src = self._unframed() if self.chunked else self.req.content.iter_chunked(PIECE)
        async for piece in src:
            for c in self.checks:
                c.hasher.update(piece)
            if held:
                yield held
            held = piece
        if self.trailer is not None and not self.trailer.expected:
            raise self.fail("IncompleteBody", f"the body ended without its {self.trailer.what} trailer")
        for c in self.checks:
            if c.hasher.digest() != c.expected:
                raise self.fail(c.code, f"the {c.what} you specified did not match what was received")
        if held:
            yield held

    async def _unframed(self) -> AsyncIterator[bytes]:
        content = self.req.content
        while True:
            line = await content.readline()
            if not line.endswith(b"\r\n"):
                raise self.fail("IncompleteBody", "an aws-chunked body ended inside a chunk header")
            size_hex, _, ext = line[:-2].partition(b";")
            try:
                if not 0 < len(size_hex.strip()) <= MAX_HEX:
                    raise ValueError(size_hex)
                size = int(size_hex, 16)
            except ValueError:
                raise self.fail("InvalidRequest", f"a malformed aws-chunked chunk header: {line[:64]!r}") from None
            sig = ext.partition(b"chunk-signature=")[2].strip().decode("ascii", "replace")
            h = hashlib.sha256() if self.signer is not None else None
            left = size
            while left:
                data = await content.read(min(left, PIECE))
                if not data:
                    raise self.fail("IncompleteBody", "an aws-chunked body ended inside a chunk")
                left -= len(data)
                if h is not None:
                    h.update(data)
                yield data
            if size and await content.readexactly(2) != b"\r\n":
                raise self.fail("InvalidRequest", "an aws-chunked chunk does not end with CRLF")
            if self.signer is not None and h is not None:
                expected = self.signer(self.prev_sig, h.digest())
                if sig != expected:
                    raise self.fail("SignatureDoesNotMatch", "a chunk's signature does not match")
                self.prev_sig = sig
            if size == 0:
                break
        while True:  # trailers (x-amz-checksum-*: value, x-amz-trailer-signature), then an empty line
            line = await content.readline()
            if line in (b"\r\n", b""):
                return
            name, _, value = line.decode("latin-1").strip().partition(":")
            if self.trailer is not None and name.strip().lower() == self.trailer.what:
                self.trailer.expected = _b64(value, self.trailer.what)


def upload_body(req: web.Request) -> UploadBody:
    """The body of this upload, checked as auth (on or off) has it."""
    secret = cluster_secret()
    if secret is None:
        return UploadBody(req)
    signer = sigv4.chunk_signer(secret, req.headers, req.query.items())
    return UploadBody(req, signed=True, chunk_signer=signer[0] if signer else None, seed=signer[1] if signer else "")
