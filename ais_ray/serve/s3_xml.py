"""The S3 API's words: its XML bodies and error codes (`serve/s3.py`, `serve/s3_mpu.py`).

xml.etree builds and parses them; an AIStore error (`core/errors.py`) or a data server's
native error answer becomes the S3 code the SDKs map to their exceptions.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import aiohttp

from ais_ray.client.http import raise_for
from ais_ray.core.durations import ISO8601, format_nano_time
from ais_ray.core.errors import (AisError, ErrAccessDenied, ErrBckAlreadyExists, ErrBckNotFound, ErrNotFound,
                                 ErrObjNotFound, ErrRangeNotSatisfiable)

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def s3_error(err: AisError, *, key: str = "") -> S3Error:
    """An AIStore error as S3 names it (the SDKs map these codes to their exceptions)."""
    if isinstance(err, ErrBckNotFound):
        return S3Error(404, "NoSuchBucket", err.message)
    if isinstance(err, (ErrObjNotFound, ErrNotFound)):
        return S3Error(404, "NoSuchKey" if key else "NoSuchBucket", err.message)
    if isinstance(err, ErrBckAlreadyExists):
        return S3Error(409, "BucketAlreadyOwnedByYou", err.message)
    if isinstance(err, ErrRangeNotSatisfiable):
        return S3Error(416, "InvalidRange", err.message)
    if err.status == 412:
        return S3Error(412, "PreconditionFailed", err.message)
    if isinstance(err, ErrAccessDenied) or err.status in (401, 403):
        return S3Error(403, "AccessDenied", err.message)
    if err.status == 400:
        return S3Error(400, "InvalidArgument", err.message)
    return S3Error(err.status if err.status >= 500 else 500, "InternalError", err.message)


async def check_answer(up: aiohttp.ClientResponse, key: str, *, upload: str = "") -> None:
    """A data server's answer: nothing if it succeeded, else its native error as S3's."""
    if up.status < 400:
        return
    try:
        await raise_for(up, await up.read())  # the native error, typed (client/http.py)
    except AisError as exc:
        err = exc
    if upload and up.status == 404:
        raise S3Error(404, "NoSuchUpload", err.message)
    if up.status == 400:
        raise S3Error(400, "InvalidPart" if upload else "InvalidArgument", err.message)
    raise s3_error(err, key=key)


def xml_body(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def el(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = str(text)
    return e


def owner(parent: ET.Element, tag: str = "Owner") -> None:
    e = el(parent, tag)
    el(e, "ID", "ais-ray")
    el(e, "DisplayName", "ais-ray")


def iso8601(ns: int) -> str:
    return format_nano_time(ns, ISO8601)


def int_param(q: Any, name: str, default: int, *, most: int) -> int:
    try:
        n = int(q.get(name, default))
    except ValueError:
        raise S3Error(400, "InvalidArgument", f"{name} must be an integer") from None
    if n < 0:
        raise S3Error(400, "InvalidArgument", f"{name} must not be negative")
    return min(most, n)
