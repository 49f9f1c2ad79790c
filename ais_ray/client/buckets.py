"""Buckets: list, create, destroy, props, list objects, evict, summary (the SDK's `Bucket`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgpack

from ais_ray.client.http import Http
from ais_ray.client.placement import Placement
from ais_ray.core.errors import ErrBckNotFound, ErrNotFound
from ais_ray.core.names import Bucket


class BucketsApi(Http):
    _placement: Placement  # the cached cluster map, dropped when buckets change (set by AisClient)

    async def list_buckets(self, provider: str = "", *, everywhere: bool = False) -> list[dict[str, Any]]:
        """The cluster's buckets; `everywhere` (`--all`): the cloud's buckets too (`"present": false`)."""
        body = {"action": "list", "name": "", "value": None}
        params = {"provider": provider, **({"presence": "0"} if everywhere else {})}
        return json.loads((await self.request("GET", "buckets", json_body=body, params=params))[2])

    async def create_bucket(self, bck: Bucket, props: dict[str, Any] | None = None) -> None:
        """Create an ais bucket, optionally with props (`{"mirror": {"enabled": True, "copies": 3}}`)."""
        body: dict[str, Any] = {"action": "create-bck"}
        if props:
            body["value"] = props
        await self.request("POST", f"buckets/{bck.name}", json_body=body, params=self.bck_params(bck))
        self._placement.invalidate()

    async def destroy_bucket(self, bck: Bucket) -> None:
        await self.request("DELETE", f"buckets/{bck.name}", json_body={"action": "destroy-bck"}, params=self.bck_params(bck))
        self._placement.invalidate()

    async def bucket_props(self, bck: Bucket) -> dict[str, Any]:
        try:
            _, hdrs, _ = await self.request("HEAD", f"buckets/{bck.name}", params=self.bck_params(bck))
        except ErrNotFound:  # a HEAD reply has no body to say what was missing
            raise ErrBckNotFound(bck) from None
        return json.loads(hdrs.get("Ais-Bucket-Props", "{}"))

    async def list_objects(self, bck: Bucket, *, prefix: str = "", props: str = "name,size",
                           page_size: int = 0, flags: int = 0, start_after: str = "",
                           time_format: str = "") -> AsyncIterator[dict[str, Any]]:
        """Every entry (`n`, `s`, ...), page by page, as the SDK's `list_objects_iter` does; with
        `start_after`, only the names after it (an ais bucket's listing starts there, so does an
        S3 or GCS remote's; an Azure one's, which has no seek by name, is walked from its start
        and the rest dropped); atimes in `time_format` (a Go layout of `core/durations.py::TIME_FORMATS`)."""
        async for _, entries, _ in self.list_pages(bck, prefix=prefix, props=props, page_size=page_size, flags=flags,
                                                   start_after=start_after, time_format=time_format):
            for e in entries:
                yield e

    async def list_pages(self, bck: Bucket, *, prefix: str = "", props: str = "name,size",
                         page_size: int = 0, flags: int = 0, start_after: str = "", time_format: str = "",
                         token: str = "") -> AsyncIterator[tuple[str, list[dict[str, Any]], str]]:
        """`list_objects` a page at a time, from continuation `token`: (the token that page was
        asked with, its entries after `start_after`, the next page's token or "" if it is the last).
        A remote bucket's token is the remote's own: asked again, it gives the same page, so a
        caller can resume a listing inside it."""
        uuid = ""
        while True:
            value = {"prefix": prefix, "pagesize": page_size, "uuid": uuid, "props": props,
                     "continuation_token": token, "flags": str(flags), "start_after": start_after,
                     "time_format": time_format}
            _, _, raw = await self.request("GET", f"buckets/{bck.name}", json_body={"action": "list", "value": value},
                                           params=self.bck_params(bck), headers={"Accept": "application/msgpack"})
            page = msgpack.unpackb(raw, raw=False)
            asked, token, uuid = token, page.get("ContinuationToken", ""), page.get("UUID", "")
            yield asked, [e for e in page.get("Entries") or () if not start_after or e["n"] > start_after], token
            if not token:
                return

    async def evict_bucket(self, bck: Bucket, *, keep_md: bool = False) -> None:
        await self.request("DELETE", f"buckets/{bck.name}", json_body={"action": "evict-remote-bck"},
                           params=self.bck_params(bck, keep_bck_md=str(keep_md).lower()))

    async def evict_objects(self, bck: Bucket, names: list[str]) -> None:
        await self.request("DELETE", f"buckets/{bck.name}", json_body={"action": "evict-listrange", "value": {"objnames": names}},
                           params=self.bck_params(bck))

    async def bucket_summary(self, bck: Bucket, *, prefix: str = "", interval: float = 0.3,
                             cached: bool = False) -> dict[str, Any]:
        """Objects and bytes, present and remote (the SDK's `summary` flow: start, then poll);
        `cached`: only what the cluster holds (the remote is not listed, its counts are 0)."""
        value: dict[str, Any] = {"prefix": prefix, "uuid": "", "cached": cached}
        while True:
            status, _, raw = await self.request("GET", f"buckets/{bck.name}", json_body={"action": "summary-bck", "value": value},
                                                params=self.bck_params(bck))
            if status == 200:
                return dict(json.loads(raw)[0])
            value["uuid"] = raw.decode().strip('"')
            await asyncio.sleep(interval)

    async def archive(self, src: Bucket, value: dict[str, Any]) -> str:
        """`archive` (SDK `ObjectGroup.archive`): `value` is a selection plus `archname`, `tobck`, `isbn`,
        `aate`, `coer`; the job id."""
        _, _, body = await self.request("PUT", f"buckets/{src.name}", json_body={"action": "archive", "value": value},
                                        params=self.bck_params(src))
        return body.decode().strip().strip('"')

    async def rename_bucket(self, src: Bucket, dst: Bucket) -> str:
        """`move-bck` (SDK `Bucket.rename`): `src` becomes `dst` once the job whose id this returns ends."""
        _, _, body = await self.request("POST", f"buckets/{src.name}", json_body={"action": "move-bck"},
                                        params=self.bck_params(src, bck_to=dst.uname_prefix))
        return body.decode().strip().strip('"')

    async def make_n_copies(self, bck: Bucket, copies: int) -> str:
        """`make-n-copies`: the bucket becomes an N-way mirror (1: not mirrored); returns the job id."""
        _, _, body = await self.request("POST", f"buckets/{bck.name}", json_body={"action": "make-n-copies", "value": copies},
                                        params=self.bck_params(bck))
        return body.decode().strip()

    async def set_bucket_props(self, bck: Bucket, props: dict[str, Any], *, force: bool = False) -> str:
        """Change props; returns the id of the job the change starts (mirror / EC on existing objects), or ""."""
        params = self.bck_params(bck)
        if force:
            params["frc"] = "true"
        _, _, body = await self.request("PATCH", f"buckets/{bck.name}", json_body={"action": "set-bprops", "value": props},
                                        params=params)
        return body.decode().strip()

    async def ec_encode(self, bck: Bucket, data_slices: int, parity_slices: int, *, recover: bool = False) -> str:
        """Erasure-code the bucket (`ec-encode`, value a JSON string as AIStore reads it); the job id."""
        value = json.dumps({"data_slices": data_slices, "parity_slices": parity_slices, "enabled": True})
        body: dict[str, Any] = {"action": "ec-encode", "value": value}
        if recover:
            body["name"] = "recover"
        _, _, raw = await self.request("POST", f"buckets/{bck.name}", json_body=body, params=self.bck_params(bck))
        return raw.decode().strip().strip('"')
