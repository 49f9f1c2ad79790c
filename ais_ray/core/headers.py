"""HTTP header and query names of AIStore's REST API (Go `api/apc/headers.go`, `query.go`)."""

from __future__ import annotations

from email.utils import formatdate

# object metadata (HEAD / GET replies)
OBJ_NAME = "ais-name"
BUCKET_NAME = "ais-bucket-name"
BUCKET_PROVIDER = "ais-bucket-provider"
CKSUM_TYPE = "ais-checksum-type"
CKSUM_VAL = "ais-checksum-value"
ATIME = "ais-atime"
VERSION = "ais-version"
CUSTOM_MD = "ais-custom-md"
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

# query parameters
Q_PROVIDER = "provider"
Q_NAMESPACE = "namespace"
Q_PROPS = "props"
Q_LATEST = "latest-ver"
Q_SYNC = "synchronize"
Q_OBJ_TO = "object_to"  # PUT: copy this object to the object named by this uname
Q_ETL_NAME = "etl_name"
Q_WHAT = "what"
Q_UUID = "uuid"
Q_PRESENCE = "presence"  # which objects/buckets count: in the cluster, or at the remote too (Go apc.Flt*)
Q_ARCHPATH = "archpath"  # GET: one member of a shard
Q_ARCHREGX = "archregx"  # GET: the members matching (a TAR of them)
Q_ARCHMODE = "archmode"  # regexp | prefix | suffix | substr | wdskey

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
    return formatdate(seconds, usegmt=True) if seconds > 0 else ""


def etag(src_etag: str, cksum: str) -> str:
    """The remote source's ETag when it came from one, else the content checksum; quoted."""
    tag = (src_etag or cksum).strip('"')
    return f'"{tag}"' if tag else ""
