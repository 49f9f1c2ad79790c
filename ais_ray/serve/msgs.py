"""Every JSON body the REST API accepts, as pydantic models (the edge only: STYLE §7).

A body is parsed once, here, before any handler looks at it (`serve/wire.py::read_body`):
wrong types, a non-object where an object belongs, nesting beyond `MAX_DEPTH` → 400 with
AIStore's error body, never a 500. Field names are the wire names the official SDK and Go
(`apc.ActMsg`, `apc.LsoMsg`, `apc.ListRange`, `apc.TCBMsg`, `dload.Body`, `xact.ArgsMsg`) use.

`ACTIONS` says, per action, which model its `value` has; `ROUTE_ACTIONS` which actions each
route and method takes (also what `/openapi.json` declares for that operation).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, StrictBool, StrictInt, model_validator

MAX_DEPTH = 32  # deepest JSON nesting any body needs is 4 (a bucket's namespace inside a value)


def _not_negative(n: int) -> int:
    if n < 0:
        raise ValueError(f"must not be negative, got {n}")
    return n


NonNegativeInt = Annotated[int, AfterValidator(_not_negative)]


class _Msg(BaseModel):
    """Unknown fields are ignored, as Go's JSON decoder ignores them."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class NsMsg(_Msg):
    uuid: str = ""
    name: str = ""


class BckMsg(_Msg):
    """A bucket in a body (Go `cmn.Bck`): strings only, validated further by `core/names.py`."""

    name: str = ""
    provider: str = ""
    namespace: NsMsg | None = None


class ActionMsg(_Msg):
    """`{"action": A, "name": N, "value": V}` (Go `apc.ActMsg`); `value` is checked by `ACTIONS`."""

    action: str = ""
    name: str = ""
    value: Any = None


class LsoMsg(_Msg):
    """List-objects request (Go `apc.LsoMsg`); `flags` is a decimal string bitmask."""

    prefix: str = ""
    pagesize: NonNegativeInt = 0
    uuid: str = ""
    props: str = ""
    continuation_token: str = ""
    flags: NonNegativeInt = 0
    target: str = ""
    start_after: str = ""
    time_format: str = ""  # a Go layout of `core/durations.py::TIME_FORMATS` ("": RFC822)


class BsummMsg(_Msg):
    """Bucket summary (Go `apc.BsummCtrlMsg`): start (no uuid) or poll (uuid)."""

    uuid: str = ""
    prefix: str = ""
    fast: bool = False
    cached: bool = False
    present: bool = False


class ListRangeMsg(_Msg):
    """A multi-object selection (Go `apc.ListRange`): names, or a range template."""

    objnames: list[str] | None = None
    template: str = ""


class PrefetchMsg(ListRangeMsg):
    """Go `apc.PrefetchMsg`."""

    latest_ver: bool = Field(False, alias="latest-ver")
    coer: bool = False
    blob_threshold: NonNegativeInt = Field(0, alias="blob-threshold")
    num_workers: NonNegativeInt = Field(0, alias="num-workers")


class TcbMsg(ListRangeMsg):
    """Copy a bucket or a selection (Go `apc.TCBMsg`, `apc.TCOMsg` with `tobck`)."""

    prefix: str = ""
    prepend: str = ""
    dry_run: bool = False
    force: bool = False
    latest_ver: bool = Field(False, alias="latest-ver")
    synchronize: bool = False
    non_recurs: bool = Field(False, alias="non-recurs")
    ext: dict[str, str] | None = None
    num_workers: int = Field(0, alias="num-workers", ge=-1)
    coer: bool = False
    tobck: BckMsg | None = None


class EtlTcbMsg(TcbMsg):
    """Offline transform (Go `apc.TCBMsg` with `Transform`): a copy's fields plus the ETL."""

    id: str = ""
    request_timeout: str | int = ""
    pipeline: list[str] | None = None


class EnvVar(_Msg):
    name: str
    value: str = ""


class EtlRuntime(_Msg):
    image: str = ""
    command: list[str] | None = None
    env: list[EnvVar] | None = None


class EtlSpecMsg(_Msg):
    """`PUT /v1/etl` (Go `etl.ETLSpecMsg`; fields checked further by `core/etl.py`)."""

    name: str = ""
    communication: str = ""
    init_timeout: str | int = ""
    obj_timeout: str | int = ""
    support_direct_put: bool = False
    env: list[EnvVar] | None = None
    runtime: EtlRuntime | None = None
    spec: str = ""  # the deprecated InitSpecMsg's pod spec: refused with a message


class VersioningMsg(_Msg):
    enabled: bool | None = None


class BpropsMsg(BaseModel):
    """`set-bprops`, or `create-bck` with props (Go `cmn.BpropsToSet`): what ais-ray can change.
    `mirror` and `ec` fields are typed by `core/redundancy.py` (AIStore's messages); other keys are
    kept so that the handler names them in its 400 ("cannot be set here")."""

    model_config = ConfigDict(extra="allow")
    backend_bck: BckMsg | None = None
    versioning: VersioningMsg | None = None
    mirror: Any = None  # an object of MirrorConf fields: checked by core/redundancy.py
    ec: Any = None  # an object of ECConf fields: likewise


class CopiesMsg(RootModel[StrictInt]):
    """`make-n-copies`: the number of copies itself is the value (Go `ActMakeNCopies`)."""


class EcEncodeMsg(RootModel[Any]):
    """`ec-encode`: the value is a JSON *string* of ECConf fields (Go `ECEncodeBucket`), checked by
    `core/ec.py parse_encode` with AIStore's message."""


class ResetStatsMsg(RootModel[bool | None]):
    """`reset-stats`: errors only (Go `errorsOnly`)."""


class BlobMsg(_Msg):
    """`blob-download` (Go `apc.BlobMsg`): chunk size as bytes or a size string."""

    chunk_size: NonNegativeInt | str | None = Field(None, alias="chunk-size")
    num_workers: int | str | None = Field(None, alias="num-workers")
    latest_ver: bool = Field(False, alias="latest-ver")


class PromoteMsg(_Msg):
    """`promote` (Go `apc.PromoteArgs`): the source, the object name or prefix, the flags."""

    tid: str = ""
    src: str = ""
    obj: str = ""
    rcr: StrictBool = False
    ovw: StrictBool = False
    dls: StrictBool = False
    notshr: StrictBool = False


class JobArgs(_Msg):
    """A job query or action (Go `xact.ArgsMsg`). Go decodes keys case-insensitively (`ID`, `id`);
    other keys (e.g. `DaemonID` of a resilver) pass through, lowercased."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field("", alias="ID")
    kind: str = Field("", alias="Kind")
    bck: BckMsg | None = Field(None, alias="Bck")
    show_active: bool = False

    @model_validator(mode="before")
    @classmethod
    def _lower_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {"id": "ID", "kind": "Kind", "bck": "Bck"}
        return {names.get(str(k).lower(), str(k).lower()): v for k, v in data.items()}


class RmNodeMsg(BaseModel):
    """A membership action's value (Go `apc.ActValRmNode`: `sid` or `sids`, flags): an object,
    whose fields `core/members.py::RmNode.from_wire` checks (with AIStore's messages)."""

    model_config = ConfigDict(extra="allow")


class MptPart(_Msg):
    """One part of `mpt-complete` (Go `apc.MptCompletedPart`); the data server reads it (core/mpu.py)."""

    part_number: int = Field(alias="part-number")
    etag: str = ""


class MptPartsMsg(RootModel[list[MptPart]]):
    pass


class NoValue(_Msg):
    """An action that takes no value (any object is accepted and ignored)."""


# action -> the model of its `value`
ACTIONS: dict[str, type[BaseModel]] = {
    "list": LsoMsg,
    "summary-bck": BsummMsg,
    "prefetch-listrange": PrefetchMsg,
    "evict-listrange": ListRangeMsg,
    "delete-listrange": ListRangeMsg,
    "copy-bck": TcbMsg,
    "copy-listrange": TcbMsg,
    "etl-bck": EtlTcbMsg,
    "etl-listrange": EtlTcbMsg,
    "create-bck": BpropsMsg,
    "make-n-copies": CopiesMsg,
    "ec-encode": EcEncodeMsg,
    "reset-stats": ResetStatsMsg,
    "destroy-bck": NoValue,
    "evict-remote-bck": NoValue,
    "set-bprops": BpropsMsg,
    "blob-download": BlobMsg,
    "promote": PromoteMsg,
    "stop": JobArgs,
    "start": JobArgs,
    "start-maintenance": RmNodeMsg,
    "stop-maintenance": RmNodeMsg,
    "decommission-node": RmNodeMsg,
    "shutdown-node": RmNodeMsg,
    "mpt-upload": NoValue,  # native multipart: read by the owner's data server (actors/mpu.py)
    "mpt-complete": MptPartsMsg,
    "mpt-abort": NoValue,
}

# (route, method) -> the actions it takes ("" = no action: list objects)
ROUTE_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("/v1/buckets/{bucket}", "GET"): ("list", "summary-bck"),
    ("/v1/buckets/{bucket}", "POST"): ("create-bck", "prefetch-listrange", "copy-bck", "copy-listrange",
                                       "etl-bck", "etl-listrange", "make-n-copies", "ec-encode"),
    ("/v1/buckets/{bucket}", "DELETE"): ("destroy-bck", "evict-remote-bck", "evict-listrange", "delete-listrange"),
    ("/v1/buckets/{bucket}", "PATCH"): ("set-bprops",),
    ("/v1/objects/{bucket}", "POST"): ("blob-download", "promote"),
    ("/v1/objects/{bucket}/{obj}", "POST"): ("mpt-upload", "mpt-complete"),
    ("/v1/objects/{bucket}/{obj}", "DELETE"): ("mpt-abort",),
    ("/v1/cluster", "PUT"): ("stop", "start", "start-maintenance", "stop-maintenance", "decommission-node",
                             "shutdown-node", "reset-stats"),
}


class DlLimits(_Msg):
    connections: NonNegativeInt = 0
    bytes_per_hour: NonNegativeInt = 0


class DlBody(_Msg):
    """Go `dload.Body`: the base fields plus those of the job type."""

    type: Literal["single", "multi", "range", "backend"]
    bucket: BckMsg
    description: str = ""
    timeout: str = ""
    progress_interval: str = ""
    limits: DlLimits = Field(default_factory=DlLimits)
    headers: dict[str, str] = Field(default_factory=dict)
    link: str = ""
    object_name: str = ""
    objects: list[str] | dict[str, str] | None = None
    template: str = ""
    subdir: str = ""
    prefix: str = ""
    suffix: str = ""
    synchronize: bool = False
    sync: bool = False
    fsync: Literal["object", "batch", "off", ""] = ""  # ais-ray: when objects are made durable (core/dload.py)


class DlIdMsg(_Msg):
    """Download status / abort / remove (Go `dload.AdminBody`)."""

    id: str = ""
    regex: str = ""
    only_active_tasks: bool = False


# other routes -> the model of their whole body
BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/v1/cluster", "GET"): JobArgs,
    ("/v1/download", "POST"): DlBody,
    ("/v1/etl", "PUT"): EtlSpecMsg,
    ("/v1/download", "GET"): DlIdMsg,
    ("/v1/download/abort", "DELETE"): DlIdMsg,
    ("/v1/download/remove", "DELETE"): DlIdMsg,
}


def json_depth(data: Any) -> int:
    """How deep `data` (parsed JSON) nests; iterative, so any depth is measured without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node)
    return deepest
