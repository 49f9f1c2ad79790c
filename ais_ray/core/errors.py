"""Typed errors, named as AIStore names them, each carrying its HTTP status.

The tree:

    AisError (500)
    ├── ErrBadRequest (400)          anything the user can fix in the request
    │   ├── ErrInvalidName           bucket / object names
    │   ├── ErrInvalidTemplate       bash-brace range templates
    │   ├── ErrInvalidSize           size strings ("4mb", "1MiB")
    │   ├── ErrInvalidDuration       duration strings ("10s", "1m30s")
    │   ├── ErrInvalidURL            links and bucket URIs
    │   ├── ErrInvalidValue          a number out of its range or form (blob workers)
    │   ├── ErrUnsupported           valid syntax, not supported (provider, scheme, combination)
    │   └── ErrJobRunning            "job X is still running" (remove of a running job)
    ├── ErrUnauthorized (401)        no token, or a bad or expired one (auth on)
    ├── ErrAccessDenied (403)
    ├── ErrNotFound (404)
    │   ├── ErrBckNotFound / ErrRemoteBckNotFound
    │   ├── ErrObjNotFound
    │   └── ErrJobNotFound
    ├── ErrBckAlreadyExists (409)
    ├── ErrEntityTooLarge (413)      a control request's body over the bound
    ├── ErrRangeNotSatisfiable (416)
    ├── ErrBackend (502)             a remote source failed (5xx, reset, unreachable)
    │   └── ErrRangeIgnored          it answered a range request with the whole object
    ├── ErrNoTarget (503)            HRW has no candidate (no active target or mountpath)
    └── ErrTimeout (504)

Every error's only state is its message, so it pickles across Ray and re-raises on the
caller's side as the same class. The HTTP boundary (`serve/`) maps `status` once.
"""

from __future__ import annotations

from typing import ClassVar


class AisError(Exception):
    """Base of every domain error; `status` is the HTTP status the API answers with."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[object, tuple[type[AisError], str]]:
        # Subclass constructors format their message from domain values; rebuilding from the
        # message alone keeps pickling (Ray task errors) independent of those signatures.
        return (_restore, (type(self), self.message))


def _restore(cls: type[AisError], message: str) -> AisError:
    err = cls.__new__(cls)
    AisError.__init__(err, message)
    return err


class ErrBadRequest(AisError):
    status = 400


class ErrInvalidName(ErrBadRequest):
    pass


class ErrInvalidTemplate(ErrBadRequest):
    pass


class ErrInvalidSize(ErrBadRequest):
    pass


class ErrInvalidDuration(ErrBadRequest):
    pass


class ErrInvalidURL(ErrBadRequest):
    pass


class ErrInvalidValue(ErrBadRequest):
    pass


class ErrUnsupported(ErrBadRequest):
    pass


class ErrBusy(ErrBadRequest):
    """Go `cmn.ErrBusy` (400): `<what> "<name>" is currently busy (<detail>), please try again`."""

    def __init__(self, what: str, name: str, detail: str) -> None:
        super().__init__(f'{what} "{name}" is currently busy ({detail}), please try again')


class ErrJobRunning(ErrBadRequest):
    def __init__(self, job_id: str) -> None:
        super().__init__(f'job "{job_id}" is still running')


class ErrUnauthorized(AisError):
    status = 401


class ErrAccessDenied(AisError):
    status = 403


class ErrNotFound(AisError):
    status = 404


class ErrBckNotFound(ErrNotFound):
    def __init__(self, bck: object) -> None:
        super().__init__(f'bucket "{bck}" does not exist')


class ErrRemoteBckNotFound(ErrBckNotFound):
    pass


class ErrObjNotFound(ErrNotFound):
    def __init__(self, bck: object, name: str) -> None:
        super().__init__(f'object "{bck}/{name}" does not exist')


class ErrJobNotFound(ErrNotFound):
    def __init__(self, job_id: str) -> None:
        super().__init__(f'job "{job_id}" not found')


class ErrNodeNotFound(ErrNotFound):
    def __init__(self, sid: str) -> None:
        super().__init__(f'node "{sid}" does not exist (is not in the cluster map)')


class ErrBckAlreadyExists(AisError):
    status = 409

    def __init__(self, bck: object) -> None:
        super().__init__(f'bucket "{bck}" already exists')


class ErrEntityTooLarge(AisError):
    """A control request's body is over the API's bound (`serve/bodylimit.py`)."""

    status = 413


class ErrRangeNotSatisfiable(AisError):
    status = 416


class ErrPreconditionFailed(AisError):
    """A conditional write (`If-None-Match: *`, `If-Match`) found the object otherwise."""

    status = 412


class ErrBackend(AisError):
    """A remote source failed in a way the user cannot fix by changing the request."""

    status = 502


class ErrRangeIgnored(ErrBackend):
    """The source sent 200 and the whole object for a partial Range (Python's `http.server`).

    Only raised to callers that ask for it (`HttpBackend.read(..., strict_range=True)`): the blob
    downloader then reads one sequential stream instead of N ranges that each cost the prefix.
    """


class ErrNoTarget(AisError):
    """HRW found nothing to choose from: no active target (or mountpath) in the map."""

    status = 503


class ErrTargetOffline(ErrNoTarget):
    """The object's HRW owner is offline (its node lost, placement unchanged) and the bucket has no
    redundancy that spans targets (erasure coding): the object exists but cannot be served until the
    node returns — 503, not a 404 that would say it never existed."""


class ErrTimeout(AisError):
    status = 504


def error_body(err: AisError, *, method: str, url_path: str, node: str, remote_addr: str = "") -> dict[str, object]:
    """AIStore's JSON error body (Go `cmn.ErrHTTP`); the SDK maps errors by the bucket URI in `message`."""
    return {"message": err.message, "method": method, "url_path": url_path, "remote_addr": remote_addr,
            "caller": "", "node": node, "status": err.status, "tcode": type(err).__name__}


_BY_STATUS: dict[int, type[AisError]] = {
    400: ErrBadRequest, 401: ErrUnauthorized, 403: ErrAccessDenied, 404: ErrNotFound, 409: ErrBckAlreadyExists,
    413: ErrEntityTooLarge, 416: ErrRangeNotSatisfiable, 502: ErrBackend, 504: ErrTimeout,
}


def _classes(cls: type[AisError]) -> dict[str, type[AisError]]:
    out = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        out.update(_classes(sub))
    return out


def error_from_status(status: int, message: str, tcode: str = "") -> AisError:
    """Rebuild a typed error from an HTTP answer (client side): by its type code, else by status."""
    cls = _classes(AisError).get(tcode) or _BY_STATUS.get(status, ErrBadRequest if 400 <= status < 500 else AisError)
    return _restore(cls, message)
