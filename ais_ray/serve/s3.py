"""The S3 API at `/s3` (issue 19): S3 requests translated to the native API, on the same engine.

Addressing: path style (`/s3` lists buckets, `/s3/<bucket>` is a bucket, `/s3/<bucket>/<key>` an
object) and virtual-host style (`Host: <bucket>.localhost`, or a domain in $AIS_RAY_S3_DOMAINS).
Bucket calls (create, head, delete, list objects) become native API calls to Ray Serve
(`ais_ray.client`, the same routes the SDK uses); object calls go to the owning mountpath, found by
HRW from the front door's cached Smap, and their bytes are streamed through (S3 clients do not
follow a 307 on PUT), never buffered. A bucket name means the ais bucket of that name, else the
bucket of that name of any other provider the cluster knows (`s3://src` cached here), as AIStore
resolves S3 names. Answers use S3's XML bodies and error codes (`serve/s3_xml.py`).

Multipart: `serve/s3_mpu.py`, on the multipart store the native API shares (`actors/mpu.py`).
Auth on (`ais-ray up --auth`): every request is SigV4-signed with a key of `ais-ray auth s3-key`
and the key's access decides each call (`serve/s3_auth.py`, `auth/sigv4.py`); auth off: anything
is accepted, signed or not, as AIStore does.
"""

from __future__ import annotations

import base64
import email.utils
import json
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import ray
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ais_ray.auth.gate import cluster_secret, internal_auth
from ais_ray.client import AisClient
from ais_ray.core import headers as H
from ais_ray.core import s3meta
from ais_ray.core.auth import Access
from ais_ray.core.bmd import bucket_from_key, remote_of
from ais_ray.core.durations import ISO8601
from ais_ray.core.lsflags import NO_RECURSION
from ais_ray.core.errors import AisError, ErrBadRequest, ErrObjNotFound
from ais_ray.core.ranges import parse_range
from ais_ray.core.names import Bucket, Provider, validate_bucket_name, validate_obj_name
from ais_ray.actors.target import target_actor_name
from ais_ray.actors.target_reads import NearReads
from ais_ray.core.nodes import NAMESPACE
from ais_ray.serve.objects import owner_of
from ais_ray.serve.s3_auth import CLAIMS, PREFIX, allow, authenticate
from ais_ray.serve.s3_body import upload_body
from ais_ray.serve.s3_mpu import S3Multipart
from ais_ray.serve.s3_xml import NS, S3Error, check_answer, el, int_param, iso8601, owner, s3_error, xml_body
from ais_ray.serve.state import ApiState

MAX_KEYS = 1000
# S3's subresources this gateway does not implement: a request naming one is answered 501, never taken
# for the plain call on the same path (`PUT ?tagging` is not a PUT of the object, `DELETE ?policy` not
# the bucket's deletion). AIStore answers GET `?acl|cors|lifecycle|policy` so (`ais/prxs3.go`).
UNSUPPORTED = frozenset({
    "accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering", "inventory",
    "legal-hold", "lifecycle", "logging", "metadataTable", "metrics", "notification", "object-lock",
    "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "renameObject", "replication",
    "requestPayment", "restore", "retention", "select", "select-type", "session", "tagging", "torrent", "versions",
    "website"})
CONDITIONS = frozenset({"if-match", "if-none-match", "if-modified-since", "if-unmodified-since"})
NO_VERSION = "null"  # the one version id of an object in a bucket never versioned the S3 way
_PAST = "\U0010ffff"  # sorts after any character a name can hold: `a/` + this is past every `a/...`


def _token_out(last: str, native: str) -> str:
    """A V2 continuation token: the last key returned and the native listing's token to resume
    from ("" for a bucket listed here: its walk seeks to the key)."""
    return base64.urlsafe_b64encode(json.dumps([last, native], separators=(",", ":")).encode()).decode()


def _token_in(token: str) -> tuple[str, str]:
    """(last key, native token) of `_token_out`; ValueError if it is not one."""
    got = json.loads(base64.urlsafe_b64decode(token.encode()))
    if not (isinstance(got, list) and len(got) == 2 and all(isinstance(x, str) for x in got)):
        raise ValueError(token)
    return got[0], got[1]


def _url_encoded(name: str) -> str:
    """A name in a listing asked with `encoding-type=url`: percent-encoded UTF-8, `/` kept (S3's own)."""
    return quote(name, safe="/", errors="surrogatepass")


# Host names whose subdomains name a bucket (virtual-host style); others are path style
VHOST_DOMAINS = ("localhost", *(d.strip().lower() for d in os.environ.get("AIS_RAY_S3_DOMAINS", "").split(",")
                                if d.strip()))
# the headers of a native object answer an S3 client reads (the rest are AIStore's own)
PASS_HEADERS = ("Content-Length", "Content-Range", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges")
# a GET's query may set these headers of its answer (S3's response-* overrides: a presigned link that
# downloads as a file name, or opens as a type)
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type", "response-content-language": "Content-Language",
                      "response-expires": "Expires", "response-cache-control": "Cache-Control",
                      "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding"}


class S3Gateway:
    def __init__(self, serve_url: str, state: ApiState) -> None:
        # the gateway checks who may do what (SigV4 keys, `allow`), then calls the native API and
        # the data servers as the node it is (`internal_auth`: a no-op with auth off)
        self.api = AisClient(serve_url, direct=False, middlewares=(internal_auth,))
        self.state = state
        self._data: aiohttp.ClientSession | None = None
        self.mpu = S3Multipart(state, self.session, self.resolve,
                               lambda req, bck, key: self.preconditions(req, bck, key, source=True))
        # a GET whose mountpath is on this machine is sent from the file (no relay through this process)
        self.near = NearReads(lambda tid: ray.get_actor(target_actor_name(tid), namespace=NAMESPACE))

    def session(self) -> aiohttp.ClientSession:
        assert self._data is not None
        return self._data

    async def _open(self) -> None:
        """The sessions, opened on first use, on the front door's loop."""
        self._data = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False,
                                           timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                                           middlewares=(internal_auth,))
        await self.api.__aenter__()

    async def handle(self, req: web.Request) -> web.StreamResponse:
        raw = req.raw_path.split("?", 1)[0][len(PREFIX):].lstrip("/")
        if vbucket := virtual_bucket(req.host):  # virtual-host style: the bucket is in the Host
            raw = f"{quote(vbucket, safe='')}/{raw}"
        bucket, _, raw_key = raw.partition("/")
        bucket, key = unquote(bucket), unquote(raw_key)
        try:
            if (secret := cluster_secret()) is not None:
                req[CLAIMS] = authenticate(req, secret, resource="/" + raw)
            if self._data is None:
                await self._open()
            if unsupported := sorted(UNSUPPORTED.intersection(req.query)):
                if bucket:
                    await self.resolve(bucket)  # a bucket that is not there is still a 404
                raise S3Error(501, "NotImplemented", f"?{unsupported[0]} is not implemented")
            if not bucket:
                if req.method != "GET":
                    raise S3Error(405, "MethodNotAllowed", f"{req.method} /s3")
                allow(req, Access.RO)
                return await self.list_buckets()
            if not key:
                return await self.bucket_op(req, bucket)
            return await self.object_op(req, bucket, key, raw_key)
        except S3Error as e:
            return self.error(req, e, f"/{bucket}/{key}".rstrip("/"))
        except AisError as err:
            return self.error(req, s3_error(err, key=key), f"/{bucket}/{key}".rstrip("/"))

    def error(self, req: web.Request, e: S3Error, resource: str) -> web.Response:
        root = ET.Element("Error")
        el(root, "Code", e.code)
        el(root, "Message", e.message)
        el(root, "Resource", resource)
        el(root, "RequestId", "")
        if req.method == "HEAD":
            return web.Response(status=e.status, headers=H.head_headers(len(xml_body(root))))
        # a body left unread (a refused PUT) is not drained: the front door closes the connection (`close_unread`)
        return web.Response(status=e.status, body=xml_body(root), content_type="application/xml")

    # ---- buckets ---------------------------------------------------------------------------
    async def resolve(self, name: str, *, must_exist: bool = True) -> Bucket:
        """An S3 bucket name as the cluster's bucket: ais first, else the same name of another provider."""
        validate_bucket_name(name)
        ais = Bucket(name, Provider.AIS)
        bmd = await self.state.bmd()
        if bmd.get(ais) is None:
            await self.state.refresh(force=True)
            bmd = await self.state.bmd()
        if bmd.get(ais) is not None:
            return ais
        for key in sorted(bmd.buckets):
            other = bucket_from_key(key)
            if other.name == name and not other.ns.uuid and not other.ns.name:
                return other
        if must_exist:
            raise S3Error(404, "NoSuchBucket", f'bucket "{name}" does not exist')
        return ais

    async def list_buckets(self) -> web.Response:
        root = ET.Element("ListAllMyBucketsResult", xmlns=NS)
        owner(root)
        buckets = el(root, "Buckets")
        bmd = await self.state.bmd()
        for b in sorted(await self.api.list_buckets(), key=lambda b: b["name"]):
            props = bmd.get(Bucket(b["name"], Provider.parse(b["provider"])))
            e = el(buckets, "Bucket")
            el(e, "Name", b["name"])
            el(e, "CreationDate", iso8601(props.created if props is not None else 0))
        return web.Response(body=xml_body(root), content_type="application/xml")

    async def bucket_op(self, req: web.Request, name: str) -> web.Response:
        if "versioning" in req.query:
            return await self.versioning(req, await self.resolve(name))
        if req.method in ("PUT", "DELETE"):  # creating / destroying buckets is cluster-wide (core/auth.py)
            allow(req, Access.RW)
        if req.method == "PUT":
            bck = Bucket(validate_bucket_name(name), Provider.AIS)
            await self.api.create_bucket(bck)
            await self.state.refresh(force=True)
            return web.Response(status=200, headers={"Location": f"/{name}"})
        bck = await self.resolve(name)
        allow(req, Access.RO if req.method in ("GET", "HEAD") else Access.RW, bck)
        if req.method == "HEAD":
            return web.Response(status=200, headers=H.head_headers(0))
        if req.method == "DELETE":
            if bck.provider is not Provider.AIS:
                raise S3Error(400, "InvalidArgument", f"{bck} is a remote bucket: evict it with the native API")
            async for _ in self.api.list_objects(bck, props="name", page_size=1):
                raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
            await self.api.destroy_bucket(bck)
            await self.state.refresh(force=True)
            return web.Response(status=204)
        if req.method == "POST" and "delete" in req.query:
            return await self.delete_objects(req, bck)
        if req.method == "GET":
            if "uploads" in req.query:
                return await self.mpu.list_uploads(req, bck)
            if "location" in req.query:
                root = ET.Element("LocationConstraint", xmlns=NS)
                return web.Response(body=xml_body(root), content_type="application/xml")
            return await self.list_objects(req, bck)
        raise S3Error(405, "MethodNotAllowed", f"{req.method} on a bucket is not supported")

    async def versioning(self, req: web.Request, bck: Bucket) -> web.Response:
        """GET / PUT `?versioning`: the bucket's `versioning.enabled` (as AIStore's `getBckVersioningS3`)."""
        if req.method == "GET":
            allow(req, Access.RO, bck)
            root = ET.Element("VersioningConfiguration", xmlns=NS)
            if (await self.state.bucket_props(bck)).versioning:
                el(root, "Status", "Enabled")
            return web.Response(body=xml_body(root), content_type="application/xml")
        if req.method != "PUT":
            raise S3Error(405, "MethodNotAllowed", f"{req.method} ?versioning")
        allow(req, Access.RW, bck)
        try:
            status = ET.fromstring(await req.read()).findtext("{*}Status")
        except ET.ParseError as exc:
            raise S3Error(400, "MalformedXML", f"VersioningConfiguration: {exc}") from None
        if status not in ("Enabled", "Suspended"):
            raise S3Error(400, "MalformedXML", "VersioningConfiguration: Status must be Enabled or Suspended")
        await self.api.set_bucket_props(bck, {"versioning": {"enabled": status == "Enabled"}})
        await self.state.refresh(force=True)
        return web.Response(status=200)

    async def list_objects(self, req: web.Request, bck: Bucket) -> web.Response:
        """ListObjects V1 and V2: prefix, delimiter (common prefixes), max-keys, marker /
        continuation-token / start-after (the token is the last key returned, base64)."""
        q = req.query
        v2 = q.get("list-type") == "2"
        prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = int_param(q, "max-keys", MAX_KEYS, most=MAX_KEYS)
        after = q.get("start-after", "") if v2 else q.get("marker", "")
        token, native = q.get("continuation-token", ""), ""
        if v2 and token:
            try:
                after, native = _token_in(token)
            except ValueError:
                raise S3Error(400, "InvalidArgument", "invalid continuation-token") from None
        contents: list[dict[str, Any]] = []
        prefixes: list[str] = []
        truncated, last, resume = False, "", ""
        # The listing starts where this page does (`start_after`: an ais bucket's walk seeks there, so
        # page N costs one page, not N; past a common prefix already returned, past every name under
        # it). Where the bucket is listed here and the delimiter is "/", it is listed one level deep
        # (NO_RECURSION: a directory is one entry, its common prefix), `max-keys + 1` at a time;
        # otherwise in the native pages (a delimiter may fold a whole page into one common prefix).
        # A remote bucket has no seek by name: its V2 token also carries the remote's own token of the
        # page the next key is on (asked again, the remote gives that page again), so page N starts
        # there instead of at the bucket's first key; asked for `max-keys` at a time, one S3 page is
        # one remote page, and a page used up with a next one to come is a truncated S3 page.
        seek = after + _PAST if delim and after.endswith(delim) and after.startswith(prefix) else after
        local = remote_of(bck, await self.state.bucket_props(bck)) is None
        level = delim == "/" and local
        page_size = 0 if delim and not level else max_keys + 1 if local else max_keys
        # max-keys=0: an empty page that is not truncated (AWS: KeyCount 0, no token)
        async for page_token, entries, next_token in _no_pages() if max_keys == 0 else self.api.list_pages(
                bck, prefix=prefix, props="name,size,checksum,atime", page_size=page_size,
                flags=NO_RECURSION if level else 0, start_after=seek, time_format=ISO8601, token="" if local else native):
            for e in entries:
                name = e["n"]  # after `seek`, so after `after`
                cut = name.find(delim, len(prefix)) if delim else -1
                common = name[: cut + len(delim)] if cut >= 0 else ""  # folded into this common prefix
                if common and (common <= after or (prefixes and prefixes[-1] == common)):
                    continue
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                if common:
                    prefixes.append(common)
                else:
                    contents.append(e)
                last = common or name
            if truncated:  # inside this page: the next S3 page asks for it again
                resume = "" if local else page_token
                break
            if next_token and len(contents) + len(prefixes) >= max_keys:
                truncated, resume = True, "" if local else next_token
                break
        # `encoding-type=url` (boto3 always asks): names as URL-encoded UTF-8, so that any name, whatever
        # its characters, travels in XML; the SDKs decode them back
        enc = _url_encoded if q.get("encoding-type") == "url" else str
        root = ET.Element("ListBucketResult", xmlns=NS)
        el(root, "Name", bck.name)
        el(root, "Prefix", enc(prefix))
        if delim:
            el(root, "Delimiter", enc(delim))
        el(root, "MaxKeys", max_keys)
        if enc is not str:
            el(root, "EncodingType", "url")
        el(root, "IsTruncated", "true" if truncated else "false")
        if v2:
            el(root, "KeyCount", len(contents) + len(prefixes))
            if token:
                el(root, "ContinuationToken", token)
            if truncated:
                el(root, "NextContinuationToken", _token_out(last, resume))
            if "start-after" in q:
                el(root, "StartAfter", enc(q["start-after"]))
        else:
            el(root, "Marker", enc(q.get("marker", "")))
            if truncated:
                el(root, "NextMarker", enc(last))
        for e in contents:
            c = el(root, "Contents")
            el(c, "Key", enc(e["n"]))
            el(c, "LastModified", e.get("a") or iso8601(0))
            el(c, "ETag", f'"{e.get("cs", "")}"')
            el(c, "Size", e.get("s", 0))
            el(c, "StorageClass", "STANDARD")
        for p in prefixes:
            el(el(root, "CommonPrefixes"), "Prefix", enc(p))
        return web.Response(body=xml_body(root), content_type="application/xml")

    async def delete_objects(self, req: web.Request, bck: Bucket) -> web.Response:
        try:
            doc = ET.fromstring(await req.read())
        except ET.ParseError as exc:
            raise S3Error(400, "MalformedXML", f"DeleteObjects body: {exc}") from None
        quiet = (doc.findtext("{*}Quiet") or "").lower() == "true"
        objs = doc.findall("{*}Object")
        if len(objs) > MAX_KEYS:
            raise S3Error(400, "MalformedXML", f"DeleteObjects takes at most {MAX_KEYS} keys, got {len(objs)}")
        root = ET.Element("DeleteResult", xmlns=NS)
        for obj in objs:
            key = obj.findtext("{*}Key") or ""
            try:
                if (vid := obj.findtext("{*}VersionId")) is not None:
                    await self.check_version(bck, validate_obj_name(key), vid)
                await self.api.delete_object(bck, validate_obj_name(key))
            except ErrObjNotFound:
                pass  # S3 deletes are idempotent
            except (AisError, S3Error) as exc:
                err = exc if isinstance(exc, S3Error) else s3_error(exc, key=key)
                e = el(root, "Error")
                el(e, "Key", key)
                el(e, "Code", err.code)
                el(e, "Message", err.message)
                continue
            if not quiet:
                el(el(root, "Deleted"), "Key", key)
        return web.Response(body=xml_body(root), content_type="application/xml")

    # ---- objects ---------------------------------------------------------------------------
    async def object_op(self, req: web.Request, name: str, key: str, raw_key: str) -> web.StreamResponse:
        bck = await self.resolve(name)
        allow(req, Access.RO if req.method in ("GET", "HEAD") else Access.RW, bck)
        validate_obj_name(key)
        tsi, mp = await owner_of(bck, key, req.method)
        if "uploads" in req.query or "uploadId" in req.query:
            return await self.mpu.object_call(req, bck, key, mp.url)
        if req.method == "PUT" and "x-amz-copy-source" in req.headers:
            return await self.copy_object(req, bck, key)
        if req.method not in ("GET", "HEAD", "PUT", "DELETE"):
            raise S3Error(405, "MethodNotAllowed", f"{req.method} on an object is not supported")
        if "versionId" in req.query:
            if req.method == "PUT":
                raise S3Error(400, "InvalidArgument", "a PUT takes no versionId")
            try:
                await self.check_version(bck, key, req.query["versionId"])
            except ErrObjNotFound:
                if req.method == "DELETE":
                    return web.Response(status=204)
                raise
        if req.method in ("GET", "HEAD") and CONDITIONS.intersection(h.lower() for h in req.headers):
            if (not_modified := await self.preconditions(req, bck, key)) is not None:
                return not_modified
        if req.method == "GET" and "Range" in req.headers:
            try:
                parse_range(req.headers["Range"], 1 << 62)
            except ErrBadRequest:  # not a single byte range S3 serves: ignored, the whole object (RFC 9110 14.2)
                req = req.clone(headers=CIMultiDictProxy(CIMultiDict(
                    (k, v) for k, v in req.headers.items() if k.lower() != "range")))
        overrides = response_overrides(req)
        if req.method == "GET" and not overrides:
            if (local := await self.near.send(req, bck, key, mp.url, mp.path, tsi.daemon_id)) is not None:
                return local
        url = f"{mp.url}/v1/objects/{quote(bck.name, safe='')}/{raw_key}"
        params = {"provider": bck.provider.value}
        headers = {k: v for k, v in req.headers.items() if k.lower() in ("range", "content-type")}
        if req.method == "PUT":  # a conditional write: tested at the commit (`dataserver.write_precondition`)
            headers.update((k, v) for k, v in req.headers.items() if k.lower() in ("if-match", "if-none-match"))
        if req.method == "PUT":  # unframed and checked (serve/s3_body.py); its metadata kept (core/s3meta.py)
            if meta := s3meta.from_request(req.headers):
                headers[s3meta.WIRE] = s3meta.to_wire(meta)
            upload = upload_body(req)
            return await upload.relay(lambda data: self._relay(req, key, url, params, {**headers, **upload.headers()},
                                                               data))
        return await self._relay(req, key, url, params, headers, None, overrides)

    async def _relay(self, req: web.Request, key: str, url: str, params: dict[str, str], headers: dict[str, str],
                     body: Any, overrides: dict[str, str] | None = None) -> web.StreamResponse:
        """The object call sent on to its mountpath, its answer back as S3's (`overrides`: a GET's
        response-* headers; a HEAD with a Range answers as the GET of that range would: 206)."""
        async with self.session().request(req.method, url, params=params, headers=headers, data=body,
                                           allow_redirects=False) as up:
            try:
                await check_answer(up, key)
            except S3Error as e:
                if req.method == "DELETE" and e.code == "NoSuchKey":
                    return web.Response(status=204)  # S3 deletes are idempotent: nothing there is deleted
                raise
            if req.method == "DELETE":
                return web.Response(status=204)
            resp = web.StreamResponse(status=up.status)
            for k in PASS_HEADERS:
                if k in up.headers:
                    resp.headers[k] = up.headers[k]
            for k, v in up.headers.items():  # the object's S3 metadata (core/s3meta.py)
                if k.lower().startswith(s3meta.USER) or k in s3meta.SYSTEM:
                    resp.headers[k] = v
            if "Last-Modified" not in resp.headers and up.headers.get(H.ATIME, "").isdigit():
                resp.headers["Last-Modified"] = email.utils.formatdate(int(up.headers[H.ATIME]) / 1e9, usegmt=True)
            resp.headers.update(overrides or {})
            if req.method == "HEAD" and up.status == 200 and "Range" in req.headers:
                head_range(req.headers["Range"], resp)
            if req.method == "PUT":
                resp.headers.pop("Content-Length", None)
                resp.content_length = 0
            await resp.prepare(req)
            if req.method == "GET":
                async for chunk in up.content.iter_any():
                    await resp.write(chunk)
            await resp.write_eof()
            return resp

    async def preconditions(self, req: web.Request, bck: Bucket, key: str, *, source: bool = False) -> web.Response | None:
        """A conditional GET or HEAD (RFC 9110 13.2.2, as S3 evaluates them): 412 PreconditionFailed
        (If-Match, If-Unmodified-Since), a 304 to answer (If-None-Match, If-Modified-Since), or None:
        serve it. `source`: a copy's source (`x-amz-copy-source-if-*`): any condition that does not
        hold is a 412, the copy not made."""
        pre = "x-amz-copy-source-" if source else ""
        h_match, h_none, h_mod, h_unmod = (pre + h for h in ("If-Match", "If-None-Match", "If-Modified-Since",
                                                             "If-Unmodified-Since"))
        head = await self.api.head_object(bck, key)
        etag = head.get("ETag", "").strip('"')
        modified = email.utils.parsedate_to_datetime(head["Last-Modified"]) if "Last-Modified" in head else None

        def tags(h: str) -> set[str]:
            return {t.strip().removeprefix("W/").strip('"') for t in req.headers[h].split(",") if t.strip()}

        def since(h: str) -> Any:
            try:
                return email.utils.parsedate_to_datetime(req.headers[h])
            except (TypeError, ValueError):
                return None  # an invalid date is ignored (RFC 9110)

        failed = S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        if h_match in req.headers:
            if not tags(h_match) & {etag, "*"}:
                raise failed
        elif h_unmod in req.headers and modified and (t := since(h_unmod)) and modified > t:
            raise failed
        not_modified = web.Response(status=304, headers={"ETag": f'"{etag}"'})
        if h_none in req.headers:
            if tags(h_none) & {etag, "*"}:
                if source:
                    raise failed
                return not_modified
        elif h_mod in req.headers and modified and (t := since(h_mod)) and modified <= t:
            if source:
                raise failed
            return not_modified
        return None

    async def check_version(self, bck: Bucket, key: str, vid: str) -> None:
        """A request for one version of an object: this cluster keeps only the current one, so it
        must be the one asked for (its version, or S3's "null"), else 404 NoSuchVersion — never the
        current object read, or deleted, in place of another."""
        head = await self.api.head_object(bck, key)
        if vid != NO_VERSION and vid != head.get(H.VERSION, ""):
            raise S3Error(404, "NoSuchVersion", f"version {vid!r} of {key!r} does not exist "
                                                f"(only the current version is kept)")

    async def copy_object(self, req: web.Request, bck: Bucket, key: str) -> web.Response:
        src, _, query = unquote(req.headers["x-amz-copy-source"]).lstrip("/").partition("?")
        src_bucket, _, src_key = src.partition("/")
        sbck = await self.resolve(src_bucket)
        allow(req, Access.RO, sbck)
        if query.startswith("versionId="):
            await self.check_version(sbck, validate_obj_name(src_key), query[len("versionId="):])
        directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error(400, "InvalidArgument", f"x-amz-metadata-directive: {directive!r} (expecting COPY or REPLACE)")
        if any(h.lower().startswith("x-amz-copy-source-if-") for h in req.headers):
            await self.preconditions(req, sbck, validate_obj_name(src_key), source=True)
        itself = (sbck, validate_obj_name(src_key)) == (bck, key)
        if itself and directive == "COPY":
            raise S3Error(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                                                 "itself without changing the object's metadata (x-amz-metadata-directive: "
                                                 "REPLACE)")
        meta = s3meta.from_request(req.headers) if directive == "REPLACE" else None  # checked before anything is copied
        if not itself:
            await self.api.copy_object(sbck, validate_obj_name(src_key), bck, key)
        if meta is not None:  # the request's metadata instead of the source's (rclone sets a file's mtime so)
            await self.api.set_custom(bck, key, meta, replace=True)
        head = await self.api.head_object(bck, key)
        root = ET.Element("CopyObjectResult", xmlns=NS)
        el(root, "LastModified", iso8601(time.time_ns()))
        el(root, "ETag", head.get("ETag", '""'))
        return web.Response(body=xml_body(root), content_type="application/xml")


async def _no_pages() -> AsyncIterator[tuple[str, list[dict[str, Any]], str]]:
    """No page at all: a listing of max-keys=0."""
    for page in ():
        yield page


def response_overrides(req: web.Request) -> dict[str, str]:
    """A GET's response-* query parameters as the headers they set; a value with a line break is a 400."""
    if req.method != "GET":
        return {}
    out = {}
    for param, header in RESPONSE_OVERRIDES.items():
        if param in req.query:
            value = req.query[param]
            if any(c in value for c in "\r\n\0"):
                raise S3Error(400, "InvalidArgument", f"{param}: a header value cannot hold a line break")
            out[header] = value
    return out


def head_range(header: str, resp: web.StreamResponse) -> None:
    """A HEAD with a Range: 206 with that range's Content-Length and Content-Range, as S3 answers
    (a Range S3 does not serve is ignored; one past the end is 416 InvalidRange)."""
    size = int(resp.headers.get("Content-Length", "0") or 0)
    try:
        rng = parse_range(header, size)
    except ErrBadRequest:
        return
    except AisError as err:  # ErrRangeNotSatisfiable
        raise s3_error(err) from None
    if rng is None:
        return
    off, n = rng
    resp.set_status(206)
    resp.headers["Content-Length"] = str(n)
    resp.headers["Content-Range"] = f"bytes {off}-{off + n - 1}/{size}"


def virtual_bucket(host: str) -> str:
    """The bucket of a virtual-host style request (`<bucket>.localhost:8080`, `<bucket>.<domain>`
    for a domain in $AIS_RAY_S3_DOMAINS), "" for path style (`127.0.0.1:8080`, `localhost`)."""
    name = (host.rsplit(":", 1)[0] if not host.endswith("]") else host).lower()
    for base in VHOST_DOMAINS:
        if name.endswith("." + base) and len(name) > len(base) + 1:
            return name[: -len(base) - 1]
    return ""


