"""Offline transform (`etl-bck`, `etl-listrange`): a copy job with ETL stages between read and write.

AIStore runs these as x-tcb / x-tco with `OwtTransform` (ais-wire-2 §2.5), and so does ais-ray:
the job is the copy engine (`jobs/copy.py`: selection, prepend, ext, dry-run, sync, `--all` on a
remote source, remote destination, resume) with `CopySpec.etl` set; each object's mountpath
sends it through the stages on its node's workers (`actors/etl_pool.py`, batched) and writes the
result as `Owt.TRANSFORM`. Per-object failures are kept with the job's share (`OBJ_ERRORS` in
its snapshot's extras, at most `MAX_OBJ_ERRS` per target) for `GET /v1/etl/<name>?uuid=<job>`.
"""

from __future__ import annotations

from typing import Any

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.etl import parse_pipeline, validate_etl_name

KIND_ETL_BCK = "etl-bck"
KIND_ETL_OBJS = "etl-listrange"
KINDS = (KIND_ETL_BCK, KIND_ETL_OBJS)
OBJ_ERRORS = "obj_errors"


def etl_stages(value: Any) -> tuple[str, ...]:
    """The ETL stages of an `etl-bck` / `etl-listrange` value (Go `apc.TCBMsg.Transform`:
    `{"id": name, "pipeline": [names] | null, "request_timeout"}`).

    Raises:
        ErrBadRequest: no ETL named; ErrInvalidName: a stage's name.
    """
    if not isinstance(value, dict) or not value.get("id"):
        raise ErrBadRequest('etl: missing the ETL name ("id") in the action\'s value')
    return (validate_etl_name(str(value["id"])), *parse_pipeline(value.get("pipeline") or None, "pipeline"))
