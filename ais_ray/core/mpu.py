"""Multipart uploads and appends: the words of the wire, checked the same at every edge.

AIStore's native API (the SDK's `multipart_upload()` and `ObjectWriter.append_content`, ais-wire §objects):

    POST   /v1/objects/<b>/<o>                      {"action": "mpt-upload"}       -> upload id (text)
    PUT    /v1/objects/<b>/<o>?uploadId=U&partNumber=N   body: the part's bytes
    POST   /v1/objects/<b>/<o>?uploadId=U           {"action": "mpt-complete", "value": [{"part-number": N}, ...]}
    DELETE /v1/objects/<b>/<o>?uploadId=U           {"action": "mpt-abort"}
    PUT    /v1/objects/<b>/<o>?append_type=append&append_handle=H   body appended; reply `Ais-Append-Handle`
    PUT    /v1/objects/<b>/<o>?append_type=flush&append_handle=H    the appended bytes become the object

The S3 API's multipart calls reach the same store (`actors/mpu.py`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ais_ray.core.errors import ErrBadRequest

Q_UPLOAD_ID = "uploadId"
Q_PART_NO = "partNumber"
Q_APPEND_TYPE = "append_type"
Q_APPEND_HANDLE = "append_handle"
APPEND, FLUSH = "append", "flush"
HDR_APPEND_HANDLE = "Ais-Append-Handle"

ACT_CREATE, ACT_COMPLETE, ACT_ABORT = "mpt-upload", "mpt-complete", "mpt-abort"
MAX_PARTS = 10000  # S3's and AIStore's part numbers: 1..10000
_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def upload_id(text: str, *, what: str = "upload id") -> str:
    """An upload id or append handle as this cluster makes them (`gen_uuid` letters), else 400."""
    if not text or len(text) > 64 or not set(text) <= _ID_OK:
        raise ErrBadRequest(f'invalid {what} "{text}"')
    return text


def part_number(text: Any) -> int:
    try:
        n = int(str(text))
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_PARTS:
        raise ErrBadRequest(f'invalid part number "{text}": expecting 1..{MAX_PARTS}')
    return n


def check_put(query: Mapping[str, str]) -> str:
    """The kind of an object PUT from its query: "part", "append", "flush" or "" (a plain PUT);
    400 naming the parameter for a bad combination or value (both edges call this)."""
    upload, part = query.get(Q_UPLOAD_ID, ""), query.get(Q_PART_NO, "")
    kind, handle = query.get(Q_APPEND_TYPE, ""), query.get(Q_APPEND_HANDLE, "")
    if kind and upload:
        raise ErrBadRequest(f'"{Q_APPEND_TYPE}" and "{Q_UPLOAD_ID}" exclude each other')
    if upload or part:
        if not (upload and part):
            raise ErrBadRequest(f'a part PUT takes both "{Q_UPLOAD_ID}" and "{Q_PART_NO}"')
        upload_id(upload)
        part_number(part)
        return "part"
    if kind:
        if kind not in (APPEND, FLUSH):
            raise ErrBadRequest(f'invalid "{Q_APPEND_TYPE}" "{kind}": expecting {APPEND} or {FLUSH}')
        if handle:
            upload_id(handle, what=Q_APPEND_HANDLE)
        elif kind == FLUSH:
            raise ErrBadRequest(f'"{Q_APPEND_TYPE}={FLUSH}" needs the "{Q_APPEND_HANDLE}" of the appends')
        return kind
    if handle:
        raise ErrBadRequest(f'"{Q_APPEND_HANDLE}" without "{Q_APPEND_TYPE}"')
    return ""


def completed_parts(value: Any, *, ordered: bool = True) -> list[int]:
    """The part numbers of a complete request (native `[{"part-number": N, "etag": ""}]`, or
    plain numbers from the S3 API), ascending. `ordered`: as S3 wants them, once each, in
    ascending order (else 400); not ordered: the native SDK's, in the order it added the parts."""
    if not isinstance(value, list):
        raise ErrBadRequest("complete: expecting a list of parts")
    parts = [part_number(p.get("part-number", "") if isinstance(p, dict) else p) for p in value]
    if not parts or (ordered and parts != sorted(set(parts))):
        raise ErrBadRequest("complete: part numbers must be given once each, in ascending order")
    return sorted(set(parts))


def part_etags(value: Any) -> dict[int, str]:
    """The ETags a complete request names for its parts, quotes dropped (`[{"part-number": N,
    "etag": E}]`; the native SDK sends "" — that part is not checked)."""
    out: dict[int, str] = {}
    for p in value if isinstance(value, list) else ():
        etag = p.get("etag") if isinstance(p, dict) else None
        if isinstance(etag, str) and etag.strip().strip('"'):
            out[part_number(p.get("part-number", ""))] = etag.strip().strip('"')
    return out
