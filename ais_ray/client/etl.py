"""ETL: init (an ETLSpecMsg), list, details, logs, stop/start/rm, inline GET (ais-wire-2 §2)."""

from __future__ import annotations

import json
from typing import Any

from ais_ray.client.http import Http
from ais_ray.core.names import Bucket


class EtlApi(Http):
    async def etl_init(self, msg: dict[str, Any]) -> str:
        """PUT /v1/etl; returns the ETL's xaction id once every target's workers are ready."""
        return (await self.request("PUT", "etl", json_body=msg))[2].decode()

    async def etl_list(self) -> list[dict[str, Any]]:
        return list(json.loads((await self.request("GET", "etl"))[2]))

    async def etl_details(self, name: str, xid: str = "") -> dict[str, Any]:
        params = {"uuid": xid} if xid else None
        return dict(json.loads((await self.request("GET", f"etl/{name}", params=params))[2]))

    async def etl_logs(self, name: str, tid: str = "") -> list[dict[str, Any]]:
        return list(json.loads((await self.request("GET", f"etl/{name}/logs" + (f"/{tid}" if tid else "")))[2]))

    async def etl_action(self, name: str, action: str) -> str:
        """stop | start (POST) or rm (DELETE)."""
        if action == "rm":
            return (await self.request("DELETE", f"etl/{name}"))[2].decode()
        return (await self.request("POST", f"etl/{name}/{action}"))[2].decode()

    async def etl_object(self, stages: list[str], bck: Bucket, name: str, args: str = "") -> bytes:
        """An object through ETL stages (inline GET: `etl_name`, `etl_pipeline`, `etl_args`)."""
        params = {**self.bck_params(bck), "etl_name": stages[0]}
        if stages[1:]:
            params["etl_pipeline"] = ",".join(stages[1:])
        if args:
            params["etl_args"] = args
        return (await self.request("GET", f"objects/{bck.name}/{name}", params=params))[2]
