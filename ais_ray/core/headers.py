"""HTTP header and query names of AIStore's REST API (Go `api/apc/headers.go`, `query.go`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ais_ray.core.names import Bucket

# object metadata (HEAD / GET replies)
OBJ_NAME = "ais-name"
BUCKET_NAME = "ais-bucket-name"
BUCKET_PROVIDER = "ais-bucket-provider"
CKSUM_TYPE = "ais-checksum-type"
CKSUM_VAL = "ais-checksum-value"
ATIME = "ais-atime"
VERSION = "ais-version"
COPY_CUSTOM = "ais-copy-custom"  # a copy between mountpaths: the source's custom metadata (JSON), kept
CUSTOM_MD = "ais-custom-md"
Q_NEW_CUSTOM = "set-new-custom"  # PATCH an object's custom metadata: replace it (else merged)
LOCATION = "ais-location"
PRESENT = "Ais-Present"
MIRROR_COPIES = "ais-mirror-copies"
MIRROR_PATHS = "ais-mirror-paths"  # comma-separated mountpaths of the replicas
# buckets
BUCKET_PROPS = "Ais-Bucket-Props"
BUCKET_SUMM = "Ais-Bucket-Summ"
XACTION_ID = "Ais-Xaction-Id"
# errors: the error's type, on bodiless (HEAD) replies (ours; the JSON body has it as "tcode")
ERROR_CODE = "Ais-Error-Code"
LAST_MODIFIED = "Last-Modified"  # HTTP date (the SDK's ObjectAttributes.last_modified)
ETAG = "ETag"  # quoted (the SDK strips the quotes)
# blob downloader (GET)
BLOB_DOWNLOAD = "ais-blob-download"
BLOB_CHUNK = "ais-blob-chunk"
BLOB_WORKERS = "ais-blob-workers"
# rebalance / resilver / get-from-neighbor between nodes (ours): the object's whole stored
# metadata (base64 of its `user.ais.lom` JSON), kept by the receiver; the moving xaction's id
REB_ATTRS = "Ais-Reb-Attrs"
REB_ID = "Ais-Reb-Id"
NODE_ID = "Ais-Node-Id"  # /v1/reverse/daemon: the target the request is for

# query parameters
Q_PROVIDER = "provider"
Q_NAMESPACE = "namespace"
Q_PROPS = "props"
Q_LATEST = "latest-ver"
Q_SYNC = "synchronize"
Q_OBJ_TO = "object_to"  # PUT: copy this object to the object named by this uname
Q_ETL_NAME = "etl_name"
Q_WHAT = "what"
Q_GFN = "gfn"  # GET from a neighbor: serve only what is stored here (no GFN of its own, no cold GET)
Q_UUID = "uuid"
Q_PRESENCE = "presence"  # which objects/buckets count: in the cluster, or at the remote too (Go apc.Flt*)
Q_ARCHPATH = "archpath"  # GET: one member of a shard
Q_ARCHREGX = "archregx"  # GET: the members matching (a TAR of them)
Q_ARCHMODE = "archmode"  # regexp | prefix | suffix | substr | wdskey
Q_GRANT = "ais_grant"  # a 307's signed grant for one method and object path (auth/tokens.py)

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})


def is_true(value: str | None) -> bool:
    """A boolean query parameter (`?latest-ver=true`): one reading for every route."""
    return (value or "").strip().lower() in TRUE_WORDS


# object props a HEAD may ask for (Go `apc.GetPropsV2`); anything else is a 400
HEAD_PROPS = frozenset({
    "name", "size", "checksum", "atime", "version", "custom", "location", "copies", "ec",
    "chunked", "last-modified", "etag",
})


def last_modified(seconds: float) -> str:
    """HTTP date (RFC 7231) of a modification time; "" when unknown."""
    if seconds <= 0:
        return ""
    # = email.utils.formatdate(seconds, usegmt=True) at a fraction of its cost (every GET and HEAD sends one)
    t = time.gmtime(seconds)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def etag(src_etag: str, cksum: str) -> str:
    """The remote source's ETag when it came from one, else the content checksum; quoted."""
    tag = (src_etag or cksum).strip('"')
    return f'"{tag}"' if tag else ""


def bck_query(bck: Bucket) -> dict[str, str]:
    """The query naming a bucket on the wire: `provider`, and `namespace` unless global."""
    params = {Q_PROVIDER: bck.provider.value}
    if not bck.ns.is_global:
        params[Q_NAMESPACE] = str(bck.ns)
    return params


def head_headers(length: int, headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """`headers` of an answer to HEAD, with the Content-Length its GET's body would have. An
    answer without one costs an aiohttp client its connection (it cannot tell where the answer
    ends): every 404 the copy jobs' "is it there already?" got was a new TCP connection."""
    return {**(headers or {}), "Content-Length": str(length)}
