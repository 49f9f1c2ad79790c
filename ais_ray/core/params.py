"""Accepted query parameters: one table per route and method, checked at every edge.

Both edges (the Serve API and the aiohttp servers of targets and mountpaths) call `check`
before a handler runs, so a parameter is either handled or refused with a 400 that names
it — never silently ignored. An empty value counts as absent (AIStore reads `""` as unset;
the SDK sends `archpath=""` next to `archregx`).

`REFUSED` lists AIStore parameters this cluster knows but does not implement, with the
feature's name for the error message; anything in neither table is unknown → 400 too.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ais_ray.core import headers as H
from ais_ray.core.errors import ErrBadRequest, ErrUnsupported

BCK = frozenset({H.Q_PROVIDER, H.Q_NAMESPACE})  # every bucket-addressed route

# mountpath actions (`/v1/daemon/mountpaths`, ais-wire-2 §3.4): attach label, "don't resilver"
_MPATH = frozenset({"mountpath_label", "dntres"})
# a node's log (`?what=log`, serve/logs.py): which file, from which byte, or all of them as a TAR.GZ
LOG = frozenset({"severity", "offset", "all"})

# route -> method -> accepted parameters (besides BCK)
ROUTES: dict[str, dict[str, frozenset[str]]] = {
    # every object route also takes the redirect grant (H.Q_GRANT) the API's 307 carries when auth is on
    "object": {
        # etl_*: inline transform (actors/etl_inline.py)
        "GET": frozenset({H.Q_ARCHPATH, H.Q_ARCHREGX, H.Q_ARCHMODE, H.Q_LATEST, "original_url", H.Q_GFN, H.Q_GRANT,
                          H.Q_ETL_NAME, "etl_args", "etl_pipeline"}),
        # object_to + latest-ver + synchronize: single-object copy (actors/objcopy.py), through an ETL with etl_*
        # uploadId + partNumber: a multipart part; append_type + append_handle: append (core/mpu.py::check_put)
        "PUT": frozenset({H.Q_OBJ_TO, H.Q_LATEST, H.Q_SYNC, "original_url", H.Q_GRANT, H.Q_ETL_NAME, "etl_args",
                          "etl_pipeline", "uploadId", "partNumber", "append_type", "append_handle"}),
        "POST": frozenset({"uploadId", H.Q_GRANT}),  # mpt-upload, mpt-complete (actors/mpu.py)
        # presence 2..4: only a stored copy counts (no remote HEAD): a copy's skip check
        "HEAD": frozenset({H.Q_PROPS, H.Q_PRESENCE, "original_url", H.Q_GRANT}),
        "DELETE": frozenset({"original_url", H.Q_GRANT, "uploadId"}),  # uploadId: mpt-abort
        "PATCH": frozenset({H.Q_NEW_CUSTOM, H.Q_GRANT}),  # set custom metadata (merge, or replace with set-new-custom)
    },
    "objects": {"POST": frozenset()},  # blob-download action
    "buckets": {"GET": frozenset({H.Q_PRESENCE}), "HEAD": frozenset()},  # presence 0: the cloud's buckets too
    "bucket": {
        "GET": frozenset(),  # list-objects (flags in the body: core/lsflags.py)
        # copy-bck: destination and which source objects (other actions refuse them themselves)
        "POST": frozenset({"bck_to", "presence"}),
        "PUT": frozenset(),  # archive (the destination in the body's `tobck`)
        "DELETE": frozenset({"keep_bck_md"}),
        "PATCH": frozenset({"frc"}),  # set-bprops: force (EC objsize_limit)
        "HEAD": frozenset({"presence", H.Q_UUID, "bsumm_remote"}),
    },
    "cluster": {"GET": frozenset({H.Q_WHAT}), "PUT": frozenset(), "POST": frozenset(), "DELETE": frozenset()},
    "daemon": {"GET": frozenset({H.Q_WHAT}) | LOG, "PUT": _MPATH, "POST": _MPATH, "DELETE": _MPATH},
    "reverse": {"GET": frozenset({H.Q_WHAT}) | LOG, "PUT": _MPATH, "POST": _MPATH, "DELETE": _MPATH},
    "health": {"GET": frozenset({"prr"})},  # prr: the SDK's is_ready (primary ready for rebalance)
    "download": {"GET": frozenset({"id"}), "POST": frozenset(), "DELETE": frozenset()},
    "etl": {"GET": frozenset({H.Q_UUID}), "PUT": frozenset(), "POST": frozenset(), "DELETE": frozenset()},  # serve/etl.py
    "ec": {"GET": frozenset({H.Q_WHAT}), "PUT": frozenset(), "DELETE": frozenset()},  # internal: EC slices (ec/peers.py)
    "ml": {"GET": frozenset({"coloc", H.Q_GRANT})},  # GetBatch; coloc: a placement hint, taken as none
}

# known AIStore parameters that are not implemented here: name -> the feature, for the message
REFUSED: dict[str, str] = {
    "etl_fqn": "ETL's direct FQN (workers get the file path from the mountpath itself)",
}


def check_not_log(what: str, query: Mapping[str, str]) -> None:
    """`severity`, `offset` and `all` belong to `what=log` (serve/logs.py): a 400 naming one given with another `what`."""
    if what == "log":
        return
    for key in sorted(LOG):
        if query.get(key):
            raise ErrBadRequest(f'query parameter "{key}" applies to what=log only (got what="{what}")')


def route_of(path: str) -> str:
    """The table's route name for an API path ("" for paths outside the table, e.g. /docs)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "v1":
        return ""
    head = parts[1]
    if head == "objects":
        return "object" if len(parts) > 3 else "objects"
    if head == "buckets":
        return "bucket" if len(parts) > 2 else "buckets"
    return head if head in ROUTES else ""


def accepted(route: str, method: str) -> frozenset[str] | None:
    by_method = ROUTES.get(route)
    if by_method is None:
        return None
    return BCK | by_method.get(method, frozenset())


def check(method: str, path: str, query: Iterable[tuple[str, str]]) -> None:
    """400 naming the first parameter this route does not handle (non-empty value)."""
    route = route_of(path)
    ok = accepted(route, method)
    if ok is None:
        return
    for key, value in query:
        if key in ok or value == "":
            continue
        if key in REFUSED:
            raise ErrUnsupported(f'query parameter "{key}" ({REFUSED[key]}) is not supported on {method} {path}')
        raise ErrBadRequest(f'invalid query parameter "{key}" for {method} /v1/{route} '
                            f'(accepted: {", ".join(sorted(ok))})')
