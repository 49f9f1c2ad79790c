"""Jobs (xactions): query, status, abort, and the requests that start one (blob-download, promote, copy, prefetch)."""

from __future__ import annotations

import json
from typing import Any

from ais_ray.client.http import Http
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.names import Bucket


class JobsApi(Http):
    async def xact_query(self, *, xid: str = "", kind: str = "", only_running: bool = False) -> dict[str, Any]:
        """Per-target snapshots `{tid: [snap]}` (an empty dict when none match)."""
        body = {"ID": xid, "Kind": kind, "show_active": only_running}
        try:
            return dict(json.loads((await self.request("GET", "cluster", json_body=body, params={"what": "qryxstats"}))[2]))
        except ErrNotFound:
            if xid:
                raise
            return {}

    async def xact_status(self, xid: str) -> dict[str, Any]:
        body = {"ID": xid, "Kind": ""}
        return dict(json.loads((await self.request("GET", "cluster", json_body=body, params={"what": "status"}))[2]))

    async def xact_abort(self, *, xid: str = "", kind: str = "") -> None:
        await self.request("PUT", "cluster", json_body={"action": "stop", "value": {"ID": xid, "Kind": kind}})

    async def blob_download(self, bck: Bucket, name: str, *, chunk_size: int | str | None = None,
                            num_workers: int | None = None, latest: bool = False) -> str:
        """Start a `blob-download` job for one remote object; returns the job id."""
        value: dict[str, Any] = {"latest-ver": latest}
        if chunk_size:
            value["chunk-size"] = chunk_size
        if num_workers:
            value["num-workers"] = num_workers
        _, _, raw = await self.request("POST", f"objects/{bck.name}", params=self.bck_params(bck),
                                       json_body={"action": "blob-download", "name": name, "value": value})
        return raw.decode().strip('"')

    async def promote(self, bck: Bucket, src: str, obj: str = "", *, recursive: bool = False, overwrite: bool = False,
                      delete_src: bool = False, target_id: str = "", not_file_share: bool = False) -> str:
        """`promote` files under the cluster's promote root (on the targets' machines) into `bck`:
        the job id, or "" when it was done before the answer (a few files, no file share)."""
        value = {"tid": target_id, "src": src, "obj": obj, "rcr": recursive, "ovw": overwrite, "dls": delete_src,
                 "notshr": not_file_share}
        _, _, raw = await self.request("POST", f"objects/{bck.name}", params=self.bck_params(bck),
                                       json_body={"action": "promote", "name": src, "value": value})
        return raw.decode().strip('"')

    async def copy_bucket(self, src: Bucket, dst: Bucket, value: dict[str, Any], *, presence: int | None = None,
                          action: str = "copy-bck") -> str:
        """`copy-bck` (AIStore x-tcb; `etl-bck` with the ETL in `value`); `value` is a TCBMsg. Returns the job id."""
        params = self.bck_params(src, bck_to=dst.uname_prefix, presence=presence)
        _, _, raw = await self.request("POST", f"buckets/{src.name}", json_body={"action": action, "value": value},
                                       params=params)
        return raw.decode().strip('"')

    async def copy_objects(self, src: Bucket, dst: Bucket, value: dict[str, Any], *,
                           action: str = "copy-listrange") -> str:
        """`copy-listrange` (x-tco; or `etl-listrange`): `value` has `objnames` or `template` and TCBMsg keys.
        Returns the job id."""
        body = {"action": action, "value": {**value, "tobck": dst.to_wire()}}
        _, _, raw = await self.request("POST", f"buckets/{src.name}", json_body=body, params=self.bck_params(src))
        return raw.decode().strip('"')

    async def prefetch(self, bck: Bucket, value: dict[str, Any]) -> str:
        _, _, raw = await self.request("POST", f"buckets/{bck.name}", json_body={"action": "prefetch-listrange", "value": value},
                                       params=self.bck_params(bck))
        return raw.decode().strip('"')
