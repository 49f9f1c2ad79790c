"""An S3 object's metadata kept as the object's custom metadata (`ObjAttrs.custom`), as AIStore
keeps an S3 PUT's Content-Type: the system headers S3 stores (Content-Type, Cache-Control,
Content-Disposition, Content-Encoding, Content-Language, Expires) and the user's `x-amz-meta-*`
(rclone keeps a file's mtime there: without it every `rclone sync` uploads every file again).

The S3 gateway reads them from the PUT (`from_request`) and hands them to the owning mountpath in
one internal header (`WIRE`, JSON); every GET and HEAD of the object answers them (`to_headers`),
natively too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ais_ray.core.errors import ErrBadRequest

WIRE = "ais-s3-meta"  # gateway -> data server: the PUT's metadata, a JSON object
USER = "x-amz-meta-"
SYSTEM = ("Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
_SYSTEM = {h.lower(): h for h in SYSTEM}
MAX_USER = 2048  # bytes of user metadata, names and values (S3's limit)


def from_request(headers: Mapping[str, str]) -> dict[str, str]:
    """The metadata an S3 PUT asks to keep (names as S3 answers them: system headers canonical,
    user ones lower case).

    Raises:
        ErrBadRequest: more than 2 KiB of user metadata, or a value that is not printable ASCII.
    """
    out: dict[str, str] = {}
    user = 0
    for k, v in headers.items():
        low = k.lower()
        if low in _SYSTEM:
            if low == "content-encoding":  # aws-chunked is the upload's framing, not the object's
                v = ",".join(e.strip() for e in v.split(",") if e.strip().lower() != "aws-chunked")
                if not v:
                    continue
            out[_SYSTEM[low]] = _printable(k, v)
        elif low.startswith(USER) and len(low) > len(USER):
            out[low] = _printable(k, v)
            user += len(low) - len(USER) + len(v.encode())
    if user > MAX_USER:
        raise ErrBadRequest(f"user metadata is {user} bytes, more than {MAX_USER}")
    return out


def _printable(name: str, value: str) -> str:
    if not all(" " <= c <= "~" for c in value):
        raise ErrBadRequest(f"metadata {name!r}: only printable ASCII is kept (got {value[:40]!r})")
    return value


def to_wire(meta: Mapping[str, str]) -> str:
    return json.dumps(meta, separators=(",", ":"))


def from_wire(value: str | None) -> dict[str, str]:
    """The data server's side of `WIRE` (absent: nothing to keep).

    Raises:
        ErrBadRequest: not a JSON object of strings, or not what `from_request` keeps.
    """
    if not value:
        return {}
    try:
        got = json.loads(value)
    except ValueError:
        raise ErrBadRequest(f"{WIRE}: not JSON") from None
    if not isinstance(got, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in got.items()):
        raise ErrBadRequest(f"{WIRE}: expecting a JSON object of strings")
    return from_request(got)


def to_headers(custom: Mapping[str, str]) -> dict[str, str]:
    """The headers a GET or HEAD of an object answers from its custom metadata."""
    return {k: v for k, v in custom.items() if k in _SYSTEM.values() or k.startswith(USER)}
