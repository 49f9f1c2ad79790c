"""Remote failures -> `ais_ray.core.errors`, one mapper per SDK, applied once per backend call.

Modelled on httpx's `map_httpcore_exceptions()` (a context manager that re-raises as the
domain type, chained with `from`) and s3fs's code table. Decisions use exception types, HTTP
statuses and provider error codes, never message text. Messages name what failed the way the
user wrote it (`object "s3://b/o" does not exist`) and, for transport failures, the endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import aiohttp
import azure.core.exceptions as az
import botocore.exceptions as boto
import pycurl

from ais_ray.core.errors import (
    AisError,
    ErrAccessDenied,
    ErrBackend,
    ErrBadRequest,
    ErrInvalidURL,
    ErrObjNotFound,
    ErrRangeNotSatisfiable,
    ErrRemoteBckNotFound,
    ErrTimeout,
)
from ais_ray.core.names import Bucket

Target = Bucket | str  # what messages name: a Bucket (`s3://b`) or an HTTP base URL

# Provider codes that say "the bucket is missing" on an object request (S3, Azure).
_BUCKET_MISSING = frozenset({"NoSuchBucket", "ContainerNotFound"})
_TIMEOUT_STATUSES = frozenset({408, 504})
# Transient answers worth one more try (throttling, overload, a proxy that lost the upstream).
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def describe(bck: Target, name: str | None) -> str:
    return f"{bck}/{name}" if name is not None else str(bck)


def status_error(status: int, bck: Target, name: str | None, *, endpoint: str, code: str = "") -> AisError:
    """The domain error for a remote HTTP status (plus the provider's error code, if any).

    `name=None` means the request was about the bucket itself, so a 404 is the bucket's.
    """
    what = describe(bck, name)
    detail = f"{status} {code}".rstrip()
    if status == 404:
        if name is None or code in _BUCKET_MISSING:
            return ErrRemoteBckNotFound(bck)
        return ErrObjNotFound(bck, name)
    if status in (401, 403):
        return ErrAccessDenied(f'access to "{what}" denied by {endpoint} ({detail})')
    if status == 416:
        return ErrRangeNotSatisfiable(f'"{what}": requested range not satisfiable ({detail})')
    if status == 400:
        return ErrBadRequest(f'"{what}": {endpoint} rejected the request ({detail})')
    if status in _TIMEOUT_STATUSES:
        return ErrTimeout(f'"{what}": {endpoint} timed out ({detail})')
    return ErrBackend(f'"{what}": {endpoint} failed ({detail})')


def transport_error(exc: BaseException, bck: Target, name: str | None, endpoint: str) -> AisError | None:
    """Map a failure below HTTP (bad URL, timeouts, refused, reset, DNS); None if `exc` is not one."""
    what = describe(bck, name)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return ErrInvalidURL(f'"{what}": not a usable http(s) URL ({type(exc).__name__})')
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):  # before OSError: TimeoutError is one
        return ErrTimeout(f'"{what}": {endpoint} timed out ({type(exc).__name__})')
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return ErrBackend(f'"{what}": {endpoint} broke off the transfer ({type(exc).__name__}: {exc})')
    if isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        return ErrBackend(f'"{what}": cannot reach {endpoint} ({type(exc).__name__}: {exc})')
    return None


# libcurl's codes for a connection that broke off after the request went out (the others: not reached).
# (8 and 92, CURLE_WEIRD_SERVER_REPLY and CURLE_HTTP2_STREAM, have no pycurl name of their own.)
_CURL_BROKE_OFF = frozenset({pycurl.E_PARTIAL_FILE, pycurl.E_GOT_NOTHING, pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR,
                             8, pycurl.E_HTTP2, 92})


def curl_error(code: int, msg: str, bck: Target, name: str | None, endpoint: str) -> AisError:
    """A libcurl failure (`backends/curlhttp.py`), as `transport_error` maps aiohttp's."""
    what = describe(bck, name)
    if code in (pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_URL_MALFORMAT):
        return ErrInvalidURL(f'"{what}": not a usable http(s) URL (curl {code}: {msg})')
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return ErrTimeout(f'"{what}": {endpoint} timed out (curl {code}: {msg})')
    if code in _CURL_BROKE_OFF:
        return ErrBackend(f'"{what}": {endpoint} broke off the transfer (curl {code}: {msg})')
    return ErrBackend(f'"{what}": cannot reach {endpoint} (curl {code}: {msg})')


def raise_transport(exc: Exception, bck: Target, name: str | None, endpoint: str) -> NoReturn:
    """Re-raise `exc` as the domain error for a transport failure, or as it is."""
    mapped = transport_error(exc, bck, name, endpoint)
    if mapped is None:
        raise exc
    raise mapped from exc


@contextmanager
def http_errors(bck: Target, name: str | None, endpoint: str) -> Iterator[None]:
    """For aiohttp-based backends (HTTP, GCS): map transport failures and ClientResponseError."""
    try:
        yield
    except AisError:
        raise
    except aiohttp.ClientResponseError as exc:
        raise status_error(exc.status, bck, name, endpoint=endpoint) from exc
    except Exception as exc:
        raise_transport(exc, bck, name, endpoint)


_S3_TIMEOUTS = (boto.ReadTimeoutError, boto.ConnectTimeoutError)
_S3_CREDENTIALS = (boto.NoCredentialsError, boto.PartialCredentialsError, boto.CredentialRetrievalError)
_S3_TRANSPORT = (boto.ConnectionError, boto.HTTPClientError, boto.IncompleteReadError)


@contextmanager
def s3_errors(bck: Target, name: str | None, endpoint: str) -> Iterator[None]:
    """For botocore/aiobotocore: `ClientError` by status and S3 error code, then transport errors."""
    try:
        yield
    except AisError:
        raise
    except boto.ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "InvalidRange":
            status = 416
        raise status_error(status or 500, bck, name, endpoint=endpoint, code=code) from exc
    except _S3_TIMEOUTS as exc:
        raise ErrTimeout(f'"{describe(bck, name)}": {endpoint} timed out ({type(exc).__name__})') from exc
    except _S3_CREDENTIALS as exc:
        raise ErrAccessDenied(f'"{describe(bck, name)}": no usable AWS credentials ({type(exc).__name__})') from exc
    except _S3_TRANSPORT as exc:
        raise ErrBackend(f'"{describe(bck, name)}": cannot reach {endpoint} ({type(exc).__name__})') from exc
    except Exception as exc:
        raise_transport(exc, bck, name, endpoint)


@contextmanager
def gcp_errors(bck: Target, name: str | None, endpoint: str) -> Iterator[None]:
    """GCS goes over aiohttp (statuses are checked by the backend); add google-auth failures."""
    import google.auth.exceptions as gauth  # gcsfs dependency; only GCS needs it

    try:
        with http_errors(bck, name, endpoint):
            yield
    except gauth.GoogleAuthError as exc:
        raise ErrAccessDenied(f'"{describe(bck, name)}": no usable Google credentials ({type(exc).__name__})') from exc


@contextmanager
def azure_errors(bck: Target, name: str | None, endpoint: str) -> Iterator[None]:
    """For azure-core: HttpResponseError by status and `x-ms-error-code`, then transport errors."""
    try:
        yield
    except AisError:
        raise
    except (az.ServiceRequestTimeoutError, az.ServiceResponseTimeoutError) as exc:
        raise ErrTimeout(f'"{describe(bck, name)}": {endpoint} timed out ({type(exc).__name__})') from exc
    except az.HttpResponseError as exc:
        if exc.status_code is None:  # no response at all, e.g. a body cut short
            raise ErrBackend(f'"{describe(bck, name)}": {endpoint} failed ({type(exc).__name__})') from exc
        code = str(getattr(exc, "error_code", None) or "")  # set by azure-storage from x-ms-error-code
        raise status_error(exc.status_code, bck, name, endpoint=endpoint, code=code) from exc
    except (az.ServiceRequestError, az.ServiceResponseError) as exc:
        raise ErrBackend(f'"{describe(bck, name)}": cannot reach {endpoint} ({type(exc).__name__})') from exc
    except Exception as exc:
        raise_transport(exc, bck, name, endpoint)
