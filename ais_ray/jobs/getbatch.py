"""GetBatch (`GET /v1/ml/moss[/<bucket>]`, AIStore's x-moss; the SDK's `client.batch(...)`): many
objects, or files inside shards, in one reply — an archive (tar, tgz, zip) whose members come in
exactly the order asked.

The proxy answers with a 307 to a designated target's mountpath data server (a random one), which
reads every item from the mountpath that holds it (a GET there: a remote object is fetched, a
lost one rebuilt; `archpath` takes one file out of a shard there) a few ahead and writes the
archive as the items come (`strm`, the SDK's default), or whole, after a JSON part that says what
each item was (`strm: false`: multipart/mixed, `MossResp` then the archive). A missing item is an
empty `__404__/<name>` member under `coer` (the SDK's default), else the request fails: a 4xx
before anything was sent, a cut connection after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ais_ray.core.errors import ErrBadRequest, ErrUnsupported
from ais_ray.core.names import Bucket, Provider, parse_bck_uname, validate_bucket_name, validate_obj_name
from ais_ray.core.shardfmt import TAR, format_for

MISSING_DIR = "__404__"
MAX_ITEMS = 1_000_000


@dataclass(frozen=True, slots=True)
class BatchItem:
    bck: Bucket
    name: str
    archpath: str = ""
    opaque: str = ""  # as sent (base64), passed back in the metadata part

    def member(self, only_name: bool) -> str:
        """The item's name in the reply: `<bucket>/<object>[/<archpath>]` (`onob`: without the bucket)."""
        base = self.name if only_name else f"{self.bck.name}/{self.name}"
        return f"{base}/{self.archpath}" if self.archpath else base

    def out(self, size: int, err: str = "") -> dict[str, Any]:
        """Its `MossOut`."""
        d: dict[str, Any] = {"objname": self.name, "bucket": self.bck.name, "provider": self.bck.provider.value,
                             "size": size}
        if self.archpath:
            d["archpath"] = self.archpath
        if self.opaque:
            d["opaque"] = self.opaque
        if err:
            d["err_msg"] = err
        return d


@dataclass(frozen=True, slots=True)
class BatchSpec:
    items: tuple[BatchItem, ...]
    fmt: str = TAR
    coer: bool = False
    only_name: bool = False
    streaming: bool = False

    @classmethod
    def parse(cls, body: Any, default: Bucket | None) -> BatchSpec:
        """A `MossReq` (or an action message `{"action": "getbatch", "value": MossReq}`).

        Raises:
            ErrBadRequest: not that shape, no items, an item without a bucket (none in the path
            either), a bad name, archpath or opaque value. ErrUnsupported: an output format
            other than tar, tgz, zip; a byte range (`start` / `length`, not in AIStore either).
        """
        if isinstance(body, Mapping) and "action" in body:
            body = body.get("value")
        if not isinstance(body, Mapping):
            raise ErrBadRequest('get-batch: expecting a JSON object {"in": [{"objname": ...}, ...], ...}')
        raw = body.get("in")
        if not isinstance(raw, list) or not raw:
            raise ErrBadRequest('get-batch: "in" must list at least one item')
        if len(raw) > MAX_ITEMS:
            raise ErrBadRequest(f"get-batch: {len(raw)} items, more than {MAX_ITEMS}")
        flags = {}
        for key in ("coer", "onob", "strm"):
            v = body.get(key) or False
            if not isinstance(v, bool):
                raise ErrBadRequest(f'get-batch: "{key}" must be true or false, got {v!r}')
            flags[key] = v
        mime = body.get("mime") or ""
        if not isinstance(mime, str):
            raise ErrBadRequest('get-batch: "mime" must be a string, e.g. ".tar"')
        fmt = format_for("get-batch", mime) if mime else TAR
        return cls(tuple(_item(i, d, default) for i, d in enumerate(raw)), fmt, flags["coer"], flags["onob"],
                   flags["strm"])


def _item(i: int, d: Any, default: Bucket | None) -> BatchItem:
    if not isinstance(d, Mapping):
        raise ErrBadRequest(f'get-batch: item {i}: expecting {{"objname": ...}}')
    name = d.get("objname")
    if not isinstance(name, str) or not name:
        raise ErrBadRequest(f'get-batch: item {i}: missing "objname"')
    validate_obj_name(name)
    if d.get("start") or d.get("length"):
        raise ErrUnsupported(f"get-batch: item {i}: byte ranges (start, length) are not supported")
    bck = default
    if d.get("uname"):
        bck = parse_bck_uname(str(d["uname"]))
    elif d.get("bucket"):
        bck = Bucket(validate_bucket_name(str(d["bucket"])), Provider.parse(str(d.get("provider") or "ais")))
    elif d.get("provider") and default is not None:
        bck = Bucket(default.name, Provider.parse(str(d["provider"])), default.ns)
    if bck is None:
        raise ErrBadRequest(f'get-batch: item {i} ("{name}"): no bucket (name one in the item or the path)')
    archpath = d.get("archpath") or ""
    if not isinstance(archpath, str) or archpath.startswith("/") or ".." in archpath.split("/"):
        raise ErrBadRequest(f'get-batch: item {i}: invalid archpath {archpath!r}')
    opaque = d.get("opaque") or ""
    if not isinstance(opaque, str):
        raise ErrBadRequest(f"get-batch: item {i}: opaque must be a (base64) string")
    return BatchItem(bck, name, archpath, opaque)
