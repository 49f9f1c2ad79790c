"""The S3 API's multipart calls: Create / UploadPart / UploadPartCopy / Complete / Abort / ListParts
on the owner of the key, ListMultipartUploads over every mountpath; the uploads live in the one
multipart store (`actors/mpu.py`, its internal `/v1/mpu` routes), shared with the native API.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
from aiohttp import web

from ais_ray.actors.mpu import MPU_PATH
from ais_ray.core import s3meta
from ais_ray.core.auth import Access
from ais_ray.core.names import Bucket, validate_obj_name
from ais_ray.serve.objects import owner_mountpath
from ais_ray.serve.s3_auth import allow
from ais_ray.serve.s3_body import upload_body
from ais_ray.serve.s3_xml import NS, S3Error, check_answer, el, int_param, iso8601, owner, xml_body
from ais_ray.serve.state import ApiState

MAX_PARTS = MAX_UPLOADS = 1000  # a page of ListParts / ListMultipartUploads
XML = "application/xml"

# an S3 bucket name -> the cluster's bucket (S3Gateway.resolve)
Resolve = Callable[[str], Any]


# a copy's source conditions (`x-amz-copy-source-if-*`, S3Gateway.preconditions): raises 412
SourceCheck = Callable[[web.Request, Bucket, str], Awaitable[Any]]
COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


class S3Multipart:
    def __init__(self, state: ApiState, session: Callable[[], aiohttp.ClientSession], resolve: Resolve,
                 check_source: SourceCheck) -> None:
        self.state = state
        self._session = session
        self._resolve = resolve
        self._check_source = check_source

    async def object_call(self, req: web.Request, bck: Bucket, key: str, mp_url: str) -> web.StreamResponse:
        q, target = req.query, {"bck": bck.uname_prefix, "name": key}
        if req.method == "POST" and "uploads" in q:
            meta = s3meta.from_request(req.headers)  # kept for the object the upload makes (core/s3meta.py)
            async with self._session().post(mp_url + MPU_PATH.rstrip("/"), params=target,
                                            headers={s3meta.WIRE: s3meta.to_wire(meta)} if meta else None) as up:
                await check_answer(up, key)
                upload = await up.text()
            root = ET.Element("InitiateMultipartUploadResult", xmlns=NS)
            el(root, "Bucket", bck.name)
            el(root, "Key", key)
            el(root, "UploadId", upload)
            return web.Response(body=xml_body(root), content_type=XML)
        upload = q.get("uploadId", "")
        url = f"{mp_url}{MPU_PATH}{quote(upload, safe='')}"
        if req.method == "PUT" and "x-amz-copy-source" in req.headers:
            return await self.upload_part_copy(req, key, upload, f"{url}/{quote(q.get('partNumber', ''), safe='')}",
                                               target)
        if req.method == "PUT":  # unframed and checked (serve/s3_body.py)
            body = upload_body(req)

            async def put_part(data: Any) -> web.Response:
                async with self._session().put(f"{url}/{quote(q.get('partNumber', ''), safe='')}", data=data,
                                               params=target, headers=body.headers()) as up:
                    await check_answer(up, key, upload=upload)
                    return web.Response(status=200, headers={"ETag": up.headers.get("ETag", '""')})

            return await body.relay(put_part)
        if req.method == "POST":
            try:
                doc = ET.fromstring(await req.read())
            except ET.ParseError as exc:
                raise S3Error(400, "MalformedXML", f"CompleteMultipartUpload body: {exc}") from None
            parts = [(p.findtext("{*}PartNumber") or "", p.findtext("{*}ETag") or "") for p in doc.findall("{*}Part")]
            body = json.dumps([{"part-number": int(n) if n.isdigit() else n, "etag": etag} for n, etag in parts])
            async with self._session().post(url, params=target, data=body) as up:
                await check_answer(up, key, upload=upload)
                root = ET.Element("CompleteMultipartUploadResult", xmlns=NS)
                el(root, "Location", f"/{bck.name}/{key}")
                el(root, "Bucket", bck.name)
                el(root, "Key", key)
                el(root, "ETag", up.headers.get("ETag", '""'))
                return web.Response(body=xml_body(root), content_type=XML)
        if req.method == "DELETE":
            async with self._session().delete(url) as up:
                await check_answer(up, key, upload=upload)
                return web.Response(status=204)
        if req.method == "GET":
            return await self.list_parts(req, bck, key, upload, url)
        raise S3Error(405, "MethodNotAllowed", f"{req.method} with uploadId is not supported")

    async def upload_part_copy(self, req: web.Request, key: str, upload: str, part_url: str,
                               target: dict[str, str]) -> web.Response:
        """UploadPartCopy: the source object's bytes (or `x-amz-copy-source-range`) streamed from
        its owner into the part, never buffered here."""
        src = unquote(req.headers["x-amz-copy-source"]).lstrip("/").split("?", 1)[0]
        src_bucket, _, src_key = src.partition("/")
        sbck = await self._resolve(src_bucket)
        allow(req, Access.RO, sbck)
        smp = await owner_mountpath(sbck, validate_obj_name(src_key), "GET")
        if any(h.lower().startswith("x-amz-copy-source-if-") for h in req.headers):
            await self._check_source(req, sbck, src_key)
        headers = {}
        last = -1
        if rng := req.headers.get("x-amz-copy-source-range"):
            m = COPY_RANGE.fullmatch(rng.strip())
            if m is None or int(m[1]) > int(m[2]):
                raise S3Error(400, "InvalidArgument", f"x-amz-copy-source-range {rng!r}: expecting bytes=first-last")
            headers["Range"], last = rng, int(m[2])
        src_url = f"{smp.url}/v1/objects/{quote(sbck.name, safe='')}/{quote(src_key)}"
        async with self._session().get(src_url, params={"provider": sbck.provider.value}, headers=headers) as got:
            await check_answer(got, src_key)
            if last >= 0:  # S3 copies the range whole or not at all: one past the source's end is an error
                whole = got.headers.get("Content-Range", "").rpartition("/")[2]
                if not whole.isdigit() or last >= int(whole):
                    raise S3Error(400, "InvalidArgument", f"Range specified is not valid for source object of "
                                                          f"size: {whole}")
            size = {"Content-Length": str(got.content_length)} if got.content_length is not None else {}
            async with self._session().put(part_url, data=got.content.iter_any(), params=target,
                                           headers=size) as up:
                await check_answer(up, key, upload=upload)
                etag = up.headers.get("ETag", '""')
        root = ET.Element("CopyPartResult", xmlns=NS)
        el(root, "LastModified", iso8601(time.time_ns()))
        el(root, "ETag", etag)
        return web.Response(body=xml_body(root), content_type=XML)

    async def list_parts(self, req: web.Request, bck: Bucket, key: str, upload: str, url: str) -> web.Response:
        """ListParts: `part-number-marker` (parts after it), `max-parts`."""
        q = req.query
        max_parts = int_param(q, "max-parts", MAX_PARTS, most=MAX_PARTS)
        marker = int_param(q, "part-number-marker", 0, most=1 << 30)
        async with self._session().get(url) as up:
            await check_answer(up, key, upload=upload)
            info = await up.json()
        if info["bck"] != bck.uname_prefix or info["name"] != key:
            raise S3Error(404, "NoSuchUpload", f'no upload "{upload}" of {bck.name}/{key}')
        after = [p for p in info["parts"] if p["part"] > marker]
        page, truncated = after[:max_parts], len(after) > max_parts
        root = ET.Element("ListPartsResult", xmlns=NS)
        el(root, "Bucket", bck.name)
        el(root, "Key", key)
        el(root, "UploadId", upload)
        owner(root, "Initiator")
        owner(root)
        el(root, "StorageClass", "STANDARD")
        el(root, "PartNumberMarker", marker)
        el(root, "NextPartNumberMarker", page[-1]["part"] if page else marker)
        el(root, "MaxParts", max_parts)
        el(root, "IsTruncated", "true" if truncated else "false")
        for p in page:
            e = el(root, "Part")
            el(e, "PartNumber", p["part"])
            el(e, "LastModified", iso8601(p["mtime"]))
            el(e, "ETag", p["etag"])
            el(e, "Size", p["size"])
        return web.Response(body=xml_body(root), content_type=XML)

    async def list_uploads(self, req: web.Request, bck: Bucket) -> web.Response:
        """ListMultipartUploads: every mountpath's uploads of the bucket, by key then start time;
        `prefix`, `key-marker` + `upload-id-marker`, `max-uploads`."""
        q = req.query
        max_uploads = int_param(q, "max-uploads", MAX_UPLOADS, most=MAX_UPLOADS)
        prefix, key_marker, id_marker = q.get("prefix", ""), q.get("key-marker", ""), q.get("upload-id-marker", "")
        smap = await self.state.smap()
        urls = [m.url for t in smap.targets.values() for m in t.mountpaths if m.url]

        async def one(url: str) -> list[dict[str, Any]]:
            async with self._session().get(url + MPU_PATH.rstrip("/"), params={"bck": bck.uname_prefix}) as up:
                await check_answer(up, "")
                return await up.json()

        found = [u for got in await asyncio.gather(*map(one, urls)) for u in got]
        found.sort(key=lambda u: (u["name"], u["initiated"], u["upload"]))
        ids = [u["upload"] for u in found if u["name"] == key_marker]
        if key_marker and id_marker in ids:  # after that upload of the marker key (listing order)
            later = set(ids[ids.index(id_marker) + 1:])
            after = [u for u in found if u["name"] > key_marker or u["upload"] in later]
        else:
            after = [u for u in found if u["name"] > key_marker]
        marked = [u for u in after if u["name"].startswith(prefix)]
        page, truncated = marked[:max_uploads], len(marked) > max_uploads
        root = ET.Element("ListMultipartUploadsResult", xmlns=NS)
        el(root, "Bucket", bck.name)
        el(root, "KeyMarker", key_marker)
        el(root, "UploadIdMarker", id_marker)
        el(root, "NextKeyMarker", page[-1]["name"] if truncated else "")
        el(root, "NextUploadIdMarker", page[-1]["upload"] if truncated else "")
        el(root, "Prefix", prefix)
        el(root, "MaxUploads", max_uploads)
        el(root, "IsTruncated", "true" if truncated else "false")
        for u in page:
            e = el(root, "Upload")
            el(e, "Key", u["name"])
            el(e, "UploadId", u["upload"])
            owner(e, "Initiator")
            owner(e)
            el(e, "StorageClass", "STANDARD")
            el(e, "Initiated", iso8601(u["initiated"]))
        return web.Response(body=xml_body(root), content_type=XML)
