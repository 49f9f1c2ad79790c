"""HTTP header and query names of AIStore's REST API (Go `api/apc/headers.go`, `query.go`)."""

from __future__ import annotations

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
# buckets
BUCKET_PROPS = "Ais-Bucket-Props"
BUCKET_SUMM = "Ais-Bucket-Summ"
XACTION_ID = "Ais-Xaction-Id"
# errors: the error's type, on bodiless (HEAD) replies (ours; the JSON body has it as "tcode")
ERROR_CODE = "Ais-Error-Code"
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

# object props a HEAD may ask for (Go `apc.GetPropsV2`); anything else is a 400
HEAD_PROPS = frozenset({
    "name", "size", "checksum", "atime", "version", "custom", "location", "copies", "ec",
    "chunked", "last-modified", "etag",
})
